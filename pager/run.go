package pager

import (
	"container/heap"
	"context"
	"errors"
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

// push adds a timer. A replica that does not escalate keeps none.
func (p *Pager) push(at time.Time, id string) {
	if !p.escalates() {
		return
	}
	p.smu.Lock()
	defer p.smu.Unlock()
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
//
// With Options.Cluster, Run is one replica's loop (see replicate): it
// escalates as above only while it holds the lease, and returns only when
// ctx ends.
func (p *Pager) Run(ctx context.Context) error {
	p.mu.Lock()
	if p.running {
		p.mu.Unlock()
		return ErrRunning
	}
	p.running = true
	p.mu.Unlock()
	defer func() {
		p.mu.Lock()
		p.running = false
		p.mu.Unlock()
	}()
	if p.o.Cluster != nil {
		return p.replicate(ctx)
	}
	return p.escalate(ctx, 0)
}

// escalate runs timers and deliveries until ctx ends or the store fences
// this pager off. token is the lease's fencing token (0: not clustered):
// every escalator write is fenced with it, and every delivery is claimed
// under it before it is sent.
func (p *Pager) escalate(ctx context.Context, token int64) error {
	p.mu.Lock()
	p.term = token
	p.termN.Store(token)
	var err error
	p.asLeader(func() { err = p.rebuild() })
	p.mu.Unlock()
	defer func() {
		p.ready.Store(false)
		p.mu.Lock()
		p.term = 0
		p.termN.Store(0)
		p.mu.Unlock()
	}()
	if err != nil {
		return fmt.Errorf("rebuild from store: %w", err)
	}
	p.fenced.Store(false)
	p.ready.Store(true)
	ctx, cancel := context.WithCancel(ctx)

	// Workers take deliveries from jobs and queue their results in p.done
	// for the recorder, which commits them (in batches) under p.mu. The
	// dispatch loop below needs p.mu only to fire due timers, so pages go
	// out while Receive holds the mutex.
	//
	// Each channel has a limiter (guarded by p.smu): deliveries in flight
	// up to its max_concurrency, starts up to its rate_limit. A delivery
	// whose channel is at its bound waits in the outbox while those of
	// other channels go out.
	jobs := make(chan Delivery, p.o.Workers)
	recorded := make(chan struct{}, 1)
	lims := map[string]*limiter{}
	var wg sync.WaitGroup
	for range p.o.Workers {
		wg.Go(func() {
			for {
				select {
				case <-ctx.Done():
					return
				case d := <-jobs:
					p.signal() // room in jobs
					r, ok := p.work(ctx, token, d)
					p.smu.Lock()
					lims[d.Channel].inflight--
					p.smu.Unlock()
					p.signal() // room in the channel
					if ctx.Err() != nil {
						return // stays pending; resent after restart
					}
					if !ok {
						continue
					}
					p.smu.Lock()
					p.done = append(p.done, r)
					p.smu.Unlock()
					select {
					case recorded <- struct{}{}:
					default:
					}
				}
			}
		})
	}
	wg.Go(func() {
		retry := time.NewTimer(time.Hour)
		retry.Stop()
		defer retry.Stop()
		for {
			select {
			case <-ctx.Done():
				return // unrecorded deliveries stay pending; resent after restart
			case <-recorded:
			case <-retry.C:
			}
			p.smu.Lock()
			rs := p.done
			p.done = nil
			p.smu.Unlock()
			if len(rs) == 0 {
				continue
			}
			var again []deliveryResult
			p.mu.Lock()
			p.asLeader(func() { again = p.recordResults(rs) })
			p.mu.Unlock()
			if len(again) > 0 { // the store failed: keep them, try again soon
				p.smu.Lock()
				p.done = append(again, p.done...)
				p.smu.Unlock()
				retry.Reset(time.Second)
			}
		}
	})
	wg.Go(func() { p.remindLoop(ctx, token) })
	defer wg.Wait()
	// Returning for any other reason than ctx (fenced off) stops the
	// workers and the recorder first: this runs before wg.Wait.
	defer cancel()

	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		p.smu.Lock()
		due := len(p.timers) > 0 && !p.timers[0].at.After(p.now())
		p.smu.Unlock()
		if due {
			p.mu.Lock()
			p.asLeader(p.fireDue)
			p.mu.Unlock()
		}
		p.smu.Lock()
		wait := p.dispatch(jobs, lims, time.Now())
		if len(p.timers) > 0 {
			wait = min(wait, max(p.timers[0].at.Sub(p.now()), 0))
		}
		p.smu.Unlock()
		timer.Reset(wait)

		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-p.wake:
		case <-timer.C:
		}
		if p.fenced.Load() {
			return fmt.Errorf("pager: %w", ErrFenced)
		}
		if !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
		}
	}
}

