package ruletest

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// FuzzParseFile checks that bad input never panics, that every error is a
// located *Error wrapping ErrInvalid, and that accepted files hold what a
// runner relies on.
func FuzzParseFile(f *testing.F) {
	files, _ := filepath.Glob("testdata/*/*.yaml")
	more, _ := filepath.Glob("testdata/run/*.yml")
	files = append(files, more...)
	if len(files) == 0 {
		f.Fatal("no seeds")
	}
	for _, name := range files {
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	noGlob := func(p string) ([]string, error) { return []string{p}, nil }
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := parseFile(data, "fuzz.yaml", noGlob)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error does not wrap ErrInvalid: %v", err)
			}
			return
		}
		if file.EvaluationInterval <= 0 {
			t.Fatalf("evaluation interval %v", file.EvaluationInterval)
		}
		total := 0
		for _, g := range file.Tests {
			if g.Interval <= 0 {
				t.Fatalf("interval %v", g.Interval)
			}
			for _, s := range g.InputSeries {
				if s.Labels.IsEmpty() {
					t.Fatalf("series %q without labels accepted", s.Series)
				}
				for i := 1; i < len(s.Samples); i++ {
					if s.Samples[i].T <= s.Samples[i-1].T {
						t.Fatalf("samples out of order: %v", s.Samples)
					}
				}
				total += len(s.Samples)
			}
			for _, a := range g.AlertRuleTests {
				if a.Alertname == "" || a.EvalTime < 0 {
					t.Fatalf("bad alert test accepted: %+v", a)
				}
			}
		}
		if total > maxFileSamples {
			t.Fatalf("%d samples accepted", total)
		}
	})
}
