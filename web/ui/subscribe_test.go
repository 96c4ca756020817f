package ui

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"mime/quotedprintable"
	"net"
	"net/http"
	"net/http/httptest"
	"net/mail"
	"net/textproto"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/watchdog-sre/watchdog/pager"
)

// smtpMessage is a mail the test SMTP server accepted.
type smtpMessage struct {
	from, to string
	header   mail.Header
	body     string // quoted-printable decoded
}

// startSMTP runs a minimal SMTP server (RFC 5321: EHLO/HELO, MAIL, RCPT,
// DATA, RSET, NOOP, QUIT) on 127.0.0.1 and returns its port and the mails
// it accepts.
func startSMTP(t *testing.T) (int, <-chan smtpMessage) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	msgs := make(chan smtpMessage, 16)
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Go(func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() { serveSMTP(t, conn, msgs) })
		}
	})
	return ln.Addr().(*net.TCPAddr).Port, msgs
}

func serveSMTP(t *testing.T, conn net.Conn, msgs chan<- smtpMessage) {
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	tp := textproto.NewConn(conn)
	reply := func(code int, text string) { _ = tp.PrintfLine("%d %s", code, text) }
	reply(220, "test ESMTP")
	var from, to string
	for {
		line, err := tp.ReadLine()
		if err != nil {
			return
		}
		verb, arg, _ := strings.Cut(line, " ")
		switch strings.ToUpper(verb) {
		case "EHLO":
			_ = tp.PrintfLine("250-test greets %s", arg)
			_ = tp.PrintfLine("250 8BITMIME")
		case "HELO", "NOOP", "RSET":
			reply(250, "OK")
		case "MAIL":
			from = smtpPath(arg, "FROM:")
			reply(250, "OK")
		case "RCPT":
			to = smtpPath(arg, "TO:")
			reply(250, "OK")
		case "DATA":
			reply(354, "end with <CRLF>.<CRLF>")
			data, err := tp.ReadDotBytes()
			if err != nil {
				return
			}
			m, err := mail.ReadMessage(strings.NewReader(string(data)))
			if err != nil {
				t.Errorf("smtp: bad message: %v", err)
				reply(554, "bad message")
				continue
			}
			body, err := io.ReadAll(quotedprintable.NewReader(m.Body))
			if err != nil {
				t.Errorf("smtp: body: %v", err)
			}
			msgs <- smtpMessage{from: from, to: to, header: m.Header, body: string(body)}
			reply(250, "queued")
		case "QUIT":
			reply(221, "bye")
			return
		default:
			reply(502, "not implemented")
		}
	}
}

// smtpPath returns the address of a MAIL or RCPT argument such as
// "FROM:<a@b.c> BODY=8BITMIME".
func smtpPath(arg, prefix string) string {
	if len(arg) < len(prefix) || !strings.EqualFold(arg[:len(prefix)], prefix) {
		return ""
	}
	path, _, _ := strings.Cut(arg[len(prefix):], " ")
	return strings.Trim(path, "<>")
}

// waitMail returns the next mail, failing after a deadline.
func waitMail(t *testing.T, msgs <-chan smtpMessage) smtpMessage {
	t.Helper()
	select {
	case m := <-msgs:
		return m
	case <-time.After(15 * time.Second):
		t.Fatal("no mail arrived")
	}
	return smtpMessage{}
}

