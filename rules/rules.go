// Package rules evaluates Prometheus alerting and recording rules over the
// store and notifies about alerts, with Prometheus's semantics.
//
// It has three pieces, kept apart: the rule-file model (ParseFile, File,
// GroupSpec, RuleSpec), the condition a rule evaluates (Condition: a
// PromQLCondition over a QueryFunc, or a NativeCondition, a `series` +
// `when` condition compiled by package evaluator, once per rule when its
// group is built, and run over Options.Native), and the pure alert state
// machine
// (Step). Group and Manager put them together: one goroutine per group
// evaluates its rules at aligned timestamps, writes recording results and
// the ALERTS, ALERTS_FOR_STATE and ALERTS_KEEP_FIRING_SINCE series through
// an Appender, restores alert state from the store after a restart, and
// hands alerts to a NotifyFunc.
package rules

import (
	"context"
	"io"
	"log/slog"
	"slices"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/storage"

	"github.com/watchdog-sre/watchdog/evaluator"
)

// Appender is the store's appender: samples become visible on Commit.
// *tsdb.Appender satisfies it. AppendHistogram appends a native histogram
// sample; exactly one of h and fh is not nil (rules write float histograms,
// what PromQL computes).
type Appender interface {
	Append(ref uint64, l labels.Labels, t int64, v float64) (uint64, error)
	AppendHistogram(ref uint64, l labels.Labels, t int64, h *histogram.Histogram, fh *histogram.FloatHistogram) (uint64, error)
	Commit() error
	Rollback() error
}

// AppenderFunc returns a fresh Appender; one is used per rule evaluation.
type AppenderFunc func() Appender

// NotifyFunc receives the alerts of one alerting rule that need sending
// after an evaluation, as Prometheus's rules.NotifyFunc: expr is the rule's
// PromQL expression (for a native rule, the PromQL form of its $value, or
// its condition if it has none; see Rule.GraphQuery). It is called only with at least one alert; the alerts are
// copies the callee may keep. A resolved alert has ResolvedAt set (send it
// with EndsAt = ResolvedAt); a firing one has ValidUntil (EndsAt).
type NotifyFunc func(ctx context.Context, expr string, alerts ...*Alert)

// Defaults of Options, as in Prometheus.
const (
	DefaultInterval        = time.Minute
	DefaultOutageTolerance = time.Hour
	DefaultForGracePeriod  = 10 * time.Minute
	DefaultResendDelay     = time.Minute
)

// Options configures a Manager. The zero value is valid: queries then fail
// with ErrNoQuery (native conditions with ErrNoNativeReader), results are discarded and nothing is notified.
type Options struct {
	// Query runs the PromQL of conditions and of the `query` template
	// function.
	Query QueryFunc
	// Native is the store native conditions (series + when) read; nil
	// makes every native rule fail at evaluation with ErrNoNativeReader,
	// reported on the rule. *tsdb.DB satisfies it.
	Native evaluator.Reader
	// Queryable is read to restore alert state after a restart; nil
	// disables restoring.
	Queryable storage.Queryable
	// Appender receives recording results and ALERTS series; nil discards
	// them.
	Appender AppenderFunc
	// Notify receives alerts to send; nil drops them.
	Notify NotifyFunc
	// ExternalLabels and ExternalURL are $externalLabels and $externalURL
	// in templates.
	ExternalLabels labels.Labels
	ExternalURL    string
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Logger receives warnings; nil discards them.
	Logger *slog.Logger
	// Metrics receives the per-group metrics; nil means a private set.
	Metrics *metrics.Set
	// OutageTolerance is how far back state is restored from (default 1h).
	OutageTolerance time.Duration
	// ForGracePeriod is the least time a restored pending alert waits
	// before firing (default 10m).
	ForGracePeriod time.Duration
	// ResendDelay is how often a firing alert is re-sent (default 1m).
	ResendDelay time.Duration
}

func (o Options) withDefaults() Options {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if o.Metrics == nil {
		o.Metrics = metrics.NewSet()
	}
	if o.OutageTolerance <= 0 {
		o.OutageTolerance = DefaultOutageTolerance
	}
	if o.ForGracePeriod <= 0 {
		o.ForGracePeriod = DefaultForGracePeriod
	}
	if o.ResendDelay <= 0 {
		o.ResendDelay = DefaultResendDelay
	}
	if o.Appender == nil {
		o.Appender = func() Appender { return discardAppender{} }
	}
	if o.Notify == nil {
		o.Notify = func(context.Context, string, ...*Alert) {}
	}
	return o
}

type discardAppender struct{}

func (discardAppender) Append(uint64, labels.Labels, int64, float64) (uint64, error) { return 0, nil }
func (discardAppender) AppendHistogram(uint64, labels.Labels, int64, *histogram.Histogram, *histogram.FloatHistogram) (uint64, error) {
	return 0, nil
}
func (discardAppender) Commit() error   { return nil }
func (discardAppender) Rollback() error { return nil }

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
