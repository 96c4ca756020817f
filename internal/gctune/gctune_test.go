package gctune

import (
	"context"
	"runtime"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// TestPercent: the headroom is the base percentage of the scanned part of
// the live heap, within [MinPercent, base].
func TestPercent(t *testing.T) {
	const mib = 1 << 20
	for _, tt := range []struct {
		name              string
		base              int
		live, pointerFree int64
		want              int
	}{
		{"no chunks", 50, 200 * mib, 0, 50},
		{"no heap read yet", 50, 0, 10 * mib, 50},
		{"a fifth chunks", 50, 200 * mib, 40 * mib, 40},
		{"three quarters chunks", 50, 800 * mib, 600 * mib, 13}, // 12.5 rounded up
		{"all chunks", 50, 800 * mib, 800 * mib, MinPercent},
		{"chunks counted past the live heap", 50, 100 * mib, 300 * mib, MinPercent},
		{"base at the floor", MinPercent, 800 * mib, 600 * mib, MinPercent},
		{"large base", 400, 1000 * mib, 500 * mib, 200},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := Percent(tt.base, tt.live, tt.pointerFree); got != tt.want {
				t.Errorf("Percent(%d, %d, %d) = %d, want %d", tt.base, tt.live, tt.pointerFree, got, tt.want)
			}
		})
	}
}

// TestRun: the percentage follows the chunk share every interval, is set
// only when it changes, and goes back to the base when the context ends.
func TestRun(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var mu sync.Mutex
		var set []int
		chunks := int64(0)
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan struct{})
		go func() {
			defer close(done)
			Run(ctx, Options{
				Percent:  50,
				Interval: time.Second,
				LiveHeap: func() int64 { return 1000 },
				PointerFree: func() int64 {
					mu.Lock()
					defer mu.Unlock()
					return chunks
				},
				SetGCPercent: func(p int) int {
					mu.Lock()
					defer mu.Unlock()
					set = append(set, p)
					return 0
				},
			})
		}()
		step := func(c int64) {
			mu.Lock()
			chunks = c
			mu.Unlock()
			time.Sleep(time.Second)
			synctest.Wait()
		}
		step(0)   // no change: 50 stays, nothing set
		step(500) // 25
		step(500) // unchanged
		step(900) // 5
		cancel()
		<-done
		mu.Lock()
		defer mu.Unlock()
		want := []int{25, MinPercent, 50}
		if len(set) != len(want) {
			t.Fatalf("set %v, want %v", set, want)
		}
		for i := range want {
			if set[i] != want[i] {
				t.Fatalf("set %v, want %v", set, want)
			}
		}
	})
}

// TestRunNeedsPercentAndChunks: without a base or a chunk reader Run
// returns at once and touches nothing.
func TestRunNeedsPercentAndChunks(t *testing.T) {
	touched := false
	set := func(int) int { touched = true; return 0 }
	Run(t.Context(), Options{PointerFree: func() int64 { return 1 }, SetGCPercent: set})
	Run(t.Context(), Options{Percent: 50, SetGCPercent: set})
	if touched {
		t.Fatal("Run set a percentage without a base or a chunk reader")
	}
}

// TestLiveHeap reads a positive live heap from the runtime once a
// collection has measured one.
func TestLiveHeap(t *testing.T) {
	runtime.GC()
	if liveHeap() <= 0 {
		t.Fatal("liveHeap() <= 0")
	}
}
