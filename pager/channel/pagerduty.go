package channel

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"time"
)

// PagerDutyOptions configure the PagerDuty Events API v2 channel.
type PagerDutyOptions struct {
	// Name of the channel (default "pagerduty").
	Name string `yaml:"name"`
	// RoutingKey is the integration key of the service. Required; secret.
	RoutingKey string `yaml:"routing_key"`
	// BaseURL defaults to https://events.pagerduty.com (EU accounts use
	// https://events.eu.pagerduty.com).
	BaseURL string `yaml:"base_url"`
	// Source is payload.source when the message has none (default "watchdog").
	Source string `yaml:"source"`
	// Client is the "client" field (default "Watchdog").
	Client string      `yaml:"client"`
	HTTP   HTTPOptions `yaml:",inline"`
}

// PagerDuty sends events to PagerDuty's Events API v2.
type PagerDuty struct{ o PagerDutyOptions }

// NewPagerDuty validates o and returns the channel.
func NewPagerDuty(o PagerDutyOptions) (*PagerDuty, error) {
	if o.RoutingKey == "" {
		return nil, fmt.Errorf("%w: pagerduty: routing_key is required", ErrInvalidConfig)
	}
	o.Name = orDefault(o.Name, "pagerduty")
	o.BaseURL = strings.TrimRight(orDefault(o.BaseURL, "https://events.pagerduty.com"), "/")
	o.Source = orDefault(o.Source, "watchdog")
	o.Client = orDefault(o.Client, "Watchdog")
	return &PagerDuty{o: o}, nil
}

// Name implements Channel.
func (p *PagerDuty) Name() string { return p.o.Name }

// PagerDutyEvent is the Events API v2 request body.
type PagerDutyEvent struct {
	RoutingKey  string            `json:"routing_key"`
	EventAction string            `json:"event_action"`
	DedupKey    string            `json:"dedup_key"`
	Payload     *PagerDutyPayload `json:"payload,omitempty"`
	Client      string            `json:"client,omitempty"`
	ClientURL   string            `json:"client_url,omitempty"`
	Links       []PagerDutyLink   `json:"links,omitempty"`
}

// PagerDutyPayload is the "payload" object, sent with trigger events.
type PagerDutyPayload struct {
	Summary       string         `json:"summary"`
	Source        string         `json:"source"`
	Severity      string         `json:"severity"`
	Timestamp     string         `json:"timestamp,omitempty"`
	Component     string         `json:"component,omitempty"`
	Group         string         `json:"group,omitempty"`
	Class         string         `json:"class,omitempty"`
	CustomDetails map[string]any `json:"custom_details,omitempty"`
}

// PagerDutyLink is one entry of "links".
type PagerDutyLink struct {
	Href string `json:"href"`
	Text string `json:"text"`
}

// PagerDuty field limits.
const (
	pdMaxSummary  = 1024
	pdMaxDedupKey = 255
)

// Send implements Channel. 202 Accepted is success; 400 is final; 429 and
// 5xx are retryable.
func (p *PagerDuty) Send(ctx context.Context, m Message) (bool, error) {
	if err := m.Validate(); err != nil {
		return false, err
	}
	ev, err := p.build(m)
	if err != nil {
		return false, err
	}
	req, err := jsonRequest(p.o.BaseURL+"/v2/enqueue", ev)
	if err != nil {
		return false, err
	}
	req.secrets = []string{p.o.RoutingKey}
	return p.o.HTTP.do(ctx, req)
}

func (p *PagerDuty) build(m Message) (PagerDutyEvent, error) {
	key := m.dedupKey()
	if key == "" {
		return PagerDutyEvent{}, fmt.Errorf("%w: pagerduty: dedup key is required", ErrInvalidMessage)
	}
	ev := PagerDutyEvent{
		RoutingKey:  p.o.RoutingKey,
		EventAction: m.Event,
		DedupKey:    limitKey(key, pdMaxDedupKey),
		Client:      p.o.Client,
		ClientURL:   httpURL(m.ExternalURL),
	}
	if m.Event != EventTrigger {
		// Acknowledge and resolve need only the key; PagerDuty ignores a payload.
		return ev, nil
	}
	details := map[string]any{}
	if m.IncidentID != "" {
		details["incident_id"] = m.IncidentID
	}
	if len(m.Labels) > 0 {
		details["labels"] = m.Labels
	}
	if len(m.Annotations) > 0 {
		details["annotations"] = m.Annotations
	}
	if m.Summary != "" {
		details["summary"] = m.Summary
	}
	if m.Recipient.Name != "" {
		details["paged"] = m.Recipient.Name
	}
	if n := len(m.Alerts); n > 0 {
		firing := 0
		for _, a := range m.Alerts {
			if a.Status != StatusResolved {
				firing++
			}
		}
		details["num_firing"], details["num_resolved"] = firing, n-firing
	}
	pl := &PagerDutyPayload{
		Summary:       truncate(orDefault(oneLine(m.headline()), "(untitled)"), pdMaxSummary),
		Source:        truncate(orDefault(m.Source, p.o.Source), 255),
		Severity:      normSeverity(m.Severity, "error"),
		Class:         m.Labels["alertname"],
		Component:     m.Labels["job"],
		Group:         m.Labels["team"],
		CustomDetails: details,
	}
	if !m.Time.IsZero() {
		pl.Timestamp = m.Time.UTC().Format(time.RFC3339Nano)
	}
	ev.Payload = pl
	if u := httpURL(m.AckURL); u != "" {
		ev.Links = append(ev.Links, PagerDutyLink{Href: u, Text: "Acknowledge in Watchdog"})
	}
	if u := httpURL(m.runbookURL()); u != "" {
		ev.Links = append(ev.Links, PagerDutyLink{Href: u, Text: "Runbook"})
	}
	for _, a := range m.Alerts {
		if u := httpURL(a.GeneratorURL); u != "" {
			ev.Links = append(ev.Links, PagerDutyLink{Href: u, Text: "Source"})
			break
		}
	}
	return ev, nil
}

// limitKey returns key unchanged if it fits in n bytes, else a stable
// SHA-256 hex digest of it (64 bytes), so follow-ups still match.
func limitKey(key string, n int) string {
	if len(key) <= n {
		return key
	}
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:])
}
