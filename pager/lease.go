package pager

import (
	"context"
	"sync"
	"time"
)

// listener is implemented by Cluster stores that can tell when any
// replica commits a write (PostgreSQL's LISTEN/NOTIFY): Listen calls wake
// after each, until ctx ends.
type listener interface {
	Listen(ctx context.Context, wake func())
}

// asLeader runs f with the escalator's writes fenced by the current term
// (p.update then calls Cluster.UpdateFenced). p.mu must be held.
func (p *Pager) asLeader(f func()) {
	p.leaderWrite = p.term
	defer func() { p.leaderWrite = 0 }()
	f()
}

// leaseMargin is how long before the lease's end, by this process's clock,
// the leader stops sending: the renewal it did not get may be on its way.
func (p *Pager) leaseMargin() time.Duration { return p.o.Lease / 10 }

// leaseLive reports whether this replica may still send: its lease, as
// measured from before the campaign that last took or renewed it, has not
// run out. The database's own expiry is later than this, so a successor
// never starts before this replica stops.
func (p *Pager) leaseLive() bool {
	end, ok := p.leaseEnd.Load().(time.Time)
	return ok && time.Now().Before(end.Add(-p.leaseMargin()))
}

// replicate is Run for one replica of a Cluster. It campaigns every
// Lease/3: while it holds the lease it escalates (a goroutine running
// escalate under the lease's token), and it steps down as soon as the
// lease is lost, not renewed in time, or the store fences a write. Every
// Poll it reads what other replicas committed into the open-incident
// cache (and, while leading, into the timers and the outbox). It returns
// ctx.Err() when ctx ends, after giving up the lease so that another
// replica takes over at once.
func (p *Pager) replicate(ctx context.Context) error {
	var (
		term       int64
		cancelLead context.CancelFunc
		leadDone   chan error
		// expiry stops the escalator (cancels its context, which stops
		// deliveries mid-retry) when the lease runs out unrenewed: a
		// timer of its own, so that nothing this loop waits for (a slow
		// campaign, the pager's lock) can delay it.
		expiry *time.Timer
	)
	stepDown := func(why string, err error) {
		if expiry != nil {
			expiry.Stop()
		}
		p.leading.Store(false) // at once: the escalator may take a while to stop
		if cancelLead != nil {
			cancelLead()
			<-leadDone
			cancelLead, leadDone = nil, nil
		}
		p.leading.Store(false)
		p.mu.Lock()
		p.term = 0
		p.fenced.Store(false)
		p.mu.Unlock()
		p.smu.Lock()
		p.timers, p.outbox, p.done = p.timers[:0], nil, nil
		p.smu.Unlock()
		p.log.Warn("pager: stepped down: this replica no longer escalates or sends", "term", term, "why", why, "err", err)
		p.inc("watchdog_pager_lease_lost_total")
		term = 0
	}
	renew := max(p.o.Lease/3, time.Millisecond)
	// Reading the others' commits has a goroutine of its own: it waits
	// for the pager's lock (a storm's Receive holds it often), which the
	// campaign loop must never do. A store that can tell when another
	// replica commits wakes it at once; polling remains the fallback.
	var wg sync.WaitGroup
	defer wg.Wait()
	sctx, stopSync := context.WithCancel(ctx)
	defer stopSync()
	changed := make(chan struct{}, 1)
	wake := func() {
		select {
		case changed <- struct{}{}:
		default:
		}
	}
	if l, ok := p.o.Cluster.(listener); ok {
		wg.Go(func() { l.Listen(sctx, wake) })
	}
	wg.Go(func() {
		poll := time.NewTicker(p.o.Poll)
		defer poll.Stop()
		for {
			select {
			case <-sctx.Done():
				return
			case <-poll.C:
			case <-changed:
			}
			p.sync()
		}
	})
	campaign := time.NewTimer(0)
	defer campaign.Stop()
	for {
		select {
		case <-ctx.Done():
			if term != 0 {
				tok := term
				stepDown("shutting down", nil)
				rctx, cancel := context.WithTimeout(context.Background(), renew)
				if err := p.o.Cluster.Resign(rctx, tok); err != nil {
					p.log.Warn("pager: give up the lease", "err", err)
				}
				cancel()
			}
			return ctx.Err()
		case err := <-leadDone:
			cancelLead, leadDone = nil, nil
			why := "the escalator stopped"
			if !p.leaseLive() {
				why = "the lease was not renewed in time"
			}
			stepDown(why, err)
			campaign.Reset(renew)
		case <-campaign.C:
			start := time.Now()
			cctx, cancel := context.WithTimeout(ctx, renew)
			l, err := p.o.Cluster.Campaign(cctx, p.o.Lease, term != 0)
			cancel()
			campaign.Reset(renew)
			switch {
			case err != nil:
				p.followerOK.Store(false)
				p.log.Warn("pager: campaign for the lease failed", "err", err)
				p.inc("watchdog_pager_campaign_errors_total")
				if term != 0 && !p.leaseLive() {
					stepDown("the lease could not be renewed", err)
				}
			case !l.Leader:
				p.followerOK.Store(l.Holder != "")
				if term != 0 {
					stepDown("another replica holds the lease", nil)
				}
			default:
				p.followerOK.Store(false)
				if term != 0 && l.Token != term {
					stepDown("the lease was taken anew", nil)
				}
				p.leaseEnd.Store(start.Add(p.o.Lease))
				left := p.o.Lease - p.leaseMargin() - time.Since(start)
				if term != 0 && !expiry.Reset(left) {
					// It fired before this renewal: the escalator is
					// stopping; leadDone steps down, the next campaign
					// starts a new one.
					expiry.Stop()
				}
				if term == 0 {
					term = l.Token
					p.log.Info("pager: took the lease: this replica escalates and sends", "term", term, "expires", l.Expires)
					p.inc("watchdog_pager_lease_acquired_total")
					p.leading.Store(true)
					lctx, cancel := context.WithCancel(ctx)
					cancelLead = cancel
					expiry = time.AfterFunc(left, func() {
						p.leading.Store(false)
						cancel()
					})
					leadDone = make(chan error, 1)
					go func(tok int64) { leadDone <- p.escalate(lctx, tok) }(term)
				}
			}
		}
	}
}

