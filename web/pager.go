package web

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/watchdog-sre/watchdog/pager"
	"github.com/watchdog-sre/watchdog/pager/schedule"
)

// Pager is what the paging API needs of the pager. *pager.Pager implements
// it; tests stub it. Every method may be called from any goroutine.
type Pager interface {
	Incidents(f pager.IncidentFilter) ([]pager.IncidentState, error)
	Incident(id string) (pager.IncidentState, []pager.TimelineEntry, error)

	Ack(id string, by pager.Actor) error
	Resolve(id string, by pager.Actor) error
	Snooze(id string, by pager.Actor, until time.Time) error
	Reassign(id string, by pager.Actor, to string) error
	EscalateNow(id string, by pager.Actor) error
	DeclareMajor(id string, by pager.Actor) error
	Note(id string, by pager.Actor, text string) error
	// AddResponders asks more people to help; RespondToRequest answers
	// the caller's own request (help on demand).
	AddResponders(id string, by pager.Actor, req pager.ResponderRequest) error
	RespondToRequest(id string, by pager.Actor, decline bool) error

	WhoIsOnCall(target string, t time.Time) ([]pager.OnCall, error)

	CreateSilence(s pager.Silence) (string, error)
	// UpdateSilence changes silence s.ID as Alertmanager does (in place
	// or replaced under a new ID, which it returns).
	UpdateSilence(s pager.Silence) (string, error)
	Silences() ([]pager.Silence, error)
	ExpireSilence(id string) error
	// Config returns the active configuration (routes, receivers and
	// resolve_timeout of the Alertmanager API).
	Config() *pager.Config

	// AckLink checks a signed acknowledge link and returns the incident
	// it names, without acting on it.
	AckLink(token string) (pager.AckClaim, pager.IncidentState, error)
	// AckToken acknowledges the incident of a signed acknowledge link.
	AckToken(token string) (pager.AckClaim, error)
	// Receive routes alerts into incidents.
	Receive(alerts ...pager.Alert) error
	// Cluster describes the replicas sharing the pager's database.
	Cluster() (pager.ClusterStatus, error)
}

// ScheduleFunc returns the schedule called name in the pager's current
// configuration, or nil. The pager does not expose its configuration, so
// the caller (which parsed it) supplies the look-up.
type ScheduleFunc func(name string) *schedule.Schedule

// PagerOptions configure the paging endpoints.
type PagerOptions struct {
	// Pager is required.
	Pager Pager
	// Postmortems stores postmortem documents and action items; nil
	// leaves their API out (GET …/postmortem serves the generated draft).
	Postmortems Postmortems
	// Schedules serves schedule previews; nil answers 404 for every name.
	Schedules ScheduleFunc
	// Calendars serves the secret iCalendar feeds and the API of feeds and
	// schedule overrides; nil leaves them out.
	Calendars Calendars
	// MaxPreviewDays bounds ?days= of schedule previews (default 90).
	MaxPreviewDays int
	// Buffer holds the alerts of POST /api/v2/alerts that the pager could
	// not take (its database is down) and hands them to it later; nil
	// answers such a POST with 500, so that the sender retries.
	Buffer AlertBuffer
	// People verifies personal tokens (API requests with
	// "Authorization: Bearer <personal token>" act as its user) and
	// serves the token API and console sign-in; nil disables them.
	People People
	// SessionTTL is how long a console session lasts (default 12h).
	SessionTTL time.Duration
	// MaxConcurrentReceives bounds the POST /api/v2/alerts bodies decoded
	// at once (default: GOMAXPROCS-1, at least 1); the others wait with
	// their bodies read. Receiving into the pager is serialised by its
	// group commit, which commits the POSTs waiting together. A storm of
	// POSTs decoding on every processor beside the commit would leave the
	// Go scheduler no idle processor, and then it looks at the network only
	// every 10 ms (sysmon): each page's HTTP round trip waits that long,
	// and a channel's max_concurrency slots deliver max_concurrency pages
	// per 10 ms.
	MaxConcurrentReceives int
	// SecureCookies marks the session cookie Secure even on requests that
	// did not come over TLS (the external URL is https behind a proxy).
	SecureCookies bool
}

