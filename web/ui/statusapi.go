package ui

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
	"hash/fnv"
	"net/http"
	"slices"
	"strings"
	"time"
)

// Statuspage-compatible names of the component states and the page's
// indicator (the public api/v2/summary.json of Atlassian Statuspage).
var (
	summaryComponentStatus = map[string]string{StateOperational: "operational", StateDegraded: "degraded_performance",
		StateMajorOutage: "major_outage", StateMaintenance: "under_maintenance"}
	summaryIndicator = map[string]string{StateOperational: "none", StateDegraded: "minor", StateMajorOutage: "major"}
	summaryImpact    = map[string]string{StateDegraded: "minor", StateMajorOutage: "major"}
)

// maxFeedEntries bounds the Atom feed.
const maxFeedEntries = 50

type summaryPage struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	URL       string    `json:"url"`
	TimeZone  string    `json:"time_zone"`
	UpdatedAt time.Time `json:"updated_at"`
}

type summaryComponent struct {
	ID                 string    `json:"id"`
	Name               string    `json:"name"`
	Status             string    `json:"status"`
	CreatedAt          time.Time `json:"created_at"`
	UpdatedAt          time.Time `json:"updated_at"`
	Position           int       `json:"position"`
	Description        *string   `json:"description"`
	Showcase           bool      `json:"showcase"`
	StartDate          *string   `json:"start_date"`
	GroupID            *string   `json:"group_id"`
	PageID             string    `json:"page_id"`
	Group              bool      `json:"group"`
	OnlyShowIfDegraded bool      `json:"only_show_if_degraded"`
}

type summaryUpdate struct {
	ID                 string    `json:"id"`
	Status             string    `json:"status"`
	Body               string    `json:"body"`
	IncidentID         string    `json:"incident_id"`
	CreatedAt          time.Time `json:"created_at"`
	UpdatedAt          time.Time `json:"updated_at"`
	DisplayAt          time.Time `json:"display_at"`
	AffectedComponents []any     `json:"affected_components"`
}

type summaryIncident struct {
	ID              string             `json:"id"`
	Name            string             `json:"name"`
	Status          string             `json:"status"`
	CreatedAt       time.Time          `json:"created_at"`
	UpdatedAt       time.Time          `json:"updated_at"`
	MonitoringAt    *time.Time         `json:"monitoring_at"`
	ResolvedAt      *time.Time         `json:"resolved_at"`
	Impact          string             `json:"impact"`
	Shortlink       string             `json:"shortlink"`
	StartedAt       time.Time          `json:"started_at"`
	PageID          string             `json:"page_id"`
	IncidentUpdates []summaryUpdate    `json:"incident_updates"`
	Components      []summaryComponent `json:"components"`
}

// summaryMaintenance is a scheduled maintenance of the summary.
type summaryMaintenance struct {
	ID              string             `json:"id"`
	Name            string             `json:"name"`
	Status          string             `json:"status"` // scheduled, in_progress
	CreatedAt       time.Time          `json:"created_at"`
	UpdatedAt       time.Time          `json:"updated_at"`
	MonitoringAt    *time.Time         `json:"monitoring_at"`
	ResolvedAt      *time.Time         `json:"resolved_at"`
	Impact          string             `json:"impact"`
	Shortlink       string             `json:"shortlink"`
	StartedAt       time.Time          `json:"started_at"`
	PageID          string             `json:"page_id"`
	ScheduledFor    time.Time          `json:"scheduled_for"`
	ScheduledUntil  time.Time          `json:"scheduled_until"`
	IncidentUpdates []summaryUpdate    `json:"incident_updates"`
	Components      []summaryComponent `json:"components"`
}

type summaryStatus struct {
	Indicator   string `json:"indicator"`
	Description string `json:"description"`
}

// statusSummary is the page in the shape of Statuspage's public
// api/v2/summary.json: the unresolved incidents only, as there.
type statusSummary struct {
	Page                  summaryPage          `json:"page"`
	Components            []summaryComponent   `json:"components"`
	Incidents             []summaryIncident    `json:"incidents"`
	ScheduledMaintenances []summaryMaintenance `json:"scheduled_maintenances"`
	Status                summaryStatus        `json:"status"`
}

// opaqueID hashes parts into a stable public identifier.
func opaqueID(parts ...string) string {
	h := fnv.New64a()
	for _, p := range parts {
		fmt.Fprintf(h, "%s\x00", p)
	}
	return fmt.Sprintf("%016x", h.Sum64())
}

// incidentName is an incident's public name: its impact and components.
func incidentName(h *statusIncident) string {
	return stateText[h.State] + ": " + strings.Join(h.Components, ", ")
}

