package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/watchdog-sre/watchdog/internal/pgtest"
	"github.com/watchdog-sre/watchdog/pager"
	"github.com/watchdog-sre/watchdog/pager/storetest"
)

func TestMain(m *testing.M) {
	// The parallel tests (the conformance cases) mostly wait for the
	// PostgreSQL server: four at a time unless -parallel says otherwise.
	flag.Parse()
	set := false
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == "test.parallel" })
	if !set {
		_ = flag.Set("test.parallel", "4")
	}
	os.Exit(pgtest.Main(m))
}

// openPG opens the PostgreSQL store at dsn, closed at the end of the test.
func openPG(t *testing.T, dsn string) *Store {
	t.Helper()
	s, err := OpenPostgres(dsn, Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// postgresStore returns the restart scenarios' Open and Reopen over
// PostgreSQL: each Open a new database, each Reopen a new Store on it. The
// server is started here, outside the scenarios' synctest bubbles.
func postgresStore(t *testing.T) (storetest.Open, storetest.Reopen) {
	pgtest.Server(t)
	var dsn string
	open := func(t *testing.T) pager.Store {
		dsn = pgtest.DB(t)
		return openPG(t, dsn)
	}
	reopen := func(t *testing.T, s pager.Store) pager.Store {
		if err := s.(*Store).Close(); err != nil {
			t.Fatal(err)
		}
		return openPG(t, dsn)
	}
	return open, reopen
}

// TestPostgresScenarios runs every storetest scenario over PostgreSQL.
func TestPostgresScenarios(t *testing.T) {
	open, reopen := postgresStore(t)
	storetest.All(t, open, reopen)
}

// TestPostgresMigrate: the first Open creates the schema, later ones find
// it; several replicas opening a new database at once migrate it once; a
// newer schema and a foreign database are refused with clear errors.
func TestPostgresMigrate(t *testing.T) {
	t.Run("created once", func(t *testing.T) {
		dsn := pgtest.DB(t)
		const n = 4
		created := make([]bool, n)
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				s, err := OpenPostgres(dsn, Options{})
				if err == nil {
					created[i] = s.Created()
					err = s.Close()
				}
				errs[i] = err
			})
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			t.Fatal(err)
		}
		nc := 0
		for _, c := range created {
			if c {
				nc++
			}
		}
		if nc != 1 {
			t.Errorf("%d of %d opens created the schema, want 1", nc, n)
		}
		if s := openPG(t, dsn); s.Created() {
			t.Error("reopen: Created() = true")
		}
	})
	t.Run("newer schema", func(t *testing.T) {
		dsn := pgtest.DB(t)
		openPG(t, dsn).Close()
		rawPG(t, dsn, fmt.Sprintf("UPDATE %s SET version = %d", pgVersionTable, PostgresSchemaVersion()+1))
		_, err := OpenPostgres(dsn, Options{})
		if !errors.Is(err, ErrSchemaVersion) || !strings.Contains(err.Error(), "knows up to") {
			t.Fatalf("open: %v, want ErrSchemaVersion", err)
		}
	})
	t.Run("foreign", func(t *testing.T) {
		dsn := pgtest.DB(t)
		rawPG(t, dsn, "CREATE TABLE incidents (id int)")
		if _, err := OpenPostgres(dsn, Options{}); !errors.Is(err, ErrForeign) {
			t.Fatalf("open: %v, want ErrForeign", err)
		}
	})
}

