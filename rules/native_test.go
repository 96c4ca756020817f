package rules

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/watchdog-sre/watchdog/evaluator"
)

// nativeRules pairs each native rule with the PromQL rule it is equivalent
// to; their results must differ only in alertname or record name.
const nativeRules = `
groups:
  - name: node
    labels: {team: infra}
    rules:
      - record: job:up:sum
        expr: sum by (job) (up)
      - record: job:up:sum_native
        series: up
        by: [job]
        when: 'value() >= 0'
      - alert: InstanceDown
        expr: up == 0
        for: 2m
        labels: {severity: page}
        annotations:
          summary: '{{ $labels.instance }} down ({{ $value }}) in {{ $externalLabels.region }}'
      - alert: InstanceDownNative
        series: up
        when: 'value() == 0'
        for: 2m
        labels: {severity: page}
        annotations:
          summary: '{{ $labels.instance }} down ({{ $value }}) in {{ $externalLabels.region }}'
`

// A native rule goes through the same state machine, ALERTS series,
// templates and notifications as the equivalent PromQL rule.
func TestNativeRuleMatchesPromQL(t *testing.T) {
	h := newHarness(t, nativeRules)
	opts := h.options()
	opts.Native = h.db
	opts.Metrics = metrics.NewSet()
	m := NewManager(opts)
	if err := m.Update(time.Minute, []string{h.file}); err != nil {
		t.Fatal(err)
	}
	g := m.Groups()[0]
	ctx := context.Background()
	ups := []map[string]float64{
		{"a": 1, "b": 0}, {"a": 1, "b": 0}, {"a": 1, "b": 0}, {"a": 0, "b": 0}, {"a": 1, "b": 1}, {"a": 1, "b": 1},
	}
	for i, up := range ups {
		ts := at(time.Duration(i) * time.Minute)
		h.up(ts, up)
		g.Eval(ctx, ts)
		for _, r := range g.Rules() {
			if err := r.LastError(); err != nil {
				t.Fatalf("at %dm: rule %s: %v", i, r.Name(), err)
			}
		}
		promql := h.vector(`ALERTS{alertname="InstanceDown"}`, ts)
		native := h.vector(`ALERTS{alertname="InstanceDownNative"}`, ts)
		if strings.ReplaceAll(native, "InstanceDownNative", "InstanceDown") != promql {
			t.Errorf("at %dm: native ALERTS\n%s\nPromQL ALERTS\n%s", i, native, promql)
		}
		rec := h.vector(`job:up:sum`, ts)
		recNative := h.vector(`job:up:sum_native`, ts)
		if rec == "" || strings.ReplaceAll(recNative, "job:up:sum_native", "job:up:sum") != rec {
			t.Errorf("at %dm: native recorded %q, PromQL %q", i, recNative, rec)
		}
		// Both rules notify the same alerts, native ones second.
		h.mu.Lock()
		sent := h.sent
		h.sent = nil
		h.mu.Unlock()
		if len(sent)%2 != 0 || strings.Join(sent[:len(sent)/2], " ") != strings.Join(sent[len(sent)/2:], " ") {
			t.Errorf("at %dm: sent %q", i, sent)
		}
		if i == 2 && len(sent) != 2 {
			t.Errorf("at 2m: sent %q, want b firing twice", sent)
		}
	}
	// Two native rules over the two up series, six evaluations.
	evaluated := opts.Metrics.GetOrCreateCounter(`watchdog_rule_native_series_evaluated_total{rule_group="` + g.Key() + `"}`)
	if got := evaluated.Get(); got != 6*2*2 {
		t.Errorf("watchdog_rule_native_series_evaluated_total = %d, want %d", got, 6*2*2)
	}
	pr, nr := g.Rules()[2], g.Rules()[3]
	if got, want := nr.Query(), "series: up when: value() == 0"; got != want {
		t.Errorf("Query() = %q, want %q", got, want)
	}
	pa, na := pr.AllAlerts(), nr.AllAlerts()
	if len(pa) != len(na) || len(na) == 0 {
		t.Fatalf("alerts: PromQL %v, native %v", pa, na)
	}
	for i := range pa {
		if pa[i].Labels.Get("instance") != na[i].Labels.Get("instance") || pa[i].State != na[i].State ||
			!pa[i].ActiveAt.Equal(na[i].ActiveAt) || !pa[i].ResolvedAt.Equal(na[i].ResolvedAt) ||
			pa[i].Annotations.String() != na[i].Annotations.String() || pa[i].Value != na[i].Value {
			t.Errorf("alert %d: PromQL %+v, native %+v", i, pa[i], na[i])
		}
	}
}

