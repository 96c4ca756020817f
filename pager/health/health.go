// Package health computes on-call health figures from the pager's
// incidents and timelines: per route and per person over a window, how
// many incidents and pages, how fast they were acknowledged and resolved,
// when pages arrived in the person's own day, how often incidents
// escalated, and how many were noise. It only reads: Compute is a pure
// function of its arguments.
package health

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/watchdog-sre/watchdog/pager"
)

// Bounds of Options.
const (
	// MaxWindow is the longest window Compute accepts (90 days).
	MaxWindow = 90 * 24 * time.Hour
	// DefaultNoiseWithin is Options.NoiseWithin when zero.
	DefaultNoiseWithin = 5 * time.Minute
)

// Windows are the windows the API and console offer, by name.
var Windows = map[string]time.Duration{
	"7d":  7 * 24 * time.Hour,
	"30d": 30 * 24 * time.Hour,
	"90d": 90 * 24 * time.Hour,
}

// ErrWindow: the window is not positive or longer than MaxWindow.
var ErrWindow = errors.New("bad window")

// Incident is one incident with its timeline, as the pager store keeps
// them.
type Incident struct {
	State    pager.IncidentState
	Timeline []pager.TimelineEntry
}

// Clock is what Compute needs of the pager configuration to place a page
// in a person's day. *pager.Config implements it.
type Clock interface {
	// User returns the configured user name, or nil.
	User(name string) *pager.User
	// Awake returns t when t is inside user's waking hours in the user's
	// time zone, else the next start of them.
	Awake(user string, t time.Time) time.Time
}

// Options selects what Compute reports. The zero value with Now set
// reports 30 days over every route and person.
type Options struct {
	// Now is the end of the window (exclusive); required.
	Now time.Time
	// Window is how far back from Now incidents count, by CreatedAt:
	// [Now-Window, Now). Default 30 days; at most MaxWindow.
	Window time.Duration
	// Route, when set, counts only that route's incidents (in both
	// lists). User, when set, keeps only that person in People; Routes
	// still cover every counted incident.
	Route, User string
	// NoiseWithin is how soon after its acknowledgement an incident must
	// be resolved to count as noise (DefaultNoiseWithin when zero).
	NoiseWithin time.Duration
}

// Durations are the median and 90th percentile of a set of durations, by
// the nearest-rank method: with the n values sorted ascending, the p-th
// percentile is the value at rank ceil(p/100·n) (1-based), so the median
// of an even count is the lower of the two middle values and nothing is
// interpolated. Zero when Count is 0.
type Durations struct {
	Count  int
	Median time.Duration
	P90    time.Duration
}

// MarshalJSON writes the durations in seconds.
func (d Durations) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Count  int     `json:"count"`
		Median float64 `json:"median_seconds"`
		P90    float64 `json:"p90_seconds"`
	}{d.Count, d.Median.Seconds(), d.P90.Seconds()})
}

// Group is the figures of one route or one person. For a route, its
// incidents are those opened on it; for a person, those in which the
// person was paged (a notify timeline entry naming them), which they
// acknowledged or resolved, or to which they were reassigned.
type Group struct {
	// Name is the route or user name.
	Name string `json:"name"`
	// TimeZone is the person's configured IANA zone ("UTC" when unset or
	// unknown); empty for routes.
	TimeZone string `json:"time_zone,omitempty"`
	// Incidents counts the group's incidents.
	Incidents int `json:"incidents"`
	// Pages counts notifications sent to people (notify timeline
	// entries): for a person, those to them.
	Pages int `json:"pages"`
	// PagesByHour counts Pages by the hour of day at which each was sent,
	// in the paged person's own time zone (index 0 is 00:00–00:59).
	PagesByHour [24]int `json:"pages_by_hour"`
	// OffHours counts Pages sent outside the paged person's waking hours
	// in their time zone.
	OffHours int `json:"pages_off_hours"`
	// TimeToAck: from an incident's CreatedAt to its first
	// acknowledgement (first "acknowledged" timeline entry), over the
	// group's acknowledged incidents; for a person, over those they
	// acknowledged first.
	TimeToAck Durations `json:"time_to_ack"`
	// TimeToResolve: from CreatedAt to ResolvedAt, over the group's
	// resolved incidents.
	TimeToResolve Durations `json:"time_to_resolve"`
	// Escalated counts the group's incidents that went past their first
	// escalation level (an "escalated" timeline entry at level 2 or
	// later, Level ≥ 1 counting from 0).
	Escalated int `json:"escalated_past_level_1"`
	// Noise counts the group's noise incidents: resolved and
	// acknowledged, with no note and no reassignment in their timeline,
	// and either resolved by the alerts themselves (auto-resolved) or
	// resolved at most NoiseWithin after the first acknowledgement.
	Noise int `json:"noise"`

	tta, ttr []time.Duration
}