// TestEmailDoubleOptIn: through a local SMTP server, an address subscribed
// on the public page gets a confirmation link whose GET only shows a
// button; the POST confirms; a status update then reaches it with public
// texts only and RFC 8058 headers; the one-click unsubscribe POST stops
// further mail.
func TestEmailDoubleOptIn(t *testing.T) {
	port, msgs := startSMTP(t)
	hooks := make(chan string, 16)
	hookSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		hooks <- string(b)
	}))
	defer hookSrv.Close()
	cfg, err := pager.ParseConfig("pager.yml", []byte(fmt.Sprintf(`
pager:
  users:
    - name: alice
      contact: {email: alice@example.com}
  escalation_policies:
    - name: ops
      levels:
        - targets: [user:alice]
  channels:
    - {name: mail, type: email, host: 127.0.0.1, port: %d, from: "Pager <pager@example.com>", tls: none}
  routes:
    - {name: pages, escalation_policy: ops, group_by: [alertname], group_wait: 0s}
  status_subscribers:
    email_channel: mail
    from: "Example status <status@example.com>"
`, port)))
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	chans, err := cfg.BuildChannels(pager.SecretSource{})
	if err != nil {
		t.Fatal(err)
	}
	p, err := pager.New(pager.Options{Config: cfg, Channels: chans, ExternalURL: "https://status.example.com"})
	if err != nil {
		t.Fatal(err)
	}
	h, err := New(Options{Pager: p})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.RunSubscribers(ctx, pager.SubscriberRunOptions{}) }()
	defer func() {
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Errorf("RunSubscribers: %v", err)
		}
	}()
	if _, _, err := p.AddWebhookSubscriber(hookSrv.URL, "", pager.Actor{User: "admin"}); err != nil {
		t.Fatal(err)
	}
	serve := func(method, target, form string) (int, string) {
		t.Helper()
		var body io.Reader
		if form != "" {
			body = strings.NewReader(form)
		}
		req := httptest.NewRequest(method, target, body)
		req.RemoteAddr = "192.0.2.7:4242"
		if form != "" {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec.Code, rec.Body.String()
	}
	if code, body := serve("GET", "/status", ""); code != 200 || !strings.Contains(body, `action="/status/subscribe"`) {
		t.Fatalf("status page without the subscribe form: %d", code)
	}
	if code, body := serve("POST", "/status/subscribe", "email=not-an-address"); code != 400 || !strings.Contains(body, "not an e-mail address") {
		t.Errorf("bad address: %d %s", code, body)
	}
	if code, body := serve("POST", "/status/subscribe", url.Values{"email": {"carol@example.org"}}.Encode()); code != 200 || !strings.Contains(body, "Check your inbox") {
		t.Fatalf("subscribe: %d %s", code, body)
	}

	confirmMail := waitMail(t, msgs)
	if confirmMail.to != "carol@example.org" || confirmMail.from != "status@example.com" || !strings.Contains(confirmMail.header.Get("Subject"), "Confirm") {
		t.Errorf("confirmation mail: from %s to %s, subject %q", confirmMail.from, confirmMail.to, confirmMail.header.Get("Subject"))
	}
	confirmURL := findLink(t, confirmMail.body, "https://status.example.com/status/subscriptions/confirm/")
	confirmPath := strings.TrimPrefix(confirmURL, "https://status.example.com")
	code, body := serve("GET", confirmPath, "")
	if code != 200 || !strings.Contains(body, `method="post" action="`+confirmPath+`"`) {
		t.Errorf("confirm page: %d %s", code, body)
	}
	if subs, _ := p.Subscribers(); !slicesHasPending(subs) {
		t.Errorf("a GET of the link confirmed the address: %+v", subs)
	}
	if code, _ := serve("POST", confirmPath+"0", ""); code != 404 {
		t.Errorf("confirm with a wrong token: %d, want 404", code)
	}
	if code, body := serve("POST", confirmPath, ""); code != 200 || !strings.Contains(body, "Subscribed") {
		t.Fatalf("confirm: %d %s", code, body)
	}

	if err := p.Receive(pager.Alert{Labels: map[string]string{"alertname": "InternalAlertName", "cluster": "secret-cluster"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := p.PostStatusUpdate("inc-1", pager.Actor{User: "alice-author"}, pager.UpdateIdentified, "Payments are delayed; a fix is rolling out."); err != nil {
		t.Fatal(err)
	}
	waitHook(t, hooks)
	update := waitMail(t, msgs)
	if update.to != "carol@example.org" || !strings.Contains(update.body, "Payments are delayed; a fix is rolling out.") {
		t.Errorf("update mail to %s:\n%s", update.to, update.body)
	}
	for _, internal := range []string{"InternalAlertName", "secret-cluster", "alice", "inc-1"} {
		if strings.Contains(update.body, internal) || strings.Contains(update.header.Get("Subject"), internal) {
			t.Errorf("update mail leaks %q", internal)
		}
	}
	unsub := strings.Trim(update.header.Get("List-Unsubscribe"), "<>")
	if !strings.HasPrefix(unsub, "https://status.example.com/status/subscriptions/unsubscribe/") ||
		update.header.Get("List-Unsubscribe-Post") != "List-Unsubscribe=One-Click" || !strings.Contains(update.body, unsub) {
		t.Fatalf("unsubscribe headers %q / %q", update.header.Get("List-Unsubscribe"), update.header.Get("List-Unsubscribe-Post"))
	}
	unsubPath := strings.TrimPrefix(unsub, "https://status.example.com")
	if code, body := serve("GET", unsubPath, ""); code != 200 || !strings.Contains(body, `method="post"`) {
		t.Errorf("unsubscribe page: %d", code)
	}
	if subs, _ := p.Subscribers(); len(subs) != 2 {
		t.Errorf("a GET of the unsubscribe link acted: %d subscribers", len(subs))
	}
	if code, body := serve("POST", unsubPath, "List-Unsubscribe=One-Click"); code != 200 || !strings.Contains(body, "Unsubscribed") {
		t.Fatalf("one-click unsubscribe: %d %s", code, body)
	}

	if _, err := p.PostStatusUpdate("inc-1", pager.Actor{User: "alice"}, pager.UpdateResolved, "All payments are through."); err != nil {
		t.Fatal(err)
	}
	if got := waitHook(t, hooks); !strings.Contains(got, "All payments are through.") {
		t.Errorf("webhook got %s", got)
	}
	// The webhook's message and any mail of this update were queued in
	// one transaction; the address has none.
	select {
	case m := <-msgs:
		t.Errorf("mail after unsubscribing: %s", m.header.Get("Subject"))
	default:
	}
	if subs, _ := p.Subscribers(); len(subs) != 1 || subs[0].Kind != pager.SubscriberWebhook {
		t.Errorf("subscribers after unsubscribing: %+v", subs)
	}
}

// waitHook returns the next webhook body, failing after a deadline.
func waitHook(t *testing.T, hooks <-chan string) string {
	t.Helper()
	select {
	case b := <-hooks:
		return b
	case <-time.After(15 * time.Second):
		t.Fatal("no webhook arrived")
	}
	return ""
}

func slicesHasPending(subs []pager.Subscriber) bool {
	for _, s := range subs {
		if s.Kind == pager.SubscriberEmail && !s.Confirmed {
			return true
		}
	}
	return false
}

// findLink returns the first whitespace-delimited word of body that
// starts with prefix.
func findLink(t *testing.T, body, prefix string) string {
	t.Helper()
	sc := bufio.NewScanner(strings.NewReader(body))
	sc.Split(bufio.ScanWords)
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), prefix) {
			return sc.Text()
		}
	}
	t.Fatalf("no link %s in:\n%s", prefix, body)
	return ""
}
