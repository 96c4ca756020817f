package ui

import (
	"net/http"
	"slices"
	"time"

	"github.com/watchdog-sre/watchdog/pager"
)

// maxPastMaintenance bounds the ended windows the /maintenance page lists.
const maxPastMaintenance = 50

// maintenanceRow is one window on the /maintenance page.
type maintenanceRow struct {
	pager.Maintenance
	Phase string
}

// maintenanceTable is one list of windows with what its end buttons need.
type maintenanceTable struct {
	Rows       []maintenanceRow
	User, CSRF string
}

// maintenanceData is the /maintenance page's.
type maintenanceData struct {
	// Available is false when the pager keeps no maintenance windows.
	Available bool
	Err       string
	// Upcoming and Active by start; Past (completed or cancelled) newest
	// first, at most maxPastMaintenance.
	Upcoming, Active, Past maintenanceTable
	// Components are the status page's, offered as checkboxes.
	Components []string
	// Start and End prefill the form (datetime-local, UTC).
	Start, End string
	User, CSRF string
	SignIn     bool
}

// maintenancePage lists the maintenance windows and, for a signed-in
// person, offers the forms to schedule one and to end one early (package
// web serves POST /maintenance/act; it needs the admin scope).
func (c *console) maintenancePage(w http.ResponseWriter, r *http.Request) {
	now := c.o.Now().UTC()
	d := maintenanceData{Start: now.Add(time.Hour).Truncate(time.Hour).Format("2006-01-02T15:04"),
		End: now.Add(3 * time.Hour).Truncate(time.Hour).Format("2006-01-02T15:04")}
	for _, sc := range c.statusConfig().components {
		d.Components = append(d.Components, sc.name)
	}
	if c.o.Session != nil {
		d.SignIn = true
		d.User, d.CSRF, _ = c.o.Session(r)
	}
	if ml, ok := c.o.Pager.(maintenanceLister); ok {
		d.Available = true
		list, err := ml.Maintenances()
		if err != nil {
			d.Err = err.Error()
		}
		for _, m := range list {
			row := maintenanceRow{Maintenance: m, Phase: m.Phase(now)}
			switch row.Phase {
			case pager.MaintenanceUpcoming:
				d.Upcoming.Rows = append(d.Upcoming.Rows, row)
			case pager.MaintenanceActive:
				d.Active.Rows = append(d.Active.Rows, row)
			default:
				d.Past.Rows = append(d.Past.Rows, row)
			}
		}
		slices.Reverse(d.Past.Rows)
		d.Past.Rows = d.Past.Rows[:min(len(d.Past.Rows), maxPastMaintenance)]
	}
	for _, t := range []*maintenanceTable{&d.Upcoming, &d.Active, &d.Past} {
		t.User, t.CSRF = d.User, d.CSRF
	}
	c.render(w, http.StatusOK, "maintenance", pageData{Title: "Maintenance", Nav: "maintenance", Data: d})
}
