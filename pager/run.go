package pager

import (
	"container/heap"
	"context"
	"fmt"
	"maps"
	"strings"
	"sync"
	"time"

	"github.com/watchdog-sre/watchdog/pager/channel"
)

// timer is one heap entry: call Tick on incident id (or, for ids starting
// with "silence:", recompute suppression) at at. Entries are not removed
// when an incident's due time changes; a stale entry finds nothing due.
type timer struct {
	at time.Time
	id string
}

type timerHeap []timer

func (h timerHeap) Len() int           { return len(h) }
func (h timerHeap) Less(i, j int) bool { return h[i].at.Before(h[j].at) }
func (h timerHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *timerHeap) Push(x any)        { *h = append(*h, x.(timer)) }
func (h *timerHeap) Pop() any {
	old := *h
	t := old[len(old)-1]
	*h = old[:len(old)-1]
	return t
}

// push adds a timer. p.mu must be held.
func (p *Pager) push(at time.Time, id string) {
	heap.Push(&p.timers, timer{at: at, id: id})
}

const silencePrefix = "silence:"

// deliveryResult is what a worker hands back to Run.
type deliveryResult struct {
	d        Delivery
	attempts int
	err      error
}

// Run drives the pager until ctx ends: it rebuilds the timer heap and the
// outbox from the Store, then fires due timers through Step and hands
// committed deliveries to a pool of Options.Workers goroutines. It returns
// ctx.Err() after the workers have stopped. A delivery interrupted by the
// shutdown stays pending in the Store and is sent again by the next Run
// (delivery is at least once; keys let receivers dedupe).
func (p *Pager) Run(ctx context.Context) error {
	p.mu.Lock()
	if p.running {
		p.mu.Unlock()
		return ErrRunning
	}
	p.running = true
	err := p.rebuild()
	p.mu.Unlock()
	defer func() {
		p.mu.Lock()
		p.running = false
		p.mu.Unlock()
	}()
	if err != nil {
		return fmt.Errorf("rebuild from store: %w", err)
	}

	jobs := make(chan Delivery, p.o.Workers)
	results := make(chan deliveryResult, p.o.Workers)
	var wg sync.WaitGroup
	for range p.o.Workers {
		wg.Go(func() {
			for {
				select {
				case <-ctx.Done():
					return
				case d := <-jobs:
					attempts, err := p.deliver(ctx, d)
					if ctx.Err() != nil {
						return // stays pending; resent after restart
					}
					select {
					case results <- deliveryResult{d: d, attempts: attempts, err: err}:
					case <-ctx.Done():
						return
					}
				}
			}
		})
	}
	defer wg.Wait()

	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	inflight := 0
	for {
		p.mu.Lock()
		p.fireDue()
		for inflight < p.o.Workers && len(p.outbox) > 0 {
			jobs <- p.outbox[0]
			p.outbox = p.outbox[1:]
			inflight++
		}
		wait := time.Hour
		if len(p.timers) > 0 {
			wait = max(p.timers[0].at.Sub(p.now()), 0)
		}
		p.mu.Unlock()
		timer.Reset(wait)

		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-p.wake:
		case <-timer.C:
		case r := <-results:
			inflight--
			p.mu.Lock()
			p.recordResult(r)
			p.mu.Unlock()
		}
		if !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
		}
	}
}

// rebuild loads the timers of open incidents, silence boundaries and the
// pending deliveries. p.mu must be held.
func (p *Pager) rebuild() error {
	p.timers, p.outbox = p.timers[:0], nil
	now := p.now()
	return p.store.View(func(tx ReadTx) error {
		open, err := tx.Incidents(IncidentFilter{Statuses: []Status{StatusTriggered, StatusAcknowledged}})
		if err != nil {
			return err
		}
		for _, st := range open {
			if due := st.NextDue(); !due.IsZero() {
				p.push(due, st.ID)
			}
		}
		sils, err := tx.Silences()
		if err != nil {
			return err
		}
		for _, s := range sils {
			p.pushSilence(s, now)
		}
		p.outbox, err = tx.Deliveries(DeliveryFilter{Status: DeliveryPending})
		return err
	})
}

// pushSilence sets timers at the silence's future boundaries.
func (p *Pager) pushSilence(s Silence, now time.Time) {
	for _, t := range []time.Time{s.StartsAt, s.EndsAt} {
		if t.After(now) {
			p.push(t, silencePrefix+s.ID)
		}
	}
}

