package sqlstore

import (
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/watchdog-sre/watchdog/internal/pgtest"
	"github.com/watchdog-sre/watchdog/pager"
)

// stores are the implementations the conformance suite runs against.
var stores = []struct {
	name string
	open func(t *testing.T) pager.Store
}{
	{"mem", func(*testing.T) pager.Store { return pager.NewMemStore() }},
	{"sqlite", func(t *testing.T) pager.Store { return openTemp(t) }},
	{"postgres", func(t *testing.T) pager.Store { return openPG(t, pgtest.DB(t)) }},
	{"postgres-replica", func(t *testing.T) pager.Store { return openReplica(t, pgtest.DB(t), "r") }},
}

// openTemp opens a Store in a fresh temporary directory, closed at the end
// of the test.
func openTemp(t *testing.T) *Store {
	t.Helper()
	s, err := Open(filepath.Join(t.TempDir(), "pager.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return s
}

var (
	t0      = time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	errBoom = errors.New("boom")
)

// incident returns a fully populated incident: every field of
// IncidentState round-trips through the store.
func incident(id, group string, status pager.Status, created time.Time) pager.IncidentState {
	return pager.IncidentState{
		ID: id, GroupKey: group, Route: "pages", Policy: "default", Channels: []string{"ops-webhook"},
		GroupLabels: map[string]string{"alertname": group}, GroupWait: time.Second, GroupInterval: time.Minute,
		RepeatInterval: time.Hour, Major: true, Title: "title " + id, Status: status,
		Alerts: []pager.IncidentAlert{{Fingerprint: "fp1", Alert: pager.Alert{
			Labels: map[string]string{"alertname": group}, Annotations: map[string]string{"summary": "s"},
			StartsAt: created, GeneratorURL: "http://x"}, SuppressedBy: "silence:1"}},
		Suppressed: false, CreatedAt: created, StartAt: created.Add(time.Second), Started: true,
		AckedBy: "alice", AckedAt: created.Add(time.Minute), Assignee: "bob", RetriggerAt: created.Add(time.Hour),
		Escalating: true, Epoch: 1, Level: 1, Repeat: 0, LevelAt: created, EscalateAt: created.Add(15 * time.Minute),
		Planned:   []pager.PlannedNotify{{At: created.Add(2 * time.Minute), User: "alice", Method: "sms", Level: 1, Step: 1}},
		Forwarded: true, ForwardPending: true, LastForwardAt: created, ForwardSeq: 2, TimelineSeq: 3,
	}
}

func delivery(key, inc string, status pager.DeliveryStatus, created time.Time) pager.Delivery {
	return pager.Delivery{Key: key, IncidentID: inc, Kind: pager.KindNotify, User: "alice", Method: "sms",
		Contact: "+49", Channel: "sms", Event: "trigger", CreatedAt: created, Status: status}
}

// addAll adds ds as the Pager does: at once when tx can, else one by one.
func addAll(tx pager.Tx, ds []pager.Delivery) ([]bool, error) {
	if a, ok := tx.(pager.DeliveryAdder); ok {
		return a.AddDeliveries(ds)
	}
	var added []bool
	for _, d := range ds {
		ok, err := tx.AddDelivery(d)
		if err != nil {
			return nil, err
		}
		added = append(added, ok)
	}
	return added, nil
}

// updAll replaces ds as the Pager does: at once when tx can, else one
// by one.
func updAll(tx pager.Tx, ds []pager.Delivery) error {
	if u, ok := tx.(pager.DeliveryUpdater); ok {
		return u.UpdateDeliveries(ds)
	}
	for _, d := range ds {
		if err := tx.UpdateDelivery(d); err != nil {
			return err
		}
	}
	return nil
}

func entry(inc string, seq int, kind string) pager.TimelineEntry {
	return pager.TimelineEntry{IncidentID: inc, Seq: seq, At: t0.Add(time.Duration(seq) * time.Second), Kind: kind,
		By: "system", User: "alice", Method: "push", Channel: "push", Key: "k", Level: 1, Text: "text"}
}

// update runs fn in s.Update and fails the test on error.
func update(t testing.TB, s pager.Store, fn func(tx pager.Tx) error) {
	t.Helper()
	if err := s.Update(fn); err != nil {
		t.Fatalf("update: %v", err)
	}
}

// view runs fn in s.View and fails the test on error.
func view(t *testing.T, s pager.Store, fn func(tx pager.ReadTx) error) {
	t.Helper()
	if err := s.View(fn); err != nil {
		t.Fatalf("view: %v", err)
	}
}

func ids(sts []pager.IncidentState) []string {
	var out []string
	for _, st := range sts {
		out = append(out, st.ID)
	}
	return out
}

func mustEqual[T any](t *testing.T, what string, got, want T) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s:\n got %+v\nwant %+v", what, got, want)
	}
}

