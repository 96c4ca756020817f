package web

import (
	"bytes"
	"errors"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/watchdog-sre/watchdog/pager"
	"github.com/watchdog-sre/watchdog/pager/calendar"
)

// Calendars is what the calendar feeds and the schedule overrides need of
// the pager. *pager.Pager implements it.
type Calendars interface {
	// CalendarFeed returns the calendar of the feed with secret, or
	// pager.ErrNotFound for an unknown, revoked or wrong-kind secret.
	CalendarFeed(kind, secret string) (calendar.Feed, error)
	CreateCalendarFeed(kind, name string, by pager.Actor) (pager.CalendarFeed, string, error)
	CalendarFeeds() ([]pager.CalendarFeed, error)
	RevokeCalendarFeed(id string, by pager.Actor) error
	AddOverride(o pager.ScheduleOverride, by pager.Actor) (pager.ScheduleOverride, []string, error)
	Overrides(schedule string, since time.Time) ([]pager.ScheduleOverride, error)
	DeleteOverride(schedule, id string, force bool, by pager.Actor) error
}

// enableCalendars registers the feeds (open: the secret in the URL is the
// authorisation) and the admin API of feeds and overrides.
func (h *Handler) enableCalendars(c Calendars, schedules ScheduleFunc) {
	feeds := &calendarFeeds{c: c, now: h.now, h: h, schedules: schedules}
	for _, kind := range []string{pager.FeedSchedule, pager.FeedUser} {
		h.handleOpen("GET /calendar/"+kind+"/{file}", feeds.serve(kind))
	}
	api := func(pattern string, f apiFunc) { h.Handle(pattern, h.wrap(f)) }
	// Listing feeds is an admin's business even though it is a GET.
	list := h.wrap(feeds.list)
	h.Handle("GET /api/v1/pager/calendars", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r, ok := h.authorize(w, r, "/api/v1/pager/calendars"); ok {
			list.ServeHTTP(w, r)
		}
	}))
	api("POST /api/v1/pager/calendars", feeds.create)
	api("DELETE /api/v1/pager/calendars/{id}", feeds.revoke)
	api("GET /api/v1/pager/schedules/{name}/overrides", feeds.overrides)
	api("POST /api/v1/pager/schedules/{name}/overrides", feeds.addOverride)
	api("DELETE /api/v1/pager/schedules/{name}/overrides/{id}", feeds.deleteOverride)
	if h.people != nil {
		// The /oncall page's form, for a person signed in to the console.
		h.handleOpen("POST /oncall/overrides", http.HandlerFunc(feeds.consoleOverride))
	}
}

type calendarFeeds struct {
	c         Calendars
	now       func() time.Time
	h         *Handler
	schedules ScheduleFunc // for the zone of the console form's times; may be nil
}

// consoleOverride serves the /oncall page's override form (schedule,
// user, start and end as datetime-local in the schedule's zone, comment)
// as the signed-in person, Via "console"; CSRF-checked like every
// console form. A person with the respond scope may cover shifts.
func (f *calendarFeeds) consoleOverride(w http.ResponseWriter, r *http.Request) {
	c, _, ok := f.h.checkForm(w, r)
	if !ok {
		return
	}
	if !c.HasScope(pager.ScopeRespond) {
		f.h.plainPage(w, http.StatusForbidden, signinData{Title: "Not allowed", Text: "Your token lacks the respond scope."})
		return
	}
	name := r.PostFormValue("schedule")
	loc := time.UTC
	if f.schedules != nil {
		if s := f.schedules(name); s != nil {
			if l, err := time.LoadLocation(s.TimeZone); err == nil {
				loc = l
			}
		}
	}
	const layout = "2006-01-02T15:04"
	start, err1 := time.ParseInLocation(layout, r.PostFormValue("start"), loc)
	end, err2 := time.ParseInLocation(layout, r.PostFormValue("end"), loc)
	if err1 != nil || err2 != nil {
		f.h.plainPage(w, http.StatusBadRequest, signinData{Title: "Not done",
			Error: "start and end must be date-times such as 2026-03-02T14:00 (in the schedule's time zone)"})
		return
	}
	_, warnings, err := f.c.AddOverride(pager.ScheduleOverride{Schedule: name, User: strings.TrimSpace(r.PostFormValue("user")),
		Start: start, End: end, Comment: r.PostFormValue("comment")}, pager.Actor{User: c.User, Via: pager.ViaConsole})
	if err != nil {
		f.h.plainPage(w, calendarError(err).status(), signinData{Title: "Not done", Error: err.Error()})
		return
	}
	if len(warnings) > 0 {
		f.h.plainPage(w, http.StatusOK, signinData{Title: "Override added", Text: "Note: " + strings.Join(warnings, "; ") + "."})
		return
	}
	http.Redirect(w, r, "/oncall", http.StatusSeeOther)
}

