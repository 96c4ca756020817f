package ui

import (
	"fmt"
	"slices"
	"time"

	"github.com/watchdog-sre/watchdog/pager"
)

// uptimeDays is the span of the uptime bars.
const uptimeDays = 90

// uptimeDay is one bar: a UTC day, the worst state an incident put the
// component in that day, and how long incidents covered it.
type uptimeDay struct {
	Date        string `json:"date"` // 2006-01-02
	State       string `json:"status"`
	DownSeconds int64  `json:"down_seconds"`
	Down        string `json:"-"`
}

// componentUptime is a component's bars and its uptime over them.
type componentUptime struct {
	// Percent is the share of the span (up to now) no incident covered,
	// truncated to two decimals ("99.97%"): never "100.00%" after an
	// incident.
	Percent string      `json:"uptime"`
	Days    []uptimeDay `json:"days"`
}

type span struct {
	from, to time.Time
	state    string
}

// computeUptime derives the bars of component c from the incidents: each
// open or resolved incident that concerns it covers [CreatedAt,
// ResolvedAt) (up to now while open); overlapping ones count once. It
// depends only on its arguments.
func computeUptime(c *statusComponent, incidents []pager.IncidentState, now time.Time) componentUptime {
	now = now.UTC()
	today := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC)
	start := today.AddDate(0, 0, -(uptimeDays - 1))
	var spans []span
	for i := range incidents {
		st := &incidents[i]
		if !c.affects(st) {
			continue
		}
		end := now
		if !st.Open() {
			end = st.ResolvedAt.UTC()
		}
		if end.After(now) {
			end = now
		}
		if end.After(st.CreatedAt) && end.After(start) {
			spans = append(spans, span{st.CreatedAt.UTC(), end, severity(st)})
		}
	}
	var u componentUptime
	var down int64
	for d := range uptimeDays {
		from := start.AddDate(0, 0, d)
		to := from.AddDate(0, 0, 1)
		if to.After(now) {
			to = now
		}
		day := uptimeDay{Date: from.Format(time.DateOnly), State: StateOperational}
		var clipped []span
		for _, s := range spans {
			if s.from.Before(to) && s.to.After(from) {
				clipped = append(clipped, span{maxTime(s.from, from), minTime(s.to, to), s.state})
				if stateRank[s.state] > stateRank[day.State] {
					day.State = s.state
				}
			}
		}
		day.DownSeconds = int64(union(clipped) / time.Second)
		day.Down = exactDuration(time.Duration(day.DownSeconds) * time.Second)
		down += day.DownSeconds
		u.Days = append(u.Days, day)
	}
	total := int64(now.Sub(start) / time.Second)
	if total <= 0 {
		total = 1
	}
	bp := (total - down) * 10000 / total // hundredths of a percent, truncated
	u.Percent = fmt.Sprintf("%d.%02d%%", bp/100, bp%100)
	return u
}

// union is the total length covered by spans.
func union(spans []span) time.Duration {
	slices.SortFunc(spans, func(a, b span) int { return a.from.Compare(b.from) })
	var total time.Duration
	var curFrom, curTo time.Time
	for i, s := range spans {
		if i == 0 || s.from.After(curTo) {
			total += curTo.Sub(curFrom)
			curFrom, curTo = s.from, s.to
		} else if s.to.After(curTo) {
			curTo = s.to
		}
	}
	return total + curTo.Sub(curFrom)
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}
