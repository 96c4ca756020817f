package e2e

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Two-way paging (issue #16, acceptance 2): a page goes out by SMS, by a
// call or to Slack through fake Twilio and Slack APIs; the test answers
// as the provider would (a signed webhook) and the incident is
// acknowledged by that person with that channel, and nobody is paged
// again.

const (
	twExternal   = "https://watchdog.example"
	twAuthToken  = "e2e-twilio-auth-token"
	slackSecret  = "e2e-slack-signing-secret"
	alicePhoneE2 = "+15550100001"
)

// fakeProviders is a fake Twilio REST API (Messages.json, Calls.json) and a
// fake Slack (incoming webhook, response_url) in one server.
type fakeProviders struct {
	*httptest.Server
	mu   sync.Mutex
	reqs []providerReq
	wake chan struct{}
}

type providerReq struct {
	Path string
	Form url.Values // Twilio
	JSON map[string]any
}

func newFakeProviders(t *testing.T) *fakeProviders {
	f := &fakeProviders{wake: make(chan struct{}, 1)}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		req := providerReq{Path: r.URL.Path}
		if strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
			_ = json.Unmarshal(b, &req.JSON)
		} else {
			req.Form, _ = url.ParseQuery(string(b))
		}
		f.mu.Lock()
		f.reqs = append(f.reqs, req)
		f.mu.Unlock()
		select {
		case f.wake <- struct{}{}:
		default:
		}
		if strings.HasPrefix(r.URL.Path, "/2010-04-01/") {
			w.WriteHeader(http.StatusCreated)
			_, _ = io.WriteString(w, `{"sid":"SM0123"}`)
			return
		}
		_, _ = io.WriteString(w, "ok")
	}))
	t.Cleanup(f.Close)
	return f
}

// requests returns the requests whose path ends with suffix.
func (f *fakeProviders) requests(suffix string) []providerReq {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []providerReq
	for _, r := range f.reqs {
		if strings.HasSuffix(r.Path, suffix) {
			out = append(out, r)
		}
	}
	return out
}

