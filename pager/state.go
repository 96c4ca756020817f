package pager

import (
	"maps"
	"slices"
	"time"

	"github.com/watchdog-sre/watchdog/internal/alert"
)

// Alert is one alert as it arrives: the value every source hands to every
// sink (see package internal/alert). An alert whose EndsAt has passed is
// resolved; a zero EndsAt fires until a later Receive carries an EndsAt,
// or, with Timeout, for resolve_timeout (Step sets EndsAt).
type Alert = alert.Alert

// IncidentAlert is an alert inside an incident.
type IncidentAlert struct {
	Fingerprint string
	Alert
	// SuppressedBy is "silence:ID" or "inhibit:FINGERPRINT" while a silence
	// or an inhibit rule mutes the alert, else "". The runtime computes it.
	SuppressedBy string
	// Ended is set by Step once EndsAt has passed.
	Ended bool
}

// Status is an incident's lifecycle state.
type Status string

// Incident statuses.
const (
	StatusTriggered    Status = "triggered"
	StatusAcknowledged Status = "acknowledged"
	StatusResolved     Status = "resolved"
)

// IncidentState is everything Step needs to know about an incident. It is
// a plain value: the Store persists it whole (JSON is fine) and Step never
// modifies the state it is given.
type IncidentState struct {
	// ID is the display number ("inc-7"): unique within one store, but a
	// new or lost database numbers from inc-1 again.
	ID string
	// UID is the incident's unique identity, 128 random bits in hex, set
	// when it opens ("" for incidents opened by older versions). Ack
	// links name it, so they can never act on another incident.
	UID      string
	GroupKey string
	// Route settings, copied when the incident opens so that Step does
	// not depend on later config reloads.
	Route          string
	Policy         string
	Channels       []string
	GroupLabels    map[string]string
	GroupWait      time.Duration
	GroupInterval  time.Duration
	RepeatInterval time.Duration
	// Major incidents page every policy of Parallel alongside Policy and
	// post once to the war room (WarRoomChannel, BridgeURL). Set when the
	// incident opens on a major route or policy, or by DeclareMajor.
	Major          bool
	Parallel       []PolicyEscalation
	WarRoomChannel string
	BridgeURL      string
	WarRoomPosted  bool

	// Urgency is UrgencyLow or "" for high (incidents opened by older
	// versions are high), fixed when the incident opens.
	Urgency string

	Title  string
	Status Status
	Alerts []IncidentAlert // sorted by Fingerprint
	// Suppressed is true while every firing alert is silenced or inhibited.
	Suppressed bool

	CreatedAt  time.Time
	StartAt    time.Time // CreatedAt + GroupWait: when paging begins
	Started    bool
	AckedBy    string
	AckedAt    time.Time
	ResolvedBy string
	ResolvedAt time.Time
	// Assignee is set by Reassign; it replaces the level's targets.
	Assignee string
	// RetriggerAt is when an acknowledged (or snoozed) incident returns to
	// triggered; zero for never.
	RetriggerAt  time.Time
	SnoozedUntil time.Time

	// Escalation position. Epoch counts (re)starts of escalation (after an
	// ack timeout, a snooze, a reassignment, a lifted suppression) so that
	// idempotency keys of a new round never collide with an old one.
	Escalating bool
	Epoch      int
	Level      int // index into the policy's levels
	Repeat     int // completed passes through the policy
	LevelAt    time.Time
	EscalateAt time.Time // zero when the policy is exhausted
	Exhausted  bool
	Planned    []PlannedNotify // due personal steps, sorted by At
	// Notified counts the notifications sent at the current level and
	// Failed those of them that failed for good; when all failed and no
	// step of the level is pending, the level moves on early.
	Notified int
	Failed   int

	// Stuck says why the incident, open and unacknowledged, has nowhere to
	// go: no next step is scheduled and its policy is not at its final
	// level or exhausted (its policy vanished, say). "" when it has a next
	// step. Step recomputes it every time; a non-empty value is a broken
	// invariant the Pager reports (watchdog_pager_incidents_stuck, an
	// error log line) and the console shows.
	Stuck string

	// Forwarding to external channels (Alertmanager's group timers).
	Forwarded      bool // a trigger went out; ack and resolve follow it
	ForwardPending bool // the alert set changed since the last forward
	LastForwardAt  time.Time
	ForwardSeq     int

	// TimelineSeq is the Seq of the last timeline entry.
	TimelineSeq int

	// Responders are the people added by AddResponders (responders.go),
	// in the order asked; ResponderSeq numbers their requests.
	Responders   []Responder `json:",omitempty"`
	ResponderSeq int         `json:",omitempty"`
}

