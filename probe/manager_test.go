package probe

import (
	"context"
	"fmt"
	"math"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/value"

	"github.com/watchdog-sre/watchdog/config"
)

// memStore records appended samples.
type memStore struct {
	mu      sync.Mutex
	samples []memSample
}

type memSample struct {
	ls labels.Labels
	t  int64
	v  float64
}

type memApp struct {
	s       *memStore
	pending []memSample
}

func (a *memApp) Append(_ uint64, ls labels.Labels, t int64, v float64) (uint64, error) {
	a.pending = append(a.pending, memSample{ls, t, v})
	return 0, nil
}
func (a *memApp) Commit() error {
	a.s.mu.Lock()
	defer a.s.mu.Unlock()
	a.s.samples = append(a.s.samples, a.pending...)
	return nil
}
func (a *memApp) Rollback() error { return nil }

func (s *memStore) appender() Appender { return &memApp{s: s} }

// find returns the samples of series matching every name=value pair.
func (s *memStore) find(kv ...string) []memSample {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []memSample
	for _, x := range s.samples {
		ok := true
		for i := 0; i < len(kv); i += 2 {
			ok = ok && x.ls.Get(kv[i]) == kv[i+1]
		}
		if ok {
			out = append(out, x)
		}
	}
	return out
}

// fakeRun returns a runFn that takes d of (fake) time, or until the
// context ends, and succeeds unless the target contains "bad".
func fakeRun(d time.Duration, inFlight *int, peak *int, mu *sync.Mutex) func(context.Context, *config.ProbeModule, []config.JourneyStep, string) *Result {
	return func(ctx context.Context, _ *config.ProbeModule, _ []config.JourneyStep, target string) *Result {
		mu.Lock()
		*inFlight++
		*peak = max(*peak, *inFlight)
		mu.Unlock()
		defer func() { mu.Lock(); *inFlight--; mu.Unlock() }()
		start := time.Now()
		select {
		case <-time.After(d):
		case <-ctx.Done():
			return &Result{Duration: time.Since(start), Failure: &Failure{Reason: "timeout"},
				Samples: []Sample{{Name: "probe_success", Labels: labels.EmptyLabels()}}}
		}
		ok := !strings.Contains(target, "bad")
		r := &Result{Success: ok, Duration: time.Since(start),
			Samples: []Sample{{Name: "probe_success", Labels: labels.EmptyLabels(), Value: map[bool]float64{true: 1}[ok]}}}
		if !ok {
			r.Failure = &Failure{Reason: "bad target"}
		}
		return r
	}
}

func probesConfig(t *testing.T, n int, interval, timeout string) *config.Config {
	var sb strings.Builder
	sb.WriteString("probes:\n  - name: web\n    prober: tcp\n    interval: " + interval + "\n    timeout: " + timeout + "\n    labels: {team: shop}\n    targets:\n")
	for i := range n {
		fmt.Fprintf(&sb, "      - host%d:80\n", i)
	}
	return parseProbes(t, sb.String())
}

func TestSchedule(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := &memStore{}
		var mu sync.Mutex
		var inFlight, peak int
		m := New(Options{Appender: store.appender})
		m.runFn = fakeRun(100*time.Millisecond, &inFlight, &peak, &mu)
		m.Apply(probesConfig(t, 3, "15s", "5s"))
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { m.Run(ctx); close(done) }()
		time.Sleep(60 * time.Second)
		synctest.Wait()
		for i := range 3 {
			got := store.find("__name__", "probe_success", "instance", fmt.Sprintf("host%d:80", i), "job", "probe", "probe", "web", "team", "shop")
			if len(got) != 4 {
				t.Fatalf("host%d ran %d times in 60s at 15s, want 4", i, len(got))
			}
			for j := 1; j < len(got); j++ {
				if d := got[j].t - got[j-1].t; d != 15000 {
					t.Errorf("host%d: runs %d ms apart, want 15000", i, d)
				}
			}
		}
		st := m.Statuses()
		if len(st) != 3 || st[0].Health != "up" || st[0].Missed != 0 || st[0].Team() != "shop" {
			t.Errorf("statuses = %+v", st)
		}
		cancel()
		<-done
	})
}

