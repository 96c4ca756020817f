package pgtest

import (
	"sync"
	"testing"
)

// Cluster is a throwaway PostgreSQL cluster of one test's own, which the
// test stops and starts again (same port, same data directory) to see
// what its clients do while the database is down. It is separate from
// the cluster DB and Server share, so other tests are not disturbed.
type Cluster struct {
	mu sync.Mutex
	s  *server
}

// Restartable starts a Cluster for t, stopped and removed when t ends. It
// needs PostgreSQL's server programs (an external server named by
// WATCHDOG_TEST_POSTGRES_URL cannot be stopped) and skips t without them.
func Restartable(t testing.TB) *Cluster {
	t.Helper()
	bin := findBin()
	if bin == "" {
		t.Skip(SkipMessage + "; a restartable cluster needs initdb and postgres installed")
	}
	s, err := start(bin)
	if err != nil {
		t.Fatalf("pgtest: restartable cluster: %v", err)
	}
	c := &Cluster{s: s}
	t.Cleanup(func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		c.s.stop()
	})
	return c
}

// URL is the admin database's URL; it stays the same across restarts.
func (c *Cluster) URL() string { return c.s.url }

// Stop shuts the server down (fast shutdown: open connections are cut)
// and waits until it has exited. Stopping a stopped cluster does nothing.
func (c *Cluster) Stop(t testing.TB) {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	c.s.halt()
}

// Start runs the server again on the same port and data directory and
// waits until it accepts connections. Starting a running cluster does
// nothing.
func (c *Cluster) Start(t testing.TB) {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.s.cmd != nil {
		return
	}
	if err := c.s.run(); err != nil {
		t.Fatalf("pgtest: restart cluster: %v", err)
	}
}