// Paging endpoint limits.
const (
	defaultIncidentLimit = 100
	maxIncidentLimit     = 10000
	defaultPreviewDays   = 7
	maxNoteBytes         = 16 << 10
	// maxPagerTimeOffset bounds the time parameters of on-call look-ups
	// and schedule previews around now (about ten years either way):
	// beyond it no answer is useful and some cannot be encoded.
	maxPagerTimeOffset = 3653 * 24 * time.Hour
)

// errorConflict is the error type of requests the incident's state refuses
// (acknowledging a resolved incident).
const errorConflict = "conflict"

// defaultActor is the "by" of API calls that do not name one.
const defaultActor = "api"

// EnablePager registers the paging API: incidents and their actions, on-call
// look-ups, schedule previews, silences, the replicas of a shared pager
// database, signed acknowledge links and Alertmanager's API v2 (the
// receiver POST /api/v2/alerts, and alerts, groups, silences, status and
// receivers for amtool, Grafana and karma). Calls that change
// state need the bearer token, except the signed acknowledge links, whose
// signature is their authorisation.
func (h *Handler) EnablePager(o PagerOptions) {
	if o.MaxPreviewDays <= 0 {
		o.MaxPreviewDays = 90
	}
	if o.SessionTTL <= 0 {
		o.SessionTTL = defaultSessionTTL
	}
	if o.MaxConcurrentReceives <= 0 {
		o.MaxConcurrentReceives = defaultConcurrentReceives()
	}
	ph := &pagerAPI{o: o, now: h.now, started: h.now(), healthGate: make(chan struct{}, 1),
		ingest: make(chan struct{}, o.MaxConcurrentReceives)}

	api := func(pattern string, f apiFunc) { h.Handle(pattern, h.wrap(f)) }
	api("GET /api/v1/pager/incidents", ph.incidents)
	api("GET /api/v1/pager/incidents/{id}", ph.incident)
	api("POST /api/v1/pager/incidents/{id}/ack", ph.ack)
	api("POST /api/v1/pager/incidents/{id}/resolve", ph.resolve)
	api("POST /api/v1/pager/incidents/{id}/snooze", ph.snooze)
	api("POST /api/v1/pager/incidents/{id}/reassign", ph.reassign)
	api("POST /api/v1/pager/incidents/{id}/note", ph.note)
	api("POST /api/v1/pager/incidents/{id}/escalate", ph.escalate)
	api("POST /api/v1/pager/incidents/{id}/major", ph.major)
	api("POST /api/v1/pager/incidents/{id}/responders", ph.addResponders)
	api("POST /api/v1/pager/incidents/{id}/responders/respond", ph.respond)
	h.Handle("GET /api/v1/pager/incidents/{id}/postmortem", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ph.postmortem(h, w, r)
	}))
	api("GET /api/v1/pager/oncall", ph.oncall)
	api("GET /api/v1/pager/schedules/{name}/preview", ph.preview)
	api("GET /api/v1/pager/silences", ph.silences)
	api("POST /api/v1/pager/silences", ph.createSilence)
	api("DELETE /api/v1/pager/silences/{id}", ph.expireSilence)
	api("GET /api/v1/pager/cluster", ph.cluster)
	api("GET /api/v1/pager/health", ph.health)
	if o.People != nil {
		h.people = o.People
		api("POST /api/v1/pager/tokens", ph.createToken)
		api("GET /api/v1/pager/tokens", ph.tokens)
		api("DELETE /api/v1/pager/tokens/{id}", ph.revokeToken)
		h.sessionRoutes(ph)
	}
	if o.Calendars != nil {
		h.enableCalendars(o.Calendars, o.Schedules)
	}
	if o.Postmortems != nil {
		ph.enablePostmortems(h, o.Postmortems)
		if o.People != nil {
			h.handleOpen("POST /incidents/{id}/postmortem/act", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				h.consolePostmortem(o.Postmortems, w, r)
			}))
		}
	}

	if su, ok := o.Pager.(StatusUpdater); ok {
		h.enableStatusUpdates(su)
	}
	if ms, ok := o.Pager.(MaintenanceScheduler); ok {
		h.enableMaintenances(ms)
		if me, ok := ms.(MaintenanceEnder); ok {
			h.enableMaintenanceEnd(me)
		}
		if o.People != nil {
			h.handleOpen("POST /maintenance/act", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				h.consoleMaintenance(ms, w, r)
			}))
		}
	}
	if ss, ok := o.Pager.(StatusSubscribers); ok {
		h.enableSubscribers(ss)
	}

	ack := http.HandlerFunc(ph.ackLink)
	for _, p := range []string{"/ack/{token}", "/api/v1/pager/ack/{token}"} {
		h.handleOpen("GET "+p, ack)
		h.handleOpen("POST "+p, ack)
	}
	h.Handle("POST /api/v2/alerts", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ph.receive(h, w, r)
	}))
	// The rest of Alertmanager's API v2 (pager_am.go).
	for pattern, f := range map[string]http.HandlerFunc{
		"GET /api/v2/alerts":          ph.amAlerts,
		"GET /api/v2/alerts/groups":   ph.amGroups,
		"GET /api/v2/silences":        ph.amSilences,
		"POST /api/v2/silences":       ph.amPostSilence,
		"GET /api/v2/silence/{id}":    ph.amSilence,
		"DELETE /api/v2/silence/{id}": ph.amDeleteSilence,
		"GET /api/v2/status":          ph.amStatus,
		"GET /api/v2/receivers":       ph.amReceivers,
	} {
		h.Handle(pattern, f)
	}
}

