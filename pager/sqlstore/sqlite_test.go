package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/watchdog-sre/watchdog/pager"
)

// TestReopen: everything committed is there after Close and Open, and
// the sequences continue.
func TestReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "pager.db")
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	st := incident("inc-1", "g", pager.StatusTriggered, t0)
	d := delivery("k", "inc-1", pager.DeliveryPending, t0)
	sil := pager.Silence{ID: "sil-1", Matchers: []string{`a="b"`}, StartsAt: t0, EndsAt: t0}
	e := entry("inc-1", 1, pager.EntryOpened)
	update(t, s, func(tx pager.Tx) error {
		_, err := tx.NextID("incident")
		_, err2 := tx.AddDelivery(d)
		return errors.Join(err, err2, tx.PutIncident(st), tx.AppendTimeline(e), tx.PutSilence(sil))
	})
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); !errors.Is(err, ErrClosed) {
		t.Errorf("second Close: %v, want ErrClosed", err)
	}
	if err := s.Update(func(pager.Tx) error { return nil }); !errors.Is(err, ErrClosed) {
		t.Errorf("Update after Close: %v, want ErrClosed", err)
	}
	if err := s.View(func(pager.ReadTx) error { return nil }); !errors.Is(err, ErrClosed) {
		t.Errorf("View after Close: %v, want ErrClosed", err)
	}

	s = openAt(t, path)
	view(t, s, func(tx pager.ReadTx) error {
		got, err := tx.Incident("inc-1")
		mustEqual(t, "incident", got, st)
		tl, err2 := tx.Timeline("inc-1")
		mustEqual(t, "timeline", tl, []pager.TimelineEntry{e})
		ds, err3 := tx.Deliveries(pager.DeliveryFilter{})
		mustEqual(t, "deliveries", ds, []pager.Delivery{d})
		sils, err4 := tx.Silences()
		mustEqual(t, "silences", sils, []pager.Silence{sil})
		return errors.Join(err, err2, err3, err4)
	})
	update(t, s, func(tx pager.Tx) error {
		n, err := tx.NextID("incident")
		mustEqual(t, "next id", n, int64(2))
		return err
	})
}

func openAt(t *testing.T, path string) *Store {
	t.Helper()
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// TestConnectionSettings checks the pragmas on every pooled connection.
func TestConnectionSettings(t *testing.T) {
	s := openTemp(t)
	ctx := context.Background()
	// Hold several connections at once so that more than one is checked.
	var conns []*sql.Conn
	for range 3 {
		c, err := s.db.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
	}
	for i, c := range conns {
		for _, p := range []struct{ pragma, want string }{
			{"journal_mode", "wal"}, {"synchronous", "2"}, {"foreign_keys", "1"}, {"busy_timeout", "5000"}, {"temp_store", "2"},
		} {
			var got string
			if err := c.QueryRowContext(ctx, "PRAGMA "+p.pragma).Scan(&got); err != nil {
				t.Fatal(err)
			}
			if got != p.want {
				t.Errorf("conn %d: %s = %s, want %s", i, p.pragma, got, p.want)
			}
		}
		c.Close()
	}
	var version int
	if err := s.db.QueryRow("SELECT version FROM schema_version").Scan(&version); err != nil || version != SchemaVersion() {
		t.Errorf("schema version %d (%v), want %d", version, err, SchemaVersion())
	}
}

// TestOpenBadFiles: files that are not (our) SQLite databases give a clear
// error, never a panic, and are left untouched.
func TestOpenBadFiles(t *testing.T) {
	garbage, err := os.ReadFile("testdata/garbage.db")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		make func(t *testing.T, path string)
		want error
	}{
		{"text file", func(t *testing.T, path string) { write(t, path, garbage) }, ErrNotDatabase},
		{"short file", func(t *testing.T, path string) { write(t, path, []byte("SQLite")) }, ErrNotDatabase},
		{"directory", func(t *testing.T, path string) {
			if err := os.Mkdir(path, 0o755); err != nil {
				t.Fatal(err)
			}
		}, ErrNotDatabase},
		{"header destroyed", func(t *testing.T, path string) {
			validDB(t, path)
			b := read(t, path)
			copy(b, "SQLite format 2\x00")
			write(t, path, b)
		}, ErrNotDatabase},
		{"pages scrambled", func(t *testing.T, path string) {
			validDB(t, path)
			b := read(t, path)
			for i := 100; i < len(b); i++ { // keep the header, ruin every page
				b[i] ^= 0x5a
			}
			write(t, path, b)
		}, ErrNotDatabase},
		{"another application", func(t *testing.T, path string) {
			db, err := sql.Open("sqlite", path)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			if _, err := db.Exec("CREATE TABLE cats (name TEXT)"); err != nil {
				t.Fatal(err)
			}
		}, ErrForeign},
		{"newer schema", func(t *testing.T, path string) {
			validDB(t, path)
			db, err := sql.Open("sqlite", path)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			if _, err := db.Exec("UPDATE schema_version SET version = 999"); err != nil {
				t.Fatal(err)
			}
		}, ErrSchemaVersion},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "pager.db")
			tt.make(t, path)
			s, err := Open(path, Options{})
			if err == nil {
				s.Close()
				t.Fatal("Open succeeded")
			}
			if !errors.Is(err, tt.want) {
				t.Errorf("Open: %v, want %v", err, tt.want)
			}
			t.Log(err)
		})
	}
}

// validDB creates a database with some data at path.
func validDB(t *testing.T, path string) {
	t.Helper()
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	update(t, s, func(tx pager.Tx) error {
		for i := range 50 {
			st := incident("inc-"+string(rune('a'+i%26))+string(rune('a'+i/26)), "g", pager.StatusResolved, t0)
			if err := tx.PutIncident(st); err != nil {
				return err
			}
		}
		return nil
	})
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}

func read(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func write(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestUpdatePanic: a panic inside Update rolls back and leaves the store
// usable.
func TestUpdatePanic(t *testing.T) {
	s := openTemp(t)
	func() {
		defer func() {
			if recover() == nil {
				t.Error("no panic")
			}
		}()
		_ = s.Update(func(tx pager.Tx) error {
			if err := tx.PutIncident(incident("inc-1", "g", pager.StatusTriggered, t0)); err != nil {
				return err
			}
			panic("boom")
		})
	}()
	update(t, s, func(tx pager.Tx) error {
		if _, err := tx.Incident("inc-1"); !errors.Is(err, pager.ErrNotFound) {
			t.Errorf("after panic: %v, want ErrNotFound", err)
		}
		return nil
	})
}
