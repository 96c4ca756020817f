package bench

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/prometheus/prometheus/storage"
	promtsdb "github.com/prometheus/prometheus/tsdb"
	"gopkg.in/yaml.v3"

	"github.com/watchdog-sre/watchdog/rules"
	"github.com/watchdog-sre/watchdog/tsdb"
)

// Shape of the rules scenario: services × instances × len(rulesCodes)
// counter series (rulesFull: 100,000), rulesSteps samples each, rulesStep
// apart (1 h). One group per service with rulesPerService alerting rules
// (rulesFull: 1,000 rules).
const (
	rulesPerService = 10
	rulesSteps      = 240
	rulesStep       = 15 * time.Second
	rulesDataStart  = int64(1_700_000_000_000) // ms
)

// rulesShape is the size of a rules fixture.
type rulesShape struct{ services, instances int }

var (
	// rulesFull is the benchmark's scenario.
	rulesFull = rulesShape{services: 100, instances: 100}
	// rulesSmall is the scenario of TestRulesStoresAgree under -short
	// (2,500 series, 100 rules): the same rule kinds and data shape,
	// every service with one instance serving many 5xx (badInstance).
	rulesSmall = rulesShape{services: 10, instances: 25}
)

// rulesCodes are the status codes of every (service, instance); 5xx and 4xx
// are what the ratio rules select with regexps.
var rulesCodes = []string{"200", "201", "204", "301", "304", "400", "404", "429", "500", "503"}

var (
	// rulesEvalStart is the first timestamp of the timed evaluations, 50 min
	// into the data so that [1h] and offset 30m windows have data. Warm-up
	// evaluates 10 min earlier so that `for: 5m` alerts are firing (and
	// `for: 15m` ones still pending) when the timer runs.
	rulesEvalStart = time.UnixMilli(rulesDataStart).Add(50 * time.Minute)
	rulesWarmAt    = rulesEvalStart.Add(-10 * time.Minute)
	// rulesRoundStep separates consecutive evaluation rounds: small, so
	// that every round reads the same data shape, but moving forward, so
	// that every round appends new ALERTS samples instead of duplicates.
	rulesRoundStep = 100 * time.Millisecond
)

// rulesFixture is built once per process and shape (rulesSetup) and shared
// by the test and all sub-benchmarks.
type rulesFixture struct {
	shape   rulesShape
	db      *tsdb.DB
	head    *promtsdb.Head
	headQ   storage.Queryable
	engine  *promql.Engine
	exprs   []string // the rule expressions (1,000 in rulesFull), in group/rule order
	ruleDoc []byte   // the rule file
	// seriesPerRound is the number of series the selectors of all exprs
	// match (a series selected by two selectors of one expr counts twice).
	seriesPerRound int
	samples        int // samples appended to each store
	setupDur       time.Duration

	mgr    *rules.Manager // loaded from ruleDoc, warmed at rulesWarmAt
	groups []*rules.Group
	round  int // evaluation rounds run on mgr, for the next timestamp
}

var (
	rulesMu       sync.Mutex
	rulesFixtures = map[rulesShape]*rulesFixture{}
)

// rulesSetup returns the shared fixture of shape sh, building it on first
// use. The rule file is written to tb's TempDir: it is read only by
// Manager.Update here.
func rulesSetup(tb testing.TB, sh rulesShape) *rulesFixture {
	tb.Helper()
	rulesMu.Lock()
	defer rulesMu.Unlock()
	if f := rulesFixtures[sh]; f != nil {
		return f
	}
	f, err := buildRulesFixture(tb.TempDir(), sh)
	if err != nil {
		tb.Fatal(err)
	}
	rulesFixtures[sh] = f
	return f
}

// splitmix64 is the deterministic noise source of the generator.
func splitmix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// badInstance reports whether instance i of service s serves many 5xx: 4
// of the 100 instances of every service, so the per-instance error ratio
// rules find about 4 alerts per service.
func badInstance(s, i int) bool { return (s*31+i)%25 == 0 }

