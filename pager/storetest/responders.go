package storetest

import (
	"testing"
	"testing/synctest"

	"github.com/watchdog-sre/watchdog/pager"
)

// RestartResponders: alice acknowledges and asks dave to help; dave's push
// goes out, the pager restarts over the (reopened) store, dave's sms
// follows on time from the stored request, and dave's acknowledgement
// answers his request only: the incident stays acknowledged by alice.
func RestartResponders(t *testing.T, open Open, reopen Reopen) {
	synctest.Test(t, func(t *testing.T) {
		now := clockAt(t, "10:00")
		store := open(t)
		h1 := newHarness(t, store, now)
		h1.start()
		if err := h1.p.Receive(page("HighErrors", "c1")); err != nil {
			t.Fatal(err)
		}
		h1.advance("10:01")
		alice := pager.Actor{User: "alice", Via: pager.ViaConsole}
		if err := h1.p.Ack("inc-1", alice); err != nil {
			t.Fatal(err)
		}
		if err := h1.p.AddResponders("inc-1", alice, pager.ResponderRequest{Users: []string{"dave"}, Message: "db help"}); err != nil {
			t.Fatal(err)
		}
		h1.advance("10:03")
		h1.expect("10:00 ops-webhook trigger inc-1", "10:00 push trigger inc-1 alice@alice-topic",
			"10:01 ops-webhook acknowledge inc-1", "10:01 push trigger inc-1 dave@dave-topic")
		h1.stop()

		h1.advance("10:04")
		h2 := newHarness(t, reopen(t, store), now)
		h2.start()
		h2.advance("10:07")
		h2.expect("10:06 sms trigger inc-1 dave@+4915100000004")
		dave := pager.Actor{User: "dave", Via: pager.ViaSMS}
		if err := h2.p.Ack("inc-1", dave); err != nil {
			t.Fatal(err)
		}
		if err := h2.p.Ack("inc-1", dave); err == nil {
			t.Error("a second ack by dave was accepted")
		}
		h2.advance("10:20")
		h2.expect()
		h2.stop()

		st, tl, err := h2.p.Incident("inc-1")
		if err != nil {
			t.Fatal(err)
		}
		if st.Status != pager.StatusAcknowledged || st.AckedBy != "alice" {
			t.Errorf("incident %s by %q, want acknowledged by alice", st.Status, st.AckedBy)
		}
		if len(st.Responders) != 1 || st.Responders[0].Status != pager.ResponderAcknowledged || st.Responders[0].RequestedBy != "alice" {
			t.Errorf("responders: %+v", st.Responders)
		}
		var added, answered bool
		for _, e := range tl {
			added = added || e.Kind == pager.EntryResponderAdded && e.By == "alice" && e.Via == pager.ViaConsole && e.User == "dave"
			answered = answered || e.Kind == pager.EntryResponderAnswer && e.By == "dave" && e.Via == pager.ViaSMS
		}
		if !added || !answered {
			t.Errorf("timeline lacks the request (%v) or the answer (%v): %+v", added, answered, tl)
		}
	})
}
