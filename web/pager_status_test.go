package web

import (
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"

	"github.com/watchdog-sre/watchdog/pager"
)

// TestStatusUpdatesAPI: responders post public updates with the shared or
// a personal token (which records its user whatever "by" says); bad
// statuses, empty or oversized text and unknown incidents are refused.
func TestStatusUpdatesAPI(t *testing.T) {
	srv, p, _ := newPeopleServer(t)
	bob, _, err := p.CreateToken("bob", "", []string{"respond"}, 0)
	if err != nil {
		t.Fatal(err)
	}
	const path = "/api/v1/pager/incidents/inc-1/status-updates"
	for _, tc := range []struct {
		name, path, bearer, body string
		code                     int
	}{
		{"no token", path, "", `{"status":"investigating","text":"x"}`, 401},
		{"bad status", path, pagerToken, `{"status":"fixed","text":"x"}`, 400},
		{"empty text", path, pagerToken, `{"status":"investigating","text":"  "}`, 400},
		{"long text", path, pagerToken, `{"status":"investigating","text":"` + strings.Repeat("x", pager.MaxStatusUpdateText+1) + `"}`, 400},
		{"unknown incident", "/api/v1/pager/incidents/inc-9/status-updates", pagerToken, `{"status":"investigating","text":"x"}`, 404},
		{"shared token", path, pagerToken, `{"by":"alice","status":"investigating","text":"Looking into login errors"}`, 200},
		{"personal token", path, bob, `{"by":"alice","status":"identified","text":"Bad deploy"}`, 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if r := call(t, srv, "POST", tc.path, tc.bearer, tc.body); r.code != tc.code {
				t.Errorf("%d, want %d: %s", r.code, tc.code, r.body)
			}
		})
	}
	list, err := p.StatusUpdates("inc-1", 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || list[0].By != (pager.Actor{User: "bob", Via: pager.ViaAPI}) || list[0].Status != pager.UpdateIdentified ||
		list[1].By.User != "alice" || list[1].Text != "Looking into login errors" {
		t.Fatalf("stored updates: %+v", list)
	}
	r := call(t, srv, "GET", path, "", "")
	if r.code != 200 || !strings.Contains(string(r.body), `"text":"Bad deploy"`) {
		t.Errorf("GET: %d %s", r.code, r.body)
	}
}

// TestConsoleStatusUpdate: the incident page's form posts an update as
// the signed-in person, Via console, CSRF-checked.
func TestConsoleStatusUpdate(t *testing.T) {
	srv, p, _ := newPeopleServer(t)
	secret, _, err := p.CreateToken("alice", "", []string{"respond"}, 0)
	if err != nil {
		t.Fatal(err)
	}
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.PostForm(srv.URL+"/signin", url.Values{"token": {secret}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	var csrf string
	for _, k := range resp.Cookies() {
		if k.Name == SessionCookie {
			csrf = CSRFToken(k.Value)
		}
	}
	for _, tc := range []struct {
		name string
		form url.Values
		code int
	}{
		{"no csrf", url.Values{"action": {"status_update"}, "status": {"monitoring"}, "update_text": {"x"}}, 403},
		{"bad status", url.Values{"action": {"status_update"}, "status": {"done"}, "update_text": {"x"}, "csrf": {csrf}}, 400},
		{"post", url.Values{"action": {"status_update"}, "status": {"monitoring"}, "update_text": {"Fix rolled out"}, "csrf": {csrf}}, 303},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := c.PostForm(srv.URL+"/incidents/inc-1/act", tc.form)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tc.code {
				t.Errorf("%d, want %d", resp.StatusCode, tc.code)
			}
		})
	}
	list, err := p.StatusUpdates("inc-1", 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 || list[0].By != (pager.Actor{User: "alice", Via: pager.ViaConsole}) || list[0].Text != "Fix rolled out" {
		t.Fatalf("stored: %+v", list)
	}
}

// TestMaintenanceAPI: scheduling a window needs the shared token or an
// admin personal token (it silences alerts); it creates the silence.
func TestMaintenanceAPI(t *testing.T) {
	srv, p, _ := newPeopleServer(t)
	responder, _, _ := p.CreateToken("bob", "", []string{"respond"}, 0)
	admin, _, _ := p.CreateToken("alice", "", []string{"admin"}, 0)
	ok := `{"title":"DB upgrade","text":"Checkout may be slow","components":["Checkout"],"matchers":["job=\"db\""],` +
		`"startsAt":"2026-03-10T10:00:00Z","endsAt":"2026-03-10T11:00:00Z"}`
	for _, tc := range []struct {
		name, bearer, body string
		code               int
	}{
		{"no token", "", ok, 401},
		{"respond scope", responder, ok, 403},
		{"no components", pagerToken, `{"title":"x","matchers":["a=\"b\""],"startsAt":"2026-03-10T10:00:00Z","endsAt":"2026-03-10T11:00:00Z"}`, 400},
		{"everything", pagerToken, `{"title":"x","components":["C"],"matchers":["a=~\".*\""],"startsAt":"2026-03-10T10:00:00Z","endsAt":"2026-03-10T11:00:00Z"}`, 400},
		{"admin", admin, ok, 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if r := call(t, srv, "POST", "/api/v1/pager/maintenances", tc.bearer, tc.body); r.code != tc.code {
				t.Errorf("%d, want %d: %s", r.code, tc.code, r.body)
			}
		})
	}
	list, err := p.Maintenances()
	if err != nil || len(list) != 1 || list[0].By.User != "alice" {
		t.Fatalf("stored: %+v %v", list, err)
	}
	sils, _ := p.Silences()
	if len(sils) != 1 || sils[0].ID != list[0].SilenceID || sils[0].Matchers[0] != `job="db"` {
		t.Errorf("silences %+v", sils)
	}
}