// dispatch hands the outbox's deliveries to the workers (jobs) in order,
// as far as the workers and each channel's limiter allow; the others stay
// in the outbox, in order. It returns how long until a rate-limited
// channel has a token (an hour when none waits for one). now is the
// limiters' clock (real time, as for the timers). p.smu is held.
func (p *Pager) dispatch(jobs chan<- Delivery, lims map[string]*limiter, now time.Time) time.Duration {
	wait := time.Hour
	cfg := p.config()
	keep := p.outbox[:0] // compacted in place: keep never passes i
	blocked := map[string]bool{}
	known := 0 // blocked channels that are in Options.Channels
	for i, d := range p.outbox {
		if len(jobs) == cap(jobs) || known == len(p.o.Channels) && known > 0 {
			keep = append(keep, p.outbox[i:]...) // workers busy (one signals) or every channel at its bound
			break
		}
		if blocked[d.Channel] {
			keep = append(keep, d)
			continue
		}
		l := lims[d.Channel]
		if l == nil {
			l = &limiter{}
			lims[d.Channel] = l
		}
		ok, w := l.take(cfg.limits(d.Channel), now)
		if !ok {
			if w > 0 {
				wait = min(wait, w)
			}
			blocked[d.Channel] = true
			if p.o.Channels[d.Channel] != nil {
				known++
			}
			keep = append(keep, d)
			continue
		}
		jobs <- d // never blocks: only this loop sends, and jobs has room
	}
	clear(p.outbox[len(keep):]) // drop the references of handed-out deliveries
	p.outbox = keep
	return wait
}

// later puts d back in the outbox after delay, unless ctx ends first.
func (p *Pager) later(ctx context.Context, d Delivery, delay time.Duration) {
	t := time.NewTimer(delay)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
		p.smu.Lock()
		p.outbox = append(p.outbox, d)
		p.smu.Unlock()
		p.signal()
	}
}

// work sends one delivery and returns its result for the recorder (ok
// false: nothing to record). Under a lease (token not 0) it first claims
// the delivery; a delivery an earlier term sent but did not record comes
// back with that result instead of being sent again; and nothing is sent
// once the lease's local deadline has passed.
func (p *Pager) work(ctx context.Context, token int64, d Delivery) (deliveryResult, bool) {
	if p.fenced.Load() {
		return deliveryResult{}, false // stays pending in the store; whoever holds it sends
	}
	if token == 0 {
		attempts, err := p.deliver(ctx, d)
		return deliveryResult{d: d, attempts: attempts, err: err}, true
	}
	if !p.leaseLive() {
		// The renewal is late: wait for it (or for the step-down, which
		// empties the outbox; the next term sends from the store).
		p.later(ctx, d, p.o.Lease/20)
		return deliveryResult{}, false
	}
	c, err := p.o.Cluster.Claim(token, d.Key)
	switch {
	case errors.Is(err, ErrFenced):
		p.mu.Lock()
		p.fence(err)
		p.mu.Unlock()
		return deliveryResult{}, false
	case err != nil:
		p.log.Error("pager: claim delivery: retrying in 1s", "key", d.Key, "err", err)
		p.inc("watchdog_pager_claim_errors_total")
		p.later(ctx, d, time.Second)
		return deliveryResult{}, false
	case c.Sent:
		var err error
		if c.Err != "" {
			err = errors.New(c.Err)
		}
		return deliveryResult{d: d, attempts: c.Attempts, err: err}, true
	case !c.OK:
		return deliveryResult{}, false
	}
	if !p.leaseLive() {
		// The claim took long enough for the lease to need its renewal.
		// Claimed under this term, the delivery can only be sent by a
		// later one: end the term (the escalator stops; the next campaign
		// starts a new term, which rebuilds from the store and sends it).
		p.mu.Lock()
		p.fence(fmt.Errorf("%w: the lease ran out while claiming delivery %s", ErrFenced, d.Key))
		p.mu.Unlock()
		return deliveryResult{}, false
	}
	attempts, err := p.deliver(ctx, d)
	if err == nil || ctx.Err() == nil {
		msg := ""
		if err != nil {
			msg = err.Error()
		}
		if serr := p.o.Cluster.Sent(token, d.Key, attempts, msg); serr != nil {
			p.log.Warn("pager: record that a delivery was sent", "key", d.Key, "err", serr)
		}
	}
	return deliveryResult{d: d, attempts: attempts, err: err}, true
}

