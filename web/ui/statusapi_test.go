package ui

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mmcdole/gofeed"

	"github.com/watchdog-sre/watchdog/pager"
)

func postFixtureUpdates(f *fixture) {
	by := pager.Actor{User: "alice", Via: pager.ViaConsole}
	f.pager.postUpdate(pager.StatusUpdate{IncidentID: "inc-1", Status: pager.UpdateResolved, Text: "Disk space recovered.", At: testNow.Add(-2 * time.Hour), By: by})
	f.pager.postUpdate(pager.StatusUpdate{IncidentID: "inc-2", Status: pager.UpdateInvestigating, Text: "Checkout errors.", At: testNow.Add(-9 * time.Minute), By: by})
	f.pager.postUpdate(pager.StatusUpdate{IncidentID: "inc-2", Status: pager.UpdateMonitoring, Text: "Fix deployed <b>& watching</b>.", At: testNow.Add(-3 * time.Minute), By: by})
}

// TestStatusSummaryJSON: /status/api/v2/summary.json has the fields and
// values of Statuspage's public summary, so that widgets read it.
func TestStatusSummaryJSON(t *testing.T) {
	f := newFixture(t)
	postFixtureUpdates(f)
	code, body, hdr := f.get(t, "/status/api/v2/summary.json")
	if code != 200 || !strings.HasPrefix(hdr.Get("Content-Type"), "application/json") {
		t.Fatalf("GET summary.json = %d %s", code, hdr.Get("Content-Type"))
	}
	var s struct {
		Page struct {
			ID, Name, URL string
			TimeZone      string `json:"time_zone"`
		}
		Components []struct {
			ID, Name, Status string
			Position         int
			Description      *string
		}
		Incidents []struct {
			ID, Name, Status, Impact string
			MonitoringAt             *time.Time `json:"monitoring_at"`
			ResolvedAt               *time.Time `json:"resolved_at"`
			StartedAt                time.Time  `json:"started_at"`
			IncidentUpdates          []struct {
				ID, Status, Body string
				IncidentID       string    `json:"incident_id"`
				CreatedAt        time.Time `json:"created_at"`
			} `json:"incident_updates"`
			Components []struct{ Name, Status string }
		}
		ScheduledMaintenances []any `json:"scheduled_maintenances"`
		Status                struct{ Indicator, Description string }
	}
	if err := json.Unmarshal([]byte(body), &s); err != nil {
		t.Fatal(err)
	}
	if s.Page.Name != "Shop status" || s.Page.TimeZone != "Etc/UTC" || s.Page.ID == "" || !strings.HasSuffix(s.Page.URL, "/status") {
		t.Errorf("page %+v", s.Page)
	}
	want := map[string]string{"Checkout": "degraded_performance", "Search": "operational", "Storefront": "degraded_performance"}
	if len(s.Components) != 3 {
		t.Fatalf("components %+v", s.Components)
	}
	for i, c := range s.Components {
		if c.Status != want[c.Name] || c.Position != i+1 || c.ID == "" {
			t.Errorf("component %+v, want status %s", c, want[c.Name])
		}
	}
	if s.Components[0].Description == nil || *s.Components[0].Description != "Paying for your order" {
		t.Errorf("Checkout description %v", s.Components[0].Description)
	}
	if s.Status.Indicator != "minor" || s.ScheduledMaintenances == nil {
		t.Errorf("status %+v, maintenances %v", s.Status, s.ScheduledMaintenances)
	}
	if len(s.Incidents) != 1 {
		t.Fatalf("incidents (unresolved only): %+v", s.Incidents)
	}
	inc := s.Incidents[0]
	if inc.Status != "monitoring" || inc.Impact != "minor" || inc.Name != "Degraded performance: Checkout, Storefront" ||
		inc.MonitoringAt == nil || !inc.MonitoringAt.Equal(testNow.Add(-3*time.Minute)) || inc.ResolvedAt != nil ||
		!inc.StartedAt.Equal(testNow.Add(-10*time.Minute)) || len(inc.Components) != 2 {
		t.Errorf("incident %+v", inc)
	}
	if len(inc.IncidentUpdates) != 2 || inc.IncidentUpdates[0].Body != "Fix deployed <b>& watching</b>." ||
		inc.IncidentUpdates[0].IncidentID != inc.ID || inc.IncidentUpdates[1].Status != "investigating" {
		t.Errorf("updates %+v", inc.IncidentUpdates)
	}
	for _, internal := range []string{"alice", "HighErrorRate", "inc-2", "su-"} {
		if strings.Contains(body, internal) {
			t.Errorf("summary shows internal text %q", internal)
		}
	}
}

