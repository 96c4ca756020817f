package pager

import (
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/expr-lang/expr"
)

// matchNewVM is Match as it was before route conditions ran on a reused VM:
// a fresh environment map and expr.Run (a new VM) per condition. The tests
// check that Match agrees with it and the benchmark compares the two.
func matchNewVM(c *Config, lset map[string]string) []RouteMatch {
	var out []RouteMatch
	var walk func(n *routeNode) bool
	walk = func(n *routeNode) bool {
		if !matchAll(n.matchers, lset) {
			return false
		}
		if n.cond != nil {
			env := make(map[string]any, len(lset))
			for k, v := range lset {
				env[k] = v
			}
			v, err := expr.Run(n.cond, env)
			if b, ok := v.(bool); err != nil || !ok || !b {
				return false
			}
		}
		matched := false
		for _, child := range n.children {
			if walk(child) {
				matched = true
				if !child.cont {
					break
				}
			}
		}
		if !matched {
			out = append(out, n.result(lset))
		}
		return true
	}
	for _, n := range c.c.root.children {
		if walk(n) && !n.cont {
			break
		}
	}
	for i := range out {
		if out[i].Urgency == "" {
			out[i].Urgency = c.urgencyOf(lset)
		}
	}
	return out
}

// conditionRoutes returns a configuration with n routes, each with a
// condition and continue: true, so that every alert evaluates n conditions,
// and alerts for them.
func conditionRoutes(tb testing.TB, n int) (*Config, []map[string]string) {
	tb.Helper()
	var y strings.Builder
	y.WriteString("pager:\n  users: [{name: alice, contact: {email: a@example.com}}]\n")
	y.WriteString("  escalation_policies: [{name: p, levels: [{targets: [user:alice]}]}]\n")
	y.WriteString("  channels: [{name: email, type: console}]\n  routes:\n")
	for i := range n {
		fmt.Fprintf(&y, "    - name: r%d\n      continue: true\n      escalation_policy: p\n", i)
		fmt.Fprintf(&y, "      condition: 'team == \"t%d\" && severity in [\"page\", \"critical\"] && env != \"dev\"'\n", i)
	}
	c, err := ParseConfig("routes.yml", []byte(y.String()))
	if err != nil {
		tb.Fatal(err)
	}
	var alerts []map[string]string
	for i := range 64 {
		alerts = append(alerts, map[string]string{
			"alertname": fmt.Sprintf("A%d", i%7), "team": fmt.Sprintf("t%d", i%(n+2)),
			"severity": []string{"page", "critical", "info"}[i%3], "env": []string{"prod", "dev"}[i%2],
			"instance": fmt.Sprintf("host-%d:9100", i), "job": "node", "cluster": "c1",
		})
	}
	return c, alerts
}

func TestMatchReusedVMAgreesWithNewVM(t *testing.T) {
	many, manyAlerts := conditionRoutes(t, 12)
	basic := loadConfig(t, "basic.good.yaml")
	basicAlerts := []map[string]string{
		{"severity": "page", "service": "db", "env": "prod"},
		{"severity": "page", "service": "db", "env": "dev"},
		{"severity": "page", "service": "db"},
		{"severity": "page", "team": "web", "service": "db", "env": "prod"},
		{"severity": "ticket"},
		{},
	}
	for _, tc := range []struct {
		name   string
		c      *Config
		alerts []map[string]string
	}{{"basic", basic, basicAlerts}, {"12 conditions", many, manyAlerts}} {
		t.Run(tc.name, func(t *testing.T) {
			routed := 0
			for _, a := range tc.alerts {
				got, want := tc.c.Match(a), matchNewVM(tc.c, a)
				if !reflect.DeepEqual(got, want) {
					t.Fatalf("Match(%v) = %+v, want %+v", a, got, want)
				}
				routed += len(got)
			}
			if routed == 0 {
				t.Fatal("no alert routed: the table does not exercise the conditions")
			}
		})
	}
}

// TestMatchConcurrent runs Match from several goroutines at once (the pool
// must hand each its own VM and environment; run with -race).
func TestMatchConcurrent(t *testing.T) {
	c, alerts := conditionRoutes(t, 12)
	want := make([][]RouteMatch, len(alerts))
	for i, a := range alerts {
		want[i] = matchNewVM(c, a)
	}
	var wg sync.WaitGroup
	errs := make(chan string, 8)
	for g := range 8 {
		wg.Go(func() {
			for r := range 20 {
				i := (g*7 + r) % len(alerts)
				if got := c.Match(alerts[i]); !reflect.DeepEqual(got, want[i]) {
					errs <- fmt.Sprintf("goroutine %d: Match(%v) = %+v, want %+v", g, alerts[i], got, want[i])
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}

// BenchmarkRouteConditions routes 64 alerts through 12 routes with a
// condition each: "reused_vm" is Match (one pooled VM and environment map
// per call), "new_vm" the previous expr.Run per alert per route.
func BenchmarkRouteConditions(b *testing.B) {
	c, alerts := conditionRoutes(b, 12)
	for _, bc := range []struct {
		name  string
		match func(*Config, map[string]string) []RouteMatch
	}{{"new_vm", matchNewVM}, {"reused_vm", (*Config).Match}} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				for _, a := range alerts {
					bc.match(c, a)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(alerts)), "ns/alert")
		})
	}
}