type pagerAPI struct {
	o       PagerOptions
	now     func() time.Time
	started time.Time
	// healthGate lets one on-call health report run at a time.
	healthGate chan struct{}
	// ingest holds a token per POST /api/v2/alerts body being decoded
	// (PagerOptions.MaxConcurrentReceives).
	ingest chan struct{}
}

// pagerError maps the pager's errors onto the envelope.
func pagerError(err error) *apiError {
	switch {
	case errors.Is(err, pager.ErrNotFound):
		return &apiError{typ: errorNotFound, msg: err.Error()}
	case errors.Is(err, pager.ErrResolved), errors.Is(err, pager.ErrNotTriggered), errors.Is(err, pager.ErrAlreadyMajor),
		errors.Is(err, pager.ErrNotRequested):
		return &apiError{typ: errorConflict, code: http.StatusConflict, msg: err.Error()}
	case errors.Is(err, pager.ErrUnknownUser), errors.Is(err, pager.ErrUnknownTarget),
		errors.Is(err, pager.ErrInvalidSilence), errors.Is(err, pager.ErrBadSnooze), errors.Is(err, pager.ErrBadResponders):
		return &apiError{typ: errorBadData, msg: err.Error()}
	}
	return &apiError{typ: errorInternal, msg: err.Error()}
}

// decodeBody decodes an optional JSON object body into dst: an empty body
// leaves dst as it is; unknown fields, wrong types, trailing data and
// bodies over MaxRequestBodyBytes are refused.
func decodeBody(r *http.Request, dst any) *apiError {
	if r.Body == nil {
		return nil
	}
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	err := dec.Decode(dst)
	if errors.Is(err, io.EOF) {
		return nil
	}
	if err == nil {
		if _, err2 := dec.Token(); !errors.Is(err2, io.EOF) {
			err = errors.New("unexpected data after the JSON value")
		}
	}
	if err != nil {
		return bodyError(err)
	}
	return nil
}

func bodyError(err error) *apiError {
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return &apiError{typ: errorBadData, code: http.StatusRequestEntityTooLarge,
			msg: fmt.Sprintf("request body larger than %d bytes", tooBig.Limit)}
	}
	var typeErr *json.UnmarshalTypeError
	if errors.As(err, &typeErr) && typeErr.Field != "" {
		return &apiError{typ: errorBadData, msg: fmt.Sprintf("invalid body: field %q: expected %s, got %s",
			typeErr.Field, typeErr.Type, typeErr.Value)}
	}
	return &apiError{typ: errorBadData, msg: "invalid body: " + err.Error()}
}