// seriesRate is the requests/s of one series.
func seriesRate(s, i, c int) float64 {
	code := rulesCodes[c]
	switch {
	case code == "200":
		return 10 + float64((s+i)%5)
	case code[0] == '5' && badInstance(s, i):
		return 2
	case code == "429" && i%33 == 0:
		return 1
	}
	return 0.2
}

// resetStep is the step at which series k restarts from 0, or -1: about 1%
// of the series reset once.
func resetStep(k int) int {
	if k%101 == 7 {
		return 20 + k%200
	}
	return -1
}

func buildRulesFixture(dir string, sh rulesShape) (*rulesFixture, error) {
	start := time.Now()
	f := &rulesFixture{shape: sh}
	var err error
	// The store's clock stands at the end of the data.
	end := time.UnixMilli(rulesDataStart).Add(rulesSteps * rulesStep)
	if f.db, err = tsdb.Open(tsdb.Options{Now: func() time.Time { return end }}); err != nil {
		return nil, err
	}
	opts := promtsdb.DefaultHeadOptions()
	if dir, err = os.MkdirTemp(dir, "head"); err != nil {
		return nil, err
	}
	opts.ChunkDirRoot = dir
	if f.head, err = promtsdb.NewHead(nil, nil, nil, nil, opts, nil); err != nil {
		return nil, err
	}
	if err := f.head.Init(math.MinInt64); err != nil {
		return nil, err
	}
	// The head is left open for the life of the process: every benchmark
	// of the run shares it.
	f.headQ = storage.QueryableFunc(func(mint, maxt int64) (storage.Querier, error) {
		return promtsdb.NewBlockQuerier(promtsdb.NewRangeHead(f.head, mint, maxt), mint, maxt)
	})

	// Series, in (service, instance, code) order.
	n := sh.services * sh.instances * len(rulesCodes)
	lsets := make([]labels.Labels, 0, n)
	rates := make([]float64, 0, n)
	for s := range sh.services {
		for i := range sh.instances {
			for c, code := range rulesCodes {
				lsets = append(lsets, labels.FromStrings(
					labels.MetricName, "http_requests_total",
					"code", code,
					"instance", "i"+strconv.Itoa(i),
					"job", "api",
					"service", "s"+strconv.Itoa(s)))
				rates = append(rates, seriesRate(s, i, c))
			}
		}
	}
	vals := make([]float64, n)
	for k := range vals {
		vals[k] = float64(splitmix64(uint64(k)) % 10000)
	}
	refs := make([]uint64, n)
	hrefs := make([]storage.SeriesRef, n)
	ctx := context.Background()
	app := f.db.Appender()
	for j := range rulesSteps {
		t := rulesDataStart + int64(j)*rulesStep.Milliseconds()
		happ := f.head.Appender(ctx)
		for k := range n {
			if j == resetStep(k) {
				vals[k] = 0
			} else if j > 0 {
				noise := float64(splitmix64(uint64(k)<<16|uint64(j))%1000) / 1000 // [0, 1)
				vals[k] += math.Round(rates[k] * rulesStep.Seconds() * (0.8 + 0.4*noise))
			}
			if refs[k], err = app.Append(refs[k], lsets[k], t, vals[k]); err != nil {
				return nil, fmt.Errorf("watchdog append: %w", err)
			}
			if hrefs[k], err = happ.Append(hrefs[k], lsets[k], t, vals[k]); err != nil {
				return nil, fmt.Errorf("prometheus append: %w", err)
			}
		}
		if err := app.Commit(); err != nil {
			return nil, err
		}
		if err := happ.Commit(); err != nil {
			return nil, err
		}
	}
	f.samples = n * rulesSteps

	f.engine = promql.NewEngine(promql.EngineOpts{
		MaxSamples:    5e7,
		Timeout:       time.Minute,
		LookbackDelta: 5 * time.Minute,
	})
	if f.ruleDoc, f.exprs, err = rulesFile(sh.services); err != nil {
		return nil, err
	}
	if f.seriesPerRound, err = countSelected(f.db, f.exprs, rulesEvalStart); err != nil {
		return nil, err
	}

	path := filepath.Join(dir, "rules.yaml")
	if err := os.WriteFile(path, f.ruleDoc, 0o644); err != nil {
		return nil, err
	}
	f.mgr = rules.NewManager(rules.Options{
		Query:     rules.EngineQueryFunc(f.engine, f.db),
		Queryable: f.db,
		Appender:  func() rules.Appender { return f.db.Appender() },
		// Templates read both.
		ExternalLabels: labels.FromStrings("cluster", "eu1"),
		ExternalURL:    "https://watchdog.example.com",
	})
	if err := f.mgr.Update(time.Minute, []string{path}); err != nil {
		return nil, err
	}
	f.groups = f.mgr.Groups()
	if len(f.groups) != sh.services {
		return nil, fmt.Errorf("loaded %d groups, want %d", len(f.groups), sh.services)
	}
	// Warm-up: restores (nothing) from the store, creates the alerts and
	// their ALERTS series.
	for _, g := range f.groups {
		g.Eval(ctx, rulesWarmAt)
	}
	if err := f.ruleErrors(); err != nil {
		return nil, err
	}
	f.setupDur = time.Since(start)
	return f, nil
}

