package channel

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

// TestOptionsYAML checks that the yaml tags decode as the config loader will
// use them, including the inlined HTTP timeout.
func TestOptionsYAML(t *testing.T) {
	var cfg struct {
		PagerDuty PagerDutyOptions `yaml:"pagerduty"`
		Webhook   WebhookOptions   `yaml:"webhook"`
		Twilio    TwilioOptions    `yaml:"twilio"`
		Ntfy      NtfyOptions      `yaml:"ntfy"`
		Email     EmailOptions     `yaml:"email"`
		Retry     RetryPolicy      `yaml:"retry"`
	}
	doc := `
pagerduty: {routing_key: rk, base_url: "http://pd", timeout: 5s}
webhook: {url: "http://h", bearer_token: t, max_alerts: 3, send_acknowledge: true}
twilio: {mode: voice, account_sid: AC1, auth_token: x, from: "+1", to: "+2"}
ntfy: {topic: ops, token: tk, ack_method: GET}
email: {host: smtp.example, port: 2525, from: a@b.c, username: u, password: p, tls: implicit}
retry: {max_attempts: 7, initial_backoff: 2s, max_backoff: 1m, jitter: 0.1, attempt_timeout: 20s, max_retry_after: 2m}
`
	if err := yaml.Unmarshal([]byte(doc), &cfg); err != nil {
		t.Fatal(err)
	}
	wantEq(t, "pd.timeout", cfg.PagerDuty.HTTP.Timeout, 5*time.Second)
	wantEq(t, "pd.routing_key", cfg.PagerDuty.RoutingKey, "rk")
	wantEq(t, "webhook.max_alerts", cfg.Webhook.MaxAlerts, 3)
	wantEq(t, "webhook.send_acknowledge", cfg.Webhook.SendAcknowledge, true)
	wantEq(t, "twilio.mode", cfg.Twilio.Mode, "voice")
	wantEq(t, "ntfy.ack_method", cfg.Ntfy.AckMethod, "GET")
	wantEq(t, "email.tls", cfg.Email.TLS, "implicit")
	wantEq(t, "retry.max_attempts", cfg.Retry.MaxAttempts, 7)
	wantEq(t, "retry.initial_backoff", cfg.Retry.InitialBackoff, 2*time.Second)
	wantEq(t, "retry.max_retry_after", cfg.Retry.MaxRetryAfter, 2*time.Minute)
}

// FuzzPayloads feeds arbitrary text through every payload builder: none may
// panic, JSON must stay valid and length limits must hold.
func FuzzPayloads(f *testing.F) {
	f.Add("LoginErrorSpike", "ratio 12%", "critical", "https://x/ack?a=1", "k")
	f.Add("é\r\n<&>\"", strings.Repeat("ü", 3000), "", "javascript:x", "")
	f.Add("", "", "P1", "http://[::1", strings.Repeat("k", 600))
	pd, _ := NewPagerDuty(PagerDutyOptions{RoutingKey: "r"})
	og, _ := NewOpsgenie(OpsgenieOptions{APIKey: "k"})
	f.Fuzz(func(t *testing.T, title, summary, sev, ack, key string) {
		m := sampleMessage()
		m.Title, m.Summary, m.Severity, m.AckURL, m.DedupKey = title, summary, sev, ack, key
		for _, ev := range []string{EventTrigger, EventAcknowledge, EventResolve} {
			m.Event = ev
			for _, v := range []any{buildSlack(m, false), BuildWebhookPayload(m, 1)} {
				if _, err := json.Marshal(v); err != nil {
					t.Fatal(err)
				}
			}
			if e, err := pd.build(m); err == nil && e.Payload != nil && len(e.Payload.Summary) > pdMaxSummary {
				t.Fatalf("summary %d bytes", len(e.Payload.Summary))
			}
			if c := og.buildCreate(m, "a"); len([]rune(c.Message)) > ogMaxMessage {
				t.Fatalf("message %d runes", len([]rune(c.Message)))
			}
			if b := smsBody(m, false); len([]rune(b)) > maxSMSBody {
				t.Fatalf("sms %d runes", len([]rune(b)))
			}
			_ = emailBody(m)
			_ = headerText(title, 250)
		}
	})
}
