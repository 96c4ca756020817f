package channel

import (
	"encoding/xml"
	"errors"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestTwilioSignatureKnownVector checks the algorithm against the example
// of Twilio's webhook security documentation.
func TestTwilioSignatureKnownVector(t *testing.T) {
	form := url.Values{
		"CallSid": {"CA1234567890ABCDE"},
		"Caller":  {"+14158675309"},
		"Digits":  {"1234"},
		"From":    {"+14158675309"},
		"To":      {"+18005551212"},
	}
	got := TwilioSignature("12345", "https://mycompany.com/myapp.php?foo=1&bar=2", form)
	wantEq(t, "signature", got, "RSOYDt4T1cUTdK1PDd93/VVr8B8=")
}

// TestSlackSignatureKnownVector checks the algorithm against the example
// of Slack's "Verifying requests from Slack" documentation.
func TestSlackSignatureKnownVector(t *testing.T) {
	body := "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c"
	got := SlackSignature("8f742231b10e8888abcd99yyyzzz85a5", "1531420618", []byte(body))
	wantEq(t, "signature", got, "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503")
}

func TestTwilioVerifyWebhook(t *testing.T) {
	const u = "https://watchdog.example/api/v1/pager/inbound/twilio/sms"
	form := url.Values{"From": {"+15557654321"}, "Body": {"ack 7"}, "MessageSid": {"SM1"}}
	good := TwilioSignature("tok", u, form)
	tests := []struct {
		name     string
		opts     TwilioOptions
		url, sig string
		form     url.Values
		ok       bool
	}{
		{"valid", TwilioOptions{}, u, good, form, true},
		{"changed body", TwilioOptions{}, u, good, url.Values{"From": {"+15557654321"}, "Body": {"res 7"}, "MessageSid": {"SM1"}}, false},
		{"other url", TwilioOptions{}, u + "?x=1", good, form, false},
		{"other token", TwilioOptions{}, u, TwilioSignature("other", u, form), form, false},
		{"no signature", TwilioOptions{}, u, "", form, false},
		{"api key without webhook token", TwilioOptions{APIKeySID: "SK1"}, u, good, form, false},
		{"webhook token", TwilioOptions{APIKeySID: "SK1", WebhookAuthToken: "tok"}, u, good, form, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := tt.opts
			o.AccountSID, o.AuthToken, o.From = "AC1", "tok", "+15550001111"
			if o.APIKeySID != "" {
				o.AuthToken = "keysecret"
			}
			ch, err := NewTwilio(o)
			if err != nil {
				t.Fatal(err)
			}
			err = ch.VerifyWebhook(tt.url, tt.form, tt.sig)
			if (err == nil) != tt.ok || (err != nil && !errors.Is(err, ErrForged)) {
				t.Errorf("VerifyWebhook = %v, want ok=%v", err, tt.ok)
			}
		})
	}
}

func TestTwilioRepliesNeedWebhookToken(t *testing.T) {
	_, err := NewTwilio(TwilioOptions{AccountSID: "AC1", AuthToken: "s", APIKeySID: "SK1", From: "+1555", Replies: true})
	if !errors.Is(err, ErrInvalidConfig) {
		t.Errorf("err = %v, want ErrInvalidConfig", err)
	}
}

