package sqlstore

import (
	"errors"
	"testing"
	"time"

	"github.com/watchdog-sre/watchdog/pager"
)

// TestConformancePostmortems: postmortem documents, with their history
// and action items, round-trip through every store; an unknown incident
// is ErrNotFound and a failed transaction leaves nothing behind.
func TestConformancePostmortems(t *testing.T) {
	pm := pager.Postmortem{IncidentID: "inc-1", Title: "db down", Version: 2, State: pager.PostmortemInReview,
		Sections:  pager.PostmortemSections{Summary: "**db** down", Lessons: "- backups"},
		CreatedAt: t0, CreatedBy: "alice", UpdatedAt: t0.Add(time.Hour), UpdatedBy: "bob", UpdatedVia: "console",
		History: []pager.PostmortemRevision{{Version: 1, State: pager.PostmortemDraft, At: t0, By: "alice",
			Sections: pager.PostmortemSections{Summary: "draft"}}},
		ActionItems: []pager.ActionItem{{ID: "1", Title: "add replica", Owner: "carol", Due: t0.Truncate(24 * time.Hour),
			Status: pager.ActionOpen, Link: "https://tickets.example/1", CreatedAt: t0, CreatedBy: "bob"}},
		NextItem: 1}
	pm2 := pm
	pm2.IncidentID, pm2.ActionItems, pm2.History = "inc-2", nil, nil
	for _, st := range stores {
		t.Run(st.name, func(t *testing.T) {
			s := st.open(t)
			update(t, s, func(tx pager.Tx) error {
				if err := tx.PutPostmortem(pm2); err != nil {
					return err
				}
				return tx.PutPostmortem(pm)
			})
			failed := pm
			failed.Version = 99
			if err := s.Update(func(tx pager.Tx) error {
				if err := tx.PutPostmortem(failed); err != nil {
					return err
				}
				return errors.New("boom")
			}); err == nil {
				t.Fatal("a failing transaction committed")
			}
			view(t, s, func(tx pager.ReadTx) error {
				got, err := tx.Postmortem("inc-1")
				if err != nil {
					return err
				}
				mustEqual(t, "postmortem", normPM(got), pm)
				if _, err := tx.Postmortem("inc-9"); !errors.Is(err, pager.ErrNotFound) {
					t.Errorf("unknown postmortem: %v, want ErrNotFound", err)
				}
				all, err := tx.Postmortems()
				if err != nil {
					return err
				}
				if len(all) != 2 || all[0].IncidentID != "inc-1" || all[1].IncidentID != "inc-2" {
					t.Errorf("Postmortems = %+v", all)
				}
				return nil
			})
		})
	}
}

// normPM drops monotonic clock readings and locations so documents
// compare after a JSON round trip.
func normPM(pm pager.Postmortem) pager.Postmortem {
	pm.CreatedAt, pm.UpdatedAt = pm.CreatedAt.UTC(), pm.UpdatedAt.UTC()
	for i := range pm.History {
		pm.History[i].At = pm.History[i].At.UTC()
	}
	for i := range pm.ActionItems {
		a := &pm.ActionItems[i]
		a.Due, a.CreatedAt, a.DoneAt = a.Due.UTC(), a.CreatedAt.UTC(), a.DoneAt.UTC()
	}
	return pm
}
