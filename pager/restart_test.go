package pager

import (
	"testing"
	"testing/synctest"
)

// TestRestart stops the pager mid-escalation and starts a new one over the
// same store: the remaining steps go out, on time or caught up after
// downtime, and nothing already sent is sent again.
func TestRestart(t *testing.T) {
	tests := []struct {
		name    string
		restart string // when the second pager starts
		want    []string
	}{
		{"immediately", "10:03", []string{"10:05 voice trigger inc-1 alice@+4915100000001", "10:15 email trigger inc-1 carol@carol@example.com"}},
		{"after downtime", "10:20", []string{"10:20 voice trigger inc-1 alice@+4915100000001", "10:20 email trigger inc-1 carol@carol@example.com"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				store := NewMemStore()
				h1 := newHarness(t, store, "10:00")
				h1.start()
				if err := h1.p.Receive(page("HighErrors", "c1")); err != nil {
					t.Fatal(err)
				}
				h1.advance("10:03")
				h1.expect("10:00 ops-webhook trigger inc-1", "10:00 push trigger inc-1 alice@alice-topic",
					"10:02 sms trigger inc-1 alice@+4915100000001")
				h1.stop()

				h2 := newHarness(t, store, "10:03")
				h2.now = h1.now
				h2.rec.now = h1.now
				h2.p.now = h1.now
				h2.advance(tt.restart)
				h2.start()
				h2.advance("10:16")
				h2.expect(tt.want...)
				h2.stop()

				ds, err := h2.p.Deliveries("inc-1")
				if err != nil {
					t.Fatal(err)
				}
				if len(ds) != 5 {
					t.Errorf("%d deliveries, want 5", len(ds))
				}
				for _, d := range ds {
					if d.Status != DeliverySent {
						t.Errorf("%s: %s", d.Key, d.Status)
					}
				}
			})
		})
	}
}

// TestRestartPendingOutbox: deliveries committed but not sent when the
// pager stops (here: Receive before Run ever started) go out once when Run
// starts.
func TestRestartPendingOutbox(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, NewMemStore(), "10:00")
		if err := h.p.Receive(page("HighErrors", "c1")); err != nil {
			t.Fatal(err)
		}
		h.advance("10:01")
		h.expect()
		h.start()
		h.expect("10:01 ops-webhook trigger inc-1", "10:01 push trigger inc-1 alice@alice-topic")
		h.advance("10:02")
		h.expect("10:02 sms trigger inc-1 alice@+4915100000001")
		h.stop()
	})
}