func TestSlackVerifyInteraction(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	body := []byte("payload=%7B%7D")
	ts := strconv.FormatInt(now.Unix(), 10)
	sign := func(ts string) string { return SlackSignature("sec", ts, body) }
	old := strconv.FormatInt(now.Add(-6*time.Minute).Unix(), 10)
	future := strconv.FormatInt(now.Add(6*time.Minute).Unix(), 10)
	tests := []struct {
		name, secret, ts, sig string
		body                  []byte
		want                  error
	}{
		{"valid", "sec", ts, sign(ts), body, nil},
		{"valid 4m old", "sec", strconv.FormatInt(now.Add(-4*time.Minute).Unix(), 10), sign(strconv.FormatInt(now.Add(-4*time.Minute).Unix(), 10)), body, nil},
		{"replayed", "sec", old, sign(old), body, ErrReplayed},
		{"from the future", "sec", future, sign(future), body, ErrReplayed},
		{"forged body", "sec", ts, sign(ts), []byte("payload=%7B%22x%22%7D"), ErrForged},
		{"timestamp changed", "sec", old, sign(ts), body, ErrForged},
		{"wrong secret", "other", ts, sign(ts), body, ErrForged},
		{"no signature", "sec", ts, "", body, ErrForged},
		{"not a number", "sec", "abc", sign("abc"), body, ErrForged},
		{"no signing secret", "", ts, SlackSignature("", ts, body), body, ErrForged},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _ := NewSlack(SlackOptions{WebhookURL: "https://hooks.slack.com/services/x", SigningSecret: tt.secret})
			err := s.VerifyInteraction(tt.ts, tt.sig, tt.body, now)
			if !errors.Is(err, tt.want) || (tt.want == nil && err != nil) {
				t.Errorf("VerifyInteraction = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestSlackResponseURLAllowed(t *testing.T) {
	s, _ := NewSlack(SlackOptions{WebhookURL: "https://hooks.slack.com/services/x"})
	for u, want := range map[string]bool{
		"https://hooks.slack.com/actions/T1/2/abc": true,
		"https://hooks.slack.com.evil.example/x":   false,
		"http://hooks.slack.com/actions/T1/2/abc":  false,
		"https://user@hooks.slack.com/actions/x":   false,
		"http://169.254.169.254/latest/meta-data":  false,
		"": false,
		"https://hooks.slack.com/" + strings.Repeat("a", 3000): false,
	} {
		if got := s.ResponseURLAllowed(u); got != want {
			t.Errorf("ResponseURLAllowed(%.60q) = %v, want %v", u, got, want)
		}
	}
}

func TestReplyCode(t *testing.T) {
	for id, want := range map[string]string{"inc-7": "7", "inc-4821": "4821", "inc-": "", "inc-x7": "", "7": "7", "": "", "inc-1234567890123": ""} {
		wantEq(t, "ReplyCode("+id+")", ReplyCode(id), want)
	}
}

// TestTwilioRepliesOutgoing: with replies on, a text tells how to answer
// and a call gathers one digit with the signed token in the action URL.
func TestTwilioRepliesOutgoing(t *testing.T) {
	m := sampleMessage()
	m.IncidentID = "inc-4821"
	m.ExternalURL = "https://watchdog.example/"
	m.ReplyToken = "a2.tok&x"
	m.Recipient = Contact{Name: "alice", Address: "+15557654321"}

	sms, _ := NewTwilio(TwilioOptions{AccountSID: "AC1", AuthToken: "t", From: "+1555", Replies: true})
	body := smsBody(m, sms.o.Replies)
	if !strings.HasSuffix(body, "Reply 1 or ACK 4821 to acknowledge, 2 or ESC 4821 to escalate, RES 4821 to resolve.") {
		t.Errorf("sms body = %q", body)
	}
	m.Event = EventResolve
	if b := smsBody(m, true); strings.Contains(b, "Reply") {
		t.Errorf("resolve text asks for a reply: %q", b)
	}
	m.Event = EventTrigger

	voice, _ := NewTwilio(TwilioOptions{Mode: TwilioVoice, AccountSID: "AC1", AuthToken: "t", From: "+1555", Replies: true})
	tw := voice.twiml(m, voice.voiceAction(m))
	var doc struct {
		Gather struct {
			NumDigits string   `xml:"numDigits,attr"`
			Action    string   `xml:"action,attr"`
			Method    string   `xml:"method,attr"`
			Say       []string `xml:"Say"`
		} `xml:"Gather"`
		Say []string `xml:"Say"`
	}
	if err := xml.Unmarshal([]byte(tw), &doc); err != nil {
		t.Fatalf("twiml %q: %v", tw, err)
	}
	wantEq(t, "numDigits", doc.Gather.NumDigits, "1")
	wantEq(t, "method", doc.Gather.Method, "POST")
	wantEq(t, "action", doc.Gather.Action, "https://watchdog.example/api/v1/pager/inbound/twilio/voice?t=a2.tok%26x")
	if len(doc.Gather.Say) != 2 || !strings.HasPrefix(doc.Gather.Say[0], "Watchdog page. LoginErrorSpike") ||
		doc.Gather.Say[1] != "Press 1 to acknowledge, 2 to escalate." {
		t.Errorf("gather says %q", doc.Gather.Say)
	}

	plain, _ := NewTwilio(TwilioOptions{Mode: TwilioVoice, AccountSID: "AC1", AuthToken: "t", From: "+1555"})
	if a := plain.voiceAction(m); a != "" {
		t.Errorf("replies off: action %q", a)
	}
	if tw := plain.twiml(m, ""); strings.Contains(tw, "Gather") {
		t.Errorf("replies off: %q", tw)
	}
}

// TestSlackInteractiveButtons: with a signing secret, a trigger carries
// the three action buttons with the incident ID; other events none.
func TestSlackInteractiveButtons(t *testing.T) {
	m := sampleMessage()
	p := buildSlack(m, true)
	var acts []slackElement
	for _, b := range p.Blocks {
		if b.Type == "actions" {
			acts = b.Elements
		}
	}
	if len(acts) != 4 || acts[3].ActionID != "runbook" {
		t.Fatalf("actions = %+v", acts)
	}
	for i, id := range []string{SlackActionAck, SlackActionResolve, SlackActionEscalate} {
		wantEq(t, "action_id", acts[i].ActionID, id)
		wantEq(t, "value", acts[i].Value, "inc-42")
		wantEq(t, "url", acts[i].URL, "")
	}
	m.Event = EventResolve
	for _, b := range buildSlack(m, true).Blocks {
		if b.Type == "actions" {
			for _, e := range b.Elements {
				if e.Value != "" {
					t.Errorf("resolve message has button %+v", e)
				}
			}
		}
	}
}
