package ui

import (
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/watchdog-sre/watchdog/pager"

	"github.com/watchdog-sre/watchdog/pager/schedule"
)

// TestOnCallShowsStoredOverrides: with Options.Schedule the on-call page
// draws the schedule the pager escalates with, stored overrides included.
func TestOnCallShowsStoredOverrides(t *testing.T) {
	f := newFixture(t)
	base := f.pager.cfg.Schedule("primary")
	eff, err := base.WithOverrides([]schedule.Override{{User: "carol", Start: "2026-03-05T10:00", End: "2026-03-05T12:00"}})
	if err != nil {
		t.Fatal(err)
	}
	_, before, _ := f.get(t, "/oncall")
	if strings.Contains(before, `data-user="carol"`) {
		t.Fatal("carol on the page before the override")
	}
	h, err := New(Options{Pager: f.pager, PagerConfig: func() *pager.Config { return f.pager.cfg }, Now: func() time.Time { return f.now },
		Schedule: func(name string) *schedule.Schedule {
			if name == "primary" {
				return eff
			}
			return nil
		}})
	if err != nil {
		t.Fatal(err)
	}
	f.srv = h
	code, body, _ := f.get(t, "/oncall")
	if code != 200 || !strings.Contains(body, `class="shift override" data-user="carol" data-override="true"`) {
		t.Errorf("GET /oncall = %d without carol's stored override:\n%s", code, body)
	}
}

// TestOnCallOverrideForm: a signed-in person gets the override form with
// the session's CSRF token on every schedule; anybody else none.
func TestOnCallOverrideForm(t *testing.T) {
	f := newFixture(t)
	h, err := New(Options{Pager: f.pager, PagerConfig: func() *pager.Config { return f.pager.cfg },
		Now:     func() time.Time { return f.now },
		Session: aliceSession})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		cookie string
		form   bool
	}{{"s=1", true}, {"", false}} {
		req := httptest.NewRequest("GET", "/oncall", nil)
		if tc.cookie != "" {
			req.Header.Set("Cookie", tc.cookie)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		body := rec.Body.String()
		for _, want := range []string{`<form method="post" action="/oncall/overrides" class="override">`,
			`<input type="hidden" name="csrf" value="c5rf"><input type="hidden" name="schedule" value="primary">`,
			`<input type="datetime-local" name="start" required>`} {
			if strings.Contains(body, want) != tc.form {
				t.Errorf("cookie %q: %q present = %v, want %v", tc.cookie, want, !tc.form, tc.form)
			}
		}
	}
}
