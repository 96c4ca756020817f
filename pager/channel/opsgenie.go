package channel

import (
	"context"
	"fmt"
	"net/url"
	"strings"
)

// OpsgenieOptions configure the Opsgenie Alert API channel.
type OpsgenieOptions struct {
	// Name of the channel (default "opsgenie").
	Name string `yaml:"name"`
	// APIKey is an API integration key, sent as "GenieKey <key>". Required;
	// secret.
	APIKey string `yaml:"api_key"`
	// BaseURL defaults to https://api.opsgenie.com (EU: https://api.eu.opsgenie.com).
	BaseURL string `yaml:"base_url"`
	// Tags are added to every created alert.
	Tags []string `yaml:"tags"`
	// Priorities overrides the severity → P1…P5 mapping (keys lower-case).
	Priorities map[string]string `yaml:"priorities"`
	// User is the "user" shown as the actor of acknowledge/close (default
	// "Watchdog").
	User string      `yaml:"user"`
	HTTP HTTPOptions `yaml:",inline"`
}

// Opsgenie creates, acknowledges and closes Opsgenie alerts by alias.
type Opsgenie struct{ o OpsgenieOptions }

// NewOpsgenie validates o and returns the channel.
func NewOpsgenie(o OpsgenieOptions) (*Opsgenie, error) {
	if o.APIKey == "" {
		return nil, fmt.Errorf("%w: opsgenie: api_key is required", ErrInvalidConfig)
	}
	for k, v := range o.Priorities {
		if !validPriority(v) {
			return nil, fmt.Errorf("%w: opsgenie: priority %q for %q is not P1..P5", ErrInvalidConfig, v, k)
		}
	}
	o.Name = orDefault(o.Name, "opsgenie")
	o.BaseURL = strings.TrimRight(orDefault(o.BaseURL, "https://api.opsgenie.com"), "/")
	o.User = orDefault(o.User, "Watchdog")
	return &Opsgenie{o: o}, nil
}

// Name implements Channel.
func (g *Opsgenie) Name() string { return g.o.Name }

// OpsgenieCreate is the body of POST /v2/alerts.
type OpsgenieCreate struct {
	Message     string            `json:"message"`
	Alias       string            `json:"alias"`
	Description string            `json:"description,omitempty"`
	Priority    string            `json:"priority"`
	Tags        []string          `json:"tags,omitempty"`
	Details     map[string]string `json:"details,omitempty"`
	Source      string            `json:"source,omitempty"`
	Entity      string            `json:"entity,omitempty"`
	User        string            `json:"user,omitempty"`
}

// OpsgenieAction is the body of the acknowledge and close requests.
type OpsgenieAction struct {
	User   string `json:"user,omitempty"`
	Source string `json:"source,omitempty"`
	Note   string `json:"note,omitempty"`
}

// Opsgenie field limits (characters).
const (
	ogMaxMessage     = 130
	ogMaxAlias       = 512
	ogMaxDescription = 15000
	ogMaxTags        = 20
	ogMaxTag         = 50
	ogMaxSource      = 100
	ogMaxDetailValue = 8000
)

// Send implements Channel: trigger creates, acknowledge acknowledges and
// resolve closes the alert whose alias is the message's dedup key.
func (g *Opsgenie) Send(ctx context.Context, m Message) (bool, error) {
	if err := m.Validate(); err != nil {
		return false, err
	}
	key := m.dedupKey()
	if key == "" {
		return false, fmt.Errorf("%w: opsgenie: dedup key is required", ErrInvalidMessage)
	}
	alias := limitKey(key, ogMaxAlias)
	var (
		req httpRequest
		err error
	)
	switch m.Event {
	case EventTrigger:
		req, err = jsonRequest(g.o.BaseURL+"/v2/alerts", g.buildCreate(m, alias))
	default:
		verb := "acknowledge"
		if m.Event == EventResolve {
			verb = "close"
		}
		u := g.o.BaseURL + "/v2/alerts/" + url.PathEscape(alias) + "/" + verb + "?identifierType=alias"
		req, err = jsonRequest(u, OpsgenieAction{
			User:   g.o.User,
			Source: truncateRunes(orDefault(m.Source, "watchdog"), ogMaxSource),
			Note:   fmt.Sprintf("%s by Watchdog (incident %s)", eventTag(m.Event), orDefault(m.IncidentID, key)),
		})
	}
	if err != nil {
		return false, err
	}
	req.header.Set("Authorization", "GenieKey "+g.o.APIKey)
	req.secrets = []string{g.o.APIKey}
	return g.o.HTTP.do(ctx, req)
}

func (g *Opsgenie) buildCreate(m Message, alias string) OpsgenieCreate {
	var desc strings.Builder
	desc.WriteString(orDefault(m.Summary, m.Title))
	if u := httpURL(m.AckURL); u != "" {
		desc.WriteString("\n\nAcknowledge: " + u)
	}
	if u := httpURL(m.runbookURL()); u != "" {
		desc.WriteString("\nRunbook: " + u)
	}
	for _, k := range sortedKeys(m.Annotations) {
		if k != "summary" && k != "runbook_url" {
			fmt.Fprintf(&desc, "\n%s: %s", k, m.Annotations[k])
		}
	}
	details := map[string]string{}
	for k, v := range m.Labels {
		details[k] = truncateRunes(v, ogMaxDetailValue)
	}
	for k, v := range map[string]string{"incident_id": m.IncidentID, "ack_url": httpURL(m.AckURL), "severity": m.Severity} {
		if v != "" {
			details[k] = v
		}
	}
	return OpsgenieCreate{
		Message:     truncateRunes(orDefault(oneLine(m.headline()), "(untitled)"), ogMaxMessage),
		Alias:       alias,
		Description: truncateRunes(desc.String(), ogMaxDescription),
		Priority:    g.priority(m.Severity),
		Tags:        g.tags(m),
		Details:     details,
		Source:      truncateRunes(orDefault(m.Source, "watchdog"), ogMaxSource),
		Entity:      m.Labels["instance"],
		User:        g.o.User,
	}
}

// priority maps a severity to P1 (critical) … P5; Options.Priorities wins.
func (g *Opsgenie) priority(sev string) string {
	if p, ok := g.o.Priorities[strings.ToLower(sev)]; ok {
		return p
	}
	switch normSeverity(sev, "") {
	case "critical":
		return "P1"
	case "error":
		return "P2"
	case "warning":
		return "P3"
	case "info":
		return "P5"
	}
	return "P3"
}

func validPriority(p string) bool {
	return len(p) == 2 && p[0] == 'P' && p[1] >= '1' && p[1] <= '5'
}

// tags are the configured tags plus severity and alertname, de-duplicated and
// cut to Opsgenie's limits.
func (g *Opsgenie) tags(m Message) []string {
	cand := append([]string{}, g.o.Tags...)
	if m.Severity != "" {
		cand = append(cand, "severity:"+m.Severity)
	}
	if n := m.Labels["alertname"]; n != "" {
		cand = append(cand, "alertname:"+n)
	}
	seen := map[string]bool{}
	var out []string
	for _, t := range cand {
		t = truncateRunes(strings.TrimSpace(oneLine(t)), ogMaxTag)
		if t == "" || seen[t] || len(out) == ogMaxTags {
			continue
		}
		seen[t] = true
		out = append(out, t)
	}
	return out
}
