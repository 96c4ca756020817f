package pager

import (
	"context"
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
