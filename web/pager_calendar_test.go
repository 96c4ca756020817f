package web

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	ics "github.com/arran4/golang-ical"

	"github.com/watchdog-sre/watchdog/pager"
	"github.com/watchdog-sre/watchdog/pager/schedule"
)

var _ Calendars = (*pager.Pager)(nil)

// newCalendarServer is newPagerServer with the calendar feeds and the
// overrides API on, previews showing the stored overrides.
func newCalendarServer(t *testing.T) (*httptest.Server, *pager.Pager) {
	t.Helper()
	data, err := os.ReadFile("testdata/pager.yml")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := pager.ParseConfig("testdata/pager.yml", data)
	if err != nil {
		t.Fatal(err)
	}
	clk := &clock{t: pagerEpoch}
	p, err := pager.New(pager.Options{Config: cfg, Now: clk.now, AckKey: []byte("test-key"), ExternalURL: "http://wd.test"})
	if err != nil {
		t.Fatal(err)
	}
	srv, h := newTestServer(t, Options{Token: pagerToken, Now: clk.now})
	effective := func(name string) *schedule.Schedule {
		s, err := p.EffectiveSchedule(name)
		if err != nil {
			return nil
		}
		return s
	}
	h.EnablePager(PagerOptions{Pager: p, Schedules: effective, Calendars: p})
	return srv, p
}

