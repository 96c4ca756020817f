package pager_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/watchdog-sre/watchdog/pager"
	"github.com/watchdog-sre/watchdog/pager/channel"
)

const subConfig = `
pager:
  users:
    - name: alice
      contact: {email: alice@example.com}
  escalation_policies:
    - name: ops
      levels:
        - targets: [user:alice]
  channels:
    - {name: mail, type: email, host: 127.0.0.1, port: 2525, from: "Pager <pager@example.com>", tls: none}
  routes:
    - {name: pages, escalation_policy: ops, group_by: [alertname], group_wait: 0s}
  status_subscribers:
    email_channel: mail
    max_attempts: 4
    max_backoff: 5m
    max_pending: 3
    subscribe_rate: 6
    subscribe_rate_per_client: 4
`

// reply is one scripted answer of the webhook receiver.
type reply struct {
	code       int
	retryAfter string
}

// receiver is an in-process webhook endpoint (a RoundTripper, so that it
// runs inside a synctest bubble) recording when it was called.
type receiver struct {
	mu      sync.Mutex
	now     func() time.Time
	replies []reply
	times   []time.Time
	reqs    []*http.Request
	bodies  []string
}

func (r *receiver) RoundTrip(req *http.Request) (*http.Response, error) {
	b, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	defer r.mu.Unlock()
	rep := reply{code: 200}
	if len(r.replies) > 0 {
		rep, r.replies = r.replies[0], r.replies[1:]
	}
	r.times, r.reqs, r.bodies = append(r.times, r.now()), append(r.reqs, req), append(r.bodies, string(b))
	h := http.Header{}
	if rep.retryAfter != "" {
		h.Set("Retry-After", rep.retryAfter)
	}
	return &http.Response{StatusCode: rep.code, Header: h, Body: io.NopCloser(strings.NewReader("")), Request: req}, nil
}

// fakeMail is the email channel: it records subscriber mail.
type fakeMail struct {
	mu   sync.Mutex
	sent []channel.Mail
}

func (f *fakeMail) Name() string                                        { return "mail" }
func (f *fakeMail) Send(context.Context, channel.Message) (bool, error) { return false, nil }
func (f *fakeMail) SendMail(_ context.Context, m channel.Mail) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.sent = append(f.sent, m)
	return false, nil
}

func (f *fakeMail) take() []channel.Mail {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := f.sent
	f.sent = nil
	return out
}

type subHarness struct {
	p    *pager.Pager
	hook *receiver
	mail *fakeMail
	now  func() time.Time
	stop func()
	set  *metrics.Set
}

var t0 = time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)

// newSubHarness starts a pager's subscriber loop in the bubble at 10:00.
func newSubHarness(t *testing.T, components func() (map[string]string, error)) *subHarness {
	t.Helper()
	return newSubHarnessConfig(t, subConfig, components)
}

