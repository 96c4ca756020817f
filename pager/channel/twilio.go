package channel

import (
	"context"
	"encoding/xml"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// Twilio modes.
const (
	TwilioSMS   = "sms"
	TwilioVoice = "voice"
)

// TwilioOptions configure the Twilio SMS / voice channel.
type TwilioOptions struct {
	// Name of the channel (default "twilio-sms" or "twilio-voice").
	Name string `yaml:"name"`
	// Mode is "sms" (default) or "voice".
	Mode string `yaml:"mode"`
	// AccountSID appears in the URL and, unless APIKeySID is set, is the
	// basic-auth user. Required.
	AccountSID string `yaml:"account_sid"`
	// AuthToken is the basic-auth password (the account auth token or the
	// API key secret). Required; secret.
	AuthToken string `yaml:"auth_token"`
	// APIKeySID, if set, is the basic-auth user instead of AccountSID.
	APIKeySID string `yaml:"api_key_sid"`
	// From is the sending Twilio number in E.164 form. Required.
	From string `yaml:"from"`
	// To is used when Message.Recipient.Address is empty.
	To string `yaml:"to"`
	// BaseURL defaults to https://api.twilio.com.
	BaseURL string `yaml:"base_url"`
	// Voice is the <Say> voice attribute (optional, e.g. "alice").
	Voice string `yaml:"voice"`
	// Replies turns on two-way paging: texts say how to reply ("1" or
	// "ACK 7" to acknowledge, …) and calls ask for a keypress (<Gather>).
	// Twilio's inbound webhooks must then point at the watchdog (see
	// README, "Acknowledging by SMS, voice and Slack").
	Replies bool `yaml:"replies"`
	// WebhookAuthToken is the account auth token that signs Twilio's
	// webhook requests (X-Twilio-Signature). Default AuthToken, which is
	// that token unless APIKeySID is set. Secret.
	WebhookAuthToken string      `yaml:"webhook_auth_token"`
	HTTP             HTTPOptions `yaml:",inline"`
}

// Twilio sends SMS through Messages.json or places calls through Calls.json.
// Voice mode calls only for trigger events; acknowledge and resolve are
// skipped (nobody wants a phone call saying an alert resolved).
type Twilio struct{ o TwilioOptions }

// maxSMSBody is Twilio's limit for a message body (characters).
const maxSMSBody = 1600

// NewTwilio validates o and returns the channel.
func NewTwilio(o TwilioOptions) (*Twilio, error) {
	o.Mode = orDefault(strings.ToLower(o.Mode), TwilioSMS)
	switch {
	case o.Mode != TwilioSMS && o.Mode != TwilioVoice:
		return nil, fmt.Errorf("%w: twilio: mode %q is not sms or voice", ErrInvalidConfig, o.Mode)
	case o.AccountSID == "" || o.AuthToken == "":
		return nil, fmt.Errorf("%w: twilio: account_sid and auth_token are required", ErrInvalidConfig)
	case o.From == "":
		return nil, fmt.Errorf("%w: twilio: from is required", ErrInvalidConfig)
	}
	o.Name = orDefault(o.Name, "twilio-"+o.Mode)
	o.BaseURL = strings.TrimRight(orDefault(o.BaseURL, "https://api.twilio.com"), "/")
	if o.WebhookAuthToken == "" && o.APIKeySID == "" {
		o.WebhookAuthToken = o.AuthToken
	}
	if o.Replies && o.WebhookAuthToken == "" {
		return nil, fmt.Errorf("%w: twilio: replies with api_key_sid need webhook_auth_token (the account auth token)", ErrInvalidConfig)
	}
	return &Twilio{o: o}, nil
}

// Name implements Channel.
func (t *Twilio) Name() string { return t.o.Name }

// Send implements Channel. Twilio answers 201 Created on success.
func (t *Twilio) Send(ctx context.Context, m Message) (bool, error) {
	if err := m.Validate(); err != nil {
		return false, err
	}
	if t.o.Mode == TwilioVoice && m.Event != EventTrigger {
		return false, nil
	}
	to := strings.TrimSpace(orDefault(m.Recipient.Address, t.o.To))
	if to == "" {
		return false, fmt.Errorf("%w: twilio: no phone number for %q", ErrNoRecipient, m.Recipient.Name)
	}
	form := url.Values{"To": {to}, "From": {t.o.From}}
	resource := "Messages.json"
	if t.o.Mode == TwilioVoice {
		resource = "Calls.json"
		form.Set("Twiml", t.twiml(m, t.voiceAction(m)))
	} else {
		form.Set("Body", smsBody(m, t.o.Replies))
	}
	h := http.Header{}
	h.Set("Content-Type", "application/x-www-form-urlencoded")
	user := orDefault(t.o.APIKeySID, t.o.AccountSID)
	req := httpRequest{
		method:  http.MethodPost,
		url:     t.o.BaseURL + "/2010-04-01/Accounts/" + url.PathEscape(t.o.AccountSID) + "/" + resource,
		header:  h,
		body:    []byte(form.Encode()),
		user:    user,
		pass:    t.o.AuthToken,
		secrets: []string{t.o.AuthToken},
	}
	return t.o.HTTP.do(ctx, req)
}

// smsBody is "[TRIGGER] headline (severity) Ack: URL", keeping the link
// intact when the text must be cut. With replies, a trigger ends with
// how to answer by text, naming the incident's reply code.
func smsBody(m Message, replies bool) string {
	tail := ""
	if m.Event == EventTrigger {
		if u := httpURL(m.AckURL); u != "" {
			tail = " Ack: " + u
		}
		if code := ReplyCode(m.IncidentID); replies && code != "" {
			tail += fmt.Sprintf(" Reply 1 or ACK %s to acknowledge, 2 or ESC %s to escalate, RES %s to resolve.", code, code, code)
		}
	}
	head := fmt.Sprintf("[%s] %s", eventTag(m.Event), oneLine(orDefault(m.headline(), "(untitled)")))
	if m.Severity != "" {
		head += " (" + oneLine(m.Severity) + ")"
	}
	room := maxSMSBody - len([]rune(tail))
	if room < 20 { // an absurdly long link: drop it rather than the alert
		tail, room = "", maxSMSBody
	}
	return truncateRunes(head, room) + tail
}

// VoicePath is the path, under the external URL, of the <Gather> action
// of calls placed with replies on.
const VoicePath = "/api/v1/pager/inbound/twilio/voice"

// voiceAction returns the <Gather> action URL of a call for m, or "" when
// the call takes no keypress (replies off, no token or external URL).
func (t *Twilio) voiceAction(m Message) string {
	base := httpURL(m.ExternalURL)
	if !t.o.Replies || base == "" || m.ReplyToken == "" {
		return ""
	}
	return strings.TrimSuffix(base, "/") + VoicePath + "?" + url.Values{"t": {m.ReplyToken}}.Encode()
}

// twiml renders <Response><Say>…</Say></Response> with the text escaped.
// With an action URL the page is said inside <Gather numDigits="1">,
// followed by the keys to press; the call says the page once more if
// nothing is pressed.
func (t *Twilio) twiml(m Message, action string) string {
	text := fmt.Sprintf("Watchdog page. %s. Severity %s. %s",
		orDefault(m.Title, "untitled alert"), orDefault(m.Severity, "unknown"), m.Summary)
	text = truncateRunes(strings.TrimSpace(oneLine(text)), 1000)
	var b strings.Builder
	b.WriteString("<Response>")
	if action != "" {
		b.WriteString(`<Gather numDigits="1" timeout="10" method="POST" action="`)
		_ = xml.EscapeText(&b, []byte(action))
		b.WriteString(`">`)
	}
	t.say(&b, text)
	if action != "" {
		t.say(&b, "Press 1 to acknowledge, 2 to escalate.")
		b.WriteString("</Gather>")
		t.say(&b, "No key pressed. Goodbye.")
	}
	b.WriteString("</Response>")
	return b.String()
}

// say writes one escaped <Say> element.
func (t *Twilio) say(b *strings.Builder, text string) {
	b.WriteString("<Say")
	if t.o.Voice != "" {
		b.WriteString(` voice="`)
		_ = xml.EscapeText(b, []byte(t.o.Voice))
		b.WriteString(`"`)
	}
	b.WriteString(">")
	_ = xml.EscapeText(b, []byte(text))
	b.WriteString("</Say>")
}

// ReplyCode is the short code replies use for an incident: the number of
// "inc-7" ("7"), or "" for an ID without a trailing number.
func ReplyCode(incidentID string) string {
	i := strings.LastIndexByte(incidentID, '-')
	code := incidentID[i+1:]
	if code == "" || len(code) > 12 || strings.Trim(code, "0123456789") != "" {
		return ""
	}
	return code
}
