package pager

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"reflect"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/watchdog-sre/watchdog/pager/channel"
)

// Runtime errors.
var (
	ErrRunning        = errors.New("pager already running")
	ErrNoChannel      = errors.New("no channel")
	ErrResolved       = errors.New("incident is resolved")
	ErrAlreadyMajor   = errors.New("incident is already major")
	ErrNotTriggered   = errors.New("incident is not triggered")
	ErrUnknownUser    = errors.New("unknown user")
	ErrUnknownTarget  = errors.New("unknown on-call target")
	ErrInvalidSilence = errors.New("invalid silence")
	// ErrBadSnooze: a snooze must end in the future, at most
	// Options.MaxSnooze from now.
	ErrBadSnooze = errors.New("invalid snooze")
)

// Defaults of the bounds in Options.
const (
	DefaultMaxSilenceDuration = 30 * 24 * time.Hour
	DefaultMaxSnooze          = 7 * 24 * time.Hour
)

// Options configure a Pager. Only Config is required.
type Options struct {
	// Config must have passed Validate.
	Config *Config
	// Store defaults to a new MemStore.
	Store Store
	// Channels deliver by name: a Notify with method "sms" goes through
	// Channels["sms"], a Forward through Channels[route channel name].
	// Build them from the config's channels section with BuildChannels.
	Channels map[string]channel.Channel
	// Retry is the delivery retry policy of channels without their own
	// (zero: channel package defaults).
	Retry channel.RetryPolicy
	// Workers bounds concurrent deliveries over all channels (default:
	// the config's delivery_workers, else DefaultDeliveryWorkers; at most
	// MaxDeliveryWorkers). Each channel is bounded further by its
	// max_concurrency and rate_limit (see ChannelDefaults).
	Workers int
	// Now is the clock (default time.Now). Timers use the time package,
	// so tests run under testing/synctest.
	Now func() time.Time
	// Logger defaults to discarding.
	Logger *slog.Logger
	// Metrics receives watchdog_pager_* counters; nil disables them.
	Metrics *metrics.Set
	// AckKey is the HMAC-SHA256 key of acknowledge links; empty disables
	// them (SignAck and VerifyAck return ErrNoAckKey). Links name the
	// incident's UID, so a link never acts on another incident.
	AckKey []byte
	// AckURL turns a signed token into the link put in pages (default:
	// ExternalURL + "/api/v1/pager/ack/" + token when ExternalURL is set).
	AckURL func(token string) string
	// AckTTL is how long an ack link stays valid (default 24h).
	AckTTL time.Duration
	// ExternalURL is the watchdog's public URL, passed to channels.
	ExternalURL string
	// MaxSilenceDuration bounds EndsAt - StartsAt of a new silence
	// (default DefaultMaxSilenceDuration).
	MaxSilenceDuration time.Duration
	// MaxSnooze bounds how far in the future a snooze may end (default
	// DefaultMaxSnooze).
	MaxSnooze time.Duration
	// Cluster, when set (the Store shared with other replicas, see
	// Cluster), makes this pager one replica of several: it accepts alerts
	// and actions always, and runs escalation and sends only while it
	// holds the lease. Nil: this pager is its store's only user.
	Cluster Cluster
	// Lease is how long a leader's lease lasts without renewal (default
	// DefaultLease); it is renewed every Lease/3. A leader that dies is
	// replaced within Lease plus one renewal interval.
	Lease time.Duration
	// Poll is how often a replica reads what the others committed
	// (default DefaultPoll).
	Poll time.Duration
}