// TestPostgresWriters: two Stores (two replicas) on one database writing
// at once: every NextID number is handed out once, and read-modify-write
// updates of one incident lose nothing.
func TestPostgresWriters(t *testing.T) {
	dsn := pgtest.DB(t)
	a, b := openPG(t, dsn), openPG(t, dsn)
	update(t, a, func(tx pager.Tx) error { return tx.PutIncident(incident("inc-1", "g", pager.StatusTriggered, t0)) })
	const perStore = 25
	var mu sync.Mutex
	seen := map[int64]bool{}
	var wg sync.WaitGroup
	errs := make(chan error, 2*perStore)
	for _, s := range []*Store{a, b} {
		wg.Go(func() {
			for range perStore {
				errs <- s.Update(func(tx pager.Tx) error {
					n, err := tx.NextID("incident")
					if err != nil {
						return err
					}
					st, err := tx.Incident("inc-1")
					if err != nil {
						return err
					}
					st.TimelineSeq++
					mu.Lock()
					dup := seen[n]
					seen[n] = true
					mu.Unlock()
					if dup {
						return fmt.Errorf("number %d handed out twice", n)
					}
					return tx.PutIncident(st)
				})
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	view(t, b, func(tx pager.ReadTx) error {
		st, err := tx.Incident("inc-1")
		if err == nil && st.TimelineSeq != 3+2*perStore {
			t.Errorf("TimelineSeq %d, want %d: an update was lost", st.TimelineSeq, 3+2*perStore)
		}
		return err
	})
	if len(seen) != 2*perStore {
		t.Errorf("%d numbers, want %d", len(seen), 2*perStore)
	}
}

// TestPostgresConflict: a second open incident for a group key is
// ErrConflict, and the transaction is rolled back whole.
func TestPostgresConflict(t *testing.T) {
	s := openPG(t, pgtest.DB(t))
	update(t, s, func(tx pager.Tx) error { return tx.PutIncident(incident("inc-1", "g", pager.StatusTriggered, t0)) })
	err := s.Update(func(tx pager.Tx) error {
		if err := tx.PutSilence(pager.Silence{ID: "s1"}); err != nil {
			return err
		}
		return tx.PutIncident(incident("inc-2", "g", pager.StatusTriggered, t0))
	})
	if !errors.Is(err, pager.ErrConflict) {
		t.Fatalf("second open incident: %v, want ErrConflict", err)
	}
	view(t, s, func(tx pager.ReadTx) error {
		sils, err := tx.Silences()
		if len(sils) != 0 {
			t.Errorf("silences %v after a rolled-back update", sils)
		}
		return err
	})
}

// TestPostgresOpenError: the password never appears in Open's error.
func TestPostgresOpenError(t *testing.T) {
	_, err := OpenPostgres("postgres://u:secret@127.0.0.1:1/db?sslmode=disable&connect_timeout=1", Options{})
	if err == nil || strings.Contains(err.Error(), "secret") || !strings.Contains(err.Error(), "u:xxxxx@") {
		t.Errorf("open of an unreachable server: %v", err)
	}
}

// rawPG runs stmt on dsn outside the Store.
// TestPostgresMigrate11: a database of schema version 10 (incidents
// stamped by a trigger) opens at 11 without the trigger; what a replica
// wrote before and after reaches the other through Changes with the
// writing transaction's change number.
func TestPostgresMigrate11(t *testing.T) {
	dsn := pgtest.DB(t)
	a := openReplica(t, dsn, "a")
	st := incident("inc-1", "g1", pager.StatusTriggered, t0)
	update(t, a, func(tx pager.Tx) error { return tx.PutIncident(st) })
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	rawPG(t, dsn, `CREATE TRIGGER incidents_stamp BEFORE INSERT OR UPDATE ON incidents FOR EACH ROW EXECUTE FUNCTION watchdog_pager_stamp();
		UPDATE `+pgVersionTable+` SET version = 10`)
	a, b := openReplica(t, dsn, "a"), openReplica(t, dsn, "b")
	var triggers, version int
	if err := a.db.QueryRow("SELECT count(*) FROM pg_trigger WHERE tgname = 'incidents_stamp'").Scan(&triggers); err != nil {
		t.Fatal(err)
	}
	if err := a.db.QueryRow("SELECT version FROM " + pgVersionTable).Scan(&version); err != nil {
		t.Fatal(err)
	}
	if triggers != 0 || version != 11 || PostgresSchemaVersion() != 11 {
		t.Fatalf("after the migration: %d trigger(s), schema version %d (package %d)", triggers, version, PostgresSchemaVersion())
	}
	c0, err := b.Changes(0)
	if err != nil || len(c0.Incidents) != 1 {
		t.Fatalf("changes before: %+v, %v", c0, err)
	}
	mustEqual(t, "incident written at version 10", c0.Incidents[0], roundTrip(t, st))
	st.Status = pager.StatusAcknowledged
	st2 := incident("inc-2", "g2", pager.StatusTriggered, t0)
	update(t, a, func(tx pager.Tx) error { return errors.Join(tx.PutIncident(st), tx.PutIncident(st2)) })
	c1, err := b.Changes(c0.Version)
	if err != nil || c1.Version != c0.Version+1 || len(c1.Incidents) != 2 {
		t.Fatalf("changes after: %+v, %v", c1, err)
	}
	mustEqual(t, "changed", c1.Incidents, []pager.IncidentState{roundTrip(t, st), roundTrip(t, st2)})
	var stamped int64
	if err := a.db.QueryRow("SELECT min(version) FROM incidents").Scan(&stamped); err != nil || stamped != c1.Version {
		t.Errorf("incident rows stamped %d (%v), want %d", stamped, err, c1.Version)
	}
}

func rawPG(t *testing.T, dsn, stmt string) {
	t.Helper()
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.ExecContext(context.Background(), stmt); err != nil {
		t.Fatal(err)
	}
}

// TestPostgresCorruptRows: the quarantine and the skipping of corrupt rows
// work on PostgreSQL as on SQLite.
func TestPostgresCorruptRows(t *testing.T) {
	tests := []struct {
		name, corrupt string
		quarantined   int
		read          func(tx pager.ReadTx) (int, error) // rows left
	}{
		{"open incident, bad JSON", `UPDATE incidents SET state = '{"ID":' WHERE id = 'inc-1'`, 1,
			func(tx pager.ReadTx) (int, error) { s, err := tx.Incidents(pager.IncidentFilter{}); return len(s), err }},
		{"sent delivery, bad JSON", `UPDATE deliveries SET delivery = '[' WHERE key = 'k2'`, 0,
			func(tx pager.ReadTx) (int, error) {
				d, err := tx.Deliveries(pager.DeliveryFilter{})
				return len(d), err
			}},
		{"timeline entry, bad JSON", `UPDATE timeline SET entry = '{' WHERE seq = 1`, 0,
			func(tx pager.ReadTx) (int, error) { e, err := tx.Timeline("inc-1"); return len(e), err }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dsn := pgtest.DB(t)
			s := openPG(t, dsn)
			update(t, s, func(tx pager.Tx) error {
				_, err1 := tx.AddDelivery(delivery("k1", "inc-1", pager.DeliveryPending, t0))
				_, err2 := tx.AddDelivery(delivery("k2", "inc-1", pager.DeliverySent, t0))
				return errors.Join(tx.PutIncident(incident("inc-1", "g1", pager.StatusTriggered, t0)),
					tx.PutIncident(incident("inc-2", "g2", pager.StatusResolved, t0)),
					tx.AppendTimeline(entry("inc-1", 1, pager.EntryOpened), entry("inc-1", 2, pager.EntryNotify)), err1, err2)
			})
			s.Close()
			rawPG(t, dsn, tt.corrupt)
			var logs syncBuffer
			s, err := OpenPostgres(dsn, Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
			if err != nil {
				t.Fatalf("open with a corrupt row: %v", err)
			}
			defer s.Close()
			if n, err := s.Quarantined(); n != tt.quarantined || err != nil {
				t.Errorf("quarantined %d (%v), want %d", n, err, tt.quarantined)
			}
			view(t, s, func(tx pager.ReadTx) error {
				n, err := tt.read(tx)
				if n != 1 {
					t.Errorf("%d rows read, want the 1 good one", n)
				}
				return err
			})
			if !strings.Contains(logs.String(), "corrupt row") {
				t.Errorf("no corrupt-row log line:\n%s", logs.String())
			}
		})
	}
}
