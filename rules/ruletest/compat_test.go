package ruletest_test

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/watchdog-sre/watchdog/rules/ruletest"
)

// TestCompat runs the files of testdata/compat, each checked by hand
// against `promtool test rules` v0.316.0 (see testdata/compat/VERDICTS.md),
// and asserts Watchdog's exit code. promtool exits 1 for every failure;
// Watchdog exits 2 (ExitUnreadable) where the test or rule file itself is
// invalid, the same verdict: not passed.
//
// For a failing file, want is what the report must contain: the failing
// test group's name ("    name: <group>,") or, for a file that does not
// load, the problem that stops it. notWant names a group that passes and so
// must not be reported.
func TestCompat(t *testing.T) {
	tests := []struct {
		file     string
		wantCode int
		want     string
		notWant  string
	}{
		{file: "pass_alert_for.yml", wantCode: ruletest.ExitSuccess},
		{file: "pass_evaluation_interval.yml", wantCode: ruletest.ExitSuccess},
		{file: "pass_exp_value_yaml.yml", wantCode: ruletest.ExitSuccess},
		{file: "pass_external.yml", wantCode: ruletest.ExitSuccess},
		{file: "pass_fuzzy_compare.yml", wantCode: ruletest.ExitSuccess},
		{file: "pass_glob_group_order.yml", wantCode: ruletest.ExitSuccess},
		{file: "pass_group_order_reversed.yml", wantCode: ruletest.ExitSuccess},
		{file: "pass_keep_firing_for.yml", wantCode: ruletest.ExitSuccess},
		{file: "pass_query_offset_limit.yml", wantCode: ruletest.ExitSuccess},
		{file: "pass_scalar_empty.yml", wantCode: ruletest.ExitSuccess},
		{file: "pass_shared_alertname.yml", wantCode: ruletest.ExitSuccess},
		{file: "pass_stale_resolve.yml", wantCode: ruletest.ExitSuccess},
		{file: "pass_start_timestamp.yml", wantCode: ruletest.ExitSuccess},
		{file: "pass_values_notation.yml", wantCode: ruletest.ExitSuccess},
		{file: "pass_native_histogram.yml", wantCode: ruletest.ExitSuccess},

		{file: "fail_empty_expected.yml", wantCode: ruletest.ExitFailure, want: "name: empty expected,"},
		{file: "fail_external_label.yml", wantCode: ruletest.ExitFailure, want: "name: wrong external label,"},
		{file: "fail_extra_alert.yml", wantCode: ruletest.ExitFailure, want: "name: extra alert,"},
		{file: "fail_limit_exceeded.yml", wantCode: ruletest.ExitFailure, want: "name: limit exceeded,"},
		{file: "fail_missing_alert.yml", wantCode: ruletest.ExitFailure, want: "name: missing alert,"},
		{file: "fail_no_fuzzy_compare.yml", wantCode: ruletest.ExitFailure, want: "name: exact,"},
		{file: "fail_pending_as_firing.yml", wantCode: ruletest.ExitFailure, want: "name: pending counted as firing,"},
		{file: "fail_wrong_annotation.yml", wantCode: ruletest.ExitFailure, want: "name: wrong annotation,"},
		{file: "fail_wrong_labels.yml", wantCode: ruletest.ExitFailure, want: "name: wrong labels,"},
		{file: "fail_wrong_value.yml", wantCode: ruletest.ExitFailure, want: "name: wrong value,", notWant: "name: right value,"},
		{file: "fail_histogram_mismatch.yml", wantCode: ruletest.ExitFailure, want: "name: hint missing,", notWant: "name: right histogram,"},

		// Native rules (series + when): Watchdog only, promtool cannot read
		// them; the verdicts are those of the equivalent PromQL files.
		{file: "pass_native_alert.yml", wantCode: ruletest.ExitSuccess},
		{file: "pass_native_equivalent.yml", wantCode: ruletest.ExitSuccess},
		{file: "fail_native_pending_as_firing.yml", wantCode: ruletest.ExitFailure, want: "name: native pending counted as firing,"},
		{file: "fail_native_bad_when.yml", wantCode: ruletest.ExitUnreadable,
			want: `rules/native_bad.yml:6: group "broken-native", rule 1 ("Broken"): when: line 1 column 11: `},

		// promtool exits 1 for these too.
		{file: "fail_bad_promql.yml", wantCode: ruletest.ExitUnreadable, want: `rules/bad_promql.yml:5: group "broken"`},
		{file: "fail_exp_value_string.yml", wantCode: ruletest.ExitUnreadable, want: `expected a number, got "Inf"`},
		{file: "fail_unknown_key.yml", wantCode: ruletest.ExitUnreadable, want: `unknown key "alert_rule_tests"`},
	}
	seen := map[string]bool{}
	for _, tt := range tests {
		seen[tt.file] = true
		t.Run(strings.TrimSuffix(tt.file, ".yml"), func(t *testing.T) {
			var buf strings.Builder
			code := ruletest.Run(ruletest.Options{Out: &buf, NewStore: ruletest.NewTSDBStore}, filepath.Join("testdata", "compat", tt.file))
			out := buf.String()
			if code != tt.wantCode {
				t.Fatalf("exit code %d, want %d\n%s", code, tt.wantCode, out)
			}
			if tt.want != "" && !strings.Contains(out, tt.want) {
				t.Errorf("report does not contain %q:\n%s", tt.want, out)
			}
			if tt.notWant != "" && strings.Contains(out, tt.notWant) {
				t.Errorf("report contains %q:\n%s", tt.notWant, out)
			}
		})
	}

	// Every test file of testdata/compat is in the table.
	files, err := filepath.Glob(filepath.Join("testdata", "compat", "*.yml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if !seen[filepath.Base(f)] {
			t.Errorf("%s has no entry in TestCompat", f)
		}
	}
}

// TestCompatExpValueIsYAMLNumber is the regression test for exp_samples
// values written as strings: promtool's YAML decoding rejects them
// ("cannot unmarshal !!str `Inf` into float64"), so a test using them
// must not pass.
func TestCompatExpValueIsYAMLNumber(t *testing.T) {
	tests := []struct {
		value string
		ok    bool
	}{
		{"16", true},
		{"1e3", true},
		{".inf", true},
		{"-.inf", true},
		{".nan", true},
		{"Inf", false},
		{"-Inf", false},
		{"NaN", false},
		{"infinity", false},
		{"'16'", false},
		{`"16"`, false},
	}
	for _, tt := range tests {
		t.Run(tt.value, func(t *testing.T) {
			doc := "tests:\n  - input_series: [{series: x, values: '16'}]\n" +
				"    promql_expr_test:\n      - expr: x\n        eval_time: 0m\n" +
				"        exp_samples:\n          - labels: x\n            value: " + tt.value + "\n"
			_, err := ruletest.ParseFile([]byte(doc), "value.yml")
			if tt.ok && err != nil {
				t.Fatalf("value %s: %v", tt.value, err)
			}
			if !tt.ok && !errors.Is(err, ruletest.ErrInvalid) {
				t.Fatalf("value %s: err %v, want ErrInvalid", tt.value, err)
			}
		})
	}
}
