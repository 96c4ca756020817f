package storetest

import (
	"errors"
	"testing"
	"testing/synctest"

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
