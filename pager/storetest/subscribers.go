package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/watchdog-sre/watchdog/pager"
	"github.com/watchdog-sre/watchdog/pager/channel"
)

// hookReceiver is a webhook subscriber's endpoint, called in-process (no
// network, so it runs inside a synctest bubble): it answers with the
// queued statuses (then 200) and keeps the bodies it accepted.
type hookReceiver struct {
	mu       sync.Mutex
	statuses []int
	got      []*http.Request
	bodies   [][]byte
}

func (h *hookReceiver) RoundTrip(r *http.Request) (*http.Response, error) {
	body, _ := io.ReadAll(r.Body)
	h.mu.Lock()
	defer h.mu.Unlock()
	code := http.StatusOK
	if len(h.statuses) > 0 {
		code, h.statuses = h.statuses[0], h.statuses[1:]
	}
	h.got, h.bodies = append(h.got, r), append(h.bodies, body)
	return &http.Response{StatusCode: code, Body: io.NopCloser(strings.NewReader("")), Header: http.Header{}, Request: r}, nil
}

func (h *hookReceiver) take() ([]*http.Request, [][]byte) {
	h.mu.Lock()
	defer h.mu.Unlock()
	g, b := h.got, h.bodies
	h.got, h.bodies = nil, nil
	return g, b
}

// Subscribers: the subscriber tables keep subscribers, events (added once
// per key), outbox messages (by NextAt, filtered), marks; deleting a
// subscriber removes its messages; pruning keeps pending messages; a
// failed transaction leaves nothing. And a webhook message queued and
// failed before a restart is delivered, signed, after it.
func Subscribers(t *testing.T, open Open, reopen Reopen) {
	t.Run("tables", func(t *testing.T) { subscriberTables(t, open) })
	t.Run("restart", func(t *testing.T) { subscriberRestart(t, open, reopen) })
}

