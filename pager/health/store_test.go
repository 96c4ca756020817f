package health

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/watchdog-sre/watchdog/pager"
	"github.com/watchdog-sre/watchdog/pager/sqlstore"
)

// TestLoadFromStores reads the fixture back through a real pager over the
// memory store and SQLite: the store's filter (Since, newest first, Limit)
// and timelines give the same report as Compute over the fixture.
func TestLoadFromStores(t *testing.T) {
	cfg := fixtureClock(t).(*pager.Config)
	stores := map[string]func(t *testing.T) pager.Store{
		"memory": func(*testing.T) pager.Store { return pager.NewMemStore() },
		"sqlite": func(t *testing.T) pager.Store {
			s, err := sqlstore.Open(filepath.Join(t.TempDir(), "pager.db"), sqlstore.Options{})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			return s
		},
	}
	for name, open := range stores {
		t.Run(name, func(t *testing.T) {
			store := open(t)
			err := store.Update(func(tx pager.Tx) error {
				for _, in := range fixture() {
					in.State.GroupKey = in.State.ID
					if err := tx.PutIncident(in.State); err != nil {
						return err
					}
					for i := range in.Timeline {
						in.Timeline[i].IncidentID, in.Timeline[i].Seq = in.State.ID, i+1
					}
					if err := tx.AppendTimeline(in.Timeline...); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			p, err := pager.New(pager.Options{Config: cfg, Store: store, Now: func() time.Time { return fixtureNow }, AckKey: []byte("k")})
			if err != nil {
				t.Fatal(err)
			}
			got, err := Load(p, cfg, Options{Now: fixtureNow}, 0)
			if err != nil {
				t.Fatal(err)
			}
			want, _ := Compute(fixture(), cfg, Options{Now: fixtureNow})
			compare(t, got, want)
			if got.Truncated {
				t.Error("truncated")
			}
		})
	}
}

// BenchmarkLoadSQLite measures a 90-day report over 2000 incidents of ten
// timeline entries each in SQLite.
func BenchmarkLoadSQLite(b *testing.B) {
	s, err := sqlstore.Open(filepath.Join(b.TempDir(), "pager.db"), sqlstore.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	err = s.Update(func(tx pager.Tx) error {
		for i := range 2000 {
			at := fixtureNow.Add(-time.Duration(i+1) * time.Hour)
			st := pager.IncidentState{ID: fmt.Sprintf("inc-%d", i), GroupKey: fmt.Sprint(i), Route: "db", CreatedAt: at,
				Status: pager.StatusResolved, ResolvedAt: at.Add(time.Hour), ResolvedBy: "anna"}
			if err := tx.PutIncident(st); err != nil {
				return err
			}
			var tl []pager.TimelineEntry
			for j := range 10 {
				tl = append(tl, pager.TimelineEntry{IncidentID: st.ID, Seq: j + 1, At: at.Add(time.Duration(j) * time.Minute),
					Kind: pager.EntryNotify, By: pager.BySystem, User: "anna"})
			}
			if err := tx.AppendTimeline(tl...); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	c, err := pager.ParseConfig("fixture.yaml", []byte(fixtureConfig))
	if err != nil {
		b.Fatal(err)
	}
	p, err := pager.New(pager.Options{Config: c, Store: s, Now: func() time.Time { return fixtureNow }, AckKey: []byte("k")})
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		r, err := Load(p, c, Options{Now: fixtureNow, Window: MaxWindow}, 0)
		if err != nil || r.People[0].Pages != 20000 {
			b.Fatalf("%v %+v", err, r.People[0])
		}
	}
}
