package sqlstore

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"hash/maphash"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/watchdog-sre/watchdog/internal/pgtest"
	"github.com/watchdog-sre/watchdog/pager"
)

// alertStores are the stores the alert tests run on: SQLite and
// PostgreSQL, each opened afresh.
var alertStores = []struct {
	name string
	open func(t *testing.T) *Store
}{
	{"sqlite", openTemp},
	{"postgres", func(t *testing.T) *Store { return openPG(t, pgtest.DB(t)) }},
}

func testAlert(fp, v string) pager.IncidentAlert {
	return pager.IncidentAlert{Fingerprint: fp, Alert: pager.Alert{Labels: map[string]string{"a": v, "x": "<&>"},
		Annotations: map[string]string{"summary": v}, StartsAt: t0}}
}

// roundTrip is st as a JSON round trip gives it back: what a read must
// return.
func roundTrip(t *testing.T, st pager.IncidentState) pager.IncidentState {
	t.Helper()
	var want pager.IncidentState
	data, err := json.Marshal(st)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &want); err != nil {
		t.Fatal(err)
	}
	return want
}

func readIncident(t *testing.T, s pager.Store, id string) pager.IncidentState {
	t.Helper()
	var got pager.IncidentState
	view(t, s, func(tx pager.ReadTx) error {
		var err error
		got, err = tx.Incident(id)
		return err
	})
	return got
}

// TestIncidentAlertsDiff: an incident put again and again (alerts added,
// changed in place, ended, removed) reads back exactly as put, and each
// put writes only the alert rows that changed.
func TestIncidentAlertsDiff(t *testing.T) {
	for _, store := range alertStores {
		t.Run(store.name, func(t *testing.T) {
			s := store.open(t)
			st := incident("inc-1", "g", pager.StatusTriggered, t0)
			steps := []struct {
				change func()
				rows   int // alert rows written or deleted
			}{
				{func() { st.Alerts = []pager.IncidentAlert{testAlert("fp2", "2")} }, 1},
				{func() { st.Alerts = []pager.IncidentAlert{testAlert("fp1", "1"), st.Alerts[0], testAlert("fp3", "3")} }, 2},
				{func() {}, 0},
				{func() { st.Alerts[1].Labels["a"] = "changed in place" }, 1}, // same map, new content
				{func() { st.Alerts[2].Ended, st.Alerts[2].EndsAt = true, t0.Add(time.Minute) }, 1},
				{func() { st.Alerts[2].EndsAt = st.Alerts[2].EndsAt.In(time.FixedZone("X", 3600)) }, 1}, // same instant, new JSON
				{func() { st.Alerts[0].SuppressedBy = "silence:1"; st.Alerts[0].Annotations = nil }, 1},
				{func() { st.Alerts[0].Annotations = map[string]string{} }, 1}, // null → {}
				{func() { st.Title = "new title" }, 0},
				{func() { st.Alerts = st.Alerts[1:] }, 1},
				{func() { st.Alerts = []pager.IncidentAlert{} }, 2},
				{func() { st.Alerts = nil }, 0},
				{func() { st.Alerts = []pager.IncidentAlert{testAlert("fp3", "3"), testAlert("fp1", "1")} }, 2}, // unsorted
				{func() { st.Status = pager.StatusResolved }, 0},
				{func() { st.Alerts = st.Alerts[:1] }, 1}, // resolved: forgotten, so deleted and rewritten
			}
			for i, step := range steps {
				step.change()
				before := s.alertRows
				update(t, s, func(tx pager.Tx) error { return tx.PutIncident(st) })
				if got := s.alertRows - before; got != step.rows {
					t.Errorf("step %d: %d alert rows written, want %d", i, got, step.rows)
				}
				want := roundTrip(t, st)
				if len(want.Alerts) > 0 {
					want.Alerts = roundTrip(t, pager.IncidentState{Alerts: sortedAlerts(st.Alerts)}).Alerts
				}
				if got := readIncident(t, s, "inc-1"); !reflect.DeepEqual(got, want) {
					t.Errorf("step %d: got\n%+v\nwant\n%+v", i, got, want)
				}
			}
		})
	}
}

func sortedAlerts(as []pager.IncidentAlert) []pager.IncidentAlert {
	out := append([]pager.IncidentAlert(nil), as...)
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j].Fingerprint < out[i].Fingerprint {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
}

