package web

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/watchdog-sre/watchdog/pager"
)

// newPeopleServer is newPagerServer with personal tokens and sessions on
// and one open incident, inc-1.
func newPeopleServer(t *testing.T) (*httptest.Server, *pager.Pager, *clock) {
	t.Helper()
	cfg, p, clk := newTestPager(t)
	srv, h := newTestServer(t, Options{Token: pagerToken, Now: clk.now})
	h.EnablePager(PagerOptions{Pager: p, Schedules: cfg.Schedule, People: p})
	if r := call(t, srv, "POST", "/api/v2/alerts", pagerToken, loginAlert); r.code != 200 {
		t.Fatalf("receive: %d %s", r.code, r.body)
	}
	return srv, p, clk
}

func call(t *testing.T, srv *httptest.Server, method, path, bearer, body string) response {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, srv.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return response{code: resp.StatusCode, body: b, hdr: resp.Header}
}

func lastEntry(t *testing.T, p *pager.Pager, kind string) pager.TimelineEntry {
	t.Helper()
	_, tl, err := p.Incident("inc-1")
	if err != nil {
		t.Fatal(err)
	}
	for i := len(tl) - 1; i >= 0; i-- {
		if tl[i].Kind == kind {
			return tl[i]
		}
	}
	return pager.TimelineEntry{}
}

// TestPersonalTokenAPI: a personal token acts as its user whatever the
// body says; bad tokens get 401 and change nothing; scopes bound what a
// token reaches; the token API needs admin, never shows secrets.
func TestPersonalTokenAPI(t *testing.T) {
	srv, p, clk := newPeopleServer(t)
	r := call(t, srv, "POST", "/api/v1/pager/tokens", pagerToken, `{"user":"alice","scopes":["respond"],"name":"laptop","expires":"90d"}`)
	if r.code != 200 {
		t.Fatalf("create: %d %s", r.code, r.body)
	}
	var created struct {
		Data apiToken `json:"data"`
	}
	if err := json.Unmarshal(r.body, &created); err != nil || !strings.HasPrefix(created.Data.Secret, "wdp_") {
		t.Fatalf("create: %s %v", r.body, err)
	}
	alice := created.Data.Secret
	revoked, rc, _ := p.CreateToken("bob", "", []string{"respond"}, 0)
	expiring, _, _ := p.CreateToken("bob", "", []string{"respond"}, time.Minute)
	admin, _, _ := p.CreateToken("bob", "", []string{"admin"}, 0)
	if _, err := p.RevokeToken(rc.ID); err != nil {
		t.Fatal(err)
	}
	clk.advance(2 * time.Minute)

	for _, tc := range []struct {
		name, method, path, bearer, body string
		code                             int
	}{
		{"unknown token", "POST", "/api/v1/pager/incidents/inc-1/ack", "wdp_0123456789abcdef_" + strings.Repeat("A", 43), "", 401},
		{"revoked token", "POST", "/api/v1/pager/incidents/inc-1/ack", revoked, "", 401},
		{"expired token", "POST", "/api/v1/pager/incidents/inc-1/ack", expiring, "", 401},
		{"garbage", "POST", "/api/v1/pager/incidents/inc-1/ack", "nonsense", "", 401},
		{"respond scope on admin endpoint", "POST", "/api/v1/pager/silences", alice, `{"matchers":["a=\"b\""],"duration":"1h"}`, 403},
		{"respond scope creating tokens", "POST", "/api/v1/pager/tokens", alice, `{"user":"alice","scopes":["admin"]}`, 403},
		{"token list needs a credential", "GET", "/api/v1/pager/tokens", "", "", 401},
		{"token list with respond scope", "GET", "/api/v1/pager/tokens", alice, "", 403},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if r := call(t, srv, tc.method, tc.path, tc.bearer, tc.body); r.code != tc.code {
				t.Errorf("%d %s, want %d", r.code, r.body, tc.code)
			}
		})
	}
	if st, _, _ := p.Incident("inc-1"); st.Status != pager.StatusTriggered {
		t.Fatalf("refused requests changed the incident: %s", st.Status)
	}

	// alice acks; the body's "by" does not make her bob.
	if r := call(t, srv, "POST", "/api/v1/pager/incidents/inc-1/ack", alice, `{"by":"bob","via":"cli"}`); r.code != 200 {
		t.Fatalf("ack: %d %s", r.code, r.body)
	}
	if e := lastEntry(t, p, pager.EntryAck); e.By != "alice" || e.Via != pager.ViaCLI {
		t.Errorf("ack entry: %+v", e)
	}
	// The shared token stays the operator's key.
	if r := call(t, srv, "POST", "/api/v1/pager/incidents/inc-1/note", pagerToken, `{"text":"hi"}`); r.code != 200 {
		t.Fatalf("note: %d %s", r.code, r.body)
	}
	if e := lastEntry(t, p, pager.EntryNote); e.By != "operator" || e.Via != pager.ViaAPI {
		t.Errorf("note entry: %+v", e)
	}
	// An admin token reaches the token API; the list shows no secret.
	r = call(t, srv, "GET", "/api/v1/pager/tokens", admin, "")
	if r.code != 200 || strings.Contains(string(r.body), alice) || strings.Contains(string(r.body), `"token"`) ||
		!strings.Contains(string(r.body), `"status":"revoked"`) || !strings.Contains(string(r.body), `"status":"expired"`) {
		t.Errorf("list: %d %s", r.code, r.body)
	}
	if r := call(t, srv, "DELETE", "/api/v1/pager/tokens/"+created.Data.ID, admin, ""); r.code != 200 {
		t.Errorf("revoke: %d %s", r.code, r.body)
	}
	if r := call(t, srv, "POST", "/api/v1/pager/incidents/inc-1/resolve", alice, ""); r.code != 401 {
		t.Errorf("revoked at once: %d %s", r.code, r.body)
	}
}

