package pager

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/watchdog-sre/watchdog/pager/channel"
)

// fencingStore refuses writes with ErrFenced while fenced is set, as a
// shared store does once the lease is lost.
type fencingStore struct {
	*MemStore
	fenced atomic.Bool
}

func (s *fencingStore) Update(fn func(tx Tx) error) error {
	if s.fenced.Load() {
		return fmt.Errorf("store: %w", ErrFenced)
	}
	return s.MemStore.Update(fn)
}

// TestFencedPagerStopsSending: once the store fences the pager off, it
// sends nothing more and Run returns ErrFenced; run again once the store
// accepts writes, it rebuilds and sends what became due meanwhile, once.
func TestFencedPagerStopsSending(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarnessWith(t, NewMemStore(), "10:00", reloadConfig(t, "same"))
		fs := &fencingStore{MemStore: h.store}
		chans := map[string]channel.Channel{}
		for _, n := range []string{"push", "sms", "voice", "email"} {
			chans[n] = recChannel{r: h.rec, name: n}
		}
		p, err := New(Options{Config: h.c, Store: fs, Channels: chans, Now: h.now, Metrics: metrics.NewSet(),
			Logger: slog.New(slog.NewTextHandler(h.logs, nil)), Retry: channel.RetryPolicy{MaxAttempts: 2}, Workers: 2,
			AckKey: []byte("secret"), ExternalURL: "https://wd.example"})
		if err != nil {
			t.Fatal(err)
		}
		h.p = p
		run := func() chan error {
			done := make(chan error, 1)
			ctx, cancel := context.WithCancel(context.Background())
			t.Cleanup(cancel)
			go func() { done <- p.Run(ctx) }()
			synctest.Wait()
			return done
		}
		done := run()
		if err := p.Receive(page("HighErrors", "c1")); err != nil {
			t.Fatal(err)
		}
		h.advance("10:03")
		h.expect("10:00 push trigger inc-1 alice@alice-topic", "10:02 sms trigger inc-1 alice@+1555")

		fs.fenced.Store(true)
		h.advance("10:20") // level 2 was due at 10:15
		h.expect()
		select {
		case err := <-done:
			if !errors.Is(err, ErrFenced) {
				t.Fatalf("Run returned %v, want ErrFenced", err)
			}
		default:
			t.Fatalf("Run still running after the store fenced it off; logs:\n%s", h.logs)
		}
		if p.Ready() {
			t.Error("Ready after being fenced off")
		}

		fs.fenced.Store(false)
		run()
		h.expect("10:20 email trigger inc-1 bob@bob@example.com", "10:20 push trigger inc-1 dave@dave-topic")
		h.advance("10:25")
		h.expect()
	})
}

// flakyStore fails the next n Updates with a plain error.
type flakyStore struct {
	*MemStore
	fail atomic.Int32
}

func (s *flakyStore) Update(fn func(tx Tx) error) error {
	if s.fail.Add(-1) >= 0 {
		return errors.New("database restarting")
	}
	s.fail.Store(0)
	return s.MemStore.Update(fn)
}

// hookChannel calls before at each send, then records it.
type hookChannel struct {
	recChannel
	before func()
}

func (c hookChannel) Send(ctx context.Context, m channel.Message) (bool, error) {
	c.before()
	return c.recChannel.Send(ctx, m)
}

// TestResultsRecordedAfterStoreFailure: when the store fails while a
// delivery's result is recorded, the result is kept and recorded when the
// store is back; the page is not sent again and is counted once.
func TestResultsRecordedAfterStoreFailure(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarnessWith(t, NewMemStore(), "10:00", reloadConfig(t, "same"))
		fs := &flakyStore{MemStore: h.store}
		set := metrics.NewSet()
		push := hookChannel{recChannel: recChannel{r: h.rec, name: "push"}, before: func() { fs.fail.Store(2) }}
		p, err := New(Options{Config: h.c, Store: fs, Channels: map[string]channel.Channel{"push": push}, Now: h.now,
			Metrics: set, Logger: slog.New(slog.NewTextHandler(h.logs, nil)), Workers: 1, AckKey: []byte("secret"),
			ExternalURL: "https://wd.example"})
		if err != nil {
			t.Fatal(err)
		}
		h.p = p
		h.start()
		defer h.stop()
		if err := p.Receive(page("HighErrors", "c1")); err != nil {
			t.Fatal(err)
		}
		time.Sleep(5 * time.Second)
		synctest.Wait()
		h.expect("10:00 push trigger inc-1 alice@alice-topic")
		var ds []Delivery
		if err := h.store.View(func(tx ReadTx) error {
			var err error
			ds, err = tx.Deliveries(DeliveryFilter{IncidentID: "inc-1"})
			return err
		}); err != nil {
			t.Fatal(err)
		}
		if len(ds) != 1 || ds[0].Status != DeliverySent {
			t.Fatalf("deliveries %+v, want the push recorded as sent", ds)
		}
		if got := set.GetOrCreateCounter(`watchdog_pager_deliveries_total{channel="push",result="ok"}`).Get(); got != 1 {
			t.Errorf("deliveries counted %d times, want once", got)
		}
		if !strings.Contains(h.logs.String(), "retrying") {
			t.Errorf("the failed recording was not logged:\n%s", h.logs)
		}
	})
}
