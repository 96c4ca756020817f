package querylimit

import (
	"context"
	"fmt"
	"sync/atomic"
)

// Gate bounds the queries evaluated at once. A query beyond the limit waits
// for a slot in a queue of bounded length; when the queue is full it is
// refused at once with ErrQueueFull, so that a flood of requests costs a
// refusal each, not a goroutine parked for the length of the timeout. Build
// it with NewGate; a Gate is safe for concurrent use.
type Gate struct {
	// admitted holds a token per query running or waiting; its capacity is
	// slots plus queue.
	admitted chan struct{}
	// running holds a token per query running.
	running chan struct{}
	waiting atomic.Int64
}

// NewGate returns a Gate running at most maxConcurrent queries (at least
// one) with at most maxQueued more waiting (at least none).
func NewGate(maxConcurrent, maxQueued int) *Gate {
	maxConcurrent = max(maxConcurrent, 1)
	maxQueued = max(maxQueued, 0)
	return &Gate{
		admitted: make(chan struct{}, maxConcurrent+maxQueued),
		running:  make(chan struct{}, maxConcurrent),
	}
}

// Enter waits for a slot and returns the function that frees it, to be
// called exactly once. It returns ErrQueueFull when the queue is full, or
// ctx's error (wrapped) when ctx ends while waiting.
func (g *Gate) Enter(ctx context.Context) (release func(), err error) {
	select {
	case g.admitted <- struct{}{}:
	default:
		return nil, fmt.Errorf("%w: %d running and %d waiting", ErrQueueFull, cap(g.running), cap(g.admitted)-cap(g.running))
	}
	select {
	case g.running <- struct{}{}:
	default:
		g.waiting.Add(1)
		select {
		case g.running <- struct{}{}:
			g.waiting.Add(-1)
		case <-ctx.Done():
			g.waiting.Add(-1)
			<-g.admitted
			return nil, fmt.Errorf("wait for a query slot: %w", context.Cause(ctx))
		}
	}
	var once atomic.Bool
	return func() {
		if once.CompareAndSwap(false, true) {
			<-g.running
			<-g.admitted
		}
	}, nil
}

// Running returns the number of queries holding a slot.
func (g *Gate) Running() int { return len(g.running) }

// Waiting returns the number of queries waiting for a slot.
func (g *Gate) Waiting() int { return int(g.waiting.Load()) }
