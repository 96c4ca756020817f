package ruletest

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/value"
)

func TestParseBad(t *testing.T) {
	tests := []struct {
		file string
		// want are the errors expected, each "line: path: message part",
		// in order; every error returned must be listed.
		want []string
	}{
		{"unknown_key", []string{`4: tests[0]: unknown key "intervall"`}},
		{"bad_duration", []string{`5: tests[0].alert_rule_test[0].eval_time: invalid duration "5 minutes"`}},
		{"bad_values", []string{`6: tests[0].input_series[1].values: invalid values: at character 5: unexpected "x"`}},
		{"bad_series", []string{`3: tests[0].input_series[0].series: invalid series "up{job=\"a\""`}},
		{"missing_alertname", []string{`3: tests[0].alert_rule_test[0]: missing required alertname`}},
		{"bad_start_timestamp", []string{`2: tests[0].start_timestamp: cannot parse "yesterday" as Unix seconds or an RFC 3339 time`}},
		{"duplicate_key", []string{`3: duplicate key "evaluation_interval" (first at line 1)`}},
		{"group_order_repeat", []string{`4: group_eval_order[2]: group name repeated in evaluation order: a`}},
		{"bad_exp_labels", []string{`5: tests[0].promql_expr_test[0].exp_samples[0].labels: invalid labels "up{job=}"`}},
		{"huge_expansion", []string{`4: tests[0].input_series[0].values: values expand to too many samples`}},
		{"multi_doc", []string{`2: a test file holds one YAML document, found another`}},
		{"invalid_yaml", []string{`2: found unexpected end of stream`}},
		{"wrong_type", []string{`2: tests: expected a list, got a map`}},
		{"missing_expr", []string{`3: tests[0].promql_expr_test[0]: missing required expr`}},
		{"bad_value", []string{`6: tests[0].promql_expr_test[0].exp_samples[0].value: expected a number, got "one"`}},
		{"duplicate_series", []string{`5: tests[0].input_series[1].series: series {__name__="up", job="a"} repeated (first at line 3)`}},
		{"bad_glob", []string{`3: rule_files[1]: invalid pattern "rules/[.yml": syntax error in pattern`}},
		{"empty_entry", []string{`3: tests[0].input_series[0]: empty entry`}},
		{"missing_series", []string{`3: tests[0].input_series[0]: missing required series`}},
		{"bad_fuzzy", []string{`1: fuzzy_compare: expected true or false, got "maybe"`}},
		{"bad_histogram", []string{
			`8: tests[0].promql_expr_test[0].exp_samples[0].histogram: invalid histogram "1": expected one {{...}} value`,
			`10: tests[0].promql_expr_test[0].exp_samples[1].histogram: invalid histogram "{{count:1}}x2": expected one {{...}} value`,
			`12: tests[0].promql_expr_test[0].exp_samples[2].histogram: invalid histogram "{{count:1}}x100000000": expands to too many samples`,
		}},
		{"bad_histogram_values", []string{
			`4: tests[0].input_series[0].values: invalid values: at character 20: `,
			`6: tests[0].input_series[1].values: values expand to too many samples`,
		}},
		{"exp_labels_list", []string{`6: tests[0].alert_rule_test[0].exp_alerts[0].exp_labels: expected a map, got a list`}},
		{"many_errors", []string{
			`1: evaluation_interval: invalid duration "often"`,
			`4: tests[0].interval: invalid duration "1x"`,
			`10: tests[1].alert_rule_test[0]: missing required alertname`,
			`11: tests[1]: unknown key "nope"`,
		}},
	}
	seen := map[string]bool{}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			path := filepath.Join("testdata", "bad", tt.file+".bad.yaml")
			seen[path] = true
			f, err := LoadFile(path)
			if err == nil {
				t.Fatalf("LoadFile(%s) = %+v, want an error", path, f)
			}
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("error %v does not wrap ErrInvalid", err)
			}
			got := strings.Split(err.Error(), "\n")
			if len(got) != len(tt.want) {
				t.Fatalf("got %d errors, want %d:\n%v", len(got), len(tt.want), err)
			}
			for i, w := range tt.want {
				if want := path + ":" + w; !strings.HasPrefix(got[i], strings.TrimSuffix(want, " ")) {
					t.Errorf("error %d:\n got %s\nwant %s...", i, got[i], want)
				}
			}
		})
	}
	// Every fixture is in the table.
	files, _ := filepath.Glob("testdata/bad/*.bad.yaml")
	for _, f := range files {
		if !seen[f] {
			t.Errorf("fixture %s is not tested", f)
		}
	}
}