func (s Status) Team() string { return s.Labels["team"] }

func TestScheduleJitter(t *testing.T) {
	k1, k2 := taskKey{"web", "a:80"}, taskKey{"web", "b:80"}
	if offset(k1, time.Minute) == offset(k2, time.Minute) {
		t.Errorf("two targets start at the same offset")
	}
	if offset(k1, time.Minute) != offset(k1, time.Minute) || offset(k1, time.Minute) >= time.Minute {
		t.Errorf("offset not stable or not within the interval")
	}
}

func TestConcurrencyBoundAndMisses(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var mu sync.Mutex
		var inFlight, peak int
		m := New(Options{MaxConcurrency: 2})
		// 6 probes of 10s every 15s need 4 slots; with 2, they queue and miss.
		m.runFn = fakeRun(10*time.Second, &inFlight, &peak, &mu)
		m.Apply(probesConfig(t, 6, "15s", "12s"))
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { m.Run(ctx); close(done) }()
		time.Sleep(5 * time.Minute)
		synctest.Wait()
		if peak != 2 {
			t.Errorf("peak concurrency %d, want 2", peak)
		}
		var missed int64
		for _, s := range m.Statuses() {
			missed += s.Missed
		}
		if missed == 0 {
			t.Errorf("no schedule misses counted with too few slots")
		}
		if got := m.misses.Get(); got != uint64(missed) {
			t.Errorf("watchdog_probe_schedule_misses_total = %d, statuses say %d", got, missed)
		}
		cancel()
		<-done
	})
}

func TestTimeoutAndReload(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := &memStore{}
		var mu sync.Mutex
		var inFlight, peak int
		m := New(Options{Appender: store.appender})
		m.runFn = fakeRun(time.Hour, &inFlight, &peak, &mu) // never answers
		m.Apply(probesConfig(t, 2, "30s", "5s"))
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { m.Run(ctx); close(done) }()
		time.Sleep(36 * time.Second) // every offset (< 30s) plus the 5s timeout
		synctest.Wait()
		for _, s := range m.Statuses() {
			if s.Health != "down" || s.LastFailure == nil || s.LastFailure.Reason != "timeout" || s.LastDuration != 5*time.Second {
				t.Errorf("status after a hanging run = %+v", s)
			}
		}
		// Reload with host1 gone: its series get a stale marker, it leaves the statuses.
		m.Apply(probesConfig(t, 1, "30s", "5s"))
		synctest.Wait()
		st := m.Statuses()
		if len(st) != 1 || st[0].Target != "host0:80" {
			t.Fatalf("statuses after reload = %+v", st)
		}
		got := store.find("instance", "host1:80")
		if len(got) < 2 || !value.IsStaleNaN(got[len(got)-1].v) {
			t.Errorf("host1's series did not end with a stale marker: %+v", got)
		}
		if math.IsNaN(store.find("instance", "host0:80")[0].v) {
			t.Errorf("host0's series was marked stale")
		}
		cancel()
		<-done
	})
}

func TestStaleMarkersForStepsNotRun(t *testing.T) {
	store := &memStore{}
	m := New(Options{Appender: store.appender})
	pc := parseProbes(t, "probes:\n  - name: j\n    target: http://shop\n    steps:\n      - {name: a, url: /a}\n      - {name: b, url: /b}\n").Probes[0]
	tk := &task{key: taskKey{"j", "http://shop"}}
	step := func(name string, v float64) Sample {
		return Sample{Name: "probe_journey_step_success", Labels: labels.FromStrings("step", name), Value: v}
	}
	m.store(tk, pc, []Sample{step("a", 1), step("b", 1)}, time.UnixMilli(1000))
	m.store(tk, pc, []Sample{step("a", 0)}, time.UnixMilli(2000)) // failed at a: b did not run
	b := store.find("step", "b")
	if len(b) != 2 || !value.IsStaleNaN(b[1].v) || b[1].t != 2000 {
		t.Errorf("step b after a run that did not reach it: %+v", b)
	}
	if a := store.find("step", "a"); len(a) != 2 || a[1].v != 0 {
		t.Errorf("step a: %+v", a)
	}
}
