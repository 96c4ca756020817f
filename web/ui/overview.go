package ui

import (
	"cmp"
	"net/http"
	"slices"
	"time"

	"github.com/watchdog-sre/watchdog/pager"
	"github.com/watchdog-sre/watchdog/web"
)

// alertRow is a pending or firing alert with the rule it belongs to.
type alertRow struct {
	Rule, Anchor string
	Labels       map[string]string
	Summary      string
	State        string
	ActiveAt     time.Time
	Value        float64
}

// incidentRow is an incident in a list.
type incidentRow struct {
	ID, Title, Route string
	Status           pager.Status
	Major            bool
	Holder           string
	CreatedAt        time.Time
	ResolvedAt       time.Time
	Alerts           int
	// Stuck says why the open incident has no next step; "" when fine.
	Stuck string
}

// onCallRow is who is on call now for one schedule.
type onCallRow struct {
	Schedule, Anchor string
	Users            []string
	Err              string
}

type targetRow struct {
	Anchor string
	web.Target
}

type overviewData struct {
	PagerEnabled    bool
	Firing, Pending []alertRow
	Open, Resolved  []incidentRow
	IncidentsErr    string
	TargetsDown     []targetRow
	TargetsTotal    int
	OnCall          []onCallRow
	Cluster         *clusterView // nil: not shown
	// Overdue lists the open action items past their due date.
	Overdue []pager.ActionItemRef
}

// ruleAnchor is the element id of rule ri of group gi on /alerts.
func ruleAnchor(gi, ri int) string { return "rule-" + itoa(gi) + "-" + itoa(ri) }

func (c *console) ruleGroups() []web.RuleGroup {
	if c.o.Rules == nil {
		return nil
	}
	return c.o.Rules()
}

func (c *console) targetList() []web.Target {
	if c.o.Targets == nil {
		return nil
	}
	return c.o.Targets()
}

func (c *console) pagerConfig() *pager.Config {
	if c.o.PagerConfig == nil {
		return nil
	}
	return c.o.PagerConfig()
}

// holder is who holds an incident: who acknowledged it, whom it was
// reassigned to, or who its current escalation level pages.
func (c *console) holder(st *pager.IncidentState, now time.Time) string {
	switch {
	case st.Status == pager.StatusResolved:
		return st.ResolvedBy
	case st.AckedBy != "" && st.Status == pager.StatusAcknowledged:
		return st.AckedBy
	case st.Assignee != "":
		return st.Assignee
	case st.Policy == "":
		return ""
	}
	list, err := c.o.Pager.WhoIsOnCall("policy:"+st.Policy, now)
	if err != nil {
		return ""
	}
	var users []string
	for _, o := range list {
		if o.Level == st.Level && o.User != "" && !slices.Contains(users, o.User) {
			users = append(users, o.User)
		}
	}
	if len(users) == 0 {
		return ""
	}
	return "paging " + joinComma(users)
}

func (c *console) incidentRows(list []pager.IncidentState, now time.Time) []incidentRow {
	out := make([]incidentRow, 0, len(list))
	for i := range list {
		st := &list[i]
		out = append(out, incidentRow{ID: st.ID, Title: st.Title, Route: st.Route, Status: st.Status, Major: st.Major,
			Holder: c.holder(st, now), CreatedAt: st.CreatedAt, ResolvedAt: st.ResolvedAt, Alerts: len(st.Alerts)})
		if st.Open() {
			out[len(out)-1].Stuck = st.Stuck
		}
	}
	return out
}

func (c *console) overview(w http.ResponseWriter, r *http.Request) {
	now := c.o.Now()
	d := overviewData{PagerEnabled: c.o.Pager != nil}
	for gi, g := range c.ruleGroups() {
		for ri, rule := range g.Rules {
			if rule.Type != web.RuleTypeAlerting {
				continue
			}
			for _, a := range rule.Alerts {
				row := alertRow{Rule: rule.Name, Anchor: ruleAnchor(gi, ri), Labels: a.Labels.Map(),
					Summary: a.Annotations.Get("summary"), State: a.State, Value: a.Value}
				if a.ActiveAt != nil {
					row.ActiveAt = *a.ActiveAt
				}
				switch a.State {
				case web.AlertStateFiring:
					d.Firing = append(d.Firing, row)
				case web.AlertStatePending:
					d.Pending = append(d.Pending, row)
				}
			}
		}
	}
	for _, list := range [][]alertRow{d.Firing, d.Pending} {
		slices.SortStableFunc(list, func(a, b alertRow) int { return a.ActiveAt.Compare(b.ActiveAt) })
	}
	if c.o.Pager != nil {
		open, err := c.o.Pager.Incidents(pager.IncidentFilter{Statuses: []pager.Status{pager.StatusTriggered, pager.StatusAcknowledged}, Limit: 100})
		if err != nil {
			d.IncidentsErr = err.Error()
		}
		d.Open = c.incidentRows(open, now)
		resolved, err := c.o.Pager.Incidents(pager.IncidentFilter{Statuses: []pager.Status{pager.StatusResolved}, Limit: 10})
		if err != nil {
			d.IncidentsErr = err.Error()
		}
		d.Resolved = c.incidentRows(resolved, now)
		d.OnCall = c.onCallNow(now)
		d.Cluster = c.cluster(now)
	}
	targets := c.targetList()
	d.TargetsTotal = len(targets)
	for i, t := range targets {
		if t.Health == web.HealthBad {
			d.TargetsDown = append(d.TargetsDown, targetRow{Anchor: "target-" + itoa(i), Target: t})
		}
	}
	if c.o.Postmortems != nil {
		if items, err := c.o.Postmortems.ActionItems(pager.ActionItemFilter{Overdue: true}); err == nil {
			d.Overdue = items
		}
	}
	c.render(w, http.StatusOK, "overview", pageData{Title: "Overview", Nav: "overview", RefreshSeconds: 30, Data: d})
}

// onCallNow asks the pager who is on call for every schedule.
func (c *console) onCallNow(now time.Time) []onCallRow {
	pc := c.pagerConfig()
	if pc == nil {
		return nil
	}
	var out []onCallRow
	for i, s := range pc.Schedules {
		row := onCallRow{Schedule: s.Name, Anchor: "schedule-" + itoa(i)}
		list, err := c.o.Pager.WhoIsOnCall("schedule:"+s.Name, now)
		if err != nil {
			row.Err = err.Error()
		}
		for _, o := range list {
			if o.User != "" && !slices.Contains(row.Users, o.User) {
				row.Users = append(row.Users, o.User)
			}
		}
		out = append(out, row)
	}
	slices.SortStableFunc(out, func(a, b onCallRow) int { return cmp.Compare(a.Schedule, b.Schedule) })
	return out
}
