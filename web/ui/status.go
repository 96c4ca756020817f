package ui

import (
	"encoding/json"
	"fmt"
	"hash/fnv"
	"net/http"
	"slices"
	"time"

	"github.com/prometheus/prometheus/model/labels"

	"github.com/watchdog-sre/watchdog/config"
	"github.com/watchdog-sre/watchdog/pager"
)

// Component states of the status page, worst last.
const (
	StateOperational = "operational"
	StateDegraded    = "degraded"
	StateMajorOutage = "major_outage"
	// StateMaintenance: a scheduled maintenance window of the component
	// is running (and no incident makes it worse).
	StateMaintenance = "under_maintenance"
)

var stateRank = map[string]int{StateOperational: 0, StateDegraded: 1, StateMajorOutage: 2}

var stateText = map[string]string{
	StateOperational: "Operational",
	StateDegraded:    "Degraded performance",
	StateMajorOutage: "Major outage",
	StateMaintenance: "Under maintenance",
}

// Status page limits.
const (
	statusHistoryDays  = 14
	statusHistoryLimit = 20
	statusScanLimit    = 2000
	// statusUpdateReads bounds the incidents whose updates one page
	// view reads (the newest ones).
	statusUpdateReads = 100
)

// statusConfig is the compiled status_page section.
type statusConfig struct {
	src        *config.StatusPage // what it was compiled from
	title      string
	components []statusComponent
	// alertLabels are the label names the components' matchers test,
	// sorted: all the status page reads of an incident's alerts.
	alertLabels []string
}

type statusComponent struct {
	name, description string
	routes            []string
	// matchers must all match one alert of an incident; nil matches none
	// unless all is set.
	matchers []*labels.Matcher
	all      bool
}

// CheckStatusPage reports whether sp compiles (its matchers parse), so that a
// configuration reload can refuse one the console would not take.
func CheckStatusPage(sp config.StatusPage) error {
	if _, err := compileStatus(&sp); err != nil {
		return fmt.Errorf("status_page: %w", err)
	}
	return nil
}

// statusSource returns the running status_page section, or nil.
func (c *console) statusSource() *config.StatusPage {
	if c.o.StatusPage == nil {
		return nil
	}
	return c.o.StatusPage()
}

// statusConfig returns the compiled status page, compiling the running
// section again if it changed. A section that does not compile (a reload
// should have refused it) leaves the previous one in use.
func (c *console) statusConfig() *statusConfig {
	sp, cur := c.statusSource(), c.status.Load()
	if cur.src == sp {
		return cur
	}
	sc, err := compileStatus(sp)
	if err != nil {
		c.o.Logger.Error("status page: configuration refused, the previous one stays", "err", err)
		return cur
	}
	c.status.CompareAndSwap(cur, sc)
	return sc
}

// compileStatus parses the matchers of the status page (nil: no section).
// Without components, one "All systems" component follows every incident.
func compileStatus(src *config.StatusPage) (*statusConfig, error) {
	var sp config.StatusPage
	if src != nil {
		sp = *src
	}
	sc := &statusConfig{src: src, title: sp.Title}
	if sc.title == "" {
		sc.title = "Service status"
	}
	if len(sp.Components) == 0 {
		sc.components = []statusComponent{{name: "All systems", all: true}}
		return sc, nil
	}
	for i, c := range sp.Components {
		comp := statusComponent{name: c.Name, description: c.Description, routes: c.Routes}
		for j, m := range c.Matchers {
			lm, err := pager.ParseMatcher(m)
			if err != nil {
				return nil, fmt.Errorf("components[%d].matchers[%d]: %w", i, j, err)
			}
			comp.matchers = append(comp.matchers, lm)
			if !slices.Contains(sc.alertLabels, lm.Name) {
				sc.alertLabels = append(sc.alertLabels, lm.Name)
			}
		}
		sc.components = append(sc.components, comp)
	}
	slices.Sort(sc.alertLabels)
	return sc, nil
}