// ---- incidents ----

// apiIncident is the JSON shape of an incident.
type apiIncident struct {
	ID            string            `json:"id"`
	Title         string            `json:"title"`
	Status        pager.Status      `json:"status"`
	Route         string            `json:"route"`
	Policy        string            `json:"policy"`
	Urgency       string            `json:"urgency"` // high or low
	Major         bool              `json:"major,omitempty"`
	MajorPolicies []string          `json:"majorPolicies,omitempty"` // paged in parallel with Policy
	Suppressed    bool              `json:"suppressed,omitempty"`
	GroupLabels   map[string]string `json:"groupLabels"`
	CreatedAt     time.Time         `json:"createdAt"`
	AckedBy       string            `json:"acknowledgedBy,omitempty"`
	AckedAt       *time.Time        `json:"acknowledgedAt,omitempty"`
	SnoozedUntil  *time.Time        `json:"snoozedUntil,omitempty"`
	ResolvedBy    string            `json:"resolvedBy,omitempty"`
	ResolvedAt    *time.Time        `json:"resolvedAt,omitempty"`
	Assignee      string            `json:"assignee,omitempty"`
	Level         int               `json:"level"`
	EscalateAt    *time.Time        `json:"escalateAt,omitempty"`
	Exhausted     bool              `json:"exhausted,omitempty"`
	// Stuck says why an open, unacknowledged incident has no next step
	// (a broken invariant the console shows in red); absent when fine.
	Stuck      string          `json:"stuck,omitempty"`
	Responders []apiResponder  `json:"responders,omitempty"` // added by help on demand
	AlertCount int             `json:"alertCount"`
	Alerts     []apiPagerAlert `json:"alerts,omitempty"`
	Timeline   []apiTimeline   `json:"timeline,omitempty"`
}

type apiPagerAlert struct {
	Fingerprint  string            `json:"fingerprint"`
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations"`
	StartsAt     time.Time         `json:"startsAt"`
	EndsAt       *time.Time        `json:"endsAt,omitempty"`
	GeneratorURL string            `json:"generatorURL,omitempty"`
	Status       string            `json:"status"` // firing or resolved
	SuppressedBy string            `json:"suppressedBy,omitempty"`
}

type apiTimeline struct {
	Seq     int       `json:"seq"`
	At      time.Time `json:"at"`
	Kind    string    `json:"kind"`
	By      string    `json:"by,omitempty"`
	Via     string    `json:"via,omitempty"`
	User    string    `json:"user,omitempty"`
	Method  string    `json:"method,omitempty"`
	Channel string    `json:"channel,omitempty"`
	Level   int       `json:"level"`
	Text    string    `json:"text,omitempty"`
}

func optTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func incidentView(st *pager.IncidentState, withAlerts bool) apiIncident {
	v := apiIncident{
		ID: st.ID, Title: st.Title, Status: st.Status, Route: st.Route, Policy: st.Policy, Major: st.Major,
		Suppressed: st.Suppressed, GroupLabels: st.GroupLabels, CreatedAt: st.CreatedAt,
		AckedBy: st.AckedBy, AckedAt: optTime(st.AckedAt), ResolvedBy: st.ResolvedBy, ResolvedAt: optTime(st.ResolvedAt),
		Assignee: st.Assignee, Level: st.Level, Exhausted: st.Exhausted, AlertCount: len(st.Alerts),
	}
	if st.Open() {
		v.Stuck = st.Stuck
	}
	v.Urgency, v.Responders = pager.UrgencyHigh, respondersView(st)
	if st.Urgency == pager.UrgencyLow {
		v.Urgency = pager.UrgencyLow
	}
	if v.GroupLabels == nil {
		v.GroupLabels = map[string]string{}
	}
	for _, e := range st.Parallel {
		v.MajorPolicies = append(v.MajorPolicies, e.Policy)
	}
	if st.Status == pager.StatusAcknowledged {
		v.SnoozedUntil = optTime(st.SnoozedUntil)
	}
	if st.Escalating {
		v.EscalateAt = optTime(st.EscalateAt)
	}
	if withAlerts {
		v.Alerts = make([]apiPagerAlert, 0, len(st.Alerts))
		for _, a := range st.Alerts {
			pa := apiPagerAlert{Fingerprint: a.Fingerprint, Labels: a.Labels, Annotations: a.Annotations,
				StartsAt: a.StartsAt, EndsAt: optTime(a.EndsAt), GeneratorURL: a.GeneratorURL,
				Status: "firing", SuppressedBy: a.SuppressedBy}
			if a.Ended {
				pa.Status = "resolved"
			}
			if pa.Labels == nil {
				pa.Labels = map[string]string{}
			}
			if pa.Annotations == nil {
				pa.Annotations = map[string]string{}
			}
			v.Alerts = append(v.Alerts, pa)
		}
	}
	return v
}

func timelineView(tl []pager.TimelineEntry) []apiTimeline {
	out := make([]apiTimeline, 0, len(tl))
	for _, e := range tl {
		out = append(out, apiTimeline{Seq: e.Seq, At: e.At, Kind: e.Kind, By: e.By, Via: e.Via, User: e.User,
			Method: e.Method, Channel: e.Channel, Level: e.Level, Text: e.Text})
	}
	return out
}

var statusNames = map[string][]pager.Status{
	"triggered":    {pager.StatusTriggered},
	"acknowledged": {pager.StatusAcknowledged},
	"resolved":     {pager.StatusResolved},
	"open":         {pager.StatusTriggered, pager.StatusAcknowledged},
}

// incidents serves GET /api/v1/pager/incidents?status=open&limit=N&route=R.
// status may repeat or be comma-separated: triggered, acknowledged,
// resolved, open.
func (a *pagerAPI) incidents(r *http.Request) apiResult {
	f := pager.IncidentFilter{Limit: defaultIncidentLimit, Route: r.FormValue("route")}
	for _, v := range r.Form["status"] {
		for s := range strings.SplitSeq(v, ",") {
			st, ok := statusNames[strings.TrimSpace(s)]
			if !ok {
				return apiResult{err: invalidParam("status",
					fmt.Errorf("unknown status %q (triggered, acknowledged, resolved, open)", s))}
			}
			f.Statuses = append(f.Statuses, st...)
		}
	}
	if s := r.FormValue("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n <= 0 || n > maxIncidentLimit {
			return apiResult{err: invalidParam("limit", fmt.Errorf("must be an integer from 1 to %d", maxIncidentLimit))}
		}
		f.Limit = n
	}
	list, err := a.o.Pager.Incidents(f)
	if err != nil {
		return apiResult{err: pagerError(err)}
	}
	out := make([]apiIncident, 0, len(list))
	for i := range list {
		out = append(out, incidentView(&list[i], false))
	}
	return apiResult{data: out}
}

// incident serves GET /api/v1/pager/incidents/{id}: alerts and timeline.
func (a *pagerAPI) incident(r *http.Request) apiResult {
	st, tl, err := a.o.Pager.Incident(r.PathValue("id"))
	if err != nil {
		return apiResult{err: pagerError(fmt.Errorf("incident %s: %w", r.PathValue("id"), err))}
	}
	v := incidentView(&st, true)
	v.Timeline = timelineView(tl)
	return apiResult{data: v}
}

// action runs an incident action and answers with the incident's new state.
func (a *pagerAPI) action(r *http.Request, do func(id string) error) apiResult {
	id := r.PathValue("id")
	if err := do(id); err != nil {
		return apiResult{err: pagerError(err)}
	}
	st, _, err := a.o.Pager.Incident(id)
	if err != nil {
		return apiResult{err: pagerError(err)}
	}
	return apiResult{data: incidentView(&st, false)}
}