// serve answers GET /calendar/KIND/SECRET.ics with the feed, and every
// unknown, revoked or malformed secret with the same 404.
func (f *calendarFeeds) serve(kind string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		secret, ok := strings.CutSuffix(r.PathValue("file"), ".ics")
		var feed calendar.Feed
		var err error = pager.ErrNotFound
		if ok {
			feed, err = f.c.CalendarFeed(kind, secret)
		}
		if errors.Is(err, pager.ErrNotFound) {
			http.Error(w, "404 page not found", http.StatusNotFound)
			return
		}
		var buf bytes.Buffer
		if err == nil {
			err = calendar.Write(&buf, feed, f.now())
		}
		if err != nil {
			f.h.logger.Error("calendar feed", "err", err)
			http.Error(w, "calendar unavailable", http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "text/calendar; charset=utf-8")
		w.Header().Set("Cache-Control", "private, max-age=300")
		w.Header().Set("Referrer-Policy", "no-referrer")
		if _, err := w.Write(buf.Bytes()); err != nil {
			f.h.logger.Debug("write response", "err", err)
		}
	}
}

type apiFeed struct {
	ID        string     `json:"id"`
	Kind      string     `json:"kind"`
	Name      string     `json:"name"`
	CreatedBy string     `json:"createdBy"`
	CreatedAt time.Time  `json:"createdAt"`
	RevokedAt *time.Time `json:"revokedAt,omitempty"`
	RevokedBy string     `json:"revokedBy,omitempty"`
	// URL is the feed's path with its secret: only in the answer to the
	// POST that created it.
	URL string `json:"url,omitempty"`
}

func toAPIFeed(c pager.CalendarFeed) apiFeed {
	a := apiFeed{ID: c.ID, Kind: c.Kind, Name: c.Name, CreatedBy: c.CreatedBy, CreatedAt: c.CreatedAt, RevokedBy: c.RevokedBy}
	if !c.RevokedAt.IsZero() {
		t := c.RevokedAt
		a.RevokedAt = &t
	}
	return a
}

func (f *calendarFeeds) list(r *http.Request) apiResult {
	if e := requireAdmin(r); e != nil {
		return apiResult{err: e}
	}
	list, err := f.c.CalendarFeeds()
	if err != nil {
		return apiResult{err: pagerError(err)}
	}
	out := make([]apiFeed, 0, len(list))
	for _, c := range list {
		out = append(out, toAPIFeed(c))
	}
	return apiResult{data: out}
}

// create serves POST /api/v1/pager/calendars {"schedule": NAME} or
// {"user": NAME}: the answer's url holds the secret, shown only here.
func (f *calendarFeeds) create(r *http.Request) apiResult {
	if e := requireAdmin(r); e != nil {
		return apiResult{err: e}
	}
	var b struct {
		Schedule string `json:"schedule"`
		User     string `json:"user"`
		By       string `json:"by"`
		Via      string `json:"via"`
	}
	if e := decodeBody(r, &b); e != nil {
		return apiResult{err: e}
	}
	kind, name := pager.FeedSchedule, b.Schedule
	switch {
	case (b.Schedule == "") == (b.User == ""):
		return apiResult{err: badData(errors.New("give schedule or user"))}
	case b.User != "":
		kind, name = pager.FeedUser, b.User
	}
	c, secret, err := f.c.CreateCalendarFeed(kind, name, actorBody{By: b.By, Via: b.Via}.actor(r))
	if err != nil {
		return apiResult{err: calendarError(err)}
	}
	a := toAPIFeed(c)
	a.URL = "/calendar/" + kind + "/" + secret + ".ics"
	return apiResult{data: a}
}

