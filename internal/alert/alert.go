// Package alert holds the one alert value that travels from an alert's
// source (the rule engine's notifier, check-ins, heartbeats, POST
// /api/v2/alerts) to every sink (the pager, the Alertmanager senders, the
// console). It sits below both the rules and the pager, which know nothing
// of each other; the Alertmanager wire format exists only at the HTTP
// edges (rules/alertmanager's sender, web's receiver).
package alert

import "time"

// Alert is one alert, with the fields of the Alertmanager API v2. An alert
// whose EndsAt has passed is resolved; a zero EndsAt fires until a later
// alert carries an EndsAt, or, with Timeout, for the pager's
// resolve_timeout.
type Alert struct {
	Labels       map[string]string
	Annotations  map[string]string
	StartsAt     time.Time
	EndsAt       time.Time
	GeneratorURL string
	// Timeout marks an alert received without an end (Alertmanager's
	// Alert.Timeout): the pager gives it EndsAt = now + resolve_timeout,
	// so it resolves unless it is received again. The watchdog's own
	// rules leave it false: their alerts fire until they send an end.
	Timeout bool
}

// Resolved reports whether the alert has ended at now.
func (a Alert) Resolved(now time.Time) bool { return !a.EndsAt.IsZero() && !a.EndsAt.After(now) }