// rebuild reloads the open-incident cache, steps every open incident with
// Reconfigured, and rebuilds from the cache the timers of open incidents
// and silence boundaries, and the pending deliveries. p.mu must be held.
func (p *Pager) rebuild() error {
	p.smu.Lock()
	p.timers, p.outbox, p.done = p.timers[:0], nil, nil
	clear(p.snap) // refilled by the Reconfigured step below
	p.smu.Unlock()
	p.open = nil
	now := p.now()
	if err := p.loadOpen(); err != nil {
		return err
	}
	// The config may have changed while the pager was down, where no
	// reload check could refuse it: apply it as Reload does.
	open := p.open.sorted()
	cs := make([]change, 0, len(open))
	for _, st := range open {
		cs = append(cs, change{st: st, ev: Reconfigured{}})
	}
	if err := p.applyAll(cs, nil); err != nil { // keeps p.open in step
		return fmt.Errorf("apply the config to %d open incident(s): %w", len(cs), err)
	}
	p.smu.Lock()
	if p.o.Cluster == nil {
		for id, st := range p.open.byID {
			p.snap[id] = st
		}
	}
	p.smu.Unlock()
	for _, st := range p.open.byID {
		if due := st.NextDue(); !due.IsZero() {
			p.push(due, st.ID)
		}
	}
	for _, s := range p.open.sils {
		p.pushSilence(s.Silence, now)
	}
	var pending []Delivery
	err := p.store.View(func(tx ReadTx) error {
		var err error
		pending, err = tx.Deliveries(DeliveryFilter{Status: DeliveryPending})
		return err
	})
	p.smu.Lock()
	p.outbox = pending
	p.smu.Unlock()
	return err
}

// pushSilence sets timers at the silence's future boundaries.
func (p *Pager) pushSilence(s Silence, now time.Time) {
	for _, t := range []time.Time{s.StartsAt, s.EndsAt} {
		if t.After(now) {
			p.push(t, silencePrefix+s.ID)
		}
	}
}

// incident returns the committed state of an incident: from the cache when
// it is open, else from the Store. p.mu must be held.
func (p *Pager) incident(id string) (IncidentState, error) {
	if p.open != nil {
		if st, ok := p.open.byID[id]; ok {
			return st, nil
		}
	}
	var st IncidentState
	err := p.store.View(func(tx ReadTx) error {
		var err error
		st, err = tx.Incident(id)
		return err
	})
	return st, err
}

// fireDue applies every timer that is due, as one transaction. p.mu must
// be held.
func (p *Pager) fireDue() {
	now := p.now()
	resup := false
	seen := map[string]bool{}
	var cs []change
	var fired []timer
	p.smu.Lock()
	for len(p.timers) > 0 && !p.timers[0].at.After(now) {
		fired = append(fired, heap.Pop(&p.timers).(timer))
	}
	p.smu.Unlock()
	for _, t := range fired {
		if seen[t.id] {
			continue
		}
		seen[t.id] = true
		if strings.HasPrefix(t.id, silencePrefix) {
			resup = true
			continue
		}
		st, err := p.incident(t.id)
		if err != nil {
			p.log.Error("pager: load incident", "id", t.id, "err", err)
			continue
		}
		if due := st.NextDue(); due.IsZero() || due.After(now) {
			continue // stale timer
		}
		cs = append(cs, change{st: st, ev: Tick{}})
	}
	if err := p.applyAll(cs, nil); err != nil {
		for _, c := range cs {
			p.log.Error("pager: tick", "id", c.st.ID, "err", err)
			p.push(now.Add(time.Second), c.st.ID) // retry soon
		}
	}
	if resup {
		if err := p.resuppress(now); err != nil {
			p.log.Error("pager: silences", "err", err)
		}
	}
}