// TestStatusFeedAtom: /status/feed.atom is a valid Atom feed (parsed with
// gofeed) of the public updates, newest first, text intact.
func TestStatusFeedAtom(t *testing.T) {
	f := newFixture(t)
	postFixtureUpdates(f)
	code, body, hdr := f.get(t, "/status/feed.atom")
	if code != 200 || !strings.HasPrefix(hdr.Get("Content-Type"), "application/atom+xml") {
		t.Fatalf("GET feed.atom = %d %s", code, hdr.Get("Content-Type"))
	}
	feed, err := gofeed.NewParser().ParseString(body)
	if err != nil {
		t.Fatalf("parse: %v\n%s", err, body)
	}
	if feed.FeedType != "atom" || feed.Title != "Shop status" || feed.UpdatedParsed == nil || !feed.UpdatedParsed.Equal(testNow.Add(-3*time.Minute)) {
		t.Errorf("feed %s %q updated %v", feed.FeedType, feed.Title, feed.UpdatedParsed)
	}
	want := []struct {
		title, content string
		at             time.Time
	}{
		{"Monitoring — Degraded performance: Checkout, Storefront", "Fix deployed <b>& watching</b>.", testNow.Add(-3 * time.Minute)},
		{"Investigating — Degraded performance: Checkout, Storefront", "Checkout errors.", testNow.Add(-9 * time.Minute)},
		{"Resolved — Degraded performance: Checkout", "Disk space recovered.", testNow.Add(-2 * time.Hour)},
	}
	if len(feed.Items) != len(want) {
		t.Fatalf("%d entries, want %d", len(feed.Items), len(want))
	}
	ids := map[string]bool{}
	for i, w := range want {
		it := feed.Items[i]
		if it.Title != w.title || it.Content != w.content || it.UpdatedParsed == nil || !it.UpdatedParsed.Equal(w.at) || it.GUID == "" || ids[it.GUID] {
			t.Errorf("entry %d: %q %q %v %q, want %q %q %v", i, it.Title, it.Content, it.UpdatedParsed, it.GUID, w.title, w.content, w.at)
		}
		ids[it.GUID] = true
	}
	if strings.Contains(body, "<b>") || strings.Contains(body, "alice") {
		t.Error("feed has raw markup or the author")
	}
}