func (f *calendarFeeds) revoke(r *http.Request) apiResult {
	if e := requireAdmin(r); e != nil {
		return apiResult{err: e}
	}
	var b actorBody
	if e := decodeBody(r, &b); e != nil {
		return apiResult{err: e}
	}
	if err := f.c.RevokeCalendarFeed(r.PathValue("id"), b.actor(r)); err != nil {
		return apiResult{err: pagerError(err)}
	}
	return apiResult{data: map[string]string{"id": r.PathValue("id"), "status": "revoked"}}
}

type apiOverride struct {
	ID        string    `json:"id"`
	Schedule  string    `json:"schedule"`
	User      string    `json:"user"`
	Start     time.Time `json:"start"`
	End       time.Time `json:"end"`
	CreatedBy string    `json:"createdBy"`
	Via       string    `json:"via,omitempty"`
	CreatedAt time.Time `json:"createdAt"`
	Comment   string    `json:"comment,omitempty"`
	// Warnings of the POST that added it (overlaps, redundancy).
	Warnings []string `json:"warnings,omitempty"`
}

func toAPIOverride(o pager.ScheduleOverride) apiOverride {
	return apiOverride{ID: o.ID, Schedule: o.Schedule, User: o.User, Start: o.Start.UTC(), End: o.End.UTC(),
		CreatedBy: o.CreatedBy, Via: o.Via, CreatedAt: o.CreatedAt.UTC(), Comment: o.Comment}
}

// overrides serves GET …/schedules/{name}/overrides: the stored overrides
// that have not ended.
func (f *calendarFeeds) overrides(r *http.Request) apiResult {
	list, err := f.c.Overrides(r.PathValue("name"), f.now())
	if err != nil {
		return apiResult{err: pagerError(err)}
	}
	out := make([]apiOverride, 0, len(list))
	for _, o := range list {
		out = append(out, toAPIOverride(o))
	}
	return apiResult{data: out}
}

// addOverride serves POST …/schedules/{name}/overrides
// {"user", "start", "end", "by", "comment", "via"}.
func (f *calendarFeeds) addOverride(r *http.Request) apiResult {
	var b struct {
		User    string    `json:"user"`
		Start   time.Time `json:"start"`
		End     time.Time `json:"end"`
		By      string    `json:"by"`
		Via     string    `json:"via"`
		Comment string    `json:"comment"`
	}
	if e := decodeBody(r, &b); e != nil {
		return apiResult{err: e}
	}
	o, warnings, err := f.c.AddOverride(pager.ScheduleOverride{Schedule: r.PathValue("name"), User: b.User,
		Start: b.Start, End: b.End, Comment: b.Comment}, actorBody{By: b.By, Via: b.Via}.actor(r))
	if err != nil {
		return apiResult{err: calendarError(err)}
	}
	a := toAPIOverride(o)
	a.Warnings = warnings
	return apiResult{data: a}
}

// deleteOverride serves DELETE …/schedules/{name}/overrides/{id}[?force=true].
func (f *calendarFeeds) deleteOverride(r *http.Request) apiResult {
	force := r.FormValue("force") == "true"
	if err := f.c.DeleteOverride(r.PathValue("name"), r.PathValue("id"), force, actorBody{}.actor(r)); err != nil {
		return apiResult{err: calendarError(err)}
	}
	return apiResult{data: map[string]string{"id": r.PathValue("id"), "status": "deleted"}}
}

func calendarError(err error) *apiError {
	switch {
	case errors.Is(err, pager.ErrBadOverride), errors.Is(err, pager.ErrBadFeed):
		return &apiError{typ: errorBadData, msg: err.Error()}
	case errors.Is(err, pager.ErrOverrideGap):
		return &apiError{typ: errorConflict, code: http.StatusConflict, msg: err.Error()}
	}
	return pagerError(err)
}

// requireAdmin refuses people whose credential lacks the admin scope:
// calendar feeds are an administrator's business. The shared API token
// (the operator's key) has every scope.
func requireAdmin(r *http.Request) *apiError {
	id, ok := IdentityFrom(r.Context())
	if !ok || id.Operator || slices.Contains(id.Scopes, pager.ScopeAdmin) {
		return nil
	}
	return &apiError{typ: errorUnauthorized, code: http.StatusForbidden, msg: "calendar feeds need a token with the admin scope"}
}