// TestIncidentAlertsInOneTx: an incident put several times in one
// transaction, and read in between, ends as its last put; a transaction
// rolled back leaves nothing that a later write then wrongly skips.
func TestIncidentAlertsInOneTx(t *testing.T) {
	for _, store := range alertStores {
		t.Run(store.name, func(t *testing.T) {
			s := store.open(t)
			st := incident("inc-1", "g", pager.StatusTriggered, t0)
			st.Alerts = []pager.IncidentAlert{testAlert("fp1", "1")}
			update(t, s, func(tx pager.Tx) error {
				if err := tx.PutIncident(st); err != nil {
					return err
				}
				got, err := tx.Incident("inc-1")
				if err != nil || len(got.Alerts) != 1 {
					t.Errorf("read in the transaction: %v, %d alerts, want 1", err, len(got.Alerts))
				}
				st.Alerts = []pager.IncidentAlert{testAlert("fp1", "1"), testAlert("fp2", "2")}
				if err := tx.PutIncident(st); err != nil {
					return err
				}
				st.Alerts = []pager.IncidentAlert{testAlert("fp2", "2b")}
				return tx.PutIncident(st)
			})
			mustEqual(t, "after one transaction", readIncident(t, s, "inc-1"), roundTrip(t, st))

			changed := st
			changed.Alerts = []pager.IncidentAlert{testAlert("fp2", "rolled back"), testAlert("fp3", "3")}
			err := s.Update(func(tx pager.Tx) error {
				if err := tx.PutIncident(changed); err != nil {
					return err
				}
				return errBoom
			})
			if err != errBoom {
				t.Fatalf("update: %v, want errBoom", err)
			}
			mustEqual(t, "after a rollback", readIncident(t, s, "inc-1"), roundTrip(t, st))
			update(t, s, func(tx pager.Tx) error { return tx.PutIncident(changed) })
			mustEqual(t, "the rolled-back state written again", readIncident(t, s, "inc-1"), roundTrip(t, changed))
		})
	}
}

// TestIncidentAlertsAcrossReplicas: a replica whose last write of an
// incident another replica has since overwritten does not trust what it
// wrote: putting its old alerts again writes them.
func TestIncidentAlertsAcrossReplicas(t *testing.T) {
	dsn := pgtest.DB(t)
	a, b := openReplica(t, dsn, "a"), openReplica(t, dsn, "b")
	st := incident("inc-1", "g", pager.StatusTriggered, t0)
	st.Alerts = []pager.IncidentAlert{testAlert("fp1", "1"), testAlert("fp2", "2")}
	update(t, a, func(tx pager.Tx) error { return tx.PutIncident(st) })
	other := st
	other.Alerts = []pager.IncidentAlert{testAlert("fp1", "by b")}
	update(t, b, func(tx pager.Tx) error { return tx.PutIncident(other) })
	mustEqual(t, "read by a", readIncident(t, a, "inc-1"), roundTrip(t, other))
	update(t, a, func(tx pager.Tx) error { return tx.PutIncident(st) })
	mustEqual(t, "read by b", readIncident(t, b, "inc-1"), roundTrip(t, st))
	c, err := b.Changes(0)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Incidents) != 1 {
		t.Fatalf("changes: %d incidents, want 1", len(c.Incidents))
	}
	mustEqual(t, "changes", c.Incidents[0], roundTrip(t, st))
}

// legacyIncidents writes incidents as schema version 9 stored them (the
// alerts inside the document) through exec, and returns them.
func legacyIncidents(t *testing.T, exec func(q string, args ...any)) []pager.IncidentState {
	var out []pager.IncidentState
	for i := range 3 {
		st := incident(fmt.Sprintf("inc-%d", i+1), fmt.Sprintf("g%d", i), pager.StatusTriggered, t0.Add(time.Duration(i)*time.Minute))
		st.UID = ""
		for j := range i + 1 {
			st.Alerts = append(st.Alerts, testAlert(fmt.Sprintf("fp%d", j+2), fmt.Sprint(j)))
		}
		data, err := json.Marshal(st)
		if err != nil {
			t.Fatal(err)
		}
		s, ns := timeParts(st.CreatedAt)
		exec(`INSERT INTO incidents (id, group_key, status, route, created_s, created_ns, state) VALUES (?, ?, ?, ?, ?, ?, ?)`,
			st.ID, st.GroupKey, string(st.Status), st.Route, s, ns, string(data))
		out = append(out, st)
	}
	return out
}

