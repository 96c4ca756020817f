package checkin

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/prometheus/prometheus/model/labels"

	"github.com/watchdog-sre/watchdog/rules/alertmanager"
)

// ErrNotFound is returned by Ping for an unknown heartbeat and for a wrong
// token alike, so that a caller cannot tell which heartbeats exist.
var ErrNotFound = errors.New("no such heartbeat, or wrong token")

// Defaults of Options.
const (
	DefaultResendInterval = time.Minute
	DefaultSeriesInterval = 15 * time.Second
	DefaultSaveDelay      = time.Second
)

// Appender is the store's appender (tsdb.Appender satisfies it).
type Appender interface {
	Append(ref uint64, l labels.Labels, t int64, v float64) (uint64, error)
	Commit() error
	Rollback() error
}

// NotifyFunc receives alerts: firing ones (EndsAt in the future, resent
// every ResendInterval while they fire) and resolved ones (EndsAt now).
// It must not block (hand them to a queue).
type NotifyFunc func(alerts ...alertmanager.Alert)

// Options configures a Runner. The zero value is usable: no alerts, no
// series, no persistence, the real clock.
type Options struct {
	// Notify receives the alerts; nil drops them.
	Notify NotifyFunc
	// Appender returns a fresh store appender for one write of the series;
	// nil writes none.
	Appender func() Appender
	// StatePath is the file the states are kept in ("" keeps them in
	// memory only). It is written by temp file, fsync and rename.
	StatePath string
	// GeneratorURL is the alerts' link (the heartbeats console page).
	GeneratorURL string
	// ResendInterval is how often firing alerts are sent again (default 1m);
	// they are valid for four times as long.
	ResendInterval time.Duration
	// SeriesInterval is how often the series are written (default 15s).
	SeriesInterval time.Duration
	// SaveDelay is the longest a check-in waits to be written to StatePath
	// (default 1s): a flood of check-ins writes the file at most once per
	// SaveDelay.
	SaveDelay time.Duration
	// Now is the clock; nil is time.Now.
	Now func() time.Time
	// Metrics receives watchdog_checkin_pings_total{result}; nil uses a
	// private set.
	Metrics *metrics.Set
	// Logger; nil discards.
	Logger *slog.Logger
}

// entry is one heartbeat: its spec, state and the labels of its firing
// alert (kept so that a resolve matches the alert it ends).
type entry struct {
	spec      Spec
	tokenHash [sha256.Size]byte
	state     State
	firing    map[string]string // labels of the alert sent firing; nil: none
}

// Runner holds the heartbeats. Ping, Apply and List may be called from any
// goroutine; Run is the one goroutine that steps them with time.
type Runner struct {
	opts     Options
	accepted *metrics.Counter
	refused  *metrics.Counter

	mu      sync.Mutex
	entries map[string]*entry
	loaded  map[string]State // persisted states not yet claimed by Apply
	dirty   bool             // states changed since the last save
	wake    chan struct{}    // buffer 1: a ping or Apply changed deadlines
}