// nextEvalTs returns the timestamp of the next evaluation round of mgr:
// rounds move forward by rulesRoundStep across all sub-benchmarks, so that
// ALERTS writes are never out of order.
func (f *rulesFixture) nextEvalTs() time.Time {
	ts := rulesEvalStart.Add(time.Duration(f.round) * rulesRoundStep)
	f.round++
	return ts
}

// evalRound is the production path: Group.Eval for every group at ts.
func (f *rulesFixture) evalRound(ctx context.Context, ts time.Time) {
	for _, g := range f.groups {
		g.Eval(ctx, ts)
	}
}

// queryRound runs every rule expression once as an instant query at ts,
// with nothing else around it.
func (f *rulesFixture) queryRound(tb testing.TB, q storage.Queryable, ts time.Time) int {
	ctx := context.Background()
	out := 0
	for _, e := range f.exprs {
		qry, err := f.engine.NewInstantQuery(ctx, q, nil, e, ts)
		if err != nil {
			tb.Fatal(err)
		}
		res := qry.Exec(ctx)
		if res.Err != nil {
			tb.Fatalf("%s: %v", e, res.Err)
		}
		if v, ok := res.Value.(promql.Vector); ok {
			out += len(v)
		}
		qry.Close()
	}
	return out
}

// ruleErrors returns the first rule whose last evaluation failed.
func (f *rulesFixture) ruleErrors() error {
	for _, g := range f.groups {
		for _, r := range g.Rules() {
			if err := r.LastError(); err != nil {
				return fmt.Errorf("rule %s in %s: %w", r.Name(), g.Name(), err)
			}
		}
	}
	return nil
}

// activeAlerts counts pending and firing alerts.
func (f *rulesFixture) activeAlerts() (pending, firing int) {
	for _, g := range f.groups {
		for _, r := range g.Rules() {
			for _, a := range r.Alerts() {
				if a.State == rules.StateFiring {
					firing++
				} else {
					pending++
				}
			}
		}
	}
	return pending, firing
}

// ruleYAML and groupYAML are the rule-file format, for yaml.Marshal.
type ruleYAML struct {
	Alert       string            `yaml:"alert"`
	Expr        string            `yaml:"expr"`
	For         string            `yaml:"for,omitempty"`
	Labels      map[string]string `yaml:"labels,omitempty"`
	Annotations map[string]string `yaml:"annotations,omitempty"`
}

type groupYAML struct {
	Name     string            `yaml:"name"`
	Interval string            `yaml:"interval"`
	Labels   map[string]string `yaml:"labels,omitempty"`
	Rules    []ruleYAML        `yaml:"rules"`
}

