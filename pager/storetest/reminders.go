package storetest

import (
	"testing"
	"testing/synctest"
	"time"

	"github.com/watchdog-sre/watchdog/pager"
)

// ActionItemReminders: the owners of overdue open action items are
// reminded through a quiet method only (alice by push, never by her sms
// or voice steps; carol by e-mail; erin, whose pages call and text, by
// e-mail), in their waking hours, once per
// cadence (the default 24h); a closed item stops its reminders; and a
// restart over the same store neither sends a reminder again nor forgets
// the next one.
func ActionItemReminders(t *testing.T, open Open, reopen Reopen) {
	synctest.Test(t, func(t *testing.T) {
		now := clockAt(t, "10:00")
		day := func(d int, hhmm string) time.Time { return at(t, hhmm).AddDate(0, 0, d) }
		store := open(t)
		h1 := newHarness(t, store, now)
		h1.start()
		if err := h1.p.Receive(page("HighErrors", "c1")); err != nil {
			t.Fatal(err)
		}
		bob := pager.Actor{User: "bob", Via: pager.ViaConsole}
		if err := h1.p.Resolve("inc-1", bob); err != nil {
			t.Fatal(err)
		}
		if _, err := h1.p.CreatePostmortem("inc-1", pager.PostmortemSections{Summary: "s"}, bob); err != nil {
			t.Fatal(err)
		}
		late, err := h1.p.AddActionItem("inc-1", pager.ActionItem{Title: "Add an alert", Owner: "alice", Due: day(-3, "00:00")}, bob)
		if err != nil {
			t.Fatal(err)
		}
		for _, it := range []pager.ActionItem{
			{Title: "Write the runbook", Owner: "carol", Due: day(0, "00:00")}, // overdue from tomorrow 00:00
			{Title: "Fix the dashboard", Owner: "erin", Due: day(-1, "00:00")}, // her pages call: reminded by e-mail
			{Title: "Someday", Owner: "dave"},                                  // no due date
			{Title: "Next week", Owner: "dave", Due: day(7, "00:00")},
		} {
			if _, err := h1.p.AddActionItem("inc-1", it, bob); err != nil {
				t.Fatal(err)
			}
		}
		h1.advance("10:01")
		h1.rec.take() // the page and the resolve
		advanceTo := func(h *harness, t2 time.Time) {
			<-time.After(t2.Sub(h.now()))
			synctest.Wait()
		}
		advanceTo(h1, day(0, "11:01")) // the loop reads new items within the hour
		h1.expect("11:00 push trigger inc-1 alice@alice-topic", "11:00 email trigger inc-1 erin@erin@example.com")
		advanceTo(h1, day(1, "07:59"))
		h1.expect()                    // carol's item is overdue since 00:00, but she sleeps until 08:00
		advanceTo(h1, day(1, "11:01")) // a cadence after alice's first
		h1.expect("08:00 email trigger inc-1 carol@carol@example.com", "11:00 push trigger inc-1 alice@alice-topic",
			"11:00 email trigger inc-1 erin@erin@example.com")
		if _, err := h1.p.SetActionItemStatus("inc-1", late.ID, pager.ActionDone, pager.Actor{User: "alice"}); err != nil {
			t.Fatal(err)
		}
		advanceTo(h1, day(1, "12:00"))
		h1.stop()

		h2 := newHarness(t, reopen(t, store), now)
		h2.start()
		advanceTo(h2, day(2, "07:59"))
		h2.expect() // nothing again after the restart, nothing for the closed item
		advanceTo(h2, day(2, "11:01"))
		h2.expect("08:00 email trigger inc-1 carol@carol@example.com", "11:00 email trigger inc-1 erin@erin@example.com")
		h2.stop()
	})
}
