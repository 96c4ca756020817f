package pager

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/prometheus/prometheus/model/labels"

	"github.com/watchdog-sre/watchdog/pager/channel"
)

// Runtime errors.
var (
	ErrRunning        = errors.New("pager already running")
	ErrNoChannel      = errors.New("no channel")
	ErrResolved       = errors.New("incident is resolved")
	ErrNotTriggered   = errors.New("incident is not triggered")
	ErrUnknownUser    = errors.New("unknown user")
	ErrUnknownTarget  = errors.New("unknown on-call target")
	ErrInvalidSilence = errors.New("invalid silence")
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
	// Workers bounds concurrent deliveries (default 4).
	Workers int
	// Now is the clock (default time.Now). Timers use the time package,
	// so tests run under testing/synctest.
	Now func() time.Time
	// Logger defaults to discarding.
	Logger *slog.Logger
	// Metrics receives watchdog_pager_* counters; nil disables them.
	Metrics *metrics.Set
	// AckKey is the HMAC-SHA256 key of acknowledge links; empty disables
	// them (SignAck and VerifyAck return ErrNoAckKey).
	AckKey []byte
	// AckURL turns a signed token into the link put in pages (default:
	// ExternalURL + "/api/v1/pager/ack/" + token when ExternalURL is set).
	AckURL func(token string) string
	// AckTTL is how long an ack link stays valid (default 24h).
	AckTTL time.Duration
	// ExternalURL is the watchdog's public URL, passed to channels.
	ExternalURL string
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
//	err = p.Ack(id, "alice")      // and Resolve, Snooze, Reassign, EscalateNow, Note, AckToken
//
// Every change is committed to the Store (one transaction per Step)
// before the notifications it causes are handed to the workers.
//
// All state transitions are serialised by one mutex, whichever goroutine
// makes them (Receive, an API call, or Run's timer loop); Run alone owns
// the timer heap's firing and the delivery workers. Before Run starts,
// Receive and the API methods still commit state and queue deliveries in
// the Store; Run picks them up.
type Pager struct {
	o     Options
	cfg   atomic.Pointer[Config] // swapped by Reload
	store Store
	now   func() time.Time
	log   *slog.Logger

	mu      sync.Mutex
	timers  timerHeap
	outbox  []Delivery
	running bool

	wake chan struct{} // buffer 1: something to dispatch or an earlier timer
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
		o.Workers = 4
	}
	if o.AckTTL <= 0 {
		o.AckTTL = 24 * time.Hour
	}
	p := &Pager{o: o, store: o.Store, now: o.Now, log: o.Logger, wake: make(chan struct{}, 1)}
	p.cfg.Store(o.Config)
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

// apply runs Step on the incident and commits the new state, its timeline
// entries and its deliveries in one transaction, with extra (if any) in
// the same transaction. Only after the commit are deliveries queued and
// the timer set. p.mu must be held.
func (p *Pager) apply(st IncidentState, ev Event, extra func(tx Tx) error) (IncidentState, error) {
	now := p.now()
	nst, acts := p.config().Step(st, now, ev)
	var entries []TimelineEntry
	var ds []Delivery
	for _, a := range acts {
		switch a := a.(type) {
		case Record:
			entries = append(entries, a.Entry)
		case Notify:
			ds = append(ds, Delivery{Key: a.Key, IncidentID: nst.ID, Kind: KindNotify, User: a.User, Method: a.Method,
				Contact: a.Contact, Channel: a.Method, Event: channel.EventTrigger, CreatedAt: now, Status: DeliveryPending})
		case Forward:
			ds = append(ds, Delivery{Key: a.Key, IncidentID: nst.ID, Kind: KindForward, Channel: a.Channel,
				Event: a.Event, CreatedAt: now, Status: DeliveryPending})
		}
	}
	var added []Delivery
	err := p.store.Update(func(tx Tx) error {
		added = added[:0]
		if extra != nil {
			if err := extra(tx); err != nil {
				return err
			}
		}
		if err := tx.PutIncident(nst); err != nil {
			return fmt.Errorf("put incident: %w", err)
		}
		if err := tx.AppendTimeline(entries...); err != nil {
			return fmt.Errorf("append timeline: %w", err)
		}
		for _, d := range ds {
			ok, err := tx.AddDelivery(d)
			if err != nil {
				return fmt.Errorf("add delivery: %w", err)
			}
			if ok {
				added = append(added, d)
			}
		}
		return nil
	})
	if err != nil {
		return st, err
	}
	if st.Status != nst.Status {
		p.inc(`watchdog_pager_incidents_total{status="` + string(nst.Status) + `"}`)
	}
	p.outbox = append(p.outbox, added...)
	if due := nst.NextDue(); !due.IsZero() {
		p.push(due, nst.ID)
	}
	p.signal()
	return nst, nil
}

// Receive routes alerts into incidents: each alert goes to the open
// incident of every route (and group) it matches, opening one when needed.
// Alerts whose EndsAt has passed resolve their counterparts. It commits
// before returning; pages go out from Run.
func (p *Pager) Receive(alerts ...Alert) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.now()
	type group struct {
		m      RouteMatch
		alerts []IncidentAlert
	}
	groups := map[string]*group{}
	var keys []string
	var batch []map[string]string
	for _, a := range alerts {
		if !a.Resolved(now) {
			batch = append(batch, a.Labels)
		}
	}
	sup, err := p.suppressor(now, batch)
	if err != nil {
		return err
	}
	for _, a := range alerts {
		p.inc("watchdog_pager_alerts_received_total")
		ms := p.config().Match(a.Labels)
		if len(ms) == 0 {
			p.inc("watchdog_pager_alerts_unrouted_total")
			continue
		}
		ia := IncidentAlert{Fingerprint: Fingerprint(a.Labels), Alert: a}
		ia.SuppressedBy = sup.by(a.Labels)
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
	var errs []error
	for _, k := range keys {
		g := groups[k]
		if err := p.receiveGroup(now, g.m, g.alerts); err != nil {
			errs = append(errs, fmt.Errorf("group %s: %w", k, err))
		}
	}
	if err := p.resuppress(now); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

func (p *Pager) receiveGroup(now time.Time, m RouteMatch, alerts []IncidentAlert) error {
	var st IncidentState
	err := p.store.View(func(tx ReadTx) error {
		var err error
		st, err = tx.OpenIncident(m.GroupKey)
		return err
	})
	switch {
	case errors.Is(err, ErrNotFound):
		firing := false
		for _, a := range alerts {
			firing = firing || !a.Resolved(now)
		}
		if !firing {
			return nil
		}
		st = p.config().NewIncident("", m, now)
		// The ID is allocated in its own transaction: Step must see it.
		// A failed apply wastes a number, which is harmless.
		if err := p.store.Update(func(tx Tx) error {
			n, err := tx.NextID("incident")
			st.ID = fmt.Sprintf("inc-%d", n)
			return err
		}); err != nil {
			return fmt.Errorf("next incident id: %w", err)
		}
		p.inc("watchdog_pager_incidents_opened_total")
		_, err = p.apply(st, AlertsChanged{Alerts: alerts}, nil)
		return err
	case err != nil:
		return err
	}
	_, err = p.apply(st, AlertsChanged{Alerts: alerts}, nil)
	return err
}

// suppression sources: active silences and firing alerts.
type suppressor struct {
	cfg      *Config
	silences []compiledSilence
	sources  []map[string]string
}

type compiledSilence struct {
	id       string
	matchers []*labels.Matcher
}

// by returns why lset is muted, or "".
func (s *suppressor) by(lset map[string]string) string {
	for _, sil := range s.silences {
		ok := true
		for _, m := range sil.matchers {
			if !m.Matches(lset[m.Name]) {
				ok = false
				break
			}
		}
		if ok {
			return "silence:" + sil.id
		}
	}
	if fp, ok := s.cfg.Inhibited(lset, s.sources); ok {
		return "inhibit:" + fp
	}
	return ""
}

// suppressor loads the active silences and the firing alerts of open
// incidents, plus extra (a batch being received).
func (p *Pager) suppressor(now time.Time, extra []map[string]string) (*suppressor, error) {
	s := &suppressor{cfg: p.config(), sources: extra}
	err := p.store.View(func(tx ReadTx) error {
		sils, err := tx.Silences()
		if err != nil {
			return err
		}
		for _, sil := range sils {
			if !sil.Active(now) {
				continue
			}
			cs := compiledSilence{id: sil.ID}
			for _, m := range sil.Matchers {
				lm, err := ParseMatcher(m)
				if err != nil {
					cs.matchers = nil
					break
				}
				cs.matchers = append(cs.matchers, lm)
			}
			if len(cs.matchers) > 0 {
				s.silences = append(s.silences, cs)
			}
		}
		open, err := tx.Incidents(IncidentFilter{Statuses: []Status{StatusTriggered, StatusAcknowledged}})
		if err != nil {
			return err
		}
		for _, st := range open {
			for _, a := range st.Alerts {
				if !a.Ended && !a.Resolved(now) {
					s.sources = append(s.sources, a.Labels)
				}
			}
		}
		return nil
	})
	return s, err
}

// resuppress recomputes SuppressedBy for every alert of every open
// incident and feeds changes to Step. p.mu must be held.
func (p *Pager) resuppress(now time.Time) error {
	sup, err := p.suppressor(now, nil)
	if err != nil {
		return err
	}
	var open []IncidentState
	if err := p.store.View(func(tx ReadTx) error {
		open, err = tx.Incidents(IncidentFilter{Statuses: []Status{StatusTriggered, StatusAcknowledged}})
		return err
	}); err != nil {
		return err
	}
	var errs []error
	for _, st := range open {
		var changed []IncidentAlert
		for _, a := range st.Alerts {
			if a.Ended {
				continue
			}
			if by := sup.by(a.Labels); by != a.SuppressedBy {
				a.SuppressedBy = by
				changed = append(changed, a)
			}
		}
		if len(changed) > 0 {
			if _, err := p.apply(st, AlertsChanged{Alerts: changed}, nil); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

// ackURL returns the signed acknowledge link for user, or "".
func (p *Pager) ackURL(incidentID, user string, now time.Time) string {
	if len(p.o.AckKey) == 0 {
		return ""
	}
	tok, err := p.SignAck(incidentID, user, now.Add(p.o.AckTTL))
	if err != nil {
		return ""
	}
	switch {
	case p.o.AckURL != nil:
		return p.o.AckURL(tok)
	case p.o.ExternalURL != "":
		return strings.TrimSuffix(p.o.ExternalURL, "/") + "/api/v1/pager/ack/" + tok
	}
	return ""
}

// NewIncident returns the state of a new incident with id for route match
// m, opened at now; feed its alerts to Step with AlertsChanged.
func (c *Config) NewIncident(id string, m RouteMatch, now time.Time) IncidentState {
	st := IncidentState{
		ID: id, GroupKey: m.GroupKey, Route: m.Route, Policy: m.EscalationPolicy, Channels: m.Channels,
		GroupLabels: m.GroupLabels, GroupWait: m.GroupWait, GroupInterval: m.GroupInterval, RepeatInterval: m.RepeatInterval,
		Status: StatusTriggered, CreatedAt: now, StartAt: now.Add(m.GroupWait),
	}
	if pol := c.Policy(m.EscalationPolicy); pol != nil {
		st.Major = pol.Major
	}
	return st
}

// Reload switches to a new validated config. Open incidents keep the route
// settings they were opened with; policies, users and schedules are looked
// up in the new config from their next step on.
func (p *Pager) Reload(c *Config) error {
	if c == nil || c.c == nil {
		return ErrNotValidated
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cfg.Store(c)
	p.signal()
	return nil
}
