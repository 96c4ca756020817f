package ui

import (
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/watchdog-sre/watchdog/pager"
)

type fakePostmortems struct {
	pm    pager.Postmortem
	items []pager.ActionItemRef
}

func (f *fakePostmortems) Postmortem(id string) (pager.Postmortem, error) {
	if id != f.pm.IncidentID {
		return pager.Postmortem{}, pager.ErrNotFound
	}
	return f.pm, nil
}

func (f *fakePostmortems) ActionItems(pager.ActionItemFilter) ([]pager.ActionItemRef, error) {
	return f.items, nil
}

// TestPostmortemPage: the stored document renders as sanitised HTML with,
// for the signed-in person, an edit form per section carrying the CSRF
// token, the state button the state allows, the action items and the
// history; overdue action items appear on the overview.
func TestPostmortemPage(t *testing.T) {
	f := newFixture(t)
	due := f.now.Add(-72 * time.Hour).Truncate(24 * time.Hour)
	item := pager.ActionItem{ID: "1", Title: "Add a <b>replica</b>", Owner: "bob", Due: due, Status: pager.ActionOpen,
		Link: "javascript:alert(1)"}
	pms := &fakePostmortems{pm: pager.Postmortem{IncidentID: "inc-2", Version: 3, State: pager.PostmortemInReview,
		Sections:  pager.PostmortemSections{Summary: "**Shop** down <script>alert(1)</script> <img src=x onerror=alert(2)> [l](javascript:alert(3))"},
		UpdatedBy: "bob", UpdatedAt: f.now, ActionItems: []pager.ActionItem{item},
		History: []pager.PostmortemRevision{{Version: 2, State: pager.PostmortemDraft, By: "alice", Via: "console", At: f.now}}},
		items: []pager.ActionItemRef{{IncidentID: "inc-2", ActionItem: item, Overdue: true}}}
	h, err := New(Options{Pager: f.pager, PagerConfig: func() *pager.Config { return f.pager.cfg }, Postmortems: pms,
		Now:     func() time.Time { return f.now },
		Session: aliceSession})
	if err != nil {
		t.Fatal(err)
	}
	get := func(path, cookie string) string {
		req := httptest.NewRequest("GET", path, nil)
		if cookie != "" {
			req.Header.Set("Cookie", cookie)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != 200 {
			t.Fatalf("%s: code %d", path, rec.Code)
		}
		return rec.Body.String()
	}
	for _, tc := range []struct {
		name, path, cookie string
		want, not          []string
	}{
		{"signed in", "/incidents/inc-2/postmortem", "s=1", []string{
			`<strong>Shop</strong> down`, `data-state="in_review" data-version="3"`,
			`<form method="post" action="/incidents/inc-2/postmortem/act" class="pm-edit">`, `name="csrf" value="c5rf"`,
			`id="edit-summary"`, `&lt;img src=x onerror=alert(2)&gt;`, `id="pm-publish"`, `id="close-1"`, `Add a &lt;b&gt;replica&lt;/b&gt;`, `overdue`,
			`version 2 (draft) by <b>alice</b> (console)`, `id="item-owner"`},
			[]string{`<script>alert`, `<img src=x onerror`, `onerror="`, `href="javascript`, `id="signin-link"`}},
		{"anonymous", "/incidents/inc-2/postmortem", "", []string{`id="signin-link"`, `<strong>Shop</strong>`},
			[]string{`c5rf`, `pm-edit`, `id="close-1"`, `<script>alert`}},
		{"overview", "/", "", []string{`id="overdue-actions"`, `href="/incidents/inc-2/postmortem#action-items"`, `owner <b>bob</b>`}, nil},
		{"draft before creation", "/incidents/inc-1/postmortem", "s=1", []string{`id="pm-create"`, `Not created yet`, `id="pm-root_cause"`},
			[]string{`pm-edit`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body := get(tc.path, tc.cookie)
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
