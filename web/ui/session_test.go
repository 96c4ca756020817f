package ui

import (
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/watchdog-sre/watchdog/pager"
)

// TestIncidentSignedIn: a signed-in person gets plain forms carrying the
// session's CSRF token; anybody else the sign-in link and the API-token
// buttons.
func TestIncidentSignedIn(t *testing.T) {
	f := newFixture(t)
	h, err := New(Options{Pager: f.pager, PagerConfig: func() *pager.Config { return f.pager.cfg },
		Now:     func() time.Time { return f.now },
		Session: aliceSession})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, cookie string
		want, not    []string
	}{
		{"signed in", "s=1", []string{`signed in as <b>alice</b>`, `<form id="act-form" method="post" action="/incidents/inc-2/act">`,
			`<input type="hidden" name="csrf" value="c5rf">`, `id="ack" type="submit" name="action" value="ack"`, `action="/signout"`,
			`name="update_text"`, `id="post-update" type="submit" name="action" value="status_update"`},
			[]string{`id="token"`, `id="signin-link"`}},
		{"anonymous", "", []string{`id="signin-link" href="/signin?next=/incidents/inc-2"`, `id="token"`},
			[]string{`act-form`, `c5rf`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest("GET", "/incidents/inc-2", nil)
			if tc.cookie != "" {
				req.Header.Set("Cookie", tc.cookie)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			body := rec.Body.String()
			if rec.Code != 200 {
				t.Fatalf("code %d", rec.Code)
			}
			for _, w := range tc.want {
				if !strings.Contains(body, w) {
					t.Errorf("missing %s", w)
				}
			}
			for _, n := range tc.not {
				if strings.Contains(body, n) {
					t.Errorf("unexpected %s", n)
				}
			}
		})
	}
}
