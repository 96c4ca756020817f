package channel

import (
	"context"
	"fmt"
	"net/url"
	"strings"
)

// SlackOptions configure the Slack incoming-webhook channel.
type SlackOptions struct {
	// Name of the channel (default "slack").
	Name string `yaml:"name"`
	// WebhookURL is the incoming webhook (https://hooks.slack.com/services/…).
	// Required. It is a secret and never appears in errors.
	WebhookURL string `yaml:"webhook_url"`
	// Channel, Username and IconEmoji override the webhook's defaults where
	// Slack still allows it (legacy webhooks); empty fields are omitted.
	Channel   string `yaml:"channel"`
	Username  string `yaml:"username"`
	IconEmoji string `yaml:"icon_emoji"`
	// SigningSecret is the Slack app's signing secret. When set, trigger
	// messages carry Acknowledge / Resolve / Escalate buttons whose
	// clicks Slack posts to the watchdog's interactivity endpoint, signed
	// with it. Secret.
	SigningSecret string `yaml:"signing_secret"`
	// ResponseURLPrefix bounds where the message is updated after a click:
	// only response_url values starting with it are posted to (default
	// https://hooks.slack.com/).
	ResponseURLPrefix string      `yaml:"response_url_prefix"`
	HTTP              HTTPOptions `yaml:",inline"`
}

// Slack posts Block Kit messages to an incoming webhook.
type Slack struct{ o SlackOptions }

// NewSlack validates o and returns the channel.
func NewSlack(o SlackOptions) (*Slack, error) {
	if o.WebhookURL == "" {
		return nil, fmt.Errorf("%w: slack: webhook_url is required", ErrInvalidConfig)
	}
	o.Name = orDefault(o.Name, "slack")
	return &Slack{o: o}, nil
}

// Name implements Channel.
func (s *Slack) Name() string { return s.o.Name }

// slackText is a Block Kit text object.
type slackText struct {
	Type string `json:"type"` // plain_text | mrkdwn
	Text string `json:"text"`
}

// slackElement is a button or a context text element.
type slackElement struct {
	Type     string `json:"type"`
	Text     any    `json:"text,omitempty"`
	URL      string `json:"url,omitempty"`
	ActionID string `json:"action_id,omitempty"`
	Value    string `json:"value,omitempty"`
	Style    string `json:"style,omitempty"`
}

type slackBlock struct {
	Type     string         `json:"type"`
	Text     *slackText     `json:"text,omitempty"`
	Fields   []slackText    `json:"fields,omitempty"`
	Elements []slackElement `json:"elements,omitempty"`
}

// SlackPayload is the JSON posted to the incoming webhook.
type SlackPayload struct {
	Text      string       `json:"text"`
	Blocks    []slackBlock `json:"blocks"`
	Channel   string       `json:"channel,omitempty"`
	Username  string       `json:"username,omitempty"`
	IconEmoji string       `json:"icon_emoji,omitempty"`
}

// Send implements Channel.
func (s *Slack) Send(ctx context.Context, m Message) (bool, error) {
	if err := m.Validate(); err != nil {
		return false, err
	}
	p := buildSlack(m, s.o.SigningSecret != "")
	p.Channel, p.Username, p.IconEmoji = s.o.Channel, s.o.Username, s.o.IconEmoji
	req, err := jsonRequest(s.o.WebhookURL, p)
	if err != nil {
		return false, err
	}
	req.secrets = []string{s.o.WebhookURL}
	return s.o.HTTP.do(ctx, req)
}

var slackEmoji = map[string]string{
	EventTrigger:     ":rotating_light:",
	EventAcknowledge: ":eyes:",
	EventResolve:     ":white_check_mark:",
}

// Slack action IDs of the interactive buttons; their value is the
// incident ID.
const (
	SlackActionAck      = "incident_ack"
	SlackActionResolve  = "incident_resolve"
	SlackActionEscalate = "incident_escalate"
)

