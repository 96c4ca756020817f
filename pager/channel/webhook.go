package channel

import (
	"context"
	"fmt"
	"time"

	"github.com/prometheus/common/model"
)

// WebhookOptions configure the Alertmanager-compatible webhook channel.
type WebhookOptions struct {
	// Name of the channel (default "webhook").
	Name string `yaml:"name"`
	// URL receives the POST. Required; may itself be secret.
	URL string `yaml:"url"`
	// BearerToken, when set, is sent as "Authorization: Bearer <token>".
	BearerToken string `yaml:"bearer_token"`
	// MaxAlerts caps the alerts[] list; 0 means no limit. The number cut
	// is reported in truncatedAlerts, as Alertmanager does.
	MaxAlerts int `yaml:"max_alerts"`
	// SendAcknowledge also posts acknowledge events (status "firing").
	// Alertmanager receivers know no acknowledgement, so by default
	// acknowledge events are skipped.
	SendAcknowledge bool        `yaml:"send_acknowledge"`
	HTTP            HTTPOptions `yaml:",inline"`
}

// Webhook posts the Alertmanager webhook payload, version "4", with the
// delivery's idempotency key in the Idempotency-Key header.
type Webhook struct{ o WebhookOptions }

// NewWebhook validates o and returns the channel.
func NewWebhook(o WebhookOptions) (*Webhook, error) {
	if o.URL == "" {
		return nil, fmt.Errorf("%w: webhook: url is required", ErrInvalidConfig)
	}
	if o.MaxAlerts < 0 {
		o.MaxAlerts = 0
	}
	o.Name = orDefault(o.Name, "webhook")
	return &Webhook{o: o}, nil
}

// Name implements Channel.
func (w *Webhook) Name() string { return w.o.Name }

// WebhookPayload is Alertmanager's webhook message (notify/webhook
// Message, embedding template.Data), version "4".
type WebhookPayload struct {
	Version           string            `json:"version"`
	GroupKey          string            `json:"groupKey"`
	TruncatedAlerts   uint64            `json:"truncatedAlerts"`
	Status            string            `json:"status"`
	Receiver          string            `json:"receiver"`
	GroupLabels       map[string]string `json:"groupLabels"`
	CommonLabels      map[string]string `json:"commonLabels"`
	CommonAnnotations map[string]string `json:"commonAnnotations"`
	ExternalURL       string            `json:"externalURL"`
	Alerts            []WebhookAlert    `json:"alerts"`
}

// WebhookAlert is one entry of WebhookPayload.Alerts.
type WebhookAlert struct {
	Status       string            `json:"status"`
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations"`
	StartsAt     time.Time         `json:"startsAt"`
	EndsAt       time.Time         `json:"endsAt"`
	GeneratorURL string            `json:"generatorURL"`
	Fingerprint  string            `json:"fingerprint"`
}

// Send implements Channel.
func (w *Webhook) Send(ctx context.Context, m Message) (bool, error) {
	if err := m.Validate(); err != nil {
		return false, err
	}
	if m.Event == EventAcknowledge && !w.o.SendAcknowledge {
		return false, nil
	}
	p := BuildWebhookPayload(m, w.o.MaxAlerts)
	req, err := jsonRequest(w.o.URL, p)
	if err != nil {
		return false, err
	}
	if w.o.BearerToken != "" {
		req.header.Set("Authorization", "Bearer "+w.o.BearerToken)
	}
	if m.Key != "" {
		// The delivery's idempotency key: the same page sent twice (at
		// least once across a failover or crash) carries the same key.
		req.header.Set("Idempotency-Key", m.Key)
	}
	req.secrets = []string{w.o.BearerToken, w.o.URL}
	return w.o.HTTP.do(ctx, req)
}

// BuildWebhookPayload converts m to the Alertmanager webhook payload, keeping
// at most maxAlerts alerts (0: all). A message without alerts is sent as one
// synthetic alert built from its labels and annotations.
func BuildWebhookPayload(m Message, maxAlerts int) WebhookPayload {
	alerts := m.Alerts
	if len(alerts) == 0 {
		st := StatusFiring
		var ends time.Time
		if m.Event == EventResolve {
			st, ends = StatusResolved, m.Time
		}
		alerts = []Alert{{Labels: m.Labels, Annotations: m.Annotations, StartsAt: m.Time, EndsAt: ends, Status: st}}
	}
	status := StatusResolved
	out := make([]WebhookAlert, 0, len(alerts))
	for _, a := range alerts {
		st := a.Status
		if st != StatusResolved {
			st = StatusFiring
		}
		if m.Event == EventResolve {
			st = StatusResolved
		}
		if st == StatusFiring {
			status = StatusFiring
		}
		out = append(out, WebhookAlert{
			Status:       st,
			Labels:       nonNil(a.Labels),
			Annotations:  nonNil(a.Annotations),
			StartsAt:     a.StartsAt,
			EndsAt:       a.EndsAt,
			GeneratorURL: a.GeneratorURL,
			Fingerprint:  fingerprint(a.Labels),
		})
	}
	p := WebhookPayload{
		Version:           "4",
		GroupKey:          orDefault(m.GroupKey, m.dedupKey()),
		Status:            status,
		Receiver:          m.Receiver,
		GroupLabels:       nonNil(m.Labels),
		CommonLabels:      common(alerts, func(a Alert) map[string]string { return a.Labels }),
		CommonAnnotations: common(alerts, func(a Alert) map[string]string { return a.Annotations }),
		ExternalURL:       m.ExternalURL,
	}
	if maxAlerts > 0 && len(out) > maxAlerts {
		p.TruncatedAlerts = uint64(len(out) - maxAlerts)
		out = out[:maxAlerts]
	}
	p.Alerts = out
	return p
}

// fingerprint is Alertmanager's alert fingerprint: the label set's FNV hash
// as 16 hex digits.
func fingerprint(labels map[string]string) string {
	ls := make(model.LabelSet, len(labels))
	for k, v := range labels {
		ls[model.LabelName(k)] = model.LabelValue(v)
	}
	return ls.Fingerprint().String()
}

// common returns the pairs present with equal values in every alert.
func common(alerts []Alert, get func(Alert) map[string]string) map[string]string {
	out := map[string]string{}
	if len(alerts) == 0 {
		return out
	}
	for k, v := range get(alerts[0]) {
		out[k] = v
	}
	for _, a := range alerts[1:] {
		m := get(a)
		for k, v := range out {
			if w, ok := m[k]; !ok || w != v {
				delete(out, k)
			}
		}
	}
	return out
}

// nonNil returns m, or an empty map so JSON shows {} rather than null.
func nonNil(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}