// buildSummary converts the page into the summary; url is the page's
// address.
func buildSummary(v statusView, url string) statusSummary {
	pageID := opaqueID("page", v.Title)
	s := statusSummary{Page: summaryPage{ID: pageID, Name: v.Title, URL: url, TimeZone: "Etc/UTC", UpdatedAt: v.Updated},
		Components: []summaryComponent{}, Incidents: []summaryIncident{}, ScheduledMaintenances: []summaryMaintenance{},
		Status: summaryStatus{Indicator: summaryIndicator[v.State], Description: v.StateText}}
	byName := map[string]summaryComponent{}
	for i, c := range v.Components {
		sc := summaryComponent{ID: opaqueID("component", c.Name), Name: c.Name, Status: summaryComponentStatus[c.State],
			CreatedAt: v.Updated, UpdatedAt: v.Updated, Position: i + 1, PageID: pageID}
		if c.Description != "" {
			d := c.Description
			sc.Description = &d
		}
		byName[c.Name] = sc
		s.Components = append(s.Components, sc)
	}
	for i := range v.History {
		h := &v.History[i]
		if !h.Ongoing {
			continue
		}
		inc := summaryIncident{ID: h.ID, Name: incidentName(h), Status: h.Phase, CreatedAt: h.Start, UpdatedAt: h.Start,
			Impact: summaryImpact[h.State], Shortlink: url, StartedAt: h.Start, PageID: pageID,
			IncidentUpdates: []summaryUpdate{}, Components: []summaryComponent{}}
		if inc.Status == "" || inc.Status == "resolved" {
			inc.Status = "investigating" // still open in the pager
		}
		for _, u := range h.Updates {
			inc.IncidentUpdates = append(inc.IncidentUpdates, summaryUpdate{ID: u.ID, Status: u.Status, Body: u.Text,
				IncidentID: h.ID, CreatedAt: u.At, UpdatedAt: u.At, DisplayAt: u.At, AffectedComponents: []any{}})
			if u.At.After(inc.UpdatedAt) {
				inc.UpdatedAt = u.At
			}
			if u.Status == "monitoring" && (inc.MonitoringAt == nil || u.At.Before(*inc.MonitoringAt)) {
				at := u.At
				inc.MonitoringAt = &at
			}
		}
		for _, n := range h.Components {
			inc.Components = append(inc.Components, byName[n])
		}
		s.Incidents = append(s.Incidents, inc)
	}
	for _, m := range v.Maintenance {
		sm := summaryMaintenance{ID: m.ID, Name: m.Title, Status: "scheduled", CreatedAt: m.Start, UpdatedAt: m.Start,
			Impact: "maintenance", Shortlink: url, StartedAt: m.Start, PageID: pageID, ScheduledFor: m.Start, ScheduledUntil: m.End,
			IncidentUpdates: []summaryUpdate{}, Components: []summaryComponent{}}
		if m.Active {
			sm.Status = "in_progress"
		}
		if m.Text != "" {
			sm.IncidentUpdates = append(sm.IncidentUpdates, summaryUpdate{ID: opaqueID("maintenance-text", m.ID), Status: sm.Status,
				Body: m.Text, IncidentID: m.ID, CreatedAt: m.Start, UpdatedAt: m.Start, DisplayAt: m.Start, AffectedComponents: []any{}})
		}
		for _, n := range m.Components {
			sm.Components = append(sm.Components, byName[n])
		}
		s.ScheduledMaintenances = append(s.ScheduledMaintenances, sm)
	}
	return s
}

// statusURL is the absolute address of the page if the request says
// where it came from, else its path.
func statusURL(r *http.Request) string {
	if r.Host == "" {
		return "/status"
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host + "/status"
}

func (c *console) statusSummary(w http.ResponseWriter, r *http.Request) {
	s := buildSummary(c.currentStatus(), statusURL(r))
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Access-Control-Allow-Origin", "*") // read by widgets on other sites
	_ = json.NewEncoder(w).Encode(s)
}

// Atom (RFC 4287) documents.
type atomFeed struct {
	XMLName xml.Name    `xml:"http://www.w3.org/2005/Atom feed"`
	ID      string      `xml:"id"`
	Title   string      `xml:"title"`
	Updated string      `xml:"updated"`
	Link    []atomLink  `xml:"link"`
	Author  atomAuthor  `xml:"author"`
	Entries []atomEntry `xml:"entry"`
}

type atomLink struct {
	Rel  string `xml:"rel,attr,omitempty"`
	Type string `xml:"type,attr,omitempty"`
	Href string `xml:"href,attr"`
}

type atomAuthor struct {
	Name string `xml:"name"`
}

type atomText struct {
	Type string `xml:"type,attr"`
	Body string `xml:",chardata"`
}

type atomEntry struct {
	ID        string     `xml:"id"`
	Title     string     `xml:"title"`
	Updated   string     `xml:"updated"`
	Published string     `xml:"published"`
	Link      []atomLink `xml:"link"`
	Content   atomText   `xml:"content"`
}

// buildFeed is the Atom feed of the page's public updates, newest first,
// at most maxFeedEntries.
func buildFeed(v statusView, url string) atomFeed {
	type item struct {
		h *statusIncident
		u publicUpdate
	}
	var items []item
	for i := range v.History {
		for _, u := range v.History[i].Updates {
			items = append(items, item{&v.History[i], u})
		}
	}
	slices.SortStableFunc(items, func(a, b item) int { return b.u.At.Compare(a.u.At) })
	if len(items) > maxFeedEntries {
		items = items[:maxFeedEntries]
	}
	updated := v.Updated
	if len(items) > 0 {
		updated = items[0].u.At
	}
	f := atomFeed{ID: "urn:watchdog:status:" + opaqueID("page", v.Title), Title: v.Title, Updated: updated.UTC().Format(time.RFC3339),
		Link:   []atomLink{{Rel: "alternate", Type: "text/html", Href: url}, {Rel: "self", Type: "application/atom+xml", Href: url + "/feed.atom"}},
		Author: atomAuthor{Name: v.Title}}
	for _, it := range items {
		at := it.u.At.UTC().Format(time.RFC3339)
		f.Entries = append(f.Entries, atomEntry{ID: "urn:watchdog:status:update:" + it.u.ID,
			Title:   updateTitles[it.u.Status] + " — " + incidentName(it.h),
			Updated: at, Published: at, Link: []atomLink{{Rel: "alternate", Type: "text/html", Href: url}},
			Content: atomText{Type: "text", Body: it.u.Text}})
	}
	return f
}

func (c *console) statusFeed(w http.ResponseWriter, r *http.Request) {
	f := buildFeed(c.currentStatus(), statusURL(r))
	out, err := xml.MarshalIndent(f, "", " ")
	if err != nil {
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/atom+xml; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write([]byte(xml.Header))
	_, _ = w.Write(out)
}
