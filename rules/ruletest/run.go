package ruletest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/storage"

	"github.com/watchdog-sre/watchdog/evaluator"
	"github.com/watchdog-sre/watchdog/rules"
)

// Exit codes of Run.
const (
	ExitSuccess    = 0 // every test passed
	ExitFailure    = 1 // a test failed, or used a feature we cannot run
	ExitUnreadable = 2 // a test or rule file could not be read or parsed
)

// ErrNoStore is reported when Options.NewStore is nil.
var ErrNoStore = errors.New("no store to run rule tests on (Options.NewStore is nil)")

// Store is the sample store one test group runs on: the input series and
// the rules' results (recording rules, ALERTS) are appended to it, PromQL
// queries and native conditions read it. The package does not know the
// store's implementation: `watchdog test` (cmd/watchdog) provides its own.
type Store interface {
	storage.Queryable
	evaluator.Reader
	// Appender returns a fresh appender; each is committed or rolled back.
	Appender() rules.Appender
}

// Options configures Run. The zero value writes to os.Stdout and runs every
// test group; without NewStore every test group fails with ErrNoStore.
type Options struct {
	// Run selects the test groups whose name it matches (as promtool's
	// --run); nil runs all.
	Run *regexp.Regexp
	// Out receives the report; nil means os.Stdout.
	Out io.Writer
	// NewStore opens an empty Store, without a retention limit, for one
	// test group.
	NewStore func() (Store, error)
}

// Run runs the test files and writes a report in promtool's wording. The
// rule groups are evaluated by the rules package itself (Group.Eval over a
// fresh Store per test group, which native conditions read too), at every
// evaluation_interval from the
// group's start up to its latest eval_time.
func Run(opts Options, files ...string) (exitCode int) {
	out := opts.Out
	if out == nil {
		out = os.Stdout
	}
	code := ExitSuccess
	for _, path := range files {
		fmt.Fprintf(out, "Processing test file: %s\n", path)
		c, errs := runFile(path, opts, out)
		if len(errs) == 0 {
			fmt.Fprintln(out, "  SUCCESS")
		} else {
			fmt.Fprintln(out, "  FAILED:")
			for _, e := range errs {
				fmt.Fprintf(out, "%s\n\n", e)
			}
		}
		fmt.Fprintln(out)
		code = max(code, c)
	}
	return code
}

// runFile loads and runs one test file; errs are the failures to print.
func runFile(path string, opts Options, out io.Writer) (code int, errs []string) {
	f, err := LoadFile(path)
	if err != nil {
		return ExitUnreadable, []string{err.Error()}
	}
	for _, w := range f.Warnings {
		fmt.Fprintf(out, "  WARNING: %s\n", w)
	}
	if _, err := rules.LoadFiles(f.RuleFiles...); err != nil {
		return ExitUnreadable, []string{err.Error()}
	}
	order := make(map[string]int, len(f.GroupEvalOrder))
	for i, name := range f.GroupEvalOrder {
		order[name] = i
	}
	for i := range f.Tests {
		g := &f.Tests[i]
		if opts.Run != nil && !opts.Run.MatchString(g.Name) {
			continue
		}
		errs = append(errs, runGroup(f, g, order, opts.NewStore)...)
	}
	if len(errs) > 0 {
		return ExitFailure, errs
	}
	return ExitSuccess, nil
}

// namePrefix is the line promtool puts before a failure of a named group.
func namePrefix(g *TestGroup) string {
	if g.Name == "" {
		return ""
	}
	return fmt.Sprintf("    name: %s,\n", g.Name)
}

// engineOpts are the options promtool's test engine has, except a larger
// sample limit (that of the Watchdog server).
func engineOpts(evalInterval time.Duration) promql.EngineOpts {
	return promql.EngineOpts{
		MaxSamples:               50_000_000,
		Timeout:                  100 * time.Second,
		EnableAtModifier:         true,
		EnableNegativeOffset:     true,
		NoStepSubqueryIntervalFn: func(int64) int64 { return evalInterval.Milliseconds() },
	}
}

// loader appends input samples to the store up to a time, so that, as in
// promtool, rules never see samples after the evaluation time.
type loader struct {
	series []InputSeries
	next   []int // index of each series' first sample not yet appended
}

func (l *loader) appendTill(db Store, t int64) error {
	app := db.Appender()
	for i, s := range l.series {
		for ; l.next[i] < len(s.Samples) && s.Samples[l.next[i]].T <= t; l.next[i]++ {
			smp := s.Samples[l.next[i]]
			var err error
			if smp.H != nil {
				_, err = app.AppendHistogram(0, s.Labels, smp.T, nil, smp.H)
			} else {
				_, err = app.Append(0, s.Labels, smp.T, smp.V)
			}
			if err != nil {
				_ = app.Rollback()
				return fmt.Errorf("load series %s: %w", s.Labels, err)
			}
		}
	}
	return app.Commit()
}