// New returns a Runner, loading the states persisted at opts.StatePath. An
// unreadable or corrupt file is moved aside (to .corrupt) and logged, not
// fatal: the heartbeats start afresh.
func New(opts Options) *Runner {
	if opts.ResendInterval <= 0 {
		opts.ResendInterval = DefaultResendInterval
	}
	if opts.SeriesInterval <= 0 {
		opts.SeriesInterval = DefaultSeriesInterval
	}
	if opts.SaveDelay <= 0 {
		opts.SaveDelay = DefaultSaveDelay
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Metrics == nil {
		opts.Metrics = metrics.NewSet()
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	r := &Runner{
		opts:     opts,
		accepted: opts.Metrics.GetOrCreateCounter(`watchdog_checkin_pings_total{result="accepted"}`),
		refused:  opts.Metrics.GetOrCreateCounter(`watchdog_checkin_pings_total{result="refused"}`),
		entries:  map[string]*entry{},
		wake:     make(chan struct{}, 1),
	}
	if opts.StatePath != "" {
		states, err := load(opts.StatePath)
		if err != nil {
			opts.Logger.Error("heartbeat states lost: the file is moved aside and every heartbeat starts afresh",
				"path", opts.StatePath, "err", err)
			moveAside(opts.StatePath, opts.Logger)
		}
		r.loaded = states
	}
	return r
}

// Apply sets the configured heartbeats. A heartbeat that stays keeps its
// state (also one loaded from StatePath); a new one starts now; a removed
// one is forgotten and its alert resolved.
func (r *Runner) Apply(specs []Spec) {
	now := r.opts.Now()
	var out []alertmanager.Alert
	r.mu.Lock()
	next := make(map[string]*entry, len(specs))
	for _, s := range specs {
		e := &entry{spec: s, tokenHash: sha256.Sum256([]byte(s.Token))}
		switch old, ok := r.entries[s.Name]; {
		case ok:
			e.state, e.firing = old.state, old.firing
		default:
			if st, ok := r.loaded[s.Name]; ok {
				e.state = st
			} else {
				e.state = State{Created: now}
			}
		}
		if e.firing != nil && !maps.Equal(e.firing, r.alertLabels(s, e.state.Alert)) {
			out = append(out, r.resolved(e.firing, e.state, now)) // labels changed: end the old alert
			e.firing = nil
		}
		next[s.Name] = e
	}
	for name, old := range r.entries {
		if _, ok := next[name]; !ok && old.firing != nil {
			out = append(out, r.resolved(old.firing, old.state, now))
		}
	}
	r.entries, r.loaded, r.dirty = next, nil, true
	r.mu.Unlock()
	r.notify(out)
	r.poke()
}

// Ping records a check-in of kind (Success, Fail or Start) with message for
// the heartbeat name if token is its token; else ErrNotFound. It returns
// the heartbeat's status after the check-in.
func (r *Runner) Ping(name, token string, kind Kind, message string) (Status, error) {
	h := sha256.Sum256([]byte(token))
	r.mu.Lock()
	e, ok := r.entries[name]
	want := [sha256.Size]byte{} // compare against something even when unknown
	if ok {
		want = e.tokenHash
	}
	if subtle.ConstantTimeCompare(h[:], want[:]) != 1 || !ok || kind == Tick {
		r.mu.Unlock()
		r.refused.Inc()
		return "", ErrNotFound
	}
	now := r.opts.Now()
	var out []alertmanager.Alert
	var c Change
	e.state, c = Step(e.state, e.spec, Event{Kind: kind, Message: message}, now)
	out = r.apply(e, c, now, out)
	st := e.state.Status(e.spec, now)
	r.dirty = true
	r.mu.Unlock()
	r.accepted.Inc()
	r.notify(out)
	r.poke()
	return st, nil
}

// apply turns a Change of e into alerts, appended to out. r.mu is held.
func (r *Runner) apply(e *entry, c Change, now time.Time, out []alertmanager.Alert) []alertmanager.Alert {
	if c.Resolved != AlertNone {
		lbls := e.firing
		if lbls == nil { // fired before a restart, not sent by this process yet
			lbls = r.alertLabels(e.spec, c.Resolved)
		}
		out = append(out, r.resolved(lbls, e.state, now))
		e.firing = nil
	}
	if c.Fired != AlertNone {
		e.firing = r.alertLabels(e.spec, c.Fired)
		out = append(out, r.firingAlert(e, now))
	}
	return out
}

func (r *Runner) alertLabels(s Spec, a Alert) map[string]string {
	if a == AlertNone {
		return nil
	}
	l := make(map[string]string, len(s.Labels)+2)
	maps.Copy(l, s.Labels)
	l["alertname"], l["heartbeat"] = string(a), s.Name
	return l
}

func (r *Runner) firingAlert(e *entry, now time.Time) alertmanager.Alert {
	ann := make(map[string]string, len(e.spec.Annotations)+2)
	switch e.state.Alert {
	case AlertMissed:
		last := "never"
		if !e.state.LastSuccess.IsZero() {
			last = e.state.LastSuccess.UTC().Format(time.RFC3339)
		}
		ann["summary"] = "Heartbeat " + e.spec.Name + " missed its check-in"
		ann["description"] = "No successful check-in within period " + e.spec.Period.String() +
			" + grace " + e.spec.Grace.String() + "; last success: " + last + "."
	case AlertFailed:
		ann["summary"] = "Heartbeat " + e.spec.Name + " reported a failure"
		ann["description"] = "The job reported failure at " + e.state.LastFailure.UTC().Format(time.RFC3339) + "."
	}
	if e.state.Message != "" {
		ann["message"] = e.state.Message
	}
	maps.Copy(ann, e.spec.Annotations)
	return alertmanager.Alert{Labels: e.firing, Annotations: ann, StartsAt: e.state.AlertSince,
		EndsAt: now.Add(4 * r.opts.ResendInterval), GeneratorURL: r.opts.GeneratorURL}
}

func (r *Runner) resolved(lbls map[string]string, s State, now time.Time) alertmanager.Alert {
	return alertmanager.Alert{Labels: lbls, StartsAt: s.AlertSince, EndsAt: now, GeneratorURL: r.opts.GeneratorURL}
}

func (r *Runner) notify(alerts []alertmanager.Alert) {
	if len(alerts) > 0 && r.opts.Notify != nil {
		r.opts.Notify(alerts...)
	}
}

func (r *Runner) poke() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// Info is a heartbeat as List shows it (never its token).
type Info struct {
	Spec   Spec // Token cleared
	State  State
	Status Status
	// NextDue is when the next success is due.
	NextDue time.Time
}

// List returns the heartbeats sorted by name, tokens left out.
func (r *Runner) List() []Info {
	now := r.opts.Now()
	r.mu.Lock()
	out := make([]Info, 0, len(r.entries))
	for _, e := range r.entries {
		s := e.spec
		s.Token = ""
		out = append(out, Info{Spec: s, State: e.state, Status: e.state.Status(e.spec, now), NextDue: e.state.Due(e.spec)})
	}
	r.mu.Unlock()
	slices.SortFunc(out, func(a, b Info) int {
		if a.Spec.Name < b.Spec.Name {
			return -1
		}
		if a.Spec.Name > b.Spec.Name {
			return 1
		}
		return 0
	})
	return out
}

// Run steps the heartbeats with time until ctx is done: it fires the alerts
// of missed check-ins when their grace runs out, resends firing alerts,
// writes the series and saves the states (once more on the way out).
func (r *Runner) Run(ctx context.Context) {
	var lastResend, lastSeries, lastSave time.Time
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			r.save()
			return
		case <-timer.C:
		case <-r.wake:
		}
		now := r.opts.Now()
		next := r.tick(now, !now.Before(lastResend.Add(r.opts.ResendInterval)))
		if !now.Before(lastResend.Add(r.opts.ResendInterval)) {
			lastResend = now
		}
		if !now.Before(lastSeries.Add(r.opts.SeriesInterval)) {
			r.writeSeries(now)
			lastSeries = now
		}
		wait := min(lastResend.Add(r.opts.ResendInterval).Sub(now), lastSeries.Add(r.opts.SeriesInterval).Sub(now))
		if r.isDirty() {
			if d := lastSave.Add(r.opts.SaveDelay).Sub(now); d > 0 {
				wait = min(wait, d)
			} else {
				r.save()
				lastSave = now
			}
		}
		if !next.IsZero() {
			wait = min(wait, next.Sub(now))
		}
		timer.Reset(max(wait, 0))
	}
}

// tick steps every heartbeat to now, sends the alerts that changed (and,
// with resend, every firing one) and returns the earliest next change.
func (r *Runner) tick(now time.Time, resend bool) time.Time {
	var out []alertmanager.Alert
	var next time.Time
	r.mu.Lock()
	for _, e := range r.entries {
		var c Change
		e.state, c = Step(e.state, e.spec, Event{Kind: Tick}, now)
		if c != (Change{}) {
			r.dirty = true
			out = r.apply(e, c, now, out)
		} else if e.state.Alert != AlertNone && (resend || e.firing == nil) {
			// firing nil: a state loaded with its alert on, not sent by this process yet
			if e.firing == nil {
				e.firing = r.alertLabels(e.spec, e.state.Alert)
			}
			out = append(out, r.firingAlert(e, now))
		}
		if n := e.state.Next(e.spec, now); !n.IsZero() && (next.IsZero() || n.Before(next)) {
			next = n
		}
	}
	r.mu.Unlock()
	r.notify(out)
	return next
}

func (r *Runner) isDirty() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.dirty
}
