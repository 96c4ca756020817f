package bench

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/watchdog-sre/watchdog/pager"
	"github.com/watchdog-sre/watchdog/pager/channel"
	"github.com/watchdog-sre/watchdog/pager/sqlstore"
)

// The alert storm: stormAlerts alerts over stormGroups incident groups,
// received in batches of stormBatch (an evaluator or an Alertmanager-style
// client posting), alert i belonging to group i % groups so that every
// batch touches many groups and incidents keep opening while the storm
// goes on. See PAGER.md.
const (
	stormAlerts = 100_000
	stormGroups = 1_000
	stormBatch  = 100
)

// stormConfig routes every alert by its group label to one incident per
// group, with group_wait 0, and pages one user by push at once.
const stormConfig = `
pager:
  users:
    - name: oncall
      contact: {push: oncall-topic}
      notification_rules: [{after: 0s, method: push}]
  escalation_policies:
    - name: storm
      levels: [{targets: [user:oncall], escalate_after: 1h}]
  routes:
    - matchers: ['severity="page"']
      group_by: [group]
      group_wait: 0s
      group_interval: 5m
      escalation_policy: storm
`

// handoffChannel timestamps the first page of every group.
type handoffChannel struct {
	mu    sync.Mutex
	first map[string]time.Time // group label → first handoff
	done  chan struct{}        // closed when want groups have a page
	want  int
}

func (c *handoffChannel) Name() string { return pager.MethodPush }

func (c *handoffChannel) Send(_ context.Context, m channel.Message) (bool, error) {
	now := time.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	g := m.Labels["group"]
	if _, ok := c.first[g]; !ok && m.Recipient.Name != "" {
		c.first[g] = now
		if len(c.first) == c.want {
			close(c.done)
		}
	}
	return false, nil
}

// stormAlertSet builds the alerts once: label maps are the caller's and
// the pager copies what it keeps.
func stormAlertSet(alerts, groups int) []pager.Alert {
	out := make([]pager.Alert, alerts)
	for i := range out {
		out[i] = pager.Alert{
			Labels: map[string]string{"alertname": "StormErrors", "severity": "page",
				"group": "g" + strconv.Itoa(i%groups), "instance": "i" + strconv.Itoa(i/groups)},
			Annotations: map[string]string{"summary": "errors in group " + strconv.Itoa(i%groups)},
		}
	}
	return out
}

type stormResult struct {
	elapsed  time.Duration
	arrivals []time.Duration // per group: arrival of its first alert → first page
}

// runStorm sends the alerts into a fresh pager over store and waits for
// the first page of every group.
func runStorm(tb testing.TB, cfg *pager.Config, store pager.Store, alerts []pager.Alert, groups, batch int) stormResult {
	ch := &handoffChannel{first: map[string]time.Time{}, done: make(chan struct{}), want: groups}
	p, err := pager.New(pager.Options{Config: cfg, Store: store, Channels: map[string]channel.Channel{pager.MethodPush: ch}})
	if err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	runDone := make(chan error, 1)
	go func() { runDone <- p.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-runDone; !errors.Is(err, context.Canceled) {
			tb.Errorf("Run: %v", err)
		}
	}()

	arrival := make(map[string]time.Time, groups)
	start := time.Now()
	for i := 0; i < len(alerts); i += batch {
		b := alerts[i:min(i+batch, len(alerts))]
		now := time.Now()
		for _, a := range b {
			if g := a.Labels["group"]; arrival[g].IsZero() {
				arrival[g] = now
			}
		}
		if err := p.Receive(b...); err != nil {
			tb.Fatal(err)
		}
	}
	select {
	case <-ch.done:
	case <-time.After(5 * time.Minute):
		tb.Fatalf("only %d of %d groups paged", len(ch.first), groups)
	}
	res := stormResult{elapsed: time.Since(start)}
	ch.mu.Lock()
	defer ch.mu.Unlock()
	for g, t := range ch.first {
		res.arrivals = append(res.arrivals, t.Sub(arrival[g]))
	}
	slices.Sort(res.arrivals)
	return res
}

func quantile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[min(int(q*float64(len(sorted))), len(sorted)-1)]
}