// twilioSign is X-Twilio-Signature as Twilio documents it: HMAC-SHA1 of
// the URL followed by the sorted parameters' names and values, base64.
func twilioSign(fullURL string, form url.Values) string {
	keys := make([]string, 0, len(form))
	for k := range form {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	s := fullURL
	for _, k := range keys {
		for _, v := range form[k] {
			s += k + v
		}
	}
	m := hmac.New(sha1.New, []byte(twAuthToken))
	m.Write([]byte(s))
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// slackSign is X-Slack-Signature as Slack documents it.
func slackSign(ts string, body []byte) string {
	m := hmac.New(sha256.New, []byte(slackSecret))
	m.Write([]byte("v0:" + ts + ":"))
	m.Write(body)
	return "v0=" + hex.EncodeToString(m.Sum(nil))
}

// twoWayPager pages alice by method at once and again by it 3 s later,
// then bob after 6 s; every incident is also posted to Slack.
func twoWayPager(fake, method string) string {
	return fmt.Sprintf(`
users:
  - name: alice
    contact: {sms: "%[2]s", voice: "%[2]s", push: alice-push, slack_user_id: U0ALICE}
    notification_rules:
      - {after: 0s, method: %[3]s}
      - {after: 3s, method: %[3]s}
  - name: bob
    contact: {sms: "+15550100002", push: bob-push}
escalation_policies:
  - name: fast
    levels:
      - {targets: [user:alice], escalate_after: 6s}
      - {targets: [user:bob], escalate_after: 6s}
channels:
  - {name: push, type: console}
  - {name: sms, type: twilio, mode: sms, account_sid: AC0e2e, auth_token_file: twilio-token, from: "+15550000000", base_url: "%[1]s", replies: true}
  - {name: voice, type: twilio, mode: voice, account_sid: AC0e2e, auth_token_file: twilio-token, from: "+15550000000", base_url: "%[1]s", replies: true}
  - {name: team-slack, type: slack, webhook_url_file: slack-webhook, signing_secret_file: slack-secret, response_url_prefix: "%[1]s/"}
routes:
  - name: all
    group_by: [alertname]
    group_wait: 0s
    escalation_policy: fast
    channels: [team-slack]
`, fake, alicePhoneE2, method)
}

func startTwoWay(t *testing.T, method string) (*hostile, *fakeProviders) {
	fake := newFakeProviders(t)
	h := startHostile(t, hostileConfig{Pager: twoWayPager(fake.URL, method), Rules: ackRules,
		Files: map[string]string{"twilio-token": twAuthToken + "\n", "slack-secret": slackSecret + "\n",
			"slack-webhook": fake.URL + "/services/T0/B0/x\n"},
		Args: []string{"--web.external-url", twExternal}})
	return h, fake
}

// waitFor polls the fake until f finds what it needs.
func waitFor(t *testing.T, fake *fakeProviders, what string, f func() bool) {
	t.Helper()
	if err := poll(30*time.Second, 200*time.Millisecond, fake.wake, func() error {
		if f() {
			return nil
		}
		return fmt.Errorf("no %s yet", what)
	}); err != nil {
		t.Fatal(err)
	}
}

// ackedBy reads the incident and its timeline's acknowledgement.
func ackedBy(t *testing.T, h *hostile, id string) (status, by, via string) {
	t.Helper()
	code, body := h.get(t, "/api/v1/pager/incidents/"+id)
	if code != http.StatusOK {
		t.Fatalf("incident %s: %d %s", id, code, body)
	}
	var got struct {
		Data struct {
			Status   string `json:"status"`
			Timeline []struct {
				Kind, By, Via string
			} `json:"timeline"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatalf("incident %s: %v", id, err)
	}
	for _, e := range got.Data.Timeline {
		if e.Kind == "acknowledged" {
			by, via = e.By, e.Via
		}
	}
	return got.Data.Status, by, via
}

// noFurtherPages waits past alice's second step and the escalation to bob
// and checks that no Twilio request, no console page and no page to bob
// followed the acknowledgement (counts taken before it).
func noFurtherPages(t *testing.T, h *hostile, fake *fakeProviders, twilioBefore, consoleBefore int) {
	t.Helper()
	time.Sleep(8 * time.Second) // alice's second step is due at 3 s, bob at 6 s: both must stay silent
	if n := len(fake.requests(".json")); n != twilioBefore {
		t.Errorf("%d more Twilio requests after the acknowledgement: %+v", n-twilioBefore, fake.requests(".json"))
	}
	if n := h.pages("", ""); n != consoleBefore {
		t.Errorf("%d more console pages after the acknowledgement", n-consoleBefore)
	}
	if n := h.pages("", "bob"); n != 0 {
		t.Errorf("bob was paged %d times after alice acknowledged", n)
	}
}

// postHeader sends a POST with a content type and extra headers, without
// the API token: the inbound webhooks authenticate by signature.
func (h *hostile) postHeader(t *testing.T, path, contentType string, body []byte, hdr http.Header) (int, []byte) {
	t.Helper()
	hdr = hdr.Clone()
	hdr.Set("Content-Type", contentType)
	resp, b := h.do(t, http.MethodPost, path, hdr, body)
	return resp.StatusCode, b
}

var replyCodeRE = regexp.MustCompile(`ACK (\d+) to acknowledge`)

func TestTwoWaySMSReply(t *testing.T) {
	parallel(t, 10*time.Second)
	h, fake := startTwoWay(t, "sms")
	var text string
	waitFor(t, fake, "SMS", func() bool {
		for _, r := range fake.requests("/Messages.json") {
			if r.Form.Get("To") == alicePhoneE2 && strings.HasPrefix(r.Form.Get("Body"), "[TRIGGER]") {
				text = r.Form.Get("Body")
				return true
			}
		}
		return false
	})
	m := replyCodeRE.FindStringSubmatch(text)
	if m == nil {
		t.Fatalf("the text does not say how to reply: %q", text)
	}
	id := "inc-" + m[1]

	post := func(form url.Values, sig string) (int, string) {
		code, body := h.postHeader(t, "/api/v1/pager/inbound/twilio/sms", "application/x-www-form-urlencoded",
			[]byte(form.Encode()), http.Header{"X-Twilio-Signature": {sig}})
		return code, string(body)
	}
	reply := func(from, body string) url.Values {
		return url.Values{"MessageSid": {"SM" + strconv.Itoa(len(body))}, "AccountSid": {"AC0e2e"}, "From": {from},
			"To": {"+15550000000"}, "Body": {body}, "NumMedia": {"0"}}
	}
	smsURL := twExternal + "/api/v1/pager/inbound/twilio/sms"

	// Bad replies first: none changes anything.
	forged := reply(alicePhoneE2, "ack "+m[1])
	if code, _ := post(forged, twilioSign(smsURL, reply(alicePhoneE2, "esc "+m[1]))); code != http.StatusForbidden {
		t.Errorf("forged reply: %d, want 403", code)
	}
	stranger := reply("+15559990000", "ack "+m[1])
	if code, body := post(stranger, twilioSign(smsURL, stranger)); code != 200 || !strings.Contains(body, "not registered") || strings.Contains(body, id) {
		t.Errorf("unknown number: %d %s", code, body)
	}
	wrong := reply(alicePhoneE2, "ack 4821")
	if code, body := post(wrong, twilioSign(smsURL, wrong)); code != 200 || !strings.Contains(body, "No open page 4821") {
		t.Errorf("wrong incident: %d %s", code, body)
	}
	if st, _, _ := ackedBy(t, h, id); st != "triggered" {
		t.Fatalf("after bad replies %s is %s", id, st)
	}

	good := reply(alicePhoneE2, "ack "+m[1])
	before, consoleBefore := len(fake.requests(".json")), h.pages("", "")
	code, body := post(good, twilioSign(smsURL, good))
	if code != 200 || !strings.Contains(body, "<Message>Acknowledged "+id+" as alice.</Message>") {
		t.Fatalf("reply: %d %s", code, body)
	}
	if st, by, via := ackedBy(t, h, id); st != "acknowledged" || by != "alice" || via != "sms" {
		t.Errorf("%s: status %q by %q via %q, want acknowledged by alice via sms", id, st, by, via)
	}
	noFurtherPages(t, h, fake, before, consoleBefore)
}

func TestTwoWayVoiceKeypress(t *testing.T) {
	parallel(t, 10*time.Second)
	h, fake := startTwoWay(t, "voice")
	var twiml string
	waitFor(t, fake, "call", func() bool {
		for _, r := range fake.requests("/Calls.json") {
			if r.Form.Get("To") == alicePhoneE2 {
				twiml = r.Form.Get("Twiml")
				return true
			}
		}
		return false
	})
	m := regexp.MustCompile(`<Gather numDigits="1"[^>]* action="([^"]+)">.*Press 1 to acknowledge, 2 to escalate`).FindStringSubmatch(twiml)
	if m == nil {
		t.Fatalf("the call does not gather a keypress: %s", twiml)
	}
	action := strings.ReplaceAll(m[1], "&amp;", "&")
	if !strings.HasPrefix(action, twExternal+"/api/v1/pager/inbound/twilio/voice?") {
		t.Fatalf("gather action %q is not under the external URL", action)
	}
	path := strings.TrimPrefix(action, twExternal)
	code, body := h.get(t, "/api/v1/pager/incidents")
	var list struct {
		Data []struct{ ID string } `json:"data"`
	}
	if code != 200 || json.Unmarshal(body, &list) != nil || len(list.Data) != 1 {
		t.Fatalf("open incidents: %d %s", code, body)
	}
	id := list.Data[0].ID

	press := func(digits, sig string) (int, string) {
		form := url.Values{"CallSid": {"CA0e2e"}, "AccountSid": {"AC0e2e"}, "From": {"+15550000000"}, "To": {alicePhoneE2},
			"Called": {alicePhoneE2}, "Digits": {digits}, "CallStatus": {"in-progress"}, "Direction": {"outbound-api"}}
		if sig == "" {
			sig = twilioSign(action, form)
		}
		code, body := h.postHeader(t, path, "application/x-www-form-urlencoded", []byte(form.Encode()), http.Header{"X-Twilio-Signature": {sig}})
		return code, string(body)
	}
	if code, _ := press("1", "AAAAAAAAAAAAAAAAAAAAAAAAAAA="); code != http.StatusForbidden {
		t.Errorf("unsigned keypress: %d, want 403", code)
	}
	if st, _, _ := ackedBy(t, h, id); st != "triggered" {
		t.Fatalf("after a forged keypress %s is %s", id, st)
	}
	before, consoleBefore := len(fake.requests(".json")), h.pages("", "")
	if code, body := press("1", ""); code != 200 || !strings.Contains(body, "Acknowledged "+id+" as alice.") {
		t.Fatalf("keypress: %d %s", code, body)
	}
	if st, by, via := ackedBy(t, h, id); st != "acknowledged" || by != "alice" || via != "voice" {
		t.Errorf("%s: status %q by %q via %q, want acknowledged by alice via voice", id, st, by, via)
	}
	noFurtherPages(t, h, fake, before, consoleBefore)
}

func TestTwoWaySlackButton(t *testing.T) {
	parallel(t, 10*time.Second)
	h, fake := startTwoWay(t, "push")
	var msg map[string]any
	waitFor(t, fake, "Slack message", func() bool {
		if rs := fake.requests("/services/T0/B0/x"); len(rs) > 0 {
			msg = rs[0].JSON
			return true
		}
		return false
	})
	var id string
	blocks, _ := msg["blocks"].([]any)
	for _, b := range blocks {
		bm, _ := b.(map[string]any)
		if bm["type"] != "actions" {
			continue
		}
		for _, e := range bm["elements"].([]any) {
			if em := e.(map[string]any); em["action_id"] == "incident_ack" {
				id, _ = em["value"].(string)
			}
		}
	}
	if id == "" {
		t.Fatalf("no Acknowledge button in %v", msg)
	}

	click := func(user string, at time.Time, secret bool) int {
		payload, _ := json.Marshal(map[string]any{
			"type": "block_actions", "user": map[string]any{"id": user, "username": user, "team_id": "T0"},
			"team": map[string]any{"id": "T0"}, "trigger_id": "1.2.3", "api_app_id": "A0",
			"container":    map[string]any{"type": "message", "message_ts": "1.1", "channel_id": "C0"},
			"response_url": fake.URL + "/actions/T0/1/resp",
			"message":      map[string]any{"type": "message", "ts": "1.1", "text": msg["text"], "blocks": msg["blocks"]},
			"actions":      []any{map[string]any{"type": "button", "action_id": "incident_ack", "block_id": "b", "value": id, "action_ts": "1.2"}},
		})
		body := []byte(url.Values{"payload": {string(payload)}}.Encode())
		ts := strconv.FormatInt(at.Unix(), 10)
		sig := slackSign(ts, body)
		if !secret {
			sig = "v0=" + strings.Repeat("0", 64)
		}
		code, _ := h.postHeader(t, "/api/v1/pager/inbound/slack/interactive", "application/x-www-form-urlencoded", body,
			http.Header{"X-Slack-Signature": {sig}, "X-Slack-Request-Timestamp": {ts}})
		return code
	}
	if code := click("U0ALICE", time.Now(), false); code != http.StatusUnauthorized {
		t.Errorf("forged click: %d, want 401", code)
	}
	if code := click("U0ALICE", time.Now().Add(-10*time.Minute), true); code != http.StatusUnauthorized {
		t.Errorf("replayed click: %d, want 401", code)
	}
	if code := click("U0MALLORY", time.Now(), true); code != 200 {
		t.Errorf("unknown user's click: %d", code)
	}
	if st, _, _ := ackedBy(t, h, id); st != "triggered" {
		t.Fatalf("after bad clicks %s is %s", id, st)
	}
	before, consoleBefore := len(fake.requests(".json")), h.pages("", "")
	if code := click("U0ALICE", time.Now(), true); code != 200 {
		t.Fatalf("click: %d", code)
	}
	if st, by, via := ackedBy(t, h, id); st != "acknowledged" || by != "alice" || via != "slack" {
		t.Errorf("%s: status %q by %q via %q, want acknowledged by alice via slack", id, st, by, via)
	}
	// The message was replaced in place: no buttons, who acknowledged.
	var updated map[string]any
	for _, r := range fake.requests("/actions/T0/1/resp") {
		if r.JSON["replace_original"] == true {
			updated = r.JSON
		}
	}
	raw, _ := json.Marshal(updated)
	if updated == nil || !strings.Contains(string(raw), "Acknowledged "+id+" as alice.") || strings.Contains(string(raw), "incident_ack") {
		t.Errorf("message not updated in place: %s", raw)
	}
	noFurtherPages(t, h, fake, before, consoleBefore)
}
