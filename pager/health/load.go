package health

import (
	"errors"
	"fmt"

	"github.com/watchdog-sre/watchdog/pager"
)

// DefaultMaxIncidents is Load's bound when max is not positive.
const DefaultMaxIncidents = 5000

// Source reads incidents and their timelines (a *pager.Pager does).
type Source interface {
	// Incidents returns the incidents f selects, newest first.
	Incidents(f pager.IncidentFilter) ([]pager.IncidentState, error)
	// Incident returns one incident and its timeline.
	Incident(id string) (pager.IncidentState, []pager.TimelineEntry, error)
}

// Load computes the report of o from src, reading at most max incidents
// (DefaultMaxIncidents when max ≤ 0), the newest of the window, one
// timeline at a time; when the window holds more, the report says
// Truncated and covers the newest max. Incidents that vanish between the
// listing and the timeline read are skipped.
func Load(src Source, clock Clock, o Options, max int) (*Report, error) {
	if max <= 0 {
		max = DefaultMaxIncidents
	}
	c, err := newComputer(clock, o)
	if err != nil {
		return nil, err
	}
	list, err := src.Incidents(pager.IncidentFilter{Route: o.Route, Since: c.from, Limit: max + 1})
	if err != nil {
		return nil, fmt.Errorf("list incidents: %w", err)
	}
	truncated := len(list) > max
	if truncated {
		list = list[:max]
	}
	// One timeline at a time: only the figures are kept.
	for i := range list {
		id := list[i].ID
		st, tl, err := src.Incident(id)
		if errors.Is(err, pager.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("read incident %s: %w", id, err)
		}
		c.add(&Incident{State: st, Timeline: tl})
	}
	r := c.report()
	r.Truncated = truncated
	return r, nil
}
