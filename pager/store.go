package pager

import (
	"errors"
	"maps"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"
)

// Store errors.
var (
	// ErrNotFound: no such incident, delivery or silence.
	ErrNotFound = errors.New("not found")
	// ErrConflict: the store refused a write (e.g. a second open incident
	// for a group key). The transaction is rolled back.
	ErrConflict = errors.New("conflict")
	// ErrFenced: the store refused an escalator's write or delivery claim
	// because this process no longer holds the lease it was made under
	// (Cluster: another replica may have taken over and written since).
	// The pager stops sending: a single pager's Run returns it (running
	// again rebuilds from the store), a replica steps down.
	ErrFenced = errors.New("fenced: this process no longer holds the pager lease")
)

// Store persists the pager's state: incidents, their timelines, the
// delivery log (an outbox of notifications and forwards, deduplicated by
// idempotency key) and silences.
//
// # Atomicity
//
// Everything done inside one Update call is one transaction: it commits
// entirely or not at all, and no other View or Update observes part of it.
// The Pager relies on this for exactly these groups of writes:
//
//   - PutIncident + AppendTimeline + AddDelivery (+ UpdateDelivery for a
//     delivery result): the new state of an incident, the timeline entries
//     Step produced, and the notifications it asked for. They are
//     committed before any notification is sent, so a crash after the
//     commit re-sends from the outbox and a crash before it re-derives the
//     same notifications (same keys) from the old state.
//   - NextID with the PutIncident that uses it.
//
// Updates are serialised by the Pager (one at a time per Store), so an
// implementation needs no optimistic locking; SQLite's BEGIN IMMEDIATE is
// enough. Implementations must be safe for concurrent use (deliveries
// read incidents from worker goroutines through View).
//
// Values passed in and returned are owned by the callee and the caller
// respectively: implementations copy what they keep (IncidentState.Clone).
type Store interface {
	// View runs fn with a consistent read-only view.
	View(fn func(tx ReadTx) error) error
	// Update runs fn in a transaction, committed if fn returns nil and
	// rolled back (returning fn's error) otherwise.
	Update(fn func(tx Tx) error) error
}

// ReadTx reads the store.
type ReadTx interface {
	// Incident returns the incident with id, or ErrNotFound.
	Incident(id string) (IncidentState, error)
	// OpenIncident returns the incident for groupKey that is not resolved,
	// or ErrNotFound. There is at most one.
	OpenIncident(groupKey string) (IncidentState, error)
	// Incidents returns the incidents f selects, newest first.
	Incidents(f IncidentFilter) ([]IncidentState, error)
	// Timeline returns an incident's entries in Seq order.
	Timeline(incidentID string) ([]TimelineEntry, error)
	// Deliveries returns the deliveries f selects in CreatedAt, Key order.
	Deliveries(f DeliveryFilter) ([]Delivery, error)
	// Silences returns every silence, expired ones included, by ID.
	Silences() ([]Silence, error)
	// Overrides returns the stored schedule overrides, by ID.
	Overrides() ([]ScheduleOverride, error)
	// CalendarFeeds returns the calendar feeds, revoked ones included,
	// by ID.
	CalendarFeeds() ([]CalendarFeed, error)
	// Credential returns the personal token or session with id, or
	// ErrNotFound.
	Credential(id string) (Credential, error)
	// Credentials returns the credentials of kind (CredToken,
	// CredSession) of user ("" for every user), by CreatedAt then ID.
	Credentials(kind, user string) ([]Credential, error)
	// Postmortem returns the postmortem document of the incident with
	// id, or ErrNotFound.
	Postmortem(incidentID string) (Postmortem, error)
	// Postmortems returns every postmortem document, by incident ID.
	Postmortems() ([]Postmortem, error)
	// StatusUpdates returns the public updates of incident id ("" for
	// every incident), newest (highest Seq) first, at most limit (0: all).
	StatusUpdates(incidentID string, limit int) ([]StatusUpdate, error)
	// Maintenances returns the maintenance windows by StartsAt, then ID.
	Maintenances() ([]Maintenance, error)
	// ActionItemReminders returns the records of the reminders sent of
	// overdue action items, in no particular order.
	ActionItemReminders() ([]ActionItemReminder, error)
	// Subscribers returns the status page subscribers by ID.
	Subscribers() ([]Subscriber, error)
	// Subscriber returns the subscriber with id, or ErrNotFound.
	Subscriber(id string) (Subscriber, error)
	// SubscriberEvent returns the subscriber event with key, or
	// ErrNotFound.
	SubscriberEvent(key string) (SubscriberEvent, error)
	// SubscriberNotes returns the outbox messages f selects by NextAt,
	// then ID.
	SubscriberNotes(f SubscriberNoteFilter) ([]SubscriberNote, error)
	// SubscriberMark returns the subscriber loop's mark key (a cursor or
	// a last state), or ErrNotFound.
	SubscriberMark(key string) (string, error)
}