// TestAuthFailureLimit: after maxAuthFailures bad personal tokens from
// one address, even a good one waits for the window to pass.
func TestAuthFailureLimit(t *testing.T) {
	srv, p, clk := newPeopleServer(t)
	good, _, _ := p.CreateToken("alice", "", []string{"respond"}, 0)
	bad := "wdp_0123456789abcdef_" + strings.Repeat("A", 43)
	for range maxAuthFailures {
		if r := call(t, srv, "POST", "/api/v1/pager/incidents/inc-1/note", bad, `{"text":"x"}`); r.code != 401 {
			t.Fatalf("bad: %d", r.code)
		}
	}
	r := call(t, srv, "POST", "/api/v1/pager/incidents/inc-1/note", good, `{"text":"x"}`)
	if r.code != http.StatusTooManyRequests || r.hdr.Get("Retry-After") == "" {
		t.Errorf("over the limit: %d %s", r.code, r.body)
	}
	if r := call(t, srv, "POST", "/api/v1/pager/incidents/inc-1/note", pagerToken, `{"text":"x"}`); r.code != 200 {
		t.Errorf("the shared token is not limited: %d", r.code)
	}
	clk.advance(authFailureWindow)
	if r := call(t, srv, "POST", "/api/v1/pager/incidents/inc-1/note", good, `{"text":"x"}`); r.code != 200 {
		t.Errorf("after the window: %d %s", r.code, r.body)
	}
}