// PolicyEscalation is the escalation position of one more policy paged
// in parallel with the incident's own (whose position is kept in the
// IncidentState fields of the same names, for compatibility).
type PolicyEscalation struct {
	Policy     string
	Escalating bool
	Epoch      int
	Level      int
	Repeat     int
	LevelAt    time.Time
	EscalateAt time.Time
	Exhausted  bool
	Planned    []PlannedNotify
	Notified   int
	Failed     int
}

// nextDue returns the earliest pending step or level change of e.
func (e *PolicyEscalation) nextDue() time.Time {
	if !e.Escalating {
		return time.Time{}
	}
	due := e.EscalateAt
	if len(e.Planned) > 0 && (due.IsZero() || e.Planned[0].At.Before(due)) {
		due = e.Planned[0].At
	}
	return due
}

// PlannedNotify is a personal notification step not yet sent.
type PlannedNotify struct {
	At     time.Time
	User   string
	Method string
	Level  int
	Repeat int
	Step   int // index into the user's notification rules
}

// Open reports whether the incident is not resolved.
func (s *IncidentState) Open() bool { return s.Status != StatusResolved }

// NextDue returns when Step must next be called with Tick, or the zero
// time if nothing is pending. Stores index incidents by it.
func (s *IncidentState) NextDue() time.Time {
	if s.Status == StatusResolved || s.ID == "" {
		return time.Time{}
	}
	var due time.Time
	min := func(t time.Time) {
		if !t.IsZero() && (due.IsZero() || t.Before(due)) {
			due = t
		}
	}
	if !s.Started {
		min(s.StartAt)
	}
	if s.Status == StatusAcknowledged {
		min(s.RetriggerAt)
	}
	if s.Escalating {
		min(s.EscalateAt)
		if len(s.Planned) > 0 {
			min(s.Planned[0].At)
		}
	}
	for i := range s.Parallel {
		min(s.Parallel[i].nextDue())
	}
	min(s.respondersDue())
	for _, a := range s.Alerts {
		if !a.Ended {
			min(a.EndsAt)
		}
	}
	if s.Started && s.Forwarded && !s.Suppressed && len(s.Channels) > 0 {
		if s.ForwardPending {
			min(s.LastForwardAt.Add(s.GroupInterval))
		}
		if s.Status == StatusTriggered && s.RepeatInterval > 0 {
			min(s.LastForwardAt.Add(s.RepeatInterval))
		}
	}
	return due
}

// Clone returns a deep copy.
func (s IncidentState) Clone() IncidentState {
	s.Channels = slices.Clone(s.Channels)
	s.GroupLabels = maps.Clone(s.GroupLabels)
	s.Planned = slices.Clone(s.Planned)
	s.Parallel = cloneParallel(s.Parallel)
	s.Responders = cloneResponders(s.Responders)
	s.Alerts = slices.Clone(s.Alerts)
	for i := range s.Alerts {
		s.Alerts[i].Labels = maps.Clone(s.Alerts[i].Labels)
		s.Alerts[i].Annotations = maps.Clone(s.Alerts[i].Annotations)
	}
	return s
}

// stepClone copies what Step changes in place: the Planned, Parallel and
// Responders slices. The Alerts are copied on Step's first write into them
// (stepper.ownAlerts). Step never writes into label, annotation or group
// label maps nor into Channels, so the result shares those with s; the
// Pager treats them as immutable once received.
func (s IncidentState) stepClone() IncidentState {
	s.Planned = slices.Clone(s.Planned)
	s.Parallel = cloneParallel(s.Parallel)
	s.Responders = cloneResponders(s.Responders)
	return s
}

func cloneParallel(ps []PolicyEscalation) []PolicyEscalation {
	ps = slices.Clone(ps)
	for i := range ps {
		ps[i].Planned = slices.Clone(ps[i].Planned)
	}
	return ps
}

// Timeline entry kinds.
const (
	EntryOpened       = "opened"
	EntryAlertFired   = "alert_fired"
	EntryAlertEnded   = "alert_resolved"
	EntrySuppressed   = "suppressed"
	EntryUnsuppressed = "unsuppressed"
	EntryEscalated    = "escalated"
	EntryExhausted    = "exhausted"
	EntryNobodyOnCall = "nobody_on_call"
	EntryNotify       = "notify"
	EntryDelivery     = "delivery"
	EntryForward      = "forward"
	EntryMajor        = "major"
	EntryWarRoom      = "war_room"
	EntryAck          = "acknowledged"
	EntryRetrigger    = "retriggered"
	EntrySnooze       = "snoozed"
	EntryReassign     = "reassigned"
	EntryNote         = "note"
	EntryResolved     = "resolved"
	// EntryReconfigured: a reload moved the incident's pending timers.
	EntryReconfigured = "reconfigured"
	// EntryFailover: a failed notification moved on to the next method
	// or level early.
	EntryFailover = "failover"
	// EntrySkipped: a pending notification was not sent (its user is no
	// longer in the configuration).
	EntrySkipped = "skipped"
	// EntryStuck: the incident has no next step (see IncidentState.Stuck).
	EntryStuck = "stuck"
	// EntryDeferred: a low urgency notification waits for waking hours.
	EntryDeferred = "deferred"
)

