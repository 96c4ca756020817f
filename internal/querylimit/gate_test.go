package querylimit

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
)

func TestGateQueuesThenRefuses(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := NewGate(2, 1)
		ctx := t.Context()
		r1, err := g.Enter(ctx)
		if err != nil {
			t.Fatal(err)
		}
		r2, err := g.Enter(ctx)
		if err != nil {
			t.Fatal(err)
		}
		entered := make(chan func())
		go func() {
			r3, err := g.Enter(ctx)
			if err != nil {
				t.Error(err)
			}
			entered <- r3
		}()
		synctest.Wait()
		if g.Running() != 2 || g.Waiting() != 1 {
			t.Fatalf("running %d waiting %d, want 2 and 1", g.Running(), g.Waiting())
		}
		if _, err := g.Enter(ctx); !errors.Is(err, ErrQueueFull) {
			t.Fatalf("fourth Enter = %v, want ErrQueueFull", err)
		}
		r1()
		r1() // a second call frees nothing more
		r3 := <-entered
		if g.Running() != 2 || g.Waiting() != 0 {
			t.Fatalf("after a release: running %d waiting %d, want 2 and 0", g.Running(), g.Waiting())
		}
		r2()
		r3()
		if g.Running() != 0 {
			t.Fatalf("running %d after every release", g.Running())
		}
	})
}

func TestGateWaiterLeavesOnCancel(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := NewGate(1, 1)
		release, err := g.Enter(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		defer release()
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error)
		go func() {
			_, err := g.Enter(ctx)
			done <- err
		}()
		synctest.Wait()
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Fatalf("canceled waiter got %v, want context.Canceled", err)
		}
		// Its place in the queue is free again.
		go func() {
			_, err := g.Enter(t.Context())
			done <- err
		}()
		synctest.Wait()
		if g.Waiting() != 1 {
			t.Fatalf("waiting %d, want 1", g.Waiting())
		}
		release()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	})
}
