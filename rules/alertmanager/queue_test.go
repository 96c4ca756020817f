package alertmanager

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/VictoriaMetrics/metrics"
)

func named(n int) []Alert {
	out := make([]Alert, n)
	for i := range out {
		out[i] = Alert{Labels: map[string]string{"alertname": fmt.Sprint("a", i)}}
	}
	return out
}

// TestLocalSlowReceiver: a receiver that takes a minute per batch never
// delays Send; alerts arrive in order; a full queue drops the oldest,
// counted.
func TestLocalSlowReceiver(t *testing.T) {
	tests := []struct {
		name      string
		capacity  int
		sends     int // batches of one alert sent while the receiver is stuck
		wantDrops uint64
	}{
		{"fits", 10, 5, 0},
		{"overflows", 3, 8, 5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				set := metrics.NewSet()
				var mu sync.Mutex
				var got []string
				release := make(chan struct{})
				l := NewLocal(LocalOptions{Name: "pager", Capacity: tt.capacity, BatchSize: 1, Metrics: set},
					func(alerts ...Alert) error {
						<-release // stuck until the test lets go
						time.Sleep(time.Minute)
						mu.Lock()
						for _, a := range alerts {
							got = append(got, a.Labels["alertname"])
						}
						mu.Unlock()
						return nil
					})
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				go l.Run(ctx)

				start := time.Now()
				all := named(tt.sends + 1)
				l.Send(all[0]) // taken by the receiver, which blocks
				synctest.Wait()
				for _, a := range all[1:] {
					l.Send(a)
				}
				if d := time.Since(start); d != 0 {
					t.Fatalf("Send blocked for %v behind a stuck receiver", d)
				}
				if d := set.GetOrCreateCounter(`watchdog_alert_queue_dropped_total{sink="pager"}`).Get(); d != tt.wantDrops {
					t.Errorf("dropped %d, want %d", d, tt.wantDrops)
				}
				close(release)
				time.Sleep(time.Duration(tt.sends+2) * time.Minute)
				synctest.Wait()
				mu.Lock()
				defer mu.Unlock()
				// The first alert, then the newest that fitted, in order.
				want := []string{"a0"}
				for i := 1 + int(tt.wantDrops); i <= tt.sends; i++ {
					want = append(want, fmt.Sprint("a", i))
				}
				if fmt.Sprint(got) != fmt.Sprint(want) {
					t.Errorf("delivered %v, want %v", got, want)
				}
				if n := set.GetOrCreateCounter(`watchdog_alert_queue_delivered_total{sink="pager"}`).Get(); n != uint64(len(want)) {
					t.Errorf("delivered counter %d, want %d", n, len(want))
				}
			})
		})
	}
}

// TestLocalStops: Run returns when its context ends, even with alerts queued
// behind a receiver that is still busy.
func TestLocalStops(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := NewLocal(LocalOptions{}, func(...Alert) error { time.Sleep(time.Hour); return nil })
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { l.Run(ctx); close(done) }()
		l.Send(named(3)...)
		synctest.Wait()
		cancel()
		time.Sleep(time.Hour)
		synctest.Wait()
		select {
		case <-done:
		default:
			t.Fatal("Run did not return after its context ended")
		}
	})
}

// TestLocalReceiverDown: while the receiver fails (its database is down),
// the batch in hand is offered again with backoff and newer alerts wait in
// the queue; when it is back, everything arrives in order, nothing lost.
func TestLocalReceiverDown(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		set := metrics.NewSet()
		var mu sync.Mutex
		down := true
		var got []string
		var attempts []time.Duration
		start := time.Now()
		l := NewLocal(LocalOptions{Name: "pager", BatchSize: 2, Metrics: set}, func(alerts ...Alert) error {
			mu.Lock()
			defer mu.Unlock()
			attempts = append(attempts, time.Since(start))
			if down {
				return fmt.Errorf("database is down")
			}
			for _, a := range alerts {
				got = append(got, a.Labels["alertname"])
			}
			return nil
		})
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		go l.Run(ctx)
		all := named(5)
		l.Send(all[:2]...)
		synctest.Wait()
		l.Send(all[2:]...) // arrive while the receiver is down
		time.Sleep(40 * time.Second)
		mu.Lock()
		down = false
		mu.Unlock()
		time.Sleep(time.Minute)
		synctest.Wait()
		mu.Lock()
		defer mu.Unlock()
		if fmt.Sprint(got) != "[a0 a1 a2 a3 a4]" {
			t.Errorf("delivered %v, want all five in order", got)
		}
		// Retries at 0, 1, 3, 7, 15, 31 s (doubling), then the first at 61 s
		// after the outage ended at 40 s: waits are capped at 30 s.
		want := []time.Duration{0, time.Second, 3 * time.Second, 7 * time.Second, 15 * time.Second, 31 * time.Second, 61 * time.Second}
		if fmt.Sprint(attempts[:len(want)]) != fmt.Sprint(want) {
			t.Errorf("attempts at %v, want %v first", attempts, want)
		}
		if f := set.GetOrCreateCounter(`watchdog_alert_queue_delivery_failures_total{sink="pager"}`).Get(); f != 6 {
			t.Errorf("%d failures counted, want 6", f)
		}
	})
}

// TestLocalHolding: a Local holds alerts from Send until its receiver has
// taken them, including the batch in hand while the receiver is down.
func TestLocalHolding(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var mu sync.Mutex
		down := true
		l := NewLocal(LocalOptions{Name: "api"}, func(alerts ...Alert) error {
			mu.Lock()
			defer mu.Unlock()
			if down {
				return fmt.Errorf("database is down")
			}
			return nil
		})
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		go l.Run(ctx)
		steps := []struct {
			name string
			act  func()
			want bool
		}{
			{"idle", func() {}, false},
			{"sent, receiver down", func() { l.Send(named(2)...) }, true},
			{"batch in hand, retrying", func() { time.Sleep(10 * time.Second) }, true},
			{"receiver back", func() {
				mu.Lock()
				down = false
				mu.Unlock()
				time.Sleep(time.Minute)
			}, false},
			{"sent, receiver up", func() { l.Send(named(1)...) }, false},
		}
		for _, s := range steps {
			s.act()
			synctest.Wait()
			if got := l.Holding(); got != s.want {
				t.Fatalf("%s: Holding() = %v, want %v", s.name, got, s.want)
			}
		}
	})
}
