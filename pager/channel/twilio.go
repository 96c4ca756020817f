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
	Voice string      `yaml:"voice"`
	HTTP  HTTPOptions `yaml:",inline"`
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
		form.Set("Twiml", t.twiml(m))
	} else {
		form.Set("Body", smsBody(m))
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
// intact when the text must be cut.
func smsBody(m Message) string {
	tail := ""
	if m.Event == EventTrigger {
		if u := httpURL(m.AckURL); u != "" {
			tail = " Ack: " + u
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

// voiceText is what a call says: the headline once, then the severity.
func voiceText(m Message) string {
	text := "Watchdog page. " + strings.TrimSuffix(orDefault(m.headline(), "untitled alert"), ".") + "."
	if m.Severity != "" {
		text += " Severity " + m.Severity + "."
	}
	return text
}

// twiml renders <Response><Say>…</Say></Response> with the text escaped.
func (t *Twilio) twiml(m Message) string {
	text := voiceText(m)
	text = truncateRunes(strings.TrimSpace(oneLine(text)), 1000)
	var b strings.Builder
	b.WriteString("<Response><Say")
	if t.o.Voice != "" {
		b.WriteString(` voice="`)
		_ = xml.EscapeText(&b, []byte(t.o.Voice))
		b.WriteString(`"`)
	}
	b.WriteString(">")
	_ = xml.EscapeText(&b, []byte(text))
	b.WriteString("</Say></Response>")
	return b.String()
}
