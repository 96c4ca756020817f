package channel

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Errors of inbound webhook verification.
var (
	// ErrForged means a webhook's signature does not match its content.
	ErrForged = errors.New("signature invalid")
	// ErrReplayed means a signed webhook is too old (or from the future)
	// to be accepted: a recorded request sent again.
	ErrReplayed = errors.New("request timestamp outside the accepted window")
)

// TwilioSignature computes X-Twilio-Signature as Twilio documents it: the
// full URL the request was sent to, followed by every POST parameter's
// name and value sorted by name (a repeated name once per value, values
// in order), HMAC-SHA1 with the account auth token, base64.
func TwilioSignature(authToken, fullURL string, form url.Values) string {
	var b strings.Builder
	b.WriteString(fullURL)
	keys := make([]string, 0, len(form))
	for k := range form {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		vs := slices.Clone(form[k])
		slices.Sort(vs)
		for _, v := range vs {
			b.WriteString(k)
			b.WriteString(v)
		}
	}
	mac := hmac.New(sha1.New, []byte(authToken))
	mac.Write([]byte(b.String()))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// VerifyWebhook checks X-Twilio-Signature sig of a POST to fullURL (the
// public URL Twilio was configured with, query included) with form
// parameters form: nil or ErrForged.
func (t *Twilio) VerifyWebhook(fullURL string, form url.Values, sig string) error {
	if t.o.WebhookAuthToken == "" || sig == "" {
		return ErrForged
	}
	if !hmac.Equal([]byte(sig), []byte(TwilioSignature(t.o.WebhookAuthToken, fullURL, form))) {
		return ErrForged
	}
	return nil
}

// Replies reports whether the channel takes replies (TwilioOptions.Replies).
func (t *Twilio) Replies() bool { return t.o.Replies }

// Mode is TwilioSMS or TwilioVoice.
func (t *Twilio) Mode() string { return t.o.Mode }

// SlackMaxSkew is how far a Slack request's X-Slack-Request-Timestamp may
// be from now: older requests are replays, as Slack recommends.
const SlackMaxSkew = 5 * time.Minute

// SlackSignature computes X-Slack-Signature as Slack documents it:
// "v0=" + hex HMAC-SHA256 of "v0:" + timestamp + ":" + body with the
// app's signing secret.
func SlackSignature(secret, timestamp string, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte("v0:" + timestamp + ":"))
	mac.Write(body)
	return "v0=" + hex.EncodeToString(mac.Sum(nil))
}

// VerifyInteraction checks a Slack request: its signature sig over body
// at timestamp ts (ErrForged) and that ts is within SlackMaxSkew of now
// (ErrReplayed). A channel without a signing secret refuses everything.
func (s *Slack) VerifyInteraction(ts, sig string, body []byte, now time.Time) error {
	if s.o.SigningSecret == "" || sig == "" || len(ts) > 20 {
		return ErrForged
	}
	if !hmac.Equal([]byte(sig), []byte(SlackSignature(s.o.SigningSecret, ts, body))) {
		return ErrForged
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return ErrForged
	}
	if d := now.Sub(time.Unix(sec, 0)); d > SlackMaxSkew || d < -SlackMaxSkew {
		return ErrReplayed
	}
	return nil
}

// Interactive reports whether the channel's messages carry action buttons
// (a signing secret is configured).
func (s *Slack) Interactive() bool { return s.o.SigningSecret != "" }

// ResponseURLAllowed reports whether u may be posted to as an
// interaction's response_url: an https URL under ResponseURLPrefix
// (default https://hooks.slack.com/).
func (s *Slack) ResponseURLAllowed(u string) bool {
	p, err := url.Parse(u)
	if err != nil || p.User != nil || len(u) > 2000 {
		return false
	}
	return strings.HasPrefix(u, orDefault(s.o.ResponseURLPrefix, "https://hooks.slack.com/"))
}