// BenchmarkPagerStorm sends an alert storm through routing, grouping, Step,
// the store and the delivery workers of pager.Pager. One op is one whole
// storm into a fresh pager and store; it ends when every group's first
// page has been handed to the channel.
func BenchmarkPagerStorm(b *testing.B) {
	cfg, err := pager.ParseConfig("storm.yml", []byte(stormConfig))
	if err != nil {
		b.Fatal(err)
	}
	sizes := []struct{ alerts, groups int }{{2_000, 20}, {10_000, 100}, {stormAlerts, stormGroups}}
	for _, sz := range sizes {
		alerts := stormAlertSet(sz.alerts, sz.groups)
		name := fmt.Sprintf("alerts=%d/groups=%d", sz.alerts, sz.groups)
		b.Run("memstore/"+name, func(b *testing.B) {
			benchStorm(b, cfg, alerts, sz.groups, func() (pager.Store, func() error) { return pager.NewMemStore(), nil })
		})
		b.Run("sqlite/"+name, func(b *testing.B) {
			benchStorm(b, cfg, alerts, sz.groups, func() (pager.Store, func() error) {
				st, err := sqlstore.Open(filepath.Join(b.TempDir(), "pager.db"), sqlstore.Options{})
				if err != nil {
					b.Fatal(err)
				}
				return st, st.Close
			})
		})
	}
}

// benchStorm runs one storm per op into a fresh store from open (opened
// and closed outside the timer) and reports alerts/s and the arrival →
// first-handoff latency quantiles over all ops.
func benchStorm(b *testing.B, cfg *pager.Config, alerts []pager.Alert, groups int, open func() (pager.Store, func() error)) {
	var lat []time.Duration
	var elapsed time.Duration
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		st, closeFn := open()
		b.StartTimer()
		r := runStorm(b, cfg, st, alerts, groups, stormBatch)
		b.StopTimer()
		if closeFn != nil {
			if err := closeFn(); err != nil {
				b.Fatal(err)
			}
		}
		b.StartTimer()
		lat = append(lat, r.arrivals...)
		elapsed += r.elapsed
	}
	slices.Sort(lat)
	b.ReportMetric(float64(len(alerts))*float64(b.N)/elapsed.Seconds(), "alerts/s")
	b.ReportMetric(float64(quantile(lat, 0.50).Microseconds())/1e3, "p50_ms")
	b.ReportMetric(float64(quantile(lat, 0.99).Microseconds())/1e3, "p99_ms")
	b.ReportMetric(float64(quantile(lat, 1).Microseconds())/1e3, "max_ms")
}

// TestPagerStormSmall checks the benchmark's scenario on a small storm,
// with each store: every group gets exactly one incident and one first
// page.
func TestPagerStormSmall(t *testing.T) {
	cfg, err := pager.ParseConfig("storm.yml", []byte(stormConfig))
	if err != nil {
		t.Fatal(err)
	}
	stores := map[string]func(t *testing.T) pager.Store{
		"memstore": func(*testing.T) pager.Store { return pager.NewMemStore() },
		"sqlite": func(t *testing.T) pager.Store {
			st, err := sqlstore.Open(filepath.Join(t.TempDir(), "pager.db"), sqlstore.Options{})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { st.Close() })
			return st
		},
	}
	for name, open := range stores {
		t.Run(name, func(t *testing.T) {
			store := open(t)
			r := runStorm(t, cfg, store, stormAlertSet(2_000, 50), 50, stormBatch)
			if len(r.arrivals) != 50 {
				t.Fatalf("%d groups paged, want 50", len(r.arrivals))
			}
			var open []pager.IncidentState
			if err := store.View(func(tx pager.ReadTx) error {
				open, err = tx.Incidents(pager.IncidentFilter{})
				return err
			}); err != nil {
				t.Fatal(err)
			}
			if len(open) != 50 {
				t.Fatalf("%d incidents, want 50", len(open))
			}
			for _, st := range open {
				if len(st.Alerts) != 40 {
					t.Errorf("%s has %d alerts, want 40", st.ID, len(st.Alerts))
				}
			}
		})
	}
}
