package sqlstore

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/watchdog-sre/watchdog/internal/pgtest"
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

const replicaPagerYAML = `
pager:
  users:
    - {name: alice, contact: {push: a}}
    - {name: bob, contact: {push: b}}
  schedules:
    - name: primary
      time_zone: UTC
      layers: [{name: daily, members: [alice, bob], rotation: daily, start: "2026-03-01T09:00"}]
  channels:
    - {name: push, type: console}
`

// TestOverridesAcrossReplicas: an override added through one pager on a
// PostgreSQL database is what a second pager on the same database answers
// with at once, and a calendar feed created on one is served by the other.
func TestOverridesAcrossReplicas(t *testing.T) {
	dsn := pgtest.DB(t)
	cfg, err := pager.ParseConfig("pager.yml", []byte(replicaPagerYAML))
	if err != nil {
		t.Fatal(err)
	}
	now := func() time.Time { return t0 } // 2026-03-02 10:00 UTC: bob's day
	var ps []*pager.Pager
	for _, name := range []string{"a", "b"} {
		p, err := pager.New(pager.Options{Config: cfg, Store: openReplica(t, dsn, name), Now: now, AckKey: []byte("k")})
		if err != nil {
			t.Fatal(err)
		}
		ps = append(ps, p)
	}
	if _, _, err := ps[0].AddOverride(pager.ScheduleOverride{Schedule: "primary", User: "alice", Start: t0, End: t0.Add(2 * time.Hour)},
		pager.Actor{User: "bob", Via: pager.ViaCLI}); err != nil {
		t.Fatal(err)
	}
	oc, err := ps[1].WhoIsOnCall("schedule:primary", t0.Add(time.Hour))
	if err != nil || len(oc) != 1 || oc[0].User != "alice" {
		t.Fatalf("replica b: WhoIsOnCall = %v, %v; want alice", oc, err)
	}
	_, secret, err := ps[1].CreateCalendarFeed(pager.FeedUser, "alice", pager.Actor{User: "alice", Via: pager.ViaAPI})
	if err != nil {
		t.Fatal(err)
	}
	feed, err := ps[0].CalendarFeed(pager.FeedUser, secret)
	if err != nil || len(feed.Events) == 0 {
		t.Fatalf("replica a: feed %v, %v", feed, err)
	}
	found := false
	for _, e := range feed.Events {
		found = found || (e.Start.Equal(t0) && e.End.Equal(t0.Add(2*time.Hour)))
	}
	if !found {
		t.Errorf("alice's override is not in her feed: %+v", feed.Events)
	}
}
