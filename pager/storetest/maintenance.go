package storetest

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/watchdog-sre/watchdog/pager"
)

// Maintenance: a window scheduled ahead silences matching alerts during
// it only (through an ordinary pager silence), is kept across a reopen,
// and bad windows are refused.
func Maintenance(t *testing.T, open Open, reopen Reopen) {
	synctest.Test(t, func(t *testing.T) {
		now := clockAt(t, "10:00")
		store := open(t)
		h1 := newHarness(t, store, now)
		h1.start()
		bob := pager.Actor{User: "bob", Via: pager.ViaAPI}
		m, err := h1.p.ScheduleMaintenance(pager.Maintenance{Title: "Database upgrade", Text: "Checkout may be slow.",
			Components: []string{"Checkout"}, Matchers: []string{`cluster="c1"`}, StartsAt: at(t, "10:05"), EndsAt: at(t, "10:30")}, bob)
		if err != nil {
			t.Fatal(err)
		}
		for _, bad := range []pager.Maintenance{
			{Title: "", Components: []string{"x"}, Matchers: []string{`a="b"`}, StartsAt: at(t, "11:00"), EndsAt: at(t, "12:00")},
			{Title: "t", Matchers: []string{`a="b"`}, StartsAt: at(t, "11:00"), EndsAt: at(t, "12:00")},
			{Title: "t", Components: []string{"x"}, Matchers: []string{`a="b"`}, StartsAt: at(t, "12:00"), EndsAt: at(t, "11:00")},
		} {
			if _, err := h1.p.ScheduleMaintenance(bad, bob); !errors.Is(err, pager.ErrBadMaintenance) {
				t.Errorf("ScheduleMaintenance(%+v) = %v, want ErrBadMaintenance", bad, err)
			}
		}
		if _, err := h1.p.ScheduleMaintenance(pager.Maintenance{Title: "all", Components: []string{"x"}, Matchers: []string{`a=~".*"`},
			StartsAt: at(t, "11:00"), EndsAt: at(t, "12:00")}, bob); !errors.Is(err, pager.ErrInvalidSilence) {
			t.Errorf("a window silencing everything: %v, want ErrInvalidSilence", err)
		}
		h1.advance("10:10")
		if err := h1.p.Receive(page("HighErrors", "c1")); err != nil {
			t.Fatal(err)
		}
		h1.advance("10:29")
		h1.expect() // inside the window: nobody paged
		h1.advance("10:32")
		if got := h1.rec.take(); len(got) == 0 {
			t.Error("nobody paged after the window ended")
		}
		h1.stop()

		h2 := newHarness(t, reopen(t, store), now)
		list, err := h2.p.Maintenances()
		if err != nil {
			t.Fatal(err)
		}
		if len(list) != 1 || list[0].ID != m.ID || list[0].Title != "Database upgrade" || list[0].By != bob ||
			!list[0].StartsAt.Equal(at(t, "10:05")) || list[0].SilenceID == "" {
			t.Fatalf("stored windows: %+v", list)
		}
		sils, err := h2.p.Silences()
		if err != nil {
			t.Fatal(err)
		}
		if len(sils) != 1 || sils[0].ID != m.SilenceID || !sils[0].EndsAt.Equal(at(t, "10:30")) {
			t.Errorf("silences: %+v", sils)
		}
	})
}

