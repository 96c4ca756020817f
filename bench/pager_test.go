package bench

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/watchdog-sre/watchdog/internal/pgtest"
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

// handoffChannel timestamps the first page of every group. The replicas
// of a storm share it (each through its replicaChannel), so a group's first
// page counts wherever it was sent.
type handoffChannel struct {
	mu    sync.Mutex
	first map[string]time.Time // group label → first handoff
	pages map[string]int       // group label → pages handed off
	by    map[string]int       // replica name → pages it sent
	done  chan struct{}        // closed when want groups have a page
	want  int
}

func newHandoffChannel(groups int) *handoffChannel {
	return &handoffChannel{first: map[string]time.Time{}, pages: map[string]int{}, by: map[string]int{},
		done: make(chan struct{}), want: groups}
}

func (c *handoffChannel) send(replica string, m channel.Message) {
	now := time.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	if m.Recipient.Name == "" {
		return
	}
	g := m.Labels["group"]
	c.pages[g]++
	c.by[replica]++
	if _, ok := c.first[g]; !ok {
		c.first[g] = now
		if len(c.first) == c.want {
			close(c.done)
		}
	}
}

// replicaChannel is one replica's push channel into the shared
// handoffChannel.
type replicaChannel struct {
	replica string
	h       *handoffChannel
}

func (c replicaChannel) Name() string { return pager.MethodPush }

func (c replicaChannel) Send(_ context.Context, m channel.Message) (bool, error) {
	c.h.send(c.replica, m)
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

// stormReplica is one pager of a storm and the store it runs on.
type stormReplica struct {
	name    string        // replica name; "" for a pager that is its store's only user
	store   pager.Store   // pager.Options.Store
	cluster pager.Cluster // pager.Options.Cluster; nil when not clustered
	close   func() error  // closes store; may be nil
}

// stormStores opens the store(s) of one storm: one pager, or several
// replicas sharing a database.
type stormStores func(tb testing.TB) []stormReplica

// stormLease is the lease of clustered replicas (storage.pager_lease).
const stormLease = 2 * time.Second

// leaseLog counts, from the replicas' log lines, the terms they began
// (took the lease) and why they stepped down.
type leaseLog struct {
	mu    sync.Mutex
	terms int
	downs map[string]int // why → step-downs
}

func (l *leaseLog) Enabled(_ context.Context, lv slog.Level) bool { return lv >= slog.LevelInfo }
func (l *leaseLog) WithAttrs([]slog.Attr) slog.Handler            { return l }
func (l *leaseLog) WithGroup(string) slog.Handler                 { return l }

func (l *leaseLog) Handle(_ context.Context, r slog.Record) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	switch {
	case strings.HasPrefix(r.Message, "pager: took the lease"):
		l.terms++
	case strings.HasPrefix(r.Message, "pager: stepped down"):
		why := ""
		r.Attrs(func(a slog.Attr) bool {
			if a.Key == "why" {
				why = a.Value.String()
			}
			return true
		})
		l.downs[why]++
	}
	return nil
}

// counts returns the terms begun and the step-downs so far.
func (l *leaseLog) counts() (terms, downs int, why map[string]int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, n := range l.downs {
		downs += n
	}
	return l.terms, downs, maps.Clone(l.downs)
}

// storm is the running pagers of one storm. Receive batches go to them
// round-robin, as alerts would arrive at load-balanced replicas; they
// share one handoffChannel.
type storm struct {
	pagers []*pager.Pager
	names  []string
	store  pager.Store // the first pager's store
	ch     *handoffChannel
	leader string // the replica leading when the storm started ("" when not clustered)
	lease  *leaseLog
	stop   func() // cancels Run, waits for it and closes the stores
}

// startStorm opens the stores, starts a pager on each and, with replicas,
// waits until one of them leads.
func startStorm(tb testing.TB, cfg *pager.Config, groups int, open stormStores) *storm {
	tb.Helper()
	reps := open(tb)
	s := &storm{ch: newHandoffChannel(groups), store: reps[0].store, lease: &leaseLog{downs: map[string]int{}}}
	ctx, cancel := context.WithCancel(context.Background())
	runDone := make(chan error, len(reps))
	for _, r := range reps {
		o := pager.Options{Config: cfg, Store: r.store,
			Channels: map[string]channel.Channel{pager.MethodPush: replicaChannel{r.name, s.ch}}}
		if r.cluster != nil {
			o.Cluster, o.Lease, o.Logger = r.cluster, stormLease, slog.New(s.lease)
		}
		p, err := pager.New(o)
		if err != nil {
			cancel()
			tb.Fatal(err)
		}
		s.pagers, s.names = append(s.pagers, p), append(s.names, r.name)
		go func() { runDone <- p.Run(ctx) }()
	}
	started := len(reps)
	s.stop = func() {
		cancel()
		for range started {
			if err := <-runDone; !errors.Is(err, context.Canceled) {
				tb.Errorf("Run: %v", err)
			}
		}
		started = 0
		for _, r := range reps {
			if r.close != nil {
				if err := r.close(); err != nil {
					tb.Errorf("close store: %v", err)
				}
			}
		}
		reps = nil
	}
	if reps[0].cluster == nil {
		return s
	}
	leader, err := waitLeader(s.pagers, s.names, 30*time.Second)
	if err != nil {
		s.stop()
		tb.Fatal(err)
	}
	s.leader = leader
	return s
}

