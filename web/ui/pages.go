package ui

import (
	"net/http"
	"slices"
	"time"

	"github.com/watchdog-sre/watchdog/pager/schedule"
	"github.com/watchdog-sre/watchdog/web"
)

// ---- alerts and rules ----

type ruleRow struct {
	Anchor string
	web.Rule
	StateOrHealth string
	LabelMap      map[string]string
	Annotations   map[string]string
	Active        []alertRow
}

type groupRow struct {
	web.RuleGroup
	Rows []ruleRow
}

type alertsData struct {
	Groups               []groupRow
	Firing, Pending, Bad int
	Alerting, Recording  int
}

func (c *console) alerts(w http.ResponseWriter, r *http.Request) {
	var d alertsData
	for gi, g := range c.ruleGroups() {
		gr := groupRow{RuleGroup: g}
		for ri, rule := range g.Rules {
			row := ruleRow{Anchor: ruleAnchor(gi, ri), Rule: rule, LabelMap: rule.Labels.Map(),
				Annotations: rule.Annotations.Map()}
			if row.Health == "" {
				row.Health = web.RuleHealthUnknown
			}
			if rule.Type == web.RuleTypeAlerting {
				d.Alerting++
				row.StateOrHealth = rule.State
				if row.StateOrHealth == "" {
					row.StateOrHealth = web.AlertStateInactive
				}
				for _, a := range rule.Alerts {
					if a.State == web.AlertStateFiring || a.State == web.AlertStatePending {
						ar := alertRow{Rule: rule.Name, Labels: a.Labels.Map(), State: a.State, Value: a.Value,
							Summary: a.Annotations.Get("summary")}
						if a.ActiveAt != nil {
							ar.ActiveAt = *a.ActiveAt
						}
						row.Active = append(row.Active, ar)
					}
				}
				switch row.StateOrHealth {
				case web.AlertStateFiring:
					d.Firing++
				case web.AlertStatePending:
					d.Pending++
				}
			} else {
				d.Recording++
				row.StateOrHealth = "recording"
			}
			if row.Health == web.RuleHealthBad {
				d.Bad++
			}
			gr.Rows = append(gr.Rows, row)
		}
		d.Groups = append(d.Groups, gr)
	}
	c.render(w, http.StatusOK, "alerts", pageData{Title: "Alerts and rules", Nav: "alerts", RefreshSeconds: 30, Data: d})
}

// ---- targets ----

type targetsData struct {
	Targets  []targetRow
	Up, Down int
}

func (c *console) targets(w http.ResponseWriter, r *http.Request) {
	var d targetsData
	for i, t := range c.targetList() {
		if t.Health == "" {
			t.Health = web.HealthUnknown
		}
		switch t.Health {
		case web.HealthGood:
			d.Up++
		case web.HealthBad:
			d.Down++
		}
		d.Targets = append(d.Targets, targetRow{Anchor: "target-" + itoa(i), Target: t})
	}
	// Down targets first, then by pool, keeping the anchors of the index.
	slices.SortStableFunc(d.Targets, func(a, b targetRow) int {
		if (a.Health == web.HealthBad) != (b.Health == web.HealthBad) {
			if a.Health == web.HealthBad {
				return -1
			}
			return 1
		}
		return 0
	})
	c.render(w, http.StatusOK, "targets", pageData{Title: "Targets", Nav: "targets", RefreshSeconds: 30, Data: d})
}

// ---- on call ----

// oncallDays is how far ahead the on-call page looks.
const oncallDays = 14

type shiftBar struct {
	schedule.Shift
	// X and W place the bar on the SVG timeline, 0 to timelineWidth.
	X, W string
}

type dayMark struct {
	X     string
	Label string
}

type scheduleRow struct {
	Name, Anchor string
	TimeZone     string
	Now          string
	Shifts       []shiftBar
}

type oncallData struct {
	PagerEnabled bool
	// User and CSRF are the signed-in person and their forms' CSRF token
	// (the override form); empty when nobody is signed in.
	User, CSRF string
	From, To   time.Time
	Days       []dayMark
	Schedules  []scheduleRow
}

// timelineWidth is the SVG width of the on-call timeline (a viewBox unit:
// the SVG scales to the screen); no inline styles, which the CSP forbids.
const timelineWidth = 1400

func unit(f float64) string { return formatFloat(f*timelineWidth, 1) }

func (c *console) oncall(w http.ResponseWriter, r *http.Request) {
	now := c.o.Now()
	from := now.Truncate(time.Hour)
	to := from.Add(oncallDays * 24 * time.Hour)
	d := oncallData{PagerEnabled: c.o.Pager != nil, From: from, To: to}
	if c.o.Session != nil {
		d.User, d.CSRF, _ = c.o.Session(r)
	}
	span := to.Sub(from).Seconds()
	for i := range oncallDays {
		day := from.Add(time.Duration(i) * 24 * time.Hour)
		d.Days = append(d.Days, dayMark{X: unit(float64(i) / oncallDays), Label: day.UTC().Format("Mon 02 Jan")})
	}
	if pc := c.pagerConfig(); pc != nil {
		for i, s := range pc.Schedules {
			if c.o.Schedule != nil {
				if e := c.o.Schedule(s.Name); e != nil {
					s = e
				}
			}
			row := scheduleRow{Name: s.Name, Anchor: "schedule-" + itoa(i), TimeZone: s.TimeZone}
			if u, ok := s.OnCall(now); ok {
				row.Now = u
			}
			for _, sh := range s.Shifts(from, to) {
				start, end := sh.Start, sh.End
				if start.Before(from) {
					start = from
				}
				if end.After(to) {
					end = to
				}
				if !end.After(start) {
					continue
				}
				row.Shifts = append(row.Shifts, shiftBar{Shift: sh,
					X: unit(start.Sub(from).Seconds() / span),
					W: unit(end.Sub(start).Seconds() / span)})
			}
			d.Schedules = append(d.Schedules, row)
		}
	}
	c.render(w, http.StatusOK, "oncall", pageData{Title: "On call", Nav: "oncall", Data: d})
}
