package rules

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/timestamp"
	"github.com/prometheus/prometheus/model/value"
	"github.com/prometheus/prometheus/promql"

	"github.com/watchdog-sre/watchdog/tsdb"
)

// harness is a store, the real PromQL engine and a notification log.
type harness struct {
	t     *testing.T
	db    *tsdb.DB
	query QueryFunc
	file  string
	// clock is the store's clock in milliseconds: the time of the newest up
	// samples, 0 (time.Now) until the first.
	clock atomic.Int64

	mu    sync.Mutex
	sent  []string
	calls int
}

func newHarness(t *testing.T, ruleYAML string) *harness {
	t.Helper()
	h := &harness{t: t}
	now := func() time.Time {
		if ms := h.clock.Load(); ms != 0 {
			return time.UnixMilli(ms)
		}
		return time.Now()
	}
	db, err := tsdb.Open(tsdb.Options{Now: now})
	if err != nil {
		t.Fatal(err)
	}
	engine := promql.NewEngine(promql.EngineOpts{MaxSamples: 1e6, Timeout: time.Minute, LookbackDelta: 5 * time.Minute})
	file := filepath.Join(t.TempDir(), "rules.yaml")
	if err := os.WriteFile(file, []byte(ruleYAML), 0o644); err != nil {
		t.Fatal(err)
	}
	h.db, h.query, h.file = db, EngineQueryFunc(engine, db), file
	return h
}

func (h *harness) options() Options {
	return Options{
		Query:          h.query,
		Queryable:      h.db,
		Appender:       func() Appender { return h.db.Appender() },
		Notify:         h.notify,
		ExternalLabels: labels.FromStrings("region", "eu-1"),
		ExternalURL:    "http://watchdog.example",
	}
}

func (h *harness) notify(_ context.Context, expr string, alerts ...*Alert) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.calls++
	for _, a := range alerts {
		s := a.Labels.Get("instance") + ":" + a.State.String()
		if a.Annotations.Has("summary") {
			s += "[" + a.Annotations.Get("summary") + "]"
		}
		h.sent = append(h.sent, s)
	}
}

// takeSent returns and clears the notification log.
func (h *harness) takeSent() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	s := strings.Join(h.sent, " ")
	h.sent = nil
	return s
}

// loadGroup builds a fresh manager (a "restart") and returns its only group.
func (h *harness) loadGroup() *Group {
	h.t.Helper()
	m := NewManager(h.options())
	if err := m.Update(time.Minute, []string{h.file}); err != nil {
		h.t.Fatal(err)
	}
	gs := m.Groups()
	if len(gs) != 1 {
		h.t.Fatalf("got %d groups", len(gs))
	}
	return gs[0]
}

// up writes up{instance=...} samples at ts.
func (h *harness) up(ts time.Time, values map[string]float64) {
	h.t.Helper()
	h.clock.Store(ts.UnixMilli())
	app := h.db.Appender()
	for inst, v := range values {
		if _, err := app.Append(0, labels.FromStrings("__name__", "up", "job", "node", "instance", inst), timestamp.FromTime(ts), v); err != nil {
			h.t.Fatal(err)
		}
	}
	if err := app.Commit(); err != nil {
		h.t.Fatal(err)
	}
}

// vector runs q at ts and renders the result as sorted "labels value" lines.
func (h *harness) vector(q string, ts time.Time) string {
	h.t.Helper()
	vec, err := h.query(context.Background(), q, ts)
	if err != nil {
		h.t.Fatalf("query %s: %v", q, err)
	}
	var out []string
	for _, s := range vec {
		out = append(out, fmt.Sprintf("%s %v", s.Metric, s.F))
	}
	slices.Sort(out)
	return strings.Join(out, "\n")
}

const groupRules = `
groups:
  - name: node
    labels: {team: infra}
    rules:
      - record: job:up:sum
        expr: sum by (job) (up)
      - alert: InstanceDown
        expr: up == 0
        for: 2m
        labels: {severity: page}
        annotations:
          summary: '{{ $labels.instance }} down ({{ $value }}) in {{ $externalLabels.region }}'
`