// runGroup runs one test group and returns its failures.
func runGroup(f *File, g *TestGroup, order map[string]int, newStore func() (Store, error)) []string {
	name := namePrefix(g)
	ctx := context.Background()
	if newStore == nil {
		return []string{fmt.Sprintf("%s    open store: %v", name, ErrNoStore)}
	}
	db, err := newStore()
	if err != nil {
		return []string{fmt.Sprintf("%s    open store: %v", name, err)}
	}
	engine := promql.NewEngine(engineOpts(f.EvaluationInterval))
	defer engine.Close()

	var now time.Time // the evaluation time: the rules' clock
	mgr := rules.NewManager(rules.Options{
		Query:          rules.EngineQueryFunc(engine, db),
		Native:         db,
		Appender:       db.Appender,
		ExternalLabels: labels.FromMap(g.ExternalLabels),
		ExternalURL:    g.ExternalURL,
		Now:            func() time.Time { return now },
	})
	if err := mgr.Update(g.Interval, f.RuleFiles); err != nil {
		return []string{name + "    " + err.Error()}
	}
	groups := orderGroups(mgr.Groups(), order)

	// The alert tests, by eval_time.
	byTime := map[time.Duration][]AlertTestCase{}
	for _, a := range g.AlertRuleTests {
		byTime[a.EvalTime] = append(byTime[a.EvalTime], a)
	}
	evalTimes := make([]time.Duration, 0, len(byTime))
	for t := range byTime {
		evalTimes = append(evalTimes, t)
	}
	slices.Sort(evalTimes)

	var (
		errs  []string
		ld    = &loader{series: g.InputSeries, next: make([]int, len(g.InputSeries))}
		mint  = g.StartTimestamp
		maxt  = mint.Add(g.MaxEvalTime())
		epoch = time.Unix(0, 0).UTC()
		curr  = 0
		step  = f.EvaluationInterval
	)
	for ts := mint; !ts.After(maxt); ts = ts.Add(step) {
		now = ts
		if err := ld.appendTill(db, ts.Sub(epoch).Milliseconds()); err != nil {
			errs = append(errs, name+"    "+err.Error())
		}
		var evalErrs []string
		for _, grp := range groups {
			grp.Eval(ctx, ts)
			for _, r := range grp.Rules() {
				if err := r.LastError(); err != nil {
					evalErrs = append(evalErrs, fmt.Sprintf("%s    rule: %s, time: %s, err: %v", name, r.Name(), ts.Sub(epoch), err))
				}
			}
		}
		errs = append(errs, evalErrs...)
		if len(evalErrs) > 0 {
			return errs
		}
		// Alert tests with ts <= eval_time < ts+step are checked against
		// this evaluation.
		for curr < len(evalTimes) && ts.Sub(mint) <= evalTimes[curr] && evalTimes[curr] < ts.Add(step).Sub(mint) {
			for _, tc := range byTime[evalTimes[curr]] {
				if msg := checkAlerts(tc, groups); msg != "" {
					errs = append(errs, name+msg)
				}
			}
			curr++
		}
	}

	for _, tc := range g.PromQLExprTests {
		if msg := checkExpr(ctx, tc, mint, engine, db, f.FuzzyCompare); msg != "" {
			errs = append(errs, name+msg)
		}
	}
	return errs
}

// orderGroups sorts groups as promtool does: by their index in
// group_eval_order, groups not named there counting as 0; ties keep the
// Manager's file-and-name order.
func orderGroups(groups []*rules.Group, order map[string]int) []*rules.Group {
	slices.SortStableFunc(groups, func(a, b *rules.Group) int {
		return order[a.Name()] - order[b.Name()]
	})
	return groups
}

// labelsAndAnnotations is one firing alert, as compared and printed.
type labelsAndAnnotations struct {
	Labels, Annotations labels.Labels
}

func (la labelsAndAnnotations) String() string {
	return "Labels:" + la.Labels.String() + "\nAnnotations:" + la.Annotations.String()
}

func sortAlerts(as []labelsAndAnnotations) {
	sort.SliceStable(as, func(i, j int) bool {
		if c := labels.Compare(as[i].Labels, as[j].Labels); c != 0 {
			return c < 0
		}
		return labels.Compare(as[i].Annotations, as[j].Annotations) < 0
	})
}

// alertsString prints alerts as promtool does.
func alertsString(as []labelsAndAnnotations) string {
	if len(as) == 0 {
		return "[]"
	}
	var b strings.Builder
	b.WriteString("[\n")
	for i, a := range as {
		if i > 0 {
			b.WriteString(",\n")
		}
		b.WriteString(strconv.Itoa(i) + ":" + indentLines("\n"+a.String(), "  "))
	}
	b.WriteString("\n]")
	return b.String()
}

// indentLines prefixes every line but the first with indent.
func indentLines(s, indent string) string {
	return strings.ReplaceAll(s, "\n", "\n"+indent)
}

