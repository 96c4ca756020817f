package schedule

import (
	"fmt"
	"testing"
	"time"
)

// The four DST changes of 2026 the tests walk through.
var dstDays = []struct {
	name, zone string
	day        string        // local date of the change
	length     time.Duration // length of that local day
}{
	{"New York spring forward", "America/New_York", "2026-03-08", 23 * time.Hour},
	{"New York fall back", "America/New_York", "2026-11-01", 25 * time.Hour},
	{"Berlin spring forward", "Europe/Berlin", "2026-03-29", 23 * time.Hour},
	{"Berlin fall back", "Europe/Berlin", "2026-10-25", 25 * time.Hour},
}

// localDay returns local midnight of date in zone.
func localDay(t *testing.T, zone, date string) time.Time {
	t.Helper()
	loc, err := time.LoadLocation(zone)
	if err != nil {
		t.Fatal(err)
	}
	d, err := time.ParseInLocation("2006-01-02", date, loc)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// TestDSTDailyWeekly: a 24/7 daily layer and a weekly layer handing off on
// the DST day itself. Nobody is ever missing, shifts never overlap, every
// handoff is at 09:00 local before, on and after the change, and the shift
// containing the change is 23 or 25 hours long (weekly: 167 or 169).
func TestDSTDailyWeekly(t *testing.T) {
	for _, d := range dstDays {
		t.Run(d.name, func(t *testing.T) {
			day := localDay(t, d.zone, d.day) // a Sunday in all four cases
			for _, rot := range []struct {
				rotation string
				period   int // days
			}{{"daily", 1}, {"weekly", 7}} {
				t.Run(rot.rotation, func(t *testing.T) {
					start := day.AddDate(0, 0, -14).Format("2006-01-02") + "T09:00"
					s := load(t, fmt.Sprintf(`{name: s, time_zone: %s, layers: [{name: l, members: [a, b, c], rotation: %s, start: %s}]}`,
						d.zone, rot.rotation, start))
					from, to := day.AddDate(0, 0, -10), day.AddDate(0, 0, 10)
					shifts := checkTimeline(t, s, from, to)
					checkNoGap(t, shifts, from, to)
					for i, sh := range shifts {
						if i > 0 {
							if h, m, _ := sh.Start.Clock(); h != 9 || m != 0 {
								t.Errorf("handoff at %v, want 09:00 local", sh.Start)
							}
						}
						if i == 0 || i == len(shifts)-1 {
							continue // clipped
						}
						want := time.Duration(rot.period) * 24 * time.Hour
						if !sh.Start.After(day) && sh.End.After(day) {
							want += d.length - 24*time.Hour
						}
						if got := sh.End.Sub(sh.Start); got != want {
							t.Errorf("shift %v to %v lasts %v, want %v", sh.Start, sh.End, got, want)
						}
					}
					// The handoff on the morning of the change, and on the day after.
					for _, n := range []int{0, 1} {
						want := day.AddDate(0, 0, n).Add(9 * time.Hour)
						if rot.period == 7 && n == 1 {
							want = day.AddDate(0, 0, 7).Add(9 * time.Hour)
						}
						want = time.Date(want.Year(), want.Month(), want.Day(), 9, 0, 0, 0, want.Location())
						if got := s.NextHandoff(want.Add(-time.Minute)); !got.Equal(want) {
							t.Errorf("NextHandoff before %v = %v", want, got)
						}
					}
				})
			}
		})
	}
}

// TestDSTHandoffInChangedHour puts the daily handoff inside the hour the
// change skips or repeats: in a gap it happens at the transition (the
// instant after the gap), in a repeated hour at its first occurrence.
func TestDSTHandoffInChangedHour(t *testing.T) {
	tests := []struct {
		name, zone, start string
		want              []string // consecutive handoffs around the change
	}{
		{"New York gap", "America/New_York", "2026-03-01T02:30",
			[]string{"2026-03-07T02:30:00-05:00", "2026-03-08T03:00:00-04:00", "2026-03-09T02:30:00-04:00"}},
		{"New York repeated hour", "America/New_York", "2026-10-20T01:30",
			[]string{"2026-10-31T01:30:00-04:00", "2026-11-01T01:30:00-04:00", "2026-11-02T01:30:00-05:00"}},
		{"Berlin gap", "Europe/Berlin", "2026-03-20T02:30",
			[]string{"2026-03-28T02:30:00+01:00", "2026-03-29T03:00:00+02:00", "2026-03-30T02:30:00+02:00"}},
		{"Berlin repeated hour", "Europe/Berlin", "2026-10-20T02:30",
			[]string{"2026-10-24T02:30:00+02:00", "2026-10-25T02:30:00+02:00", "2026-10-26T02:30:00+01:00"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := load(t, fmt.Sprintf(`{name: s, time_zone: %s, layers: [{name: l, members: [a, b], rotation: daily, start: %s}]}`, tt.zone, tt.start))
			first, last := ts(t, tt.want[0]), ts(t, tt.want[len(tt.want)-1])
			shifts := checkTimeline(t, s, first, last)
			checkNoGap(t, shifts, first, last)
			if len(shifts) != len(tt.want)-1 {
				t.Fatalf("got shifts:\n%s", formatShifts(shifts))
			}
			for i, sh := range shifts {
				if want := ts(t, tt.want[i]); !sh.Start.Equal(want) {
					t.Errorf("handoff %d at %v, want %v", i, sh.Start, want)
				}
			}
		})
	}
}

// TestDSTRestrictions: restriction windows are wall-clock windows, so an
// overnight window is an hour shorter or longer across the change, and a
// weekend cover 00:00–24:00 plus weekday windows leaves no gap.
func TestDSTRestrictions(t *testing.T) {
	for _, d := range dstDays {
		t.Run(d.name, func(t *testing.T) {
			day := localDay(t, d.zone, d.day)
			s := load(t, fmt.Sprintf(`
name: s
time_zone: %s
layers:
  - name: weekdays
    members: [a, b]
    rotation: daily
    start: 2026-01-01T08:00
    restrictions: [{days: [mon, tue, wed, thu, fri], from: "08:00", to: "08:00"}]
  - name: weekend
    members: [w]
    rotation: weekly
    start: 2026-01-03T00:00
    restrictions:
      - {days: [sat], from: "08:00", to: "24:00"}
      - {days: [sun], from: "00:00", to: "24:00"}
      - {days: [mon], from: "00:00", to: "08:00"}
  - name: night
    members: [n]
    rotation: daily
    start: 2026-01-01T00:00
    restrictions: [{days: [sat], from: "22:00", to: "06:00"}]
`, d.zone))
			from, to := day.AddDate(0, 0, -8), day.AddDate(0, 0, 8)
			shifts := checkTimeline(t, s, from, to)
			checkNoGap(t, shifts, from, to)
			var nights int
			for _, sh := range shifts {
				if sh.Layer != "night" {
					continue
				}
				nights++
				if sh.Start.Hour() != 22 || sh.End.Hour() != 6 {
					t.Errorf("night shift %v to %v, want 22:00 to 06:00 local", sh.Start, sh.End)
				}
				want := 8 * time.Hour
				if sh.End.After(day) && sh.Start.Before(day.AddDate(0, 0, 1)) {
					want += d.length - 24*time.Hour
				}
				if got := sh.End.Sub(sh.Start); got != want {
					t.Errorf("night shift from %v lasts %v, want %v", sh.Start, got, want)
				}
			}
			if nights != 3 { // the Saturdays before, of and after the change
				t.Errorf("%d night shifts, want 3:\n%s", nights, formatShifts(shifts))
			}
		})
	}
}

// TestDSTCustom: custom lengths are absolute, so the local handoff time
// moves by the size of the change.
func TestDSTCustom(t *testing.T) {
	for _, d := range dstDays {
		t.Run(d.name, func(t *testing.T) {
			day := localDay(t, d.zone, d.day)
			start := day.AddDate(0, 0, -3).Add(12 * time.Hour) // noon, 3 days before
			s := load(t, fmt.Sprintf(`{name: s, time_zone: %s, layers: [{name: l, members: [a, b], rotation: custom, length: 24h, start: %s}]}`,
				d.zone, start.Format("2006-01-02T15:04")))
			from, to := start, start.Add(6*24*time.Hour)
			shifts := checkTimeline(t, s, from, to)
			checkNoGap(t, shifts, from, to)
			for _, sh := range shifts {
				if got := sh.End.Sub(sh.Start); got != 24*time.Hour {
					t.Errorf("shift %v lasts %v", sh.Start, got)
				}
				wantHour := 12
				if sh.Start.After(day) {
					wantHour -= int((d.length - 24*time.Hour) / time.Hour)
				}
				if sh.Start.Hour() != wantHour {
					t.Errorf("handoff at %v, want %02d:00 local", sh.Start, wantHour)
				}
			}
		})
	}
}

func TestResolve(t *testing.T) {
	tests := []struct {
		zone, wall, want string
	}{
		{"America/New_York", "2026-03-08T01:59", "2026-03-08T01:59:00-05:00"},
		{"America/New_York", "2026-03-08T02:00", "2026-03-08T03:00:00-04:00"}, // gap
		{"America/New_York", "2026-03-08T02:59", "2026-03-08T03:00:00-04:00"}, // gap
		{"America/New_York", "2026-03-08T03:00", "2026-03-08T03:00:00-04:00"},
		{"America/New_York", "2026-11-01T00:59", "2026-11-01T00:59:00-04:00"},
		{"America/New_York", "2026-11-01T01:00", "2026-11-01T01:00:00-04:00"}, // first of two
		{"America/New_York", "2026-11-01T01:59", "2026-11-01T01:59:00-04:00"}, // first of two
		{"America/New_York", "2026-11-01T02:00", "2026-11-01T02:00:00-05:00"},
		{"Europe/Berlin", "2026-03-29T02:30", "2026-03-29T03:00:00+02:00"}, // gap
		{"Europe/Berlin", "2026-10-25T02:30", "2026-10-25T02:30:00+02:00"}, // first of two
		{"Europe/Berlin", "2026-10-25T03:00", "2026-10-25T03:00:00+01:00"},
		{"UTC", "2026-03-29T02:30", "2026-03-29T02:30:00Z"},
		{"Australia/Lord_Howe", "2026-10-04T02:15", "2026-10-04T02:30:00+11:00"}, // half-hour change
	}
	for _, tt := range tests {
		t.Run(tt.zone+" "+tt.wall, func(t *testing.T) {
			loc, err := time.LoadLocation(tt.zone)
			if err != nil {
				t.Fatal(err)
			}
			w, err := time.Parse("2006-01-02T15:04", tt.wall)
			if err != nil {
				t.Fatal(err)
			}
			if got, want := resolve(w, loc), ts(t, tt.want); !got.Equal(want) {
				t.Fatalf("resolve(%s) = %v, want %v", tt.wall, got, want)
			}
		})
	}
}
