package pagertest

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/common/model"

	"github.com/watchdog-sre/watchdog/pager"
	"github.com/watchdog-sre/watchdog/pager/channel"
)

// Outcome is what happened while a test ran.
type Outcome struct {
	// Pages are the notifications handed to channels, by time.
	Pages []Page
	// Forwards are the incident events handed to route channels, by time.
	Forwards []Forward
	// Problems are failures found while running, such as an action that
	// applied to no incident, formatted for the report.
	Problems []string
}

// settleTimeout bounds the real time the pager may take to become idle
// at one virtual instant.
const settleTimeout = 10 * time.Second

// maxSteps bounds the virtual instants one test visits.
const maxSteps = 100_000

// clock is the virtual clock handed to the Pager as Options.Now.
type clock struct{ ns atomic.Int64 }

func (c *clock) now() time.Time  { return time.Unix(0, c.ns.Load()).UTC() }
func (c *clock) set(t time.Time) { c.ns.Store(t.UnixNano()) }

// recorder stands in for every channel and notes each handoff.
type recorder struct {
	clk   *clock
	start time.Time

	mu       sync.Mutex
	pages    []Page
	forwards []Forward
}

type recChannel struct {
	r    *recorder
	name string
}

func (c recChannel) Name() string { return c.name }

func (c recChannel) Send(_ context.Context, m channel.Message) (bool, error) {
	at := c.r.clk.now().Sub(c.r.start)
	c.r.mu.Lock()
	defer c.r.mu.Unlock()
	if m.Recipient.Name != "" {
		c.r.pages = append(c.r.pages, Page{At: at, User: m.Recipient.Name, Method: c.name, Incident: m.IncidentID})
	} else {
		c.r.forwards = append(c.r.forwards, Forward{At: at, Channel: c.name, Event: m.Event, Incident: m.IncidentID})
	}
	return false, nil
}

// scripted is one alert or action at an offset.
type scripted struct {
	at   time.Duration
	kind int // 0 alerts, 1 actions: alerts come first at an instant
	seq  int // file order
	do   func() []string
}

