package pager

import (
	"errors"
	"slices"
	"testing"
	"testing/synctest"
	"time"
)

// TestPagerAPIAdditions: Config, ErrBadSnooze, Message.Key and silence
// expiry through the cached silences.
func TestPagerAPIAdditions(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, NewMemStore(), "10:00")
		if h.p.Config() != h.c {
			t.Error("Config is not the config passed to New")
		}
		next := loadConfig(t, "basic.good.yaml")
		if err := h.p.Reload(next); err != nil {
			t.Fatal(err)
		}
		if h.p.Config() != next {
			t.Error("Config is not the reloaded config")
		}
		h.start()
		defer h.stop()

		id, err := h.p.CreateSilence(Silence{Matchers: []string{`alertname="DiskFull"`}, EndsAt: at(t, "11:00")})
		if err != nil {
			t.Fatal(err)
		}
		if err := h.p.Receive(page("DiskFull", "c3")); err != nil {
			t.Fatal(err)
		}
		h.advance("10:03")
		h.expect()
		if err := h.p.ExpireSilence(id); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		h.expect("10:03 ops-webhook trigger inc-1", "10:03 push trigger inc-1 alice@alice-topic")

		err = h.p.Snooze("inc-1", Actor{User: "alice"}, at(t, "10:03"))
		if !errors.Is(err, ErrBadSnooze) {
			t.Errorf("snooze to now: %v, want ErrBadSnooze", err)
		}
		if err := h.p.Snooze("inc-1", Actor{User: "alice"}, at(t, "10:30")); err != nil {
			t.Errorf("snooze: %v", err)
		}
		synctest.Wait()

		ds, err := h.p.Deliveries("inc-1")
		if err != nil {
			t.Fatal(err)
		}
		var want []string
		for _, d := range ds {
			want = append(want, d.Key)
		}
		h.rec.mu.Lock()
		got := slices.Clone(h.rec.keys)
		h.rec.mu.Unlock()
		slices.Sort(got)
		slices.Sort(want)
		if len(got) == 0 || !slices.Equal(got, want) {
			t.Errorf("message keys %q, want the delivery keys %q", got, want)
		}
	})
}

// TestPagerWake: with a clock Run's timers do not follow, Wake makes Run
// fire what is due at the new time.
func TestPagerWake(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, NewMemStore(), "10:00")
		var virt time.Time
		h.p.now = func() time.Time { return virt }
		h.p.o.Now = h.p.now
		h.rec.now = h.p.now
		virt = at(t, "10:00")
		h.start()
		defer h.stop()
		if err := h.p.Receive(page("HighErrors", "c1")); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		h.rec.take()
		virt = at(t, "10:02") // the sms step is due; the real clock has not moved
		synctest.Wait()
		h.expect()
		h.p.Wake()
		synctest.Wait()
		h.expect("10:02 sms trigger inc-1 alice@+4915100000001")
	})
}

// TestMemStoreRollback: a failing or panicking Update leaves no trace.
func TestMemStoreRollback(t *testing.T) {
	s := NewMemStore()
	t0 := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	st := IncidentState{ID: "inc-1", GroupKey: "g", Status: StatusTriggered, CreatedAt: t0}
	if err := s.Update(func(tx Tx) error {
		_, err := tx.NextID("incident")
		return errors.Join(err, tx.PutIncident(st), tx.AppendTimeline(TimelineEntry{IncidentID: "inc-1", Seq: 1}))
	}); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	change := func(tx Tx) {
		resolved := st
		resolved.Status = StatusResolved
		_, _ = tx.NextID("incident")
		_ = tx.PutIncident(resolved)
		acked := st
		acked.Status = StatusAcknowledged
		_ = tx.PutIncident(acked) // a second change: the first old value is the one restored
		_ = tx.PutIncident(IncidentState{ID: "inc-2", GroupKey: "g", Status: StatusTriggered, CreatedAt: t0})
		_ = tx.AppendTimeline(TimelineEntry{IncidentID: "inc-1", Seq: 2}, TimelineEntry{IncidentID: "inc-2", Seq: 1})
		_, _ = tx.AddDelivery(Delivery{Key: "k", IncidentID: "inc-2"})
		_ = tx.PutSilence(Silence{ID: "s"})
	}
	if err := s.Update(func(tx Tx) error { change(tx); return boom }); !errors.Is(err, boom) {
		t.Fatalf("update: %v", err)
	}
	func() {
		defer func() { _ = recover() }()
		_ = s.Update(func(tx Tx) error { change(tx); panic("boom") })
	}()
	err := s.View(func(tx ReadTx) error {
		open, err := tx.OpenIncident("g")
		if err != nil || open.ID != "inc-1" || open.Status != StatusTriggered {
			t.Errorf("open incident %q (%s), %v; want inc-1 (triggered)", open.ID, open.Status, err)
		}
		all, _ := tx.Incidents(IncidentFilter{})
		tl, _ := tx.Timeline("inc-1")
		tl2, _ := tx.Timeline("inc-2")
		ds, _ := tx.Deliveries(DeliveryFilter{})
		sils, _ := tx.Silences()
		if len(all) != 1 || len(tl) != 1 || len(tl2) != 0 || len(ds) != 0 || len(sils) != 0 {
			t.Errorf("after rollback: %d incidents, %d+%d entries, %d deliveries, %d silences", len(all), len(tl), len(tl2), len(ds), len(sils))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Update(func(tx Tx) error {
		n, err := tx.NextID("incident")
		if n != 2 {
			t.Errorf("next id %d after rollbacks, want 2", n)
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
}
