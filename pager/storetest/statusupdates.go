package storetest

import (
	"errors"
	"testing"
	"testing/synctest"

	"github.com/watchdog-sre/watchdog/pager"
)

// StatusUpdates: public updates posted on an incident are stored with
// their author and survive a reopen, newest first, per incident and
// across all; bad ones and ones on unknown incidents are refused.
func StatusUpdates(t *testing.T, open Open, reopen Reopen) {
	synctest.Test(t, func(t *testing.T) {
		now := clockAt(t, "10:00")
		store := open(t)
		h1 := newHarness(t, store, now)
		h1.start()
		if err := h1.p.Receive(page("HighErrors", "c1"), page("DiskFull", "c2")); err != nil {
			t.Fatal(err)
		}
		alice := pager.Actor{User: "alice", Via: pager.ViaConsole}
		post := func(id, status, text string) error {
			_, err := h1.p.PostStatusUpdate(id, alice, status, text)
			return err
		}
		if err := post("inc-1", pager.UpdateInvestigating, "Checkout errors"); err != nil {
			t.Fatal(err)
		}
		h1.advance("10:05")
		if err := post("inc-2", pager.UpdateIdentified, "Disk full"); err != nil {
			t.Fatal(err)
		}
		h1.advance("10:09")
		if err := post("inc-1", pager.UpdateMonitoring, "  Fix deployed\n"); err != nil {
			t.Fatal(err)
		}
		for _, bad := range []struct{ id, status, text string }{
			{"inc-1", "fixed", "x"}, {"inc-1", pager.UpdateResolved, " \n"},
			{"inc-1", pager.UpdateResolved, string(make([]byte, pager.MaxStatusUpdateText+1))},
			{"inc-1", pager.UpdateResolved, "\xff"},
		} {
			if err := post(bad.id, bad.status, bad.text); !errors.Is(err, pager.ErrBadStatusUpdate) {
				t.Errorf("post(%q, %.20q) = %v, want ErrBadStatusUpdate", bad.status, bad.text, err)
			}
		}
		if err := post("inc-99", pager.UpdateResolved, "x"); !errors.Is(err, pager.ErrNotFound) {
			t.Errorf("post on unknown incident = %v, want ErrNotFound", err)
		}
		h1.stop()

		h2 := newHarness(t, reopen(t, store), now)
		one, err := h2.p.StatusUpdates("inc-1", 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(one) != 2 || one[0].Text != "Fix deployed" || one[0].Status != pager.UpdateMonitoring ||
			one[1].Text != "Checkout errors" || one[0].By != alice || !one[0].At.Equal(at(t, "10:09")) {
			t.Errorf("inc-1 updates: %+v", one)
		}
		all, err := h2.p.StatusUpdates("", 2)
		if err != nil {
			t.Fatal(err)
		}
		if len(all) != 2 || all[0].ID != one[0].ID || all[1].IncidentID != "inc-2" {
			t.Errorf("newest two: %+v", all)
		}
	})
}