// Simulate runs test t against cfg: a pager.Pager built by pager.New over
// a fresh MemStore, with a virtual clock and recording channels, driven
// by its own Run loop. It returns an error when the pager cannot be run
// (it does not settle, or the run needs too many steps).
func Simulate(ctx context.Context, cfg *pager.Config, t *Test) (*Outcome, error) {
	clk := &clock{}
	clk.set(t.StartTime)
	rec := &recorder{clk: clk, start: t.StartTime}
	chans := map[string]channel.Channel{}
	for _, m := range methods {
		chans[m] = recChannel{r: rec, name: m}
	}
	for _, c := range cfg.Channels {
		chans[c.Name] = recChannel{r: rec, name: c.Name}
	}
	store := pager.NewMemStore()
	// One worker hands deliveries over in commit order.
	p, err := pager.New(pager.Options{Config: cfg, Store: store, Channels: chans, Now: clk.now, Workers: 1,
		Retry: channel.RetryPolicy{MaxAttempts: 1}})
	if err != nil {
		return nil, fmt.Errorf("new pager: %w", err)
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	defer func() {
		cancel()
		<-done
	}()

	o := &Outcome{}
	events := script(p, t)
	var now time.Duration
	for steps, i := 0, 0; ; steps++ {
		if err := settle(ctx, store, clk.now()); err != nil {
			return nil, fmt.Errorf("at %s: %w", model.Duration(now), err)
		}
		if steps > maxSteps {
			return nil, fmt.Errorf("more than %d steps by %s: is something due at every instant?", maxSteps, model.Duration(now))
		}
		next, found := t.Until+1, false
		if i < len(events) {
			next, found = events[i].at, true
		}
		due, err := nextDue(store)
		if err != nil {
			return nil, err
		}
		if !due.IsZero() && due.Sub(t.StartTime) < next {
			next, found = max(due.Sub(t.StartTime), now), true
		}
		if !found || next > t.Until {
			break
		}
		now = next
		clk.set(t.StartTime.Add(now))
		// Wake Run so that it fires the timers due now.
		p.Wake()
		if err := settle(ctx, store, clk.now()); err != nil {
			return nil, fmt.Errorf("at %s: %w", model.Duration(now), err)
		}
		for ; i < len(events) && events[i].at == now; i++ {
			o.Problems = append(o.Problems, events[i].do()...)
		}
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	o.Pages, o.Forwards = rec.pages, rec.forwards
	slices.SortStableFunc(o.Pages, func(a, b Page) int { return cmp.Compare(a.At, b.At) })
	slices.SortStableFunc(o.Forwards, func(a, b Forward) int { return cmp.Compare(a.At, b.At) })
	return o, nil
}

// script turns the test's alerts and actions into timed steps.
func script(p *pager.Pager, t *Test) []scripted {
	var out []scripted
	for _, a := range t.Alerts {
		alert := pager.Alert{Labels: a.Labels, Annotations: a.Annotations, StartsAt: t.StartTime.Add(a.At)}
		line, at := a.Line, a.At
		out = append(out, scripted{at: at, seq: len(out), do: func() []string {
			if err := p.Receive(alert); err != nil {
				return []string{fmt.Sprintf("    alert (line %d) at %s: %v", line, model.Duration(at), err)}
			}
			return nil
		}})
		if a.ResolveAt > 0 {
			resolved := alert
			resolved.EndsAt = t.StartTime.Add(a.ResolveAt)
			at := a.ResolveAt
			out = append(out, scripted{at: at, seq: len(out), do: func() []string {
				if err := p.Receive(resolved); err != nil {
					return []string{fmt.Sprintf("    alert resolve (line %d) at %s: %v", line, model.Duration(at), err)}
				}
				return nil
			}})
		}
	}
	for _, a := range t.Actions {
		out = append(out, scripted{at: a.At, kind: 1, seq: len(out), do: func() []string { return act(p, t, a) }})
	}
	slices.SortStableFunc(out, func(x, y scripted) int {
		return cmp.Or(cmp.Compare(x.at, y.at), cmp.Compare(x.kind, y.kind), cmp.Compare(x.seq, y.seq))
	})
	return out
}

// act performs one action on the incidents it applies to.
func act(p *pager.Pager, t *Test, a Action) []string {
	what := fmt.Sprintf("    action (line %d) at %s: %s", a.Line, model.Duration(a.At), a.Verb)
	ids := []string{a.Incident}
	if a.Incident == "" {
		statuses := []pager.Status{pager.StatusTriggered, pager.StatusAcknowledged}
		if a.Verb == VerbAck {
			statuses = statuses[:1]
		}
		open, err := p.Incidents(pager.IncidentFilter{Statuses: statuses})
		if err != nil {
			return []string{fmt.Sprintf("%s: %v", what, err)}
		}
		if len(open) == 0 {
			kind := "open"
			if a.Verb == VerbAck {
				kind = "triggered"
			}
			return []string{fmt.Sprintf("%s: no %s incident", what, kind)}
		}
		ids = ids[:0]
		for _, st := range open {
			ids = append(ids, st.ID)
		}
		slices.SortFunc(ids, compareIDs)
	}
	var msgs []string
	by := pager.Actor{User: a.By}
	for _, id := range ids {
		var err error
		switch a.Verb {
		case VerbAck:
			err = p.Ack(id, by)
		case VerbResolve:
			err = p.Resolve(id, by)
		case VerbEscalate:
			err = p.EscalateNow(id, by)
		case VerbNote:
			err = p.Note(id, by, a.Text)
		case VerbSnooze:
			err = p.Snooze(id, by, t.StartTime.Add(a.Until))
		case VerbReassign:
			err = p.Reassign(id, by, a.To)
		default:
			panic("BUG: pagertest: unknown verb " + a.Verb)
		}
		if err != nil {
			msgs = append(msgs, fmt.Sprintf("%s: %v", what, err))
		}
	}
	return msgs
}

// compareIDs orders inc-2 before inc-10.
func compareIDs(a, b string) int {
	na, errA := strconv.Atoi(strings.TrimPrefix(a, "inc-"))
	nb, errB := strconv.Atoi(strings.TrimPrefix(b, "inc-"))
	if errA == nil && errB == nil {
		return cmp.Compare(na, nb)
	}
	return strings.Compare(a, b)
}

var openStatuses = pager.IncidentFilter{Statuses: []pager.Status{pager.StatusTriggered, pager.StatusAcknowledged}}

// nextDue returns the earliest NextDue of the open incidents, or zero.
func nextDue(store pager.Store) (time.Time, error) {
	var due time.Time
	err := store.View(func(tx pager.ReadTx) error {
		open, err := tx.Incidents(openStatuses)
		for _, st := range open {
			if d := st.NextDue(); !d.IsZero() && (due.IsZero() || d.Before(due)) {
				due = d
			}
		}
		return err
	})
	return due, err
}

// idle reports whether the pager has nothing left to do at now: no
// delivery is pending and no open incident is due.
func idle(store pager.Store, now time.Time) (bool, error) {
	ok := true
	err := store.View(func(tx pager.ReadTx) error {
		pending, err := tx.Deliveries(pager.DeliveryFilter{Status: pager.DeliveryPending})
		if err != nil {
			return err
		}
		if len(pending) > 0 {
			ok = false
			return nil
		}
		open, err := tx.Incidents(openStatuses)
		for _, st := range open {
			if d := st.NextDue(); !d.IsZero() && !d.After(now) {
				ok = false
			}
		}
		return err
	})
	return ok, err
}

// settle waits until the pager is idle at now.
func settle(ctx context.Context, store pager.Store, now time.Time) error {
	deadline := time.Now().Add(settleTimeout)
	for wait := time.Microsecond; ; wait = min(2*wait, time.Millisecond) {
		ok, err := idle(store, now)
		if err != nil {
			return err
		}
		if ok {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%w within %s", errNotSettled, settleTimeout)
		}
		if ctx.Err() != nil {
			return errors.Join(errNotSettled, ctx.Err())
		}
		time.Sleep(wait)
	}
}
