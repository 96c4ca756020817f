package sqlstore

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/watchdog-sre/watchdog/pager"
)

// TestConformanceOverridesAndFeeds: schedule overrides and calendar feeds
// round-trip through every store, deletes report unknown IDs, and a
// failed transaction leaves nothing behind.
func TestConformanceOverridesAndFeeds(t *testing.T) {
	o1 := pager.ScheduleOverride{ID: "ovr-1", Schedule: "primary", User: "alice", Start: t0, End: t0.Add(time.Hour),
		CreatedBy: "bob", Via: "cli", CreatedAt: t0.Add(-time.Minute), Comment: "cover, please"}
	o2 := o1
	o2.ID, o2.User = "ovr-2", "carol"
	f1 := pager.CalendarFeed{ID: "cal-1", Kind: pager.FeedSchedule, Name: "primary", TokenHash: "ab12",
		CreatedBy: "operator", CreatedAt: t0}
	for _, st := range stores {
		t.Run(st.name, func(t *testing.T) {
			s := st.open(t)
			update(t, s, func(tx pager.Tx) error {
				if err := tx.PutOverride(o2); err != nil {
					return err
				}
				if err := tx.PutOverride(o1); err != nil {
					return err
				}
				return tx.PutCalendarFeed(f1)
			})
			view(t, s, func(tx pager.ReadTx) error {
				got, err := tx.Overrides()
				if err != nil {
					return err
				}
				mustEqual(t, "overrides", normOv(got), []pager.ScheduleOverride{o1, o2})
				feeds, err := tx.CalendarFeeds()
				if err != nil {
					return err
				}
				mustEqual(t, "feeds", normFeeds(feeds), []pager.CalendarFeed{f1})
				return nil
			})
			revoked := f1
			revoked.RevokedAt, revoked.RevokedBy = t0.Add(time.Hour), "alice"
			update(t, s, func(tx pager.Tx) error {
				if err := tx.DeleteOverride("ovr-1"); err != nil {
					return err
				}
				if err := tx.DeleteOverride("ovr-9"); err != pager.ErrNotFound {
					t.Errorf("delete unknown: %v, want ErrNotFound", err)
				}
				return tx.PutCalendarFeed(revoked)
			})
			if err := s.Update(func(tx pager.Tx) error {
				if err := tx.DeleteOverride("ovr-2"); err != nil {
					return err
				}
				return errBoom
			}); err != errBoom {
				t.Fatalf("update: %v", err)
			}
			view(t, s, func(tx pager.ReadTx) error {
				got, err := tx.Overrides()
				if err != nil {
					return err
				}
				mustEqual(t, "overrides after delete", normOv(got), []pager.ScheduleOverride{o2})
				feeds, err := tx.CalendarFeeds()
				if err != nil {
					return err
				}
				mustEqual(t, "feeds after revoke", normFeeds(feeds), []pager.CalendarFeed{revoked})
				return nil
			})
		})
	}
}

// TestOverridesSurviveReopen: what one SQLite Store wrote, the next one
// opened on the same file reads.
func TestOverridesSurviveReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "pager.db")
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	o := pager.ScheduleOverride{ID: "ovr-1", Schedule: "primary", User: "alice", Start: t0, End: t0.Add(time.Hour)}
	update(t, s, func(tx pager.Tx) error { return tx.PutOverride(o) })
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	view(t, s, func(tx pager.ReadTx) error {
		got, err := tx.Overrides()
		mustEqual(t, "overrides", normOv(got), []pager.ScheduleOverride{o})
		return err
	})
}

// normOv and normFeeds drop monotonic clock readings and locations so
// that reflect.DeepEqual compares instants.
func normOv(l []pager.ScheduleOverride) []pager.ScheduleOverride {
	for i := range l {
		l[i].Start, l[i].End, l[i].CreatedAt = l[i].Start.UTC(), l[i].End.UTC(), l[i].CreatedAt.UTC()
	}
	return l
}

func normFeeds(l []pager.CalendarFeed) []pager.CalendarFeed {
	for i := range l {
		l[i].CreatedAt, l[i].RevokedAt = l[i].CreatedAt.UTC(), l[i].RevokedAt.UTC()
	}
	return l
}
