package rules

import (
	"context"
	"errors"
	"log/slog"
	"math"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/timestamp"
	"github.com/prometheus/prometheus/model/value"
	"github.com/prometheus/prometheus/promql"
)

// Group is a rule group: its rules are evaluated in order, at one
// interval, by one goroutine. The getters are safe to call while it runs.
type Group struct {
	name, file  string
	interval    time.Duration
	queryOffset time.Duration
	limit       int
	rules       []*Rule
	opts        *Options
	logger      *slog.Logger
	parsedURL   *url.URL
	extLabels   map[string]string
	metrics     groupMetrics

	mu         sync.Mutex
	lastEval   time.Time
	lastEvalTs time.Time
	evalDur    time.Duration

	// Owned by the evaluating goroutine.
	shouldRestore bool
	staleSeries   []labels.Labels

	// Run control, owned by the Manager.
	cancel context.CancelFunc
	done   chan struct{}
}

// newGroup builds a group from its spec; interval is used when the spec has
// none.
func newGroup(spec GroupSpec, file string, interval time.Duration, opts *Options, shouldRestore bool) *Group {
	if spec.Interval > 0 {
		interval = spec.Interval
	}
	if interval <= 0 {
		interval = DefaultInterval
	}
	g := &Group{
		name:          spec.Name,
		file:          file,
		interval:      interval,
		queryOffset:   spec.QueryOffset,
		limit:         spec.Limit,
		opts:          opts,
		logger:        opts.Logger.With("file", file, "group", spec.Name),
		extLabels:     opts.ExternalLabels.Map(),
		shouldRestore: shouldRestore,
		metrics:       newGroupMetrics(opts.Metrics, file, spec.Name),
	}
	if u, err := url.Parse(opts.ExternalURL); err == nil {
		g.parsedURL = u
	}
	for _, rs := range spec.Rules {
		g.rules = append(g.rules, newRule(rs, spec.Labels, newCondition(rs, opts)))
	}
	return g
}

// Name is the group's name.
func (g *Group) Name() string { return g.name }

// File is the file the group was loaded from.
func (g *Group) File() string { return g.file }

// Interval is the evaluation interval.
func (g *Group) Interval() time.Duration { return g.interval }

// QueryOffset is how far into the past the group's queries look.
func (g *Group) QueryOffset() time.Duration { return g.queryOffset }

// Limit is the group's alert/series limit per rule, 0 for none.
func (g *Group) Limit() int { return g.limit }

// Rules returns the group's rules in file order.
func (g *Group) Rules() []*Rule { return g.rules }

// LastEvaluation is the timestamp of the last evaluation.
func (g *Group) LastEvaluation() time.Time {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.lastEvalTs
}

// EvaluationDuration is how long the last evaluation took.
func (g *Group) EvaluationDuration() time.Duration {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.evalDur
}

// Key identifies the group within a Manager: file and name.
func (g *Group) Key() string { return groupKey(g.file, g.name) }

func groupKey(file, name string) string { return file + ";" + name }

// EvalTimestamp returns the latest evaluation slot at or before t: slots are
// the group's interval apart, shifted by an offset derived from the hash of
// its name and file so that groups spread out, as Prometheus's EvalTimestamp.
func (g *Group) EvalTimestamp(t time.Time) time.Time {
	h := labels.New(labels.Label{Name: "name", Value: g.name}, labels.Label{Name: "file", Value: g.file}).Hash()
	var (
		iv     = int64(g.interval)
		offset = int64(h % uint64(iv))
		adjNow = t.UnixNano() - offset
		base   = adjNow - (adjNow % iv)
	)
	if adjNow < 0 && adjNow%iv != 0 {
		base -= iv
	}
	return time.Unix(0, base+offset).UTC()
}

// run evaluates the group at every slot until ctx is done. A slot missed
// because an evaluation ran long is skipped and counted.
func (g *Group) run(ctx context.Context) {
	now := g.opts.Now
	next := g.EvalTimestamp(now()).Add(g.interval)
	timer := time.NewTimer(next.Sub(now()))
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		}
		if ctx.Err() != nil {
			return
		}
		if missed := int64(now().Sub(next) / g.interval); missed > 0 {
			g.metrics.missed.Add(int(missed))
			g.metrics.iterations.Add(int(missed))
			next = next.Add(time.Duration(missed) * g.interval)
		}
		g.metrics.iterations.Inc()
		g.Eval(ctx, next)
		next = next.Add(g.interval)
		timer.Reset(next.Sub(now()))
	}
}