func decodeData(t *testing.T, r response, dst any) {
	t.Helper()
	var env struct {
		Status string          `json:"status"`
		Data   json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(r.body, &env); err != nil || env.Status != "success" {
		t.Fatalf("response %d %s: %v", r.code, r.body, err)
	}
	if err := json.Unmarshal(env.Data, dst); err != nil {
		t.Fatal(err)
	}
}

// TestCalendarFeedHTTP: a feed created through the API serves an
// iCalendar document golang-ical parses, with the override added through
// the API in it and in the preview; unknown and revoked secrets get the
// same 404; the admin calls need the token.
func TestCalendarFeedHTTP(t *testing.T) {
	srv, _ := newCalendarServer(t)
	if r := doJSON(t, srv, "POST", "/api/v1/pager/calendars", `{"schedule":"primary"}`, false); r.code != 401 {
		t.Fatalf("create without token: %d %s", r.code, r.body)
	}
	if r := doJSON(t, srv, "GET", "/api/v1/pager/calendars", "", false); r.code != 401 {
		t.Fatalf("list without token: %d %s", r.code, r.body)
	}
	var feed apiFeed
	decodeData(t, doJSON(t, srv, "POST", "/api/v1/pager/calendars", `{"schedule":"primary","by":"alice"}`, true), &feed)
	if !strings.HasPrefix(feed.URL, "/calendar/schedule/") || !strings.HasSuffix(feed.URL, ".ics") || feed.CreatedBy != "alice (api)" {
		t.Fatalf("feed %+v", feed)
	}
	var ov apiOverride
	decodeData(t, doJSON(t, srv, "POST", "/api/v1/pager/schedules/primary/overrides",
		`{"user":"bob","start":"2026-03-02T12:00:00Z","end":"2026-03-02T14:00:00Z","by":"alice","via":"cli"}`, true), &ov)
	if ov.ID != "ovr-1" || ov.CreatedBy != "alice" || ov.Via != "cli" {
		t.Fatalf("override %+v", ov)
	}

	r := doJSON(t, srv, "GET", feed.URL, "", false)
	if r.code != 200 || r.hdr.Get("Content-Type") != "text/calendar; charset=utf-8" {
		t.Fatalf("feed: %d %s %s", r.code, r.hdr.Get("Content-Type"), r.body)
	}
	cal, err := ics.ParseCalendar(bytes.NewReader(r.body))
	if err != nil {
		t.Fatal(err)
	}
	var preview struct {
		Shifts []apiShift `json:"shifts"`
	}
	decodeData(t, doJSON(t, srv, "GET", "/api/v1/pager/schedules/primary/preview?days=3&start=2026-03-02T00:00:00Z", "", false), &preview)
	events := map[time.Time]string{}
	for _, ev := range cal.Events() {
		st, err := ev.GetStartAt()
		if err != nil {
			t.Fatal(err)
		}
		events[st.UTC()] = ev.GetProperty(ics.ComponentPropertySummary).Value
	}
	if len(preview.Shifts) < 4 {
		t.Fatalf("preview %+v", preview.Shifts)
	}
	for _, sh := range preview.Shifts[1:] { // the first one is clipped by the preview
		if got := events[sh.Start.UTC()]; got != sh.User+" on call" {
			t.Errorf("shift %+v: feed event %q", sh, got)
		}
	}
	if events[time.Date(2026, 3, 2, 12, 0, 0, 0, time.UTC)] != "bob on call" {
		t.Errorf("the override is not in the feed: %v", events)
	}

	// Unknown, malformed and revoked secrets: one identical 404.
	notFound := doJSON(t, srv, "GET", "/calendar/schedule/nope.ics", "", false)
	if notFound.code != 404 {
		t.Fatalf("unknown: %d", notFound.code)
	}
	user := strings.Replace(feed.URL, "/schedule/", "/user/", 1)
	for _, path := range []string{user, strings.TrimSuffix(feed.URL, ".ics"), "/calendar/schedule/" + strings.Repeat("a", 5000) + ".ics"} {
		if r := doJSON(t, srv, "GET", path, "", false); r.code != 404 || !bytes.Equal(r.body, notFound.body) {
			t.Errorf("GET %s: %d %q", path[:min(len(path), 60)], r.code, r.body)
		}
	}
	if r := doJSON(t, srv, "POST", feed.URL, "", true); r.code != 405 {
		t.Errorf("POST to a feed: %d", r.code)
	}
	if r := doJSON(t, srv, "DELETE", "/api/v1/pager/calendars/"+feed.ID, `{"by":"bob"}`, true); r.code != 200 {
		t.Fatalf("revoke: %d %s", r.code, r.body)
	}
	if r := doJSON(t, srv, "GET", feed.URL, "", false); r.code != 404 || !bytes.Equal(r.body, notFound.body) {
		t.Errorf("revoked feed: %d %q", r.code, r.body)
	}
	var feeds []apiFeed
	decodeData(t, doJSON(t, srv, "GET", "/api/v1/pager/calendars", "", true), &feeds)
	if len(feeds) != 1 || feeds[0].RevokedBy != "bob (api)" || feeds[0].URL != "" {
		t.Errorf("feeds %+v", feeds)
	}
}

// TestOverrideAPI: bad overrides are 400 with the reason, listing shows
// the stored ones, deleting needs the token and an existing ID.
func TestOverrideAPI(t *testing.T) {
	srv, _ := newCalendarServer(t)
	tests := []struct {
		name, body string
		code       int
		want       string
	}{
		{"end before start", `{"user":"bob","start":"2026-03-02T14:00:00Z","end":"2026-03-02T12:00:00Z"}`, 400, "is not after start"},
		{"unknown user", `{"user":"eve","start":"2026-03-02T12:00:00Z","end":"2026-03-02T14:00:00Z"}`, 400, "unknown user"},
		{"absurd", `{"user":"bob","start":"2026-03-02T12:00:00Z","end":"9999-03-02T14:00:00Z"}`, 400, "longer than"},
		{"unknown field", `{"user":"bob","who":"x"}`, 400, "unknown field"},
		{"ok", `{"user":"bob","start":"2026-03-02T12:00:00Z","end":"2026-03-02T14:00:00Z"}`, 200, `"createdBy":"operator"`},
		{"overlap", `{"user":"alice","start":"2026-03-02T13:00:00Z","end":"2026-03-02T15:00:00Z"}`, 200, "overlaps ovr-1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := doJSON(t, srv, "POST", "/api/v1/pager/schedules/primary/overrides", tt.body, true)
			if r.code != tt.code || !strings.Contains(string(r.body), tt.want) {
				t.Errorf("%d %s, want %d with %q", r.code, r.body, tt.code, tt.want)
			}
		})
	}
	if r := doJSON(t, srv, "POST", "/api/v1/pager/schedules/nope/overrides", tests[4].body, true); r.code != 400 {
		t.Errorf("unknown schedule: %d %s", r.code, r.body)
	}
	var list []apiOverride
	decodeData(t, doJSON(t, srv, "GET", "/api/v1/pager/schedules/primary/overrides", "", false), &list)
	if len(list) != 2 || list[0].User != "bob" || list[1].User != "alice" {
		t.Fatalf("list %+v", list)
	}
	if r := doJSON(t, srv, "DELETE", "/api/v1/pager/schedules/primary/overrides/ovr-1", "", false); r.code != 401 {
		t.Errorf("delete without token: %d", r.code)
	}
	if r := doJSON(t, srv, "DELETE", "/api/v1/pager/schedules/primary/overrides/ovr-1", "", true); r.code != 200 {
		t.Errorf("delete: %d %s", r.code, r.body)
	}
	if r := doJSON(t, srv, "DELETE", "/api/v1/pager/schedules/primary/overrides/ovr-1", "", true); r.code != 404 {
		t.Errorf("delete again: %d %s", r.code, r.body)
	}
}

