package rules

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/prometheus/prometheus/model/labels"
)

var (
	// ErrDuplicateAlertLabelSet is returned when two samples of one
	// evaluation give alerts with the same labels after templating.
	ErrDuplicateAlertLabelSet = errors.New("vector contains metrics with the same labelset after applying alert labels")
	// ErrDuplicateRecordLabelSet is returned when a recording rule's result
	// has two samples with the same labels after applying the rule labels.
	ErrDuplicateRecordLabelSet = errors.New("vector contains metrics with the same labelset after applying rule labels")
	// ErrLimitExceeded is wrapped when a rule yields more alerts or series
	// than its group's limit.
	ErrLimitExceeded = errors.New("exceeded limit")
)

// resolvedRetention is how long a resolved alert is kept (and its resolution
// re-sent), as in Prometheus.
const resolvedRetention = 15 * time.Minute

// AlertState is the state of an alert.
type AlertState int

// The alert states. Unknown is only reported by a rule not yet evaluated.
const (
	StateUnknown AlertState = iota
	StateInactive
	StatePending
	StateFiring
)

// String returns the name Prometheus uses for the state.
func (s AlertState) String() string {
	switch s {
	case StateInactive:
		return "inactive"
	case StatePending:
		return "pending"
	case StateFiring:
		return "firing"
	}
	return "unknown"
}

// Alert is one alert of an alerting rule, as in Prometheus.
type Alert struct {
	State       AlertState
	Labels      labels.Labels
	Annotations labels.Labels
	// Value is the sample value of the most recent evaluation that found the
	// alert.
	Value float64
	// ActiveAt is when the alert became pending (or firing with for: 0).
	ActiveAt time.Time
	FiredAt  time.Time
	// ResolvedAt is set when the alert goes inactive.
	ResolvedAt time.Time
	LastSentAt time.Time
	// ValidUntil is the EndsAt sent with a firing alert.
	ValidUntil time.Time
	// KeepFiringSince is when the condition stopped holding for a firing
	// alert held by keep_firing_for.
	KeepFiringSince time.Time
}

// Alerts is the state of one alerting rule, keyed by the hash of each
// alert's labels.
type Alerts map[uint64]*Alert

// Clone returns a deep-enough copy: the alerts are copied, their label sets
// (immutable) are shared.
func (as Alerts) Clone() Alerts {
	out := make(Alerts, len(as))
	for h, a := range as {
		c := *a
		out[h] = &c
	}
	return out
}

// Sorted returns the alerts ordered by labels.
func (as Alerts) Sorted() []*Alert {
	out := make([]*Alert, 0, len(as))
	for _, a := range as {
		out = append(out, a)
	}
	slices.SortFunc(out, func(a, b *Alert) int { return labels.Compare(a.Labels, b.Labels) })
	return out
}

// StepParams are the rule parameters the state machine needs.
type StepParams struct {
	For           time.Duration
	KeepFiringFor time.Duration
	// Limit is the most alerts allowed pending or firing; 0 means no limit.
	Limit int
}

// Step is the alert state machine of one alerting rule: given the rule's
// alerts before an evaluation (prev, not modified), the alerts this
// evaluation found (Labels, Annotations and Value set, already templated)
// and the evaluation time, it returns the rule's alerts after it, with
// Prometheus's semantics:
//
//   - a new alert is pending, with ActiveAt = now; it fires once it has been
//     active for p.For (at once when For is 0);
//   - a found alert that was pending or firing keeps its ActiveAt and gets
//     the new value and annotations;
//   - a pending alert no longer found is dropped; a firing one is resolved
//     (inactive, ResolvedAt = now) unless keep_firing_for holds it firing
//     for p.KeepFiringFor after it was last found;
//   - resolved alerts are kept resolvedRetention (15m), then dropped;
//   - two found alerts with the same labels: ErrDuplicateAlertLabelSet, and
//     prev is returned unchanged;
//   - more than p.Limit alerts pending or firing: an error wrapping
//     ErrLimitExceeded, and no alerts at all.
//
// Step always returns the alerts to keep, with or without an error. It does
// no I/O and its result depends only on its arguments.
func Step(prev Alerts, found []*Alert, now time.Time, p StepParams) (Alerts, error) {
	byHash := make(map[uint64]*Alert, len(found))
	for _, f := range found {
		h := f.Labels.Hash()
		if _, dup := byHash[h]; dup {
			return prev, ErrDuplicateAlertLabelSet
		}
		byHash[h] = f
	}
	next := prev.Clone()
	for h, f := range byHash {
		if a, ok := next[h]; ok && a.State != StateInactive {
			a.Value = f.Value
			a.Annotations = f.Annotations
			continue
		}
		next[h] = &Alert{
			State:       StatePending,
			Labels:      f.Labels,
			Annotations: f.Annotations,
			Value:       f.Value,
			ActiveAt:    now,
		}
	}
	var active int
	for h, a := range next {
		if _, ok := byHash[h]; !ok {
			var keepFiring bool
			if a.State == StateFiring && p.KeepFiringFor > 0 {
				if a.KeepFiringSince.IsZero() {
					a.KeepFiringSince = now
				}
				keepFiring = now.Sub(a.KeepFiringSince) < p.KeepFiringFor
			}
			if a.State == StatePending || (!a.ResolvedAt.IsZero() && now.Sub(a.ResolvedAt) > resolvedRetention) {
				delete(next, h)
			}
			if !keepFiring {
				if a.State != StateInactive {
					a.State = StateInactive
					a.ResolvedAt = now
				}
				continue
			}
		} else {
			a.KeepFiringSince = time.Time{}
		}
		active++
		if a.State == StatePending && now.Sub(a.ActiveAt) >= p.For {
			a.State = StateFiring
			a.FiredAt = now
		}
		if a.State == StateFiring && now.Sub(a.ActiveAt) < p.For {
			// Possible after a restore moved ActiveAt.
			a.State = StatePending
			a.FiredAt = time.Time{}
			a.LastSentAt = time.Time{}
			a.KeepFiringSince = time.Time{}
		}
	}
	if p.Limit > 0 && active > p.Limit {
		return Alerts{}, fmt.Errorf("%w of %d with %d alerts", ErrLimitExceeded, p.Limit, active)
	}
	return next, nil
}

// needsSending reports whether a must be sent at now, as Prometheus decides:
// never while pending; at once after it resolved; otherwise when the last
// send is more than resendDelay ago.
func (a *Alert) needsSending(now time.Time, resendDelay time.Duration) bool {
	if a.State == StatePending {
		return false
	}
	if a.ResolvedAt.After(a.LastSentAt) {
		return true
	}
	return a.LastSentAt.Add(resendDelay).Before(now)
}

// markSent picks the alerts to notify at now, records the send on them
// (LastSentAt = now, ValidUntil = now + 4*max(interval, resendDelay)) and
// returns copies ordered by labels.
func markSent(as Alerts, now time.Time, resendDelay, interval time.Duration) []*Alert {
	var out []*Alert
	for _, a := range as.Sorted() {
		if !a.needsSending(now, resendDelay) {
			continue
		}
		a.LastSentAt = now
		a.ValidUntil = now.Add(4 * max(interval, resendDelay))
		c := *a
		out = append(out, &c)
	}
	return out
}
