package channel

import (
	"bufio"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/http"
	"net/http/httptest"
	"net/mail"
	"strings"
	"sync"
	"testing"
)

// smtpMsg is one message accepted by smtpServer.
type smtpMsg struct {
	From, Rcpt string
	Data       string
	TLS        bool
	User, Pass string
}

// smtpServer is a tiny SMTP server: EHLO, optional STARTTLS and AUTH PLAIN,
// MAIL, RCPT, DATA, QUIT. mailReply overrides the reply to MAIL FROM.
type smtpServer struct {
	addr      string
	tlsConf   *tls.Config
	mailReply string
	authReply string
	mu        sync.Mutex
	msgs      []smtpMsg
}

func newSMTPServer(t *testing.T, tlsConf *tls.Config) *smtpServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &smtpServer{addr: ln.Addr().String(), tlsConf: tlsConf}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() { defer wg.Done(); s.serve(c) }()
		}
	}()
	return s
}

func (s *smtpServer) port(t *testing.T) int {
	_, p, _ := net.SplitHostPort(s.addr)
	var n int
	fmt.Sscan(p, &n)
	return n
}

func (s *smtpServer) messages() []smtpMsg {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]smtpMsg(nil), s.msgs...)
}

func (s *smtpServer) serve(c net.Conn) {
	defer func() { c.Close() }()
	r, w := bufio.NewReader(c), bufio.NewWriter(c)
	say := func(line string) { w.WriteString(line + "\r\n"); w.Flush() }
	var cur smtpMsg
	say("220 test ESMTP")
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		line = strings.TrimRight(line, "\r\n")
		verb := strings.ToUpper(strings.SplitN(line, " ", 2)[0])
		switch verb {
		case "EHLO", "HELO":
			if s.tlsConf != nil && !cur.TLS {
				say("250-test")
				say("250-STARTTLS")
			} else {
				say("250-test")
			}
			say("250 AUTH PLAIN")
		case "STARTTLS":
			say("220 go ahead")
			tc := tls.Server(c, s.tlsConf)
			if tc.Handshake() != nil {
				return
			}
			c = tc
			r, w = bufio.NewReader(c), bufio.NewWriter(c)
			cur.TLS = true
		case "AUTH":
			f := strings.Fields(line)
			if len(f) == 3 {
				b, _ := base64.StdEncoding.DecodeString(f[2])
				if p := strings.Split(string(b), "\x00"); len(p) == 3 {
					cur.User, cur.Pass = p[1], p[2]
				}
			}
			if s.authReply != "" {
				say(s.authReply + " " + cur.Pass)
				continue
			}
			say("235 ok")
		case "MAIL":
			if s.mailReply != "" {
				say(s.mailReply)
				continue
			}
			cur.From = line
			say("250 ok")
		case "RCPT":
			cur.Rcpt = line
			say("250 ok")
		case "DATA":
			say("354 go")
			var data strings.Builder
			for {
				l, err := r.ReadString('\n')
				if err != nil {
					return
				}
				if l == ".\r\n" {
					break
				}
				data.WriteString(strings.TrimPrefix(l, "."))
			}
			cur.Data = data.String()
			s.mu.Lock()
			s.msgs = append(s.msgs, cur)
			s.mu.Unlock()
			say("250 queued")
		case "QUIT":
			say("221 bye")
			return
		default:
			say("250 ok")
		}
	}
}

// testTLS borrows httptest's localhost certificate for the SMTP server and
// returns a client config trusting it.
func testTLS(t *testing.T) (server, client *tls.Config) {
	hs := httptest.NewUnstartedServer(http.NotFoundHandler())
	hs.StartTLS()
	t.Cleanup(hs.Close)
	roots := hs.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs
	return &tls.Config{Certificates: hs.TLS.Certificates}, &tls.Config{RootCAs: roots}
}