// rulesFile returns the rule file (one group per service, ten alerting
// rules each, of the kinds a service's on-call team writes) and the rules'
// expressions in order.
func rulesFile(services int) ([]byte, []string, error) {
	var groups []groupYAML
	var exprs []string
	for s := range services {
		svc := "s" + strconv.Itoa(s)
		sel := func(extra string) string {
			return `http_requests_total{service="` + svc + `"` + extra + `}`
		}
		runbook := func(alert string) string { return "{{ $externalURL }}/runbooks/" + alert }
		rs := []ruleYAML{{
			Alert: "HighErrorRatio",
			Expr: `sum by (instance) (rate(` + sel(`,code=~"5.."`) + `[5m])) / sum by (instance) (rate(` +
				sel(``) + `[5m])) > 0.05`,
			For:    "5m",
			Labels: map[string]string{"severity": "page"},
			Annotations: map[string]string{
				"summary":     "High 5xx ratio on {{ $labels.instance }}",
				"description": "{{ $labels.instance }} of " + svc + " answers {{ $value | humanizePercentage }} of requests with 5xx.",
				"runbook_url": runbook("HighErrorRatio"),
			},
		}, {
			Alert: "ErrorBudgetBurn",
			Expr: `sum(rate(` + sel(`,code=~"5.."`) + `[1h])) / sum(rate(` + sel(``) +
				`[1h])) > 0.02`,
			For:    "15m",
			Labels: map[string]string{"severity": "ticket", "window": "1h"},
			Annotations: map[string]string{
				"summary":     svc + " burns its error budget",
				"description": "5xx ratio over 1h is {{ $value | humanizePercentage }}.",
			},
		}, {
			Alert: "High4xxRatio",
			Expr: `sum by (instance) (rate(` + sel(`,code=~"4.."`) + `[5m])) / sum by (instance) (rate(` +
				sel(``) + `[5m])) > 0.1`,
			For:         "10m",
			Labels:      map[string]string{"severity": "ticket"},
			Annotations: map[string]string{"summary": "Many 4xx on {{ $labels.instance }}: {{ $value | humanizePercentage }}"},
		}, {
			Alert:  "InstanceTrafficHigh",
			Expr:   `sum by (instance) (rate(` + sel(``) + `[5m])) > 16.5`,
			For:    "5m",
			Labels: map[string]string{"severity": "info", "instance_class": "{{ if gt $value 20.0 }}hot{{ else }}warm{{ end }}"},
			Annotations: map[string]string{
				"summary": "{{ $labels.instance }} serves {{ $value | printf \"%.1f\" }} req/s",
			},
		}, {
			Alert:       "Canary503",
			Expr:        `rate(` + sel(`,instance="i0",code="503"`) + `[5m]) > 1`,
			For:         "5m",
			Labels:      map[string]string{"severity": "page"},
			Annotations: map[string]string{"summary": "Canary {{ $labels.instance }} returns 503 at {{ $value | humanize }}/s"},
		}, {
			Alert:       "Canary500Burst",
			Expr:        `increase(` + sel(`,instance="i1",code="500"`) + `[10m]) > 100`,
			Labels:      map[string]string{"severity": "page"},
			Annotations: map[string]string{"summary": "{{ $value | humanize }} 500s in 10m on {{ $labels.instance }}"},
		}, {
			Alert:  "CounterReset",
			Expr:   `resets(` + sel(``) + `[1h]) > 0`,
			Labels: map[string]string{"severity": "info"},
			Annotations: map[string]string{
				"summary": "{{ $labels.instance }} restarted ({{ $value }} counter resets, code {{ $labels.code }})",
			},
		}, {
			Alert: "TrafficDrop",
			Expr: `sum(rate(` + sel(``) + `[5m])) < 0.5 * sum(rate(` + sel(``) +
				`[5m] offset 30m))`,
			For:         "10m",
			Labels:      map[string]string{"severity": "page"},
			Annotations: map[string]string{"summary": svc + " traffic dropped to {{ $value | humanize }} req/s"},
		}, {
			Alert:       "RateLimited",
			Expr:        `topk(3, sum by (instance) (rate(` + sel(`,code="429"`) + `[5m]))) > 0.5`,
			For:         "5m",
			Labels:      map[string]string{"severity": "ticket"},
			Annotations: map[string]string{"summary": "{{ $labels.instance }} rate-limits {{ $value | humanize }} req/s"},
		}, {
			Alert:  "ErrorSpike",
			Expr:   `max by (instance) (irate(` + sel(`,code=~"5.."`) + `[2m])) > 1`,
			For:    "2m",
			Labels: map[string]string{"severity": "page"},
			Annotations: map[string]string{
				"summary":     "5xx spike on {{ $labels.instance }}",
				"description": "{{ $labels.instance }} of {{ $externalLabels.cluster }} serves {{ $value | humanize }} 5xx/s.",
				"runbook_url": runbook("ErrorSpike"),
			},
		}}
		if len(rs) != rulesPerService {
			return nil, nil, fmt.Errorf("BUG: %d rules per service, want %d", len(rs), rulesPerService)
		}
		for _, r := range rs {
			exprs = append(exprs, r.Expr)
		}
		groups = append(groups, groupYAML{
			Name:     svc,
			Interval: "1m",
			Labels:   map[string]string{"service": svc, "team": "team-" + strconv.Itoa(s%12)},
			Rules:    rs,
		})
	}
	doc, err := yaml.Marshal(map[string]any{"groups": groups})
	return doc, exprs, err
}