func (a *pagerAPI) ack(r *http.Request) apiResult {
	var b actorBody
	if e := decodeBody(r, &b); e != nil {
		return apiResult{err: e}
	}
	return a.action(r, func(id string) error { return a.o.Pager.Ack(id, b.actor(r)) })
}

func (a *pagerAPI) resolve(r *http.Request) apiResult {
	var b actorBody
	if e := decodeBody(r, &b); e != nil {
		return apiResult{err: e}
	}
	return a.action(r, func(id string) error { return a.o.Pager.Resolve(id, b.actor(r)) })
}

func (a *pagerAPI) escalate(r *http.Request) apiResult {
	var b actorBody
	if e := decodeBody(r, &b); e != nil {
		return apiResult{err: e}
	}
	return a.action(r, func(id string) error { return a.o.Pager.EscalateNow(id, b.actor(r)) })
}

// major declares the incident major: the major policies of its route page
// in parallel and the war room is told.
func (a *pagerAPI) major(r *http.Request) apiResult {
	var b actorBody
	if e := decodeBody(r, &b); e != nil {
		return apiResult{err: e}
	}
	return a.action(r, func(id string) error { return a.o.Pager.DeclareMajor(id, b.actor(r)) })
}

// snooze takes {"until": RFC3339} or {"duration": "30m"} (Prometheus
// duration or float seconds).
func (a *pagerAPI) snooze(r *http.Request) apiResult {
	var b struct {
		actorBody
		Until    string `json:"until"`
		Duration string `json:"duration"`
	}
	if e := decodeBody(r, &b); e != nil {
		return apiResult{err: e}
	}
	now := a.now()
	var until time.Time
	switch {
	case b.Until != "" && b.Duration != "":
		return apiResult{err: badData(errors.New("give until or duration, not both"))}
	case b.Until != "":
		t, err := ParseTime(b.Until)
		if err != nil {
			return apiResult{err: invalidParam("until", err)}
		}
		until = t
	case b.Duration != "":
		d, err := ParseDuration(b.Duration)
		if err != nil {
			return apiResult{err: invalidParam("duration", err)}
		}
		until = now.Add(d)
	default:
		return apiResult{err: badData(errors.New("until or duration is required"))}
	}
	if !until.After(now) {
		return apiResult{err: badData(errors.New("snooze end is not in the future"))}
	}
	return a.action(r, func(id string) error { return a.o.Pager.Snooze(id, b.actor(r), until) })
}

// reassign takes {"user": NAME}.
func (a *pagerAPI) reassign(r *http.Request) apiResult {
	var b struct {
		actorBody
		User string `json:"user"`
	}
	if e := decodeBody(r, &b); e != nil {
		return apiResult{err: e}
	}
	if strings.TrimSpace(b.User) == "" {
		return apiResult{err: badData(errors.New("user is required"))}
	}
	return a.action(r, func(id string) error { return a.o.Pager.Reassign(id, b.actor(r), b.User) })
}

// note takes {"text": "..."}.
func (a *pagerAPI) note(r *http.Request) apiResult {
	var b struct {
		actorBody
		Text string `json:"text"`
	}
	if e := decodeBody(r, &b); e != nil {
		return apiResult{err: e}
	}
	switch {
	case strings.TrimSpace(b.Text) == "":
		return apiResult{err: badData(errors.New("text is required"))}
	case len(b.Text) > maxNoteBytes:
		return apiResult{err: badData(fmt.Errorf("text longer than %d bytes", maxNoteBytes))}
	}
	return a.action(r, func(id string) error { return a.o.Pager.Note(id, b.actor(r), b.Text) })
}