// Tx reads and writes the store inside Update.
type Tx interface {
	ReadTx
	// NextID returns the next number of the named sequence ("incident",
	// "silence"), starting at 1. Numbers are never reused.
	NextID(seq string) (int64, error)
	// PutIncident inserts or replaces an incident by ID. Stores should
	// index Status, GroupKey and NextDue().
	PutIncident(st IncidentState) error
	// AppendTimeline appends entries (IncidentID and Seq are set).
	AppendTimeline(entries ...TimelineEntry) error
	// AddDelivery inserts d unless a delivery with d.Key exists; it
	// reports whether it inserted. This is the notification dedupe.
	AddDelivery(d Delivery) (added bool, err error)
	// UpdateDelivery replaces the delivery with d.Key (ErrNotFound if none).
	UpdateDelivery(d Delivery) error
	// PutSilence inserts or replaces a silence by ID.
	PutSilence(s Silence) error
	// PutOverride inserts or replaces a schedule override by ID.
	PutOverride(o ScheduleOverride) error
	// DeleteOverride removes the override with id (ErrNotFound if none).
	DeleteOverride(id string) error
	// PutCalendarFeed inserts or replaces a calendar feed by ID.
	PutCalendarFeed(f CalendarFeed) error
	// PutPostmortem inserts or replaces a postmortem by IncidentID.
	PutPostmortem(pm Postmortem) error
	// PutCredential inserts or replaces a credential by ID.
	PutCredential(c Credential) error
	// DeleteCredential deletes the credential with id (ErrNotFound if
	// none).
	DeleteCredential(id string) error
	// PutStatusUpdate inserts or replaces a public status update by ID.
	PutStatusUpdate(u StatusUpdate) error
	// PutMaintenance inserts or replaces a maintenance window by ID.
	PutMaintenance(m Maintenance) error
	// PutActionItemReminder inserts or replaces the reminder record of
	// one action item (by IncidentID and ItemID).
	PutActionItemReminder(r ActionItemReminder) error
	// PutSubscriber inserts or replaces a subscriber by ID.
	PutSubscriber(s Subscriber) error
	// DeleteSubscriber removes the subscriber with id and its outbox
	// messages (ErrNotFound if none).
	DeleteSubscriber(id string) error
	// AddSubscriberEvent inserts ev unless an event with ev.Key exists;
	// it reports whether it inserted.
	AddSubscriberEvent(ev SubscriberEvent) (added bool, err error)
	// PutSubscriberNote inserts or replaces an outbox message by ID.
	PutSubscriberNote(n SubscriberNote) error
	// PutSubscriberMark sets the mark key to value.
	PutSubscriberMark(key, value string) error
	// PruneSubscriberEvents removes the events older (At) than before and
	// the messages no longer pending created before it.
	PruneSubscriberEvents(before time.Time) error
}

