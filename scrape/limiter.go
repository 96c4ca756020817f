package scrape

import (
	"context"
	"runtime"
	"sync"
)

// DefaultIngestConcurrency returns the default of
// Options.IngestConcurrency: four per CPU the process may use.
func DefaultIngestConcurrency() int { return 4 * runtime.GOMAXPROCS(0) }

// limiter bounds how many scrapes parse and append at once (the CPU- and
// memory-heavy part after the fetch), and hands free slots to the waiting
// jobs in turn: a job with thousands of targets queues behind itself, while
// a job with one target waits for at most one slot per other waiting job.
//
// The fetch is not limited: it mostly waits on the network, and a limit
// there would let unreachable targets, each holding a slot until its
// timeout, starve the reachable ones.
type limiter struct {
	mu   sync.Mutex
	free int
	jobs map[string]*jobWaiters
	// ring holds the jobs with waiters in the order they get a slot; a job
	// goes to the back after each grant.
	ring []*jobWaiters
}

// jobWaiters are the scrapes of one job waiting for a slot, oldest first.
type jobWaiters struct {
	name    string
	waiters []*waiter
	inRing  bool
}

// waiter is one waiting scrape. Its channel is closed when it is granted a
// slot; a waiter whose context ended is skipped.
type waiter struct {
	ch        chan struct{}
	granted   bool
	abandoned bool
}

func newLimiter(slots int) *limiter {
	return &limiter{free: max(slots, 1), jobs: map[string]*jobWaiters{}}
}

// acquire waits for a slot for a scrape of job. It returns ctx's error if
// ctx ends first; otherwise the caller must release the slot.
func (l *limiter) acquire(ctx context.Context, job string) error {
	l.mu.Lock()
	if l.free > 0 && len(l.ring) == 0 {
		l.free--
		l.mu.Unlock()
		return nil
	}
	w := &waiter{ch: make(chan struct{})}
	jw := l.jobs[job]
	if jw == nil {
		jw = &jobWaiters{name: job}
		l.jobs[job] = jw
	}
	jw.waiters = append(jw.waiters, w)
	if !jw.inRing {
		jw.inRing = true
		l.ring = append(l.ring, jw)
	}
	l.grant()
	l.mu.Unlock()

	select {
	case <-w.ch:
		return nil
	case <-ctx.Done():
		l.mu.Lock()
		if w.granted {
			// Granted meanwhile: pass the slot on.
			l.free++
			l.grant()
		} else {
			w.abandoned = true
		}
		l.mu.Unlock()
		return ctx.Err()
	}
}

// release returns a slot taken by acquire.
func (l *limiter) release() {
	l.mu.Lock()
	l.free++
	l.grant()
	l.mu.Unlock()
}

// grant hands free slots to waiters, one job at a time in ring order.
// Callers hold l.mu.
func (l *limiter) grant() {
	for l.free > 0 && len(l.ring) > 0 {
		jw := l.ring[0]
		l.ring[0] = nil
		l.ring = l.ring[1:]
		var w *waiter
		for len(jw.waiters) > 0 && w == nil {
			if x := jw.waiters[0]; !x.abandoned {
				w = x
			}
			jw.waiters[0] = nil
			jw.waiters = jw.waiters[1:]
		}
		if len(jw.waiters) > 0 {
			l.ring = append(l.ring, jw)
		} else {
			jw.inRing = false
			jw.waiters = nil
			delete(l.jobs, jw.name)
		}
		if w != nil {
			l.free--
			w.granted = true
			close(w.ch)
		}
	}
}