// Native rules without a reader, or failing at run time, report the error
// on the rule; the group's other rules still run.
func TestNativeRuleErrors(t *testing.T) {
	h := newHarness(t, `
groups:
  - name: g
    rules:
      - alert: NoReaderOrBroken
        series: up
        when: 'int(labels.instance) > 0'
      - alert: Down
        expr: up == 0
`)
	for _, withReader := range []bool{false, true} {
		opts := h.options()
		want := ErrNoNativeReader
		if withReader {
			opts.Native, want = h.db, evaluator.ErrRuntime
		}
		m := NewManager(opts)
		if err := m.Update(time.Minute, []string{h.file}); err != nil {
			t.Fatal(err)
		}
		g := m.Groups()[0]
		h.up(at(0), map[string]float64{"a": 0})
		g.Eval(context.Background(), at(0))
		rs := g.Rules()
		if err := rs[0].LastError(); !errors.Is(err, want) || rs[0].Health() != HealthBad {
			t.Errorf("reader %v: native rule err %v health %v, want %v", withReader, err, rs[0].Health(), want)
		}
		if rs[1].Health() != HealthGood || len(rs[1].Alerts()) != 1 {
			t.Errorf("reader %v: next rule health %v alerts %v", withReader, rs[1].Health(), rs[1].Alerts())
		}
		h.takeSent()
	}
}

// The rule-file model is plain data: every RuleSpec field is exported, so
// a spec built in code is the same value as a parsed one, and a group
// compiles the native condition once when it is built, never at an
// evaluation.
func TestRuleSpecBuiltInCodeCompilesOnce(t *testing.T) {
	typ := reflect.TypeFor[RuleSpec]()
	for i := range typ.NumField() {
		if f := typ.Field(i); !f.IsExported() {
			t.Errorf("RuleSpec.%s is unexported: the rule model must be plain data", f.Name)
		}
	}
	f, err := ParseFile([]byte(nativeRules), "rules.yaml")
	if err != nil {
		t.Fatal(err)
	}
	parsed := f.Groups[0].Rules[3]
	built := RuleSpec{
		Alert: "InstanceDownNative", Series: "up", When: "value() == 0", For: 2 * time.Minute,
		SeriesLine: 19, WhenLine: 20, Line: 18,
		Labels:      map[string]string{"severity": "page"},
		Annotations: map[string]string{"summary": "{{ $labels.instance }} down ({{ $value }}) in {{ $externalLabels.region }}"},
	}
	if !reflect.DeepEqual(parsed, built) {
		t.Fatalf("parsed %+v\nbuilt  %+v", parsed, built)
	}

	h := newHarness(t, "")
	opts := h.options()
	opts.Native = h.db
	opts = opts.withDefaults()
	g := newGroup(GroupSpec{Name: "g", Rules: []RuleSpec{built}}, "code", time.Minute, &opts, false)
	other := newGroup(GroupSpec{Name: "h", Rules: []RuleSpec{built}}, "code", time.Minute, &opts, false)
	cond := func(g *Group) *evaluator.Condition {
		t.Helper()
		nc, ok := g.Rules()[0].cond.(NativeCondition)
		if !ok || nc.Cond == nil {
			t.Fatalf("rule condition %#v: want a compiled NativeCondition", g.Rules()[0].cond)
		}
		return nc.Cond
	}
	first := cond(g)
	if cond(other) == first {
		t.Error("two groups share one compiled condition (and its windows)")
	}
	for i := range 3 {
		ts := at(time.Duration(i) * time.Minute)
		h.up(ts, map[string]float64{"a": 0})
		g.Eval(context.Background(), ts)
		if err := g.Rules()[0].LastError(); err != nil {
			t.Fatalf("at %dm: %v", i, err)
		}
		if cond(g) != first {
			t.Fatalf("at %dm: the condition was compiled again", i)
		}
	}
	if as := g.Rules()[0].Alerts(); len(as) != 1 || as[0].State != StateFiring {
		t.Fatalf("alerts %+v, want one firing", as)
	}
}

func TestNativeConditionCompileError(t *testing.T) {
	c, err := NewNativeCondition(evaluator.Spec{Series: "up", When: "value() +"}, nil)
	if !errors.Is(err, evaluator.ErrInvalid) {
		t.Fatalf("NewNativeCondition error %v, want ErrInvalid", err)
	}
	if _, eerr := c.Eval(context.Background(), t0); !errors.Is(eerr, evaluator.ErrInvalid) {
		t.Errorf("Eval error %v, want the compile error", eerr)
	}
	if _, eerr := (NativeCondition{Spec: evaluator.Spec{Series: "up", When: "true"}}).Eval(context.Background(), t0); !errors.Is(eerr, ErrNotCompiled) {
		t.Errorf("zero NativeCondition Eval error %v, want ErrNotCompiled", eerr)
	}
}