func TestGroupEval(t *testing.T) {
	h := newHarness(t, groupRules)
	g := h.loadGroup()
	ctx := context.Background()
	type step struct {
		at       time.Duration
		up       map[string]float64
		alerts   string // ALERTS at the step
		sent     string
		recorded string
	}
	steps := []step{
		{at: 0, up: map[string]float64{"a": 1, "b": 0},
			alerts:   `{__name__="ALERTS", alertname="InstanceDown", alertstate="pending", instance="b", job="node", severity="page", team="infra"} 1`,
			recorded: `{__name__="job:up:sum", job="node", team="infra"} 1`},
		{at: time.Minute, up: map[string]float64{"a": 1, "b": 0},
			alerts: `{__name__="ALERTS", alertname="InstanceDown", alertstate="pending", instance="b", job="node", severity="page", team="infra"} 1`},
		{at: 2 * time.Minute, up: map[string]float64{"a": 1, "b": 0},
			alerts: `{__name__="ALERTS", alertname="InstanceDown", alertstate="firing", instance="b", job="node", severity="page", team="infra"} 1`,
			sent:   "b:firing[b down (0) in eu-1]"},
		{at: 3 * time.Minute, up: map[string]float64{"a": 0, "b": 0},
			alerts: `{__name__="ALERTS", alertname="InstanceDown", alertstate="firing", instance="b", job="node", severity="page", team="infra"} 1` + "\n" +
				`{__name__="ALERTS", alertname="InstanceDown", alertstate="pending", instance="a", job="node", severity="page", team="infra"} 1`,
			recorded: `{__name__="job:up:sum", job="node", team="infra"} 0`},
		{at: 4 * time.Minute, up: map[string]float64{"a": 1, "b": 1},
			alerts: "", // stale markers end both series at once
			sent:   "b:inactive[b down (0) in eu-1]"},
		{at: 5 * time.Minute, up: map[string]float64{"a": 1, "b": 1}},
		{at: 6 * time.Minute, up: map[string]float64{"a": 1, "b": 1},
			sent: "b:inactive[b down (0) in eu-1]"}, // resolved alerts are re-sent
	}
	for _, s := range steps {
		ts := at(s.at)
		h.up(ts, s.up)
		g.Eval(ctx, ts)
		if got := h.vector("ALERTS", ts); got != s.alerts {
			t.Errorf("at %v: ALERTS =\n%s\nwant\n%s", s.at, got, s.alerts)
		}
		if got := h.takeSent(); got != s.sent {
			t.Errorf("at %v: sent %q, want %q", s.at, got, s.sent)
		}
		if s.recorded != "" {
			if got := h.vector("job:up:sum", ts); got != s.recorded {
				t.Errorf("at %v: recorded %s, want %s", s.at, got, s.recorded)
			}
		}
	}
	// ALERTS_FOR_STATE holds ActiveAt and went stale with the alert.
	if got, want := h.vector(`ALERTS_FOR_STATE{instance="b"}`, at(3*time.Minute)), fmt.Sprintf(`{__name__="ALERTS_FOR_STATE", alertname="InstanceDown", instance="b", job="node", severity="page", team="infra"} %v`, float64(t0.Unix())); got != want {
		t.Errorf("ALERTS_FOR_STATE = %s, want %s", got, want)
	}
	if got := h.vector(`ALERTS_FOR_STATE`, at(4*time.Minute)); got != "" {
		t.Errorf("ALERTS_FOR_STATE after resolution = %s", got)
	}
	rules := g.Rules()
	if rules[0].Health() != HealthGood || rules[1].Health() != HealthGood || !rules[1].LastEvaluation().Equal(at(6*time.Minute)) {
		t.Errorf("health %v %v last %v", rules[0].Health(), rules[1].Health(), rules[1].LastEvaluation())
	}
	if got := g.LastEvaluation(); !got.Equal(at(6 * time.Minute)) {
		t.Errorf("group last evaluation %v", got)
	}
}

