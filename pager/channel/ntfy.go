package channel

import (
	"context"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// NtfyOptions configure the ntfy push channel.
type NtfyOptions struct {
	// Name of the channel (default "ntfy").
	Name string `yaml:"name"`
	// BaseURL defaults to https://ntfy.sh.
	BaseURL string `yaml:"base_url"`
	// Topic is used when Message.Recipient.Address is empty.
	Topic string `yaml:"topic"`
	// Token, if set, is sent as "Authorization: Bearer <token>". Secret.
	Token string `yaml:"token"`
	// AckMethod is the HTTP method of the Acknowledge action button
	// (default "POST"; the ack link must accept it).
	AckMethod string      `yaml:"ack_method"`
	HTTP      HTTPOptions `yaml:",inline"`
}

// Ntfy publishes a push notification to an ntfy topic.
type Ntfy struct{ o NtfyOptions }

// maxNtfyBody keeps messages under ntfy's 4096-byte limit, beyond which the
// server turns the body into an attachment.
const maxNtfyBody = 4000

// NewNtfy validates o and returns the channel.
func NewNtfy(o NtfyOptions) (*Ntfy, error) {
	o.Name = orDefault(o.Name, "ntfy")
	o.BaseURL = strings.TrimRight(orDefault(o.BaseURL, "https://ntfy.sh"), "/")
	o.AckMethod = strings.ToUpper(orDefault(o.AckMethod, http.MethodPost))
	switch o.AckMethod {
	case http.MethodGet, http.MethodPost, http.MethodPut:
	default:
		return nil, fmt.Errorf("%w: ntfy: ack_method %q", ErrInvalidConfig, o.AckMethod)
	}
	if _, err := url.Parse(o.BaseURL); err != nil {
		return nil, fmt.Errorf("%w: ntfy: base_url: %v", ErrInvalidConfig, err)
	}
	return &Ntfy{o: o}, nil
}

// Name implements Channel.
func (n *Ntfy) Name() string { return n.o.Name }

// Send implements Channel.
func (n *Ntfy) Send(ctx context.Context, m Message) (bool, error) {
	if err := m.Validate(); err != nil {
		return false, err
	}
	topic := strings.Trim(strings.TrimSpace(orDefault(m.Recipient.Address, n.o.Topic)), "/")
	if topic == "" {
		return false, fmt.Errorf("%w: ntfy: no topic for %q", ErrNoRecipient, m.Recipient.Name)
	}
	body := pushBody(m)
	ack := ""
	if m.Event == EventTrigger {
		ack = httpURL(m.AckURL)
	}
	if ack != "" {
		body += "\n\nAcknowledge: " + ack
	}
	h := http.Header{}
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("Title", headerText(pushTitle(m), 250))
	h.Set("Priority", strconv.Itoa(ntfyPriority(m)))
	h.Set("Tags", ntfyTags(m))
	if ack != "" {
		h.Set("Click", ack)
		h.Set("Actions", fmt.Sprintf(`http, Acknowledge, "%s", method=%s, clear=true`, strings.ReplaceAll(ack, `"`, "%22"), n.o.AckMethod))
	} else if u := httpURL(m.runbookURL()); u != "" {
		h.Set("Click", u)
	}
	if n.o.Token != "" {
		h.Set("Authorization", "Bearer "+n.o.Token)
	}
	req := httpRequest{
		method:  http.MethodPost,
		url:     n.o.BaseURL + "/" + url.PathEscape(topic),
		header:  h,
		body:    []byte(truncate(body, maxNtfyBody)),
		secrets: []string{n.o.Token},
	}
	return n.o.HTTP.do(ctx, req)
}

// pushTitle is the notification's title: the event and the headline.
func pushTitle(m Message) string {
	return fmt.Sprintf("[%s] %s", eventTag(m.Event), orDefault(m.headline(), "(untitled)"))
}

// pushBody says what the title does not: the severity and the incident
// (the acknowledge link follows).
func pushBody(m Message) string {
	var parts []string
	if m.Severity != "" {
		parts = append(parts, "Severity "+oneLine(m.Severity))
	}
	if m.IncidentID != "" {
		parts = append(parts, "incident "+oneLine(m.IncidentID))
	}
	if len(parts) == 0 {
		return orDefault(m.headline(), "(untitled)")
	}
	return strings.Join(parts, ", ")
}

// ntfyPriority maps severity to ntfy's 1 (min) … 5 (urgent). Follow-ups
// (acknowledge, resolve) are low priority so they do not buzz loudly.
func ntfyPriority(m Message) int {
	if m.Event != EventTrigger || m.Urgency == "low" {
		return 2
	}
	switch normSeverity(m.Severity, "") {
	case "critical":
		return 5
	case "error":
		return 4
	case "info":
		return 2
	}
	return 3
}

// ntfyTags are comma-separated; ntfy renders known names as emoji.
func ntfyTags(m Message) string {
	tags := map[string]string{EventTrigger: "rotating_light", EventAcknowledge: "eyes", EventResolve: "white_check_mark"}[m.Event]
	if s := normSeverity(m.Severity, ""); s != "" {
		tags += "," + s
	}
	return tags
}

// headerText makes s safe as an HTTP header value: one line, at most n
// bytes, RFC 2047-encoded when it is not plain ASCII (ntfy decodes it).
func headerText(s string, n int) string {
	s = truncate(strings.TrimSpace(oneLine(s)), n)
	return mime.BEncoding.Encode("utf-8", s)
}
