package pager

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/watchdog-sre/watchdog/pager/channel"
)

// limitsConfig pages user "u" by push once per group; the push channel
// has the given extra keys (max_concurrency, rate_limit).
func limitsConfig(t *testing.T, keys string) *Config {
	t.Helper()
	c, err := ParseConfig("limits.yaml", []byte(`pager:
  users:
    - {name: u, contact: {push: u-topic}}
  escalation_policies:
    - name: p
      levels: [{targets: [user:u], escalate_after: 1h}]
  channels:
    - {name: push, type: webhook, url: "http://127.0.0.1:1/"`+keys+`}
  routes:
    - {name: r, group_by: [group], group_wait: 0s, escalation_policy: p}
`))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// slowChannel records every send: when it started, how many were in flight
// at most, and which incidents were sent. Each send takes hold (fake time)
// and fails with a retryable error while failFirst says so.
type slowChannel struct {
	hold time.Duration

	mu        sync.Mutex
	inflight  int
	peak      int
	starts    []time.Time
	sent      map[string]int // incident ID → successful sends
	failFirst map[string]bool
}

func (c *slowChannel) Name() string { return "push" }

func (c *slowChannel) Send(ctx context.Context, m channel.Message) (bool, error) {
	c.mu.Lock()
	c.inflight++
	c.peak = max(c.peak, c.inflight)
	c.starts = append(c.starts, time.Now())
	fail := c.failFirst[m.IncidentID]
	delete(c.failFirst, m.IncidentID)
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		c.inflight--
		c.mu.Unlock()
	}()
	select {
	case <-time.After(c.hold):
	case <-ctx.Done():
		return true, ctx.Err()
	}
	if fail {
		return true, errors.New("503")
	}
	c.mu.Lock()
	c.sent[m.IncidentID]++
	c.mu.Unlock()
	return false, nil
}

func (c *slowChannel) sentCount() (distinct, total int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, n := range c.sent {
		distinct++
		total += n
	}
	return distinct, total
}

// storm opens n incidents (one alert each) in one Receive.
func storm(t *testing.T, p *Pager, n int) {
	t.Helper()
	var as []Alert
	for i := range n {
		as = append(as, Alert{Labels: map[string]string{"alertname": "A", "group": fmt.Sprint("g", i)}})
	}
	if err := p.Receive(as...); err != nil {
		t.Fatal(err)
	}
}

func newLimitsPager(t *testing.T, c *Config, ch *slowChannel, store Store, workers int) *Pager {
	t.Helper()
	p, err := New(Options{Config: c, Store: store, Channels: map[string]channel.Channel{"push": ch}, Workers: workers,
		Logger: slog.New(slog.DiscardHandler), Retry: channel.RetryPolicy{MaxAttempts: 3, InitialBackoff: 10 * time.Second, Jitter: -1}})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func runPager(p *Pager) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { p.Run(ctx); close(done) }()
	return func() { cancel(); <-done }
}

// TestChannelMaxConcurrency: never more than max_concurrency deliveries of
// a channel in flight, however many workers; all are delivered.
func TestChannelMaxConcurrency(t *testing.T) {
	for _, tc := range []struct {
		name     string
		keys     string
		workers  int
		wantPeak int
	}{
		{"configured 3", ", max_concurrency: 3", 64, 3},
		{"webhook default", "", DefaultDeliveryWorkers, ChannelDefaults["webhook"].MaxConcurrency},
		{"workers bound first", ", max_concurrency: 50", 5, 5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				ch := &slowChannel{hold: time.Second, sent: map[string]int{}}
				p := newLimitsPager(t, limitsConfig(t, tc.keys), ch, NewMemStore(), tc.workers)
				stop := runPager(p)
				defer stop()
				storm(t, p, 100)
				time.Sleep(time.Minute)
				synctest.Wait()
				if distinct, total := ch.sentCount(); distinct != 100 || total != 100 {
					t.Errorf("sent %d incidents in %d sends, want 100 in 100", distinct, total)
				}
				if ch.peak != tc.wantPeak {
					t.Errorf("at most %d in flight, want %d", ch.peak, tc.wantPeak)
				}
			})
		})
	}
}

// TestChannelRateLimit: a channel with rate_limit N/s starts at most its
// burst at once and then one delivery every 1/N s.
func TestChannelRateLimit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ch := &slowChannel{sent: map[string]int{}}
		p := newLimitsPager(t, limitsConfig(t, ", rate_limit: 2/s"), ch, NewMemStore(), 0)
		stop := runPager(p)
		defer stop()
		t0 := time.Now()
		storm(t, p, 10)
		time.Sleep(time.Minute)
		synctest.Wait()
		if distinct, _ := ch.sentCount(); distinct != 10 {
			t.Fatalf("sent %d incidents, want 10", distinct)
		}
		// Burst 2 at t0, then every 500ms: the i-th start (0-based) is
		// at max(0, i-1) * 500ms.
		for i, s := range ch.starts {
			want := time.Duration(max(0, i-1)) * 500 * time.Millisecond
			if got := s.Sub(t0); got != want {
				t.Errorf("send %d started at +%v, want +%v", i, got, want)
			}
		}
	})
}