// countSelected returns how many series the vector and matrix selectors of
// exprs match in q (at most 1h before ts, the longest range used).
func countSelected(q storage.Queryable, exprs []string, ts time.Time) (int, error) {
	qr, err := q.Querier(ts.Add(-90*time.Minute).UnixMilli(), ts.UnixMilli())
	if err != nil {
		return 0, err
	}
	defer qr.Close()
	total := 0
	for _, e := range exprs {
		ast, err := parser.NewParser(parser.Options{}).ParseExpr(e)
		if err != nil {
			return 0, fmt.Errorf("%s: %w", e, err)
		}
		var serr error
		parser.Inspect(ast, func(node parser.Node, _ []parser.Node) error {
			vs, ok := node.(*parser.VectorSelector)
			if !ok {
				return nil
			}
			set := qr.Select(context.Background(), false, nil, vs.LabelMatchers...)
			for set.Next() {
				total++
			}
			if err := set.Err(); err != nil {
				serr = err
			}
			return nil
		})
		if serr != nil {
			return 0, serr
		}
	}
	return total, nil
}

// TestRulesStoresAgree checks that the rule expressions (1,000 on the
// benchmark's fixture) give the same results over the Watchdog store and
// the Prometheus head, so the query-only comparison is like for like, and
// that the rules evaluate without errors and raise alerts in both states.
// Under -short it checks the same on rulesSmall.
func TestRulesStoresAgree(t *testing.T) {
	if raceBuild {
		// 24 M samples into two stores take over ten minutes under the
		// race detector; the test has no goroutines of its own to check.
		// .ci/run runs it without -race.
		t.Skip("SKIP under -race: builds 100k series in two stores (run without -race by .ci/run)")
	}
	sh := rulesFull
	if testing.Short() {
		sh = rulesSmall
	}
	f := rulesSetup(t, sh)
	ctx := context.Background()
	ts := rulesEvalStart
	for _, e := range f.exprs {
		var got [2]string
		for i, q := range []storage.Queryable{f.db, f.headQ} {
			qry, err := f.engine.NewInstantQuery(ctx, q, nil, e, ts)
			if err != nil {
				t.Fatal(err)
			}
			res := qry.Exec(ctx)
			if res.Err != nil {
				t.Fatalf("%s: %v", e, res.Err)
			}
			got[i] = res.Value.String()
			qry.Close()
		}
		if got[0] != got[1] {
			t.Fatalf("%s:\nwatchdog:   %.300s\nprometheus: %.300s", e, got[0], got[1])
		}
	}
	f.evalRound(ctx, f.nextEvalTs())
	if err := f.ruleErrors(); err != nil {
		t.Fatal(err)
	}
	pending, firing := f.activeAlerts()
	t.Logf("setup %v, %d samples per store, %d series selected per round, %d pending and %d firing alerts",
		f.setupDur.Round(time.Millisecond), f.samples, f.seriesPerRound, pending, firing)
	if pending == 0 || firing == 0 {
		t.Fatalf("want pending and firing alerts, got %d and %d", pending, firing)
	}
}

