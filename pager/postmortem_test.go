package pager

import (
	"errors"
	"testing"
	"testing/synctest"
	"time"
)

// TestPostmortemLifecycle: a postmortem is created from a draft, edited
// with history and authors, a stale edit is refused without losing the
// newer one, states follow draft → in review → published, and action
// items are validated, listed, filtered and closed.
func TestPostmortemLifecycle(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, NewMemStore(), "10:00")
		h.start()
		defer h.stop()
		if err := h.p.Receive(page("HighErrors", "c1")); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		alice, bob := Actor{User: "alice", Via: ViaConsole}, Actor{User: "bob", Via: ViaAPI}
		if _, err := h.p.CreatePostmortem("inc-9", PostmortemSections{}, alice); !errors.Is(err, ErrNotFound) {
			t.Errorf("unknown incident: %v", err)
		}
		pm, err := h.p.CreatePostmortem("inc-1", PostmortemSections{Summary: "draft"}, alice)
		if err != nil || pm.Version != 1 || pm.State != PostmortemDraft || pm.CreatedBy != "alice" {
			t.Fatalf("create = %+v, %v", pm, err)
		}
		if _, err := h.p.CreatePostmortem("inc-1", PostmortemSections{}, alice); !errors.Is(err, ErrPostmortemExists) {
			t.Errorf("second create: %v", err)
		}
		pm, err = h.p.EditPostmortem("inc-1", 1, PostmortemSections{Summary: "bob's words"}, bob)
		if err != nil || pm.Version != 2 || pm.UpdatedBy != "bob" || len(pm.History) != 1 || pm.History[0].Sections.Summary != "draft" ||
			pm.History[0].By != "alice" {
			t.Fatalf("edit = %+v, %v", pm, err)
		}
		if _, err := h.p.EditPostmortem("inc-1", 1, PostmortemSections{Summary: "alice's stale words"}, alice); !errors.Is(err, ErrStalePostmortem) {
			t.Errorf("stale edit: %v, want ErrStalePostmortem", err)
		}
		if got, _ := h.p.Postmortem("inc-1"); got.Sections.Summary != "bob's words" {
			t.Errorf("after the stale edit the summary is %q", got.Sections.Summary)
		}
		big := PostmortemSections{Lessons: string(make([]byte, MaxPostmortemBytes+1))}
		if _, err := h.p.EditPostmortem("inc-1", 2, big, bob); !errors.Is(err, ErrBadPostmortem) {
			t.Errorf("oversized edit: %v", err)
		}
		for _, tc := range []struct {
			state PostmortemState
			ok    bool
		}{{PostmortemPublished, false}, {PostmortemInReview, true}, {"bogus", false}, {PostmortemPublished, true}} {
			got, err := h.p.SetPostmortemState("inc-1", pm.Version, tc.state, alice)
			if (err == nil) != tc.ok {
				t.Fatalf("%s → %s: %v", pm.State, tc.state, err)
			}
			if err == nil {
				pm = got
			}
		}
		if _, err := h.p.EditPostmortem("inc-1", pm.Version, PostmortemSections{}, alice); !errors.Is(err, ErrBadPostmortem) {
			t.Errorf("edit of a published postmortem: %v", err)
		}

		due := h.now().Add(-48 * time.Hour)
		for _, bad := range []ActionItem{
			{Title: "", Owner: "alice"},
			{Title: "x", Owner: "mallory"},
			{Title: "x", Owner: "alice", Link: "javascript:alert(1)"},
			{Title: "x", Owner: "alice", Link: "data:text/html,hi"},
		} {
			if _, err := h.p.AddActionItem("inc-1", bad, alice); !errors.Is(err, ErrBadPostmortem) {
				t.Errorf("AddActionItem(%+v): %v, want ErrBadPostmortem", bad, err)
			}
		}
		a1, err := h.p.AddActionItem("inc-1", ActionItem{Title: "add replica", Owner: "bob", Due: due, Link: "https://t.example/1"}, alice)
		if err != nil || a1.ID != "1" || a1.Status != ActionOpen {
			t.Fatalf("add = %+v, %v", a1, err)
		}
		if _, err := h.p.AddActionItem("inc-1", ActionItem{Title: "alert on lag", Owner: "alice", Due: h.now().Add(72 * time.Hour)}, alice); err != nil {
			t.Fatal(err)
		}
		if l, _ := h.p.ActionItems(ActionItemFilter{Overdue: true}); len(l) != 1 || l[0].ID != "1" || l[0].IncidentID != "inc-1" {
			t.Errorf("overdue = %+v", l)
		}
		if l, _ := h.p.ActionItems(ActionItemFilter{Owner: "alice"}); len(l) != 1 || l[0].Title != "alert on lag" {
			t.Errorf("alice's = %+v", l)
		}
		if _, err := h.p.SetActionItemStatus("inc-1", "1", ActionDone, bob); err != nil {
			t.Fatal(err)
		}
		if l, _ := h.p.ActionItems(ActionItemFilter{Status: ActionOpen}); len(l) != 1 || l[0].ID != "2" {
			t.Errorf("open after closing 1 = %+v", l)
		}
		if got, _ := h.p.Postmortem("inc-1"); got.Version != pm.Version {
			t.Errorf("action items changed the document version: %d, want %d", got.Version, pm.Version)
		}
	})
}