func TestEmailContract(t *testing.T) {
	srvTLS, cliTLS := testTLS(t)
	tests := []struct {
		name      string
		serverTLS *tls.Config
		opts      EmailOptions
		wantTLS   bool
		wantUser  string
	}{
		{"plain, no auth", nil, EmailOptions{}, false, ""},
		{"starttls when offered, with auth", srvTLS, EmailOptions{Username: "pager", Password: "s3cret", TLSConfig: cliTLS}, true, "pager"},
		{"starttls required", srvTLS, EmailOptions{TLS: "starttls", TLSConfig: cliTLS}, true, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newSMTPServer(t, tt.serverTLS)
			o := tt.opts
			o.Host, o.Port, o.From = "127.0.0.1", srv.port(t), "Watchdog <pager@watchdog.example>"
			ch, err := NewEmail(o)
			if err != nil {
				t.Fatal(err)
			}
			m := sampleMessage()
			m.Title = "LoginErrorSpike\r\nBcc: evil@example.com"
			m.Recipient.TimeZone = "Europe/Berlin"
			if retry, err := ch.Send(bg(), m); err != nil {
				t.Fatalf("Send = (%v, %v)", retry, err)
			}
			msgs := srv.messages()
			if len(msgs) != 1 {
				t.Fatalf("server got %d messages", len(msgs))
			}
			got := msgs[0]
			wantEq(t, "MAIL", got.From, "MAIL FROM:<pager@watchdog.example>")
			wantEq(t, "RCPT", got.Rcpt, "RCPT TO:<alice@example.com>")
			wantEq(t, "TLS", got.TLS, tt.wantTLS)
			wantEq(t, "AUTH user", got.User, tt.wantUser)
			if tt.wantUser != "" {
				wantEq(t, "AUTH pass", got.Pass, "s3cret")
			}
			msg, err := mail.ReadMessage(strings.NewReader(got.Data))
			if err != nil {
				t.Fatal(err)
			}
			wantEq(t, "From", msg.Header.Get("From"), `"Watchdog" <pager@watchdog.example>`)
			wantEq(t, "To", msg.Header.Get("To"), `"alice" <alice@example.com>`)
			wantEq(t, "Bcc", msg.Header.Get("Bcc"), "")
			subj, _ := new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject"))
			if !strings.HasPrefix(subj, "[TRIGGER] LoginErrorSpike") {
				t.Errorf("Subject = %q", subj)
			}
			wantEq(t, "Content-Type", msg.Header.Get("Content-Type"), "text/plain; charset=utf-8")
			wantEq(t, "CTE", msg.Header.Get("Content-Transfer-Encoding"), "quoted-printable")
			if msg.Header.Get("Message-Id") == "" || msg.Header.Get("Date") == "" {
				t.Error("missing Message-ID or Date")
			}
			body, _ := io.ReadAll(quotedprintable.NewReader(msg.Body))
			// The alert started at 04:56:07 UTC (t0 - 10m): 05:56 in Berlin.
			for _, want := range []string{"Hello alice", "Acknowledge: " + m.AckURL, "Runbook: https://runbooks.example/login", m.Summary, "service = auth",
				"since 2026-03-04T04:56:07Z (Wed 05:56 CET your time)"} {
				if !strings.Contains(string(body), want) {
					t.Errorf("body lacks %q:\n%s", want, body)
				}
			}
		})
	}
}

func TestEmailFailures(t *testing.T) {
	dead, _ := net.Listen("tcp", "127.0.0.1:0")
	deadPort := dead.Addr().(*net.TCPAddr).Port
	dead.Close()
	tests := []struct {
		name      string
		mailReply string
		authReply string
		port      int
		opts      EmailOptions
		msg       func(*Message)
		wantRetry bool
		wantIs    error
	}{
		{name: "451 on MAIL is transient", mailReply: "451 try later", wantRetry: true},
		{name: "550 on MAIL is final", mailReply: "550 no such user", wantRetry: false},
		{name: "connection refused retries", port: deadPort, wantRetry: true},
		{name: "starttls required but not offered", opts: EmailOptions{TLS: "starttls"}, wantIs: ErrInvalidConfig},
		{name: "auth rejected hides password", authReply: "535 bad credentials for", opts: EmailOptions{Username: "u", Password: "hunter2-PASS"}},
		{name: "no recipient", msg: func(m *Message) { m.Recipient = Contact{Name: "bob"} }, wantIs: ErrNoRecipient},
		{name: "bad recipient", msg: func(m *Message) { m.Recipient.Address = "x\r\nBcc: y" }, wantIs: ErrNoRecipient},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newSMTPServer(t, nil)
			srv.mailReply, srv.authReply = tt.mailReply, tt.authReply
			o := tt.opts
			o.Host, o.Port, o.From = "127.0.0.1", srv.port(t), "pager@watchdog.example"
			if tt.port != 0 {
				o.Port = tt.port
			}
			ch, err := NewEmail(o)
			if err != nil {
				t.Fatal(err)
			}
			m := sampleMessage()
			if tt.msg != nil {
				tt.msg(&m)
			}
			retry, err := ch.Send(bg(), m)
			if err == nil {
				t.Fatal("want error")
			}
			wantEq(t, "retry", retry, tt.wantRetry)
			if tt.wantIs != nil && !errors.Is(err, tt.wantIs) {
				t.Errorf("err = %v, want %v", err, tt.wantIs)
			}
			if strings.Contains(err.Error(), "hunter2-PASS") {
				t.Errorf("error leaks password: %v", err)
			}
			if len(srv.messages()) != 0 {
				t.Error("message was delivered")
			}
		})
	}
}
