package pagertest

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// FuzzParseFile checks that no input panics, that every error is a located
// *Error wrapping ErrInvalid, and that accepted files hold what Simulate
// relies on.
func FuzzParseFile(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.test.yml")
	more, _ := filepath.Glob("testdata/bad/*.test.yml")
	if len(files) == 0 {
		f.Fatal("no seeds")
	}
	for _, name := range append(files, more...) {
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte("pager_config: p\ntests:\n  - alerts: [{labels: {a: b}}]\n    actions: [{at: 1m, snooze: a, until: 2m}]"))
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := ParseFile(data, "fuzz.yml")
		if err != nil {
			var e *Error
			if !errors.Is(err, ErrInvalid) || !errors.As(err, &e) {
				t.Fatalf("error is not an *Error wrapping ErrInvalid: %v", err)
			}
			return
		}
		if file.PagerConfig == "" {
			t.Fatal("accepted without pager_config")
		}
		for _, tc := range file.Tests {
			if tc.Until <= 0 || tc.Until > 2*maxOffset+DefaultUntilMargin || len(tc.Alerts) == 0 {
				t.Fatalf("bad test accepted: %+v", tc)
			}
			for _, a := range tc.Alerts {
				if len(a.Labels) == 0 || a.At < 0 || a.ResolveAt != 0 && a.ResolveAt <= a.At {
					t.Fatalf("bad alert accepted: %+v", a)
				}
			}
			for _, a := range tc.Actions {
				if a.Verb == "" || a.By == "" || a.At < 0 || a.Verb == VerbSnooze && a.Until <= a.At || a.Verb == VerbReassign && a.To == "" {
					t.Fatalf("bad action accepted: %+v", a)
				}
			}
			for _, p := range tc.ExpectPages {
				if p.User == "" || p.Method == "" || p.At > tc.Until {
					t.Fatalf("bad page accepted: %+v (until %v)", p, tc.Until)
				}
			}
		}
	})
}
