package sqlstore

import (
	"bytes"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/VictoriaMetrics/metrics"

	"github.com/watchdog-sre/watchdog/pager"
)

// syncBuffer is a bytes.Buffer safe for a logger used from several
// goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// rawExec runs SQL on the file behind the store's back, as a careless
// hand or a bad disk would.
func rawExec(t *testing.T, path, q string, args ...any) {
	t.Helper()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(q, args...); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

func counter(set *metrics.Set, table string) uint64 {
	return set.GetOrCreateCounter(`watchdog_pager_store_corrupt_rows_total{table="` + table + `"}`).Get()
}

// TestCorruptRows: a row that does not decode, or decodes to nonsense,
// never fails Open or a read. Rows the pager loads at start go to the
// quarantine table (so that a corrupt open incident does not block its
// group key); others are skipped when read. Either way an ERROR line
// names the table and the key, and the counter of the table rises once.
func TestCorruptRows(t *testing.T) {
	tests := []struct {
		name, table, key, corrupt string
		quarantined               bool
		read                      func(tx pager.ReadTx) (int, error) // rows left
	}{
		{"open incident, bad JSON", "incidents", "inc-1", `UPDATE incidents SET state = '{"ID":' WHERE id = 'inc-1'`, true,
			func(tx pager.ReadTx) (int, error) { s, err := tx.Incidents(pager.IncidentFilter{}); return len(s), err }},
		{"open incident, bad status", "incidents", "inc-1",
			`UPDATE incidents SET state = json_set(state, '$.Status', 'bogus') WHERE id = 'inc-1'`, true,
			func(tx pager.ReadTx) (int, error) { s, err := tx.Incidents(pager.IncidentFilter{}); return len(s), err }},
		{"open incident, status column differs", "incidents", "inc-1",
			`UPDATE incidents SET status = 'bogus' WHERE id = 'inc-1'`, true,
			func(tx pager.ReadTx) (int, error) { s, err := tx.Incidents(pager.IncidentFilter{}); return len(s), err }},
		{"resolved incident, bad JSON", "incidents", "inc-2", `UPDATE incidents SET state = 'nope' WHERE id = 'inc-2'`, false,
			func(tx pager.ReadTx) (int, error) { s, err := tx.Incidents(pager.IncidentFilter{}); return len(s), err }},
		{"pending delivery, bad kind", "deliveries", "k1",
			`UPDATE deliveries SET delivery = json_set(delivery, '$.Kind', 'pigeon') WHERE key = 'k1'`, true,
			func(tx pager.ReadTx) (int, error) {
				d, err := tx.Deliveries(pager.DeliveryFilter{})
				return len(d), err
			}},
		{"sent delivery, bad JSON", "deliveries", "k2", `UPDATE deliveries SET delivery = '[' WHERE key = 'k2'`, false,
			func(tx pager.ReadTx) (int, error) {
				d, err := tx.Deliveries(pager.DeliveryFilter{})
				return len(d), err
			}},
		{"silence, wrong id", "silences", "sil-1",
			`UPDATE silences SET silence = json_set(silence, '$.ID', 'sil-9') WHERE id = 'sil-1'`, true,
			func(tx pager.ReadTx) (int, error) { s, err := tx.Silences(); return len(s), err }},
		{"timeline entry, bad JSON", "timeline", "inc-1 pos 1", `UPDATE timeline SET entry = '{' WHERE pos = 1`, false,
			func(tx pager.ReadTx) (int, error) { e, err := tx.Timeline("inc-1"); return len(e), err }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "pager.db")
			s := mustOpen(t, path)
			update(t, s, func(tx pager.Tx) error {
				return errors.Join(tx.PutIncident(incident("inc-1", "g1", pager.StatusTriggered, t0)),
					tx.PutIncident(incident("inc-2", "g2", pager.StatusResolved, t0)),
					tx.AppendTimeline(entry("inc-1", 1, pager.EntryOpened), entry("inc-1", 2, pager.EntryNotify)),
					tx.PutSilence(pager.Silence{ID: "sil-1", Matchers: []string{`a="b"`}, StartsAt: t0, EndsAt: t0}),
					tx.PutSilence(pager.Silence{ID: "sil-2", Matchers: []string{`a="c"`}, StartsAt: t0, EndsAt: t0}),
					func() error {
						_, err1 := tx.AddDelivery(delivery("k1", "inc-1", pager.DeliveryPending, t0))
						_, err2 := tx.AddDelivery(delivery("k2", "inc-1", pager.DeliverySent, t0))
						return errors.Join(err1, err2)
					}())
			})
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			rawExec(t, path, tt.corrupt)

			var logs syncBuffer
			set := metrics.NewSet()
			s, err := Open(path, Options{Logger: slog.New(slog.NewTextHandler(&logs, nil)), Metrics: set})
			if err != nil {
				t.Fatalf("Open with a corrupt row: %v", err)
			}
			defer s.Close()
			for range 2 { // reported once, however often it is read
				view(t, s, func(tx pager.ReadTx) error {
					n, err := tt.read(tx)
					if err != nil {
						t.Errorf("read: %v", err)
					}
					if n != 1 {
						t.Errorf("%d rows read, want the 1 good one", n)
					}
					return nil
				})
			}
			line := ""
			for l := range strings.Lines(logs.String()) {
				if strings.Contains(l, "corrupt row") {
					if line != "" {
						t.Errorf("reported twice:\n%s", logs.String())
					}
					line = l
				}
			}
			for _, want := range []string{"level=ERROR", "table=" + tt.table, "key=" + tt.key} {
				if !strings.Contains(line, want) && !strings.Contains(line, `key="`+tt.key+`"`) {
					t.Errorf("log line %q lacks %s", line, want)
				}
			}
			if got := counter(set, tt.table); got != 1 {
				t.Errorf("corrupt rows counter %d, want 1", got)
			}
			q, err := s.Quarantined()
			if err != nil || (q == 1) != tt.quarantined {
				t.Errorf("quarantined %d (%v), want quarantined=%v", q, err, tt.quarantined)
			}
			if tt.table == "incidents" && tt.quarantined {
				// The group key is free again: a new incident for it opens.
				update(t, s, func(tx pager.Tx) error {
					return tx.PutIncident(incident("inc-3", "g1", pager.StatusTriggered, t0))
				})
			}
		})
	}
}

