package rules

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/value"
	"github.com/prometheus/prometheus/promql"
)

// recAppender records what a rule group writes: committed samples in
// order, one line each, histograms in their test notation.
type recAppender struct {
	mu        *sync.Mutex
	committed *[]string
	pending   []string
}

func (a *recAppender) Append(_ uint64, l labels.Labels, _ int64, v float64) (uint64, error) {
	s := strconv.FormatFloat(v, 'f', -1, 64)
	if value.IsStaleNaN(v) {
		s = "stale"
	}
	a.pending = append(a.pending, "float "+l.String()+" "+s)
	return 0, nil
}

func (a *recAppender) AppendHistogram(_ uint64, l labels.Labels, _ int64, h *histogram.Histogram, fh *histogram.FloatHistogram) (uint64, error) {
	if h != nil || fh == nil {
		a.pending = append(a.pending, "BAD: not a float histogram "+l.String())
		return 0, nil
	}
	a.pending = append(a.pending, "histogram "+l.String()+" "+fh.TestExpression())
	return 0, nil
}

func (a *recAppender) Commit() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	*a.committed = append(*a.committed, a.pending...)
	a.pending = nil
	return nil
}

func (a *recAppender) Rollback() error { a.pending = nil; return nil }

// A recording rule whose PromQL result holds native histograms writes them
// as float histograms, floats as floats, and stale markers for both when
// the series go away; an alerting rule over a histogram expression fires
// on its float result.
func TestHistogramResultsWritten(t *testing.T) {
	const ruleYAML = `
groups:
  - name: hist
    rules:
      - record: job:latency:rate5m
        expr: sum by (job) (rate(latency[5m]))
      - alert: SlowP99
        expr: histogram_quantile(0.99, sum by (job) (rate(latency[5m]))) > 1
        labels: {severity: page}
        annotations: {summary: 'p99 {{ $value }}'}
`
	file := filepath.Join(t.TempDir(), "rules.yaml")
	if err := os.WriteFile(file, []byte(ruleYAML), 0o644); err != nil {
		t.Fatal(err)
	}
	hist := &histogram.FloatHistogram{
		CounterResetHint: histogram.GaugeType, Schema: 0, Count: 4, Sum: 10,
		PositiveSpans: []histogram.Span{{Offset: 0, Length: 2}}, PositiveBuckets: []float64{1, 3},
	}
	// The query results per evaluation: two jobs, then only one.
	var step int
	query := func(_ context.Context, q string, t time.Time) (promql.Vector, error) {
		ms := t.UnixMilli()
		if strings.HasPrefix(q, "histogram_quantile") {
			return promql.Vector{{Metric: labels.FromStrings("job", "api"), T: ms, F: 1.9}}, nil
		}
		vec := promql.Vector{{Metric: labels.FromStrings("job", "api"), T: ms, H: hist}}
		if step == 0 {
			vec = append(vec, promql.Sample{Metric: labels.FromStrings("job", "db"), T: ms, F: 2})
		}
		return vec, nil
	}
	var (
		mu        sync.Mutex
		committed []string
		alerts    []string
	)
	m := NewManager(Options{
		Query:    query,
		Appender: func() Appender { return &recAppender{mu: &mu, committed: &committed} },
		Notify: func(_ context.Context, _ string, as ...*Alert) {
			for _, a := range as {
				alerts = append(alerts, a.Labels.String()+" "+a.Annotations.Get("summary"))
			}
		},
	})
	if err := m.Update(time.Minute, []string{file}); err != nil {
		t.Fatal(err)
	}
	g := m.Groups()[0]
	for step = 0; step < 2; step++ {
		g.Eval(context.Background(), at(time.Duration(step)*time.Minute))
	}
	for _, r := range g.Rules() {
		if err := r.LastError(); err != nil {
			t.Errorf("rule %s: %v", r.Name(), err)
		}
	}
	want := []string{
		`histogram {__name__="job:latency:rate5m", job="api"} {{count:4 sum:10 counter_reset_hint:gauge buckets:[1 3]}}`,
		`float {__name__="job:latency:rate5m", job="db"} 2`,
		`float {__name__="ALERTS", alertname="SlowP99", alertstate="firing", job="api", severity="page"} 1`,
		`float {__name__="ALERTS_FOR_STATE", alertname="SlowP99", job="api", severity="page"} ` + strconv.FormatInt(at(0).Unix(), 10),
		`histogram {__name__="job:latency:rate5m", job="api"} {{count:4 sum:10 counter_reset_hint:gauge buckets:[1 3]}}`,
		`float {__name__="job:latency:rate5m", job="db"} stale`,
		`float {__name__="ALERTS", alertname="SlowP99", alertstate="firing", job="api", severity="page"} 1`,
		`float {__name__="ALERTS_FOR_STATE", alertname="SlowP99", job="api", severity="page"} ` + strconv.FormatInt(at(0).Unix(), 10),
	}
	if got := strings.Join(committed, "\n"); got != strings.Join(want, "\n") {
		t.Errorf("written:\n%s\nwant:\n%s", got, strings.Join(want, "\n"))
	}
	if len(alerts) == 0 || alerts[0] != `{alertname="SlowP99", job="api", severity="page"} p99 1.9` {
		t.Errorf("alerts sent = %q", alerts)
	}
}