// Eval runs one evaluation of the group at ts: every rule in order, writing
// results and ALERTS series and notifying. On the first evaluation of a
// group loaded at start, alert state is first restored from the store.
// Eval must not be called concurrently for one group; the Manager's
// goroutine calls it, and `watchdog test` drives groups with it on a fake
// timeline.
func (g *Group) Eval(ctx context.Context, ts time.Time) {
	start := g.opts.Now()
	var restored map[*Rule]Alerts
	if g.shouldRestore {
		restored = g.restore(ctx, ts)
		g.shouldRestore = false
	}
	for _, r := range g.rules {
		select {
		case <-ctx.Done():
			return
		default:
		}
		g.evalRule(ctx, r, ts, restored[r])
	}
	g.cleanupStale(ts)
	d := g.opts.Now().Sub(start)
	g.metrics.duration.Update(d.Seconds())
	g.mu.Lock()
	g.lastEval, g.lastEvalTs, g.evalDur = start, ts, d
	g.mu.Unlock()
}

func (g *Group) evalRule(ctx context.Context, r *Rule, ts time.Time, restored Alerts) {
	start := g.opts.Now()
	g.metrics.evals.Inc()
	var (
		vec promql.Vector
		err error
	)
	var before uint64
	nc, native := r.cond.(NativeCondition)
	native = native && nc.Cond != nil
	if native {
		before = nc.Cond.Evaluated()
	}
	if r.IsAlerting() {
		vec, err = r.evalAlerting(ctx, ts, g, restored)
	} else {
		vec, err = r.evalRecording(ctx, ts, g)
	}
	if native {
		g.metrics.nativeSeries.AddInt64(int64(nc.Cond.Evaluated() - before))
	}
	r.setResult(ts, g.opts.Now().Sub(start), err)
	if err != nil {
		g.metrics.failures.Inc()
		var canceled promql.ErrQueryCanceled
		if !errors.As(err, &canceled) && ctx.Err() == nil {
			g.logger.Warn("evaluating rule failed", "rule", r.Name(), "err", err)
		}
		return
	}
	if r.IsAlerting() {
		r.mu.Lock()
		send := markSent(r.active, ts, g.opts.ResendDelay, g.interval)
		r.mu.Unlock()
		if len(send) > 0 {
			expr := r.GraphQuery()
			if expr == "" {
				expr = r.Query()
			}
			g.opts.Notify(ctx, expr, send...)
		}
	}
	g.write(r, vec, ts)
}

// write appends a rule's samples (native histogram results as float
// histograms), and stale markers for the series of its previous evaluation
// that are gone (a float StaleNaN for histogram series too, as Prometheus
// writes them: the store marks the histogram series stale).
func (g *Group) write(r *Rule, vec promql.Vector, ts time.Time) {
	app := g.opts.Appender()
	seen := make(map[string]labels.Labels, len(vec))
	var buf []byte
	for _, s := range vec {
		var err error
		if s.H != nil {
			_, err = app.AppendHistogram(0, s.Metric, s.T, nil, s.H)
		} else {
			_, err = app.Append(0, s.Metric, s.T, s.F)
		}
		if err != nil {
			r.setAppendError(err)
			g.logger.Debug("rule result discarded", "rule", r.Name(), "series", s.Metric.String(), "err", err)
			continue
		}
		buf = s.Metric.Bytes(buf)
		seen[string(buf)] = s.Metric
	}
	staleT := timestamp.FromTime(ts.Add(-g.queryOffset))
	for key, lset := range r.prevSeries {
		if _, ok := seen[key]; !ok {
			// Out of order or duplicate: a newer sample is already there.
			_, _ = app.Append(0, lset, staleT, math.Float64frombits(value.StaleNaN))
		}
	}
	if err := app.Commit(); err != nil {
		r.setAppendError(err)
		g.metrics.failures.Inc()
		g.logger.Warn("appending rule results failed", "rule", r.Name(), "err", err)
		return
	}
	r.prevSeries = seen
}