// postmortem serves the postmortem of an incident: the stored document
// as JSON when the client accepts application/json, else as Markdown
// (the generated draft before there is a stored document).
func (a *pagerAPI) postmortem(h *Handler, w http.ResponseWriter, r *http.Request) {
	if pms := a.o.Postmortems; pms != nil {
		if strings.Contains(r.Header.Get("Accept"), "application/json") {
			pm, err := pms.Postmortem(r.PathValue("id"))
			if err != nil {
				h.respondError(w, pagerError(fmt.Errorf("postmortem %s: %w", r.PathValue("id"), err)))
				return
			}
			h.respond(w, apiResult{data: pm})
			return
		}
		a.exportPostmortem(h, pms, ".md", w, r)
		return
	}
	st, tl, err := a.o.Pager.Incident(r.PathValue("id"))
	if err != nil {
		h.respondError(w, pagerError(fmt.Errorf("incident %s: %w", r.PathValue("id"), err)))
		return
	}
	w.Header().Set("Content-Type", "text/markdown; charset=utf-8")
	if _, err := io.WriteString(w, Postmortem(st, tl)); err != nil {
		h.logger.Debug("write response", "err", err)
	}
}

// ---- on call and schedules ----

type apiOnCall struct {
	Level    int    `json:"level"`
	User     string `json:"user"`
	Schedule string `json:"schedule,omitempty"`
}

// oncall serves GET /api/v1/pager/oncall?target=schedule:NAME&time=T.
func (a *pagerAPI) oncall(r *http.Request) apiResult {
	target := r.FormValue("target")
	if target == "" {
		return apiResult{err: badData(errors.New("target is required: schedule:NAME, policy:NAME or route:NAME"))}
	}
	t, e := a.timeParam(r, "time")
	if e != nil {
		return apiResult{err: e}
	}
	list, err := a.o.Pager.WhoIsOnCall(target, t)
	if err != nil {
		return apiResult{err: pagerError(err)}
	}
	out := make([]apiOnCall, 0, len(list))
	for _, o := range list {
		out = append(out, apiOnCall{Level: o.Level, User: o.User, Schedule: o.Schedule})
	}
	return apiResult{data: map[string]any{"target": target, "time": t.UTC(), "oncall": out}}
}

type apiShift struct {
	User     string    `json:"user"`
	Start    time.Time `json:"start"`
	End      time.Time `json:"end"`
	Layer    string    `json:"layer,omitempty"`
	Override bool      `json:"override,omitempty"`
}

// preview serves GET /api/v1/pager/schedules/{name}/preview?days=N&start=T:
// the shifts from start (default now) for N days (default 7).
func (a *pagerAPI) preview(r *http.Request) apiResult {
	name := r.PathValue("name")
	var s *schedule.Schedule
	if a.o.Schedules != nil {
		s = a.o.Schedules(name)
	}
	if s == nil {
		return apiResult{err: &apiError{typ: errorNotFound, msg: fmt.Sprintf("unknown schedule %q", name)}}
	}
	days := defaultPreviewDays
	if v := r.FormValue("days"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 || n > a.o.MaxPreviewDays {
			return apiResult{err: invalidParam("days", fmt.Errorf("must be an integer from 1 to %d", a.o.MaxPreviewDays))}
		}
		days = n
	}
	from, e := a.timeParam(r, "start")
	if e != nil {
		return apiResult{err: e}
	}
	to := from.Add(time.Duration(days) * 24 * time.Hour)
	out := []apiShift{}
	for _, sh := range s.Shifts(from, to) {
		out = append(out, apiShift{User: sh.User, Start: sh.Start, End: sh.End, Layer: sh.Layer, Override: sh.Override})
	}
	return apiResult{data: map[string]any{"schedule": name, "start": from.UTC(), "end": to.UTC(), "shifts": out}}
}

// timeParam parses the time parameter name (default now), refusing times
// more than maxPagerTimeOffset away from now.
func (a *pagerAPI) timeParam(r *http.Request, name string) (time.Time, *apiError) {
	now := a.now()
	t, e := timeParam(r.FormValue(name), name, now)
	if e != nil {
		return t, e
	}
	if t.Before(now.Add(-maxPagerTimeOffset)) || t.After(now.Add(maxPagerTimeOffset)) {
		return time.Time{}, invalidParam(name, fmt.Errorf("must be within %d days of now", int(maxPagerTimeOffset/(24*time.Hour))))
	}
	return t, nil
}