// fireDue applies every timer that is due. p.mu must be held.
func (p *Pager) fireDue() {
	now := p.now()
	resup := false
	seen := map[string]bool{}
	for len(p.timers) > 0 && !p.timers[0].at.After(now) {
		t := heap.Pop(&p.timers).(timer)
		if seen[t.id] {
			continue
		}
		seen[t.id] = true
		if strings.HasPrefix(t.id, silencePrefix) {
			resup = true
			continue
		}
		var st IncidentState
		err := p.store.View(func(tx ReadTx) error {
			var err error
			st, err = tx.Incident(t.id)
			return err
		})
		if err != nil {
			p.log.Error("pager: load incident", "id", t.id, "err", err)
			continue
		}
		if due := st.NextDue(); due.IsZero() || due.After(now) {
			continue // stale timer
		}
		if _, err := p.apply(st, Tick{}, nil); err != nil {
			p.log.Error("pager: tick", "id", t.id, "err", err)
			p.push(now.Add(time.Second), t.id) // retry soon
		}
	}
	if resup {
		if err := p.resuppress(now); err != nil {
			p.log.Error("pager: silences", "err", err)
		}
	}
}

// recordResult marks a delivery done and feeds the result to Step, in one
// transaction. p.mu must be held.
func (p *Pager) recordResult(r deliveryResult) {
	now := p.now()
	d := r.d
	d.Attempts, d.DoneAt, d.Status = r.attempts, now, DeliverySent
	ev := DeliveryResult{Key: d.Key, User: d.User, Method: d.Method, Channel: d.Channel, Attempts: r.attempts}
	result := "ok"
	if r.err != nil {
		d.Status, d.Error, ev.Err, result = DeliveryFailed, r.err.Error(), r.err.Error(), "error"
	}
	p.inc(fmt.Sprintf(`watchdog_pager_deliveries_total{channel=%q,result=%q}`, d.Channel, result))
	var st IncidentState
	err := p.store.View(func(tx ReadTx) error {
		var err error
		st, err = tx.Incident(d.IncidentID)
		return err
	})
	if err == nil {
		_, err = p.apply(st, ev, func(tx Tx) error { return tx.UpdateDelivery(d) })
	}
	if err != nil {
		p.log.Error("pager: record delivery", "key", d.Key, "err", err)
	}
}

// deliver sends one delivery through its channel with retries.
func (p *Pager) deliver(ctx context.Context, d Delivery) (int, error) {
	ch := p.o.Channels[d.Channel]
	if ch == nil {
		return 0, fmt.Errorf("%w %q", ErrNoChannel, d.Channel)
	}
	var st IncidentState
	if err := p.store.View(func(tx ReadTx) error {
		var err error
		st, err = tx.Incident(d.IncidentID)
		return err
	}); err != nil {
		return 0, fmt.Errorf("load incident: %w", err)
	}
	m := p.message(&st, d)
	policy := p.o.Retry
	if cc := p.config().channelConfig(d.Channel); cc != nil && cc.Retry != (channel.RetryPolicy{}) {
		policy = cc.Retry
	}
	return channel.SendWithRetry(ctx, ch, m, policy)
}

// message builds the channel message for a delivery.
func (p *Pager) message(st *IncidentState, d Delivery) channel.Message {
	now := p.now()
	m := channel.Message{
		IncidentID: st.ID, DedupKey: st.ID, Event: d.Event, Title: st.Title,
		Source: "watchdog", Labels: maps.Clone(st.GroupLabels), ExternalURL: p.o.ExternalURL,
		Time: now, GroupKey: st.GroupKey, Receiver: st.Route,
	}
	for _, a := range st.Alerts {
		status := channel.StatusFiring
		if a.Ended {
			status = channel.StatusResolved
		}
		m.Alerts = append(m.Alerts, channel.Alert{Labels: a.Labels, Annotations: a.Annotations, StartsAt: a.StartsAt,
			EndsAt: a.EndsAt, GeneratorURL: a.GeneratorURL, Status: status})
		if m.Summary == "" {
			m.Summary = a.Annotations["summary"]
		}
		if m.Severity == "" {
			m.Severity = a.Labels["severity"]
		}
		if m.Annotations == nil {
			m.Annotations = a.Annotations
		}
	}
	if d.Kind == KindNotify {
		m.Recipient = channel.Contact{Name: d.User, Address: d.Contact}
		if d.Event == channel.EventTrigger {
			m.AckURL = p.ackURL(st.ID, d.User, now)
		}
	}
	return m
}

// channelConfig returns the config's channel called name, or nil.
func (c *Config) channelConfig(name string) *ChannelConfig {
	if c.c == nil {
		return nil
	}
	return c.c.channels[name]
}