// waitLeader polls the replicas until one of them leads and returns its
// name. The replicas campaign on real time, so this is a bounded poll.
func waitLeader(pagers []*pager.Pager, names []string, timeout time.Duration) (string, error) {
	deadline := time.Now().Add(timeout)
	for {
		for i, p := range pagers {
			st, err := p.Cluster()
			if err != nil {
				return "", fmt.Errorf("cluster status of %s: %w", names[i], err)
			}
			if st.Leading {
				return names[i], nil
			}
		}
		if time.Now().After(deadline) {
			return "", fmt.Errorf("no replica of %v leads after %v", names, timeout)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

type stormResult struct {
	elapsed  time.Duration
	arrivals []time.Duration // per group: arrival of its first alert → first page
	refused  int             // Receive calls that failed and were sent to the next replica
}

// maxReceiveTries bounds the replicas one batch is offered to.
const maxReceiveTries = 5

// runStorm sends the alerts into the storm's pagers, batch by batch and
// round-robin, and waits for the first page of every group.
func runStorm(tb testing.TB, s *storm, alerts []pager.Alert, batch int) stormResult {
	tb.Helper()
	ch := s.ch
	arrival := make(map[string]time.Time, ch.want)
	var res stormResult
	start := time.Now()
	for i, k := 0, 0; i < len(alerts); i, k = i+batch, k+1 {
		b := alerts[i:min(i+batch, len(alerts))]
		now := time.Now()
		for _, a := range b {
			if g := a.Labels["group"]; arrival[g].IsZero() {
				arrival[g] = now
			}
		}
		for try := 0; ; try++ {
			// A refused batch goes to the next replica, as a client behind
			// a load balancer would retry it (the refusal committed
			// nothing); a single pager has no other to try.
			err := s.pagers[(k+try)%len(s.pagers)].Receive(b...)
			if err == nil {
				break
			}
			if len(s.pagers) == 1 || try == maxReceiveTries-1 {
				tb.Fatal(err)
			}
			if res.refused++; res.refused == 1 {
				tb.Logf("a replica refused a batch (sent to the next): %v", err)
			}
		}
	}
	select {
	case <-ch.done:
	case <-time.After(5 * time.Minute):
		ch.mu.Lock()
		n := len(ch.first)
		ch.mu.Unlock()
		tb.Fatalf("only %d of %d groups paged", n, ch.want)
	}
	res.elapsed = time.Since(start)
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

// stormStoreCases are the stores of the benchmark and of its small test,
// in order.
var stormStoreCases = []struct {
	name     string
	postgres bool
	open     stormStores
}{
	{"memstore", false, func(testing.TB) []stormReplica {
		return []stormReplica{{store: pager.NewMemStore()}}
	}},
	{"sqlite", false, func(tb testing.TB) []stormReplica {
		st, err := sqlstore.Open(filepath.Join(tb.TempDir(), "pager.db"), sqlstore.Options{})
		if err != nil {
			tb.Fatal(err)
		}
		return []stormReplica{{store: st, close: st.Close}}
	}},
	{"postgres", true, func(tb testing.TB) []stormReplica {
		st, err := sqlstore.OpenPostgres(pgtest.DB(tb), sqlstore.Options{})
		if err != nil {
			tb.Fatal(err)
		}
		return []stormReplica{{store: st, close: st.Close}}
	}},
	{"postgres-3replicas", true, openReplicas("a", "b", "c")},
}

// openReplicas opens one PostgreSQL store per replica name on one fresh
// database, each both the pager's Store and its Cluster.
func openReplicas(names ...string) stormStores {
	return func(tb testing.TB) []stormReplica {
		url := pgtest.DB(tb)
		var reps []stormReplica
		for _, n := range names {
			st, err := sqlstore.OpenPostgres(url, sqlstore.Options{Replica: n})
			if err != nil {
				for _, r := range reps {
					r.close()
				}
				tb.Fatal(err)
			}
			reps = append(reps, stormReplica{name: n, store: st, cluster: st, close: st.Close})
		}
		return reps
	}
}

// BenchmarkPagerStorm sends an alert storm through routing, grouping, Step,
// the store and the delivery workers of pager.Pager. One op is one whole
// storm into fresh pagers and stores; it ends when every group's first
// page has been handed to the channel. The postgres cases skip when
// PostgreSQL is not available (internal/pgtest).
func BenchmarkPagerStorm(b *testing.B) {
	cfg, err := pager.ParseConfig("storm.yml", []byte(stormConfig))
	if err != nil {
		b.Fatal(err)
	}
	sizes := []struct{ alerts, groups int }{{2_000, 20}, {10_000, 100}, {stormAlerts, stormGroups}}
	for _, sz := range sizes {
		alerts := stormAlertSet(sz.alerts, sz.groups)
		name := fmt.Sprintf("alerts=%d/groups=%d", sz.alerts, sz.groups)
		for _, sc := range stormStoreCases {
			b.Run(sc.name+"/"+name, func(b *testing.B) {
				if sc.postgres {
					pgtest.Server(b) // skips here, before the timed loop
				}
				benchStorm(b, cfg, alerts, sz.groups, sc.open)
			})
		}
	}
}

// benchStorm runs one storm per op into fresh pagers on fresh stores
// (started and stopped outside the timer) and reports alerts/s and the
// arrival → first-handoff latency quantiles over all ops.
func benchStorm(b *testing.B, cfg *pager.Config, alerts []pager.Alert, groups int, open stormStores) {
	var lat []time.Duration
	var elapsed time.Duration
	var terms, downs, refused int
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		s := startStorm(b, cfg, groups, open)
		b.StartTimer()
		r := runStorm(b, s, alerts, stormBatch)
		b.StopTimer()
		t, d, why := s.lease.counts() // before stop, whose resign steps down
		s.stop()
		terms, downs = terms+t, downs+d
		if d > 0 {
			b.Logf("replicas stepped down %d time(s) during the storm: %v", d, why)
		}
		b.StartTimer()
		lat = append(lat, r.arrivals...)
		elapsed += r.elapsed
		refused += r.refused
	}
	slices.Sort(lat)
	b.ReportMetric(float64(len(alerts))*float64(b.N)/elapsed.Seconds(), "alerts/s")
	b.ReportMetric(float64(quantile(lat, 0.50).Microseconds())/1e3, "p50_ms")
	b.ReportMetric(float64(quantile(lat, 0.99).Microseconds())/1e3, "p99_ms")
	b.ReportMetric(float64(quantile(lat, 1).Microseconds())/1e3, "max_ms")
	if terms > 0 {
		b.ReportMetric(float64(terms)/float64(b.N), "terms/op")
		b.ReportMetric(float64(downs)/float64(b.N), "stepdowns/op")
		b.ReportMetric(float64(refused)/float64(b.N), "refused_batches/op")
	}
}

// TestPagerStormSmall checks the benchmark's scenario on a small storm,
// with each store: every group gets exactly one incident with all its
// alerts and exactly one page, and with replicas only the leader sends.
// Under -short the storm is 200 alerts in 10 groups instead of 2,000 in 50.
func TestPagerStormSmall(t *testing.T) {
	cfg, err := pager.ParseConfig("storm.yml", []byte(stormConfig))
	if err != nil {
		t.Fatal(err)
	}
	alerts, groups := 2_000, 50
	if testing.Short() {
		alerts, groups = 200, 10
	}
	for _, sc := range stormStoreCases {
		t.Run(sc.name, func(t *testing.T) {
			s := startStorm(t, cfg, groups, sc.open)
			defer s.stop()
			r := runStorm(t, s, stormAlertSet(alerts, groups), stormBatch)
			if len(r.arrivals) != groups {
				t.Fatalf("%d groups paged, want %d", len(r.arrivals), groups)
			}
			var open []pager.IncidentState
			if err := s.store.View(func(tx pager.ReadTx) error {
				open, err = tx.Incidents(pager.IncidentFilter{})
				return err
			}); err != nil {
				t.Fatal(err)
			}
			terms, downs, why := s.lease.counts() // before stop, whose resign steps down
			s.stop()                              // every Run has returned: no page can follow
			if downs > 0 || r.refused > 0 {
				// Not a failure by itself (a loaded machine can delay a
				// renewal); the sender check below is the assertion.
				t.Logf("%d term(s), %d step-down(s): %v; %d batch(es) refused and resent", terms, downs, why, r.refused)
			}
			if len(open) != groups {
				t.Fatalf("%d incidents, want %d", len(open), groups)
			}
			for _, st := range open {
				if len(st.Alerts) != alerts/groups {
					t.Errorf("%s has %d alerts, want %d", st.ID, len(st.Alerts), alerts/groups)
				}
			}
			for g, n := range s.ch.pages {
				if n != 1 {
					t.Errorf("group %s paged %d times, want once", g, n)
				}
			}
			for rep, n := range s.ch.by {
				if rep != s.leader {
					t.Errorf("replica %q sent %d pages; only the leader %q may send", rep, n, s.leader)
				}
			}
		})
	}
}
