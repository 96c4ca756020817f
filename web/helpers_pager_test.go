package web

import (
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"testing"

	"github.com/watchdog-sre/watchdog/pager"
)

// newTestPager loads testdata/pager.yml and returns its config and an
// in-memory pager on a test clock starting at pagerEpoch.
func newTestPager(t *testing.T) (*pager.Config, *pager.Pager, *clock) {
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
	p, err := pager.New(pager.Options{Config: cfg, Now: clk.now})
	if err != nil {
		t.Fatal(err)
	}
	return cfg, p, clk
}

// formClient returns a client with a cookie jar that does not follow
// redirects, and post, which sends a form (plus headers) to srv with it
// and returns the closed response.
func formClient(t *testing.T, srv *httptest.Server) (*http.Client, func(path string, form url.Values, hdr map[string]string) *http.Response) {
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	return c, func(path string, form url.Values, hdr map[string]string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest("POST", srv.URL+path, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
}

// signInAs creates a token of user with scope, signs in at /signin with it
// and returns the session's client (cookie jar, redirects not followed)
// and its CSRF token.
func signInAs(t *testing.T, srv *httptest.Server, p *pager.Pager, user, scope string) (*http.Client, string) {
	t.Helper()
	secret, _, err := p.CreateToken(user, "", []string{scope}, 0)
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
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign in %s: %s", user, resp.Status)
	}
	for _, k := range jar.Cookies(mustURL(t, srv.URL)) {
		if k.Name == SessionCookie {
			return c, CSRFToken(k.Value)
		}
	}
	t.Fatalf("sign in %s: no session cookie", user)
	return nil, ""
}