// cleanupStale writes stale markers for series of rules that a reload
// removed from the group.
func (g *Group) cleanupStale(ts time.Time) {
	if len(g.staleSeries) == 0 {
		return
	}
	if err := writeStale(g.opts.Appender(), g.staleSeries, ts.Add(-g.queryOffset)); err != nil {
		g.logger.Warn("writing stale markers failed", "err", err)
		return
	}
	g.staleSeries = nil
}

func writeStale(app Appender, series []labels.Labels, ts time.Time) error {
	t := timestamp.FromTime(ts)
	for _, lset := range series {
		_, _ = app.Append(0, lset, t, math.Float64frombits(value.StaleNaN))
	}
	return app.Commit()
}

// allSeries lists the series the group's rules wrote last.
func (g *Group) allSeries() []labels.Labels {
	var out []labels.Labels
	for _, r := range g.rules {
		for _, l := range r.prevSeries {
			out = append(out, l)
		}
	}
	return append(out, g.staleSeries...)
}

// equal reports whether two groups have the same definition.
func (g *Group) equal(o *Group) bool {
	if g.name != o.name || g.file != o.file || g.interval != o.interval || g.limit != o.limit ||
		g.queryOffset != o.queryOffset || len(g.rules) != len(o.rules) {
		return false
	}
	for i := range g.rules {
		if !g.rules[i].equal(o.rules[i]) {
			return false
		}
	}
	return true
}

// copyState moves the state of a replaced group into g: alerts and written
// series of rules with the same name and labels (matched in order), and
// stale markers owed for the rest. from must not be running.
func (g *Group) copyState(from *Group) {
	g.shouldRestore = from.shouldRestore
	from.mu.Lock()
	g.lastEval, g.lastEvalTs, g.evalDur = from.lastEval, from.lastEvalTs, from.evalDur
	from.mu.Unlock()
	used := make([]bool, len(from.rules))
	for _, r := range g.rules {
		for i, fr := range from.rules {
			if used[i] || !r.sameAs(fr) {
				continue
			}
			used[i] = true
			r.prevSeries = fr.prevSeries
			if r.IsAlerting() && fr.IsAlerting() {
				fr.mu.Lock()
				r.active = fr.active.Clone()
				fr.mu.Unlock()
			}
			break
		}
	}
	g.staleSeries = append(g.staleSeries, from.staleSeries...)
	for i, fr := range from.rules {
		if !used[i] {
			for _, l := range fr.prevSeries {
				g.staleSeries = append(g.staleSeries, l)
			}
		}
	}
}

func (g *Group) expander(alert string, ts time.Time) *expander {
	return &expander{
		alert:          alert,
		ts:             ts,
		query:          g.opts.Query,
		externalLabels: g.extLabels,
		externalURL:    g.opts.ExternalURL,
		parsedURL:      g.parsedURL,
		logger:         g.logger,
	}
}

// groupMetrics are the per-group metrics, labelled rule_group="file;name".
type groupMetrics struct {
	names                               []string
	iterations, missed, evals, failures *metrics.Counter
	nativeSeries                        *metrics.Counter
	duration                            *metrics.PrometheusHistogram
}

func newGroupMetrics(set *metrics.Set, file, name string) groupMetrics {
	lbl := `{rule_group="` + escapeLabelValue(groupKey(file, name)) + `"}`
	m := groupMetrics{names: []string{
		"watchdog_rule_group_iterations_total" + lbl,
		"watchdog_rule_group_iterations_missed_total" + lbl,
		"watchdog_rule_evaluations_total" + lbl,
		"watchdog_rule_evaluation_failures_total" + lbl,
		"watchdog_rule_group_duration_seconds" + lbl,
		"watchdog_rule_native_series_evaluated_total" + lbl,
	}}
	m.iterations = set.GetOrCreateCounter(m.names[0])
	m.missed = set.GetOrCreateCounter(m.names[1])
	m.evals = set.GetOrCreateCounter(m.names[2])
	m.failures = set.GetOrCreateCounter(m.names[3])
	m.duration = set.GetOrCreatePrometheusHistogram(m.names[4])
	m.nativeSeries = set.GetOrCreateCounter(m.names[5])
	return m
}

func (m groupMetrics) unregister(set *metrics.Set) {
	for _, n := range m.names {
		set.UnregisterMetric(n)
	}
}

func escapeLabelValue(v string) string {
	return strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(v)
}
