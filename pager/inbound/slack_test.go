package inbound

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/watchdog-sre/watchdog/pager/channel"
)

// blockActions is a block_actions payload in the shape Slack documents
// (trimmed of fields the webhook ignores).
func blockActions(userID, actionID, value, responseURL string) string {
	p := map[string]any{
		"type":       "block_actions",
		"user":       map[string]any{"id": userID, "username": "someone", "team_id": "T1"},
		"team":       map[string]any{"id": "T1", "domain": "example"},
		"api_app_id": "A1", "token": "legacy-verification-token", "trigger_id": "1.2.3",
		"container":    map[string]any{"type": "message", "message_ts": "1700000000.000100", "channel_id": "C1", "is_ephemeral": false},
		"channel":      map[string]any{"id": "C1", "name": "alerts"},
		"response_url": responseURL,
		"message": map[string]any{
			"type": "message", "ts": "1700000000.000100", "text": "[TRIGGER] LoginErrorSpike",
			"blocks": []any{
				map[string]any{"type": "header", "block_id": "h", "text": map[string]any{"type": "plain_text", "text": "[TRIGGER] LoginErrorSpike"}},
				map[string]any{"type": "actions", "block_id": "a", "elements": []any{
					map[string]any{"type": "button", "action_id": channel.SlackActionAck, "value": value}}},
			},
		},
		"actions": []any{map[string]any{
			"type": "button", "action_id": actionID, "block_id": "a", "value": value,
			"text":      map[string]any{"type": "plain_text", "text": "Acknowledge"},
			"action_ts": "1700000001.000200",
		}},
	}
	b, _ := json.Marshal(p)
	return url.Values{"payload": {string(b)}}.Encode()
}

// TestSlackWebhook is the contract test of Slack's interactivity request
// (form field payload with a block_actions JSON; X-Slack-Signature v0 and
// X-Slack-Request-Timestamp): a linked user's click acts with Via "slack"
// and replaces the message without its buttons, saying who acted;
// forged, replayed, unknown users and wrong incidents change nothing.
func TestSlackWebhook(t *testing.T) {
	ts := strconv.FormatInt(now.Unix(), 10)
	old := strconv.FormatInt(now.Add(-10*time.Minute).Unix(), 10)
	tests := []struct {
		name, user, action, value string
		ts, signTS, secret        string // signTS/secret default ts/signSecret
		badURL                    bool
		status                    int
		want                      []act
		reply                     string // text of the message posted to response_url
		replace                   bool
	}{
		{name: "acknowledge", user: "U1ALICE", action: channel.SlackActionAck, value: "inc-7", ts: ts, status: 200,
			want: []act{{ActionAck, "inc-7", "alice", ViaSlack}}, reply: "Acknowledged inc-7 as alice.", replace: true},
		{name: "resolve", user: "U1ALICE", action: channel.SlackActionResolve, value: "inc-8", ts: ts, status: 200,
			want: []act{{ActionResolve, "inc-8", "alice", ViaSlack}}, reply: "Resolved inc-8 as alice.", replace: true},
		{name: "escalate", user: "U1ALICE", action: channel.SlackActionEscalate, value: "inc-7", ts: ts, status: 200,
			want: []act{{ActionEscalate, "inc-7", "alice", ViaSlack}}, reply: "Escalated inc-7 as alice.", replace: true},
		{name: "already resolved", user: "U1ALICE", action: channel.SlackActionAck, value: "inc-5", ts: ts, status: 200,
			reply: "inc-5 is already resolved; nothing changed."},
		{name: "wrong incident", user: "U1ALICE", action: channel.SlackActionAck, value: "inc-4821", ts: ts, status: 200,
			reply: "No incident inc-4821; nothing changed."},
		{name: "unknown slack user", user: "U9MALLORY", action: channel.SlackActionAck, value: "inc-7", ts: ts, status: 200,
			reply: "Your Slack account is not linked to a Watchdog user"},
		{name: "other button", user: "U1ALICE", action: "runbook", value: "", ts: ts, status: 200},
		{name: "response_url elsewhere", user: "U1ALICE", action: channel.SlackActionAck, value: "inc-7", ts: ts, badURL: true,
			status: 200, want: []act{{ActionAck, "inc-7", "alice", ViaSlack}}},
		{name: "replayed", user: "U1ALICE", action: channel.SlackActionAck, value: "inc-7", ts: old, status: http.StatusUnauthorized},
		{name: "timestamp swapped", user: "U1ALICE", action: channel.SlackActionAck, value: "inc-7", ts: ts, signTS: old,
			status: http.StatusUnauthorized},
		{name: "forged", user: "U1ALICE", action: channel.SlackActionAck, value: "inc-7", ts: ts, secret: "guess",
			status: http.StatusUnauthorized},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			respURL := e.slack.URL + "/actions/T1/1/abc"
			if tt.badURL {
				respURL = "http://169.254.169.254/latest"
			}
			body := blockActions(tt.user, tt.action, tt.value, respURL)
			signTS, secret := tt.ts, signSecret
			if tt.signTS != "" {
				signTS = tt.signTS
			}
			if tt.secret != "" {
				secret = tt.secret
			}
			r := httptest.NewRequest(http.MethodPost, "/api/v1/pager/inbound/slack/interactive", strings.NewReader(body))
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			r.Header.Set("X-Slack-Request-Timestamp", tt.ts)
			r.Header.Set("X-Slack-Signature", channel.SlackSignature(secret, signTS, []byte(body)))
			w := httptest.NewRecorder()
			e.mux.ServeHTTP(w, r)
			if w.Code != tt.status {
				t.Fatalf("status %d, want %d: %s", w.Code, tt.status, w.Body)
			}
			if got := e.f.done(); !slices.Equal(got, tt.want) {
				t.Errorf("acts %+v, want %+v", got, tt.want)
			}
			msgs := e.slack.messages()
			if tt.reply == "" {
				if len(msgs) != 0 {
					t.Errorf("posted %v", msgs)
				}
				return
			}
			if len(msgs) != 1 {
				t.Fatalf("posted %d messages, want 1", len(msgs))
			}
			m := msgs[0]
			if m["replace_original"] != tt.replace {
				t.Errorf("replace_original = %v", m["replace_original"])
			}
			raw, _ := json.Marshal(m)
			if !strings.Contains(string(raw), tt.reply) {
				t.Errorf("message %s does not say %q", raw, tt.reply)
			}
			if tt.replace {
				if strings.Contains(string(raw), `"actions"`) || !strings.Contains(string(raw), `"header"`) {
					t.Errorf("updated message keeps its buttons or lost its header: %s", raw)
				}
			} else if m["response_type"] != "ephemeral" {
				t.Errorf("refusal is not ephemeral: %s", raw)
			}
		})
	}
}

// TestBodyBounded: an oversized body is refused before anything is read
// into memory beyond MaxBodyBytes.
func TestBodyBounded(t *testing.T) {
	e := newEnv(t)
	for _, p := range []string{PathSMS, PathSlack} {
		r := httptest.NewRequest(http.MethodPost, p, strings.NewReader("payload="+strings.Repeat("x", MaxBodyBytes+1)))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		w := httptest.NewRecorder()
		e.mux.ServeHTTP(w, r)
		if w.Code < 400 || len(e.f.done()) != 0 {
			t.Errorf("%s: status %d, acts %v", p, w.Code, e.f.done())
		}
	}
}