// TestIncidentAlertsMigration: a database of schema version 9, whose
// incidents hold their alerts in their documents, opens at version 10
// with every alert readable; an incident written again moves its alerts
// to incident_alerts and reads back the same, beside ones not written.
func TestIncidentAlertsMigration(t *testing.T) {
	tests := []struct {
		name string
		// old creates a version 9 database holding legacy incidents and
		// returns them and a function opening it.
		old func(t *testing.T) ([]pager.IncidentState, func(t *testing.T) *Store)
	}{
		{"sqlite", func(t *testing.T) ([]pager.IncidentState, func(t *testing.T) *Store) {
			path := filepath.Join(t.TempDir(), "pager.db")
			if err := mustOpen(t, path).Close(); err != nil {
				t.Fatal(err)
			}
			rawExec(t, path, "DROP TABLE incident_alerts; UPDATE schema_version SET version = 9")
			sts := legacyIncidents(t, func(q string, args ...any) { rawExec(t, path, q, args...) })
			return sts, func(t *testing.T) *Store {
				s := mustOpen(t, path)
				t.Cleanup(func() { _ = s.Close() })
				return s
			}
		}},
		{"postgres", func(t *testing.T) ([]pager.IncidentState, func(t *testing.T) *Store) {
			dsn := pgtest.DB(t)
			if err := openPG(t, dsn).Close(); err != nil {
				t.Fatal(err)
			}
			rawPG(t, dsn, "DROP TABLE incident_alerts; UPDATE "+pgVersionTable+" SET version = 9")
			sts := legacyIncidents(t, func(q string, args ...any) { rawPGArgs(t, dsn, q, args...) })
			return sts, func(t *testing.T) *Store { return openPG(t, dsn) }
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sts, open := tt.old(t)
			s := open(t)
			var got []pager.IncidentState
			view(t, s, func(tx pager.ReadTx) error {
				var err error
				got, err = tx.Incidents(pager.IncidentFilter{})
				return err
			})
			if len(got) != len(sts) {
				t.Fatalf("%d incidents after the migration, want %d", len(got), len(sts))
			}
			for i, st := range sts {
				mustEqual(t, "migrated "+st.ID, got[len(got)-1-i], roundTrip(t, st))
			}
			// Write inc-2 with one alert changed: all of its alerts move.
			st := sts[1]
			st.Alerts = []pager.IncidentAlert{st.Alerts[0], testAlert("fp3", "changed")}
			update(t, s, func(tx pager.Tx) error { return tx.PutIncident(st) })
			var doc string
			if err := s.db.QueryRow(s.q("SELECT state FROM incidents WHERE id = ?"), st.ID).Scan(&doc); err != nil {
				t.Fatal(err)
			}
			if strings.Contains(doc, "fp2") {
				t.Errorf("document of a written incident still holds its alerts: %s", doc)
			}
			for _, want := range []pager.IncidentState{sts[0], st, sts[2]} {
				mustEqual(t, "after a write "+want.ID, readIncident(t, s, want.ID), roundTrip(t, want))
			}
			// A restart forgets what was written: the next write of
			// inc-2 rewrites its alerts, one fewer now.
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			s = open(t)
			st.Alerts = st.Alerts[1:]
			update(t, s, func(tx pager.Tx) error { return tx.PutIncident(st) })
			for _, want := range []pager.IncidentState{sts[0], st, sts[2]} {
				mustEqual(t, "after a restart "+want.ID, readIncident(t, s, want.ID), roundTrip(t, want))
			}
		})
	}
}

