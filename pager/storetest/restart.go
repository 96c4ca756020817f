// Package storetest checks a pager.Store the way the pager relies on it
// across restarts: a pager stopped mid-escalation and started again over
// the same store (reopened, for a durable one) sends what is left of the
// escalation, on time or caught up after the downtime, and nothing twice.
// The memory, SQLite and PostgreSQL stores run the same scenarios.
// It is imported by tests only.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/watchdog-sre/watchdog/pager"
	"github.com/watchdog-sre/watchdog/pager/channel"
)

// Open returns the store under test, empty.
type Open func(t *testing.T) pager.Store

// Reopen is called between two pagers over s: a durable store closes s and
// opens it again; the memory store returns s.
type Reopen func(t *testing.T, s pager.Store) pager.Store

// config is the scenario's pager: alice is paged by push, sms and voice,
// carol by e-mail 15 minutes later; erin (on no policy) is called and
// texted at once.
const config = `
pager:
  users:
    - name: alice
      contact: {push: alice-topic, sms: "+4915100000001", voice: "+4915100000001"}
      notification_rules:
        - {after: 0m, method: push}
        - {after: 2m, method: sms}
        - {after: 5m, method: voice}
    - name: carol
      contact: {email: carol@example.com}
    - name: dave
      contact: {push: dave-topic, sms: "+4915100000004"}
      notification_rules:
        - {after: 0m, method: push}
        - {after: 5m, method: sms}
    - name: erin
      contact: {sms: "+4915100000005", voice: "+4915100000005", email: erin@example.com}
      notification_rules:
        - {after: 0m, method: voice}
        - {after: 0m, method: sms}
  escalation_policies:
    - name: default
      levels:
        - targets: [user:alice]
          escalate_after: 15m
        - targets: [user:carol]
          escalate_after: 10m
      repeat: 1
      ack_timeout: 30m
  channels:
    - {name: push, type: console}
    - {name: sms, type: console}
    - {name: voice, type: console}
    - {name: email, type: console}
    - {name: ops-webhook, type: console}
  routes:
    - name: pages
      matchers: ['severity="page"']
      group_by: [alertname, cluster]
      group_wait: 0s
      group_interval: 1m
      repeat_interval: 1h
      escalation_policy: default
      channels: [ops-webhook]
`

// Restart stops the pager at 10:03, after the push and the sms, and starts
// a new one over the same store at each of restart times: the voice call
// and carol's e-mail go out once, on time or caught up, and every delivery
// ends sent.
func Restart(t *testing.T, open Open, reopen Reopen) {
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
				now := clockAt(t, "10:00")
				store := open(t)
				h1 := newHarness(t, store, now)
				h1.start()
				if err := h1.p.Receive(page("HighErrors", "c1")); err != nil {
					t.Fatal(err)
				}
				h1.advance("10:03")
				h1.expect("10:00 ops-webhook trigger inc-1", "10:00 push trigger inc-1 alice@alice-topic",
					"10:02 sms trigger inc-1 alice@+4915100000001")
				h1.stop()

				h1.advance(tt.restart)
				h2 := newHarness(t, reopen(t, store), now)
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

// RestartPendingOutbox: deliveries committed before Run ever started (the
// pager stopped between Receive and the send) go out once when it starts.
func RestartPendingOutbox(t *testing.T, open Open, reopen Reopen) {
	synctest.Test(t, func(t *testing.T) {
		now := clockAt(t, "10:00")
		store := open(t)
		h := newHarness(t, store, now)
		if err := h.p.Receive(page("HighErrors", "c1")); err != nil {
			t.Fatal(err)
		}
		h.advance("10:01")
		h.expect()
		h = newHarness(t, reopen(t, store), now)
		h.start()
		h.expect("10:01 ops-webhook trigger inc-1", "10:01 push trigger inc-1 alice@alice-topic")
		h.advance("10:02")
		h.expect("10:02 sms trigger inc-1 alice@+4915100000001")
		h.stop()
	})
}

// recorder is a set of channels that log what they are sent, one line a
// message: "15:04 channel event incident [user@address]".
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

// harness is a pager over a store inside a synctest bubble.
type harness struct {
	t      *testing.T
	now    func() time.Time
	rec    *recorder
	p      *pager.Pager
	cancel context.CancelFunc
	done   chan error
}

func newHarness(t *testing.T, store pager.Store, now func() time.Time) *harness {
	t.Helper()
	cfg, err := pager.ParseConfig("storetest.yaml", []byte(config))
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, now: now, rec: &recorder{now: now}}
	chans := map[string]channel.Channel{}
	for _, n := range []string{"push", "sms", "voice", "email", "ops-webhook"} {
		chans[n] = recChannel{r: h.rec, name: n}
	}
	if h.p, err = pager.New(pager.Options{Config: cfg, Store: store, Channels: chans, Now: now,
		Retry: channel.RetryPolicy{MaxAttempts: 2}, Workers: 2}); err != nil {
		t.Fatal(err)
	}
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
	<-time.After(at(h.t, hhmm).Sub(h.now()))
	synctest.Wait()
}

// expect checks what was sent since the last call, in any order.
func (h *harness) expect(want ...string) {
	h.t.Helper()
	got := h.rec.take()
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		h.t.Errorf("sent:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
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

func page(name, cluster string) pager.Alert {
	return pager.Alert{Labels: map[string]string{"alertname": name, "severity": "page", "cluster": cluster},
		Annotations: map[string]string{"summary": name + " in " + cluster}}
}