// TestChannelLimitRetriesBackOff: a retryable failure is retried after
// the policy's backoff, holding its concurrency slot meanwhile, and the
// other deliveries still go out.
func TestChannelLimitRetriesBackOff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ch := &slowChannel{sent: map[string]int{}, failFirst: map[string]bool{"inc-1": true}}
		p := newLimitsPager(t, limitsConfig(t, ", max_concurrency: 1"), ch, NewMemStore(), 0)
		stop := runPager(p)
		defer stop()
		t0 := time.Now()
		storm(t, p, 3)
		time.Sleep(time.Minute)
		synctest.Wait()
		if distinct, total := ch.sentCount(); distinct != 3 || total != 3 {
			t.Fatalf("sent %d incidents in %d sends, want 3 in 3", distinct, total)
		}
		var got []string
		for _, s := range ch.starts {
			got = append(got, s.Sub(t0).String())
		}
		// inc-1 fails at 0s and is retried after the 10s backoff; the one
		// slot is held meanwhile, so inc-2 and inc-3 follow it.
		if want := "0s 10s 10s 10s"; strings.Join(got, " ") != want {
			t.Errorf("send starts %v, want %s", got, want)
		}
	})
}

// TestChannelLimitRestartLosesNothing: deliveries waiting behind a
// channel's bound when the pager stops stay pending in the store, and a new
// pager on the store sends every one of them.
func TestChannelLimitRestartLosesNothing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := NewMemStore()
		c := limitsConfig(t, ", max_concurrency: 2")
		ch := &slowChannel{hold: time.Second, sent: map[string]int{}}
		p := newLimitsPager(t, c, ch, store, 0)
		stop := runPager(p)
		storm(t, p, 20)
		time.Sleep(2500 * time.Millisecond) // 4 sent, 2 in flight, 14 waiting
		stop()
		if distinct, _ := ch.sentCount(); distinct != 4 {
			t.Fatalf("sent %d before the stop, want 4", distinct)
		}
		p2 := newLimitsPager(t, c, ch, store, 0)
		stop2 := runPager(p2)
		defer stop2()
		time.Sleep(time.Minute)
		synctest.Wait()
		if distinct, _ := ch.sentCount(); distinct != 20 {
			t.Errorf("sent %d incidents after the restart, want all 20", distinct)
		}
		var pending []Delivery
		if err := store.View(func(tx ReadTx) error {
			var err error
			pending, err = tx.Deliveries(DeliveryFilter{Status: DeliveryPending})
			return err
		}); err != nil {
			t.Fatal(err)
		}
		if len(pending) != 0 {
			t.Errorf("%d deliveries still pending", len(pending))
		}
	})
}

// TestReceiveGroupCommit: Receive calls that wait while another commits
// are committed together in one transaction, and none of their alerts is
// lost. (Not in a synctest bubble: calls blocked on the state mutex are
// not durably blocked there; the test waits by yielding, never sleeping.)
func TestReceiveGroupCommit(t *testing.T) {
	store := &gateStore{MemStore: NewMemStore(), gate: make(chan struct{})}
	ch := &slowChannel{sent: map[string]int{}}
	p := newLimitsPager(t, limitsConfig(t, ""), ch, store, 0)
	errs := make(chan error, 6)
	go func() { errs <- p.Receive(Alert{Labels: map[string]string{"alertname": "A", "group": "first"}}) }()
	waitFor(t, func() bool { return store.updates.Load() == 1 }) // its transaction waits at the gate
	for i := range 5 {
		go func() {
			errs <- p.Receive(Alert{Labels: map[string]string{"alertname": "A", "group": "g", "i": fmt.Sprint(i)}},
				Alert{Labels: map[string]string{"alertname": "A", "group": fmt.Sprint("own", i)}})
		}()
	}
	waitFor(t, func() bool {
		p.rmu.Lock()
		defer p.rmu.Unlock()
		return len(p.receiving) == 5
	})
	close(store.gate)
	for range 6 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if n := store.updates.Load(); n != 2 {
		t.Errorf("%d transactions, want 2 (the first call, then the five waiting ones together)", n)
	}
	sts, err := p.Incidents(IncidentFilter{})
	if err != nil {
		t.Fatal(err)
	}
	alerts := map[string]int{}
	for _, st := range sts {
		alerts[st.GroupLabels["group"]] = len(st.Alerts)
	}
	want := map[string]int{"first": 1, "g": 5, "own0": 1, "own1": 1, "own2": 1, "own3": 1, "own4": 1}
	if fmt.Sprint(alerts) != fmt.Sprint(want) {
		t.Errorf("alerts per group %v, want %v", alerts, want)
	}
}