func newSubHarnessConfig(t *testing.T, text string, components func() (map[string]string, error)) *subHarness {
	t.Helper()
	cfg, err := pager.ParseConfig("sub.yaml", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	offset := t0.Sub(time.Now())
	now := func() time.Time { return time.Now().Add(offset).UTC() }
	h := &subHarness{hook: &receiver{now: now}, mail: &fakeMail{}, now: now, set: metrics.NewSet()}
	h.p, err = pager.New(pager.Options{Config: cfg, Now: now, ExternalURL: "https://status.example.com/",
		Channels: map[string]channel.Channel{"mail": h.mail}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- h.p.RunSubscribers(ctx, pager.SubscriberRunOptions{Components: components, Metrics: h.set,
			HTTP: channel.HTTPOptions{Client: &http.Client{Transport: h.hook}}})
	}()
	h.stop = func() {
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Errorf("RunSubscribers = %v", err)
		}
	}
	synctest.Wait()
	return h
}

func (h *subHarness) sleep(d time.Duration) {
	time.Sleep(d)
	synctest.Wait()
}

// TestSubscriberWebhookRetries: network-like failures, 5xx and 429 are
// retried with doubling backoff (a Retry-After honoured, capped at
// max_backoff) up to max_attempts; another 4xx stops at once.
func TestSubscriberWebhookRetries(t *testing.T) {
	tests := []struct {
		name    string
		replies []reply
		want    []time.Duration // attempt times after the post
		status  pager.DeliveryStatus
	}{
		{"success", nil, []time.Duration{0}, pager.DeliverySent},
		{"5xx then success", []reply{{code: 503}, {code: 500}}, []time.Duration{0, 10 * time.Second, 30 * time.Second}, pager.DeliverySent},
		{"429 retry-after", []reply{{code: 429, retryAfter: "120"}}, []time.Duration{0, 120 * time.Second}, pager.DeliverySent},
		{"retry-after capped", []reply{{code: 503, retryAfter: "86400"}}, []time.Duration{0, 5 * time.Minute}, pager.DeliverySent},
		{"permanent 4xx", []reply{{code: 404}}, []time.Duration{0}, pager.DeliveryFailed},
		{"out of attempts", []reply{{code: 502}, {code: 502}, {code: 502}, {code: 502}, {code: 502}},
			[]time.Duration{0, 10 * time.Second, 30 * time.Second, 70 * time.Second}, pager.DeliveryFailed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				h := newSubHarness(t, nil)
				defer h.stop()
				h.hook.replies = tt.replies
				sub, _, err := h.p.AddWebhookSubscriber("https://hooks.example/x", "", pager.Actor{User: "admin"})
				if err != nil {
					t.Fatal(err)
				}
				if err := h.p.Receive(pager.Alert{Labels: map[string]string{"alertname": "HighErrors"}}); err != nil {
					t.Fatal(err)
				}
				if _, err := h.p.PostStatusUpdate("inc-1", pager.Actor{User: "alice"}, pager.UpdateIdentified, "Fixing"); err != nil {
					t.Fatal(err)
				}
				synctest.Wait()
				posted := h.now()
				h.sleep(2 * time.Hour)
				var got []time.Duration
				for _, at := range h.hook.times {
					got = append(got, at.Sub(posted))
				}
				if len(got) != len(tt.want) {
					t.Fatalf("attempts at %v, want %v", got, tt.want)
				}
				for i := range got {
					if got[i] != tt.want[i] {
						t.Errorf("attempt %d at +%v, want +%v", i+1, got[i], tt.want[i])
					}
				}
				st := subNotes(t, h.p, sub.ID)
				if len(st) != 1 || st[0] != tt.status {
					t.Errorf("outbox %v, want [%s]", st, tt.status)
				}
				final := "sent"
				if tt.status == pager.DeliveryFailed {
					final = "failed"
				}
				for result, want := range map[string]uint64{"retry": uint64(len(tt.want) - 1), final: 1} {
					name := `watchdog_status_subscriber_deliveries_total{kind="webhook",result="` + result + `"}`
					if got := h.set.GetOrCreateCounter(name).Get(); got != want {
						t.Errorf("%s = %d, want %d", name, got, want)
					}
				}
			})
		})
	}
}

// subNotes returns the states of a subscriber's messages.
func subNotes(t *testing.T, p *pager.Pager, id string) []pager.DeliveryStatus {
	t.Helper()
	list, err := p.SubscriberMessages(id)
	if err != nil {
		t.Fatal(err)
	}
	var out []pager.DeliveryStatus
	for _, n := range list {
		out = append(out, n.Status)
	}
	return out
}