// Native conditions (series + when) read float samples only: the samples
// of a native histogram series are ignored, as if the series had none, so
// a rule over a selector matching both kinds sees the float series alone
// (use a PromQL rule for histograms).
func TestNativeConditionIgnoresHistograms(t *testing.T) {
	h := newHarness(t, `
groups:
  - name: native
    rules:
      - alert: Seen
        series: latency
        when: 'value() >= 0'
      - alert: Rising
        series: latency
        when: 'rate("1m") >= 0'
      - record: latency:count
        series: latency
        by: [job]
        when: 'value() >= 0'
`)
	opts := h.options()
	opts.Native = h.db
	m := NewManager(opts)
	if err := m.Update(time.Minute, []string{h.file}); err != nil {
		t.Fatal(err)
	}
	g := m.Groups()[0]
	for i := range 3 {
		ts := at(time.Duration(i) * 15 * time.Second)
		h.clock.Store(ts.UnixMilli())
		app := h.db.Appender()
		ms := ts.UnixMilli()
		fh := &histogram.FloatHistogram{Count: float64(i + 1), Sum: float64(i + 1),
			PositiveSpans: []histogram.Span{{Offset: 0, Length: 1}}, PositiveBuckets: []float64{float64(i + 1)}}
		if _, err := app.AppendHistogram(0, labels.FromStrings("__name__", "latency", "job", "api", "kind", "histogram"), ms, nil, fh); err != nil {
			t.Fatal(err)
		}
		if _, err := app.Append(0, labels.FromStrings("__name__", "latency", "job", "api", "kind", "float"), ms, float64(i)); err != nil {
			t.Fatal(err)
		}
		if err := app.Commit(); err != nil {
			t.Fatal(err)
		}
		g.Eval(context.Background(), ts)
	}
	for _, r := range g.Rules() {
		if err := r.LastError(); err != nil {
			t.Fatalf("rule %s: %v", r.Name(), err)
		}
		if !r.IsAlerting() {
			continue
		}
		var got []string
		for _, a := range r.Alerts() {
			got = append(got, a.Labels.Get("kind"))
		}
		if strings.Join(got, ",") != "float" {
			t.Errorf("%s alerts for kinds %q, want the float series only", r.Name(), got)
		}
	}
	ts := at(30 * time.Second)
	if got, want := h.vector("latency:count", ts), `{__name__="latency:count", job="api"} 2`; got != want {
		t.Errorf("latency:count = %q, want %q (the float series alone)", got, want)
	}
	// PromQL still sees both.
	if got := h.vector("count(latency)", ts); got != "{} 2" {
		t.Errorf("count(latency) = %q, want 2", got)
	}
}

// Through the store: a recording rule over native histograms writes float
// histograms that PromQL reads back, and marks the recorded series stale
// (a float StaleNaN, which the store keeps as a histogram stale marker)
// when its input goes stale.
func TestHistogramRecordingThroughStore(t *testing.T) {
	h := newHarness(t, `
groups:
  - name: hist
    rules:
      - record: job:latency:sum
        expr: sum by (job) (latency)
`)
	g := h.loadGroup()
	lset := labels.FromStrings("__name__", "latency", "job", "api", "instance", "a")
	write := func(i int, stale bool) time.Time {
		ts := at(time.Duration(i) * time.Minute)
		h.clock.Store(ts.UnixMilli())
		app := h.db.Appender()
		var err error
		if stale {
			_, err = app.Append(0, lset, ts.UnixMilli(), math.Float64frombits(value.StaleNaN))
		} else {
			_, err = app.AppendHistogram(0, lset, ts.UnixMilli(), &histogram.Histogram{Count: uint64(i + 1), Sum: 1,
				PositiveSpans: []histogram.Span{{Offset: 1, Length: 1}}, PositiveBuckets: []int64{int64(i + 1)}}, nil)
		}
		if err != nil {
			t.Fatal(err)
		}
		if err := app.Commit(); err != nil {
			t.Fatal(err)
		}
		g.Eval(context.Background(), ts)
		if err := g.Rules()[0].LastError(); err != nil {
			t.Fatal(err)
		}
		return ts
	}
	write(0, false)
	ts := write(1, false)
	vec, err := h.query(context.Background(), "job:latency:sum", ts)
	if err != nil {
		t.Fatal(err)
	}
	if len(vec) != 1 || vec[0].H == nil {
		t.Fatalf("job:latency:sum = %v, want one float histogram", vec)
	}
	// The second sample of the series' chunk: not a counter reset.
	if got, want := vec[0].H.TestExpression(), "{{count:2 sum:1 counter_reset_hint:not_reset offset:1 buckets:[2]}}"; got != want {
		t.Errorf("job:latency:sum = %s, want %s", got, want)
	}
	ts = write(2, true)
	if got := h.vector("job:latency:sum", ts); got != "" {
		t.Errorf("job:latency:sum after the input went stale = %q, want nothing", got)
	}
	if got := h.vector("job:latency:sum", ts.Add(-time.Second)); got == "" {
		t.Error("job:latency:sum before the stale marker is gone")
	}
}