// IncidentFilter selects incidents; zero fields select everything.
type IncidentFilter struct {
	Statuses []Status
	Route    string
	// Since keeps incidents created at or after it.
	Since time.Time
	Limit int
	// OutlineAlerts asks for the alerts in outline, for readers that only
	// match alert labels (the status page): each incident's Alerts hold
	// one entry per distinct combination of the OutlineLabels' values
	// among its alerts, with only those labels set (see
	// OutlineAlertLabels); without OutlineLabels, no alerts at all. The
	// stores then skip reading the alerts, or most of them. Outlined
	// incidents are for reading only: one written back (PutIncident) would
	// replace the incident's alerts by their outline.
	OutlineAlerts bool
	OutlineLabels []string
}

// Match reports whether st passes the filter (Limit aside).
func (f IncidentFilter) Match(st *IncidentState) bool {
	return (len(f.Statuses) == 0 || slices.Contains(f.Statuses, st.Status)) &&
		(f.Route == "" || f.Route == st.Route) &&
		!st.CreatedAt.Before(f.Since)
}

// DeliveryStatus is the state of one delivery.
type DeliveryStatus string

// Delivery statuses.
const (
	DeliveryPending DeliveryStatus = "pending"
	DeliverySent    DeliveryStatus = "sent"
	DeliveryFailed  DeliveryStatus = "failed"
)

// Delivery kinds.
const (
	KindNotify  = "notify"
	KindForward = "forward"
	KindWarRoom = "war_room" // a major incident's war-room message
)

// Delivery is one entry of the notification log: a Notify or Forward
// action, pending until a worker reports its result.
type Delivery struct {
	Key        string // idempotency key (primary key)
	IncidentID string
	Kind       string // KindNotify, KindForward or KindWarRoom
	User       string // notify only
	Method     string // notify only
	Contact    string // notify only
	Channel    string // channel name: the method for notify
	Event      string // channel.EventTrigger, EventAcknowledge, EventResolve
	CreatedAt  time.Time
	Status     DeliveryStatus
	Attempts   int
	Error      string
	DoneAt     time.Time
}

// DeliveryFilter selects deliveries; zero fields select everything.
type DeliveryFilter struct {
	IncidentID string
	Status     DeliveryStatus
}

// Silence mutes paging for alerts matching all Matchers between StartsAt
// and EndsAt. Expiring a silence sets EndsAt.
type Silence struct {
	ID        string
	Matchers  []string // Alertmanager syntax, see ParseMatcher
	StartsAt  time.Time
	EndsAt    time.Time
	CreatedBy string
	Comment   string
}

// Active reports whether the silence applies at now.
func (s *Silence) Active(now time.Time) bool {
	return !now.Before(s.StartsAt) && now.Before(s.EndsAt)
}

// MemStore is an in-memory Store for tests and single-process use
// without persistence.
//
// Update changes the data in place under the write lock and keeps an undo
// log of the first old value of every key it touches, so that a failed
// (or panicking) transaction is rolled back at a cost proportional to what
// it wrote, not to the size of the store. Views wait for a running Update.
type MemStore struct {
	mu sync.RWMutex
	d  memData
}

type memData struct {
	incidents  map[string]IncidentState
	openByKey  map[string]string       // group key → ID of its open incident
	timeline   map[string]*memTimeline // memstore_timeline.go
	deliveries map[string]Delivery
	silences   map[string]Silence
	seqs       map[string]int64
	overrides  map[string]ScheduleOverride
	feeds      map[string]CalendarFeed
	creds      map[string]Credential
	pms        map[string]Postmortem
	updates    map[string]StatusUpdate
	maint      map[string]Maintenance
	reminders  map[string]ActionItemReminder
	subs       map[string]Subscriber
	subEvents  map[string]SubscriberEvent
	subNotes   map[string]SubscriberNote
	subMarks   map[string]string
}

