package rules

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/prometheus/prometheus/promql"
)

const managerRulesV1 = `
groups:
  - name: a
    rules:
      - alert: A
        expr: vector(1)
        for: 2m
  - name: b
    rules:
      - alert: B
        expr: vector(1)
        for: 10m
  - name: c
    rules:
      - record: c_rec
        expr: vector(1)
`

// v2: a unchanged, b gains a rule (so it is replaced), c removed.
const managerRulesV2 = `
groups:
  - name: a
    rules:
      - alert: A
        expr: vector(1)
        for: 2m
  - name: b
    rules:
      - record: b_rec
        expr: vector(2)
      - alert: B
        expr: vector(1)
        for: 10m
`

func alertOf(t *testing.T, g *Group, rule string) *Alert {
	t.Helper()
	for _, r := range g.Rules() {
		if r.Name() == rule {
			if as := r.Alerts(); len(as) == 1 {
				return as[0]
			}
			t.Fatalf("rule %s: %d alerts", rule, len(r.Alerts()))
		}
	}
	t.Fatalf("no rule %s", rule)
	return nil
}

func groupsByName(m *Manager) map[string]*Group {
	out := map[string]*Group{}
	for _, g := range m.Groups() {
		out[g.Name()] = g
	}
	return out
}

func TestManagerRunAndReload(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, managerRulesV1)
		opts := h.options()
		set := metrics.NewSet()
		opts.Metrics = set
		m := NewManager(opts)
		if err := m.Update(time.Minute, []string{h.file}); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error, 1)
		go func() { done <- m.Run(ctx) }()
		synctest.Wait()
		if n := ruleGoroutines(); n != 4 {
			t.Errorf("%d goroutines for 3 groups and the manager, want 4", n)
		}
		time.Sleep(5 * time.Minute)
		synctest.Wait()

		g1 := groupsByName(m)
		for name, g := range g1 {
			last := g.LastEvaluation()
			if !last.Equal(g.EvalTimestamp(time.Now())) {
				t.Errorf("group %s: last evaluation %v, want the slot %v", name, last, g.EvalTimestamp(time.Now()))
			}
			if n := set.GetOrCreateCounter(`watchdog_rule_group_iterations_total{rule_group="` + g.Key() + `"}`).Get(); n != 5 {
				t.Errorf("group %s: %d iterations in 5m, want 5", name, n)
			}
		}
		if a := alertOf(t, g1["a"], "A"); a.State != StateFiring {
			t.Fatalf("A: %v", a.State)
		}
		bBefore := alertOf(t, g1["b"], "B")
		if bBefore.State != StatePending {
			t.Fatalf("B: %v", bBefore.State)
		}
		if got := h.vector("c_rec", time.Now()); got == "" {
			t.Fatal("c_rec not recorded")
		}

		if err := os.WriteFile(h.file, []byte(managerRulesV2), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := m.Update(time.Minute, []string{h.file}); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		g2 := groupsByName(m)
		if len(g2) != 2 || g2["a"] != g1["a"] || g2["b"] == g1["b"] {
			t.Fatalf("after reload: %v (a kept: %v, b replaced: %v)", g2, g2["a"] == g1["a"], g2["b"] != g1["b"])
		}
		if n := ruleGoroutines(); n != 3 {
			t.Errorf("%d goroutines after reload, want 3", n)
		}
		if a := alertOf(t, g2["b"], "B"); !a.ActiveAt.Equal(bBefore.ActiveAt) {
			t.Fatalf("B lost its state: ActiveAt %v, was %v", a.ActiveAt, bBefore.ActiveAt)
		}
		if got := h.vector("c_rec", time.Now()); got != "" {
			t.Fatalf("c_rec of the removed group not marked stale: %s", got)
		}
		for _, name := range set.ListMetricNames() {
			if strings.Contains(name, escapeLabelValue(h.file+";c")+`"`) {
				t.Errorf("metric of removed group still registered: %s", name)
			}
		}

		// B fires 10m after its original ActiveAt.
		time.Sleep(bBefore.ActiveAt.Add(10*time.Minute).Sub(time.Now()) + time.Minute)
		synctest.Wait()
		if a := alertOf(t, g2["b"], "B"); a.State != StateFiring || !a.FiredAt.Equal(g2["b"].EvalTimestamp(bBefore.ActiveAt.Add(10*time.Minute+time.Minute-time.Nanosecond))) {
			t.Fatalf("B after 10m: %+v", a)
		}

		cancel()
		if err := <-done; err != nil {
			t.Fatalf("Run: %v", err)
		}
		synctest.Wait()
		if n := ruleGoroutines(); n != 0 {
			t.Errorf("%d goroutines left after Run returned", n)
		}
	})
}

func TestManagerMissedIterations(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dir := t.TempDir()
		file := filepath.Join(dir, "slow.yaml")
		if err := os.WriteFile(file, []byte("groups:\n  - name: slow\n    rules:\n      - record: r\n        expr: vector(1)\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		set := metrics.NewSet()
		var evals []time.Time
		m := NewManager(Options{
			Metrics: set,
			Query: func(ctx context.Context, q string, ts time.Time) (promql.Vector, error) {
				evals = append(evals, ts)
				time.Sleep(150 * time.Second) // longer than two intervals
				return nil, nil
			},
		})
		if err := m.Update(time.Minute, []string{file}); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error, 1)
		go func() { done <- m.Run(ctx) }()
		time.Sleep(10 * time.Minute)
		synctest.Wait()
		cancel()
		<-done
		key := `{rule_group="` + file + `;slow"}`
		missed := set.GetOrCreateCounter("watchdog_rule_group_iterations_missed_total" + key).Get()
		total := set.GetOrCreateCounter("watchdog_rule_group_iterations_total" + key).Get()
		if missed == 0 || int(total) != len(evals)+int(missed) {
			t.Fatalf("missed %d total %d evaluations %d", missed, total, len(evals))
		}
		for i := 1; i < len(evals); i++ {
			// Each evaluation takes 2.5 intervals: one or two slots are
			// skipped, and evaluations stay on the slot grid.
			if d := evals[i].Sub(evals[i-1]); d%time.Minute != 0 || d < 2*time.Minute || d > 3*time.Minute {
				t.Errorf("evaluation %d: %v after the previous, want 2m or 3m", i, d)
			}
		}
	})
}

func TestManagerUpdateError(t *testing.T) {
	h := newHarness(t, managerRulesV1)
	m := NewManager(h.options())
	if err := m.Update(time.Minute, []string{h.file}); err != nil {
		t.Fatal(err)
	}
	if err := m.Update(time.Minute, []string{h.file, filepath.Join("testdata", "bad", "both.bad.yaml")}); err == nil {
		t.Fatal("bad file accepted")
	}
	if n := len(m.Groups()); n != 3 {
		t.Fatalf("%d groups after a failed update, want the 3 of before", n)
	}
}

// ruleGoroutines counts the goroutines running a group loop or the
// manager's Run, from a dump of all stacks: runtime.NumGoroutine would also
// count goroutines of other tests and packages in the process.
func ruleGoroutines() int {
	buf := make([]byte, 1<<16)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	count := 0
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, "rules.(*Group).run(") || strings.Contains(g, "rules.(*Manager).Run(") {
			count++
		}
	}
	return count
}