// waitFor yields until cond holds (failing after ten million tries).
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for range 10_000_000 {
		if cond() {
			return
		}
		runtime.Gosched()
	}
	t.Fatal("condition never held")
}

// gateStore is a MemStore whose first Update waits for gate to close; it
// counts Updates.
type gateStore struct {
	*MemStore
	gate    chan struct{}
	updates atomic.Int64
}

func (s *gateStore) Update(fn func(tx Tx) error) error {
	if s.updates.Add(1) == 1 {
		<-s.gate
	}
	return s.MemStore.Update(fn)
}

// TestChannelLimitsConfig: the limits a channel's keys and type give.
func TestChannelLimitsConfig(t *testing.T) {
	for _, tc := range []struct {
		typ, keys string
		want      ChannelLimits
	}{
		{"webhook", "", ChannelLimits{MaxConcurrency: 64}},
		{"webhook", ", max_concurrency: 3, rate_limit: 10/s", ChannelLimits{MaxConcurrency: 3, Rate: 10, Burst: 10}},
		{"webhook", ", rate_limit: 120/m", ChannelLimits{MaxConcurrency: 64, Rate: 2, Burst: 2}},
		{"webhook", ", rate_limit: 36/h", ChannelLimits{MaxConcurrency: 64, Rate: 0.01, Burst: 1}},
		{"slack", "", ChannelLimits{MaxConcurrency: 4, Rate: 1, Burst: 5}},
		{"slack", ", rate_limit: none", ChannelLimits{MaxConcurrency: 4}},
		{"pagerduty", ", max_concurrency: 2", ChannelLimits{MaxConcurrency: 2, Rate: 2, Burst: 20}},
	} {
		t.Run(tc.typ+tc.keys, func(t *testing.T) {
			var url string
			switch tc.typ {
			case "webhook":
				url = `url: "http://x/"`
			case "slack":
				url = `webhook_url_env: X`
			case "pagerduty":
				url = `routing_key_env: X`
			}
			c, err := ParseConfig("l.yaml", []byte(`pager:
  users: [{name: u, contact: {push: u}}]
  escalation_policies: [{name: p, levels: [{targets: [user:u]}]}]
  channels: [{name: ch, type: `+tc.typ+`, `+url+tc.keys+`}]
  routes: [{escalation_policy: p}]
`))
			if err != nil {
				t.Fatal(err)
			}
			if got := c.limits("ch"); got != tc.want {
				t.Errorf("limits %+v, want %+v", got, tc.want)
			}
			if got := c.limits("not-configured"); got != (ChannelLimits{MaxConcurrency: DefaultChannelConcurrency}) {
				t.Errorf("limits of a channel without config %+v", got)
			}
		})
	}
}

// TestParseRateRefuses: hostile and malformed rate_limit values are errors.
func TestParseRateRefuses(t *testing.T) {
	for _, s := range []string{"", "10", "10/", "/s", "10/x", "-1/s", "0/s", "NaN/s", "inf/s", "1e400/s", "2e6/s", "0.5/h", "ten/s"} {
		if r, b, err := parseRate(s); err == nil {
			t.Errorf("parseRate(%q) = %v, %v, want an error", s, r, b)
		}
	}
}

// TestReceiveBehindAFullBatch: a Receive that takes the state lock while
// more than maxGroupCommit alerts wait ahead of it commits those first and
// then its own; it must not wait (holding the lock) for somebody else to
// commit it, which would stop every later Receive and so all paging.
func TestReceiveBehindAFullBatch(t *testing.T) {
	p := newLimitsPager(t, limitsConfig(t, ""), &slowChannel{sent: map[string]int{}}, NewMemStore(), 0)
	ahead := make([]Alert, maxGroupCommit)
	for i := range ahead {
		ahead[i] = Alert{Labels: map[string]string{"alertname": "A", "group": "ahead", "i": fmt.Sprint(i)}}
	}
	front := &receiveCall{alerts: ahead, done: make(chan error, 1)}
	p.mu.Lock()
	p.rmu.Lock()
	p.receiving = append(p.receiving, front) // a full batch whose caller has not taken the lock yet
	p.rmu.Unlock()
	errs := make(chan error, 1)
	go func() { errs <- p.Receive(Alert{Labels: map[string]string{"alertname": "A", "group": "behind"}}) }()
	waitFor(t, func() bool {
		p.rmu.Lock()
		defer p.rmu.Unlock()
		return len(p.receiving) == 2
	})
	p.mu.Unlock()
	if err := <-errs; err != nil {
		t.Fatal(err)
	}
	if err := <-front.done; err != nil {
		t.Fatal(err)
	}
	sts, err := p.Incidents(IncidentFilter{})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int{}
	for _, st := range sts {
		got[st.GroupLabels["group"]] = len(st.Alerts)
	}
	if got["ahead"] != maxGroupCommit || got["behind"] != 1 {
		t.Errorf("alerts per group %v, want ahead=%d behind=1", got, maxGroupCommit)
	}
}
