// Package schedule answers who is on call at a given time.
//
// A Schedule is decoded from YAML (the pager's configuration loader does
// that), checked and compiled by Validate, and then queried with OnCall,
// Shifts and NextHandoff. The package is pure: time always comes in as an
// argument, nothing runs in the background, and the only I/O is loading
// time zone data in Validate.
//
// # Time zones and DST
//
// Every wall-clock time in a schedule (layer starts, handoff times,
// restriction windows, overrides written without an offset) is read in the
// schedule's IANA time zone. Daily and weekly rotations advance in wall-clock
// terms: a daily rotation with handoff 09:00 hands off at 09:00 local time
// every day, so the shift that contains a DST change lasts 23 or 25 hours.
// Custom rotations (length: 36h) advance by absolute durations and so drift
// against the wall clock across a DST change.
//
// A wall-clock reading that does not exist (02:30 on a spring-forward day)
// means the first instant after the gap, which is the transition itself
// (03:00 in the new offset). A reading that exists twice (01:30 on a
// fall-back day in America/New_York) means its first occurrence, in the
// offset that was in force before the change.
//
// # Precedence
//
// Layers are listed lowest first: at any instant the last layer that has
// someone on call wins. Overrides win over every layer; where overrides
// overlap, the one listed last wins.
package schedule

import (
	"slices"
	"time"
)

// Config is the schedules section of the pager configuration.
type Config struct {
	Schedules []*Schedule `yaml:"schedules"`
}

// Schedule is one on-call schedule. Its fields are the YAML model; Validate
// checks them and compiles the schedule, and must succeed before OnCall,
// Shifts or NextHandoff are used (before that they report nobody on call).
// After a successful Validate a Schedule must not be modified, and may be
// queried from any number of goroutines.
type Schedule struct {
	Name string `yaml:"name"`
	// TimeZone is the IANA name ("Europe/Berlin") all wall-clock times of the
	// schedule are read in. "Local" is refused: it depends on the host.
	TimeZone string `yaml:"time_zone"`
	// Layers are listed lowest first; later layers override earlier ones
	// where they have someone on call.
	Layers []Layer `yaml:"layers"`
	// Overrides win over every layer; the last listed wins where they overlap.
	Overrides []Override `yaml:"overrides,omitempty"`

	loc       *time.Location
	rotations []rotation
	overrides []span
	valid     bool
}

// Rotation is how often a layer hands off: RotationDaily, RotationWeekly or
// RotationCustom.
type Rotation string

// The rotations a Layer may use.
const (
	RotationDaily  Rotation = "daily"  // every day at the handoff time
	RotationWeekly Rotation = "weekly" // every week, on the start's weekday, at the handoff time
	RotationCustom Rotation = "custom" // every Length, an absolute duration
)

// Layer is a list of members who take turns, optionally on call only inside
// some weekly windows.
type Layer struct {
	Name     string   `yaml:"name"`
	Members  []string `yaml:"members"`
	Rotation Rotation `yaml:"rotation"`
	// Length is the shift length of a custom rotation, a Go duration of
	// whole minutes, at least an hour ("36h", "1h30m"). Only for custom.
	Length string `yaml:"length,omitempty"`
	// Start is the first handoff, the rotation's anchor: a wall-clock time
	// in the schedule's zone ("2026-01-05T09:00", seconds optional) or an
	// RFC 3339 instant with an offset. The first member's shift begins here.
	Start string `yaml:"start"`
	// Handoff is the wall-clock time of day ("09:00") of daily and weekly
	// handoffs; it defaults to Start's time of day. When it differs, the
	// first shift runs from Start to the first Handoff time after it.
	Handoff string `yaml:"handoff,omitempty"`
	// Restrictions, when present, limit the layer to these windows: a
	// member is on call only when their shift and a window overlap.
	Restrictions []Restriction `yaml:"restrictions,omitempty"`
}

// Restriction is a window of wall-clock time repeated on some weekdays.
type Restriction struct {
	// Days the window opens on: mon, tue, … sun, or full names, in any
	// case. Empty means every day.
	Days []string `yaml:"days,omitempty"`
	// From is when the window opens, "HH:MM" from "00:00" to "23:59".
	From string `yaml:"from"`
	// To is when it closes, "HH:MM" up to "24:00". A To at or before From
	// closes the window the next day, so from: "22:00" to: "06:00" is an
	// overnight window and From equal to To is a 24-hour one. A window
	// entirely inside a DST gap is empty on that day.
	To string `yaml:"to"`
}

// Override puts User on call from Start to End, over every layer. Start
// and End are read like Layer.Start.
type Override struct {
	User  string `yaml:"user"`
	Start string `yaml:"start"`
	End   string `yaml:"end"`
}

// span is a compiled override.
type span struct {
	user       string
	start, end time.Time
}

// Shift is a stretch of time one user is on call for one reason.
type Shift struct {
	User       string
	Start, End time.Time // End is exclusive; both in the schedule's zone
	Layer      string    // name of the layer that puts User on call; "" for an override
	Override   bool      // User is on call through an override
}

// who is the answer at one instant; source is the layer index, or -1 for
// an override.
type who struct {
	user   string
	source int
	ok     bool
}