// sync reads what was committed since the cache's change number into the
// cache, and, while this replica escalates, sets timers for the changed
// open incidents and queues their pending deliveries (a claim refuses any
// already being sent).
func (p *Pager) sync() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.open == nil {
		if err := p.reload(); err != nil {
			p.log.Warn("pager: read the open incidents", "err", err)
		}
		return
	}
	c, err := p.o.Cluster.Changes(p.seen)
	if err != nil {
		p.log.Warn("pager: read other replicas' changes", "err", err)
		return
	}
	if c.Version == p.seen {
		return
	}
	now := p.now()
	for _, st := range c.Incidents {
		p.open.put(st)
		p.trackStuck(st.ID, st.Open(), st.Stuck)
		if due := st.NextDue(); st.Open() && !due.IsZero() {
			p.push(due, st.ID)
		}
	}
	for _, s := range c.Silences {
		p.open.putSilence(s)
		p.pushSilence(s, now)
	}
	if len(c.Silences) > 0 {
		p.push(now, silencePrefix) // recompute suppression
	}
	if p.escalates() && len(c.Deliveries) > 0 {
		p.smu.Lock()
		p.outbox = append(p.outbox, c.Deliveries...)
		p.smu.Unlock()
	}
	p.seen = c.Version
	p.signal()
}

// reload fills the dropped cache again and, while this replica escalates,
// sets the timers of every open incident and queues every pending
// delivery: what changed while the cache was gone is not known. p.mu is
// held.
func (p *Pager) reload() error {
	if err := p.loadOpen(); err != nil {
		return err
	}
	if !p.escalates() {
		return nil
	}
	for _, st := range p.open.byID {
		if due := st.NextDue(); !due.IsZero() {
			p.push(due, st.ID)
		}
	}
	var pending []Delivery
	if err := p.store.View(func(tx ReadTx) error {
		var err error
		pending, err = tx.Deliveries(DeliveryFilter{Status: DeliveryPending})
		return err
	}); err != nil {
		return err
	}
	p.smu.Lock()
	p.outbox = append(p.outbox, pending...)
	p.smu.Unlock()
	p.signal()
	return nil
}
