package web

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/watchdog-sre/watchdog/pager"
)

// TestConsoleMaintenanceForms: a person with the respond scope may not
// schedule maintenance; an admin schedules a window from the console
// form (bad windows refused with 400 and nothing stored), ends a running
// one early, which expires its silence at once, and cancels an upcoming
// one; the API ends windows too.
func TestConsoleMaintenanceForms(t *testing.T) {
	_, p, clk := newTestPager(t)
	srv, h := newTestServer(t, Options{Token: pagerToken, Now: clk.now})
	h.EnablePager(PagerOptions{Pager: p, People: p})
	signIn := func(scope string) func(form url.Values) (int, string) {
		secret, _, err := p.CreateToken("alice", "", []string{scope}, 0)
		if err != nil {
			t.Fatal(err)
		}
		jar, _ := cookiejar.New(nil)
		c := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		if resp, err := c.PostForm(srv.URL+"/signin", url.Values{"token": {secret}}); err != nil || resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("sign in: %v %v", resp, err)
		}
		var csrf string
		for _, k := range jar.Cookies(mustURL(t, srv.URL)) {
			if k.Name == SessionCookie {
				csrf = CSRFToken(k.Value)
			}
		}
		return func(form url.Values) (int, string) {
			t.Helper()
			if !form.Has("csrf") {
				form.Set("csrf", csrf)
			}
			resp, err := c.PostForm(srv.URL+"/maintenance/act", form)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			return resp.StatusCode, string(b)
		}
	}
	ts := func(d time.Duration) string { return clk.now().UTC().Add(d).Format(maintenanceFormLayout) }
	window := func(start, end time.Duration, matchers string) url.Values {
		return url.Values{"action": {"schedule"}, "title": {"DB upgrade"}, "text": {"Checkout may be slow."}, "component": {"Checkout"},
			"matchers": {matchers}, "start": {ts(start)}, "end": {ts(end)}}
	}
	responder := signIn(pager.ScopeRespond)
	if code, body := responder(window(time.Minute, time.Hour, `service="checkout"`)); code != http.StatusForbidden || !strings.Contains(body, "admin scope") {
		t.Errorf("respond scope: %d %.200s", code, body)
	}
	admin := signIn(pager.ScopeAdmin)
	for _, s := range []struct {
		name string
		form url.Values
		code int
		want string
	}{
		{"no csrf", url.Values{"action": {"schedule"}, "csrf": {"x"}}, 403, ""},
		{"end before start", window(time.Hour, time.Minute, `service="checkout"`), 400, "ends_at must follow"},
		{"window too long", window(time.Minute, 8*24*time.Hour, `service="checkout"`), 400, "longer than"},
		{"no matchers", window(time.Minute, time.Hour, "\n \n"), 400, "one matcher a line"},
		{"silences everything", window(time.Minute, time.Hour, `a=~".*"`), 400, "silence every alert"},
		{"bad time", url.Values{"action": {"schedule"}, "title": {"t"}, "component": {"c"}, "matchers": {`a="b"`}, "start": {"soon"}, "end": {"later"}}, 400, "date-times"},
		{"text too long", func() url.Values {
			f := window(time.Minute, time.Hour, `service="checkout"`)
			f.Set("text", strings.Repeat("x", pager.MaxMaintenanceText+1))
			return f
		}(), 400, "too long"},
		{"too many matchers", window(time.Minute, time.Hour, strings.Repeat("a=\"b\"\n", 500)), 400, "at most"},
		{"running", window(-time.Minute, time.Hour, "service=\"checkout\"\r\n\r\n"), 303, ""},
		{"upcoming", window(2*time.Hour, 3*time.Hour, `service="search"`), 303, ""},
		{"end unknown", url.Values{"action": {"end"}, "id": {"mw-404"}}, 404, ""},
	} {
		code, body := admin(s.form)
		if code != s.code || !strings.Contains(body, s.want) {
			t.Errorf("%s: %d, want %d with %q: %.300s", s.name, code, s.code, s.want, body)
		}
	}
	list, err := p.Maintenances()
	if err != nil || len(list) != 2 || list[0].Title != "DB upgrade" || list[0].By != (pager.Actor{User: "alice", Via: pager.ViaConsole}) ||
		len(list[0].Matchers) != 1 || list[0].Matchers[0] != `service="checkout"` {
		t.Fatalf("stored windows: %+v, %v", list, err)
	}
	running, upcoming := list[0], list[1]
	if !silenceActive(t, p, running.SilenceID, clk.now()) {
		t.Fatal("the running window's silence is not active")
	}
	if code, body := admin(url.Values{"action": {"end"}, "id": {running.ID}}); code != http.StatusSeeOther {
		t.Fatalf("end now: %d %.300s", code, body)
	}
	if silenceActive(t, p, running.SilenceID, clk.now()) {
		t.Error("the window ended early but its silence is still active")
	}
	if r := call(t, srv, "POST", "/api/v1/pager/maintenances/"+upcoming.ID+"/end", pagerToken, `{"by":"ops"}`); r.code != 200 ||
		!strings.Contains(string(r.body), `"cancelled":true`) {
		t.Errorf("API end of the upcoming window: %d %s", r.code, r.body)
	}
	if silenceActive(t, p, upcoming.SilenceID, clk.now().Add(2*time.Hour+time.Minute)) {
		t.Error("the cancelled window still silences during its slot")
	}
	if code, _ := admin(url.Values{"action": {"end"}, "id": {running.ID}}); code != http.StatusBadRequest {
		t.Errorf("ending an ended window: %d, want 400", code)
	}
}

// silenceActive reports whether silence id applies at at.
func silenceActive(t *testing.T, p *pager.Pager, id string, at time.Time) bool {
	t.Helper()
	sils, err := p.Silences()
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range sils {
		if s.ID == id {
			return s.Active(at)
		}
	}
	t.Fatalf("no silence %s", id)
	return false
}
