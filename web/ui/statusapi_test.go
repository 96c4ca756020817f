package ui

import (
	"encoding/json"
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