// TestSubscriberEventsArePublic: status updates, component changes and
// maintenance phases reach webhooks signed, with public texts only:
// never alert labels, incident IDs, authors or matchers.
func TestSubscriberEventsArePublic(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var mu sync.Mutex
		states := map[string]string{"Checkout": "operational"}
		comps := func() (map[string]string, error) {
			mu.Lock()
			defer mu.Unlock()
			return map[string]string{"Checkout": states["Checkout"]}, nil
		}
		h := newSubHarness(t, comps)
		defer h.stop()
		_, secret, err := h.p.AddWebhookSubscriber("https://hooks.example/x", "0123456789abcdef-secret", pager.Actor{User: "admin"})
		if err != nil || secret != "0123456789abcdef-secret" {
			t.Fatalf("AddWebhookSubscriber: %q, %v", secret, err)
		}
		if err := h.p.Receive(pager.Alert{Labels: map[string]string{"alertname": "SecretAlertName", "cluster": "internal-c9"}}); err != nil {
			t.Fatal(err)
		}
		if _, err := h.p.PostStatusUpdate("inc-1", pager.Actor{User: "mallory-author"}, pager.UpdateInvestigating, "We are looking into slow checkouts"); err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		states["Checkout"] = "major_outage"
		mu.Unlock()
		h.sleep(10 * time.Second)
		if _, err := h.p.ScheduleMaintenance(pager.Maintenance{Title: "Database upgrade", Text: "Checkout may be slow", Components: []string{"Checkout"},
			Matchers: []string{`cluster="internal-c9"`}, StartsAt: t0.Add(time.Hour), EndsAt: t0.Add(2 * time.Hour)}, pager.Actor{User: "mallory-author"}); err != nil {
			t.Fatal(err)
		}
		h.sleep(3 * time.Hour)
		mw, err := h.p.ScheduleMaintenance(pager.Maintenance{Title: "Network work", Components: []string{"Checkout"},
			Matchers: []string{`cluster="internal-c9"`}, StartsAt: t0.Add(5 * time.Hour), EndsAt: t0.Add(6 * time.Hour)}, pager.Actor{User: "mallory-author"})
		if err != nil {
			t.Fatal(err)
		}
		h.sleep(time.Minute)
		if _, err := h.p.EndMaintenance(mw.ID, pager.Actor{User: "mallory-author"}); err != nil {
			t.Fatal(err)
		}
		h.sleep(4 * time.Hour)
		var got []string
		for i, body := range h.hook.bodies {
			r := h.hook.reqs[i]
			if err := pager.VerifyWebhook(secret, r.Header.Get(pager.HeaderSubTimestamp), r.Header.Get(pager.HeaderSubSignature), []byte(body), h.hook.times[i], time.Minute); err != nil {
				t.Errorf("request %d: %v", i, err)
			}
			if err := pager.VerifyWebhook("wrong-secret-0123456", r.Header.Get(pager.HeaderSubTimestamp), r.Header.Get(pager.HeaderSubSignature), []byte(body), h.hook.times[i], time.Minute); !errors.Is(err, pager.ErrBadSignature) {
				t.Errorf("wrong secret verifies: %v", err)
			}
			for _, secretText := range []string{"SecretAlertName", "internal-c9", "mallory", "inc-1", "alertname"} {
				if strings.Contains(body, secretText) {
					t.Errorf("payload leaks %q: %s", secretText, body)
				}
			}
			var pl pager.SubscriberPayload
			if err := json.Unmarshal([]byte(body), &pl); err != nil {
				t.Fatal(err)
			}
			if r.Header.Get(pager.HeaderSubEvent) != pl.Type || pl.PageURL != "https://status.example.com/status" {
				t.Errorf("event header %q, payload %s", r.Header.Get(pager.HeaderSubEvent), body)
			}
			got = append(got, pl.Type+" "+pl.Status+" "+pl.Title+" "+pl.Text)
		}
		want := []string{
			"status_update investigating Incident update: Investigating We are looking into slow checkouts",
			"component major_outage Checkout ",
			"maintenance scheduled Database upgrade Checkout may be slow",
			"maintenance in_progress Database upgrade Checkout may be slow",
			"maintenance completed Database upgrade Checkout may be slow",
			"maintenance scheduled Network work ",
			"maintenance cancelled Network work ",
		}
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("events:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	})
}

// TestAddWebhookSubscriber: only absolute http(s) URLs and sane secrets;
// the number of webhooks is bounded.
func TestAddWebhookSubscriber(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newSubHarness(t, nil)
		defer h.stop()
		for _, tt := range []struct{ url, secret string }{
			{"ftp://x.example/", ""}, {"/relative", ""}, {"https://", ""}, {"javascript:alert(1)", ""},
			{"https://x.example/" + strings.Repeat("a", 3000), ""}, {"https://x.example/", "short"}, {"https://x.example/", " padded-secret-value "},
		} {
			if _, _, err := h.p.AddWebhookSubscriber(tt.url, tt.secret, pager.Actor{}); !errors.Is(err, pager.ErrBadSubscriber) {
				t.Errorf("AddWebhookSubscriber(%.40q, %q) = %v, want ErrBadSubscriber", tt.url, tt.secret, err)
			}
		}
		s, secret, err := h.p.AddWebhookSubscriber("http://hooks.example:8080/x", "", pager.Actor{})
		if err != nil || len(secret) < 32 || !strings.HasPrefix(s.ID, "sub_") {
			t.Fatalf("AddWebhookSubscriber = %+v, %q, %v", s, secret, err)
		}
		list, err := h.p.Subscribers()
		if err != nil || len(list) != 1 || list[0].Secret != "" {
			t.Errorf("Subscribers = %+v, %v (secret must not be listed)", list, err)
		}
		for i := 1; i < 50; i++ {
			if _, _, err := h.p.AddWebhookSubscriber("https://x.example/"+strconv.Itoa(i), "", pager.Actor{}); err != nil {
				t.Fatal(err)
			}
		}
		if _, _, err := h.p.AddWebhookSubscriber("https://x.example/51", "", pager.Actor{}); !errors.Is(err, pager.ErrSubscriberLimit) {
			t.Errorf("51st webhook: %v, want ErrSubscriberLimit", err)
		}
		if err := h.p.DeleteSubscriber(s.ID, pager.Actor{}); err != nil {
			t.Fatal(err)
		}
		if err := h.p.DeleteSubscriber(s.ID, pager.Actor{}); !errors.Is(err, pager.ErrNotFound) {
			t.Errorf("second delete: %v, want ErrNotFound", err)
		}
	})
}