// Pager is the paging runtime: it receives alerts, applies Step to
// incidents, commits to the Store and then delivers.
//
// A caller drives it like this:
//
//	cfg, err := pager.ParseConfig("watchdog.yml", data)
//	chans, err := cfg.BuildChannels(pager.SecretSource{})
//	p, err := pager.New(pager.Options{Config: cfg, Store: store, Channels: chans, AckKey: key})
//	go p.Run(ctx)                 // timers and deliveries; returns when ctx ends
//	err = p.Receive(alerts...)    // from the rule evaluator or an Alertmanager-style receiver
//	err = p.Ack(id, Actor{User: "alice", Via: ViaCLI})      // and Resolve, Snooze, Reassign, EscalateNow, Note, AckToken
//
// Every change is committed to the Store before the notifications it
// causes are handed to the workers. Changes made together share one
// transaction: all the incidents of one Receive call, the timers due at
// once, the delivery results at hand.
//
// All state transitions are serialised by one mutex, whichever goroutine
// makes them (Receive, an API call, Run's timer loop or its result
// recorder); Run alone owns the timer heap's firing and the delivery
// workers, and hands out committed deliveries without waiting for that
// mutex. The Pager caches the open incidents: it must be the only writer
// of its Store, unless the Store is a Cluster shared by replicas (see
// Options.Cluster), whose change numbers keep every replica's cache in
// step and whose writes read the incidents again when another replica
// wrote in between. Before Run starts,
// Receive and the API methods still commit state and queue deliveries in
// the Store; Run picks them up.
type Pager struct {
	o     Options
	cfg   atomic.Pointer[Config] // swapped by Reload
	ov    overlay                // cfg with the stored schedule overrides
	store Store
	now   func() time.Time
	log   *slog.Logger

	mu      sync.Mutex // serialises state transitions
	running bool

	rmu       sync.Mutex     // guards receiving; taken after mu or alone
	receiving []*receiveCall // Receive calls waiting for mu (group commit)

	smu    sync.Mutex // guards the scheduling state below; taken after mu, never before
	timers timerHeap
	outbox []Delivery // committed, not yet handed to a worker
	// snap holds the last committed state of each open incident for the
	// workers, which build messages from it without reading the Store
	// (not kept with a Cluster, whose other replicas write too).
	snap map[string]IncidentState
	done []deliveryResult // delivered, not yet recorded

	wake chan struct{} // buffer 1: something to dispatch or an earlier timer

	// open caches the open incidents and the silences (nil: load from
	// the Store on next use). Every incident write goes through applyAll,
	// which keeps it in step with what was committed.
	open *openCache

	// stuck holds the open incidents with no next step (a broken
	// invariant, see IncidentState.Stuck) and why; guarded by mu.
	// stuckN is its size, for the gauge.
	stuck  map[string]string
	stuckN atomic.Int64

	// replicas reconciles HA pairs' copies of alerts; guarded by mu.
	replicas replicas

	// ready is true while Run runs past its rebuild (Ready).
	ready atomic.Bool
	// leading is true while this replica holds the lease and escalates
	// (always equal to ready when not clustered).
	leading atomic.Bool
	// Cluster state (Options.Cluster): see cluster.go.
	//
	// term is the fencing token of the lease this replica escalates
	// under (0: it does not); guarded by mu. leaderWrite is the token
	// p.update fences its writes with: set, under mu, only while the
	// escalator steps incidents (timers, delivery results, rebuild).
	// seen is the change number the open-incident cache reflects;
	// guarded by mu.
	term, leaderWrite, seen int64
	// leaseEnd is when this replica stops escalating unless the lease is
	// renewed first (local monotonic clock; a time.Time).
	leaseEnd atomic.Value
	// followerOK: a follower's last campaign reached the database and
	// found a live leader.
	followerOK atomic.Bool
	// termN mirrors term for the gauge.
	termN atomic.Int64
	// fenced is set when the store refuses a write with ErrFenced: workers
	// send nothing more and Run returns.
	fenced atomic.Bool

	// subWake (buffer 1) wakes RunSubscribers; subLimiter bounds public
	// e-mail subscriptions.
	subWake    chan struct{}
	subLimiter subscribeLimiter
}

