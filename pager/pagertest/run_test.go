package pagertest

import (
	"context"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files of TestRun")

// TestRun runs the example files through the real pager and compares the
// report with testdata/<name>.golden.
func TestRun(t *testing.T) {
	tests := []struct {
		name     string
		files    []string
		run      string
		wantCode int
	}{
		{"escalation", []string{"escalation.test.yml"}, "", ExitSuccess},
		{"failing", []string{"failing.test.yml"}, "", ExitFailure},
		{"selected", []string{"escalation.test.yml", "failing.test.yml"}, "^ack at", ExitSuccess},
		{"unreadable", []string{"missing.test.yml", "bad/refs.test.yml", "bad/config.test.yml", "escalation.test.yml"}, "", ExitUnreadable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out strings.Builder
			opts := Options{Out: &out}
			if tt.run != "" {
				opts.Run = regexp.MustCompile(tt.run)
			}
			var paths []string
			for _, f := range tt.files {
				paths = append(paths, filepath.Join("testdata", f))
			}
			code := Run(opts, paths...)
			got := out.String()
			if code != tt.wantCode {
				t.Errorf("exit code %d, want %d\n%s", code, tt.wantCode, got)
			}
			golden := filepath.Join("testdata", tt.name+".golden")
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

// TestSimulateRepeatable runs every example test several times: the
// outcome must not depend on goroutine scheduling.
func TestSimulateRepeatable(t *testing.T) {
	f, cfg, err := Load(filepath.Join("testdata", "escalation.test.yml"))
	if err != nil {
		t.Fatal(err)
	}
	for i := range f.Tests {
		tc := &f.Tests[i]
		t.Run(tc.DisplayName(i), func(t *testing.T) {
			for range 5 {
				o, err := Simulate(context.Background(), cfg, tc)
				if err != nil {
					t.Fatal(err)
				}
				if msgs := Check(tc, o); len(msgs) > 0 {
					t.Fatalf("%s", strings.Join(msgs, "\n"))
				}
			}
		})
	}
}