// NewMemStore returns an empty MemStore.
func NewMemStore() *MemStore {
	return &MemStore{d: memData{
		incidents: map[string]IncidentState{}, openByKey: map[string]string{}, timeline: map[string]*memTimeline{},
		deliveries: map[string]Delivery{}, silences: map[string]Silence{}, seqs: map[string]int64{},
		creds: map[string]Credential{}, overrides: map[string]ScheduleOverride{}, feeds: map[string]CalendarFeed{},
		pms:     map[string]Postmortem{},
		updates: map[string]StatusUpdate{}, maint: map[string]Maintenance{},
		reminders: map[string]ActionItemReminder{},
		subs:      map[string]Subscriber{}, subEvents: map[string]SubscriberEvent{}, subNotes: map[string]SubscriberNote{},
		subMarks: map[string]string{},
	}}
}

// View implements Store.
func (m *MemStore) View(fn func(tx ReadTx) error) error {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return fn(&memTx{d: &m.d})
}

// Update implements Store: fn changes the data in place; if it fails (or
// panics) every change is undone before the lock is released.
func (m *MemStore) Update(fn func(tx Tx) error) (err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	tx := &memTx{d: &m.d, undo: &memUndo{}}
	ok := false
	defer func() {
		if !ok {
			tx.undo.rollback(&m.d)
		}
	}()
	err = fn(tx)
	ok = err == nil
	return err
}

// memUndo records, per key, the value before the transaction first
// changed it (absent when the key did not exist).
type memUndo struct {
	incidents  map[string]memOld[IncidentState]
	openByKey  map[string]memOld[string]
	timeline   map[string]int // previous length
	deliveries map[string]memOld[Delivery]
	silences   map[string]memOld[Silence]
	seqs       map[string]memOld[int64]
	overrides  map[string]memOld[ScheduleOverride]
	feeds      map[string]memOld[CalendarFeed]
	creds      map[string]memOld[Credential]
	pms        map[string]memOld[Postmortem]
	updates    map[string]memOld[StatusUpdate]
	maint      map[string]memOld[Maintenance]
	reminders  map[string]memOld[ActionItemReminder]
	subs       map[string]memOld[Subscriber]
	subEvents  map[string]memOld[SubscriberEvent]
	subNotes   map[string]memOld[SubscriberNote]
	subMarks   map[string]memOld[string]
}

type memOld[T any] struct {
	v  T
	ok bool
}

// save records m[k] in undo unless already recorded.
func save[T any](undo *map[string]memOld[T], m map[string]T, k string) {
	if *undo == nil {
		*undo = map[string]memOld[T]{}
	}
	if _, done := (*undo)[k]; done {
		return
	}
	v, ok := m[k]
	(*undo)[k] = memOld[T]{v, ok}
}

// memPut records m[k] for rollback and sets it to v.
func memPut[T any](undo *map[string]memOld[T], m map[string]T, k string, v T) {
	save(undo, m, k)
	m[k] = v
}

// memDrop records m[k] for rollback and deletes it.
func memDrop[T any](undo *map[string]memOld[T], m map[string]T, k string) {
	save(undo, m, k)
	delete(m, k)
}

// memDelete is memDrop of a key that must be there: ErrNotFound when not.
func memDelete[T any](undo *map[string]memOld[T], m map[string]T, k string) error {
	if _, ok := m[k]; !ok {
		return ErrNotFound
	}
	memDrop(undo, m, k)
	return nil
}

func restore[T any](undo map[string]memOld[T], m map[string]T) {
	for k, o := range undo {
		if o.ok {
			m[k] = o.v
		} else {
			delete(m, k)
		}
	}
}