// The stale marker is a real StaleNaN sample at the evaluation time.
func TestGroupEvalStaleMarker(t *testing.T) {
	h := newHarness(t, groupRules)
	g := h.loadGroup()
	h.up(at(0), map[string]float64{"b": 0})
	g.Eval(context.Background(), at(0))
	h.up(at(time.Minute), map[string]float64{"b": 1})
	g.Eval(context.Background(), at(time.Minute))
	q, err := h.db.Querier(0, timestamp.FromTime(at(time.Hour)))
	if err != nil {
		t.Fatal(err)
	}
	set := q.Select(context.Background(), false, nil, labels.MustNewMatcher(labels.MatchEqual, "__name__", "ALERTS"))
	var got []string
	for set.Next() {
		it := set.At().Iterator(nil)
		for it.Next() != 0 {
			ts, v := it.At()
			got = append(got, fmt.Sprintf("%v=%v", time.UnixMilli(ts).Sub(t0), value.IsStaleNaN(v)))
		}
	}
	if want := "0s=false 1m0s=true"; strings.Join(got, " ") != want {
		t.Fatalf("ALERTS samples %v, want %s", got, want)
	}
}

func TestGroupEvalErrors(t *testing.T) {
	h := newHarness(t, `
groups:
  - name: limits
    limit: 1
    rules:
      - alert: Many
        expr: up == 0
      - record: many
        expr: up
      - alert: Dup
        expr: up == 0
        labels: {instance: same}
      - alert: BadTemplate
        expr: up{instance="a"} == 0
        annotations: {summary: '{{ query "sum(" }}'}
`)
	g := h.loadGroup()
	h.up(at(0), map[string]float64{"a": 0, "b": 0})
	g.Eval(context.Background(), at(0))
	rs := g.Rules()
	for i, want := range []string{"exceeded limit of 1 with 2 alerts", "exceeded limit of 1 with 2 series", ErrDuplicateAlertLabelSet.Error(), ""} {
		err := rs[i].LastError()
		if (err == nil) != (want == "") || (err != nil && err.Error() != want) {
			t.Errorf("rule %s: err %v, want %q", rs[i].Name(), err, want)
		}
		if want != "" && rs[i].Health() != HealthBad {
			t.Errorf("rule %s: health %v", rs[i].Name(), rs[i].Health())
		}
	}
	if n := len(rs[0].Alerts()); n != 0 {
		t.Errorf("limit exceeded: %d alerts kept", n)
	}
	as := rs[3].Alerts()
	if len(as) != 1 || !strings.HasPrefix(as[0].Annotations.Get("summary"), "<error expanding template: ") {
		t.Errorf("template error: %+v", as)
	}
	if got := h.takeSent(); !strings.HasPrefix(got, "a:firing[<error expanding template: ") || !strings.Contains(got, "unclosed left parenthesis") {
		t.Errorf("sent %q", got)
	}
}

func TestEvalTimestamp(t *testing.T) {
	g := newGroup(GroupSpec{Name: "g"}, "f.yaml", time.Minute, ptr(Options{}.withDefaults()), false)
	slot := g.EvalTimestamp(t0)
	if slot.After(t0) || t0.Sub(slot) >= time.Minute {
		t.Fatalf("slot %v not within a minute before %v", slot, t0)
	}
	for _, d := range []time.Duration{time.Second, 30 * time.Second, 59 * time.Second, 5 * time.Minute} {
		s := g.EvalTimestamp(slot.Add(d))
		if s.After(slot.Add(d)) || slot.Add(d).Sub(s) >= time.Minute || s.Sub(slot)%time.Minute != 0 {
			t.Errorf("EvalTimestamp(slot+%v) = %v", d, s)
		}
	}
	other := newGroup(GroupSpec{Name: "h"}, "f.yaml", time.Minute, ptr(Options{}.withDefaults()), false)
	if other.EvalTimestamp(t0).Equal(slot) {
		t.Errorf("groups g and h share their offset (possible, but unlikely)")
	}
}

func ptr[T any](v T) *T { return &v }

func TestEngineQueryFuncScalar(t *testing.T) {
	h := newHarness(t, "")
	vec, err := h.query(context.Background(), "1 + 1", t0)
	if err != nil || len(vec) != 1 || vec[0].F != 2 || !vec[0].Metric.IsEmpty() {
		t.Fatalf("got %v, %v", vec, err)
	}
	if _, err := h.query(context.Background(), `"str"`, t0); err == nil {
		t.Fatal("string result accepted")
	}
}