// TestOpenEmptyFile: a 0-byte file is refused (it is more likely a lost
// database than a new one), a missing file is created and reported so.
func TestOpenEmptyFile(t *testing.T) {
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty.db")
	write(t, empty, nil)
	if s, err := Open(empty, Options{}); !errors.Is(err, ErrEmptyFile) {
		if s != nil {
			s.Close()
		}
		t.Fatalf("Open of a 0-byte file: %v, want ErrEmptyFile", err)
	} else if !strings.Contains(err.Error(), "empty.db") || !strings.Contains(err.Error(), "delete the file") {
		t.Errorf("error does not name the file and the way out: %v", err)
	}
	if fi, err := os.Stat(empty); err != nil || fi.Size() != 0 {
		t.Errorf("the refused file was changed: %v %v", fi, err)
	}

	fresh := filepath.Join(dir, "fresh.db")
	s := mustOpen(t, fresh)
	if !s.Created() {
		t.Error("Created() false for a new file")
	}
	s.Close()
	s = mustOpen(t, fresh)
	if s.Created() {
		t.Error("Created() true for an existing file")
	}
	s.Close()
}

// TestIncidentUID: the UID round-trips, is unique in the store, and a
// version 1 database (no uid column) is migrated with its rows intact.
func TestIncidentUID(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "pager.db")
	s := mustOpen(t, path)
	st := incident("inc-1", "g1", pager.StatusTriggered, t0)
	st.UID = "0123456789abcdef0123456789abcdef"
	update(t, s, func(tx pager.Tx) error { return tx.PutIncident(st) })
	dup := incident("inc-2", "g2", pager.StatusTriggered, t0)
	dup.UID = st.UID
	if err := s.Update(func(tx pager.Tx) error { return tx.PutIncident(dup) }); !errors.Is(err, pager.ErrConflict) {
		t.Errorf("second incident with the same UID: %v, want ErrConflict", err)
	}
	s.Close()
	s = mustOpen(t, path)
	view(t, s, func(tx pager.ReadTx) error {
		got, err := tx.Incident("inc-1")
		if err != nil || got.UID != st.UID {
			t.Errorf("after reopen: UID %q (%v)", got.UID, err)
		}
		return nil
	})
	s.Close()

	// A version 1 database as the previous release wrote it.
	v1 := filepath.Join(dir, "v1.db")
	db, err := sql.Open("sqlite", v1)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{fmt.Sprintf("PRAGMA application_id = %d", applicationID), "CREATE TABLE schema_version (version INTEGER NOT NULL) STRICT",
		"INSERT INTO schema_version VALUES (1)", migrations[0],
		`INSERT INTO incidents (id, group_key, status, route, created_s, created_ns, state)
			VALUES ('inc-1', 'g', 'triggered', 'pages', 0, 0, '{"ID":"inc-1","GroupKey":"g","Status":"triggered"}')`} {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	db.Close()
	s = mustOpen(t, v1)
	defer s.Close()
	var version int
	if err := s.db.QueryRow("SELECT version FROM schema_version").Scan(&version); err != nil || version != SchemaVersion() {
		t.Errorf("version %d (%v), want %d", version, err, SchemaVersion())
	}
	view(t, s, func(tx pager.ReadTx) error {
		got, err := tx.Incident("inc-1")
		if err != nil || got.UID != "" || got.Status != pager.StatusTriggered {
			t.Errorf("old incident after migration: %+v %v", got, err)
		}
		return nil
	})
}