func (u *memUndo) rollback(d *memData) {
	restore(u.incidents, d.incidents)
	restore(u.openByKey, d.openByKey)
	restore(u.deliveries, d.deliveries)
	restore(u.silences, d.silences)
	restore(u.seqs, d.seqs)
	restore(u.overrides, d.overrides)
	restore(u.feeds, d.feeds)
	restore(u.creds, d.creds)
	restore(u.pms, d.pms)
	restore(u.updates, d.updates)
	restore(u.maint, d.maint)
	restore(u.reminders, d.reminders)
	restore(u.subs, d.subs)
	restore(u.subEvents, d.subEvents)
	restore(u.subNotes, d.subNotes)
	restore(u.subMarks, d.subMarks)
	for id, n := range u.timeline {
		if n == 0 {
			delete(d.timeline, id)
		} else {
			d.timeline[id].truncate(n)
		}
	}
}

type memTx struct {
	d    *memData
	undo *memUndo // nil in a View
}

func (t *memTx) Incident(id string) (IncidentState, error) {
	st, ok := t.d.incidents[id]
	if !ok {
		return IncidentState{}, ErrNotFound
	}
	return st.Clone(), nil
}

func (t *memTx) OpenIncident(groupKey string) (IncidentState, error) {
	id, ok := t.d.openByKey[groupKey]
	if !ok {
		return IncidentState{}, ErrNotFound
	}
	return t.Incident(id)
}

func (t *memTx) Incidents(f IncidentFilter) ([]IncidentState, error) {
	var out []IncidentState
	for _, st := range t.d.incidents {
		if f.Match(&st) {
			out = append(out, st)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].CreatedAt.Equal(out[j].CreatedAt) {
			return out[i].CreatedAt.After(out[j].CreatedAt)
		}
		return out[i].ID > out[j].ID
	})
	if f.Limit > 0 && len(out) > f.Limit {
		clear(out[f.Limit:])
		out = out[:f.Limit]
	}
	for i := range out { // copy only what is returned
		if f.OutlineAlerts {
			alerts := out[i].Alerts
			out[i].Alerts = nil
			out[i] = out[i].Clone()
			out[i].Alerts = OutlineAlertLabels(alerts, f.OutlineLabels)
			continue
		}
		out[i] = out[i].Clone()
	}
	return out, nil
}

func (t *memTx) Timeline(id string) ([]TimelineEntry, error) {
	return t.d.timeline[id].entries(id), nil
}

func (t *memTx) Deliveries(f DeliveryFilter) ([]Delivery, error) {
	var out []Delivery
	for _, d := range t.d.deliveries {
		if (f.IncidentID == "" || f.IncidentID == d.IncidentID) && (f.Status == "" || f.Status == d.Status) {
			out = append(out, d)
		}
	}
	slices.SortFunc(out, func(a, b Delivery) int {
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		if a.Key < b.Key {
			return -1
		}
		if a.Key > b.Key {
			return 1
		}
		return 0
	})
	return out, nil
}

func (t *memTx) Silences() ([]Silence, error) {
	out := slices.Collect(maps.Values(t.d.silences))
	slices.SortFunc(out, func(a, b Silence) int {
		switch {
		case a.ID < b.ID:
			return -1
		case a.ID > b.ID:
			return 1
		}
		return 0
	})
	return out, nil
}

func (t *memTx) NextID(seq string) (int64, error) {
	save(&t.undo.seqs, t.d.seqs, seq)
	t.d.seqs[seq]++
	return t.d.seqs[seq], nil
}

func (t *memTx) PutIncident(st IncidentState) error { return t.putIncident(st, true) }

func (t *memTx) putIncident(st IncidentState, copy bool) error {
	if st.ID == "" {
		return errors.New("put incident: empty id")
	}
	old, had := t.d.incidents[st.ID]
	if st.Open() {
		if id, ok := t.d.openByKey[st.GroupKey]; ok && id != st.ID {
			return ErrConflict
		}
	}
	save(&t.undo.incidents, t.d.incidents, st.ID)
	if had && old.Open() && t.d.openByKey[old.GroupKey] == st.ID {
		memDrop(&t.undo.openByKey, t.d.openByKey, old.GroupKey)
	}
	if st.Open() {
		memPut(&t.undo.openByKey, t.d.openByKey, st.GroupKey, st.ID)
	}
	if copy {
		st = cloneReusing(st, old)
	}
	t.d.incidents[st.ID] = st
	return nil
}