// recordResults marks deliveries done and feeds their results to Step, all
// in one transaction, and logs and counts them once committed. It returns
// the results to record again later when the store failed (not when it
// fenced this pager off: the next term records them from the sent marks,
// or sends again). p.mu must be held.
func (p *Pager) recordResults(rs []deliveryResult) (again []deliveryResult) {
	now := p.now()
	var cs []change
	var done []Delivery
	var kept []deliveryResult
	for _, r := range rs {
		d := r.d
		d.Attempts, d.DoneAt, d.Status = r.attempts, now, DeliverySent
		ev := DeliveryResult{Key: d.Key, User: d.User, Method: d.Method, Channel: d.Channel, Attempts: r.attempts}
		if r.err != nil {
			d.Status, d.Error, ev.Err = DeliveryFailed, r.err.Error(), r.err.Error()
		}
		st, err := p.incident(d.IncidentID)
		switch {
		case errors.Is(err, ErrNotFound):
			p.log.Error("pager: record delivery: no such incident", "key", d.Key, "incident", d.IncidentID)
			continue
		case err != nil:
			again = append(again, r)
			continue
		}
		cs = append(cs, change{st: st, ev: ev})
		done = append(done, d)
		kept = append(kept, r)
	}
	if len(cs) == 0 {
		return again
	}
	err := p.applyAll(cs, func(tx Tx) error { return updateDeliveries(tx, done) })
	switch {
	case errors.Is(err, ErrFenced):
		p.log.Warn("pager: delivery results not recorded: fenced off", "deliveries", len(done), "err", err)
		return nil
	case err != nil:
		p.log.Error("pager: record delivery results: retrying", "deliveries", len(done), "err", err)
		return append(again, kept...)
	}
	for _, r := range kept {
		result := "ok"
		if r.err != nil {
			result = "error"
			p.log.Error("pager: delivery failed", "channel", r.d.Channel, "incident", r.d.IncidentID, "user", r.d.User,
				"method", r.d.Method, "kind", r.d.Kind, "attempts", r.attempts, "err", r.err)
		}
		p.inc(fmt.Sprintf(`watchdog_pager_deliveries_total{channel=%q,result=%q}`, r.d.Channel, result))
	}
	return again
}

// deliver sends one delivery through its channel with retries.
func (p *Pager) deliver(ctx context.Context, d Delivery) (int, error) {
	ch := p.o.Channels[d.Channel]
	if ch == nil {
		return 0, fmt.Errorf("%w %q", ErrNoChannel, d.Channel)
	}
	p.smu.Lock()
	st, ok := p.snap[d.IncidentID]
	p.smu.Unlock()
	if !ok {
		if err := p.store.View(func(tx ReadTx) error {
			var err error
			st, err = tx.Incident(d.IncidentID)
			return err
		}); err != nil {
			return 0, fmt.Errorf("load incident: %w", err)
		}
	}
	m := p.message(&st, d)
	policy := p.o.Retry
	if cc := p.config().channelConfig(d.Channel); cc != nil && cc.Retry != (channel.RetryPolicy{}) {
		policy = cc.Retry
	}
	r := channel.NewRetrier(channel.RetrierOptions{Policy: policy, Metrics: p.o.Metrics, Logger: p.log})
	return r.Send(ctx, ch, m)
}

// message builds the channel message for a delivery.
func (p *Pager) message(st *IncidentState, d Delivery) channel.Message {
	now := p.now()
	m := channel.Message{
		IncidentID: st.ID, DedupKey: st.ID, Key: d.Key, Event: d.Event, Title: st.Title,
		Source: "watchdog", Labels: maps.Clone(st.GroupLabels), ExternalURL: p.o.ExternalURL,
		Time: now, GroupKey: st.GroupKey, Receiver: st.Route, Urgency: UrgencyHigh,
	}
	if st.Urgency == UrgencyLow {
		m.Urgency = UrgencyLow
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
	if d.Kind == KindWarRoom {
		title := st.Title
		if title == "" {
			title = st.ID
		}
		m.Title = "Major incident: " + title
		m.Summary = "War room: " + st.BridgeURL
		m.Severity = "critical"
	}
	if d.Kind == KindNotify {
		m.Recipient = channel.Contact{Name: d.User, Address: d.Contact}
		if u := p.config().User(d.User); u != nil {
			m.Recipient.TimeZone = u.TimeZone
		}
		if d.Event == channel.EventTrigger {
			m.AckURL, m.ReplyToken = p.ackURL(st.ID, st.UID, d.User, now)
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

// Ready reports whether Run has rebuilt its state from the store and is
// running: pages are being sent. A dead man's switch pings only then. A
// replica of a Cluster is ready while it escalates, or while its last
// campaign reached the database and found another replica escalating.
func (p *Pager) Ready() bool {
	if p.o.Cluster == nil {
		return p.ready.Load()
	}
	return p.leading.Load() && p.ready.Load() || !p.leading.Load() && p.followerOK.Load()
}
