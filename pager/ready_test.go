package pager

import (
	"context"
	"sync/atomic"
	"testing"
	"testing/synctest"
)

// TestReady: Ready is true only while Run runs past its rebuild.
func TestReady(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, NewMemStore(), "10:00")
		if h.p.Ready() {
			t.Fatal("ready before Run")
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- h.p.Run(ctx) }()
		synctest.Wait()
		if !h.p.Ready() {
			t.Fatal("not ready while running")
		}
		cancel()
		<-done
		if h.p.Ready() {
			t.Fatal("ready after Run returned")
		}
	})
}

// putCounter counts PutIncident calls.
type putCounter struct {
	*MemStore
	puts atomic.Int64
}

type countingTx struct {
	Tx
	n *atomic.Int64
}

func (t countingTx) PutIncident(st IncidentState) error {
	t.n.Add(1)
	return t.Tx.PutIncident(st)
}

func (s *putCounter) Update(fn func(tx Tx) error) error {
	return s.MemStore.Update(func(tx Tx) error { return fn(countingTx{Tx: tx, n: &s.puts}) })
}

// TestRestartWritesNothingUnchanged: the rebuild at start steps every open
// incident with Reconfigured; when that changes nothing (the same
// configuration, nothing due) it writes none of them.
func TestRestartWritesNothingUnchanged(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, NewMemStore(), "10:00")
		st := &putCounter{MemStore: h.store}
		rebuild := func(p *Pager) int64 {
			before := st.puts.Load()
			p.mu.Lock()
			err := p.rebuild()
			p.mu.Unlock()
			if err != nil {
				t.Fatal(err)
			}
			return st.puts.Load() - before
		}
		p, err := New(Options{Config: h.c, Store: st, Now: h.now})
		if err != nil {
			t.Fatal(err)
		}
		if err := p.Receive(page("A", "c1"), page("B", "c2")); err != nil {
			t.Fatal(err)
		}
		if n := rebuild(p); n != 0 { // the first pages went out with Receive's step
			t.Fatalf("the first rebuild wrote %d incidents, want none", n)
		}
		restarted, err := New(Options{Config: h.c, Store: st, Now: h.now})
		if err != nil {
			t.Fatal(err)
		}
		if n := rebuild(restarted); n != 0 {
			t.Errorf("a restart with nothing due wrote %d incidents, want none", n)
		}
		if len(restarted.open.byID) != 2 {
			t.Errorf("%d open incidents cached, want 2", len(restarted.open.byID))
		}
	})
}
