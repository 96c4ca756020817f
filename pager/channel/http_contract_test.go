package channel

import (
	"bytes"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// httpCase builds one HTTP channel pointed at base.
type httpCase struct {
	name string
	make func(t *testing.T, base string) Channel
	ok   int // the status the real API answers on success
}

func must[C Channel](t *testing.T) func(C, error) Channel {
	return func(c C, err error) Channel {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
}

func httpCases() []httpCase {
	return []httpCase{
		{"webhook", func(t *testing.T, base string) Channel {
			return must[*Webhook](t)(NewWebhook(WebhookOptions{URL: base + "/hook", BearerToken: "tok-webhook"}))
		}, 200},
		{"slack", func(t *testing.T, base string) Channel {
			return must[*Slack](t)(NewSlack(SlackOptions{WebhookURL: base + "/services/T0/B0/secretpath"}))
		}, 200},
		{"pagerduty", func(t *testing.T, base string) Channel {
			return must[*PagerDuty](t)(NewPagerDuty(PagerDutyOptions{RoutingKey: "R0UT1NGKEY", BaseURL: base}))
		}, 202},
		{"opsgenie", func(t *testing.T, base string) Channel {
			return must[*Opsgenie](t)(NewOpsgenie(OpsgenieOptions{APIKey: "genie-secret", BaseURL: base}))
		}, 202},
		{"twilio-sms", func(t *testing.T, base string) Channel {
			return must[*Twilio](t)(NewTwilio(TwilioOptions{AccountSID: "AC123", AuthToken: "twilio-secret", From: "+15550001111", BaseURL: base}))
		}, 201},
		{"twilio-voice", func(t *testing.T, base string) Channel {
			return must[*Twilio](t)(NewTwilio(TwilioOptions{Mode: "voice", AccountSID: "AC123", AuthToken: "twilio-secret", From: "+15550001111", BaseURL: base}))
		}, 201},
		{"ntfy", func(t *testing.T, base string) Channel {
			return must[*Ntfy](t)(NewNtfy(NtfyOptions{BaseURL: base, Topic: "oncall", Token: "tk_secret"}))
		}, 200},
	}
}

// TestHTTPStatusClassification checks the shared contract of every HTTP
// channel: 2xx success, 429/5xx/network retryable (with Retry-After), other
// 4xx final with the response body in the error.
func TestHTTPStatusClassification(t *testing.T) {
	statuses := []struct {
		name       string
		rep        reply
		wantErr    bool
		wantRetry  bool
		wantAfter  time.Duration
		wantInBody string
	}{
		{"success", reply{Status: 0}, false, false, 0, ""},
		{"429 retry-after seconds", reply{Status: 429, Header: map[string]string{"Retry-After": "7"}, Body: "slow down"}, true, true, 7 * time.Second, ""},
		{"429 without header", reply{Status: 429}, true, true, 0, ""},
		{"500", reply{Status: 500, Body: "oops"}, true, true, 0, ""},
		{"503 retry-after", reply{Status: 503, Header: map[string]string{"Retry-After": "2"}}, true, true, 2 * time.Second, ""},
		{"400 final", reply{Status: 400, Body: `{"status":"invalid event","errors":["bad"]}`}, true, false, 0, "invalid event"},
		{"401 final", reply{Status: 401, Body: "unauthorized"}, true, false, 0, "unauthorized"},
		{"404 final", reply{Status: 404, Body: "channel_not_found"}, true, false, 0, "channel_not_found"},
	}
	for _, hc := range httpCases() {
		for _, st := range statuses {
			t.Run(hc.name+"/"+st.name, func(t *testing.T) {
				rep := st.rep
				if rep.Status == 0 {
					rep.Status = hc.ok
				}
				srv := newFakeServer(t, rep)
				ch := hc.make(t, srv.URL)
				retry, err := ch.Send(bg(), sampleMessage())
				if (err != nil) != st.wantErr || retry != st.wantRetry {
					t.Fatalf("Send = (%v, %v), want retry=%v err=%v", retry, err, st.wantRetry, st.wantErr)
				}
				if err == nil {
					return
				}
				if !errors.Is(err, ErrHTTPStatus) {
					t.Errorf("error %v does not wrap ErrHTTPStatus", err)
				}
				after, ok := RetryAfter(err)
				if after != st.wantAfter || ok != (st.wantAfter > 0) {
					t.Errorf("RetryAfter = %v, %v; want %v", after, ok, st.wantAfter)
				}
				if !strings.Contains(err.Error(), st.wantInBody) {
					t.Errorf("error %q lacks response body %q", err, st.wantInBody)
				}
			})
		}
		t.Run(hc.name+"/network error", func(t *testing.T) {
			srv := newFakeServer(t)
			base := srv.URL
			srv.Close()
			retry, err := hc.make(t, base).Send(bg(), sampleMessage())
			if err == nil || !retry {
				t.Fatalf("Send = (%v, %v), want retryable error", retry, err)
			}
		})
	}
}

func TestRetryAfterHTTPDate(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Duration
	}{
		{"120", 2 * time.Minute},
		{"0", 0},
		{"-5", 0},
		{"", 0},
		{"soon", 0},
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second},
		{now.Add(-time.Hour).Format(http.TimeFormat), 0},
		{"999999999", 24 * time.Hour},
	}
	for _, tt := range tests {
		if got := parseRetryAfter(tt.in, now); got != tt.want {
			t.Errorf("parseRetryAfter(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

// TestSecretsNeverLeak checks errors and retry-loop logs for one channel per
// kind of secret: Twilio's auth token (echoed back by a hostile server),
// Slack's secret webhook path (network error), Opsgenie's key.
func TestSecretsNeverLeak(t *testing.T) {
	const token = "twilio-secret-TOKEN"
	srv := newFakeServer(t, reply{Status: 401, Body: "bad credentials AC123:" + token})
	tw, _ := NewTwilio(TwilioOptions{AccountSID: "AC123", AuthToken: token, From: "+1555", BaseURL: srv.URL})

	dead := newFakeServer(t)
	deadURL := dead.URL
	dead.Close()
	sl, _ := NewSlack(SlackOptions{WebhookURL: deadURL + "/services/T0/B0/XOXSECRET"})
	og, _ := NewOpsgenie(OpsgenieOptions{APIKey: "GENIE-SECRET", BaseURL: "http://[::1"})

	var logs bytes.Buffer
	r := NewRetrier(RetrierOptions{
		Policy: RetryPolicy{MaxAttempts: 1},
		Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	})
	for _, c := range []struct {
		ch     Channel
		secret string
	}{{tw, token}, {sl, "XOXSECRET"}, {og, "GENIE-SECRET"}} {
		_, err := r.Send(bg(), c.ch, sampleMessage())
		if err == nil {
			t.Fatalf("%s: want error", c.ch.Name())
		}
		if strings.Contains(err.Error(), c.secret) {
			t.Errorf("%s: error leaks secret: %v", c.ch.Name(), err)
		}
		if strings.Contains(logs.String(), c.secret) {
			t.Errorf("%s: log leaks secret: %s", c.ch.Name(), logs.String())
		}
	}
	if !strings.Contains(logs.String(), "twilio-sms") {
		t.Errorf("expected failures to be logged, got %q", logs.String())
	}
}

// TestBadInputNeverPanics sends malformed messages through every channel.
func TestBadInputNeverPanics(t *testing.T) {
	long := strings.Repeat("é<&>\"\r\n", 5000)
	msgs := map[string]Message{
		"zero":      {},
		"bad event": {Event: "explode", DedupKey: "k"},
		"minimal":   {Event: EventTrigger, DedupKey: "k", Recipient: Contact{Address: "+15551234567"}},
		"huge": {Event: EventTrigger, DedupKey: long, IncidentID: long, Title: long, Summary: long, Severity: long,
			Source: long, AckURL: "javascript:alert(1)", Labels: map[string]string{long: long}, Annotations: map[string]string{"runbook_url": long},
			Alerts: []Alert{{}, {Labels: map[string]string{"alertname": long}}}, Recipient: Contact{Name: long, Address: "+1555"}},
		"resolve without key": {Event: EventResolve},
	}
	for _, hc := range httpCases() {
		srv := newFakeServer(t, reply{Status: hc.ok})
		ch := hc.make(t, srv.URL)
		for name, m := range msgs {
			t.Run(hc.name+"/"+name, func(t *testing.T) {
				retry, err := ch.Send(bg(), m)
				if name == "zero" || name == "bad event" {
					if !errors.Is(err, ErrInvalidMessage) || retry {
						t.Errorf("Send = (%v, %v), want final ErrInvalidMessage", retry, err)
					}
				}
			})
		}
	}
}

func TestConstructorsRejectBadConfig(t *testing.T) {
	tests := map[string]error{}
	_, tests["webhook no url"] = NewWebhook(WebhookOptions{})
	_, tests["slack no url"] = NewSlack(SlackOptions{})
	_, tests["pagerduty no key"] = NewPagerDuty(PagerDutyOptions{})
	_, tests["opsgenie no key"] = NewOpsgenie(OpsgenieOptions{})
	_, tests["opsgenie bad priority"] = NewOpsgenie(OpsgenieOptions{APIKey: "k", Priorities: map[string]string{"critical": "P9"}})
	_, tests["twilio no token"] = NewTwilio(TwilioOptions{AccountSID: "AC", From: "+1"})
	_, tests["twilio bad mode"] = NewTwilio(TwilioOptions{Mode: "fax", AccountSID: "AC", AuthToken: "x", From: "+1"})
	_, tests["ntfy bad method"] = NewNtfy(NtfyOptions{AckMethod: "DELETE"})
	_, tests["email no host"] = NewEmail(EmailOptions{From: "a@b.c"})
	_, tests["email bad from"] = NewEmail(EmailOptions{Host: "h", From: "not an address"})
	_, tests["email bad tls"] = NewEmail(EmailOptions{Host: "h", From: "a@b.c", TLS: "maybe"})
	for name, err := range tests {
		if !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("%s: err = %v, want ErrInvalidConfig", name, err)
		}
	}
}

// formOf parses a form-encoded request body.
func formOf(t *testing.T, r recorded) url.Values {
	t.Helper()
	v, err := url.ParseQuery(string(r.Body))
	if err != nil {
		t.Fatal(err)
	}
	return v
}