// BenchmarkRules measures one evaluation round of 1,000 alerting rules in
// 100 groups over 100,000 series (see RULES.md). One op = one round.
//
//   - rules_eval/watchdog: Group.Eval for every group, the production
//     path: queries through rules.EngineQueryFunc over the Watchdog store,
//     alert templating, the state machine, ALERTS/ALERTS_FOR_STATE writes.
//   - query_only/watchdog and query_only/prometheus_head: the same 1,000
//     expressions as instant queries with the same engine, over the
//     Watchdog store and over a Prometheus tsdb.Head with the same samples.
//   - ratio: the three alternate on every iteration, so all see the same
//     machine load; reports x_head_over_store (Prometheus head query time /
//     Watchdog store query time) and x_eval_over_query (rules_eval time /
//     Watchdog query-only time, the rules engine's overhead factor).
func BenchmarkRules(b *testing.B) {
	f := rulesSetup(b, rulesFull)
	ctx := context.Background()
	nRules := float64(rulesFull.services * rulesPerService)
	report := func(b *testing.B, d time.Duration) {
		b.ReportMetric(nRules*float64(b.N)/d.Seconds(), "rules/s")
		b.ReportMetric(float64(f.seriesPerRound*b.N)/d.Seconds(), "series/s")
	}
	b.Run("rules_eval/watchdog", func(b *testing.B) {
		for b.Loop() {
			f.evalRound(ctx, f.nextEvalTs())
		}
		report(b, b.Elapsed())
		if err := f.ruleErrors(); err != nil {
			b.Fatal(err)
		}
		pending, firing := f.activeAlerts()
		b.ReportMetric(float64(pending+firing), "alerts/round")
	})
	queryOnly := func(q storage.Queryable) func(*testing.B) {
		return func(b *testing.B) {
			i := 0
			for b.Loop() {
				f.queryRound(b, q, rulesEvalStart.Add(time.Duration(i)*rulesRoundStep))
				i++
			}
			report(b, b.Elapsed())
		}
	}
	b.Run("query_only/watchdog", queryOnly(f.db))
	b.Run("query_only/prometheus_head", queryOnly(f.headQ))
	b.Run("ratio", func(b *testing.B) {
		var tEval, tStore, tHead time.Duration
		for b.Loop() {
			ts := f.nextEvalTs()
			t0 := time.Now()
			f.evalRound(ctx, ts)
			t1 := time.Now()
			f.queryRound(b, f.db, ts)
			t2 := time.Now()
			f.queryRound(b, f.headQ, ts)
			tEval += t1.Sub(t0)
			tStore += t2.Sub(t1)
			tHead += time.Since(t2)
		}
		perRound := func(d time.Duration) float64 { return float64(d.Milliseconds()) / float64(b.N) }
		b.ReportMetric(perRound(tEval), "eval_ms/round")
		b.ReportMetric(perRound(tStore), "store_query_ms/round")
		b.ReportMetric(perRound(tHead), "head_query_ms/round")
		b.ReportMetric(float64(tHead)/float64(tStore), "x_head_over_store")
		b.ReportMetric(float64(tEval)/float64(tStore), "x_eval_over_query")
	})
}