// New returns a Pager for o.
func New(o Options) (*Pager, error) {
	if o.Config == nil || o.Config.c == nil {
		return nil, ErrNotValidated
	}
	if o.Store == nil {
		o.Store = NewMemStore()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if o.Workers <= 0 {
		o.Workers = cmp.Or(o.Config.DeliveryWorkers, DefaultDeliveryWorkers)
	}
	o.Workers = min(o.Workers, MaxDeliveryWorkers)
	if o.AckTTL <= 0 {
		o.AckTTL = 24 * time.Hour
	}
	if o.MaxSilenceDuration <= 0 {
		o.MaxSilenceDuration = DefaultMaxSilenceDuration
	}
	if o.MaxSnooze <= 0 {
		o.MaxSnooze = DefaultMaxSnooze
	}
	if o.Lease <= 0 {
		o.Lease = DefaultLease
	}
	if o.Poll <= 0 {
		o.Poll = DefaultPoll
	}
	p := &Pager{o: o, store: o.Store, now: o.Now, log: o.Logger, wake: make(chan struct{}, 1), subWake: make(chan struct{}, 1),
		stuck: map[string]string{}, snap: map[string]IncidentState{}}
	p.cfg.Store(o.Config)
	if o.Metrics != nil {
		o.Metrics.GetOrCreateGauge("watchdog_pager_incidents_stuck", func() float64 { return float64(p.stuckN.Load()) })
		o.Metrics.GetOrCreateGauge("watchdog_pager_leader", func() float64 {
			if p.leading.Load() || o.Cluster == nil && p.ready.Load() {
				return 1
			}
			return 0
		})
		o.Metrics.GetOrCreateGauge("watchdog_pager_lease_token", func() float64 { return float64(p.termN.Load()) })
		// Export the delivery counters of every channel from the start.
		r := channel.NewRetrier(channel.RetrierOptions{Metrics: o.Metrics})
		for _, name := range slices.Sorted(maps.Keys(o.Channels)) {
			if ch := o.Channels[name]; ch != nil {
				r.Register(ch.Name())
			}
		}
	}
	for _, u := range o.Config.Users {
		for _, r := range u.rules() {
			if o.Channels[r.Method] == nil {
				p.log.Warn("pager: no channel for method", "method", r.Method, "user", u.Name)
			}
		}
	}
	return p, nil
}

// config returns the current configuration.
func (p *Pager) config() *Config { return p.cfg.Load() }

// Config returns the active configuration (the last one passed to New or
// Reload). It is immutable; do not modify it.
func (p *Pager) Config() *Config { return p.cfg.Load() }

// Wake makes Run re-check its timers now, as it does when something is
// committed. Tests that move a fake clock (Options.Now) call it after each
// move so that timers due at the new time fire; with a real clock it is
// never needed. It does not block and does nothing when Run is not running.
func (p *Pager) Wake() { p.signal() }

func (p *Pager) inc(name string) {
	if p.o.Metrics != nil {
		p.o.Metrics.GetOrCreateCounter(name).Inc()
	}
}

func (p *Pager) signal() {
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// change is one Step to make in a batch: ev applied to st. A new
// incident (opened) gets its ID in the batch's transaction, since Step
// must see it.
type change struct {
	st     IncidentState
	ev     Event
	opened bool
}

// apply runs Step on one incident and commits it; see applyAll.
func (p *Pager) apply(st IncidentState, ev Event, extra func(tx Tx) error) error {
	return p.applyAll([]change{{st: st, ev: ev}}, extra)
}

// applyAll runs Step on each change and commits the new states, their
// timeline entries and their deliveries in one transaction, with extra
// (if any) in the same transaction. Changes to the same incident chain:
// a later one sees the state an earlier one produced. Only after the
// commit are deliveries queued, timers set and the open-incident cache
// updated. p.mu must be held.
func (p *Pager) applyAll(cs []change, extra func(tx Tx) error) error {
	if len(cs) == 0 && extra == nil {
		return nil
	}
	now := p.now()
	base := p.config()
	cfg := base
	// result is one committed change: the new state and what the
	// bookkeeping after the commit needs of the old one (kept small: a
	// batch holds one per incident it touches).
	type result struct {
		nst       IncidentState
		oldStatus Status
		oldDue    time.Time
		opened    bool
	}
	var (
		res   = make([]result, 0, len(cs))
		added []Delivery
		ents  []TimelineEntry
		ds    []Delivery
	)
	var txVersion int64
	fresh := true
	err := p.update(func(tx Tx) error {
		res, added = res[:0], added[:0]
		if vt, ok := tx.(versionedTx); ok && p.o.Cluster != nil {
			// Another replica may have written since the cache was
			// filled: then read each incident again, under the write lock.
			txVersion = vt.TxVersion()
			fresh = p.open != nil && txVersion == p.seen+1
		}
		if extra != nil {
			if err := extra(tx); err != nil {
				return err
			}
		}
		// Escalation resolves schedules with the overrides stored now,
		// whichever replica added them.
		ovs, err := tx.Overrides()
		if err != nil {
			return fmt.Errorf("read overrides: %w", err)
		}
		cfg = p.ov.withOverrides(base, ovs)
		latest := map[string]int{} // incident ID → index in res
		var pend []Delivery        // of every change, added after the loop
		for _, c := range cs {
			st := c.st
			if _, chained := latest[st.ID]; !fresh && !chained {
				var skip bool
				var err error
				if st, c.opened, skip, err = reread(tx, cfg, c, now); err != nil {
					return err
				} else if skip {
					continue
				}
			}
			if c.opened {
				n, err := tx.NextID("incident")
				if err != nil {
					return fmt.Errorf("next incident id: %w", err)
				}
				st.ID = fmt.Sprintf("inc-%d", n)
				if st.UID == "" {
					st.UID = newUID()
				}
			} else if i, ok := latest[st.ID]; ok {
				st = res[i].nst
			}
			nst, acts := cfg.Step(st, now, c.ev)
			ents, ds = ents[:0], ds[:0]
			for _, a := range acts {
				switch a := a.(type) {
				case Record:
					ents = append(ents, a.Entry)
				case Notify:
					ds = append(ds, Delivery{Key: a.Key, IncidentID: nst.ID, Kind: KindNotify, User: a.User, Method: a.Method,
						Contact: a.Contact, Channel: a.Method, Event: channel.EventTrigger, CreatedAt: now, Status: DeliveryPending})
				case Forward:
					ds = append(ds, Delivery{Key: a.Key, IncidentID: nst.ID, Kind: KindForward, Channel: a.Channel,
						Event: a.Event, CreatedAt: now, Status: DeliveryPending})
				case WarRoomPost:
					ds = append(ds, Delivery{Key: a.Key, IncidentID: nst.ID, Kind: KindWarRoom, Channel: a.Channel,
						Event: channel.EventTrigger, CreatedAt: now, Status: DeliveryPending})
				}
			}
			if _, re := c.ev.(Reconfigured); re && len(ents) == 0 && len(ds) == 0 && !c.opened && reflect.DeepEqual(nst, st) {
				continue // a restart or reload that changes nothing here writes nothing
			}
			put := tx.PutIncident
			if o, ok := tx.(OwnedPutter); ok {
				put = o.PutIncidentOwned // nst is never modified: no copy needed
			}
			if err := put(nst); err != nil {
				return fmt.Errorf("put incident %s: %w", nst.ID, err)
			}
			if err := tx.AppendTimeline(ents...); err != nil {
				return fmt.Errorf("append timeline: %w", err)
			}
			pend = append(pend, ds...)
			latest[nst.ID] = len(res)
			res = append(res, result{nst: nst, oldStatus: st.Status, oldDue: st.NextDue(), opened: c.opened})
		}
		if added, err = addDeliveries(tx, pend, added); err != nil { // all at once: see DeliveryAdder
			return fmt.Errorf("add delivery: %w", err)
		}
		return nil
	})
	if err != nil {
		if errors.Is(err, ErrConflict) {
			p.open = nil // the store knows something the cache does not: reload
		}
		return err
	}
	for _, r := range res {
		if r.opened {
			p.inc("watchdog_pager_incidents_opened_total")
		}
		if r.oldStatus != r.nst.Status {
			p.inc(`watchdog_pager_incidents_total{status="` + string(r.nst.Status) + `"}`)
		}
		p.open.put(r.nst)
		p.trackStuck(r.nst.ID, r.nst.Open(), r.nst.Stuck)
		// A timer for the old due time is already in the heap.
		if due := r.nst.NextDue(); !due.IsZero() && (r.opened || !due.Equal(r.oldDue)) {
			p.push(due, r.nst.ID)
		}
	}
	if fresh && txVersion != 0 {
		p.seen = txVersion // else sync reads the gap (and these rows) again
	}
	p.smu.Lock()
	if p.o.Cluster == nil {
		for _, r := range res {
			if r.nst.Open() {
				p.snap[r.nst.ID] = r.nst
			} else {
				delete(p.snap, r.nst.ID)
			}
		}
	}
	if p.escalates() {
		p.outbox = append(p.outbox, added...)
	}
	p.smu.Unlock()
	p.signal()
	return nil
}

// trackStuck records whether incident id has no next step (reason not
// ""), logging an error when it becomes so. p.mu must be held.
func (p *Pager) trackStuck(id string, open bool, reason string) {
	if !open || reason == "" {
		if _, ok := p.stuck[id]; ok {
			delete(p.stuck, id)
			p.log.Info("pager: incident has a next step again", "incident", id)
		}
	} else if p.stuck[id] != reason {
		p.stuck[id] = reason
		p.log.Error("pager: open incident has no next step (broken invariant): nobody will be paged", "incident", id, "reason", reason)
	}
	p.stuckN.Store(int64(len(p.stuck)))
}

// maxGroupCommit bounds the alerts of concurrent Receive calls committed
// together in one transaction.
const maxGroupCommit = 20000

// receiveCall is one Receive waiting for its alerts to be committed.
type receiveCall struct {
	alerts []Alert
	done   chan error // buffer 1
}

// Receive routes alerts into incidents: each alert goes to the open
// incident of every route (and group) it matches, opening one when needed.
// Alerts whose EndsAt has passed resolve their counterparts. It commits
// every incident it changes in one transaction before returning; pages go
// out from Run. The pager copies the alerts' maps it keeps (ReceiveOwned
// does not).
//
// Concurrent calls are committed together (group commit): whichever call
// takes the state lock next applies the alerts of every call waiting, in
// the order they arrived (up to maxGroupCommit alerts), in one
// transaction, so that an incident that several calls touch is written
// once. Should that transaction fail, each call's alerts are applied on
// their own, so that one call's failure is not another's.
func (p *Pager) Receive(alerts ...Alert) error {
	own := make([]Alert, len(alerts))
	for i, a := range alerts { // copied before waiting for the state lock
		a.Labels, a.Annotations = maps.Clone(a.Labels), maps.Clone(a.Annotations)
		own[i] = a
	}
	return p.ReceiveOwned(own...)
}

// ReceiveOwned is Receive of alerts the caller hands over: the pager keeps
// their label and annotation maps instead of copies, so the caller must
// not modify them (nor the slice) afterwards. POST /api/v2/alerts, which
// decodes fresh maps for every request, receives this way.
func (p *Pager) ReceiveOwned(alerts ...Alert) error {
	call := &receiveCall{alerts: alerts, done: make(chan error, 1)}
	p.rmu.Lock()
	p.receiving = append(p.receiving, call)
	p.rmu.Unlock()
	p.mu.Lock()
	defer p.mu.Unlock()
	// More than maxGroupCommit alerts may wait ahead of this call: commit
	// batches from the front until an earlier holder of p.mu or this one
	// has committed it (it never waits for another, holding p.mu).
	for {
		select {
		case err := <-call.done:
			return err
		default:
			p.commitWaiting()
		}
	}
}

// commitWaiting commits the Receive calls at the front of p.receiving, up
// to maxGroupCommit alerts (at least one call), in one transaction, or each
// on its own should that fail, and tells each its result. p.mu must be held.
func (p *Pager) commitWaiting() {
	p.rmu.Lock()
	n, total := 0, 0
	for n < len(p.receiving) && (n == 0 || total+len(p.receiving[n].alerts) <= maxGroupCommit) {
		total += len(p.receiving[n].alerts)
		n++
	}
	if n == 0 {
		p.rmu.Unlock()
		panic("pager: a Receive call is neither waiting nor committed") // broken invariant
	}
	calls := slices.Clone(p.receiving[:n])
	p.receiving = slices.Delete(p.receiving, 0, n) // calls left wait for p.mu
	p.rmu.Unlock()
	if len(calls) == 1 {
		calls[0].done <- p.receive(calls[0].alerts)
		return
	}
	all := make([]Alert, 0, total)
	for _, c := range calls {
		all = append(all, c.alerts...)
	}
	if err := p.receive(all); err == nil {
		for _, c := range calls {
			c.done <- nil
		}
		return
	}
	for _, c := range calls {
		c.done <- p.receive(c.alerts)
	}
}

// receive is Receive of one batch. p.mu must be held.
func (p *Pager) receive(alerts []Alert) error {
	if err := p.loadOpen(); err != nil {
		return err
	}
	now := p.now()
	cfg := p.config()
	alerts = p.replicas.merge(cfg.ReplicaLabels, alerts, now, cfg.AlertTimeout())
	type group struct {
		m      RouteMatch
		alerts []IncidentAlert
	}
	groups := map[string]*group{}
	var keys []string
	var sup *suppressor
	if p.muting(now, cfg) {
		var batch []map[string]string
		for _, a := range alerts {
			if !a.Resolved(now) {
				batch = append(batch, a.Labels)
			}
		}
		sup = p.suppressor(now, cfg, batch)
	}
	for _, a := range alerts {
		p.inc("watchdog_pager_alerts_received_total")
		ms := cfg.Match(a.Labels)
		if len(ms) == 0 {
			p.inc("watchdog_pager_alerts_unrouted_total")
			continue
		}
		ia := IncidentAlert{Fingerprint: Fingerprint(a.Labels), Alert: a}
		ia.SuppressedBy = sup.by(a.Labels, ia.Fingerprint)
		for _, m := range ms {
			g := groups[m.GroupKey]
			if g == nil {
				g = &group{m: m}
				groups[m.GroupKey] = g
				keys = append(keys, m.GroupKey)
			}
			g.alerts = append(g.alerts, ia)
		}
	}
	sort.Strings(keys)
	cs := make([]change, 0, len(keys))
	for _, k := range keys {
		g := groups[k]
		if st, ok := p.open.byKey(k); ok {
			cs = append(cs, change{st: st, ev: AlertsChanged{Alerts: g.alerts}})
			continue
		}
		if !slices.ContainsFunc(g.alerts, func(a IncidentAlert) bool { return !a.Resolved(now) }) {
			continue
		}
		cs = append(cs, change{st: cfg.NewIncident("", g.m, now), ev: AlertsChanged{Alerts: g.alerts}, opened: true})
	}
	var errs []error
	if err := p.applyAll(cs, nil); err != nil {
		errs = append(errs, fmt.Errorf("receive %d group(s): %w", len(cs), err))
	}
	if err := p.resuppress(now); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// ackURL returns the signed acknowledge link of an incident for user and
// its token, or "" for both.
func (p *Pager) ackURL(incidentID, uid, user string, now time.Time) (link, token string) {
	if len(p.o.AckKey) == 0 {
		return "", ""
	}
	tok, err := p.SignAck(incidentID, uid, user, now.Add(p.o.AckTTL))
	if err != nil {
		return "", ""
	}
	switch {
	case p.o.AckURL != nil:
		return p.o.AckURL(tok), tok
	case p.o.ExternalURL != "":
		return strings.TrimSuffix(p.o.ExternalURL, "/") + "/api/v1/pager/ack/" + tok, tok
	}
	return "", tok
}

// NewIncident returns the state of a new incident with id for route match
// m, opened at now; feed its alerts to Step with AlertsChanged.
func (c *Config) NewIncident(id string, m RouteMatch, now time.Time) IncidentState {
	st := IncidentState{
		ID: id, GroupKey: m.GroupKey, Route: m.Route, Policy: m.EscalationPolicy, Channels: m.Channels,
		GroupLabels: m.GroupLabels, GroupWait: m.GroupWait, GroupInterval: m.GroupInterval, RepeatInterval: m.RepeatInterval,
		Status: StatusTriggered, CreatedAt: now, StartAt: now.Add(m.GroupWait),
	}
	st.Major = m.Major
	if m.Urgency == UrgencyLow {
		st.Urgency = UrgencyLow
	}
	if pol := c.Policy(m.EscalationPolicy); pol != nil && pol.Major {
		st.Major = true
	}
	if st.Major {
		policies, wr := c.majorSettings(m.Route, m.EscalationPolicy)
		for _, name := range policies {
			st.Parallel = append(st.Parallel, PolicyEscalation{Policy: name})
		}
		st.WarRoomChannel, st.BridgeURL = wr.Channel, wr.BridgeURL
	}
	return st
}

// update is the one way the pager writes to its store: a write refused
// with ErrFenced fences the pager off, whichever write it was. p.mu is held.
func (p *Pager) update(fn func(tx Tx) error) error {
	var err error
	if p.leaderWrite != 0 {
		err = p.o.Cluster.UpdateFenced(p.leaderWrite, fn)
	} else {
		err = p.store.Update(fn)
	}
	if errors.Is(err, ErrFenced) {
		p.fence(err)
	}
	return err
}

// fence stops this pager from sending after the store refused a write with
// ErrFenced: the cache is dropped, workers skip what they are handed (it
// stays pending in the store), and Run returns so that it can be run again
// from the store. p.mu is held.
func (p *Pager) fence(err error) {
	p.open = nil
	if p.fenced.CompareAndSwap(false, true) {
		p.log.Error("pager: fenced off the database: sending stops until the pager rebuilds from it", "err", err)
		p.signal()
	}
}