// The file-level errors have no path; their format drops it cleanly.
func TestErrorFormat(t *testing.T) {
	tests := []struct {
		e    Error
		want string
	}{
		{Error{File: "a.yml", Line: 3, Path: "tests[0].name", Msg: "bad"}, "a.yml:3: tests[0].name: bad"},
		{Error{File: "a.yml", Line: 3, Msg: "bad"}, "a.yml:3: bad"},
		{Error{File: "a.yml", Msg: "bad"}, "a.yml: bad"},
		{Error{Msg: "bad"}, "bad"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			if got := tt.e.Error(); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestParseFull(t *testing.T) {
	path := filepath.Join("testdata", "good", "full.good.yaml")
	f, err := LoadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{filepath.Join("testdata", "rules", "login.yml")}; !equalStrings(f.RuleFiles, want) {
		t.Errorf("RuleFiles = %q, want %q", f.RuleFiles, want)
	}
	if f.EvaluationInterval != 30*time.Second || !f.FuzzyCompare || !equalStrings(f.GroupEvalOrder, []string{"login"}) {
		t.Errorf("file settings: %+v", f)
	}
	if len(f.Tests) != 2 {
		t.Fatalf("got %d tests, want 2", len(f.Tests))
	}

	g := f.Tests[0]
	start := time.Unix(1700000000, 0).UTC()
	if g.Name != "login errors page" || g.Interval != time.Minute || !g.StartTimestamp.Equal(start) || g.Line != 8 {
		t.Errorf("group 0: %+v", g)
	}
	if g.ExternalLabels["region"] != "eu-1" || g.ExternalURL != "https://watchdog.example.com" {
		t.Errorf("external: %v %q", g.ExternalLabels, g.ExternalURL)
	}
	if g.MaxEvalTime() != 5*time.Minute {
		t.Errorf("MaxEvalTime = %v", g.MaxEvalTime())
	}

	s := g.InputSeries[0]
	if want := labels.FromStrings("__name__", "login_errors_total", "job", "shop", "instance", "a:80"); !labels.Equal(s.Labels, want) {
		t.Errorf("labels = %v, want %v", s.Labels, want)
	}
	// '0+60x10 _ stale 1 _x2 Inf -Inf NaN': 11 values, a gap, stale at
	// index 12, 1 at 13, two gaps, then Inf, -Inf and NaN at 16, 17, 18.
	ms := start.UnixMilli()
	min := time.Minute.Milliseconds()
	if len(s.Samples) != 16 {
		t.Fatalf("got %d samples, want 16: %v", len(s.Samples), s.Samples)
	}
	for i := range 11 {
		if want := (Sample{T: ms + int64(i)*min, V: float64(60 * i)}); s.Samples[i] != want {
			t.Errorf("sample %d = %v, want %v", i, s.Samples[i], want)
		}
	}
	checks := []struct {
		i     int
		index int64
		check func(float64) bool
	}{
		{11, 12, value.IsStaleNaN},
		{12, 13, func(v float64) bool { return v == 1 }},
		{13, 16, func(v float64) bool { return math.IsInf(v, 1) }},
		{14, 17, func(v float64) bool { return math.IsInf(v, -1) }},
		{15, 18, func(v float64) bool { return math.IsNaN(v) && !value.IsStaleNaN(v) }},
	}
	for _, c := range checks {
		got := s.Samples[c.i]
		if got.T != ms+c.index*min || !c.check(got.V) {
			t.Errorf("sample %d = %v (offset %d steps)", c.i, got, (got.T-ms)/min)
		}
	}
	if n := len(g.InputSeries[1].Samples); n != 4 {
		t.Errorf("1x3 expanded to %d samples, want 4", n)
	}

	a := g.AlertRuleTests[0]
	if a.Alertname != "LoginErrorsUp" || a.EvalTime != 5*time.Minute || len(a.ExpAlerts) != 1 ||
		a.ExpAlerts[0].ExpLabels["severity"] != "page" || a.ExpAlerts[0].ExpAnnotations["summary"] != "shop login errors at 1/s" {
		t.Errorf("alert test: %+v", a)
	}
	if b := g.AlertRuleTests[1]; len(b.ExpAlerts) != 0 || b.EvalTime != time.Minute {
		t.Errorf("alert test with no alerts: %+v", b)
	}
	p := g.PromQLExprTests[0]
	if p.Expr != "job:login_errors:rate5m" || p.EvalTime != 5*time.Minute || len(p.ExpSamples) != 1 ||
		!labels.Equal(p.ExpSamples[0].Labels, labels.FromStrings("__name__", "job:login_errors:rate5m", "job", "shop")) ||
		p.ExpSamples[0].Value != 1 {
		t.Errorf("promql test: %+v", p)
	}
	if sc := g.PromQLExprTests[1].ExpSamples[0]; !sc.Labels.IsEmpty() || !math.IsInf(sc.Value, 1) {
		t.Errorf("scalar sample: %+v", sc)
	}

	g1 := f.Tests[1]
	if g1.DisplayName(1) != "unnamed#1" || g1.Interval != 30*time.Second {
		t.Errorf("group 1: name %q interval %v", g1.DisplayName(1), g1.Interval)
	}
	if want := time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC); !g1.StartTimestamp.Equal(want) {
		t.Errorf("RFC 3339 start = %v, want %v", g1.StartTimestamp, want)
	}
	if got := g1.InputSeries[0].Samples; len(got) != 2 || got[1].T != want(t, "2026-11-24T12:00:30Z") {
		t.Errorf("samples = %v", got)
	}
}

func want(t *testing.T, s string) int64 {
	t.Helper()
	tm, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatal(err)
	}
	return tm.UnixMilli()
}

func TestParseGoodFixtures(t *testing.T) {
	tests := []struct {
		file   string
		groups int
		check  func(t *testing.T, f *File)
	}{
		{"empty", 0, func(t *testing.T, f *File) {
			if f.EvaluationInterval != DefaultEvaluationInterval {
				t.Errorf("default interval = %v", f.EvaluationInterval)
			}
		}},
		{"anchors", 2, func(t *testing.T, f *File) {
			d := f.Tests[1]
			if d.Name != "derived" || d.Interval != 15*time.Second || len(d.InputSeries) != 1 || len(d.PromQLExprTests) != 1 {
				t.Errorf("merged group: %+v", d)
			}
			if s := d.InputSeries[0].Samples; len(s) != 3 || s[2].T != 30000 {
				t.Errorf("merged series samples: %v", s)
			}
		}},
		{"histogram", 2, func(t *testing.T, f *File) {
			s := f.Tests[0].InputSeries[0].Samples
			if len(s) != 4 {
				t.Fatalf("got %d samples, want 4: %v", len(s), s)
			}
			for i, smp := range s {
				if smp.H == nil || smp.T != int64(i)*60000 {
					t.Fatalf("sample %d = %+v, want a histogram at %dm", i, smp, i)
				}
			}
			if got, want := s[3].H.TestExpression(), "{{count:7 sum:8 buckets:[1 5 1]}}"; got != want {
				t.Errorf("4th histogram = %s, want %s", got, want)
			}
			exp := f.Tests[0].PromQLExprTests[0].ExpSamples[0]
			if exp.Histogram == nil || exp.Histogram.TestExpression() != "{{count:4}}" {
				t.Errorf("expected sample = %+v", exp)
			}
			if s := f.Tests[1].InputSeries[0].Samples; len(s) != 1 || s[0].H != nil || s[0].V != 1 {
				t.Errorf("plain group samples = %v", s)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			f, err := LoadFile(filepath.Join("testdata", "good", tt.file+".good.yaml"))
			if err != nil {
				t.Fatal(err)
			}
			if len(f.Tests) != tt.groups {
				t.Fatalf("got %d groups, want %d", len(f.Tests), tt.groups)
			}
			tt.check(t, f)
		})
	}
}

func TestRuleFilesResolution(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"b.yml", "a.yml", "other.txt"} {
		if err := os.WriteFile(filepath.Join(dir, name), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	abs := filepath.Join(dir, "other.txt")
	data := []byte("rule_files: ['*.yml', '" + abs + "', 'missing/*.yml']\n")
	f, err := ParseFile(data, filepath.Join(dir, "test.yml"))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{filepath.Join(dir, "a.yml"), filepath.Join(dir, "b.yml"), abs}
	if !equalStrings(f.RuleFiles, want) {
		t.Errorf("RuleFiles = %q, want %q", f.RuleFiles, want)
	}
	if len(f.Warnings) != 1 || !strings.Contains(f.Warnings[0], "missing/*.yml") {
		t.Errorf("Warnings = %q", f.Warnings)
	}
}

func TestLoadFileMissing(t *testing.T) {
	_, err := LoadFile(filepath.Join(t.TempDir(), "nope.yml"))
	if err == nil || errors.Is(err, ErrInvalid) || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("err = %v, want a not-exist error that is not ErrInvalid", err)
	}
}

func TestExpansionBound(t *testing.T) {
	tests := []struct {
		values string
		want   int // actual expansion, which the bound must not undercut
	}{
		{"", 0},
		{"1 2 3", 3},
		{"0+1x10", 11},
		{"_x5 1x2", 8},
		{"0x10", 11},
		{"1 _ stale  2", 4},
		{"{{schema:0 sum:1 count:1}}x4", 5},
		{"{{schema:0 sum:1 count:1 buckets:[1 2 3]}}+{{buckets:[1 1 1]}}x3 _ stale", 6},
	}
	for _, tt := range tests {
		t.Run(tt.values, func(t *testing.T) {
			_, seq, err := seriesParser.ParseSeriesDesc(valuesPrefix + tt.values)
			if err != nil {
				t.Fatal(err)
			}
			if len(seq) != tt.want {
				t.Fatalf("parser expanded to %d, table says %d", len(seq), tt.want)
			}
			// Histograms weigh more than floats: the bound is in floats.
			w := histogramWeight(tt.values)
			if b := expansionBound(tt.values); b < uint64(tt.want)*w || b > (uint64(tt.want)+8)*w {
				t.Errorf("bound %d for %d values", b, tt.want)
			}
		})
	}
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