// buildSlack renders m: a header, the summary with severity and labels, an
// Acknowledge button (trigger only) and a Runbook button, and a plain-text
// fallback that carries the same links. Interactive messages have
// Acknowledge / Resolve / Escalate action buttons instead of the link.
func buildSlack(m Message, interactive bool) SlackPayload {
	title := fmt.Sprintf("[%s] %s", eventTag(m.Event), orDefault(m.Title, "(untitled)"))
	ack := ""
	if m.Event == EventTrigger {
		ack = httpURL(m.AckURL)
	}
	runbook := httpURL(m.runbookURL())

	var text strings.Builder
	fmt.Fprintf(&text, "%s %s", slackEmoji[m.Event], slackEscape(title))
	if m.Summary != "" {
		text.WriteString(" — " + slackEscape(m.Summary))
	}
	if ack != "" {
		fmt.Fprintf(&text, " <%s|Acknowledge>", slackURL(ack))
	}
	if runbook != "" {
		fmt.Fprintf(&text, " <%s|Runbook>", slackURL(runbook))
	}

	var body strings.Builder
	body.WriteString(slackEscape(orDefault(m.Summary, m.Title)))
	if len(m.Labels) > 0 {
		body.WriteString("\n")
		for _, k := range sortedKeys(m.Labels) {
			fmt.Fprintf(&body, "`%s=%s` ", slackEscape(strings.ReplaceAll(k, "`", "'")), slackEscape(strings.ReplaceAll(m.Labels[k], "`", "'")))
		}
	}
	blocks := []slackBlock{
		{Type: "header", Text: &slackText{Type: "plain_text", Text: truncateRunes(oneLine(title), 150)}},
		{Type: "section", Text: &slackText{Type: "mrkdwn", Text: truncateRunes(body.String(), 3000)}, Fields: slackFields(m)},
	}
	var buttons []slackElement
	if interactive && m.Event == EventTrigger && m.IncidentID != "" {
		id := truncate(m.IncidentID, 2000)
		buttons = append(buttons,
			slackElement{Type: "button", Text: slackText{"plain_text", "Acknowledge"}, ActionID: SlackActionAck, Value: id, Style: "danger"},
			slackElement{Type: "button", Text: slackText{"plain_text", "Resolve"}, ActionID: SlackActionResolve, Value: id, Style: "primary"},
			slackElement{Type: "button", Text: slackText{"plain_text", "Escalate"}, ActionID: SlackActionEscalate, Value: id})
	} else if ack != "" {
		buttons = append(buttons, slackElement{Type: "button", Text: slackText{"plain_text", "Acknowledge"}, URL: ack, ActionID: "acknowledge", Style: "danger"})
	}
	if runbook != "" {
		buttons = append(buttons, slackElement{Type: "button", Text: slackText{"plain_text", "Runbook"}, URL: runbook, ActionID: "runbook"})
	}
	if len(buttons) > 0 {
		blocks = append(blocks, slackBlock{Type: "actions", Elements: buttons})
	}
	ctxText := "incident " + orDefault(m.IncidentID, m.dedupKey())
	if m.Source != "" {
		ctxText += " · source " + m.Source
	}
	if m.Recipient.Name != "" {
		ctxText += " · paging " + m.Recipient.Name
	}
	blocks = append(blocks, slackBlock{Type: "context", Elements: []slackElement{{Type: "mrkdwn", Text: truncateRunes(slackEscape(ctxText), 2000)}}})
	return SlackPayload{Text: truncateRunes(text.String(), 3000), Blocks: blocks}
}

func slackFields(m Message) []slackText {
	var f []slackText
	if m.Severity != "" {
		f = append(f, slackText{"mrkdwn", "*Severity*\n" + slackEscape(truncateRunes(m.Severity, 100))})
	}
	if m.Source != "" {
		f = append(f, slackText{"mrkdwn", "*Source*\n" + slackEscape(truncateRunes(m.Source, 500))})
	}
	if n := len(m.Alerts); n > 0 {
		f = append(f, slackText{"mrkdwn", fmt.Sprintf("*Alerts*\n%d", n)})
	}
	return f
}

// slackEscape escapes the three characters Slack mrkdwn treats as control.
func slackEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

// slackURL percent-encodes characters that would end a <url|label> link.
func slackURL(u string) string {
	return strings.NewReplacer("|", "%7C", ">", "%3E", "<", "%3C").Replace(u)
}

// httpURL returns u if it is an absolute http(s) URL of sane length, else "".
func httpURL(u string) string {
	if u == "" || len(u) > 3000 {
		return ""
	}
	p, err := url.Parse(u)
	if err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" {
		return ""
	}
	return u
}