// affects reports whether the incident concerns the component.
func (c *statusComponent) affects(st *pager.IncidentState) bool {
	if c.all || slices.Contains(c.routes, st.Route) {
		return true
	}
	if len(c.matchers) == 0 {
		return false
	}
	for _, a := range st.Alerts {
		ok := true
		for _, m := range c.matchers {
			if !m.Matches(a.Labels[m.Name]) {
				ok = false
				break
			}
		}
		if ok {
			return true
		}
	}
	return false
}

// severity is what an open incident does to the components it concerns.
func severity(st *pager.IncidentState) string {
	if st.Major {
		return StateMajorOutage
	}
	return StateDegraded
}

// statusView is the public status page: component states and incident
// history, with no internal text (no titles, labels or annotations).
type statusView struct {
	Title      string           `json:"title"`
	State      string           `json:"status"`
	StateText  string           `json:"description"`
	Components []componentView  `json:"components"`
	History    []statusIncident `json:"incidents"`
	// Maintenance lists the running and upcoming maintenance windows.
	Maintenance []maintenanceView `json:"maintenance"`
	Updated     time.Time         `json:"updated"`
	Digest      string            `json:"digest"`
	Available   bool              `json:"-"`
	// Subscribe shows the e-mail subscription form.
	Subscribe bool `json:"-"`
}

type componentView struct {
	Name        string          `json:"name"`
	Description string          `json:"description,omitempty"`
	State       string          `json:"status"`
	StateText   string          `json:"-"`
	Uptime      componentUptime `json:"uptime_90d"`
}

type statusIncident struct {
	ID         string     `json:"id"`
	Components []string   `json:"components"`
	State      string     `json:"impact"`
	StateText  string     `json:"-"`
	Start      time.Time  `json:"start"`
	End        *time.Time `json:"end,omitempty"`
	Ongoing    bool       `json:"ongoing"`
	Duration   string     `json:"duration"`
	// Phase is the status of the newest public update ("" without one).
	Phase   string         `json:"phase,omitempty"`
	Updates []publicUpdate `json:"updates"`
}

// publicUpdate is a status update as the public sees it: its status, text
// and time only, never its author.
type publicUpdate struct {
	ID     string    `json:"id"`
	Status string    `json:"status"`
	Text   string    `json:"text"`
	At     time.Time `json:"at"`
}

// maintenanceView is a maintenance window as the public sees it.
type maintenanceView struct {
	ID         string    `json:"id"`
	Title      string    `json:"title"`
	Text       string    `json:"text"`
	Components []string  `json:"components"`
	Start      time.Time `json:"start"`
	End        time.Time `json:"end"`
	Active     bool      `json:"active"`
}

// maintenanceLister is what the status page needs to show maintenance
// windows; a Pager without it shows none.
type maintenanceLister interface {
	Maintenances() ([]pager.Maintenance, error)
}

// statusUpdateLister is what the status page needs to show responders'
// public updates; a Pager without it shows none.
type statusUpdateLister interface {
	StatusUpdates(id string, limit int) ([]pager.StatusUpdate, error)
}

// updateTitles names the update statuses on the page.
var updateTitles = map[string]string{pager.UpdateInvestigating: "Investigating", pager.UpdateIdentified: "Identified",
	pager.UpdateMonitoring: "Monitoring", pager.UpdateResolved: "Resolved"}

