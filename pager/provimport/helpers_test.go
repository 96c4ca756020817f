package provimport

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/watchdog-sre/watchdog/pager/schedule"
)

var update = flag.Bool("update", false, "rewrite golden files")

// importNow is the time of the test imports.
var importNow = time.Date(2026, 2, 20, 0, 0, 0, 0, time.UTC)

func readExport(t *testing.T, dir string) []File {
	t.Helper()
	files, err := ReadFiles([]string{filepath.Join("testdata", dir)})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update)", err)
	}
	if string(got) != string(want) {
		t.Errorf("%s differs (run with -update to accept):\n%s", name, got)
	}
}

// scheduleOf returns the validated schedule called name of res.
func scheduleOf(t *testing.T, res *Result, name string) *schedule.Schedule {
	t.Helper()
	for _, s := range res.Config.Schedules {
		if s.Name == name {
			return s
		}
	}
	t.Fatalf("no schedule %q", name)
	return nil
}

// wallSec is t's wall clock in loc as seconds (a clock without DST).
func wallSec(t time.Time, loc *time.Location) int64 {
	w := t.In(loc)
	return time.Date(w.Year(), w.Month(), w.Day(), w.Hour(), w.Minute(), w.Second(), 0, time.UTC).Unix()
}

// comparePreview samples the schedule every step over [from, to) and
// compares it with want, which computes the provider's answer.
func comparePreview(t *testing.T, s *schedule.Schedule, from, to time.Time, step time.Duration, want func(time.Time) string) {
	t.Helper()
	bad := 0
	for at := from; at.Before(to); at = at.Add(step) {
		got, _ := s.OnCall(at)
		if w := want(at); got != w {
			if bad++; bad <= 10 {
				t.Errorf("%s at %s: imported schedule has %q on call, the provider's rules %q", s.Name, at.Format(time.RFC3339), got, w)
			}
		}
	}
	// The preview (Shifts) must agree with OnCall.
	for _, sh := range s.Shifts(from, to) {
		if w := want(sh.Start); sh.User != w {
			t.Errorf("%s: shift %s–%s of %q, the provider's rules %q", s.Name, sh.Start, sh.End, sh.User, w)
		}
	}
}

func floorMod(a, b int64) int64 { return ((a % b) + b) % b }

func sprint(v any) string { return fmt.Sprint(v) }
