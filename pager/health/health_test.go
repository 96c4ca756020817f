package health

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/watchdog-sre/watchdog/pager"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden.json")

// fixtureConfig: anna in Berlin (default waking hours 08:00-22:00, CET
// until 2026-03-29 01:00 UTC, then CEST), bob in New York (07:00-23:00,
// EST until 2026-03-08 07:00 UTC, then EDT), carl without a zone (UTC,
// 08:00-22:00).
const fixtureConfig = `pager:
  users:
    - {name: anna, time_zone: Europe/Berlin, contact: {push: a}}
    - {name: bob, time_zone: America/New_York, waking_hours: "07:00-23:00", contact: {push: b}}
    - {name: carl, contact: {push: c}}
`

func ts(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

func notify(at, user string, level int) pager.TimelineEntry {
	return pager.TimelineEntry{At: ts(at), Kind: pager.EntryNotify, By: pager.BySystem, User: user, Level: level}
}

func entry(at, kind, by string) pager.TimelineEntry {
	return pager.TimelineEntry{At: ts(at), Kind: kind, By: by}
}

func inc(id, route, created, resolved, resolvedBy string, tl ...pager.TimelineEntry) Incident {
	st := pager.IncidentState{ID: id, Route: route, CreatedAt: ts(created), Status: pager.StatusTriggered}
	if resolved != "" {
		st.Status, st.ResolvedAt, st.ResolvedBy = pager.StatusResolved, ts(resolved), resolvedBy
	}
	return Incident{State: st, Timeline: tl}
}

// fixture: the window is 30 days ending 2026-04-01T00:00Z, so it starts
// 2026-03-02T00:00Z.
var fixtureNow = ts("2026-04-01T00:00:00Z")

func fixture() []Incident {
	return []Incident{
		// inc-1 (db): bob paged 06:30Z = 01:30 EST (asleep), escalated to
		// level 2 at 06:45Z paging anna = 07:45 CET (asleep, wakes 08:00);
		// anna acks at +20m, notes, resolves at +80m. Not noise (a note).
		inc("inc-1", "db", "2026-03-08T06:30:00Z", "2026-03-08T07:50:00Z", "anna",
			notify("2026-03-08T06:30:00Z", "bob", 0),
			pager.TimelineEntry{At: ts("2026-03-08T06:45:00Z"), Kind: pager.EntryEscalated, By: pager.BySystem, Level: 1},
			notify("2026-03-08T06:45:00Z", "anna", 1),
			entry("2026-03-08T06:50:00Z", pager.EntryAck, "anna"),
			entry("2026-03-08T07:00:00Z", pager.EntryNote, "anna"),
			entry("2026-03-08T07:50:00Z", pager.EntryResolved, "anna")),
		// inc-2 (db): half an hour after New York moved to EDT: bob paged
		// 07:30Z = 03:30 EDT (asleep; it would be 02:30 EST without DST),
		// acks at +2m, the alerts resolve it at +10m: noise (auto-resolved).
		inc("inc-2", "db", "2026-03-08T07:30:00Z", "2026-03-08T07:40:00Z", pager.ByAlerts,
			notify("2026-03-08T07:30:00Z", "bob", 0),
			entry("2026-03-08T07:32:00Z", pager.EntryAck, "bob"),
			entry("2026-03-08T07:40:00Z", pager.EntryResolved, pager.ByAlerts)),
		// inc-3 (web): across Berlin's switch at 01:00Z. anna paged 00:30Z
		// = 01:30 CET and again 01:30Z = 03:30 CEST (both asleep), acks
		// 01:35Z (2h05m after creation), resolves 3 minutes later with no
		// note: noise (resolved within 5m of the ack). TTR 2h08m.
		inc("inc-3", "web", "2026-03-28T23:30:00Z", "2026-03-29T01:38:00Z", "anna",
			notify("2026-03-29T00:30:00Z", "anna", 0),
			notify("2026-03-29T01:30:00Z", "anna", 0),
			entry("2026-03-29T01:35:00Z", pager.EntryAck, "anna"),
			entry("2026-03-29T01:38:00Z", pager.EntryResolved, "anna")),
		// inc-4 (web): 06:00Z = 08:00 CEST for anna (awake; 07:00 CET
		// would be asleep) and 06:00 UTC for carl (asleep). carl acks at
		// +10m, reassigns to anna (an action: not noise), anna resolves at
		// +60m.
		inc("inc-4", "web", "2026-03-29T06:00:00Z", "2026-03-29T07:00:00Z", "anna",
			notify("2026-03-29T06:00:00Z", "anna", 0),
			notify("2026-03-29T06:00:00Z", "carl", 0),
			entry("2026-03-29T06:10:00Z", pager.EntryAck, "carl"),
			pager.TimelineEntry{At: ts("2026-03-29T06:20:00Z"), Kind: pager.EntryReassign, By: "carl", User: "anna"},
			entry("2026-03-29T07:00:00Z", pager.EntryResolved, "anna")),
		// inc-5 (web): still open; bob paged 20:00Z = 16:00 EDT (awake).
		inc("inc-5", "web", "2026-03-31T20:00:00Z", "", "",
			notify("2026-03-31T20:00:00Z", "bob", 0)),
		// inc-6 before the window and inc-7 at its (exclusive) end: ignored.
		inc("inc-6", "db", "2026-03-01T23:59:59Z", "2026-03-02T00:30:00Z", "carl",
			notify("2026-03-02T00:00:00Z", "carl", 0)),
		inc("inc-7", "db", "2026-04-01T00:00:00Z", "", "",
			notify("2026-04-01T00:00:00Z", "carl", 0)),
	}
}

func fixtureClock(t *testing.T) Clock {
	t.Helper()
	c, err := pager.ParseConfig("fixture.yaml", []byte(fixtureConfig))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func m(n int) time.Duration { return time.Duration(n) * time.Minute }

func hours(h ...int) [24]int {
	var out [24]int
	for _, x := range h {
		out[x]++
	}
	return out
}

// TestFixture checks every figure against values worked out by hand from
// the fixture above.
func TestFixture(t *testing.T) {
	r, err := Compute(fixture(), fixtureClock(t), Options{Now: fixtureNow})
	if err != nil {
		t.Fatal(err)
	}
	want := Report{
		From: ts("2026-03-02T00:00:00Z"), To: fixtureNow, NoiseWithin: 300,
		Routes: []*Group{
			// web: inc-3, 4, 5. Pages: anna 01 CET, anna 03 CEST, anna 08
			// CEST, carl 06 UTC, bob 16 EDT; off hours: all but anna 08 and
			// bob 16. TTA [10m, 2h05m]; TTR [60m, 2h08m] (inc-5 open).
			// Noise: inc-3.
			{Name: "web", Incidents: 3, Pages: 5, PagesByHour: hours(1, 3, 6, 8, 16), OffHours: 3,
				TimeToAck:     Durations{2, m(10), m(125)},
				TimeToResolve: Durations{2, m(60), m(128)}, Noise: 1},
			// db: inc-1, 2. Pages: bob 01 EST, anna 07 CET, bob 03 EDT, all
			// asleep. TTA [2m, 20m]; TTR [10m, 80m]: with two values the
			// nearest-rank median is the lower, the p90 the upper.
			{Name: "db", Incidents: 2, Pages: 3, PagesByHour: hours(1, 3, 7), OffHours: 3,
				TimeToAck:     Durations{2, m(2), m(20)},
				TimeToResolve: Durations{2, m(10), m(80)}, Escalated: 1, Noise: 1},
		},
		People: []*Group{
			// anna: inc-1, 3, 4; pages at 07 CET, 01 CET, 03 CEST (asleep)
			// and 08 CEST (awake). First acks of inc-1 (20m) and inc-3
			// (2h05m). TTR [60m, 80m, 2h08m]: median rank ceil(1.5)=2,
			// p90 rank ceil(2.7)=3.
			{Name: "anna", TimeZone: "Europe/Berlin", Incidents: 3, Pages: 4, PagesByHour: hours(1, 3, 7, 8), OffHours: 3,
				TimeToAck:     Durations{2, m(20), m(125)},
				TimeToResolve: Durations{3, m(80), m(128)}, Escalated: 1, Noise: 1},
			// bob: inc-1, 2, 5; pages 01 EST, 03 EDT (asleep), 16 EDT.
			{Name: "bob", TimeZone: "America/New_York", Incidents: 3, Pages: 3, PagesByHour: hours(1, 3, 16), OffHours: 2,
				TimeToAck:     Durations{1, m(2), m(2)},
				TimeToResolve: Durations{2, m(10), m(80)}, Escalated: 1, Noise: 1},
			// carl: inc-4 only (inc-6, inc-7 are outside the window).
			{Name: "carl", TimeZone: "UTC", Incidents: 1, Pages: 1, PagesByHour: hours(6), OffHours: 1,
				TimeToAck:     Durations{1, m(10), m(10)},
				TimeToResolve: Durations{1, m(60), m(60)}},
		},
	}
	compare(t, r, &want)

	got, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "fixture.golden.json")
	if *update {
		if err := os.WriteFile(golden, append(got, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	wantJSON, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(append(got, '\n'), wantJSON) {
		t.Errorf("JSON differs from %s (go test -update to rewrite):\n%s", golden, got)
	}
}

func compare(t *testing.T, got, want *Report) {
	t.Helper()
	if !got.From.Equal(want.From) || !got.To.Equal(want.To) || got.NoiseWithin != want.NoiseWithin {
		t.Errorf("window %v–%v noise %v, want %v–%v %v", got.From, got.To, got.NoiseWithin, want.From, want.To, want.NoiseWithin)
	}
	groups := func(kind string, g, w []*Group) {
		if len(g) != len(w) {
			t.Errorf("%s: %d groups, want %d", kind, len(g), len(w))
			return
		}
		for i := range w {
			a, b := *g[i], *w[i]
			if !reflect.DeepEqual(a, b) {
				t.Errorf("%s[%d]:\n got %+v\nwant %+v", kind, i, a, b)
			}
		}
	}
	groups("routes", got.Routes, want.Routes)
	groups("people", got.People, want.People)
}

func TestFilters(t *testing.T) {
	tests := []struct {
		name          string
		o             Options
		routes, users []string
		incidents     int // of the first person
	}{
		// Only db's incidents: anna is in inc-1 alone, bob in inc-1, 2.
		{"route", Options{Route: "db"}, []string{"db"}, []string{"bob", "anna"}, 2},
		{"user", Options{User: "carl"}, []string{"web", "db"}, []string{"carl"}, 1},
		// 7 days: from 2026-03-25, so inc-3, 4, 5 only.
		{"7d", Options{Window: Windows["7d"]}, []string{"web"}, []string{"anna", "bob", "carl"}, 2},
		{"nobody", Options{User: "zed"}, []string{"web", "db"}, nil, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.o.Now = fixtureNow
			r, err := Compute(fixture(), fixtureClock(t), tt.o)
			if err != nil {
				t.Fatal(err)
			}
			var rs, us []string
			for _, g := range r.Routes {
				rs = append(rs, g.Name)
			}
			for _, g := range r.People {
				us = append(us, g.Name)
			}
			if !equal(rs, tt.routes) || !equal(us, tt.users) {
				t.Errorf("routes %v people %v, want %v %v", rs, us, tt.routes, tt.users)
			}
			if len(r.People) > 0 && r.People[0].Incidents != tt.incidents {
				t.Errorf("%s: %d incidents, want %d", r.People[0].Name, r.People[0].Incidents, tt.incidents)
			}
		})
	}
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestWindowBounds(t *testing.T) {
	for _, w := range []time.Duration{-time.Hour, MaxWindow + time.Second} {
		if _, err := Compute(nil, nil, Options{Now: fixtureNow, Window: w}); !errors.Is(err, ErrWindow) {
			t.Errorf("window %v: err %v, want ErrWindow", w, err)
		}
	}
	r, err := Compute(fixture(), nil, Options{Now: fixtureNow, Window: MaxWindow})
	if err != nil {
		t.Fatal(err)
	}
	// Without a clock everyone is in UTC and awake; 90 days take inc-6 in.
	if len(r.People) != 3 || r.People[0].OffHours != 0 || r.People[0].TimeZone != "UTC" {
		t.Errorf("no clock: %+v", r.People[0])
	}
}

func TestRank(t *testing.T) {
	tests := []struct {
		in          []int
		median, p90 int
	}{
		{[]int{7}, 7, 7},
		{[]int{2, 1}, 1, 2},
		{[]int{3, 1, 2}, 2, 3},
		{[]int{10, 9, 8, 7, 6, 5, 4, 3, 2, 1}, 5, 9},
		{[]int{11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1}, 6, 10},
	}
	for _, tt := range tests {
		var ds []time.Duration
		for _, x := range tt.in {
			ds = append(ds, m(x))
		}
		d := summarise(ds)
		if d.Count != len(tt.in) || d.Median != m(tt.median) || d.P90 != m(tt.p90) {
			t.Errorf("%v: %+v, want median %dm p90 %dm", tt.in, d, tt.median, tt.p90)
		}
	}
	if d := summarise(nil); d != (Durations{}) {
		t.Errorf("empty: %+v", d)
	}
}
