package schedule

import "time"

// Wall-clock arithmetic. A wall-clock reading ("2026-03-08 02:30 in
// America/New_York") is kept as a time.Time in UTC whose fields are the
// reading, called a wall value below. Calendar steps (next day, next week)
// are taken on wall values, where every day has 24 hours, and only then
// turned into instants with resolve. Comparisons are always made between
// instants, never between wall values, because in the repeated hour of a
// fall-back day the wall clock runs backwards.

// wallOf returns the wall-clock reading of t in loc as a wall value.
func wallOf(t time.Time, loc *time.Location) time.Time {
	l := t.In(loc)
	y, m, d := l.Date()
	hh, mm, ss := l.Clock()
	return time.Date(y, m, d, hh, mm, ss, l.Nanosecond(), time.UTC)
}

// dayOf truncates a wall value to its midnight.
func dayOf(w time.Time) time.Time {
	y, m, d := w.Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// resolve turns the wall value w into the instant it names in loc:
//
//   - a reading that occurs once is that instant;
//   - a reading that occurs twice (the repeated hour when clocks fall back)
//     is its first occurrence, the one with the larger UTC offset;
//   - a reading that never occurs (the hour skipped when clocks spring
//     forward) is the first instant after the gap, that is the transition
//     itself: 02:30 on 2026-03-08 in America/New_York is 03:00 EDT.
//
// time.Date leaves the last two cases unspecified, so the offsets are found
// by hand: every offset in force within two days of w is tried.
func resolve(w time.Time, loc *time.Location) time.Time {
	var best time.Time
	found := false
	minOff := 0
	for i, probe := range [...]time.Duration{-48 * time.Hour, 0, 48 * time.Hour} {
		_, off := w.Add(probe).In(loc).Zone()
		if i == 0 || off < minOff {
			minOff = off
		}
		u := w.Add(-time.Duration(off) * time.Second)
		if _, got := u.In(loc).Zone(); got == off && (!found || u.Before(best)) {
			best, found = u, true
		}
	}
	if found {
		return best.In(loc)
	}
	// In a gap. Read with the smaller (earlier) offset, w names an instant
	// just after the transition; the zone that instant is in starts at the
	// transition.
	u := w.Add(-time.Duration(minOff) * time.Second).In(loc)
	if start, _ := u.ZoneBounds(); !start.IsZero() && !start.After(u) {
		return start.In(loc)
	}
	return u
}

// floorDiv is a / b rounded towards minus infinity, for b > 0.
func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

// window is a compiled restriction: on each day in days (indexed by
// time.Weekday) the layer may page from minute from to minute to of that
// day's wall clock; to > from, and to may exceed 1440 when the window
// crosses midnight.
type window struct {
	days     [7]bool
	from, to int // minutes after the day's midnight
}

// bounds returns the instants at which w opens and closes on the wall day
// day (a midnight wall value), and whether it opens on that day at all.
func (w *window) bounds(day time.Time, loc *time.Location) (start, end time.Time, ok bool) {
	if !w.days[day.Weekday()] {
		return time.Time{}, time.Time{}, false
	}
	start = resolve(day.Add(time.Duration(w.from)*time.Minute), loc)
	end = resolve(day.Add(time.Duration(w.to)*time.Minute), loc)
	return start, end, true
}

// inWindows reports whether t lies inside one of ws. A window that opened
// the day before and crosses midnight counts; the day after is checked too
// in case a transition at midnight reorders wall days and instants.
func inWindows(ws []window, t time.Time, loc *time.Location) bool {
	today := dayOf(wallOf(t, loc))
	for d := -1; d <= 1; d++ {
		day := today.AddDate(0, 0, d)
		for i := range ws {
			if s, e, ok := ws[i].bounds(day, loc); ok && !t.Before(s) && t.Before(e) {
				return true
			}
		}
	}
	return false
}