// OwnedPutter is implemented by transactions that can take an incident
// state without copying it. The Pager uses it for the states Step
// returns, whose maps and slices nothing modifies afterwards (Step copies
// the slices it changes; label maps are never written once received), so
// a store may keep them, or recognise an alert's unchanged maps by
// identity.
type OwnedPutter interface {
	// PutIncidentOwned is PutIncident of a state the caller hands over:
	// neither it nor anything it references is modified afterwards.
	PutIncidentOwned(st IncidentState) error
}

// PutIncidentOwned is PutIncident without the copy: st is the store's from
// now on. Reads still hand out deep copies.
func (t *memTx) PutIncidentOwned(st IncidentState) error {
	return t.putIncident(st, false)
}

// cloneReusing deep-copies st, sharing the label and annotation maps of
// old (a stored version, never handed out nor modified) where they are
// equal: an incident that gains one alert costs one alert's maps, not all.
func cloneReusing(st, old IncidentState) IncidentState {
	c := st
	c.Channels = slices.Clone(st.Channels)
	c.GroupLabels = maps.Clone(st.GroupLabels)
	if maps.Equal(st.GroupLabels, old.GroupLabels) && old.GroupLabels != nil {
		c.GroupLabels = old.GroupLabels
	}
	c.Planned = slices.Clone(st.Planned)
	c.Parallel = cloneParallel(st.Parallel)
	c.Alerts = slices.Clone(st.Alerts)
	j := 0
	for i := range c.Alerts {
		a := &c.Alerts[i]
		// Alerts are sorted by fingerprint; walk old alongside.
		for j < len(old.Alerts) && old.Alerts[j].Fingerprint < a.Fingerprint {
			j++
		}
		var o *IncidentAlert
		if j < len(old.Alerts) && old.Alerts[j].Fingerprint == a.Fingerprint {
			o = &old.Alerts[j]
		}
		if o != nil && o.Labels != nil && maps.Equal(o.Labels, a.Labels) {
			a.Labels = o.Labels
		} else {
			a.Labels = maps.Clone(a.Labels)
		}
		if o != nil && o.Annotations != nil && maps.Equal(o.Annotations, a.Annotations) {
			a.Annotations = o.Annotations
		} else {
			a.Annotations = maps.Clone(a.Annotations)
		}
	}
	return c
}

func (t *memTx) AppendTimeline(entries ...TimelineEntry) error {
	for i := 0; i < len(entries); {
		id := entries[i].IncidentID
		j := i + 1
		for j < len(entries) && entries[j].IncidentID == id {
			j++
		}
		if t.undo.timeline == nil {
			t.undo.timeline = map[string]int{}
		}
		tl := t.d.timeline[id]
		if tl == nil {
			tl = &memTimeline{}
			t.d.timeline[id] = tl
		}
		if _, done := t.undo.timeline[id]; !done {
			t.undo.timeline[id] = tl.n
		}
		// In place: Timeline hands out copies, and a rollback truncates.
		var buf [8]memEntry
		es := buf[:0]
		for _, e := range entries[i:j] {
			es = append(es, compactEntry(e))
		}
		tl.add(es...)
		i = j
	}
	return nil
}

func (t *memTx) AddDelivery(d Delivery) (bool, error) {
	if _, ok := t.d.deliveries[d.Key]; ok {
		return false, nil
	}
	memPut(&t.undo.deliveries, t.d.deliveries, d.Key, d)
	return true, nil
}

func (t *memTx) UpdateDelivery(d Delivery) error {
	if _, ok := t.d.deliveries[d.Key]; !ok {
		return ErrNotFound
	}
	memPut(&t.undo.deliveries, t.d.deliveries, d.Key, d)
	return nil
}