// rawPGArgs runs q (with ? placeholders) and args on dsn outside the Store.
func rawPGArgs(t *testing.T, dsn, q string, args ...any) {
	t.Helper()
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec((&Store{d: postgresDialect}).q(q), args...); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

// TestHashAlert: every field the JSON of an alert encodes changes its
// hash; what JSON does not see (map order, a time's location name) does
// not.
func TestHashAlert(t *testing.T) {
	seed := maphash.MakeSeed()
	base := func() pager.IncidentAlert {
		a := testAlert("fp1", "1")
		a.Labels["b"] = "2"
		return a
	}
	h0 := hashAlert(seed, ptr(base()))
	changes := map[string]func(a *pager.IncidentAlert){
		"fingerprint":       func(a *pager.IncidentAlert) { a.Fingerprint = "fp2" },
		"label value":       func(a *pager.IncidentAlert) { a.Labels["a"] = "x" },
		"label swap":        func(a *pager.IncidentAlert) { a.Labels["a"], a.Labels["b"] = a.Labels["b"], a.Labels["a"] },
		"label added":       func(a *pager.IncidentAlert) { a.Labels["c"] = "" },
		"label key/value":   func(a *pager.IncidentAlert) { a.Labels = map[string]string{"a1": "", "x": "<&>", "b": "2"} },
		"annotations nil":   func(a *pager.IncidentAlert) { a.Annotations = nil },
		"annotations empty": func(a *pager.IncidentAlert) { a.Annotations = map[string]string{} },
		"starts":            func(a *pager.IncidentAlert) { a.StartsAt = a.StartsAt.Add(time.Nanosecond) },
		"starts offset":     func(a *pager.IncidentAlert) { a.StartsAt = a.StartsAt.In(time.FixedZone("", 3600)) },
		"ends":              func(a *pager.IncidentAlert) { a.EndsAt = t0 },
		"generator":         func(a *pager.IncidentAlert) { a.GeneratorURL = "http://x" },
		"timeout":           func(a *pager.IncidentAlert) { a.Timeout = true },
		"suppressed":        func(a *pager.IncidentAlert) { a.SuppressedBy = "silence:1" },
		"ended":             func(a *pager.IncidentAlert) { a.Ended = true },
	}
	for name, change := range changes {
		a := base()
		change(&a)
		if hashAlert(seed, &a) == h0 {
			t.Errorf("%s: hash unchanged", name)
		}
	}
	same := base()
	same.StartsAt = same.StartsAt.In(time.FixedZone("UTC+0", 0))
	if hashAlert(seed, &same) != h0 {
		t.Error("same JSON, different hash")
	}
}

func ptr[T any](v T) *T { return &v }

// TestIncidentAlertsCorruptRow: an alert row that does not decode is
// skipped and reported; the incident and its other alerts read as ever.
func TestIncidentAlertsCorruptRow(t *testing.T) {
	for _, store := range alertStores {
		t.Run(store.name, func(t *testing.T) {
			s := store.open(t)
			set := metrics.NewSet()
			s.metrics = set
			st := incident("inc-1", "g", pager.StatusTriggered, t0)
			st.Alerts = []pager.IncidentAlert{testAlert("fp1", "1"), testAlert("fp2", "2"), testAlert("fp3", "3")}
			update(t, s, func(tx pager.Tx) error { return tx.PutIncident(st) })
			for _, q := range []string{
				`UPDATE incident_alerts SET alert = '{"Fingerprint":' WHERE fingerprint = 'fp2'`,
				`UPDATE incident_alerts SET alert = '{"Fingerprint":"fp1"}' WHERE fingerprint = 'fp3'`,
			} {
				if _, err := s.db.Exec(q); err != nil {
					t.Fatal(err)
				}
			}
			want := roundTrip(t, st)
			want.Alerts = want.Alerts[:1]
			mustEqual(t, "incident", readIncident(t, s, "inc-1"), want)
			if n := counter(set, "incident_alerts"); n != 2 {
				t.Errorf("corrupt rows counted: %d, want 2", n)
			}
		})
	}
}

// TestIncidentAlertsOwned: PutIncidentOwned recognises an alert's maps
// already written by identity, and still writes every alert whose maps
// or other fields are new; a PutIncident in between does not let a later
// owned put trust maps it could have changed.
func TestIncidentAlertsOwned(t *testing.T) {
	for _, store := range alertStores {
		t.Run(store.name, func(t *testing.T) {
			s := store.open(t)
			st := incident("inc-1", "g", pager.StatusTriggered, t0)
			a1, a2 := testAlert("fp1", "1"), testAlert("fp2", "2")
			steps := []struct {
				name   string
				alerts []pager.IncidentAlert
				owned  bool
				rows   int
			}{
				{"first", []pager.IncidentAlert{a1, a2}, true, 2},
				{"same maps", []pager.IncidentAlert{a1, a2}, true, 0},
				{"new maps, same content", []pager.IncidentAlert{testAlert("fp1", "1"), a2}, true, 0},
				{"new maps, new content", []pager.IncidentAlert{testAlert("fp1", "1b"), a2}, true, 1},
				{"same maps, new end", []pager.IncidentAlert{testAlert("fp1", "1b"), {Fingerprint: "fp2", Alert: pager.Alert{
					Labels: a2.Labels, Annotations: a2.Annotations, StartsAt: t0, EndsAt: t0.Add(time.Hour)}}}, true, 1},
				{"not owned", []pager.IncidentAlert{a1, a2}, false, 2},
			}
			for _, step := range steps {
				st.Alerts = step.alerts
				before := s.alertRows
				update(t, s, func(tx pager.Tx) error {
					if step.owned {
						return tx.(pager.OwnedPutter).PutIncidentOwned(st)
					}
					return tx.PutIncident(st)
				})
				if got := s.alertRows - before; got != step.rows {
					t.Errorf("%s: %d alert rows written, want %d", step.name, got, step.rows)
				}
				mustEqual(t, step.name, readIncident(t, s, "inc-1"), roundTrip(t, st))
			}
			// Changed in place after a PutIncident: the owned put that
			// follows must not trust the identity.
			a1.Labels["a"] = "in place"
			update(t, s, func(tx pager.Tx) error { return tx.(pager.OwnedPutter).PutIncidentOwned(st) })
			mustEqual(t, "after a change in place", readIncident(t, s, "inc-1"), roundTrip(t, st))
		})
	}
}
