package web

import (
	"io"
	"net/url"
	"strings"
	"testing"

	"github.com/watchdog-sre/watchdog/pager"
)

// TestConsolePostmortemForms: the signed-in person creates, edits,
// previews, publishes a postmortem and adds and closes an action item
// through the console's forms; a form without the CSRF token and a stale
// edit change nothing; the preview is sanitised.
func TestConsolePostmortemForms(t *testing.T) {
	_, p, clk := newTestPager(t)
	srv, h := newTestServer(t, Options{Token: pagerToken, Now: clk.now})
	h.EnablePager(PagerOptions{Pager: p, People: p, Postmortems: p})
	if r := call(t, srv, "POST", "/api/v2/alerts", pagerToken, loginAlert); r.code != 200 {
		t.Fatalf("receive: %d %s", r.code, r.body)
	}
	c, csrf := signInAs(t, srv, p, "alice", "respond")
	post := func(form url.Values) (int, string) {
		t.Helper()
		resp, err := c.PostForm(srv.URL+"/incidents/inc-1/postmortem/act", form)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	for _, s := range []struct {
		name string
		form url.Values
		code int
		want string
	}{
		{"no csrf", url.Values{"action": {"create"}}, 403, ""},
		{"create", url.Values{"action": {"create"}, "csrf": {csrf}}, 303, ""},
		{"save", url.Values{"action": {"save"}, "csrf": {csrf}, "version": {"1"}, "section": {"root_cause"}, "text": {"A bad deploy."}}, 303, ""},
		{"save stale", url.Values{"action": {"save"}, "csrf": {csrf}, "version": {"1"}, "section": {"summary"}, "text": {"my words"}}, 409, "my words"},
		{"save unknown section", url.Values{"action": {"save"}, "csrf": {csrf}, "version": {"2"}, "section": {"x"}, "text": {"y"}}, 400, ""},
		{"preview", url.Values{"action": {"preview"}, "csrf": {csrf}, "text": {"*hi* <script>alert(1)</script>"}}, 200, `\u003cem\u003ehi\u003c/em\u003e`},
		{"review", url.Values{"state": {"in_review"}, "csrf": {csrf}, "version": {"2"}}, 303, ""},
		{"publish", url.Values{"state": {"published"}, "csrf": {csrf}, "version": {"3"}}, 303, ""},
		{"add item", url.Values{"action": {"add-item"}, "csrf": {csrf}, "title": {"Canary deploys"}, "owner": {"bob"}, "due": {"2026-03-09"}}, 303, ""},
		{"add item bad link", url.Values{"action": {"add-item"}, "csrf": {csrf}, "title": {"x"}, "owner": {"bob"}, "link": {"javascript:alert(1)"}}, 400, ""},
		{"close item", url.Values{"action": {"item-done"}, "csrf": {csrf}, "item": {"1"}}, 303, ""},
	} {
		code, body := post(s.form)
		if code != s.code || !strings.Contains(body, s.want) {
			t.Errorf("%s: %d, want %d with %q: %.300s", s.name, code, s.code, s.want, body)
		}
		if s.name == "preview" && strings.Contains(body, "script") {
			t.Errorf("preview kept a script: %s", body)
		}
	}
	pm, err := p.Postmortem("inc-1")
	if err != nil || pm.Version != 4 || pm.State != pager.PostmortemPublished || pm.Sections.RootCause != "A bad deploy." ||
		pm.UpdatedBy != "alice" || pm.UpdatedVia != pager.ViaConsole || len(pm.ActionItems) != 1 || pm.ActionItems[0].Status != pager.ActionDone {
		t.Errorf("postmortem after the forms: %+v, %v", pm, err)
	}
}

func mustURL(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}
