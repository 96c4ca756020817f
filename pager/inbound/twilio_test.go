package inbound

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestParseReply(t *testing.T) {
	tests := []struct {
		in   string
		want Reply
		ok   bool
	}{
		{"1", Reply{ActionAck, ""}, true},
		{" ACK ", Reply{ActionAck, ""}, true},
		{"ack 4821", Reply{ActionAck, "4821"}, true},
		{"Ack #4821", Reply{ActionAck, "4821"}, true},
		{"ack inc-4821", Reply{ActionAck, "4821"}, true},
		{"ok.", Reply{ActionAck, ""}, true},
		{"2", Reply{ActionEscalate, ""}, true},
		{"esc 7", Reply{ActionEscalate, "7"}, true},
		{"res 4821", Reply{ActionResolve, "4821"}, true},
		{"RESOLVE 3", Reply{ActionResolve, "3"}, true},
		{"", Reply{}, false},
		{"hello", Reply{}, false},
		{"ack abc", Reply{}, false},
		{"ack 7 8", Reply{}, false},
		{"ack -7", Reply{}, false},
		{"ack 1234567890123", Reply{}, false},
		{"1" + strings.Repeat(" ", 200), Reply{}, false},
	}
	for _, tt := range tests {
		got, ok := ParseReply(tt.in)
		if ok != tt.ok || got != tt.want {
			t.Errorf("ParseReply(%q) = %+v, %v; want %+v, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

// TestSMSWebhook is the contract test of Twilio's incoming-message webhook
// (form fields From, To, Body, MessageSid, AccountSid; X-Twilio-Signature
// over the public URL): valid replies act as the sender's user with Via
// "sms"; forged, unknown, stale, ambiguous and wrong-incident ones change
// nothing and say why.
func TestSMSWebhook(t *testing.T) {
	tests := []struct {
		name, from, body string
		sig              string // "" signs correctly
		path             string // default PathSMS
		status           int
		want             []act
		answer           string // substring of the TwiML <Message>
	}{
		{name: "ack by code", from: alicePhone, body: "ack 7", status: 200,
			want: []act{{ActionAck, "inc-7", "alice", ViaSMS}}, answer: "Acknowledged inc-7 as alice."},
		{name: "escalate by code", from: alicePhone, body: "ESC 7", status: 200,
			want: []act{{ActionEscalate, "inc-7", "alice", ViaSMS}}, answer: "Escalated inc-7 as alice."},
		{name: "resolve the acknowledged one", from: alicePhone, body: "res 9", status: 200,
			want: []act{{ActionResolve, "inc-9", "alice", ViaSMS}}, answer: "Resolved inc-9 as alice."},
		{name: "one open page, no code", from: bobPhone, body: "1", status: 200,
			want: []act{{ActionAck, "inc-8", "bob", ViaSMS}}, answer: "Acknowledged inc-8 as bob."},
		{name: "formatted sender number", from: "+1 (555) 000-0002", body: "1", status: 200,
			want: []act{{ActionAck, "inc-8", "bob", ViaSMS}}, answer: "Acknowledged inc-8 as bob."},
		{name: "ambiguous", from: alicePhone, body: "1", status: 200,
			answer: "You have 2 open pages; nothing changed. Reply with a code, e.g. ACK 9 (codes: 9, 7)."},
		{name: "already acknowledged", from: alicePhone, body: "ack 9", status: 200, answer: "inc-9 is already acknowledged; nothing changed."},
		{name: "wrong incident (paged bob)", from: alicePhone, body: "ack 8", status: 200,
			answer: "No open page 8 for you (resolved, or not sent to you); nothing changed."},
		{name: "never paged", from: alicePhone, body: "ack 6", status: 200, answer: "No open page 6 for you"},
		{name: "stale (resolved)", from: alicePhone, body: "ack 5", status: 200, answer: "No open page 5 for you"},
		{name: "unknown code", from: alicePhone, body: "ack 4821", status: 200, answer: "No open page 4821 for you"},
		{name: "not a reply", from: alicePhone, body: "who is this?", status: 200, answer: "Reply 1 or ACK <code> to acknowledge"},
		{name: "unknown number", from: "+15551234567", body: "ack 7", status: 200, answer: "This number is not registered with Watchdog."},
		{name: "no sender", from: "", body: "1", status: 200, answer: "This number is not registered with Watchdog."},
		{name: "forged", from: alicePhone, body: "ack 7", sig: "RSOYDt4T1cUTdK1PDd93/VVr8B8=", status: http.StatusForbidden},
		{name: "signed for another URL", from: alicePhone, body: "ack 7", path: PathVoice, status: http.StatusForbidden},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			form := url.Values{"From": {tt.from}, "To": {"+15559999999"}, "Body": {tt.body}, "MessageSid": {"SM1"}, "AccountSid": {"AC1"}, "NumMedia": {"0"}}
			sig := tt.sig
			if tt.path != "" { // a correct signature, but for another URL
				sig = signFor(tt.path, form)
			}
			w := e.twilioPost(t, PathSMS, form, sig)
			if w.Code != tt.status {
				t.Fatalf("status %d, want %d: %s", w.Code, tt.status, w.Body)
			}
			if got := e.f.done(); !slices.Equal(got, tt.want) {
				t.Errorf("acts %+v, want %+v", got, tt.want)
			}
			if tt.status != 200 {
				return
			}
			ans := twimlText(t, w)
			if !strings.Contains(ans, tt.answer) {
				t.Errorf("answer %q, want %q", ans, tt.answer)
			}
			if strings.HasPrefix(tt.name, "unknown") || tt.name == "no sender" {
				if strings.Contains(ans, "inc-") || strings.Contains(ans, "7") {
					t.Errorf("answer to an unknown number leaks: %q", ans)
				}
			}
		})
	}
}

func signFor(pathQuery string, form url.Values) string {
	return channelSig(ext+pathQuery, form)
}

// TestVoiceWebhook is the contract test of the <Gather> action (form
// fields CallSid, From, To, Called, Digits; the page's signed token in
// ?t=): 1 acknowledges, 2 escalates, as the user the call was placed
// for, with Via "voice"; anything else changes nothing.
func TestVoiceWebhook(t *testing.T) {
	e0 := newEnv(t)
	sign := func(id, uid, user string, exp time.Time) string {
		tok, err := e0.f.signer.SignAck(id, uid, user, exp)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	valid := sign("inc-7", uid7, "alice", now.Add(time.Hour))
	tests := []struct {
		name, token, to, digits, sig string
		status                       int
		want                         []act
		answer                       string
	}{
		{name: "press 1", token: valid, to: alicePhone, digits: "1", status: 200,
			want: []act{{ActionAck, "inc-7", "alice", ViaVoice}}, answer: "Acknowledged inc-7 as alice."},
		{name: "press 2", token: valid, to: alicePhone, digits: "2", status: 200,
			want: []act{{ActionEscalate, "inc-7", "alice", ViaVoice}}, answer: "Escalated inc-7 as alice."},
		{name: "other key", token: valid, to: alicePhone, digits: "9", status: 200, answer: "Unknown key; nothing changed."},
		{name: "no key", token: valid, to: alicePhone, digits: "", status: 200, answer: "Unknown key; nothing changed."},
		{name: "call to another number", token: valid, to: bobPhone, digits: "1", status: 200, answer: "not one of your pages"},
		{name: "tampered token", token: strings.Replace(valid, "aW5jLTc", "aW5jLTg", 1), to: alicePhone, digits: "1", status: 200,
			answer: "cannot be answered by keypress"},
		{name: "no token", token: "", to: alicePhone, digits: "1", status: 200, answer: "cannot be answered by keypress"},
		{name: "expired token", token: sign("inc-7", uid7, "alice", now), to: alicePhone, digits: "1", status: 200, answer: "expired"},
		{name: "incident number reused (other UID)", token: sign("inc-7", "ffff", "alice", now.Add(time.Hour)), to: alicePhone,
			digits: "1", status: 200, answer: "no longer exists"},
		{name: "incident gone", token: sign("inc-77", uid7, "alice", now.Add(time.Hour)), to: alicePhone, digits: "1", status: 200,
			answer: "no longer exists"},
		{name: "resolved", token: sign("inc-5", "00000000000000000000000000000005", "alice", now.Add(time.Hour)), to: alicePhone,
			digits: "2", status: 200, answer: "inc-5 is already resolved; nothing changed."},
		{name: "forged", token: valid, to: alicePhone, digits: "1", sig: "bm90IGEgc2lnbmF0dXJl", status: http.StatusForbidden},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			form := url.Values{"CallSid": {"CA1"}, "AccountSid": {"AC1"}, "From": {"+15559999999"}, "To": {tt.to}, "Called": {tt.to},
				"Digits": {tt.digits}, "CallStatus": {"in-progress"}, "Direction": {"outbound-api"}}
			w := e.twilioPost(t, PathVoice+"?"+url.Values{"t": {tt.token}}.Encode(), form, tt.sig)
			if w.Code != tt.status {
				t.Fatalf("status %d, want %d: %s", w.Code, tt.status, w.Body)
			}
			if got := e.f.done(); !slices.Equal(got, tt.want) {
				t.Errorf("acts %+v, want %+v", got, tt.want)
			}
			if tt.status == 200 {
				if ans := twimlText(t, w); !strings.Contains(ans, tt.answer) {
					t.Errorf("answer %q, want %q", ans, tt.answer)
				}
			}
		})
	}
}

// TestTwilioBehindPrefix: an external URL with a path is what Twilio
// signs, whether or not the proxy strips the prefix.
func TestTwilioBehindPrefix(t *testing.T) {
	e := newEnv(t)
	h := New(Options{Pager: e.f, Act: e.f.act, ExternalURL: "https://example.org/watchdog", Twilio: e.twilio()})
	for _, path := range []string{PathSMS, "/watchdog" + PathSMS} {
		form := url.Values{"From": {bobPhone}, "Body": {"1"}}
		r := newTwilioRequest(path, form, channelSig("https://example.org/watchdog"+PathSMS, form))
		w := newRecorder()
		h.serveSMS(w, r)
		if w.Code != 200 || !strings.Contains(w.Body.String(), "Acknowledged inc-8 as bob.") {
			t.Errorf("%s: %d %s", path, w.Code, w.Body)
		}
	}
}
