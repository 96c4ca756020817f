package schedule

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

// addSeeds adds every YAML file under testdata as a seed.
func addSeeds(f *testing.F, extra func(data []byte)) {
	f.Helper()
	files, err := filepath.Glob(filepath.Join("testdata", "*", "*.yaml"))
	if err != nil || len(files) == 0 {
		f.Fatalf("no seeds: %v", err)
	}
	for _, name := range files {
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		extra(data)
	}
}

// fuzzLimit keeps single fuzz inputs fast: a schedule of thousands of
// layers is valid but slow to query, which is not what the fuzzers hunt.
const fuzzLimit = 4 << 10

// FuzzValidate checks that decoding and validating arbitrary YAML never
// panics, both as one schedule and as a schedules section, and that a
// schedule that validates can be queried.
func FuzzValidate(f *testing.F) {
	addSeeds(f, func(data []byte) { f.Add(data) })
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > fuzzLimit {
			return
		}
		var c Config
		if yaml.Unmarshal(data, &c) == nil {
			_ = c.Validate()
		}
		var s Schedule
		if yaml.Unmarshal(data, &s) != nil || s.Validate() != nil {
			return
		}
		now := time.Date(2026, 3, 8, 7, 30, 0, 0, time.UTC)
		s.OnCall(now)
		s.NextHandoff(now)
		s.Shifts(now, now.Add(48*time.Hour))
	})
}

// FuzzOnCall checks, for arbitrary schedules and instants, that nothing
// panics and that OnCall, Shifts and NextHandoff agree.
func FuzzOnCall(f *testing.F) {
	addSeeds(f, func(data []byte) {
		f.Add(data, int64(1772953200), uint16(600)) // 2026-03-08 07:00 UTC
		f.Add(data, int64(1793520000), uint16(3000))
		f.Add(data, int64(-1), uint16(0))
	})
	f.Fuzz(func(t *testing.T, data []byte, unix int64, minutes uint16) {
		if len(data) > fuzzLimit {
			return
		}
		var s Schedule
		if yaml.Unmarshal(data, &s) != nil || s.Validate() != nil {
			return
		}
		at := time.Unix(unix, 0)
		if u, ok := s.OnCall(at); ok == (u == "") && ok {
			t.Fatalf("OnCall(%v) = %q, %v", at, u, ok)
		}
		// Large spans are allowed but slow; a few days of minutes suffice.
		to := at.Add(time.Duration(minutes%(8*24*60)) * time.Minute)
		shifts := s.Shifts(at, to)
		for i, sh := range shifts {
			if !sh.Start.Before(sh.End) || (i > 0 && sh.Start.Before(shifts[i-1].End)) {
				t.Fatalf("bad timeline at %d: %v", i, shifts)
			}
			if u, ok := s.OnCall(sh.Start); !ok || u != sh.User {
				t.Fatalf("OnCall(%v) = %q, %v; shift says %q", sh.Start, u, ok, sh.User)
			}
		}
		if len(shifts) > 0 && shifts[0].Start.Equal(at) && shifts[0].End.Before(to) {
			if got := s.NextHandoff(at); !got.Equal(shifts[0].End) {
				t.Fatalf("NextHandoff(%v) = %v, want %v", at, got, shifts[0].End)
			}
		}
	})
}