func subscriberTables(t *testing.T, open Open) {
	store := open(t)
	t0 := at(t, "10:00")
	s1 := pager.Subscriber{ID: "sub_a", Kind: pager.SubscriberWebhook, Target: "https://x.example/h", Secret: "s3cret-s3cret-s3cret", Confirmed: true, CreatedAt: t0}
	s2 := pager.Subscriber{ID: "sub_b", Kind: pager.SubscriberEmail, Target: "bob@example.com", Secret: "u", ConfirmToken: "c", CreatedAt: t0}
	ev := pager.SubscriberEvent{Key: "update:su-1", Type: pager.SubEventStatusUpdate, At: t0, Status: "investigating", Text: "Slow checkout",
		Components: []string{"Checkout"}}
	note := func(id, sub string, status pager.DeliveryStatus, next string) pager.SubscriberNote {
		return pager.SubscriberNote{ID: id, SubscriberID: sub, EventKey: ev.Key, Status: status, NextAt: at(t, next), CreatedAt: t0}
	}
	err := store.Update(func(tx pager.Tx) error {
		for _, s := range []pager.Subscriber{s1, s2} {
			if err := tx.PutSubscriber(s); err != nil {
				return err
			}
		}
		if added, err := tx.AddSubscriberEvent(ev); err != nil || !added {
			t.Errorf("AddSubscriberEvent = %v, %v; want added", added, err)
		}
		if added, err := tx.AddSubscriberEvent(pager.SubscriberEvent{Key: ev.Key, Text: "other"}); err != nil || added {
			t.Errorf("AddSubscriberEvent again = %v, %v; want not added", added, err)
		}
		for _, n := range []pager.SubscriberNote{note("n3", "sub_a", pager.DeliveryPending, "10:30"), note("n1", "sub_a", pager.DeliveryPending, "10:10"),
			note("n2", "sub_b", pager.DeliveryPending, "10:10"), note("n4", "sub_a", pager.DeliverySent, "10:00")} {
			if err := tx.PutSubscriberNote(n); err != nil {
				return err
			}
		}
		return tx.PutSubscriberMark("update_seq", "7")
	})
	if err != nil {
		t.Fatal(err)
	}
	ids := func(f pager.SubscriberNoteFilter) string {
		var out []string
		_ = store.View(func(tx pager.ReadTx) error {
			list, err := tx.SubscriberNotes(f)
			if err != nil {
				t.Fatal(err)
			}
			for _, n := range list {
				out = append(out, n.ID)
			}
			return nil
		})
		return strings.Join(out, ",")
	}
	for _, tt := range []struct {
		name string
		f    pager.SubscriberNoteFilter
		want string
	}{
		{"all", pager.SubscriberNoteFilter{}, "n4,n1,n2,n3"},
		{"pending due", pager.SubscriberNoteFilter{Status: pager.DeliveryPending, DueBy: at(t, "10:10")}, "n1,n2"},
		{"limit", pager.SubscriberNoteFilter{Status: pager.DeliveryPending, Limit: 1}, "n1"},
		{"subscriber", pager.SubscriberNoteFilter{SubscriberID: "sub_b"}, "n2"},
	} {
		if got := ids(tt.f); got != tt.want {
			t.Errorf("%s: notes %s, want %s", tt.name, got, tt.want)
		}
	}
	_ = store.View(func(tx pager.ReadTx) error {
		if got, err := tx.SubscriberEvent(ev.Key); err != nil || got.Text != "Slow checkout" || !got.At.Equal(t0) || len(got.Components) != 1 {
			t.Errorf("SubscriberEvent = %+v, %v", got, err)
		}
		if _, err := tx.SubscriberEvent("nope"); !errors.Is(err, pager.ErrNotFound) {
			t.Errorf("unknown event: %v, want ErrNotFound", err)
		}
		if got, err := tx.Subscriber("sub_b"); err != nil || got != s2 {
			t.Errorf("Subscriber = %+v, %v; want %+v", got, err, s2)
		}
		if list, err := tx.Subscribers(); err != nil || len(list) != 2 || list[0].ID != "sub_a" {
			t.Errorf("Subscribers = %+v, %v", list, err)
		}
		if v, err := tx.SubscriberMark("update_seq"); v != "7" || err != nil {
			t.Errorf("mark = %q, %v", v, err)
		}
		if _, err := tx.SubscriberMark("nope"); !errors.Is(err, pager.ErrNotFound) {
			t.Errorf("unknown mark: %v, want ErrNotFound", err)
		}
		return nil
	})
	// A failed transaction leaves nothing behind.
	boom := errors.New("boom")
	if err := store.Update(func(tx pager.Tx) error {
		_ = tx.PutSubscriberMark("update_seq", "9")
		_ = tx.DeleteSubscriber("sub_a")
		_, _ = tx.AddSubscriberEvent(pager.SubscriberEvent{Key: "k2", At: t0})
		return boom
	}); !errors.Is(err, boom) {
		t.Fatalf("Update = %v", err)
	}
	if got := ids(pager.SubscriberNoteFilter{}); got != "n4,n1,n2,n3" {
		t.Errorf("after rollback: notes %s", got)
	}
	// Deleting a subscriber takes its messages; pruning keeps pending ones.
	err = store.Update(func(tx pager.Tx) error {
		if err := tx.DeleteSubscriber("sub_b"); err != nil {
			return err
		}
		if err := tx.DeleteSubscriber("sub_b"); !errors.Is(err, pager.ErrNotFound) {
			t.Errorf("second delete: %v, want ErrNotFound", err)
		}
		return tx.PruneSubscriberEvents(at(t, "11:00"))
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := ids(pager.SubscriberNoteFilter{}); got != "n1,n3" {
		t.Errorf("after delete and prune: notes %s, want n1,n3", got)
	}
	_ = store.View(func(tx pager.ReadTx) error {
		if _, err := tx.SubscriberEvent(ev.Key); !errors.Is(err, pager.ErrNotFound) {
			t.Errorf("pruned event: %v", err)
		}
		if v, _ := tx.SubscriberMark("update_seq"); v != "7" {
			t.Errorf("mark after rollback = %q, want 7", v)
		}
		return nil
	})
}

func subscriberRestart(t *testing.T, open Open, reopen Reopen) {
	synctest.Test(t, func(t *testing.T) {
		now := clockAt(t, "10:00")
		store := open(t)
		h1 := newHarness(t, store, now)
		hook := &hookReceiver{statuses: []int{http.StatusServiceUnavailable}}
		run := func(h *harness) (stop func()) {
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() {
				done <- h.p.RunSubscribers(ctx, pager.SubscriberRunOptions{HTTP: channel.HTTPOptions{Client: &http.Client{Transport: hook}}})
			}()
			synctest.Wait()
			return func() {
				cancel()
				if err := <-done; !errors.Is(err, context.Canceled) {
					t.Errorf("RunSubscribers: %v", err)
				}
			}
		}
		_, secret, err := h1.p.AddWebhookSubscriber("https://hooks.example/status", "", pager.Actor{User: "admin", Via: pager.ViaAPI})
		if err != nil {
			t.Fatal(err)
		}
		stop := run(h1) // first round: notes where things stand
		if err := h1.p.Receive(page("HighErrors", "c1")); err != nil {
			t.Fatal(err)
		}
		if _, err := h1.p.PostStatusUpdate("inc-1", pager.Actor{User: "alice", Via: pager.ViaConsole}, pager.UpdateInvestigating, "Checkout is slow"); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		if got, _ := hook.take(); len(got) != 1 {
			t.Fatalf("first attempt: %d requests, want 1", len(got))
		}
		stop() // the retry is pending in the store

		h2 := newHarness(t, reopen(t, store), now)
		stop = run(h2)
		defer stop()
		h2.advance("10:01") // past the 10s backoff
		reqs, bodies := hook.take()
		if len(reqs) != 1 {
			t.Fatalf("after restart: %d requests, want 1", len(reqs))
		}
		r := reqs[0]
		if err := pager.VerifyWebhook(secret, r.Header.Get(pager.HeaderSubTimestamp), r.Header.Get(pager.HeaderSubSignature), bodies[0], now(), 5*time.Minute); err != nil {
			t.Errorf("signature: %v", err)
		}
		var pl pager.SubscriberPayload
		if err := json.Unmarshal(bodies[0], &pl); err != nil || pl.Type != pager.SubEventStatusUpdate || pl.Text != "Checkout is slow" || pl.Status != "investigating" {
			t.Errorf("payload %s (%v)", bodies[0], err)
		}
		h2.advance("12:00")
		if reqs, _ := hook.take(); len(reqs) != 0 {
			t.Errorf("%d more requests after success", len(reqs))
		}
	})
}
