// Package checkin keeps the heartbeats (check-ins) of jobs that must run —
// a nightly backup, an hourly report — in the manner of healthchecks.io or
// Dead Man's Snitch: a job calls POST /api/v1/heartbeats/NAME with the
// heartbeat's own token at least every period; a check-in later than the
// period is late, later than period + grace it is missed and the alert
// HeartbeatMissed fires; a job that reports failure (…/NAME/fail) fires
// HeartbeatFailed; the next successful check-in resolves either. …/NAME/start
// marks the start of a run, so that the next success or failure measures
// how long it ran.
//
// The state machine is the pure function Step; a Runner holds the states of
// the configured heartbeats, steps them on check-ins and on its own clock in
// one goroutine, hands alerts to a NotifyFunc in the Alertmanager shape,
// writes series to a store and persists the states to a file so that they
// survive a restart. It is the incoming direction: package heartbeat is the
// watchdog's own outgoing dead man's switch.
package checkin

import (
	"time"
)

// MaxMessageBytes bounds the message a check-in's body leaves (its last
// bytes: the end of a log is where the error is).
const MaxMessageBytes = 1024

// Spec is one configured heartbeat.
type Spec struct {
	// Name is the heartbeat's name (its URL segment and label value).
	Name string
	// Period is the longest expected time between two successes; Grace is
	// how long after it a check-in is late rather than missed.
	Period, Grace time.Duration
	// Token is the secret a check-in must carry.
	Token string
	// Labels and Annotations are added to the heartbeat's alerts.
	Labels, Annotations map[string]string
}

// Status is what a heartbeat's state means at some time.
type Status string

// The statuses. New, Up and Late are healthy; Down (missed) and Failed alert.
const (
	// StatusNew: no success yet, and the first period (counted from when
	// the heartbeat was configured) has not run out.
	StatusNew Status = "new"
	// StatusUp: the last success is less than a period old.
	StatusUp Status = "up"
	// StatusLate: the period has run out, the grace has not.
	StatusLate Status = "late"
	// StatusDown: period and grace have run out without a success.
	StatusDown Status = "down"
	// StatusFailed: the job's last report was a failure.
	StatusFailed Status = "failed"
)

// Statuses lists every status, in the order of the state series.
var Statuses = []Status{StatusNew, StatusUp, StatusLate, StatusDown, StatusFailed}

// Kind is the kind of an event.
type Kind string

// The events.
const (
	// Tick is the passing of time (no check-in).
	Tick Kind = "tick"
	// Success is POST /api/v1/heartbeats/NAME.
	Success Kind = "success"
	// Fail is POST …/NAME/fail.
	Fail Kind = "fail"
	// Start is POST …/NAME/start.
	Start Kind = "start"
)

// Event is a check-in, or a Tick.
type Event struct {
	Kind Kind
	// Message is the check-in's body (at most MaxMessageBytes); it replaces
	// the last one. A Tick has none.
	Message string
}

// Alert names the alert a heartbeat has firing: "", AlertMissed or
// AlertFailed.
type Alert string

// The alerts, as their alertname label.
const (
	AlertNone   Alert = ""
	AlertMissed Alert = "HeartbeatMissed"
	AlertFailed Alert = "HeartbeatFailed"
)

// State is what the watchdog knows of one heartbeat; it is persisted.
type State struct {
	// Created is when the heartbeat was first configured: the first period
	// counts from it.
	Created time.Time `json:"created"`
	// LastPing is the time of the last check-in of any kind.
	LastPing time.Time `json:"lastPing,omitzero"`
	// LastSuccess and LastFailure are the last success and failure.
	LastSuccess time.Time `json:"lastSuccess,omitzero"`
	LastFailure time.Time `json:"lastFailure,omitzero"`
	// Started is the start of the run in progress (zero: none).
	Started time.Time `json:"started,omitzero"`
	// LastDuration is how long the last measured run took (from a start to
	// the success or failure after it).
	LastDuration time.Duration `json:"lastDuration,omitempty"`
	// Failed says the job's last report was a failure.
	Failed bool `json:"failed,omitempty"`
	// Message is the body of the last check-in.
	Message string `json:"message,omitempty"`
	// Pings counts the check-ins.
	Pings uint64 `json:"pings,omitempty"`
	// Alert is the alert firing, since AlertSince.
	Alert      Alert     `json:"alert,omitempty"`
	AlertSince time.Time `json:"alertSince,omitzero"`
}

// Status is what s means at now.
func (s State) Status(spec Spec, now time.Time) Status {
	if s.Failed {
		return StatusFailed
	}
	due := s.Due(spec)
	switch {
	case now.Before(due) || now.Equal(due):
		if s.LastSuccess.IsZero() {
			return StatusNew
		}
		return StatusUp
	case now.Before(due.Add(spec.Grace)) || now.Equal(due.Add(spec.Grace)):
		return StatusLate
	}
	return StatusDown
}

// Due is when the next success is due: a period after the last one (or
// after Created).
func (s State) Due(spec Spec) time.Time {
	base := s.LastSuccess
	if base.IsZero() {
		base = s.Created
	}
	return base.Add(spec.Period)
}

// Next is the next time after now at which s changes status without a
// check-in; zero if it never does (it is down or failed).
func (s State) Next(spec Spec, now time.Time) time.Time {
	switch s.Status(spec, now) {
	case StatusNew, StatusUp:
		return s.Due(spec).Add(time.Nanosecond)
	case StatusLate:
		return s.Due(spec).Add(spec.Grace + time.Nanosecond)
	}
	return time.Time{}
}

// Change says which alert an event ended and which it started (AlertNone
// for neither).
type Change struct {
	Resolved, Fired Alert
}

// Step applies ev at now to s: the pure state machine. It returns the new
// state and the alerts that ended and started with it.
func Step(s State, spec Spec, ev Event, now time.Time) (State, Change) {
	if ev.Kind != Tick {
		s.LastPing = now
		s.Pings++
		s.Message = ev.Message
	}
	switch ev.Kind {
	case Start:
		s.Started = now
	case Success, Fail:
		if !s.Started.IsZero() && !now.Before(s.Started) {
			s.LastDuration = now.Sub(s.Started)
		}
		s.Started = time.Time{}
		s.Failed = ev.Kind == Fail
		if ev.Kind == Success {
			s.LastSuccess = now
		} else {
			s.LastFailure = now
		}
	}
	want, since := AlertNone, time.Time{}
	switch s.Status(spec, now) {
	case StatusFailed:
		want, since = AlertFailed, s.LastFailure
	case StatusDown:
		want, since = AlertMissed, s.Due(spec).Add(spec.Grace)
	}
	if want == s.Alert {
		return s, Change{}
	}
	c := Change{Resolved: s.Alert, Fired: want}
	s.Alert, s.AlertSince = want, since
	return s, c
}
