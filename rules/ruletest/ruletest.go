// Package ruletest reads and runs rule unit-test files in the format of
// `promtool test rules`: input series written in the expanding series
// notation, rule files to evaluate over them, and the alerts and PromQL
// results expected at given evaluation times.
//
// The model (File and the types below it) is plain data produced by
// ParseFile and LoadFile; it does not depend on the rules package. Problems
// promtool only finds while running a test (a bad input series, a missing
// alertname, unparsable expected labels) are found here, at load time, with
// the file and line they are on.
//
// Run is `promtool test rules`: it loads each group's input series into a
// fresh Store (which the caller provides: `watchdog test` gives the
// watchdog's own store), evaluates the rule groups with the rules package's own
// Group.Eval at every evaluation_interval, and checks the firing alerts and
// PromQL results as promtool does, reporting failures in promtool's words.
// Input series may hold native histograms in promtool's notation
// ({{schema:1 sum:10 count:4 buckets:[1 2 1]}}, expanding with +, - and x
// as floats do); they are loaded as float histograms, as promtool loads
// them, and exp_samples compare histogram results with `histogram:` as
// promtool does (by their test notation).
package ruletest

import (
	"fmt"
	"os"
	"time"

	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"
)

// DefaultEvaluationInterval is the evaluation interval of a file that sets
// none (or sets zero), as in promtool.
const DefaultEvaluationInterval = time.Minute

// File is one parsed test file.
type File struct {
	// Path is the file name given to ParseFile or LoadFile.
	Path string `yaml:"-"`
	// RulePatterns are the rule_files entries as written, relative ones
	// joined with the directory of Path.
	RulePatterns []string `yaml:"rule_files"`
	// RuleFiles are the files RulePatterns match, in pattern order.
	RuleFiles []string `yaml:"-"`
	// EvaluationInterval is how often rule groups are evaluated while a test
	// runs; DefaultEvaluationInterval when the file sets none.
	EvaluationInterval time.Duration `yaml:"evaluation_interval"`
	// GroupEvalOrder names rule groups that must be evaluated in this order,
	// before the groups not named.
	GroupEvalOrder []string `yaml:"group_eval_order"`
	// FuzzyCompare lets expected and actual floats differ by one ULP.
	FuzzyCompare bool `yaml:"fuzzy_compare"`
	// Tests are the test groups in file order.
	Tests []TestGroup `yaml:"tests"`
	// Warnings are problems that do not stop a run, such as a rule_files
	// pattern that matches no file (promtool prints these too).
	Warnings []string `yaml:"-"`
}

// TestGroup is one entry of tests: input series and what to expect of them.
type TestGroup struct {
	// Name is the test group name; "" when unnamed (see DisplayName).
	Name string `yaml:"name"`
	// Interval is the step between input series values; the file's
	// EvaluationInterval when the group sets none.
	Interval time.Duration `yaml:"interval"`
	// StartTimestamp is the time of the first input value and of eval_time
	// zero: the Unix epoch unless start_timestamp is set (Unix seconds or
	// RFC 3339, as promtool accepts).
	StartTimestamp time.Time `yaml:"start_timestamp"`
	// InputSeries are the series loaded before the rules run.
	InputSeries []InputSeries `yaml:"input_series"`
	// AlertRuleTests are the alert_rule_test entries.
	AlertRuleTests []AlertTestCase `yaml:"alert_rule_test"`
	// PromQLExprTests are the promql_expr_test entries.
	PromQLExprTests []PromQLTestCase `yaml:"promql_expr_test"`
	// ExternalLabels are available to rule templates as $externalLabels.
	ExternalLabels map[string]string `yaml:"external_labels"`
	// ExternalURL is available to rule templates as $externalURL.
	ExternalURL string `yaml:"external_url"`
	// Line is the line the group starts on.
	Line int `yaml:"-"`
}

// DisplayName is the group's name, or "unnamed#i" (i its index in the file)
// as promtool calls a group without a name.
func (g *TestGroup) DisplayName(i int) string {
	if g.Name != "" {
		return g.Name
	}
	return fmt.Sprintf("unnamed#%d", i)
}

// MaxEvalTime is the latest eval_time of the group's alert and PromQL tests:
// how long, after StartTimestamp, the rules must be evaluated.
func (g *TestGroup) MaxEvalTime() time.Duration {
	var m time.Duration
	for _, a := range g.AlertRuleTests {
		m = max(m, a.EvalTime)
	}
	for _, p := range g.PromQLExprTests {
		m = max(m, p.EvalTime)
	}
	return m
}

// InputSeries is one input series with its values expanded.
type InputSeries struct {
	// Series is the series as written, such as `up{job="api"}`.
	Series string `yaml:"series"`
	// Labels are the parsed labels of Series.
	Labels labels.Labels `yaml:"-"`
	// Values is the value sequence as written, such as "0+10x5 _ stale".
	Values string `yaml:"values"`
	// Samples are the values expanded against the group's Interval and
	// StartTimestamp: omitted values (`_`) are left out, `stale` is the
	// Prometheus stale marker (value.StaleNaN), native histograms have H.
	Samples []Sample `yaml:"-"`
	// Line is the line the entry starts on.
	Line int `yaml:"-"`
}

// Sample is one input value: a float V, or a native histogram H when H is
// not nil.
type Sample struct {
	T int64 // milliseconds since the Unix epoch
	V float64
	H *histogram.FloatHistogram
}

// AlertTestCase is one alert_rule_test entry: the alerts named Alertname
// expected to be firing EvalTime after the group's StartTimestamp.
type AlertTestCase struct {
	EvalTime  time.Duration `yaml:"eval_time"`
	Alertname string        `yaml:"alertname"`
	// ExpAlerts are the expected firing alerts; empty means none may fire.
	ExpAlerts []ExpAlert `yaml:"exp_alerts"`
	Line      int        `yaml:"-"`
}

// ExpAlert is one expected alert. ExpLabels hold the labels the rule adds
// and those of the series it fired for; alertname is implied.
type ExpAlert struct {
	ExpLabels      map[string]string `yaml:"exp_labels"`
	ExpAnnotations map[string]string `yaml:"exp_annotations"`
	Line           int               `yaml:"-"`
}

// PromQLTestCase is one promql_expr_test entry: Expr evaluated EvalTime
// after the group's StartTimestamp must give exactly ExpSamples.
type PromQLTestCase struct {
	Expr       string        `yaml:"expr"`
	EvalTime   time.Duration `yaml:"eval_time"`
	ExpSamples []ExpSample   `yaml:"exp_samples"`
	Line       int           `yaml:"-"`
}

// ExpSample is one expected result sample.
type ExpSample struct {
	// LabelsText is the labels entry as written, such as `up{job="api"}`;
	// "" for a scalar result.
	LabelsText string `yaml:"labels"`
	// Labels are the parsed labels of LabelsText.
	Labels labels.Labels `yaml:"-"`
	Value  float64       `yaml:"value"`
	// Histogram is the expected native histogram (the `histogram` entry,
	// one {{...}} value), nil for a float; as in promtool, Value is still
	// compared (a histogram result's float value is 0).
	Histogram *histogram.FloatHistogram `yaml:"histogram"`
	Line      int                       `yaml:"-"`
}

// LoadFile reads and parses the test file at path. Errors reading the file
// do not wrap ErrInvalid; see ParseFile for the rest.
func LoadFile(path string) (*File, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read test file: %w", err)
	}
	return ParseFile(data, path)
}