// MaintenanceEnd: a running window ended early expires its silence, so
// a matching alert pages at once; an upcoming window cancelled never
// silences; both stay recorded as ended across a reopen; a window over
// already cannot be ended; out-of-bounds windows are refused.
func MaintenanceEnd(t *testing.T, open Open, reopen Reopen) {
	synctest.Test(t, func(t *testing.T) {
		now := clockAt(t, "10:00")
		store := open(t)
		h1 := newHarness(t, store, now)
		h1.start()
		bob := pager.Actor{User: "bob", Via: pager.ViaConsole}
		day := 24 * time.Hour
		for _, bad := range []struct {
			name       string
			start, end time.Time
			title      string
			text       string
		}{
			{"too long", at(t, "11:00"), at(t, "11:00").Add(pager.MaxMaintenanceWindow + time.Minute), "t", ""},
			{"in the past", at(t, "08:00"), at(t, "09:00"), "t", ""},
			{"too far ahead", at(t, "11:00").Add(400 * day), at(t, "12:00").Add(400 * day), "t", ""},
			{"title too long", at(t, "11:00"), at(t, "12:00"), strings.Repeat("x", pager.MaxMaintenanceTitle+1), ""},
			{"text too long", at(t, "11:00"), at(t, "12:00"), "t", strings.Repeat("x", pager.MaxMaintenanceText+1)},
		} {
			_, err := h1.p.ScheduleMaintenance(pager.Maintenance{Title: bad.title, Text: bad.text, Components: []string{"Checkout"},
				Matchers: []string{`cluster="c1"`}, StartsAt: bad.start, EndsAt: bad.end}, bob)
			if !errors.Is(err, pager.ErrBadMaintenance) {
				t.Errorf("%s: %v, want ErrBadMaintenance", bad.name, err)
			}
		}
		running, err := h1.p.ScheduleMaintenance(pager.Maintenance{Title: "Database upgrade", Components: []string{"Checkout"},
			Matchers: []string{`cluster="c1"`}, StartsAt: at(t, "10:00"), EndsAt: at(t, "12:00")}, bob)
		if err != nil {
			t.Fatal(err)
		}
		upcoming, err := h1.p.ScheduleMaintenance(pager.Maintenance{Title: "Network work", Components: []string{"Search"},
			Matchers: []string{`cluster="c2"`}, StartsAt: at(t, "10:30"), EndsAt: at(t, "11:30")}, bob)
		if err != nil {
			t.Fatal(err)
		}
		if err := h1.p.Receive(page("HighErrors", "c1")); err != nil {
			t.Fatal(err)
		}
		h1.advance("10:05")
		h1.expect() // silenced by the running window
		if _, err := h1.p.EndMaintenance(running.ID, bob); err != nil {
			t.Fatal(err)
		}
		if _, err := h1.p.EndMaintenance(upcoming.ID, bob); err != nil {
			t.Fatal(err)
		}
		h1.advance("10:06")
		h1.expect("10:05 ops-webhook trigger inc-1", "10:05 push trigger inc-1 alice@alice-topic")
		if _, err := h1.p.EndMaintenance(running.ID, bob); !errors.Is(err, pager.ErrBadMaintenance) {
			t.Errorf("ending a window twice: %v, want ErrBadMaintenance", err)
		}
		if _, err := h1.p.EndMaintenance("mw-404", bob); !errors.Is(err, pager.ErrNotFound) {
			t.Errorf("ending an unknown window: %v, want ErrNotFound", err)
		}
		h1.advance("10:40")
		if err := h1.p.Receive(page("DiskFull", "c2")); err != nil {
			t.Fatal(err)
		}
		h1.advance("10:41")
		if got := h1.rec.take(); !slices.Contains(got, "10:40 push trigger inc-2 alice@alice-topic") {
			t.Errorf("inside the cancelled window: sent %q, want alice paged", got)
		}
		h1.stop()

		h2 := newHarness(t, reopen(t, store), now)
		list, err := h2.p.Maintenances()
		if err != nil {
			t.Fatal(err)
		}
		phases := map[string]string{}
		for _, m := range list {
			phases[m.ID] = m.Phase(now())
		}
		if phases[running.ID] != pager.MaintenanceCompleted || phases[upcoming.ID] != pager.MaintenanceCancelled {
			t.Errorf("phases after reopen: %v", phases)
		}
		for _, m := range list {
			if m.ID == running.ID && (!m.EndsAt.Equal(at(t, "10:05")) || m.EndedBy != bob) {
				t.Errorf("ended window: %+v", m)
			}
		}
	})
}