// Report is Compute's result.
type Report struct {
	From time.Time `json:"from"`
	To   time.Time `json:"to"`
	// Truncated is set by Load when the window held more incidents than
	// it reads: the figures cover the newest ones only.
	Truncated bool `json:"truncated"`
	// NoiseWithin is Options.NoiseWithin, in seconds.
	NoiseWithin float64 `json:"noise_within_seconds"`
	// Routes and People are sorted by Incidents (most first), then Name.
	Routes []*Group `json:"routes"`
	People []*Group `json:"people"`
}

// Compute reports on the incidents created in the window. incidents may
// be in any order; those outside the window or (with o.Route) on another
// route are skipped. clock may be nil: then every person is in UTC and
// always awake.
func Compute(incidents []Incident, clock Clock, o Options) (*Report, error) {
	c, err := newComputer(clock, o)
	if err != nil {
		return nil, err
	}
	for i := range incidents {
		c.add(&incidents[i])
	}
	return c.report(), nil
}

// newComputer checks o and applies its defaults.
func newComputer(clock Clock, o Options) (*computer, error) {
	if o.Window == 0 {
		o.Window = Windows["30d"]
	}
	if o.Window < 0 || o.Window > MaxWindow {
		return nil, fmt.Errorf("compute health: %w: %v (at most %v)", ErrWindow, o.Window, MaxWindow)
	}
	if o.NoiseWithin <= 0 {
		o.NoiseWithin = DefaultNoiseWithin
	}
	return &computer{clock: clock, o: o, from: o.Now.Add(-o.Window),
		routes: map[string]*Group{}, people: map[string]*Group{}, locs: map[string]*time.Location{}}, nil
}

// report finishes the figures.
func (c *computer) report() *Report {
	r := &Report{From: c.from.UTC(), To: c.o.Now.UTC(), NoiseWithin: c.o.NoiseWithin.Seconds()}
	r.Routes = finish(c.routes, c.o.Route)
	r.People = finish(c.people, c.o.User)
	return r
}

type computer struct {
	clock  Clock
	o      Options
	from   time.Time
	routes map[string]*Group
	people map[string]*Group
	locs   map[string]*time.Location
}

// facts are what one incident contributes, read from its timeline once.
type facts struct {
	firstAck   time.Time
	firstAckBy string
	escalated  bool
	noise      bool
	pages      []pager.TimelineEntry
	involved   []string // people, in first-seen order
}

func (c *computer) facts(in *Incident) facts {
	var f facts
	acted := false
	involve := func(u string) {
		if u != "" && u != pager.BySystem && u != pager.ByAlerts && !slices.Contains(f.involved, u) {
			f.involved = append(f.involved, u)
		}
	}
	for _, e := range in.Timeline {
		switch e.Kind {
		case pager.EntryNotify:
			if e.User != "" {
				f.pages = append(f.pages, e)
				involve(e.User)
			}
		case pager.EntryAck:
			if f.firstAck.IsZero() {
				f.firstAck, f.firstAckBy = e.At, e.By
			}
			involve(e.By)
		case pager.EntryResolved:
			involve(e.By)
		case pager.EntryEscalated:
			if e.Level >= 1 {
				f.escalated = true
			}
		case pager.EntryReassign:
			acted = true
			involve(e.User)
		case pager.EntryNote:
			acted = true
		}
	}
	st := &in.State
	if st.Status == pager.StatusResolved && !f.firstAck.IsZero() && !acted {
		f.noise = st.ResolvedBy == pager.ByAlerts || st.ResolvedAt.Sub(f.firstAck) <= c.o.NoiseWithin
	}
	return f
}