// TestConsoleOverrideForm: a person signed in to the console adds an
// override with the /oncall form (times in the schedule's zone); the
// override records them with via "console"; forms without the CSRF token,
// from another origin or without a session change nothing.
func TestConsoleOverrideForm(t *testing.T) {
	cfg, p, clk := newTestPager(t)
	srv, h := newTestServer(t, Options{Token: pagerToken, Now: clk.now})
	h.EnablePager(PagerOptions{Pager: p, Schedules: cfg.Schedule, People: p, Calendars: p})
	secret, _, err := p.CreateToken("bob", "", []string{"respond"}, 0)
	if err != nil {
		t.Fatal(err)
	}
	_, post := formClient(t, srv)
	form := url.Values{"schedule": {"primary"}, "user": {"alice"}, "start": {"2026-03-02T12:00"}, "end": {"2026-03-02T14:00"}, "comment": {"covering"}}
	if r := post("/oncall/overrides", form, nil); r.StatusCode != 401 {
		t.Errorf("without a session: %d", r.StatusCode)
	}
	r := post("/signin", url.Values{"token": {secret}}, nil)
	var session string
	for _, k := range r.Cookies() {
		if k.Name == SessionCookie {
			session = k.Value
		}
	}
	if session == "" {
		t.Fatalf("sign in: %d", r.StatusCode)
	}
	if r := post("/oncall/overrides", form, nil); r.StatusCode != 403 {
		t.Errorf("without csrf: %d", r.StatusCode)
	}
	form.Set("csrf", CSRFToken(session))
	if r := post("/oncall/overrides", form, map[string]string{"Origin": "http://evil.example"}); r.StatusCode != 403 {
		t.Errorf("other origin: %d", r.StatusCode)
	}
	bad := url.Values{"csrf": form["csrf"], "schedule": {"primary"}, "user": {"bob"}, "start": {"2026-03-02T14:00"}, "end": {"2026-03-02T12:00"}}
	if r := post("/oncall/overrides", bad, nil); r.StatusCode != 400 {
		t.Errorf("end before start: %d", r.StatusCode)
	}
	if list, _ := p.Overrides("", time.Time{}); len(list) != 0 {
		t.Fatalf("refused forms stored %+v", list)
	}
	if r := post("/oncall/overrides", form, map[string]string{"Sec-Fetch-Site": "same-origin"}); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("add: %d", r.StatusCode)
	}
	list, err := p.Overrides("primary", time.Time{})
	if err != nil || len(list) != 1 {
		t.Fatalf("overrides %+v, %v", list, err)
	}
	if o := list[0]; o.CreatedBy != "bob" || o.Via != pager.ViaConsole || o.User != "alice" || o.Comment != "covering" ||
		!o.Start.Equal(time.Date(2026, 3, 2, 12, 0, 0, 0, time.UTC)) {
		t.Errorf("override %+v", o)
	}
}