func (t *memTx) PutSilence(s Silence) error {
	s.Matchers = slices.Clone(s.Matchers)
	memPut(&t.undo.silences, t.d.silences, s.ID, s)
	return nil
}

func (t *memTx) Credential(id string) (Credential, error) {
	c, ok := t.d.creds[id]
	if !ok {
		return Credential{}, ErrNotFound
	}
	c.Scopes = slices.Clone(c.Scopes)
	return c, nil
}

func (t *memTx) Credentials(kind, user string) ([]Credential, error) {
	var out []Credential
	for _, c := range t.d.creds {
		if c.Kind == kind && (user == "" || c.User == user) {
			c.Scopes = slices.Clone(c.Scopes)
			out = append(out, c)
		}
	}
	slices.SortFunc(out, func(a, b Credential) int {
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return out, nil
}

func (t *memTx) PutCredential(c Credential) error {
	c.Scopes = slices.Clone(c.Scopes)
	memPut(&t.undo.creds, t.d.creds, c.ID, c)
	return nil
}

func (t *memTx) DeleteCredential(id string) error {
	return memDelete(&t.undo.creds, t.d.creds, id)
}

func (t *memTx) Overrides() ([]ScheduleOverride, error) {
	out := slices.Collect(maps.Values(t.d.overrides))
	slices.SortFunc(out, func(a, b ScheduleOverride) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}

func (t *memTx) CalendarFeeds() ([]CalendarFeed, error) {
	out := slices.Collect(maps.Values(t.d.feeds))
	slices.SortFunc(out, func(a, b CalendarFeed) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}

func (t *memTx) PutOverride(o ScheduleOverride) error {
	memPut(&t.undo.overrides, t.d.overrides, o.ID, o)
	return nil
}

func (t *memTx) DeleteOverride(id string) error {
	return memDelete(&t.undo.overrides, t.d.overrides, id)
}

func (t *memTx) PutCalendarFeed(f CalendarFeed) error {
	memPut(&t.undo.feeds, t.d.feeds, f.ID, f)
	return nil
}

func (t *memTx) Postmortem(id string) (Postmortem, error) {
	pm, ok := t.d.pms[id]
	if !ok {
		return Postmortem{}, ErrNotFound
	}
	return pm.Clone(), nil
}

func (t *memTx) Postmortems() ([]Postmortem, error) {
	out := make([]Postmortem, 0, len(t.d.pms))
	for _, pm := range t.d.pms {
		out = append(out, pm.Clone())
	}
	slices.SortFunc(out, func(a, b Postmortem) int { return strings.Compare(a.IncidentID, b.IncidentID) })
	return out, nil
}

func (t *memTx) PutPostmortem(pm Postmortem) error {
	memPut(&t.undo.pms, t.d.pms, pm.IncidentID, pm.Clone())
	return nil
}

func (t *memTx) StatusUpdates(incidentID string, limit int) ([]StatusUpdate, error) {
	var out []StatusUpdate
	for _, u := range t.d.updates {
		if incidentID == "" || u.IncidentID == incidentID {
			out = append(out, u)
		}
	}
	return sortUpdates(out, limit), nil
}

func (t *memTx) PutStatusUpdate(u StatusUpdate) error {
	memPut(&t.undo.updates, t.d.updates, u.ID, u)
	return nil
}

func (t *memTx) Maintenances() ([]Maintenance, error) {
	return sortMaintenances(slices.Collect(maps.Values(t.d.maint))), nil
}

func (t *memTx) PutMaintenance(m Maintenance) error {
	memPut(&t.undo.maint, t.d.maint, m.ID, m)
	return nil
}

func (t *memTx) ActionItemReminders() ([]ActionItemReminder, error) {
	return slices.Collect(maps.Values(t.d.reminders)), nil
}

func (t *memTx) PutActionItemReminder(r ActionItemReminder) error {
	memPut(&t.undo.reminders, t.d.reminders, r.Key(), r)
	return nil
}