// computeStatus derives the status page from the incidents: a component is
// degraded while an open incident concerns it and in a major outage while
// a major one does; resolved incidents of the last two weeks are history.
// updates holds the public updates of each incident, newest first. It
// depends only on its arguments.
// maint lists the maintenance windows: running ones put their
// operational components under maintenance, upcoming ones are announced.
func computeStatus(sc *statusConfig, incidents []pager.IncidentState, updates map[string][]pager.StatusUpdate, maint []pager.Maintenance, now time.Time) statusView {
	v := statusView{Title: sc.title, State: StateOperational, Updated: now.UTC(), Available: true}
	states := make([]string, len(sc.components))
	for i := range states {
		states[i] = StateOperational
	}
	since := now.Add(-statusHistoryDays * 24 * time.Hour)
	// A silenced incident of a component under a running maintenance
	// window is that maintenance: it neither degrades the component nor
	// shows as an incident.
	inMaint := make([]bool, len(sc.components))
	for _, m := range maint {
		if !m.Cancelled() && !now.Before(m.StartsAt) && now.Before(m.EndsAt) {
			for ci, c := range sc.components {
				inMaint[ci] = inMaint[ci] || slices.Contains(m.Components, c.name)
			}
		}
	}
	for i := range incidents {
		st := &incidents[i]
		var names []string
		for ci := range sc.components {
			if !sc.components[ci].affects(st) || (st.Suppressed && st.Open() && inMaint[ci]) {
				continue
			}
			names = append(names, sc.components[ci].name)
			if st.Open() && stateRank[severity(st)] > stateRank[states[ci]] {
				states[ci] = severity(st)
			}
		}
		if len(names) == 0 || (!st.Open() && st.ResolvedAt.Before(since)) || len(v.History) == statusHistoryLimit {
			continue
		}
		h := statusIncident{ID: publicID(st), Components: names, Updates: []publicUpdate{}, State: severity(st), StateText: stateText[severity(st)],
			Start: st.CreatedAt.UTC(), Ongoing: st.Open()}
		end := now
		if !st.Open() {
			e := st.ResolvedAt.UTC()
			h.End, end = &e, e
		}
		h.Duration = exactDuration(end.Sub(st.CreatedAt))
		for _, u := range updates[st.ID] {
			h.Updates = append(h.Updates, publicUpdate{ID: opaqueID("update", h.ID, u.ID), Status: u.Status, Text: u.Text, At: u.At.UTC()})
		}
		if len(h.Updates) > 0 {
			h.Phase = h.Updates[0].Status
		}
		v.History = append(v.History, h)
	}
	v.Maintenance = []maintenanceView{}
	for _, m := range maint {
		if !m.EndsAt.After(now) || m.Cancelled() {
			continue
		}
		mv := maintenanceView{ID: opaqueID("maintenance", m.ID), Title: m.Title, Text: m.Text, Start: m.StartsAt.UTC(), End: m.EndsAt.UTC(),
			Active: !now.Before(m.StartsAt)}
		for i, c := range sc.components {
			if slices.Contains(m.Components, c.name) {
				mv.Components = append(mv.Components, c.name)
				if mv.Active && states[i] == StateOperational {
					states[i] = StateMaintenance
				}
			}
		}
		if len(mv.Components) > 0 {
			v.Maintenance = append(v.Maintenance, mv)
		}
	}
	for i, c := range sc.components {
		v.Components = append(v.Components, componentView{Name: c.name, Description: c.description,
			State: states[i], StateText: stateText[states[i]], Uptime: computeUptime(&sc.components[i], uptimeIncidents(incidents, inMaint[i]), now)})
		if stateRank[states[i]] > stateRank[v.State] {
			v.State = states[i]
		}
	}
	v.StateText = map[string]string{StateOperational: "All systems operational",
		StateDegraded: "Some systems degraded", StateMajorOutage: "Major outage"}[v.State]
	hash := fnv.New64a()
	for _, c := range v.Components {
		fmt.Fprintf(hash, "%s\x00%s\x00", c.Name, c.State)
	}
	for _, m := range v.Maintenance {
		fmt.Fprintf(hash, "%s\x00%v\x00", m.ID, m.Active)
	}
	for _, h := range v.History {
		fmt.Fprintf(hash, "%d\x00%v\x00%d\x00", h.Start.UnixNano(), h.Ongoing, len(h.Updates))
		if len(h.Updates) > 0 {
			fmt.Fprintf(hash, "%s\x00", h.Updates[0].ID)
		}
	}
	v.Digest = fmt.Sprintf("%016x", hash.Sum64())
	return v
}

// uptimeIncidents are the incidents that count against a component's
// uptime: under a running maintenance window, not the open ones it
// silences.
func uptimeIncidents(incidents []pager.IncidentState, inMaint bool) []pager.IncidentState {
	if !inMaint {
		return incidents
	}
	return slices.DeleteFunc(slices.Clone(incidents), func(st pager.IncidentState) bool { return st.Suppressed && st.Open() })
}

