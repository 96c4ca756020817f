package main

import (
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/watchdog-sre/watchdog/pager"
	"github.com/watchdog-sre/watchdog/rules/alertmanager"
)

// errNoAnswer: the pager's database did not answer a cluster status read
// in time.
var errNoAnswer = errors.New("no answer from the pager database")

// Timing of clusterCache.
const (
	clusterCacheTTL  = time.Second
	clusterCacheWait = time.Second
)

// clusterCache serves the pager's cluster status (which reads the
// database) to /metrics and the console: at most one read a second, one at
// a time, and no caller waits for one longer than wait. A read that takes
// longer (a database that does not answer) goes on in the background while
// callers get the last good status with errNoAnswer.
type clusterCache struct {
	read      func() (pager.ClusterStatus, error)
	ttl, wait time.Duration

	mu      sync.Mutex
	st      pager.ClusterStatus // of the last read without error
	err     error               // of the last read
	readAt  time.Time           // when the last read ended; zero before
	running chan struct{}       // closed when the read under way ends; nil when none
}

func newClusterCache(read func() (pager.ClusterStatus, error)) *clusterCache {
	return &clusterCache{read: read, ttl: clusterCacheTTL, wait: clusterCacheWait}
}

// status returns the cluster status read within the last ttl, or reads it
// again (waiting at most wait). On an error the status is the last good
// one.
func (c *clusterCache) status() (pager.ClusterStatus, error) {
	c.mu.Lock()
	if !c.readAt.IsZero() && time.Since(c.readAt) < c.ttl {
		defer c.mu.Unlock()
		return c.st, c.err
	}
	done := c.running
	if done == nil {
		done = make(chan struct{})
		c.running = done
		go c.refresh(done)
	}
	c.mu.Unlock()
	t := time.NewTimer(c.wait)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
		c.mu.Lock()
		defer c.mu.Unlock()
		return c.st, fmt.Errorf("pager cluster status: %w within %s", errNoAnswer, c.wait)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.st, c.err
}

// refresh reads the status once and closes done.
func (c *clusterCache) refresh(done chan struct{}) {
	st, err := c.read()
	c.mu.Lock()
	if err == nil {
		c.st = st
	}
	c.err, c.readAt, c.running = err, time.Now(), nil
	c.mu.Unlock()
	close(done)
}

// registerClusterMetrics exposes the pager's replicas on /metrics:
// watchdog_pager_replicas, the replicas seen alive on the shared database
// (1 for a pager that is not clustered, 0 before its database was ever
// read), and watchdog_pager_lease_expiry_timestamp_seconds, when the
// leader's lease ends unless renewed (0 when not clustered). While the
// database cannot be read both keep their last values: an expiry that
// stays in the past says that no lease renewal is seen.
func registerClusterMetrics(set *metrics.Set, c *clusterCache) {
	set.NewGauge("watchdog_pager_replicas", func() float64 {
		st, err := c.status()
		if st.Replica == "" {
			if err != nil {
				return 0
			}
			return 1
		}
		n := 0
		for _, r := range st.Replicas {
			if r.Alive {
				n++
			}
		}
		return float64(n)
	})
	set.NewGauge("watchdog_pager_lease_expiry_timestamp_seconds", func() float64 {
		st, _ := c.status()
		if st.LeaseExpires.IsZero() {
			return 0
		}
		return float64(st.LeaseExpires.UnixMilli()) / 1000
	})
}

// apiBuffer is the web.AlertBuffer of POST /api/v2/alerts: the alerts the
// pager refused (its database is down) wait in a Local queue of their own
// and reach the pager, in order, when it takes them again.
type apiBuffer struct{ q *alertmanager.Local }

func (b apiBuffer) Holding() bool { return b.q.Holding() }

// Hold queues the alerts as they are (Timeout included: an alert received
// without an end still resolves after resolve_timeout once delivered).
func (b apiBuffer) Hold(alerts ...pager.Alert) { b.q.Send(alerts...) }