// ---- silences ----

type apiSilence struct {
	ID        string    `json:"id"`
	Matchers  []string  `json:"matchers"`
	StartsAt  time.Time `json:"startsAt"`
	EndsAt    time.Time `json:"endsAt"`
	CreatedBy string    `json:"createdBy,omitempty"`
	Comment   string    `json:"comment,omitempty"`
	Status    string    `json:"status"` // pending, active, expired
}

func silenceView(s pager.Silence, now time.Time) apiSilence {
	v := apiSilence{ID: s.ID, Matchers: s.Matchers, StartsAt: s.StartsAt, EndsAt: s.EndsAt,
		CreatedBy: s.CreatedBy, Comment: s.Comment, Status: "active"}
	switch {
	case now.Before(s.StartsAt):
		v.Status = "pending"
	case !now.Before(s.EndsAt):
		v.Status = "expired"
	}
	if v.Matchers == nil {
		v.Matchers = []string{}
	}
	return v
}

// silences serves GET /api/v1/pager/silences (expired ones included;
// ?active=true keeps pending and active ones).
func (a *pagerAPI) silences(r *http.Request) apiResult {
	list, err := a.o.Pager.Silences()
	if err != nil {
		return apiResult{err: pagerError(err)}
	}
	activeOnly := false
	if v := r.FormValue("active"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return apiResult{err: invalidParam("active", err)}
		}
		activeOnly = b
	}
	now := a.now()
	out := make([]apiSilence, 0, len(list))
	for _, s := range list {
		v := silenceView(s, now)
		if activeOnly && v.Status == "expired" {
			continue
		}
		out = append(out, v)
	}
	return apiResult{data: out}
}

// createSilence serves POST /api/v1/pager/silences with {"matchers":
// [...], "startsAt"?, "endsAt" or "duration", "createdBy"?, "comment"?}.
func (a *pagerAPI) createSilence(r *http.Request) apiResult {
	var b struct {
		Matchers  []string   `json:"matchers"`
		StartsAt  *time.Time `json:"startsAt"`
		EndsAt    *time.Time `json:"endsAt"`
		Duration  string     `json:"duration"`
		CreatedBy string     `json:"createdBy"`
		Comment   string     `json:"comment"`
	}
	if e := decodeBody(r, &b); e != nil {
		return apiResult{err: e}
	}
	if len(b.Matchers) == 0 {
		return apiResult{err: badData(errors.New("matchers are required"))}
	}
	s := pager.Silence{Matchers: b.Matchers, CreatedBy: b.CreatedBy, Comment: b.Comment}
	if s.CreatedBy == "" {
		s.CreatedBy = defaultActor
	}
	start := a.now()
	if b.StartsAt != nil {
		s.StartsAt, start = *b.StartsAt, *b.StartsAt
	}
	switch {
	case b.EndsAt != nil && b.Duration != "":
		return apiResult{err: badData(errors.New("give endsAt or duration, not both"))}
	case b.EndsAt != nil:
		s.EndsAt = *b.EndsAt
	case b.Duration != "":
		d, err := ParseDuration(b.Duration)
		if err != nil {
			return apiResult{err: invalidParam("duration", err)}
		}
		s.EndsAt = start.Add(d)
	default:
		return apiResult{err: badData(errors.New("endsAt or duration is required"))}
	}
	id, err := a.o.Pager.CreateSilence(s)
	if err != nil {
		return apiResult{err: pagerError(err)}
	}
	return apiResult{data: map[string]string{"silenceID": id}}
}

// expireSilence serves DELETE /api/v1/pager/silences/{id}.
func (a *pagerAPI) expireSilence(r *http.Request) apiResult {
	if err := a.o.Pager.ExpireSilence(r.PathValue("id")); err != nil {
		return apiResult{err: pagerError(err)}
	}
	return apiResult{data: map[string]string{"silenceID": r.PathValue("id"), "status": "expired"}}
}