// checkAlerts compares the firing alerts named tc.Alertname, across all
// groups, with those expected; "" when they match.
func checkAlerts(tc AlertTestCase, groups []*rules.Group) string {
	var got []labelsAndAnnotations
	for _, grp := range groups {
		for _, r := range grp.Rules() {
			if !r.IsAlerting() || r.Name() != tc.Alertname {
				continue
			}
			for _, a := range r.Alerts() {
				if a.State == rules.StateFiring {
					got = append(got, labelsAndAnnotations{Labels: a.Labels, Annotations: a.Annotations})
				}
			}
		}
	}
	var exp []labelsAndAnnotations
	for _, e := range tc.ExpAlerts {
		lb := labels.NewBuilder(labels.FromMap(e.ExpLabels))
		lb.Set(labels.AlertName, tc.Alertname)
		exp = append(exp, labelsAndAnnotations{Labels: lb.Labels(), Annotations: labels.FromMap(e.ExpAnnotations)})
	}
	sortAlerts(got)
	sortAlerts(exp)
	if slices.EqualFunc(exp, got, func(a, b labelsAndAnnotations) bool {
		return labels.Equal(a.Labels, b.Labels) && labels.Equal(a.Annotations, b.Annotations)
	}) {
		return ""
	}
	return fmt.Sprintf("    alertname: %s, time: %s, \n        exp:%v, \n        got:%v",
		tc.Alertname, model.Duration(tc.EvalTime), indentLines(alertsString(exp), "            "),
		indentLines(alertsString(got), "            "))
}

// sample is a labelled value or native histogram, as compared and printed.
type sample struct {
	Labels    labels.Labels
	Value     float64
	Histogram *histogram.FloatHistogram
}

func samplesString(ss []sample) string {
	if len(ss) == 0 {
		return "nil"
	}
	parts := make([]string, len(ss))
	for i, s := range ss {
		if s.Histogram != nil {
			parts[i] = s.Labels.String() + " " + histogramString(s.Histogram)
			continue
		}
		parts[i] = s.Labels.String() + " " + strconv.FormatFloat(s.Value, 'E', -1, 64)
	}
	return strings.Join(parts, ", ")
}

// errNotVector is promtool's error for a range or string result.
var errNotVector = errors.New("rule result is not a vector or scalar")

// instantQuery runs expr at t; a scalar becomes one sample without labels.
func instantQuery(ctx context.Context, engine *promql.Engine, q storage.Queryable, expr string, t time.Time) (promql.Vector, error) {
	query, err := engine.NewInstantQuery(ctx, q, nil, expr, t)
	if err != nil {
		return nil, err
	}
	defer query.Close()
	res := query.Exec(ctx)
	if res.Err != nil {
		return nil, res.Err
	}
	switch v := res.Value.(type) {
	case promql.Vector:
		return v, nil
	case promql.Scalar:
		return promql.Vector{{T: v.T, F: v.V, Metric: labels.EmptyLabels()}}, nil
	default:
		return nil, errNotVector
	}
}

// checkExpr runs a promql_expr_test; "" when it passes.
func checkExpr(ctx context.Context, tc PromQLTestCase, mint time.Time, engine *promql.Engine, q storage.Queryable, fuzzy bool) string {
	evalTime := model.Duration(tc.EvalTime)
	vec, err := instantQuery(ctx, engine, q, tc.Expr, mint.Add(tc.EvalTime))
	if err != nil {
		return fmt.Sprintf("    expr: %q, time: %s, err: %s", tc.Expr, evalTime, err)
	}
	got := make([]sample, 0, len(vec))
	for _, s := range vec {
		got = append(got, sample{Labels: s.Metric, Value: s.F, Histogram: s.H})
	}
	exp := make([]sample, 0, len(tc.ExpSamples))
	for _, s := range tc.ExpSamples {
		exp = append(exp, sample{Labels: s.Labels, Value: s.Value, Histogram: s.Histogram})
	}
	bySeries := func(a, b sample) int { return labels.Compare(a.Labels, b.Labels) }
	slices.SortStableFunc(got, bySeries)
	slices.SortStableFunc(exp, bySeries)
	equal := func(x, y float64) bool {
		// NaN never equals NaN, as in promtool.
		return x == y || fuzzy && (math.Nextafter(x, math.Inf(-1)) == y || math.Nextafter(x, math.Inf(1)) == y)
	}
	if slices.EqualFunc(exp, got, func(a, b sample) bool {
		return labels.Equal(a.Labels, b.Labels) && equal(a.Value, b.Value) && sameHistogram(a.Histogram, b.Histogram)
	}) {
		return ""
	}
	return fmt.Sprintf("    expr: %q, time: %s,\n        exp: %v\n        got: %v", tc.Expr, evalTime,
		samplesString(exp), samplesString(got))
}