// add counts in if it was created in the window (and on o.Route).
func (c *computer) add(in *Incident) {
	st := &in.State
	if st.CreatedAt.Before(c.from) || !st.CreatedAt.Before(c.o.Now) || c.o.Route != "" && st.Route != c.o.Route {
		return
	}
	f := c.facts(in)
	rg := group(c.routes, st.Route)
	c.count(rg, st, &f, f.pages, f.firstAckBy != "")
	for _, u := range f.involved {
		pg := group(c.people, u)
		if pg.TimeZone == "" {
			pg.TimeZone = c.loc(u).String()
		}
		var mine []pager.TimelineEntry
		for _, p := range f.pages {
			if p.User == u {
				mine = append(mine, p)
			}
		}
		c.count(pg, st, &f, mine, f.firstAckBy == u)
	}
}

// count adds one incident to g: pages are the group's pages of it, acked
// whether its first acknowledgement counts for g.
func (c *computer) count(g *Group, st *pager.IncidentState, f *facts, pages []pager.TimelineEntry, acked bool) {
	g.Incidents++
	for _, p := range pages {
		g.Pages++
		g.PagesByHour[p.At.In(c.loc(p.User)).Hour()]++
		if c.clock != nil && !c.clock.Awake(p.User, p.At).Equal(p.At) {
			g.OffHours++
		}
	}
	if acked && !f.firstAck.IsZero() {
		g.tta = append(g.tta, f.firstAck.Sub(st.CreatedAt))
	}
	if st.Status == pager.StatusResolved {
		g.ttr = append(g.ttr, st.ResolvedAt.Sub(st.CreatedAt))
	}
	if f.escalated {
		g.Escalated++
	}
	if f.noise {
		g.Noise++
	}
}

// loc returns user's time zone, UTC when unset or unknown.
func (c *computer) loc(user string) *time.Location {
	if l, ok := c.locs[user]; ok {
		return l
	}
	l := time.UTC
	if c.clock != nil {
		if u := c.clock.User(user); u != nil && u.TimeZone != "" {
			if z, err := time.LoadLocation(u.TimeZone); err == nil {
				l = z
			}
		}
	}
	c.locs[user] = l
	return l
}

func group(m map[string]*Group, name string) *Group {
	g := m[name]
	if g == nil {
		g = &Group{Name: name}
		m[name] = g
	}
	return g
}

// finish computes the percentiles and sorts; only names the group named
// only when only is set.
func finish(m map[string]*Group, only string) []*Group {
	out := make([]*Group, 0, len(m))
	for name, g := range m {
		if only != "" && name != only {
			continue
		}
		g.TimeToAck, g.TimeToResolve = summarise(g.tta), summarise(g.ttr)
		g.tta, g.ttr = nil, nil
		out = append(out, g)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Incidents != out[j].Incidents {
			return out[i].Incidents > out[j].Incidents
		}
		return out[i].Name < out[j].Name
	})
	return out
}

// summarise returns the nearest-rank median and p90 of ds (sorted in
// place).
func summarise(ds []time.Duration) Durations {
	if len(ds) == 0 {
		return Durations{}
	}
	slices.Sort(ds)
	return Durations{Count: len(ds), Median: rank(ds, 50), P90: rank(ds, 90)}
}

// rank returns the nearest-rank p-th percentile of sorted ds: the value
// at 1-based rank ceil(p·n/100).
func rank(ds []time.Duration, p int) time.Duration {
	r := (p*len(ds) + 99) / 100
	if r < 1 {
		r = 1
	}
	return ds[r-1]
}