// TestConformance runs every case against MemStore, the SQLite store and
// the PostgreSQL store: each must behave exactly like the reference.
func TestConformance(t *testing.T) {
	for _, tc := range conformanceCases {
		for _, st := range stores {
			t.Run(tc.name+"/"+st.name, func(t *testing.T) {
				// Every case has a store of its own (a new PostgreSQL
				// database each): most of the time is the server's.
				t.Parallel()
				tc.run(t, st.open(t))
			})
		}
	}
}

var conformanceCases = []struct {
	name string
	run  func(t *testing.T, s pager.Store)
}{
	{"empty store", func(t *testing.T, s pager.Store) {
		view(t, s, func(tx pager.ReadTx) error {
			if _, err := tx.Incident("inc-1"); !errors.Is(err, pager.ErrNotFound) {
				t.Errorf("Incident: %v, want ErrNotFound", err)
			}
			if _, err := tx.OpenIncident("g"); !errors.Is(err, pager.ErrNotFound) {
				t.Errorf("OpenIncident: %v, want ErrNotFound", err)
			}
			sts, err := tx.Incidents(pager.IncidentFilter{})
			mustEqual(t, "incidents", sts, nil)
			tl, err2 := tx.Timeline("inc-1")
			mustEqual(t, "timeline", tl, nil)
			ds, err3 := tx.Deliveries(pager.DeliveryFilter{})
			mustEqual(t, "deliveries", ds, nil)
			sils, err4 := tx.Silences()
			mustEqual(t, "silences", sils, nil)
			return errors.Join(err, err2, err3, err4)
		})
	}},
	{"next id", func(t *testing.T, s pager.Store) {
		var got []int64
		update(t, s, func(tx pager.Tx) error {
			for _, seq := range []string{"incident", "incident", "silence", "incident"} {
				n, err := tx.NextID(seq)
				if err != nil {
					return err
				}
				got = append(got, n)
			}
			return nil
		})
		// A rolled-back transaction's numbers are rolled back too.
		_ = s.Update(func(tx pager.Tx) error {
			_, _ = tx.NextID("incident")
			return errBoom
		})
		update(t, s, func(tx pager.Tx) error {
			n, err := tx.NextID("incident")
			got = append(got, n)
			return err
		})
		mustEqual(t, "ids", got, []int64{1, 2, 1, 3, 4})
	}},
	{"put and get incident", func(t *testing.T, s pager.Store) {
		want := incident("inc-1", "g1", pager.StatusTriggered, t0)
		update(t, s, func(tx pager.Tx) error { return tx.PutIncident(want) })
		view(t, s, func(tx pager.ReadTx) error {
			got, err := tx.Incident("inc-1")
			mustEqual(t, "incident", got, want)
			open, err2 := tx.OpenIncident("g1")
			mustEqual(t, "open incident", open, want)
			return errors.Join(err, err2)
		})
		// Replace: the new value wins, indexes follow.
		want.Status, want.Title, want.Route = pager.StatusResolved, "new", "other"
		update(t, s, func(tx pager.Tx) error { return tx.PutIncident(want) })
		view(t, s, func(tx pager.ReadTx) error {
			got, err := tx.Incident("inc-1")
			mustEqual(t, "replaced", got, want)
			if _, err := tx.OpenIncident("g1"); !errors.Is(err, pager.ErrNotFound) {
				t.Errorf("OpenIncident of resolved: %v, want ErrNotFound", err)
			}
			sts, err2 := tx.Incidents(pager.IncidentFilter{Route: "other"})
			mustEqual(t, "by new route", ids(sts), []string{"inc-1"})
			return errors.Join(err, err2)
		})
	}},
	{"empty incident id", func(t *testing.T, s pager.Store) {
		err := s.Update(func(tx pager.Tx) error { return tx.PutIncident(pager.IncidentState{GroupKey: "g"}) })
		if err == nil || err.Error() != "put incident: empty id" {
			t.Errorf("got %v", err)
		}
	}},
	{"one open incident per group key", func(t *testing.T, s pager.Store) {
		update(t, s, func(tx pager.Tx) error {
			return errors.Join(tx.PutIncident(incident("inc-1", "g", pager.StatusTriggered, t0)),
				tx.PutIncident(incident("inc-9", "h", pager.StatusAcknowledged, t0)))
		})
		tests := []struct {
			name string
			st   pager.IncidentState
			want error
		}{
			{"second open", incident("inc-2", "g", pager.StatusTriggered, t0), pager.ErrConflict},
			{"second acknowledged", incident("inc-2", "g", pager.StatusAcknowledged, t0), pager.ErrConflict},
			{"moved into an open group", incident("inc-1", "h", pager.StatusTriggered, t0), pager.ErrConflict},
			{"same incident again", incident("inc-1", "g", pager.StatusAcknowledged, t0), nil},
			{"resolved one", incident("inc-3", "g", pager.StatusResolved, t0), nil},
		}
		for _, tt := range tests {
			var appended bool
			err := s.Update(func(tx pager.Tx) error {
				if err := tx.AppendTimeline(entry(tt.st.ID, 1, pager.EntryNote)); err != nil {
					return err
				}
				appended = true
				return tx.PutIncident(tt.st)
			})
			if !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
				t.Errorf("%s: got %v, want %v", tt.name, err, tt.want)
			}
			view(t, s, func(tx pager.ReadTx) error {
				tl, rerr := tx.Timeline(tt.st.ID)
				if appended && (err == nil) != (len(tl) > 0) {
					t.Errorf("%s: timeline %v after %v: the transaction was not atomic", tt.name, tl, err)
				}
				return rerr
			})
			if tt.want == nil {
				update(t, s, func(tx pager.Tx) error { return tx.PutIncident(incident("inc-1", "g", pager.StatusTriggered, t0)) })
			}
		}
		// After resolving, a new incident may open for the group.
		update(t, s, func(tx pager.Tx) error {
			if err := tx.PutIncident(incident("inc-1", "g", pager.StatusResolved, t0)); err != nil {
				return err
			}
			return tx.PutIncident(incident("inc-4", "g", pager.StatusTriggered, t0))
		})
		view(t, s, func(tx pager.ReadTx) error {
			st, err := tx.OpenIncident("g")
			mustEqual(t, "open", st.ID, "inc-4")
			return err
		})
		// Reopening the resolved one now conflicts.
		err := s.Update(func(tx pager.Tx) error { return tx.PutIncident(incident("inc-1", "g", pager.StatusTriggered, t0)) })
		if !errors.Is(err, pager.ErrConflict) {
			t.Errorf("reopen: %v, want ErrConflict", err)
		}
	}},
	{"rollback leaves nothing", func(t *testing.T, s pager.Store) {
		update(t, s, func(tx pager.Tx) error {
			_, err := tx.AddDelivery(delivery("old", "inc-0", pager.DeliveryPending, t0))
			return err
		})
		err := s.Update(func(tx pager.Tx) error {
			if _, err := tx.NextID("incident"); err != nil {
				return err
			}
			st := incident("inc-1", "g", pager.StatusTriggered, t0)
			if err := tx.PutIncident(st); err != nil {
				return err
			}
			// Read your own writes inside the transaction.
			if got, err := tx.Incident("inc-1"); err != nil || got.ID != "inc-1" {
				t.Errorf("read own write: %v %v", got.ID, err)
			}
			if err := tx.AppendTimeline(entry("inc-1", 1, pager.EntryOpened)); err != nil {
				return err
			}
			if _, err := tx.AddDelivery(delivery("k1", "inc-1", pager.DeliveryPending, t0)); err != nil {
				return err
			}
			if err := tx.UpdateDelivery(delivery("old", "inc-0", pager.DeliverySent, t0)); err != nil {
				return err
			}
			if err := tx.PutSilence(pager.Silence{ID: "s1", Matchers: []string{`a="b"`}}); err != nil {
				return err
			}
			return errBoom
		})
		if !errors.Is(err, errBoom) {
			t.Fatalf("Update: %v, want fn's error", err)
		}
		view(t, s, func(tx pager.ReadTx) error {
			sts, _ := tx.Incidents(pager.IncidentFilter{})
			tl, _ := tx.Timeline("inc-1")
			ds, _ := tx.Deliveries(pager.DeliveryFilter{})
			sils, _ := tx.Silences()
			mustEqual(t, "incidents", sts, nil)
			mustEqual(t, "timeline", tl, nil)
			mustEqual(t, "deliveries", ds, []pager.Delivery{delivery("old", "inc-0", pager.DeliveryPending, t0)})
			mustEqual(t, "silences", sils, nil)
			return nil
		})
		update(t, s, func(tx pager.Tx) error {
			n, err := tx.NextID("incident")
			mustEqual(t, "next id after rollback", n, int64(1))
			return err
		})
	}},
	{"incident filters and order", func(t *testing.T, s pager.Store) {
		update(t, s, func(tx pager.Tx) error {
			var errs []error
			add := func(id, group string, status pager.Status, created time.Time, route string) {
				st := incident(id, group, status, created)
				st.Route = route
				errs = append(errs, tx.PutIncident(st))
			}
			add("inc-1", "a", pager.StatusResolved, t0, "pages")
			add("inc-2", "b", pager.StatusTriggered, t0.Add(time.Minute), "pages")
			add("inc-3", "c", pager.StatusAcknowledged, t0.Add(time.Minute), "tickets") // same time: ID desc
			add("inc-4", "d", pager.StatusTriggered, t0.Add(-time.Hour), "tickets")
			add("inc-10", "e", pager.StatusTriggered, t0.Add(time.Minute+time.Nanosecond), "pages")
			return errors.Join(errs...)
		})
		open := []pager.Status{pager.StatusTriggered, pager.StatusAcknowledged}
		tests := []struct {
			name string
			f    pager.IncidentFilter
			want []string
		}{
			{"all", pager.IncidentFilter{}, []string{"inc-10", "inc-3", "inc-2", "inc-1", "inc-4"}},
			{"open", pager.IncidentFilter{Statuses: open}, []string{"inc-10", "inc-3", "inc-2", "inc-4"}},
			{"resolved", pager.IncidentFilter{Statuses: []pager.Status{pager.StatusResolved}}, []string{"inc-1"}},
			{"route", pager.IncidentFilter{Route: "tickets"}, []string{"inc-3", "inc-4"}},
			{"since inclusive", pager.IncidentFilter{Since: t0.Add(time.Minute)}, []string{"inc-10", "inc-3", "inc-2"}},
			{"since ns", pager.IncidentFilter{Since: t0.Add(time.Minute + 1)}, []string{"inc-10"}},
			{"limit", pager.IncidentFilter{Limit: 2}, []string{"inc-10", "inc-3"}},
			{"all filters", pager.IncidentFilter{Statuses: open, Route: "pages", Since: t0, Limit: 1}, []string{"inc-10"}},
			{"nothing", pager.IncidentFilter{Route: "nope"}, nil},
			{"non-utc since", pager.IncidentFilter{Since: t0.Add(time.Minute).In(time.FixedZone("x", 3600))}, []string{"inc-10", "inc-3", "inc-2"}},
		}
		for _, tt := range tests {
			view(t, s, func(tx pager.ReadTx) error {
				sts, err := tx.Incidents(tt.f)
				mustEqual(t, tt.name, ids(sts), tt.want)
				return err
			})
		}
	}},
	{"incidents with alerts in outline", func(t *testing.T, s pager.Store) {
		alert := func(fp, job string) pager.IncidentAlert {
			return pager.IncidentAlert{Fingerprint: fp, Alert: pager.Alert{Labels: map[string]string{"job": job, "instance": fp},
				Annotations: map[string]string{"summary": "s"}, StartsAt: t0}}
		}
		st := incident("inc-1", "a", pager.StatusTriggered, t0)
		st.Alerts = []pager.IncidentAlert{alert("fp1", "b"), alert("fp2", "a"), alert("fp3", "b")}
		update(t, s, func(tx pager.Tx) error { return tx.PutIncident(st) })
		view(t, s, func(tx pager.ReadTx) error {
			full, err := tx.Incidents(pager.IncidentFilter{})
			none, err2 := tx.Incidents(pager.IncidentFilter{OutlineAlerts: true})
			jobs, err3 := tx.Incidents(pager.IncidentFilter{OutlineAlerts: true, OutlineLabels: []string{"job"}})
			if err := errors.Join(err, err2, err3); err != nil || len(full) != 1 || len(none) != 1 || len(jobs) != 1 {
				t.Fatalf("reads: %d, %d, %d incidents, %v", len(full), len(none), len(jobs), err)
			}
			mustEqual(t, "full alerts", len(full[0].Alerts), 3)
			mustEqual(t, "no alerts", none[0].Alerts, []pager.IncidentAlert(nil))
			var got []string
			for _, a := range jobs[0].Alerts {
				mustEqual(t, "outline alert", a, pager.IncidentAlert{Alert: pager.Alert{Labels: map[string]string{"job": a.Labels["job"]}}})
				got = append(got, a.Labels["job"])
			}
			slices.Sort(got)
			mustEqual(t, "outlined jobs", got, []string{"a", "b"})
			// The rest of the incident is read as it is.
			full[0].Alerts, jobs[0].Alerts = nil, nil
			mustEqual(t, "outlined incident", none[0], full[0])
			mustEqual(t, "labelled outline incident", jobs[0], full[0])
			return nil
		})
	}},
	{"timeline", func(t *testing.T, s pager.Store) {
		a1, a2, b1 := entry("a", 1, pager.EntryOpened), entry("a", 2, pager.EntryNote), entry("b", 1, pager.EntryOpened)
		update(t, s, func(tx pager.Tx) error { return tx.AppendTimeline(a1, b1) })
		update(t, s, func(tx pager.Tx) error { return tx.AppendTimeline() })
		update(t, s, func(tx pager.Tx) error { return tx.AppendTimeline(a2) })
		view(t, s, func(tx pager.ReadTx) error {
			ta, err := tx.Timeline("a")
			mustEqual(t, "a", ta, []pager.TimelineEntry{a1, a2})
			tb, err2 := tx.Timeline("b")
			mustEqual(t, "b", tb, []pager.TimelineEntry{b1})
			return errors.Join(err, err2)
		})
	}},
	{"add deliveries at once", func(t *testing.T, s pager.Store) {
		// More than one multi-row statement's worth, with a key that
		// exists and one given twice: the same as one AddDelivery each.
		update(t, s, func(tx pager.Tx) error {
			_, err := tx.AddDelivery(delivery("k007", "inc-0", pager.DeliveryPending, t0))
			return err
		})
		var ds []pager.Delivery
		var want []bool
		for i := range 300 {
			ds = append(ds, delivery(fmt.Sprintf("k%03d", i), "inc-1", pager.DeliveryPending, t0.Add(time.Duration(i))))
			want = append(want, i != 7)
		}
		dup := ds[42]
		dup.User = "mallory"
		ds, want = append(ds, dup), append(want, false)
		var got []bool
		update(t, s, func(tx pager.Tx) error {
			var err error
			got, err = addAll(tx, ds)
			return err
		})
		mustEqual(t, "added", got, want)
		view(t, s, func(tx pager.ReadTx) error {
			stored, err := tx.Deliveries(pager.DeliveryFilter{IncidentID: "inc-1"})
			mustEqual(t, "stored", stored, append(slices.Clone(ds[:7]), ds[8:300]...))
			return err
		})
	}},
	{"update deliveries at once", func(t *testing.T, s pager.Store) {
		var ds []pager.Delivery
		for i := range 300 {
			ds = append(ds, delivery(fmt.Sprintf("k%03d", i), "inc-1", pager.DeliveryPending, t0.Add(time.Duration(i))))
		}
		update(t, s, func(tx pager.Tx) error { _, err := addAll(tx, ds); return err })
		want := slices.Clone(ds)
		upd := make([]pager.Delivery, 0, len(ds)+1)
		for i := range want {
			want[i].Status, want[i].Attempts, want[i].DoneAt = pager.DeliverySent, 1, t0.Add(time.Minute)
			upd = append(upd, want[i])
		}
		// A key given twice: its last delivery is the one kept.
		first := want[9]
		first.Error = "first"
		want[9].Status, want[9].Error = pager.DeliveryFailed, "second"
		upd = append(upd[:9], append([]pager.Delivery{first}, upd[9:]...)...)
		upd[10] = want[9]
		update(t, s, func(tx pager.Tx) error { return updAll(tx, upd) })
		// An unknown key fails the whole transaction.
		bad := append(slices.Clone(upd[:5]), delivery("nope", "inc-1", pager.DeliveryFailed, t0))
		bad[0].Error = "must not be stored"
		if err := s.Update(func(tx pager.Tx) error { return updAll(tx, bad) }); !errors.Is(err, pager.ErrNotFound) {
			t.Errorf("update with an unknown key: %v, want ErrNotFound", err)
		}
		view(t, s, func(tx pager.ReadTx) error {
			stored, err := tx.Deliveries(pager.DeliveryFilter{})
			mustEqual(t, "stored", stored, want)
			return err
		})
	}},
	{"deliveries", func(t *testing.T, s pager.Store) {
		d1 := delivery("inc-1/b", "inc-1", pager.DeliveryPending, t0)
		d2 := delivery("inc-1/a", "inc-1", pager.DeliveryPending, t0) // same time: key order
		d3 := delivery("inc-2/a", "inc-2", pager.DeliveryPending, t0.Add(-time.Second))
		update(t, s, func(tx pager.Tx) error {
			for _, d := range []pager.Delivery{d1, d2, d3} {
				if added, err := tx.AddDelivery(d); err != nil || !added {
					t.Errorf("AddDelivery(%s) = %v, %v", d.Key, added, err)
				}
			}
			// The idempotency key dedupes: the first delivery stays.
			dup := d1
			dup.User = "mallory"
			if added, err := tx.AddDelivery(dup); err != nil || added {
				t.Errorf("AddDelivery(dup) = %v, %v", added, err)
			}
			return nil
		})
		sent := d2
		sent.Status, sent.Attempts, sent.DoneAt, sent.Error = pager.DeliverySent, 2, t0.Add(time.Second), "x"
		update(t, s, func(tx pager.Tx) error { return tx.UpdateDelivery(sent) })
		if err := s.Update(func(tx pager.Tx) error { return tx.UpdateDelivery(delivery("nope", "", "", t0)) }); !errors.Is(err, pager.ErrNotFound) {
			t.Errorf("UpdateDelivery(unknown): %v, want ErrNotFound", err)
		}
		tests := []struct {
			f    pager.DeliveryFilter
			want []pager.Delivery
		}{
			{pager.DeliveryFilter{}, []pager.Delivery{d3, sent, d1}},
			{pager.DeliveryFilter{IncidentID: "inc-1"}, []pager.Delivery{sent, d1}},
			{pager.DeliveryFilter{Status: pager.DeliveryPending}, []pager.Delivery{d3, d1}},
			{pager.DeliveryFilter{IncidentID: "inc-1", Status: pager.DeliverySent}, []pager.Delivery{sent}},
			{pager.DeliveryFilter{Status: pager.DeliveryFailed}, nil},
		}
		for _, tt := range tests {
			view(t, s, func(tx pager.ReadTx) error {
				ds, err := tx.Deliveries(tt.f)
				mustEqual(t, fmt.Sprintf("deliveries %+v", tt.f), ds, tt.want)
				return err
			})
		}
	}},
	{"silences", func(t *testing.T, s pager.Store) {
		s2 := pager.Silence{ID: "sil-2", Matchers: []string{`a="b"`}, StartsAt: t0, EndsAt: t0.Add(time.Hour), CreatedBy: "alice", Comment: "c"}
		s1 := pager.Silence{ID: "sil-1", Matchers: []string{`x=~"y"`, `z!="w"`}, StartsAt: t0.Add(-2 * time.Hour), EndsAt: t0.Add(-time.Hour)}
		update(t, s, func(tx pager.Tx) error { return errors.Join(tx.PutSilence(s2), tx.PutSilence(s1)) })
		s2.EndsAt = t0 // expire: replace by ID
		update(t, s, func(tx pager.Tx) error { return tx.PutSilence(s2) })
		view(t, s, func(tx pager.ReadTx) error {
			sils, err := tx.Silences()
			mustEqual(t, "silences", sils, []pager.Silence{s1, s2})
			return err
		})
	}},
	{"copy semantics", func(t *testing.T, s pager.Store) {
		st := incident("inc-1", "g", pager.StatusTriggered, t0)
		want := st.Clone()
		sil := pager.Silence{ID: "s", Matchers: []string{`a="b"`}}
		update(t, s, func(tx pager.Tx) error { return errors.Join(tx.PutIncident(st), tx.PutSilence(sil)) })
		// Mutating what was passed in does not reach the store…
		st.Alerts[0].Labels["alertname"] = "changed"
		st.Channels[0] = "changed"
		st.Planned[0].User = "changed"
		st.GroupLabels["x"] = "y"
		sil.Matchers[0] = "changed"
		// …nor does mutating what came out.
		view(t, s, func(tx pager.ReadTx) error {
			got, err := tx.Incident("inc-1")
			got.Alerts[0].Annotations["summary"] = "changed"
			got.Channels[0] = "changed"
			got.GroupLabels["alertname"] = "changed"
			return err
		})
		view(t, s, func(tx pager.ReadTx) error {
			got, err := tx.Incident("inc-1")
			mustEqual(t, "incident", got, want)
			sils, err2 := tx.Silences()
			mustEqual(t, "matchers", sils[0].Matchers, []string{`a="b"`})
			return errors.Join(err, err2)
		})
	}},
	{"empty and nil collections", func(t *testing.T, s pager.Store) {
		st := pager.IncidentState{ID: "inc-1", Status: pager.StatusResolved, Channels: []string{}, GroupLabels: map[string]string{},
			Alerts: []pager.IncidentAlert{{Fingerprint: "f", Alert: pager.Alert{Labels: map[string]string{}}}}}
		update(t, s, func(tx pager.Tx) error { return tx.PutIncident(st) })
		view(t, s, func(tx pager.ReadTx) error {
			got, err := tx.Incident("inc-1")
			mustEqual(t, "incident", got, st)
			return err
		})
	}},
	{"isolation", func(t *testing.T, s pager.Store) {
		// A View running while an Update is half-way sees all of it or
		// none of it (MemStore makes the View wait; SQLite shows the
		// snapshot before the Update).
		inside, release := make(chan struct{}), make(chan struct{})
		done := make(chan error, 1)
		go func() {
			done <- s.Update(func(tx pager.Tx) error {
				if err := tx.PutIncident(incident("inc-1", "g", pager.StatusTriggered, t0)); err != nil {
					return err
				}
				close(inside)
				<-release
				return tx.AppendTimeline(entry("inc-1", 1, pager.EntryOpened))
			})
		}()
		<-inside
		seen := make(chan [2]int, 1)
		go func() {
			_ = s.View(func(tx pager.ReadTx) error {
				sts, _ := tx.Incidents(pager.IncidentFilter{})
				tl, _ := tx.Timeline("inc-1")
				seen <- [2]int{len(sts), len(tl)}
				return nil
			})
		}()
		var got [2]int
		select {
		case got = <-seen: // did not block: the snapshot before the Update
			close(release)
		case <-time.After(100 * time.Millisecond): // blocked (MemStore) or slow
			close(release)
			got = <-seen
		}
		if got != [2]int{0, 0} && got != [2]int{1, 1} {
			t.Errorf("view saw %d incidents and %d timeline entries: part of an update", got[0], got[1])
		}
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}},
}