// linkToken returns the token of the link in body after prefix.
func linkToken(t *testing.T, body, prefix string) string {
	t.Helper()
	_, rest, ok := strings.Cut(body, prefix)
	if !ok {
		t.Fatalf("no %s link in:\n%s", prefix, body)
	}
	tok, _, _ := strings.Cut(rest, "\n")
	return strings.TrimSpace(tok)
}

// TestSubscribeEmail: double opt-in with bounded abuse: bad addresses are
// refused, a client and everyone are rate limited, unconfirmed addresses
// are capped and expire, subscribing again neither mail-bombs an address
// nor tells whether it is subscribed, and links work by their exact token
// only.
func TestSubscribeEmail(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newSubHarness(t, nil)
		defer h.stop()
		for _, bad := range []string{"", "bob", "Bob <bob@example.com>", "bob@localhost", "bob@[127.0.0.1]", "a@b.c\r\nBcc: x@y.z",
			strings.Repeat("a", 250) + "@example.com", "\xff@example.com"} {
			if err := h.p.SubscribeEmail(bad, "1.1.1.1"); !errors.Is(err, pager.ErrBadSubscriber) {
				t.Errorf("SubscribeEmail(%.30q) = %v, want ErrBadSubscriber", bad, err)
			}
		}
		if err := h.p.SubscribeEmail("Bob@Example.com", "1.1.1.1"); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		mails := h.mail.take()
		if len(mails) != 1 || mails[0].To != "bob@example.com" || !strings.Contains(mails[0].Subject, "Confirm") {
			t.Fatalf("confirmation mails: %+v", mails)
		}
		confirm := linkToken(t, mails[0].Body, pager.SubscriptionConfirmPath)
		unsub := strings.Trim(mails[0].Headers[0][1], "<>")
		if mails[0].Headers[0][0] != "List-Unsubscribe" || !strings.HasPrefix(unsub, "https://status.example.com/status/subscriptions/unsubscribe/") ||
			mails[0].Headers[1] != [2]string{"List-Unsubscribe-Post", "List-Unsubscribe=One-Click"} {
			t.Errorf("headers %q", mails[0].Headers)
		}
		// Again at once (another client): same answer, no second mail.
		if err := h.p.SubscribeEmail("bob@example.com", "2.2.2.2"); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		if got := h.mail.take(); len(got) != 0 {
			t.Errorf("re-subscribing at once mailed again: %d", len(got))
		}
		for _, bad := range []string{"", "x", confirm + "x", "sub_nope." + strings.Repeat("0", 64), strings.Repeat("a", 5000)} {
			if err := h.p.ConfirmSubscription(bad); !errors.Is(err, pager.ErrBadToken) {
				t.Errorf("ConfirmSubscription(%.20q) = %v, want ErrBadToken", bad, err)
			}
		}
		if err := h.p.ConfirmSubscription(confirm); err != nil {
			t.Fatal(err)
		}
		if err := h.p.ConfirmSubscription(confirm); !errors.Is(err, pager.ErrBadToken) {
			t.Errorf("confirming twice = %v, want ErrBadToken", err)
		}
		// Confirmed: subscribing again is answered alike and mails nothing.
		h.sleep(2 * time.Hour)
		if err := h.p.SubscribeEmail("bob@example.com", "3.3.3.3"); err != nil {
			t.Fatal(err)
		}
		h.sleep(time.Second)
		if got := h.mail.take(); len(got) != 0 {
			t.Errorf("subscribing a confirmed address mailed it: %d", len(got))
		}
		// A new hour: 4 requests per client, 6 overall; 3 unconfirmed
		// addresses at most (a0-a2 pending; bob is confirmed).
		h.sleep(time.Hour)
		var got []string
		for i, client := range []string{"9.9.9.9", "9.9.9.9", "9.9.9.9", "9.9.9.9", "9.9.9.9", "8.8.8.8", "7.7.7.7", "6.6.6.6"} {
			got = append(got, errText(h.p.SubscribeEmail("a"+strconv.Itoa(i)+"@example.com", client)))
		}
		want := "ok ok ok unconfirmed lately unconfirmed unconfirmed lately"
		if strings.Join(got, " ") != want {
			t.Errorf("subscribe results %q, want %q", strings.Join(got, " "), want)
		}
		synctest.Wait()
		if mails := h.mail.take(); len(mails) != 3 {
			t.Errorf("%d confirmation mails, want 3", len(mails))
		}
		// Unsubscribe with the link of the first mail; a wrong token does nothing.
		_, tok, _ := strings.Cut(unsub, pager.SubscriptionUnsubscribePath)
		if err := h.p.Unsubscribe(tok + "0"); !errors.Is(err, pager.ErrBadToken) {
			t.Errorf("Unsubscribe(wrong) = %v", err)
		}
		if err := h.p.Unsubscribe(tok); err != nil {
			t.Fatal(err)
		}
		// Unconfirmed addresses expire after pending_ttl (48h): their links die and room is made.
		h.sleep(49 * time.Hour)
		list, err := h.p.Subscribers()
		if err != nil {
			t.Fatal(err)
		}
		if len(list) != 0 {
			t.Errorf("subscribers left: %+v", list)
		}
	})
}

