package provimport

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/watchdog-sre/watchdog/pager"
	"github.com/watchdog-sre/watchdog/pager/schedule"
)

// TestRotationLayer: a provider rotation (members taking turns from an
// anchor, the layer on call from start) maps to a layer whose on-call
// matches users[floor((t - anchor) / turn) mod n] (wall clock for turns of
// whole days) at every half hour from start over five weeks, across the
// US DST change.
func TestRotationLayer(t *testing.T) {
	ny, _ := time.LoadLocation("America/New_York")
	abc := []string{"a", "b", "c"}
	for _, tc := range []struct {
		name         string
		r            rotation
		wantRot      schedule.Rotation
		wantStart    string
		wantMembersN int
	}{
		{"daily, start mid-turn", rotation{members: abc, anchor: time.Date(2026, 2, 1, 9, 0, 0, 0, ny), start: time.Date(2026, 2, 20, 15, 0, 0, 0, ny), days: 1}, schedule.RotationDaily, "2026-02-20T09:00", 3},
		{"daily, start before handoff time", rotation{members: abc, anchor: time.Date(2026, 2, 1, 9, 0, 0, 0, ny), start: time.Date(2026, 2, 20, 8, 0, 0, 0, ny), days: 1}, schedule.RotationDaily, "2026-02-19T09:00", 3},
		{"weekly", rotation{members: abc, anchor: time.Date(2026, 1, 7, 10, 30, 0, 0, ny), start: time.Date(2026, 2, 20, 0, 0, 0, 0, ny), days: 7}, schedule.RotationWeekly, "2026-02-18T10:30", 3},
		{"three days", rotation{members: abc, anchor: time.Date(2026, 1, 1, 0, 0, 0, 0, ny), start: time.Date(2026, 2, 20, 0, 0, 0, 0, ny), days: 3}, schedule.RotationDaily, "2026-02-20T00:00", 9},
		{"two weeks", rotation{members: abc, anchor: time.Date(2026, 1, 5, 9, 0, 0, 0, ny), start: time.Date(2026, 2, 20, 0, 0, 0, 0, ny), days: 14}, schedule.RotationWeekly, "2026-02-16T09:00", 6},
		{"anchor after start", rotation{members: abc, anchor: time.Date(2026, 3, 1, 9, 0, 0, 0, ny), start: time.Date(2026, 2, 20, 12, 0, 0, 0, ny), days: 1}, schedule.RotationDaily, "2026-02-20T09:00", 3},
		{"12 hours", rotation{members: abc, anchor: time.Date(2026, 2, 1, 8, 0, 0, 0, ny), start: time.Date(2026, 2, 20, 21, 0, 0, 0, ny), length: 12 * time.Hour}, schedule.RotationCustom, "2026-02-20T20:00:00-05:00", 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l, why, ok := tc.r.layer("l", ny)
			if !ok {
				t.Fatal(why)
			}
			if l.Rotation != tc.wantRot || l.Start != tc.wantStart || len(l.Members) != tc.wantMembersN {
				t.Fatalf("got %s from %s with %v", l.Rotation, l.Start, l.Members)
			}
			s := &schedule.Schedule{Name: "s", TimeZone: "America/New_York", Layers: []schedule.Layer{l}}
			if err := s.Validate(); err != nil {
				t.Fatal(err)
			}
			comparePreview(t, s, tc.r.start, tc.r.start.Add(5*7*24*time.Hour), 30*time.Minute, func(at time.Time) string {
				var k int64
				if tc.r.days > 0 {
					k = floorDivTest(wallSec(at, ny)-wallSec(tc.r.anchor, ny), int64(tc.r.days)*86400)
				} else {
					k = floorDivTest(at.Unix()-tc.r.anchor.Unix(), int64(tc.r.length/time.Second))
				}
				return tc.r.members[floorMod(k, int64(len(tc.r.members)))]
			})
		})
	}
	if _, _, ok := (rotation{members: abc, anchor: time.Now(), length: 30 * time.Minute}).layer("l", ny); ok {
		t.Errorf("30-minute turns accepted")
	}
}

func floorDivTest(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

// TestGoldenLoads: the golden outputs load with the pager's own loader
// (the importers check this too before returning).
func TestGoldenLoads(t *testing.T) {
	for _, name := range []string{"pagerduty.golden.yaml", "opsgenie.golden.yaml"} {
		data, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		cfg, err := pager.ParseConfig(name, data)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if len(cfg.Users) == 0 || len(cfg.Schedules) == 0 || len(cfg.EscalationPolicies) == 0 || len(cfg.Routes) == 0 {
			t.Errorf("%s: %d users, %d schedules, %d policies, %d routes", name, len(cfg.Users), len(cfg.Schedules), len(cfg.EscalationPolicies), len(cfg.Routes))
		}
	}
}

// TestFillGaps: turns of people or things not imported go to the member
// before them, cyclically; nothing left → not ok.
func TestFillGaps(t *testing.T) {
	for _, tc := range []struct {
		in, want []string
		ok       bool
	}{
		{[]string{"a", "", "b", ""}, []string{"a", "a", "b", "b"}, true},
		{[]string{"", "a", "b"}, []string{"b", "a", "b"}, true},
		{[]string{"", "", "a"}, []string{"a", "a", "a"}, true},
		{[]string{"", ""}, nil, false},
	} {
		got, ok := fillGaps(slices.Clone(tc.in))
		if ok != tc.ok || !slices.Equal(got, tc.want) {
			t.Errorf("fillGaps(%q) = %q, %v; want %q, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}
