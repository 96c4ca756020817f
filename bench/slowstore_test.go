package bench

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql"

	"github.com/watchdog-sre/watchdog/pager"
	"github.com/watchdog-sre/watchdog/rules"
	"github.com/watchdog-sre/watchdog/rules/alertmanager"
	"github.com/watchdog-sre/watchdog/tsdb"
)

// The slow-pager scenario (issue #11): a rule group whose one alerting rule
// fires for slowSeries series on every evaluation, its alerts handed to a
// pager whose store takes slowDelay per transaction. Through the bounded
// queue (alertmanager.Local, as cmd/watchdog wires it) the evaluation costs
// the same as with a fast store; handed over synchronously (the wiring before
// the queue) it costs the store's delay.
const (
	slowSeries = 200
	slowRule   = `groups:
  - name: slow
    rules:
      - alert: ErrorsSeen
        expr: slow_errors > 0
        labels: {severity: page}
`
)

// slowStore delays every transaction of the store it wraps.
type slowStore struct {
	pager.Store
	delay time.Duration
}

func (s slowStore) Update(fn func(tx pager.Tx) error) error {
	time.Sleep(s.delay)
	return s.Store.Update(fn)
}

func (s slowStore) View(fn func(tx pager.ReadTx) error) error {
	time.Sleep(s.delay)
	return s.Store.View(fn)
}

// slowSetup builds the store with slowSeries series, one rule group and a
// pager over a store slowed by delay. queued selects the bounded queue
// between the rules and the pager (false: a synchronous hand-over). It
// returns the group, the store and the time of the first samples; ctx runs
// the queue.
func slowSetup(tb testing.TB, ctx context.Context, delay time.Duration, queued bool) (*rules.Group, *tsdb.DB, time.Time) {
	tb.Helper()
	// The benchmark's evaluations step through time faster than the wall
	// clock: the store's accepted window moves with them.
	db, err := tsdb.Open(tsdb.Options{FutureWindow: 1000 * time.Hour})
	if err != nil {
		tb.Fatal(err)
	}
	now := time.Now().Truncate(time.Second)
	slowAppend(tb, db, now)
	cfg, err := pager.ParseConfig("storm.yml", []byte(stormConfig))
	if err != nil {
		tb.Fatal(err)
	}
	p, err := pager.New(pager.Options{Config: cfg, Store: slowStore{Store: pager.NewMemStore(), delay: delay}})
	if err != nil {
		tb.Fatal(err)
	}
	toPager := func(alerts ...alertmanager.Alert) error {
		in := make([]pager.Alert, 0, len(alerts))
		for _, a := range alerts {
			in = append(in, pager.Alert{Labels: a.Labels, Annotations: a.Annotations, StartsAt: a.StartsAt, EndsAt: a.EndsAt})
		}
		if err := p.Receive(in...); err != nil {
			tb.Error(err)
		}
		return nil
	}
	sink := func(alerts ...alertmanager.Alert) { toPager(alerts...) }
	if queued {
		q := alertmanager.NewLocal(alertmanager.LocalOptions{Name: "pager"}, toPager)
		go q.Run(ctx)
		sink = q.Send
	}
	dir := tb.TempDir()
	file := filepath.Join(dir, "slow.yml")
	if err := os.WriteFile(file, []byte(slowRule), 0o644); err != nil {
		tb.Fatal(err)
	}
	mgr := rules.NewManager(rules.Options{
		Query:     rules.EngineQueryFunc(promql.NewEngine(promql.EngineOpts{MaxSamples: 1e6, Timeout: time.Minute}), db),
		Queryable: db,
		Appender:  func() rules.Appender { return db.Appender() },
		Notify: func(_ context.Context, _ string, alerts ...*rules.Alert) {
			out := make([]alertmanager.Alert, 0, len(alerts))
			for _, a := range alerts {
				out = append(out, alertmanager.Alert{Labels: a.Labels.Map(), StartsAt: a.ActiveAt, EndsAt: a.ValidUntil})
			}
			sink(out...)
		},
	})
	if err := mgr.Update(time.Minute, []string{file}); err != nil {
		tb.Fatal(err)
	}
	return mgr.Groups()[0], db, now
}

// slowAppend writes one sample of every series at t.
func slowAppend(tb testing.TB, db *tsdb.DB, t time.Time) {
	tb.Helper()
	app := db.Appender()
	for i := range slowSeries {
		lset := labels.FromStrings("__name__", "slow_errors", "instance", fmt.Sprint("host-", i))
		if _, err := app.Append(0, lset, t.UnixMilli(), 1); err != nil {
			tb.Fatal(err)
		}
	}
	if err := app.Commit(); err != nil {
		tb.Fatal(err)
	}
}

// TestSlowPagerStoreDoesNotDelayRules: in a synctest bubble, where the
// slowed store's second per transaction is fake time, a rule evaluation
// through the queue takes no time at all, while the synchronous hand-over
// takes the store's delay.
func TestSlowPagerStoreDoesNotDelayRules(t *testing.T) {
	for _, tt := range []struct {
		name    string
		queued  bool
		atLeast time.Duration
		atMost  time.Duration
	}{
		{"queued", true, 0, 0},
		{"synchronous", false, time.Second, time.Hour},
	} {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				g, _, now := slowSetup(t, ctx, time.Second, tt.queued)
				for i := range 3 {
					start := time.Now()
					g.Eval(ctx, now.Add(time.Duration(i)*2*time.Minute)) // past the 1m resend delay
					if d := time.Since(start); d < tt.atLeast || d > tt.atMost {
						t.Errorf("evaluation %d took %v of the store's time, want %v..%v", i, d, tt.atLeast, tt.atMost)
					}
				}
				cancel()
				time.Sleep(time.Hour) // the queue finishes the batch it is in
				synctest.Wait()
			})
		})
	}
}

// BenchmarkRulesSlowPagerStore reports the wall time of one rule evaluation
// (slowSeries firing alerts handed to the pager) with a fast store and with
// one that takes 20 ms per transaction, in the same run, through the queue;
// and the synchronous hand-over with the slow store for contrast. The
// slow/fast ratio of the queued path is reported on the slow case.
//
//	go test ./bench -run '^$' -bench RulesSlowPagerStore -benchtime=200x
func BenchmarkRulesSlowPagerStore(b *testing.B) {
	var fast float64
	for _, c := range []struct {
		name   string
		delay  time.Duration
		queued bool
	}{
		{"queued/store=fast", 0, true},
		{"queued/store=slow20ms", 20 * time.Millisecond, true},
		{"synchronous/store=slow20ms", 20 * time.Millisecond, false},
	} {
		b.Run(c.name, func(b *testing.B) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			g, db, ts := slowSetup(b, ctx, c.delay, c.queued)
			for b.Loop() {
				// Every evaluation sends all alerts (past the 1m resend
				// delay), over fresh samples appended outside the timer.
				b.StopTimer()
				ts = ts.Add(2 * time.Minute)
				slowAppend(b, db, ts)
				b.StartTimer()
				g.Eval(ctx, ts)
			}
			ns := float64(b.Elapsed().Nanoseconds()) / float64(b.N)
			switch {
			case c.delay == 0:
				fast = ns
			case c.queued && fast > 0:
				b.ReportMetric(ns/fast, "slow/fast")
			}
		})
	}
}