// errText names a subscription refusal: ok, "lately" (rate limit) or
// "unconfirmed" (pending cap).
func errText(err error) string {
	switch {
	case err == nil:
		return "ok"
	case !errors.Is(err, pager.ErrSubscriberLimit):
		return err.Error()
	case strings.Contains(err.Error(), "lately"):
		return "lately"
	case strings.Contains(err.Error(), "unconfirmed"):
		return "unconfirmed"
	}
	return err.Error()
}

// TestStatusSubscribersConfig: the section names an email channel, a
// parseable sender and limits in range; errors carry the line.
func TestStatusSubscribersConfig(t *testing.T) {
	base := strings.Split(subConfig, "  status_subscribers:")[0]
	tests := []struct{ name, section, want string }{
		{"unknown channel", "email_channel: nope", `sub.yaml:16: pager.status_subscribers.email_channel: unknown channel "nope"`},
		{"not email", "email_channel: push", "channel \"push\" is of type console, want email"},
		{"bad from", "from: 'not an address'", "pager.status_subscribers.from"},
		{"negative limit", "max_pending: -1", "pager.status_subscribers.max_pending: -1 is out of range"},
		{"long backoff", "max_backoff: 1000h", "pager.status_subscribers.max_backoff"},
		{"fine", "{email_channel: mail, max_backoff: 5m}", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := strings.Replace(base, "  channels:\n", "  channels:\n    - {name: push, type: console}\n", 1)
			if strings.HasPrefix(tt.section, "{") {
				src += "  status_subscribers: " + tt.section + "\n"
			} else {
				src += "  status_subscribers:\n    " + tt.section + "\n"
			}
			cfg, err := pager.ParseConfig("sub.yaml", []byte(src))
			if err == nil {
				err = cfg.Validate()
			}
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("error %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("error %v, want %q", err, tt.want)
			}
		})
	}
}

// TestConfirmRespectsMaxEmails: a confirmation past max_emails is refused
// and leaves the address pending.
func TestConfirmRespectsMaxEmails(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newSubHarnessConfig(t, strings.Replace(subConfig, "max_pending: 3", "max_pending: 3\n    max_emails: 1", 1), nil)
		defer h.stop()
		for _, addr := range []string{"a@example.com", "b@example.com"} {
			if err := h.p.SubscribeEmail(addr, "1.1.1.1"); err != nil {
				t.Fatal(err)
			}
		}
		synctest.Wait()
		mails := h.mail.take()
		if len(mails) != 2 {
			t.Fatalf("%d confirmation mails, want 2", len(mails))
		}
		if err := h.p.ConfirmSubscription(linkToken(t, mails[0].Body, pager.SubscriptionConfirmPath)); err != nil {
			t.Fatal(err)
		}
		if err := h.p.ConfirmSubscription(linkToken(t, mails[1].Body, pager.SubscriptionConfirmPath)); !errors.Is(err, pager.ErrSubscriberLimit) {
			t.Errorf("second confirmation = %v, want ErrSubscriberLimit", err)
		}
		if err := h.p.SubscribeEmail("c@example.com", "1.1.1.1"); !errors.Is(err, pager.ErrSubscriberLimit) {
			t.Errorf("subscribing with the list full = %v, want ErrSubscriberLimit", err)
		}
	})
}