// TestStatusMaintenance: an upcoming window is announced, a running one
// puts its (otherwise operational) components under maintenance, an
// incident still wins, an ended one disappears; the summary lists them as
// scheduled_maintenances; nothing of the silence shows.
func TestStatusMaintenance(t *testing.T) {
	f := newFixture(t)
	f.pager.resolve("inc-2", testNow.Add(-time.Minute))
	f.pager.maint = []pager.Maintenance{
		{ID: "mw-1", Title: "Search reindex", Text: "Results may be stale <i>briefly</i>.", Components: []string{"Search", "Checkout"},
			Matchers: []string{`job="search-internal"`}, StartsAt: testNow.Add(-time.Hour), EndsAt: testNow.Add(time.Hour), SilenceID: "sil-9"},
		{ID: "mw-2", Title: "Storefront migration", Components: []string{"Storefront"}, Matchers: []string{`job="shop"`},
			StartsAt: testNow.Add(48 * time.Hour), EndsAt: testNow.Add(50 * time.Hour)},
		{ID: "mw-3", Title: "Old window", Components: []string{"Storefront"}, Matchers: []string{`job="shop"`},
			StartsAt: testNow.Add(-5 * time.Hour), EndsAt: testNow.Add(-4 * time.Hour)},
	}
	f.pager.add(pager.IncidentState{ID: "inc-5", Route: "pages", Status: pager.StatusTriggered, CreatedAt: testNow.Add(-time.Minute)})
	// Silenced by the window: the maintenance, not an incident.
	f.pager.add(pager.IncidentState{ID: "inc-6", Route: "search", Status: pager.StatusTriggered, Suppressed: true, CreatedAt: testNow.Add(-time.Minute),
		Alerts: []pager.IncidentAlert{{Alert: pager.Alert{Labels: map[string]string{"alertname": "SearchSlow", "job": "search"}}}}})
	v, states := statusOf(t, f)
	if states["Search"] != StateMaintenance || states["Checkout"] != StateDegraded || states["Storefront"] != StateOperational {
		t.Errorf("states %v", states)
	}
	for _, c := range v.Components {
		if c.Name == "Search" && c.Uptime.Percent != "100.00%" {
			t.Errorf("Search's uptime counts the silenced incident: %s", c.Uptime.Percent)
		}
	}
	for _, h := range v.History {
		if slices.Contains(h.Components, "Search") && h.Ongoing {
			t.Errorf("the silenced incident under maintenance shows: %+v", h)
		}
	}
	if len(v.Maintenance) != 2 || !v.Maintenance[0].Active || v.Maintenance[1].Active || v.Maintenance[1].Title != "Storefront migration" {
		t.Fatalf("maintenance %+v", v.Maintenance)
	}
	_, page, _ := f.get(t, "/status")
	for _, want := range []string{`<li class="maintenance" data-state="in_progress">`, `<li class="maintenance" data-state="scheduled">`,
		"Results may be stale &lt;i&gt;briefly&lt;/i&gt;.", `data-component="Search" data-state="under_maintenance"`} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	_, body, _ := f.get(t, "/status/api/v2/summary.json")
	var s struct {
		Components            []struct{ Name, Status string }
		ScheduledMaintenances []struct {
			Name, Status   string
			ScheduledFor   time.Time `json:"scheduled_for"`
			ScheduledUntil time.Time `json:"scheduled_until"`
			Components     []struct{ Name string }
		} `json:"scheduled_maintenances"`
	}
	if err := json.Unmarshal([]byte(body), &s); err != nil {
		t.Fatal(err)
	}
	if len(s.ScheduledMaintenances) != 2 || s.ScheduledMaintenances[0].Status != "in_progress" || s.ScheduledMaintenances[1].Status != "scheduled" ||
		!s.ScheduledMaintenances[1].ScheduledFor.Equal(testNow.Add(48*time.Hour)) || len(s.ScheduledMaintenances[0].Components) != 2 {
		t.Errorf("scheduled_maintenances %+v", s.ScheduledMaintenances)
	}
	for _, c := range s.Components {
		if c.Name == "Search" && c.Status != "under_maintenance" {
			t.Errorf("Search is %s in the summary", c.Status)
		}
	}
	for _, p := range []string{"/status", "/status.json", "/status/api/v2/summary.json"} {
		_, body, _ := f.get(t, p)
		for _, internal := range []string{"search-internal", "sil-9", "mw-1", "Old window"} {
			if strings.Contains(body, internal) {
				t.Errorf("GET %s shows %q", p, internal)
			}
		}
	}
}

// The real pager feeds the status page its updates and windows.
var (
	_ statusUpdateLister = (*pager.Pager)(nil)
	_ maintenanceLister  = (*pager.Pager)(nil)
)