// TestConsoleSession: sign in with a token, act through the form with
// the CSRF token, sign out; forged, cross-site and tokenless forms
// change nothing.
func TestConsoleSession(t *testing.T) {
	srv, p, _ := newPeopleServer(t)
	secret, _, _ := p.CreateToken("alice", "", []string{"respond"}, 0)
	_, post := formClient(t, srv)
	if r := post("/signin", url.Values{"token": {"wdp_0123456789abcdef_x"}}, nil); r.StatusCode != 401 {
		t.Errorf("bad token: %d", r.StatusCode)
	}
	if r := post("/signin", url.Values{"token": {secret}}, map[string]string{"Sec-Fetch-Site": "cross-site"}); r.StatusCode != 403 {
		t.Errorf("cross-site sign-in: %d", r.StatusCode)
	}
	r := post("/signin", url.Values{"token": {secret}, "next": {"//evil.example/x"}}, nil)
	if r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != "/" {
		t.Fatalf("sign in: %d %s", r.StatusCode, r.Header.Get("Location"))
	}
	var ck *http.Cookie
	for _, k := range r.Cookies() {
		if k.Name == SessionCookie {
			ck = k
		}
	}
	if ck == nil || !ck.HttpOnly || ck.SameSite != http.SameSiteStrictMode || ck.Path != "/" || strings.Contains(ck.Value, secret) {
		t.Fatalf("cookie: %+v", ck)
	}
	csrf := CSRFToken(ck.Value)
	for _, tc := range []struct {
		name string
		form url.Values
		hdr  map[string]string
		code int
	}{
		{"no csrf", url.Values{"action": {"ack"}}, nil, 403},
		{"wrong csrf", url.Values{"action": {"ack"}, "csrf": {CSRFToken("other")}}, nil, 403},
		{"cross-site", url.Values{"action": {"ack"}, "csrf": {csrf}}, map[string]string{"Sec-Fetch-Site": "cross-site"}, 403},
		{"other origin", url.Values{"action": {"ack"}, "csrf": {csrf}}, map[string]string{"Origin": "http://evil.example"}, 403},
		{"unknown action", url.Values{"action": {"explode"}, "csrf": {csrf}}, nil, 400},
		{"bad snooze", url.Values{"action": {"snooze"}, "duration": {"forever"}, "csrf": {csrf}}, nil, 400},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if r := post("/incidents/inc-1/act", tc.form, tc.hdr); r.StatusCode != tc.code {
				t.Errorf("%d, want %d", r.StatusCode, tc.code)
			}
		})
	}
	if st, _, _ := p.Incident("inc-1"); st.Status != pager.StatusTriggered {
		t.Fatalf("refused forms changed the incident: %s", st.Status)
	}
	r = post("/incidents/inc-1/act", url.Values{"action": {"ack"}, "csrf": {csrf}}, map[string]string{"Sec-Fetch-Site": "same-origin"})
	if r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != "/incidents/inc-1" {
		t.Fatalf("ack: %d %s", r.StatusCode, r.Header.Get("Location"))
	}
	if e := lastEntry(t, p, pager.EntryAck); e.By != "alice" || e.Via != pager.ViaConsole {
		t.Errorf("ack entry: %+v", e)
	}
	if r := post("/signout", url.Values{"csrf": {csrf}}, nil); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign out: %d", r.StatusCode)
	}
	if _, err := p.Session(ck.Value); err == nil {
		t.Error("session alive after sign-out")
	}
	// The old cookie, replayed, is refused.
	req, _ := http.NewRequest("POST", srv.URL+"/incidents/inc-1/act", strings.NewReader(url.Values{"action": {"resolve"}, "csrf": {csrf}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.AddCookie(&http.Cookie{Name: SessionCookie, Value: ck.Value})
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 {
		t.Errorf("replayed cookie: %d", resp.StatusCode)
	}
}

func TestLocalNext(t *testing.T) {
	for in, want := range map[string]string{
		"/incidents/inc-1": "/incidents/inc-1", "": "/", "//evil.example": "/", "https://evil.example/": "/",
		"/\\evil.example": "/", "javascript:alert(1)": "/", "incidents": "/",
	} {
		if got := localNext(in); got != want {
			t.Errorf("localNext(%q) = %q, want %q", in, got, want)
		}
	}
}
