package ui

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/watchdog-sre/watchdog/config"
	"github.com/watchdog-sre/watchdog/pager"
)

// TestMaintenancePage: windows are listed by phase (a cancelled one under
// past, and gone from the public page), text is escaped, and the
// signed-in person gets the schedule form with the status page's
// components and end buttons carrying the CSRF token for the windows
// that can still end; others get the sign-in link and no form.
func TestMaintenancePage(t *testing.T) {
	f := newFixture(t)
	f.pager.maint = []pager.Maintenance{
		{ID: "mw-1", Title: "Search reindex <script>x</script>", Components: []string{"Search"}, Matchers: []string{`job="search"`},
			StartsAt: testNow.Add(-time.Hour), EndsAt: testNow.Add(time.Hour), By: pager.Actor{User: "bob"}},
		{ID: "mw-2", Title: "Storefront migration", Components: []string{"Storefront"}, Matchers: []string{`job="shop"`},
			StartsAt: testNow.Add(48 * time.Hour), EndsAt: testNow.Add(50 * time.Hour)},
		{ID: "mw-3", Title: "Old window", Components: []string{"Storefront"}, Matchers: []string{`job="shop"`},
			StartsAt: testNow.Add(-5 * time.Hour), EndsAt: testNow.Add(-4 * time.Hour)},
		{ID: "mw-4", Title: "Called off", Components: []string{"Checkout"}, Matchers: []string{`job="co"`},
			StartsAt: testNow.Add(2 * time.Hour), EndsAt: testNow.Add(3 * time.Hour), EndedAt: testNow.Add(-time.Minute),
			EndedBy: pager.Actor{User: "alice"}},
	}
	sp := statusConfigForTest()
	h, err := New(Options{Pager: f.pager, StatusPage: func() *config.StatusPage { return &sp }, Now: func() time.Time { return testNow },
		Session: aliceSession})
	if err != nil {
		t.Fatal(err)
	}
	get := func(cookie string) string {
		req := httptest.NewRequest("GET", "/maintenance", nil)
		if cookie != "" {
			req.Header.Set("Cookie", cookie)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			t.Fatalf("GET /maintenance: %d\n%s", rec.Code, rec.Body)
		}
		return rec.Body.String()
	}
	signedIn := get("s=1")
	for _, want := range []string{
		`<tr id="mw-row-mw-1" data-phase="active">`, `<tr id="mw-row-mw-2" data-phase="upcoming">`,
		`<tr id="mw-row-mw-3" data-phase="completed">`, `<tr id="mw-row-mw-4" data-phase="cancelled">`,
		"Search reindex &lt;script&gt;x&lt;/script&gt;", "cancelled by alice",
		`id="mw-end-mw-1" type="submit" name="action" value="end" class="secondary">End now`,
		`id="mw-end-mw-2" type="submit" name="action" value="end" class="secondary">Cancel`,
		`<form id="mw-form" method="post" action="/maintenance/act"`, `<input type="hidden" name="csrf" value="c5rf">`,
		`name="component" value="Checkout"`, `id="mw-start" name="start" type="datetime-local" value="2026-03-02T11:00"`,
	} {
		if !strings.Contains(signedIn, want) {
			t.Errorf("signed-in page lacks %q", want)
		}
	}
	for _, never := range []string{"mw-end-mw-3", "mw-end-mw-4", "<script>x"} {
		if strings.Contains(signedIn, never) {
			t.Errorf("signed-in page has %q", never)
		}
	}
	anon := get("")
	if strings.Contains(anon, "mw-form") || strings.Contains(anon, "mw-end-") || !strings.Contains(anon, `href="/signin?next=/maintenance"`) {
		t.Errorf("page without a session:\n%s", anon)
	}
	rec := httptestGet(h, "/status")
	if body := rec.Body.String(); strings.Contains(body, "Called off") || !strings.Contains(body, "Storefront migration") {
		t.Errorf("public page: cancelled window shown or upcoming one missing:\n%s", body)
	}
}
