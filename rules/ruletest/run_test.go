package ruletest

import (
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files of TestRun")

// TestRun runs test files through the rules package and compares the report
// with testdata/run/<name>.golden.
func TestRun(t *testing.T) {
	tests := []struct {
		name     string
		files    []string
		run      string
		wantCode int
	}{
		{"pass", []string{"pass.yml"}, "", ExitSuccess},
		{"order", []string{"order.yml"}, "", ExitSuccess},
		{"fail", []string{"fail.yml"}, "^(failures|histograms|)$", ExitFailure},
		{"evalerr", []string{"evalerr.yml"}, "", ExitFailure},
		{"selected", []string{"fail.yml"}, "only this", ExitFailure},
		{"unreadable", []string{"missing.yml", "badrules.yml", "pass.yml"}, "", ExitUnreadable},
		{"mixed", []string{"pass.yml", "evalerr.yml"}, "", ExitFailure},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := Options{Out: &strings.Builder{}, NewStore: NewTSDBStore}
			if tt.run != "" {
				opts.Run = regexp.MustCompile(tt.run)
			}
			var paths []string
			for _, f := range tt.files {
				paths = append(paths, filepath.Join("testdata", "run", f))
			}
			code := Run(opts, paths...)
			got := opts.Out.(*strings.Builder).String()
			if code != tt.wantCode {
				t.Errorf("exit code %d, want %d\n%s", code, tt.wantCode, got)
			}
			golden := filepath.Join("testdata", "run", tt.name+".golden")
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatal(err)
			}
			if got != string(want) {
				t.Errorf("report differs from %s:\n--- got\n%s\n--- want\n%s", golden, got, want)
			}
		})
	}
}

// Without Options.NewStore every test group fails with ErrNoStore; nothing
// panics.
func TestRunWithoutStore(t *testing.T) {
	var out strings.Builder
	code := Run(Options{Out: &out}, filepath.Join("testdata", "run", "pass.yml"))
	if code != ExitFailure || !strings.Contains(out.String(), ErrNoStore.Error()) {
		t.Fatalf("exit %d, report:\n%s\nwant ExitFailure naming %q", code, out.String(), ErrNoStore)
	}
}
