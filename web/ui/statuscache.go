package ui

import (
	"sync"
	"time"
)

// DefaultStatusCacheTTL is how long the public status view is reused
// unless Options.StatusCacheTTL says.
const DefaultStatusCacheTTL = 5 * time.Second

// statusCache keeps the last computed public status view for a short
// time, so that /status, /status.json, the summary and the feed cost the
// pager store at most one read per TTL however often they are asked; a
// request that finds the view stale while another computes it waits for
// that computation instead of starting its own (single flight). A new
// status update shows within the TTL.
type statusCache struct {
	mu     sync.Mutex
	ok     bool
	view   statusView
	at     time.Time     // when view was computed, by the console's clock
	config *statusConfig // what it was computed with: a reload recomputes
	flight *statusFlight // the computation in progress, or nil
}

// statusFlight is one computation of the view that requests share.
type statusFlight struct {
	done chan struct{}
	view statusView
}

// get returns the cached view if it is fresh at now for sc, else the
// result of compute, sharing one call among concurrent callers. A ttl
// below zero turns the cache off.
func (c *statusCache) get(now time.Time, ttl time.Duration, sc *statusConfig, compute func() statusView) statusView {
	if ttl < 0 {
		return compute()
	}
	c.mu.Lock()
	if c.ok && c.config == sc && !now.Before(c.at) && now.Sub(c.at) < ttl {
		v := c.view
		c.mu.Unlock()
		return v
	}
	if f := c.flight; f != nil {
		c.mu.Unlock()
		<-f.done
		return f.view
	}
	f := &statusFlight{done: make(chan struct{})}
	c.flight = f
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		c.flight = nil
		c.mu.Unlock()
		close(f.done)
	}()
	f.view = compute()
	c.mu.Lock()
	c.ok, c.view, c.at, c.config = true, f.view, now, sc
	c.mu.Unlock()
	return f.view
}