// currentStatus returns the public view, from the cache while it is
// fresh (see statusCache).
func (c *console) currentStatus() statusView {
	ttl := c.o.StatusCacheTTL
	if ttl == 0 {
		ttl = DefaultStatusCacheTTL
	}
	status := c.statusConfig()
	return c.statusCache.get(c.o.Now(), ttl, status, func() statusView { return c.computeCurrentStatus(status) })
}

// computeCurrentStatus reads the pager's incidents: the open ones and the
// newest resolved ones.
func (c *console) computeCurrentStatus(status *statusConfig) statusView {
	now := c.o.Now()
	if c.o.Pager == nil {
		return computeStatus(status, nil, nil, nil, now)
	}
	// The uptime bars need 90 days (and the day before, for incidents
	// that began then). Of the alerts only the labels the components'
	// matchers test matter: the stores skip the rest (with no matchers,
	// every alert).
	list, err := c.o.Pager.Incidents(pager.IncidentFilter{Since: now.Add(-(uptimeDays + 1) * 24 * time.Hour), Limit: statusScanLimit,
		OutlineAlerts: true, OutlineLabels: status.alertLabels})
	if err != nil {
		c.o.Logger.Error("status page: read incidents", "err", err)
		v := computeStatus(status, nil, nil, nil, now)
		v.Available = false
		return v
	}
	// Open incidents older than the window still count.
	open, err := c.o.Pager.Incidents(pager.IncidentFilter{Statuses: []pager.Status{pager.StatusTriggered, pager.StatusAcknowledged}, Limit: statusScanLimit,
		OutlineAlerts: true, OutlineLabels: status.alertLabels})
	if err == nil {
		seen := make(map[string]bool, len(list))
		for i := range list {
			seen[list[i].ID] = true
		}
		for _, st := range open {
			if !seen[st.ID] {
				list = append(list, st)
			}
		}
	}
	slices.SortStableFunc(list, func(a, b pager.IncidentState) int { return b.CreatedAt.Compare(a.CreatedAt) })
	return computeStatus(status, list, c.statusUpdates(list), c.maintenances(), now)
}

func (c *console) statusPage(w http.ResponseWriter, r *http.Request) {
	v := c.currentStatus()
	v.Subscribe = c.emailSubscriptions() != nil
	c.render(w, http.StatusOK, "status", pageData{Title: v.Title, Public: true, Poll: "/status.json", Digest: v.Digest, Data: v})
}

func (c *console) statusJSON(w http.ResponseWriter, r *http.Request) {
	v := c.currentStatus()
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_ = json.NewEncoder(w).Encode(v)
}

// statusUpdates reads the public updates of the newest incidents (at most
// statusUpdateReads of them, each bounded by pager.MaxStatusUpdates).
func (c *console) statusUpdates(list []pager.IncidentState) map[string][]pager.StatusUpdate {
	su, ok := c.o.Pager.(statusUpdateLister)
	if !ok {
		return nil
	}
	out := map[string][]pager.StatusUpdate{}
	for i, st := range list {
		if i >= statusUpdateReads {
			break
		}
		u, err := su.StatusUpdates(st.ID, pager.MaxStatusUpdates)
		if err != nil {
			c.o.Logger.Error("status page: read status updates", "incident", st.ID, "err", err)
			continue
		}
		out[st.ID] = u
	}
	return out
}

// publicID is an incident's identifier on the public page: opaque, so
// that it tells nothing of the pager's numbering.
func publicID(st *pager.IncidentState) string {
	key := st.UID
	if key == "" {
		key = st.ID
	}
	h := fnv.New64a()
	fmt.Fprintf(h, "watchdog-status\x00%s", key)
	return fmt.Sprintf("%016x", h.Sum64())
}

// maintenances reads the maintenance windows, if the pager keeps them.
func (c *console) maintenances() []pager.Maintenance {
	ml, ok := c.o.Pager.(maintenanceLister)
	if !ok {
		return nil
	}
	list, err := ml.Maintenances()
	if err != nil {
		c.o.Logger.Error("status page: read maintenance windows", "err", err)
	}
	return list
}
