package schedule

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// ErrInvalid is wrapped by every error Validate returns.
var ErrInvalid = errors.New("invalid schedule")

// Error is one problem found by Validate. Validate returns all problems of
// a schedule joined with errors.Join, each as an *Error, so that the
// configuration loader can look up the line of Path and prefix file:line.
type Error struct {
	// Path is the key path of the offending value, such as
	// schedules[primary].layers[1].rotation.
	Path string
	Msg  string
}

// Error formats the problem as "path: message".
func (e *Error) Error() string {
	if e.Path == "" {
		return e.Msg
	}
	return e.Path + ": " + e.Msg
}

// Unwrap makes every *Error match ErrInvalid.
func (e *Error) Unwrap() error { return ErrInvalid }

// problems collects the errors of one validation.
type problems []error

func (p *problems) add(path, format string, args ...any) {
	*p = append(*p, &Error{Path: path, Msg: fmt.Sprintf(format, args...)})
}

// Validate checks every schedule (see Schedule.Validate) and that names are
// unique. Schedules are named in error paths by name, or by index when the
// name is missing or repeated.
func (c *Config) Validate() error {
	var errs problems
	seen := map[string]bool{}
	for i, s := range c.Schedules {
		path := fmt.Sprintf("schedules[%d]", i)
		if s == nil {
			errs.add(path, "empty schedule")
			continue
		}
		if s.Name != "" && !seen[s.Name] {
			path = "schedules[" + s.Name + "]"
		} else if s.Name != "" {
			errs.add(path+".name", "duplicate schedule name %q", s.Name)
		}
		seen[s.Name] = true
		s.validate(&errs, path)
	}
	return errors.Join(errs...)
}

// Validate checks the schedule, loads its time zone and compiles it for
// OnCall, Shifts and NextHandoff. It returns every problem found, each an
// *Error wrapping ErrInvalid whose path starts with schedules[NAME]. On
// error the schedule reports nobody on call.
func (s *Schedule) Validate() error {
	var errs problems
	s.validate(&errs, "schedules["+s.Name+"]")
	return errors.Join(errs...)
}

func (s *Schedule) validate(errs *problems, path string) {
	n := len(*errs)
	s.valid, s.loc, s.rotations, s.overrides = false, nil, nil, nil
	if s.Name == "" {
		errs.add(path+".name", "missing")
	}
	switch s.TimeZone {
	case "":
		errs.add(path+".time_zone", "missing (an IANA name such as Europe/Berlin)")
	case "Local":
		errs.add(path+".time_zone", "Local depends on the host; name the zone")
	default:
		loc, err := time.LoadLocation(s.TimeZone)
		if err != nil {
			errs.add(path+".time_zone", "unknown time zone %q", s.TimeZone)
		} else {
			s.loc = loc
		}
	}
	if len(s.Layers) == 0 {
		errs.add(path+".layers", "at least one layer is required")
	}
	names := map[string]bool{}
	for i := range s.Layers {
		l := &s.Layers[i]
		lp := fmt.Sprintf("%s.layers[%d]", path, i)
		if l.Name != "" && names[l.Name] {
			errs.add(lp+".name", "duplicate layer name %q", l.Name)
		}
		names[l.Name] = true
		r, ok := l.compile(errs, lp, s.loc)
		if ok {
			s.rotations = append(s.rotations, r)
		}
	}
	for i, o := range s.Overrides {
		op := fmt.Sprintf("%s.overrides[%d]", path, i)
		if o.User == "" {
			errs.add(op+".user", "missing")
		}
		_, start, okS := parseWhen(errs, op+".start", o.Start, s.loc)
		_, end, okE := parseWhen(errs, op+".end", o.End, s.loc)
		if okS && okE && !end.After(start) {
			errs.add(op+".end", "%s is not after start %s", o.End, o.Start)
		}
		s.overrides = append(s.overrides, span{user: o.User, start: start, end: end})
	}
	if len(*errs) > n || s.loc == nil {
		s.rotations, s.overrides = nil, nil
		return
	}
	s.valid = true
}

// minLength is the shortest custom rotation.
const minLength = time.Hour

func (l *Layer) compile(errs *problems, path string, loc *time.Location) (rotation, bool) {
	n := len(*errs)
	r := rotation{loc: loc, members: l.Members}
	if l.Name == "" {
		errs.add(path+".name", "missing")
	}
	if len(l.Members) == 0 {
		errs.add(path+".members", "at least one member is required")
	}
	for i, m := range l.Members {
		if strings.TrimSpace(m) == "" {
			errs.add(fmt.Sprintf("%s.members[%d]", path, i), "empty member name")
		}
	}
	switch l.Rotation {
	case RotationDaily:
		r.periodDays = 1
	case RotationWeekly:
		r.periodDays = 7
	case RotationCustom:
		if l.Length == "" {
			errs.add(path+".length", "required for a custom rotation (a duration such as 36h)")
			break
		}
		d, err := time.ParseDuration(l.Length)
		switch {
		case err != nil:
			errs.add(path+".length", "%q is not a duration such as 36h", l.Length)
		case d < minLength || d%time.Minute != 0:
			errs.add(path+".length", "%s must be whole minutes and at least %s", l.Length, minLength)
		default:
			r.lengthSec = int64(d / time.Second)
		}
		if l.Handoff != "" {
			errs.add(path+".handoff", "not used by a custom rotation; handoffs follow start every length")
		}
	case "":
		errs.add(path+".rotation", "missing (daily, weekly or custom)")
	default:
		errs.add(path+".rotation", "%q is not daily, weekly or custom", string(l.Rotation))
	}
	if l.Length != "" && l.Rotation != RotationCustom && l.Rotation != "" {
		errs.add(path+".length", "only a custom rotation has a length")
	}
	startWall, start, okStart := parseWhen(errs, path+".start", l.Start, loc)
	handoff := -1
	if l.Handoff != "" {
		if m, ok := parseClock(l.Handoff, false); ok {
			handoff = m
		} else {
			errs.add(path+".handoff", "%q is not a time of day HH:MM", l.Handoff)
		}
	}
	for i := range l.Restrictions {
		if w, ok := l.Restrictions[i].compile(errs, fmt.Sprintf("%s.restrictions[%d]", path, i)); ok {
			r.windows = append(r.windows, w)
		}
	}
	if len(*errs) > n || !okStart || loc == nil {
		return rotation{}, false
	}
	r.start = start
	if r.periodDays > 0 {
		if handoff < 0 {
			r.anchor = startWall
		} else {
			r.anchor = dayOf(startWall).Add(time.Duration(handoff) * time.Minute)
			if r.anchor.Before(startWall) {
				r.anchor = r.anchor.AddDate(0, 0, r.periodDays)
			}
		}
		if !r.anchor.Equal(startWall) {
			r.skip = 1
		}
	}
	return r, true
}

