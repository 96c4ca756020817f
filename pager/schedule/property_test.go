package schedule

import (
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"testing"
	"time"
)

// TestPropertyOnCallMatchesShifts: for random instants, OnCall(t) is the user
// of the Shift covering t (nobody when no Shift does), and NextHandoff(t) is
// where that Shift ends or the next one starts. The random source is seeded,
// so a failure reproduces.
func TestPropertyOnCallMatchesShifts(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "*", "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var checked int
	for _, name := range files {
		src, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		s, err := decode(string(src))
		if err != nil || s.Validate() != nil {
			continue // bad fixtures
		}
		checked++
		t.Run(name, func(t *testing.T) {
			// The whole of 2026 holds every DST change of both zones.
			from, to := ts(t, "2026-01-01T00:00:00Z"), ts(t, "2027-01-01T00:00:00Z")
			shifts := checkTimeline(t, s, from, to)
			rng := rand.New(rand.NewPCG(1, uint64(len(name))))
			span := to.Sub(from)
			for range 3000 {
				at := from.Add(time.Duration(rng.Int64N(int64(span))))
				if rng.IntN(4) == 0 && len(shifts) > 0 {
					// Hit boundaries exactly, and a nanosecond before them.
					sh := shifts[rng.IntN(len(shifts))]
					at = sh.Start.Add(-time.Duration(rng.IntN(2)))
				}
				i := sort.Search(len(shifts), func(i int) bool { return shifts[i].End.After(at) })
				var want string
				var covered bool
				if i < len(shifts) && !shifts[i].Start.After(at) {
					want, covered = shifts[i].User, true
				}
				if u, ok := s.OnCall(at); u != want || ok != covered {
					t.Fatalf("OnCall(%v) = %q, %v; the Shift covering it says %q, %v", at, u, ok, want, covered)
				}
				var next time.Time
				switch {
				case covered:
					next = shifts[i].End
				case i < len(shifts):
					next = shifts[i].Start
				}
				if next.IsZero() || next.Equal(to) {
					continue // the timeline is clipped there
				}
				if got := s.NextHandoff(at); !got.Equal(next) {
					t.Fatalf("NextHandoff(%v) = %v, want %v", at, got, next)
				}
			}
		})
	}
	if checked < 3 {
		t.Fatalf("only %d good fixtures under testdata", checked)
	}
}
