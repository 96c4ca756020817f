package schedule

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

// decode reads one schedule, refusing unknown fields as the loader will.
func decode(src string) (*Schedule, error) {
	var s Schedule
	dec := yaml.NewDecoder(bytes.NewReader([]byte(src)))
	dec.KnownFields(true)
	if err := dec.Decode(&s); err != nil {
		return nil, err
	}
	return &s, nil
}

// load decodes and validates one schedule, failing the test on any error.
func load(t testing.TB, src string) *Schedule {
	t.Helper()
	s, err := decode(src)
	if err != nil {
		t.Fatalf("decode: %v", err)
	}
	if err := s.Validate(); err != nil {
		t.Fatalf("validate: %v", err)
	}
	return s
}

// ts parses an RFC 3339 instant; every test time names its offset so that
// the expected instant is never in doubt.
func ts(t testing.TB, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatalf("bad test time %q: %v", s, err)
	}
	return v
}

// checkTimeline checks the invariants of Shifts(from, to): ordered, inside
// the range, non-empty, never overlapping, merged, and agreeing with OnCall
// at both ends of every shift.
func checkTimeline(t *testing.T, s *Schedule, from, to time.Time) []Shift {
	t.Helper()
	shifts := s.Shifts(from, to)
	for i, sh := range shifts {
		if !sh.Start.Before(sh.End) {
			t.Fatalf("shift %d %v is empty or reversed", i, sh)
		}
		if sh.Start.Before(from) || sh.End.After(to) {
			t.Fatalf("shift %d %v outside [%v, %v)", i, sh, from, to)
		}
		if i > 0 {
			prev := shifts[i-1]
			if sh.Start.Before(prev.End) {
				t.Fatalf("shifts overlap: %v and %v", prev, sh)
			}
			if sh.Start.Equal(prev.End) && sh.User == prev.User && sh.Layer == prev.Layer && sh.Override == prev.Override {
				t.Fatalf("adjacent shifts not merged: %v and %v", prev, sh)
			}
		}
		for _, at := range []time.Time{sh.Start, sh.End.Add(-time.Nanosecond)} {
			if u, ok := s.OnCall(at); !ok || u != sh.User {
				t.Fatalf("OnCall(%v) = %q, %v; shift says %q", at, u, ok, sh.User)
			}
		}
	}
	return shifts
}

// checkNoGap fails unless shifts cover [from, to) without a hole.
func checkNoGap(t *testing.T, shifts []Shift, from, to time.Time) {
	t.Helper()
	at := from
	for _, sh := range shifts {
		if !sh.Start.Equal(at) {
			t.Fatalf("nobody on call from %v to %v", at, sh.Start)
		}
		at = sh.End
	}
	if !at.Equal(to) {
		t.Fatalf("nobody on call from %v to %v", at, to)
	}
}

// formatShifts renders shifts one a line, in the schedule's zone.
func formatShifts(shifts []Shift) string {
	var b strings.Builder
	for _, sh := range shifts {
		src := "layer " + sh.Layer
		if sh.Override {
			src = "override"
		}
		b.WriteString(sh.Start.Format("Mon 2006-01-02 15:04 MST") + "  ->  " + sh.End.Format("Mon 2006-01-02 15:04 MST"))
		b.WriteString("  " + padLeft(sh.End.Sub(sh.Start).String(), 9) + "  " + sh.User + " (" + src + ")\n")
	}
	return b.String()
}

func padLeft(s string, n int) string {
	if len(s) >= n {
		return s
	}
	return strings.Repeat(" ", n-len(s)) + s
}