// Instants outside [minTime, maxTime) have nobody on call; the bounds keep
// the calendar arithmetic far from time.Time's limits.
var (
	minTime = time.Date(minYear-1, time.January, 1, 0, 0, 0, 0, time.UTC)
	maxTime = time.Date(maxYear+2, time.January, 1, 0, 0, 0, 0, time.UTC)
)

func (s *Schedule) at(t time.Time) who {
	if !s.valid || t.Before(minTime) || !t.Before(maxTime) {
		return who{}
	}
	for i := len(s.overrides) - 1; i >= 0; i-- {
		o := &s.overrides[i]
		if !t.Before(o.start) && t.Before(o.end) {
			return who{user: o.user, source: -1, ok: true}
		}
	}
	for i := len(s.rotations) - 1; i >= 0; i-- {
		if u, ok := s.rotations[i].at(t); ok {
			return who{user: u, source: i, ok: true}
		}
	}
	return who{}
}

// OnCall returns who is on call at t, or ok false when nobody is (or the
// schedule has not been validated). Nobody is on call before 1969 or after
// the year 10000.
func (s *Schedule) OnCall(t time.Time) (user string, ok bool) {
	w := s.at(t)
	return w.user, w.ok
}

// changes returns the sorted, distinct instants in (from, to) at which the
// answer of OnCall may change.
func (s *Schedule) changes(from, to time.Time) []time.Time {
	var pts []time.Time
	for i := range s.rotations {
		pts = s.rotations[i].changes(pts, from, to)
	}
	for _, o := range s.overrides {
		for _, p := range [2]time.Time{o.start, o.end} {
			if p.After(from) && p.Before(to) {
				pts = append(pts, p)
			}
		}
	}
	slices.SortFunc(pts, time.Time.Compare)
	return slices.CompactFunc(pts, time.Time.Equal)
}

// Shifts returns the final timeline between from and to, layers and
// overrides resolved: who is on call, when and why, in time order, clipped
// to [from, to). Adjacent stretches with the same user and the same reason
// (the same layer, or overrides) are merged into one Shift; times nobody is
// on call are left out. Shifts never overlap. The cost grows with the
// number of handoffs and restriction windows in the range, so ask for days
// or weeks, not centuries.
func (s *Schedule) Shifts(from, to time.Time) []Shift {
	if from.Before(minTime) {
		from = minTime
	}
	if to.After(maxTime) {
		to = maxTime
	}
	if !s.valid || !from.Before(to) {
		return nil
	}
	var out []Shift
	cur, curStart := s.at(from), from
	flush := func(end time.Time) {
		if !cur.ok {
			return
		}
		sh := Shift{User: cur.user, Start: curStart.In(s.loc), End: end.In(s.loc), Override: cur.source < 0}
		if cur.source >= 0 {
			sh.Layer = s.Layers[cur.source].Name
		}
		out = append(out, sh)
	}
	for _, p := range s.changes(from, to) {
		if w := s.at(p); w != cur {
			flush(p)
			cur, curStart = w, p
		}
	}
	flush(to)
	return out
}

// MaxLookahead is how far NextHandoff looks for a change.
const MaxLookahead = 400 * 24 * time.Hour

// lookaheadStep is how much of the future NextHandoff examines at a time.
const lookaheadStep = 7 * 24 * time.Hour

// NextHandoff returns the first instant after t at which the Shift covering
// the time changes: someone else goes on call, the same user goes on call
// for another reason, or nobody is on call any more (or somebody is again).
// It is the End of the Shift covering t, or the Start of the next one when
// nobody is on call at t. It returns the zero Time when nothing changes
// within MaxLookahead of t; the caller should ask again later.
func (s *Schedule) NextHandoff(t time.Time) time.Time {
	if !s.valid {
		return time.Time{}
	}
	if t.Before(minTime) {
		t = minTime // nobody is on call before; changes come later
	}
	cur := s.at(t)
	end := t.Add(MaxLookahead)
	if end.After(maxTime) {
		end = maxTime
	}
	for lo := t; lo.Before(end); {
		hi := lo.Add(lookaheadStep)
		if hi.After(end) {
			hi = end
		}
		for _, p := range s.changes(lo, hi) {
			if s.at(p) != cur {
				return p.In(s.loc)
			}
		}
		// changes excludes both ends; start the next chunk just before hi
		// so that a change exactly at hi is seen.
		lo = hi.Add(-time.Nanosecond)
		if !hi.Before(end) {
			break
		}
	}
	return time.Time{}
}

// Get returns the schedule called name, or nil.
func (c *Config) Get(name string) *Schedule {
	for _, s := range c.Schedules {
		if s != nil && s.Name == name {
			return s
		}
	}
	return nil
}

// WithOverrides returns a validated copy of s with extra appended to its
// overrides, so that they win over the configured ones where they
// overlap. s itself is not changed. It fails as Validate does.
func (s *Schedule) WithOverrides(extra []Override) (*Schedule, error) {
	c := &Schedule{
		Name: s.Name, TimeZone: s.TimeZone, Layers: s.Layers,
		Overrides: append(slices.Clip(s.Overrides), extra...),
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return c, nil
}
