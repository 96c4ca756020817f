// Package channel delivers pages to people and systems: a console line, a
// generic Alertmanager-compatible webhook, Slack, PagerDuty, Opsgenie, e-mail,
// Twilio SMS/voice and ntfy push.
//
// The pager owns incidents, escalation and retries; a Channel only turns one
// Message into one outbound request. Every Send reports whether a failure is
// worth retrying (network errors, 429, 5xx) or final (bad config, other 4xx),
// in the style of Alertmanager's Notifier. SendWithRetry and Retrier wrap a
// Channel with capped exponential backoff that honours Retry-After.
//
// Secrets (API keys, tokens, passwords, secret webhook URLs) are passed in as
// plain strings by the config loader. They are never logged and never appear in
// returned errors.
package channel

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"
	"unicode/utf8"
)

// Event names carried in Message.Event.
const (
	EventTrigger     = "trigger"
	EventAcknowledge = "acknowledge"
	EventResolve     = "resolve"
)

// Alert statuses carried in Alert.Status.
const (
	StatusFiring   = "firing"
	StatusResolved = "resolved"
)

// Sentinel errors. Channels wrap them; callers test with errors.Is.
var (
	// ErrInvalidConfig means the channel's Options are unusable (a missing
	// routing key, URL, sender, ...). It is never retryable.
	ErrInvalidConfig = errors.New("invalid channel config")
	// ErrInvalidMessage means the Message cannot be delivered as given (an
	// unknown event, a missing dedup key). It is never retryable.
	ErrInvalidMessage = errors.New("invalid message")
	// ErrNoRecipient means neither Message.Recipient nor the Options name an
	// address, number or topic to deliver to.
	ErrNoRecipient = errors.New("no recipient")
	// ErrHTTPStatus is wrapped by *StatusError for every non-2xx response.
	ErrHTTPStatus = errors.New("unexpected http status")
)

// Contact is the person (or place) a page is addressed to.
type Contact struct {
	// Name is the user's name, e.g. "alice".
	Name string `yaml:"name" json:"name"`
	// Address is channel specific: an e-mail address, an E.164 phone
	// number, an ntfy topic. Channels fall back to their Options when empty.
	Address string `yaml:"address" json:"address"`
	// TimeZone is the IANA name of the recipient's time zone ("" if not
	// known): messages written for people show times in it too.
	TimeZone string `yaml:"time_zone,omitempty" json:"time_zone,omitempty"`
}

// Alert is one alert instance inside an incident.
type Alert struct {
	Labels       map[string]string
	Annotations  map[string]string
	StartsAt     time.Time
	EndsAt       time.Time
	GeneratorURL string
	// Status is StatusFiring or StatusResolved.
	Status string
}

// Message is what the pager hands a channel. It knows nothing about rules.
type Message struct {
	IncidentID string
	// DedupKey is stable for the life of an incident: follow-up events
	// (acknowledge, resolve) carry the same key as the trigger.
	DedupKey string
	// Key is the idempotency key of this one notification or forward: the
	// same on every retry and on a re-send after a restart, different for
	// every other page. Receivers can dedupe on it.
	Key string
	// Event is EventTrigger, EventAcknowledge or EventResolve.
	Event       string
	Title       string
	Summary     string
	Severity    string
	Source      string
	Labels      map[string]string
	Annotations map[string]string
	Alerts      []Alert
	// AckURL is a signed one-click acknowledge link.
	AckURL string
	// ReplyToken is the signed token of AckURL on its own: channels that
	// take replies (Twilio voice with replies on) put it in the URL their
	// provider calls back, so the reply names the incident and the user.
	ReplyToken  string
	Recipient   Contact
	ExternalURL string
	Time        time.Time
	GroupKey    string
	Receiver    string
}

// Channel delivers a Message. Send must be safe for concurrent use and must
// not retry by itself: retry reports whether the caller should try again.
type Channel interface {
	Name() string
	Send(ctx context.Context, m Message) (retry bool, err error)
}

// localTime returns t in the recipient's time zone, for people ("Fri 03:12
// CET"), or "" if the zone is not known.
func (m *Message) localTime(t time.Time) string {
	if m.Recipient.TimeZone == "" {
		return ""
	}
	loc, err := time.LoadLocation(m.Recipient.TimeZone)
	if err != nil {
		return ""
	}
	return t.In(loc).Format("Mon 15:04 MST")
}

// Validate reports whether m has the fields every channel relies on.
func (m *Message) Validate() error {
	switch m.Event {
	case EventTrigger, EventAcknowledge, EventResolve:
	default:
		return fmt.Errorf("%w: unknown event %q", ErrInvalidMessage, m.Event)
	}
	return nil
}

// dedupKey returns the incident's stable key, falling back to IncidentID.
func (m *Message) dedupKey() string {
	if m.DedupKey != "" {
		return m.DedupKey
	}
	return m.IncidentID
}

// headline is "Title: Summary", or whichever of the two is set.
func (m *Message) headline() string {
	switch {
	case m.Title == "":
		return m.Summary
	case m.Summary == "" || m.Summary == m.Title:
		return m.Title
	default:
		return m.Title + ": " + m.Summary
	}
}

// runbookURL returns the runbook_url annotation of the message or, failing
// that, of its first alert that has one.
func (m *Message) runbookURL() string {
	if u := m.Annotations["runbook_url"]; u != "" {
		return u
	}
	for _, a := range m.Alerts {
		if u := a.Annotations["runbook_url"]; u != "" {
			return u
		}
	}
	return ""
}

// eventTag is the upper-case event name used in human-readable text.
func eventTag(event string) string {
	return strings.ToUpper(event)
}

// normSeverity maps free-form severities onto critical, error, warning or
// info. Unknown or empty severities map to def.
func normSeverity(s, def string) string {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "critical", "crit", "page", "fatal", "emergency", "high", "p1":
		return "critical"
	case "error", "err", "major", "p2":
		return "error"
	case "warning", "warn", "minor", "medium", "p3":
		return "warning"
	case "info", "informational", "low", "none", "notice", "p4", "p5":
		return "info"
	}
	return def
}

// truncate cuts s to at most n bytes without splitting a UTF-8 sequence,
// ending with "…" when it had to cut. n <= 0 returns "".
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	if n <= 0 {
		return ""
	}
	const ell = "…"
	if n <= len(ell) {
		return cutRunes(s, n)
	}
	return cutRunes(s, n-len(ell)) + ell
}

// truncateRunes cuts s to at most n runes, ending with "…" when it cut.
func truncateRunes(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	if n <= 0 {
		return ""
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

// cutRunes returns the longest prefix of s of at most n bytes that ends on a
// rune boundary.
func cutRunes(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// sortedKeys returns the keys of m in order.
func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// oneLine replaces CR, LF and other control characters with spaces so a value
// can go into a header or a single log line.
func oneLine(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
}

// orDefault returns v unless it is empty.
func orDefault(v, def string) string {
	if v == "" {
		return def
	}
	return v
}
