package ui

import (
	"testing"
	"time"

	"github.com/watchdog-sre/watchdog/pager"
)

// TestUptimeBars checks the 90-day bars against a hand-computed fixture:
// overlapping incidents count once, an incident across midnight splits
// between its days, one older than the span only counts inside it, the
// open one runs to now, and a major one makes its day a major outage.
func TestUptimeBars(t *testing.T) {
	now := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC) // day 90 is 2026-03-02 (10 h so far)
	ts := func(s string) time.Time {
		tm, err := time.Parse("2006-01-02 15:04:05", s)
		if err != nil {
			t.Fatal(err)
		}
		return tm
	}
	resolved := func(id, from, to string, major bool) pager.IncidentState {
		return pager.IncidentState{ID: id, Route: "pages", Status: pager.StatusResolved, Major: major, CreatedAt: ts(from), ResolvedAt: ts(to)}
	}
	incidents := []pager.IncidentState{
		{ID: "open", Route: "pages", Status: pager.StatusTriggered, CreatedAt: ts("2026-03-02 09:59:25")}, // 35s until now
		resolved("overlap-a", "2026-02-20 03:25:55", "2026-02-20 03:27:15", false),                        // 80s …
		resolved("overlap-b", "2026-02-20 03:26:15", "2026-02-20 03:26:50", true),                         // … inside it: still 80s, major
		resolved("midnight", "2026-02-10 23:59:00", "2026-02-11 00:02:30", false),                         // 60s + 150s
		resolved("before-span", "2025-12-02 23:00:00", "2025-12-03 00:10:00", false),                      // only 10m on the first day
		resolved("ancient", "2025-11-01 00:00:00", "2025-11-01 01:00:00", true),                           // outside the span
		{ID: "other", Route: "elsewhere", Status: pager.StatusResolved, CreatedAt: ts("2026-02-20 00:00:00"), ResolvedAt: ts("2026-02-21 00:00:00")},
	}
	c := statusComponent{name: "Checkout", routes: []string{"pages"}}
	u := computeUptime(&c, incidents, now)
	if len(u.Days) != 90 || u.Days[0].Date != "2025-12-03" || u.Days[89].Date != "2026-03-02" {
		t.Fatalf("%d days from %s to %s", len(u.Days), u.Days[0].Date, u.Days[len(u.Days)-1].Date)
	}
	want := map[string]struct {
		down  int64
		state string
		text  string
	}{
		"2025-12-03": {600, StateDegraded, "10m 0s"},
		"2026-02-10": {60, StateDegraded, "1m 0s"},
		"2026-02-11": {150, StateDegraded, "2m 30s"},
		"2026-02-20": {80, StateMajorOutage, "1m 20s"},
		"2026-03-02": {35, StateDegraded, "35s"},
	}
	var total int64
	for _, d := range u.Days {
		w, ok := want[d.Date]
		if !ok {
			w.state = StateOperational
			w.text = "0s"
		}
		if d.DownSeconds != w.down || d.State != w.state || d.Down != w.text {
			t.Errorf("%s: %ds %s %q, want %ds %s %q", d.Date, d.DownSeconds, d.State, d.Down, w.down, w.state, w.text)
		}
		total += d.DownSeconds
	}
	// Span: 89 full days + 10 h = 7725600 s; down 925 s;
	// (7725600-925)/7725600 = 99.98802…% → "99.98%".
	if total != 925 || u.Percent != "99.98%" {
		t.Errorf("down %ds, uptime %s; want 925s, 99.98%%", total, u.Percent)
	}
	if q := computeUptime(&c, nil, now); q.Percent != "100.00%" {
		t.Errorf("no incidents: %s", q.Percent)
	}
	// One second down is never shown as 100%.
	one := []pager.IncidentState{resolved("x", "2026-03-01 00:00:00", "2026-03-01 00:00:01", false)}
	if q := computeUptime(&c, one, now); q.Percent != "99.99%" {
		t.Errorf("one second down: %s", q.Percent)
	}
}
