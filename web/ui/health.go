package ui

import (
	"net/http"
	"strconv"
	"time"

	"github.com/watchdog-sre/watchdog/pager/health"
)

// maxHealthName bounds the route and user filters of /health.
const maxHealthName = 256

// healthData is the /health page.
type healthData struct {
	PagerEnabled bool
	Window       string
	Windows      []string
	Route, User  string
	Report       *health.Report
	People       []healthRow
	Routes       []healthRow
}

// healthRow is one person or route with its pages-by-hour bars.
type healthRow struct {
	*health.Group
	Bars []hourBar
}

// hourBar is one hour of the pages-by-hour chart (viewBox 0 0 96 24).
type hourBar struct {
	X, Y, H string
	Title   string
}

// healthPage serves /health?window=30d&route=&user=: the on-call health
// report (package pager/health) as a table per person and per route.
func (c *console) healthPage(w http.ResponseWriter, r *http.Request) {
	d := healthData{PagerEnabled: c.o.Pager != nil, Window: r.FormValue("window"), Windows: []string{"7d", "30d", "90d"},
		Route: r.FormValue("route"), User: r.FormValue("user")}
	if d.Window == "" {
		d.Window = "30d"
	}
	window, ok := health.Windows[d.Window]
	if !ok {
		c.fail(w, http.StatusBadRequest, "window must be 7d, 30d or 90d")
		return
	}
	if len(d.Route) > maxHealthName || len(d.User) > maxHealthName {
		c.fail(w, http.StatusBadRequest, "route and user must be at most "+strconv.Itoa(maxHealthName)+" bytes")
		return
	}
	if c.o.Pager != nil {
		select {
		case c.healthGate <- struct{}{}:
			defer func() { <-c.healthGate }()
		case <-r.Context().Done():
			c.fail(w, http.StatusServiceUnavailable, "busy with another on-call health report: try again")
			return
		}
		var clock health.Clock
		if pc := c.pagerConfig(); pc != nil {
			clock = pc
		}
		rep, err := health.Load(c.o.Pager, clock, health.Options{Now: c.o.Now(), Window: window, Route: d.Route, User: d.User}, 0)
		if err != nil {
			c.o.Logger.Error("on-call health", "err", err)
			c.fail(w, http.StatusInternalServerError, "the pager's incidents cannot be read")
			return
		}
		d.Report = rep
		d.People, d.Routes = healthRows(rep.People), healthRows(rep.Routes)
	}
	c.render(w, http.StatusOK, "health", pageData{Title: "On-call health", Nav: "health", Data: d})
}

func healthRows(gs []*health.Group) []healthRow {
	out := make([]healthRow, 0, len(gs))
	for _, g := range gs {
		most := 0
		for _, n := range g.PagesByHour {
			most = max(most, n)
		}
		row := healthRow{Group: g}
		for h, n := range g.PagesByHour {
			if n == 0 {
				continue
			}
			ht := 24 * float64(n) / float64(most)
			row.Bars = append(row.Bars, hourBar{X: formatFloat(float64(4*h), 1), Y: formatFloat(24-ht, 1), H: formatFloat(ht, 1),
				Title: strconv.Itoa(h) + ":00–" + strconv.Itoa(h) + ":59: " + strconv.Itoa(n) + " pages"})
		}
		out = append(out, row)
	}
	return out
}

// dur formats a duration for the health tables; zero is a dash.
func dur(d time.Duration) string {
	if d <= 0 {
		return "—"
	}
	return d.Round(time.Second).String()
}
