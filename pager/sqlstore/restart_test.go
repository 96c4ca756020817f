package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/watchdog-sre/watchdog/pager"
	"github.com/watchdog-sre/watchdog/pager/channel"
)

// The helpers of pager/restart_test.go are unexported, so this file
// repeats them in small: a recording channel and a Pager in a synctest
// bubble whose clock reads 10:00 on 2 March 2026 at start.

type recorder struct {
	mu  sync.Mutex
	now func() time.Time
	log []string
}

type recChannel struct {
	r    *recorder
	name string
}

func (c recChannel) Name() string { return c.name }

func (c recChannel) Send(_ context.Context, m channel.Message) (bool, error) {
	c.r.mu.Lock()
	defer c.r.mu.Unlock()
	line := fmt.Sprintf("%s %s %s %s", c.r.now().Format("15:04"), c.name, m.Event, m.IncidentID)
	if m.Recipient.Name != "" {
		line += " " + m.Recipient.Name + "@" + m.Recipient.Address
	}
	c.r.log = append(c.r.log, line)
	return false, nil
}

func (r *recorder) take() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.log
	r.log = nil
	return out
}

type harness struct {
	t      *testing.T
	now    func() time.Time
	rec    *recorder
	p      *pager.Pager
	cancel context.CancelFunc
	done   chan error
}

// clockAt returns a clock that reads hh:mm on the test date now and
// advances with the bubble's clock.
func clockAt(t *testing.T, hhmm string) func() time.Time {
	offset := at(t, hhmm).Sub(time.Now())
	return func() time.Time { return time.Now().Add(offset).UTC() }
}

func at(t *testing.T, hhmm string) time.Time {
	t.Helper()
	tm, err := time.Parse("2006-01-02 15:04", "2026-03-02 "+hhmm)
	if err != nil {
		t.Fatal(err)
	}
	return tm
}

func loadConfig(t *testing.T, name string) *pager.Config {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	c, err := pager.ParseConfig(name, data)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func newHarness(t *testing.T, store pager.Store, now func() time.Time) *harness {
	h := &harness{t: t, now: now, rec: &recorder{now: now}}
	chans := map[string]channel.Channel{}
	for _, n := range []string{"push", "sms", "voice", "email", "ops-webhook"} {
		chans[n] = recChannel{r: h.rec, name: n}
	}
	p, err := pager.New(pager.Options{Config: loadConfig(t, "restart.yaml"), Store: store, Channels: chans, Now: now,
		Retry: channel.RetryPolicy{MaxAttempts: 2}, Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	h.p = p
	return h
}

func (h *harness) start() {
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel, h.done = cancel, make(chan error, 1)
	go func() { h.done <- h.p.Run(ctx) }()
	synctest.Wait()
}

func (h *harness) stop() {
	h.cancel()
	if err := <-h.done; !errors.Is(err, context.Canceled) {
		h.t.Errorf("Run: %v", err)
	}
}

// advance moves the bubble's clock to hh:mm and lets everything settle.
func (h *harness) advance(hhmm string) {
	h.t.Helper()
	advance(h.t, h.now, hhmm)
}

func advance(t *testing.T, now func() time.Time, hhmm string) {
	t.Helper()
	<-time.After(at(t, hhmm).Sub(now()))
	synctest.Wait()
}

func (h *harness) expect(want ...string) {
	h.t.Helper()
	got := h.rec.take()
	slices.Sort(got)
	slices.Sort(want)
	if !reflect.DeepEqual(got, want) && (len(got) > 0 || len(want) > 0) {
		h.t.Errorf("sent:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
}

func alert(name, cluster string) pager.Alert {
	return pager.Alert{Labels: map[string]string{"alertname": name, "severity": "page", "cluster": cluster},
		Annotations: map[string]string{"summary": name + " in " + cluster}}
}

// TestRestart is pager's TestRestart over the SQLite store, with a
// Close and a fresh Open between the two pagers: the remaining steps go
// out, on time or caught up after downtime, and nothing is sent twice.
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
			path := filepath.Join(t.TempDir(), "pager.db")
			synctest.Test(t, func(t *testing.T) {
				now := clockAt(t, "10:00")
				store := mustOpen(t, path)
				h1 := newHarness(t, store, now)
				h1.start()
				if err := h1.p.Receive(alert("HighErrors", "c1")); err != nil {
					t.Fatal(err)
				}
				h1.advance("10:03")
				h1.expect("10:00 ops-webhook trigger inc-1", "10:00 push trigger inc-1 alice@alice-topic",
					"10:02 sms trigger inc-1 alice@+4915100000001")
				h1.stop()
				if err := store.Close(); err != nil {
					t.Fatal(err)
				}

				advance(t, now, tt.restart)
				store = mustOpen(t, path)
				defer store.Close()
				h2 := newHarness(t, store, now)
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
					if d.Status != pager.DeliverySent {
						t.Errorf("%s: %s", d.Key, d.Status)
					}
				}
			})
		})
	}
}

// TestRestartPendingOutbox: deliveries committed before Run ever started
// go out once when it starts, also after a reopen.
func TestRestartPendingOutbox(t *testing.T) {
	path := filepath.Join(t.TempDir(), "pager.db")
	synctest.Test(t, func(t *testing.T) {
		now := clockAt(t, "10:00")
		store := mustOpen(t, path)
		h := newHarness(t, store, now)
		if err := h.p.Receive(alert("HighErrors", "c1")); err != nil {
			t.Fatal(err)
		}
		if err := store.Close(); err != nil {
			t.Fatal(err)
		}
		h.advance("10:01")
		h.expect()
		store = mustOpen(t, path)
		defer store.Close()
		h = newHarness(t, store, now)
		h.start()
		h.expect("10:01 ops-webhook trigger inc-1", "10:01 push trigger inc-1 alice@alice-topic")
		h.advance("10:02")
		h.expect("10:02 sms trigger inc-1 alice@+4915100000001")
		h.stop()
	})
}

func mustOpen(t *testing.T, path string) *Store {
	t.Helper()
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	return s
}