// TimelineEntry is one line of an incident's timeline.
type TimelineEntry struct {
	IncidentID string
	Seq        int // 1, 2, … per incident
	At         time.Time
	Kind       string
	By         string // the actor: a user, "system" or "alerts"
	// Via is how By acted (ViaConsole, ViaSMS…) on the entries of human
	// events; "" for entries written by older versions and by the system.
	Via     string `json:",omitempty"`
	User    string // the person concerned (notified, reassigned to)
	Method  string
	Channel string
	Key     string // the idempotency key of a notify/forward/delivery
	Level   int
	Text    string
}

// Event is an input to Step: AlertsChanged, Tick, Ack, Resolve, Snooze,
// Reassign, EscalateNow, DeclareMajor, Note, DeliveryResult or
// Reconfigured.
type Event interface{ isEvent() }

// AlertsChanged merges alerts (by Fingerprint) into the incident.
type AlertsChanged struct{ Alerts []IncidentAlert }

// Tick processes whatever is due at now.
type Tick struct{}

// Ack acknowledges: escalation stops until the policy's ack_timeout.
type Ack struct{ By, Via string }

// Resolve resolves by hand.
type Resolve struct{ By, Via string }

// Snooze acknowledges until Until, then re-triggers.
type Snooze struct {
	By    string
	Via   string
	Until time.Time
}

// Reassign hands the incident to one user, whose notification rules start
// now; escalation continues from the current level after its delay.
type Reassign struct{ By, Via, To string }

// EscalateNow moves to the next level at once.
type EscalateNow struct{ By, Via string }

// DeclareMajor makes an open incident major: the major policies of its
// route start paging in parallel and the war room is told.
type DeclareMajor struct{ By, Via string }

// Note adds a note to the timeline.
type Note struct{ By, Via, Text string }

// Reconfigured tells an open incident that the config changed: timers
// that have not fired yet are recomputed from the new config (see
// Pager.Reload).
type Reconfigured struct{}

// DeliveryResult reports how a Notify or Forward went. A failed Notify
// (Err set) is final: the channel's retries are over, so the escalation
// moves on to the user's next method, or to the next level when nobody
// at the current one was reached and nothing more is pending there.
type DeliveryResult struct {
	Key      string
	User     string // for Notify
	Method   string // for Notify
	Channel  string
	Attempts int
	Err      string // "" on success
}

func (AlertsChanged) isEvent()  {}
func (Tick) isEvent()           {}
func (Ack) isEvent()            {}
func (Resolve) isEvent()        {}
func (Snooze) isEvent()         {}
func (Reassign) isEvent()       {}
func (EscalateNow) isEvent()    {}
func (DeclareMajor) isEvent()   {}
func (Note) isEvent()           {}
func (DeliveryResult) isEvent() {}
func (Reconfigured) isEvent()   {}

// Action is an output of Step: Notify, Forward, WarRoomPost, Schedule or
// Record.
type Action interface{ isAction() }

// Notify pages User by Method at Contact. Key is stable: the same
// notification always has the same key, so a log keyed by it dedupes.
type Notify struct {
	Key     string
	User    string
	Method  string
	Contact string
	Level   int
	Repeat  int
	Step    int
}

// Forward sends an incident event (channel.EventTrigger, EventAcknowledge,
// EventResolve) to an external channel.
type Forward struct {
	Key     string
	Channel string
	Event   string
}

// WarRoomPost announces a major incident once, with the bridge URL, in
// the war room channel.
type WarRoomPost struct {
	Key       string
	Channel   string
	BridgeURL string
}

// Schedule asks to be called with Tick at At (zero: nothing pending). Step
// returns exactly one, last.
type Schedule struct{ At time.Time }

// Record appends Entry to the timeline. Unlike the other actions it is
// committed in the same transaction as the new state.
type Record struct{ Entry TimelineEntry }

func (Notify) isAction()      {}
func (Forward) isAction()     {}
func (WarRoomPost) isAction() {}
func (Schedule) isAction()    {}
func (Record) isAction()      {}