func (x *Restriction) compile(errs *problems, path string) (window, bool) {
	n := len(*errs)
	var w window
	if len(x.Days) == 0 {
		w.days = [7]bool{true, true, true, true, true, true, true}
	}
	for i, d := range x.Days {
		wd, ok := parseDay(d)
		if !ok {
			errs.add(fmt.Sprintf("%s.days[%d]", path, i), "%q is not a day (mon, tue, wed, thu, fri, sat, sun)", d)
			continue
		}
		w.days[wd] = true
	}
	from, okF := parseClock(x.From, false)
	if !okF {
		errs.add(path+".from", "%q is not a time of day HH:MM from 00:00 to 23:59", x.From)
	}
	to, okT := parseClock(x.To, true)
	if !okT {
		errs.add(path+".to", "%q is not a time of day HH:MM from 00:00 to 24:00", x.To)
	}
	if to <= from {
		to += 24 * 60
	}
	w.from, w.to = from, to
	return w, len(*errs) == n
}

var dayNames = map[string]time.Weekday{
	"sun": time.Sunday, "mon": time.Monday, "tue": time.Tuesday, "wed": time.Wednesday,
	"thu": time.Thursday, "fri": time.Friday, "sat": time.Saturday,
	"sunday": time.Sunday, "monday": time.Monday, "tuesday": time.Tuesday, "wednesday": time.Wednesday,
	"thursday": time.Thursday, "friday": time.Friday, "saturday": time.Saturday,
}

func parseDay(s string) (time.Weekday, bool) {
	d, ok := dayNames[strings.ToLower(s)]
	return d, ok
}

// parseClock parses "HH:MM" (one-digit hours allowed) into minutes after
// midnight; "24:00" only when allow24.
func parseClock(s string, allow24 bool) (int, bool) {
	hs, ms, ok := strings.Cut(s, ":")
	if !ok || len(hs) < 1 || len(hs) > 2 || len(ms) != 2 {
		return 0, false
	}
	h, err1 := strconv.Atoi(hs)
	m, err2 := strconv.Atoi(ms)
	if err1 != nil || err2 != nil || h < 0 || m < 0 || m > 59 || hs[0] == '+' || ms[0] == '+' {
		return 0, false
	}
	if h == 24 && m == 0 && allow24 {
		return 24 * 60, true
	}
	if h > 23 {
		return 0, false
	}
	return h*60 + m, true
}

// wallLayouts are the accepted wall-clock date-times, read in the schedule's zone.
var wallLayouts = []string{"2006-01-02T15:04", "2006-01-02T15:04:05", "2006-01-02 15:04", "2006-01-02 15:04:05"}

// Years outside this range are refused in date-times, keeping the
// arithmetic far from time.Time's limits.
const minYear, maxYear = 1970, 9999

// parseWhen parses a date-time: a wall-clock reading in loc (returned as a
// wall value and resolved to an instant) or an RFC 3339 instant (returned
// as is, with its wall value in loc).
func parseWhen(errs *problems, path, s string, loc *time.Location) (wall, instant time.Time, ok bool) {
	if s == "" {
		errs.add(path, "missing (a date-time such as 2026-01-05T09:00)")
		return time.Time{}, time.Time{}, false
	}
	explicit := false
	for _, layout := range wallLayouts {
		if t, err := time.Parse(layout, s); err == nil {
			wall, ok = t, true
			break
		}
	}
	if !ok {
		t, err := time.Parse(time.RFC3339, s)
		if err != nil {
			errs.add(path, "%q is not a date-time such as 2026-01-05T09:00 or 2026-01-05T09:00:00+01:00", s)
			return time.Time{}, time.Time{}, false
		}
		wall, instant, explicit = t.UTC(), t, true
	}
	if y := wall.Year(); y < minYear || y > maxYear {
		errs.add(path, "year %d is outside %d to %d", y, minYear, maxYear)
		return time.Time{}, time.Time{}, false
	}
	if loc == nil {
		return time.Time{}, time.Time{}, false // the zone's error is reported already
	}
	if explicit {
		return wallOf(instant, loc), instant.In(loc), true
	}
	return wall, resolve(wall, loc), true
}
