package health

import (
	"errors"
	"slices"
	"testing"

	"github.com/watchdog-sre/watchdog/pager"
)

// fakeSource serves the fixture as a store would: newest first, Limit
// applied, and records the filter it was asked.
type fakeSource struct {
	in      []Incident
	filters []pager.IncidentFilter
	reads   int
	gone    string // an incident listed but no longer readable
}

func (f *fakeSource) Incidents(fl pager.IncidentFilter) ([]pager.IncidentState, error) {
	f.filters = append(f.filters, fl)
	var out []pager.IncidentState
	for _, in := range f.in {
		if fl.Match(&in.State) {
			out = append(out, in.State)
		}
	}
	slices.SortFunc(out, func(a, b pager.IncidentState) int { return b.CreatedAt.Compare(a.CreatedAt) })
	if fl.Limit > 0 && len(out) > fl.Limit {
		out = out[:fl.Limit]
	}
	return out, nil
}

func (f *fakeSource) Incident(id string) (pager.IncidentState, []pager.TimelineEntry, error) {
	f.reads++
	for _, in := range f.in {
		if in.State.ID == id && id != f.gone {
			return in.State, in.Timeline, nil
		}
	}
	return pager.IncidentState{}, nil, pager.ErrNotFound
}

func TestLoad(t *testing.T) {
	src := &fakeSource{in: fixture()}
	r, err := Load(src, fixtureClock(t), Options{Now: fixtureNow}, 0)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := Compute(fixture(), fixtureClock(t), Options{Now: fixtureNow})
	compare(t, r, want)
	if r.Truncated {
		t.Error("truncated")
	}
	if f := src.filters[0]; !f.Since.Equal(fixtureNow.Add(-Windows["30d"])) || f.Limit != DefaultMaxIncidents+1 {
		t.Errorf("filter %+v", f)
	}

	// At most 2: the newest two since the window's start are inc-7 (at
	// Now, outside the window, dropped by Compute) and inc-5; no other
	// timeline is read.
	src = &fakeSource{in: fixture()}
	r, err = Load(src, fixtureClock(t), Options{Now: fixtureNow}, 2)
	if err != nil {
		t.Fatal(err)
	}
	if !r.Truncated || len(r.Routes) != 1 || r.Routes[0].Name != "web" || r.Routes[0].Incidents != 1 || src.reads != 2 {
		t.Errorf("max 2: truncated %v routes %+v reads %d", r.Truncated, r.Routes, src.reads)
	}

	// An incident gone between listing and reading is skipped.
	src = &fakeSource{in: fixture(), gone: "inc-5"}
	if r, err = Load(src, fixtureClock(t), Options{Now: fixtureNow, Route: "web"}, 0); err != nil || r.Routes[0].Incidents != 2 {
		t.Errorf("gone: %v %+v", err, r)
	}
	if _, err := Load(src, nil, Options{Now: fixtureNow, Window: MaxWindow + 1}, 0); !errors.Is(err, ErrWindow) {
		t.Errorf("long window: %v", err)
	}
}
