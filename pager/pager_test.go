package pager

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/watchdog-sre/watchdog/pager/channel"
)

// recorder is a set of channels that log what they are sent.
type recorder struct {
	mu   sync.Mutex
	now  func() time.Time
	log  []string
	keys []string          // Message.Key of every send
	fail map[string]bool   // channel names that fail permanently
	tz   map[string]string // recipient name -> the time zone a message gave
}

type recChannel struct {
	r    *recorder
	name string
}

func (c recChannel) Name() string { return c.name }

func (c recChannel) Send(_ context.Context, m channel.Message) (bool, error) {
	c.r.mu.Lock()
	defer c.r.mu.Unlock()
	c.r.keys = append(c.r.keys, m.Key)
	if m.Recipient.Name != "" {
		c.r.tz[m.Recipient.Name] = m.Recipient.TimeZone
	}
	if c.r.fail[c.name] {
		return false, errors.New("boom")
	}
	line := fmt.Sprintf("%s %s %s %s", c.r.now().Format("15:04"), c.name, m.Event, m.IncidentID)
	if m.Recipient.Name != "" {
		line += " " + m.Recipient.Name + "@" + m.Recipient.Address
	}
	if m.Event == channel.EventTrigger && m.Recipient.Name != "" && !strings.HasPrefix(m.AckURL, "https://wd.example/api/v1/pager/ack/") {
		line += " (no ack link)"
	}
	c.r.log = append(c.r.log, line)
	return false, nil
}

// tzOf returns the time zone the last message to name gave.
func (r *recorder) tzOf(name string) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.tz[name]
}

func (r *recorder) take() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.log
	r.log = nil
	return out
}

// harness runs a Pager inside a synctest bubble whose clock reads 10:00
// on the test date at start.
type harness struct {
	t       *testing.T
	c       *Config
	store   *MemStore
	rec     *recorder
	metrics *metrics.Set
	now     func() time.Time
	p       *Pager
	cancel  context.CancelFunc
	done    chan error
	logs    *lockedBuffer
}

// lockedBuffer is a bytes.Buffer safe for concurrent use, for logs.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func newHarness(t *testing.T, store *MemStore, start string) *harness {
	return newHarnessConfig(t, store, start, "basic.good.yaml")
}

// newHarnessConfig is newHarness with the config of testdata/file.
func newHarnessConfig(t *testing.T, store *MemStore, start, file string) *harness {
	return newHarnessWith(t, store, start, loadConfig(t, file))
}

// newHarnessWith is newHarness with config c. The pager logs to h.logs.
func newHarnessWith(t *testing.T, store *MemStore, start string, c *Config) *harness {
	offset := at(t, start).Sub(time.Now())
	h := &harness{t: t, c: c, store: store, logs: &lockedBuffer{},
		now: func() time.Time { return time.Now().Add(offset).UTC() }}
	h.rec = &recorder{now: h.now, fail: map[string]bool{}, tz: map[string]string{}}
	chans := map[string]channel.Channel{}
	for _, n := range []string{"push", "sms", "voice", "email", "ops-webhook", "pd", "war-room"} {
		chans[n] = recChannel{r: h.rec, name: n}
	}
	h.metrics = metrics.NewSet()
	p, err := New(Options{Config: h.c, Store: store, Channels: chans, Now: h.now, AckKey: []byte("secret"), Metrics: h.metrics,
		Logger:      slog.New(slog.NewTextHandler(h.logs, nil)),
		ExternalURL: "https://wd.example", Retry: channel.RetryPolicy{MaxAttempts: 2}, Workers: 2})
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
func (h *harness) advance(to string) {
	h.t.Helper()
	time.Sleep(at(h.t, to).Sub(h.now()))
	synctest.Wait()
}

func (h *harness) expect(want ...string) {
	h.t.Helper()
	// Deliveries run on a pool of workers: compare in sorted order.
	got := h.rec.take()
	sort.Strings(got)
	sort.Strings(want)
	if !reflect.DeepEqual(got, want) && !(len(got) == 0 && len(want) == 0) {
		h.t.Errorf("sent:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
}

func page(name, cluster string) Alert {
	return Alert{Labels: map[string]string{"alertname": name, "severity": "page", "cluster": cluster},
		Annotations: map[string]string{"summary": name + " in " + cluster}}
}

func TestPagerEndToEnd(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, NewMemStore(), "10:00")
		h.start()
		defer h.stop()
		if err := h.p.Receive(page("HighErrors", "c1")); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		h.expect("10:00 ops-webhook trigger inc-1", "10:00 push trigger inc-1 alice@alice-topic")
		if tz := h.rec.tzOf("alice"); tz != "Europe/Berlin" {
			t.Errorf("alice's page gave time zone %q, want her Europe/Berlin", tz)
		}
		h.advance("10:02")
		h.expect("10:02 sms trigger inc-1 alice@+4915100000001")
		// A second alert of the same group joins the incident.
		a := page("HighErrors", "c1")
		a.Labels["pod"] = "p2"
		if err := h.p.Receive(a); err != nil {
			t.Fatal(err)
		}
		h.advance("10:03")
		h.expect("10:02 ops-webhook trigger inc-1") // group_interval (1m) since the last forward has passed
		if err := h.p.Ack("inc-1", Actor{User: "alice"}); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		h.expect("10:03 ops-webhook acknowledge inc-1")
		if err := h.p.Ack("inc-1", Actor{User: "alice"}); !errors.Is(err, ErrNotTriggered) {
			t.Errorf("second ack: %v", err)
		}
		h.advance("10:20")
		h.expect()
		if err := h.p.Note("inc-1", Actor{User: "alice"}, "restarted the frontend"); err != nil {
			t.Fatal(err)
		}
		// Both alerts resolve: the incident resolves.
		end := h.now()
		for _, a := range []Alert{page("HighErrors", "c1"), a} {
			a.EndsAt = end
			if err := h.p.Receive(a); err != nil {
				t.Fatal(err)
			}
		}
		synctest.Wait()
		h.expect("10:20 ops-webhook resolve inc-1")
		st, tl, err := h.p.Incident("inc-1")
		if err != nil || st.Status != StatusResolved || len(st.Alerts) != 2 {
			t.Fatalf("incident: %+v %v", st, err)
		}
		var kinds []string
		for i, e := range tl {
			if e.Seq != i+1 {
				t.Errorf("entry %d has Seq %d", i, e.Seq)
			}
			kinds = append(kinds, e.Kind)
		}
		want := []string{EntryOpened, EntryAlertFired, EntryEscalated, EntryForward, EntryNotify, EntryDelivery, EntryDelivery,
			EntryNotify, EntryDelivery, EntryAlertFired, EntryForward, EntryDelivery, EntryAck, EntryForward, EntryDelivery,
			EntryNote, EntryAlertEnded, EntryAlertEnded, EntryResolved, EntryForward, EntryDelivery}
		if !reflect.DeepEqual(kinds, want) {
			t.Errorf("timeline kinds:\n%q\nwant\n%q", kinds, want)
		}
		// A new firing after resolution opens a new incident.
		if err := h.p.Receive(page("HighErrors", "c1")); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		h.expect("10:20 ops-webhook trigger inc-2", "10:20 push trigger inc-2 alice@alice-topic")
		var buf strings.Builder
		h.metrics.WritePrometheus(&buf)
		for _, m := range []string{`watchdog_pager_deliveries_total{channel="push",result="ok"} 2`, "watchdog_pager_incidents_opened_total 2"} {
			if !strings.Contains(buf.String(), m) {
				t.Errorf("metrics lack %s:\n%s", m, buf.String())
			}
		}
		ds, _ := h.p.Deliveries("inc-1")
		for _, d := range ds {
			if d.Status != DeliverySent {
				t.Errorf("delivery %s is %s", d.Key, d.Status)
			}
		}
	})
}

func TestPagerSuppression(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, NewMemStore(), "10:00")
		h.start()
		defer h.stop()
		// Inhibition: ClusterDown in c1 mutes other page alerts in c1.
		if err := h.p.Receive(page("ClusterDown", "c1"), page("HighErrors", "c1"), page("HighErrors", "c2")); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		got := h.rec.take()
		if len(got) != 4 || strings.Contains(strings.Join(got, "|"), "inc-2") {
			t.Errorf("want pages for ClusterDown and c2 only, got %q", got)
		}
		// A silence created now mutes new alerts until it expires at 10:10.
		id, err := h.p.CreateSilence(Silence{Matchers: []string{`alertname="DiskFull"`}, EndsAt: at(t, "10:10"), CreatedBy: "bob"})
		if err != nil {
			t.Fatal(err)
		}
		if err := h.p.Receive(page("DiskFull", "c3")); err != nil {
			t.Fatal(err)
		}
		h.advance("10:02")
		h.expect("10:02 sms trigger inc-1 alice@+4915100000001", "10:02 sms trigger inc-3 alice@+4915100000001")
		h.advance("10:09")
		h.expect("10:05 voice trigger inc-1 alice@+4915100000001", "10:05 voice trigger inc-3 alice@+4915100000001")
		h.advance("10:10")
		h.expect("10:10 ops-webhook trigger inc-4", "10:10 push trigger inc-4 alice@alice-topic")
		if _, err := h.p.CreateSilence(Silence{Matchers: []string{`a=~"("`}, EndsAt: at(t, "11:00")}); !errors.Is(err, ErrInvalidSilence) {
			t.Errorf("bad silence: %v", err)
		}
		_ = id
	})
}

// TestPagerDeliveryFailure: a failed page is logged in the notification
// log and on the timeline, and the user's next method goes out at once
// instead of at its own time.
func TestPagerDeliveryFailure(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, NewMemStore(), "10:00")
		h.rec.fail["push"] = true
		h.start()
		defer h.stop()
		if err := h.p.Receive(page("HighErrors", "c1")); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		h.expect("10:00 ops-webhook trigger inc-1", "10:00 sms trigger inc-1 alice@+4915100000001")
		h.advance("10:06")
		h.expect("10:05 voice trigger inc-1 alice@+4915100000001")
		ds, _ := h.p.Deliveries("inc-1")
		var failed []string
		for _, d := range ds {
			if d.Status == DeliveryFailed {
				failed = append(failed, d.Key+" "+d.Error)
			}
		}
		if want := []string{"inc-1/e1/l0/r0/alice/s0 channel push: boom"}; !reflect.DeepEqual(failed, want) {
			t.Errorf("failed deliveries %q, want %q", failed, want)
		}
		_, tl, _ := h.p.Incident("inc-1")
		found := false
		for _, e := range tl {
			found = found || e.Kind == EntryDelivery && e.Method == "push" && e.Text == "failed after 1 attempt(s): channel push: boom"
		}
		if !found {
			t.Errorf("no failed delivery on the timeline: %+v", tl)
		}
		if !slices.ContainsFunc(tl, func(e TimelineEntry) bool {
			return e.Kind == EntryFailover && e.Text == "push to alice failed: trying sms now"
		}) {
			t.Errorf("no failover on the timeline: %+v", tl)
		}
		if v := h.metrics.GetOrCreateCounter(`watchdog_pager_channel_failures_total{channel="push"}`).Get(); v != 1 {
			t.Errorf("push failures counted %d, want 1", v)
		}
		if v := h.metrics.GetOrCreateCounter(`watchdog_pager_channel_sent_total{channel="sms"}`).Get(); v != 1 {
			t.Errorf("sms sends counted %d, want 1", v)
		}
	})
}

// TestReceiveMapOwnership: Receive keeps copies of the alerts' maps, so a
// caller that changes its maps afterwards changes nothing in the incident;
// ReceiveOwned keeps the maps it is handed (no copy).
func TestReceiveMapOwnership(t *testing.T) {
	for _, tc := range []struct {
		name  string
		owned bool
	}{{"Receive copies", false}, {"ReceiveOwned keeps", true}} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, NewMemStore(), "10:00")
			a := page("HighErrors", "c1")
			receive := h.p.Receive
			if tc.owned {
				receive = h.p.ReceiveOwned
			}
			if err := receive(a); err != nil {
				t.Fatal(err)
			}
			list, err := h.p.Incidents(IncidentFilter{})
			if err != nil || len(list) != 1 || len(list[0].Alerts) != 1 {
				t.Fatalf("incidents %+v, %v; want one with one alert", list, err)
			}
			h.p.mu.Lock()
			kept := h.p.open.byID[list[0].ID].Alerts[0]
			h.p.mu.Unlock()
			same := reflect.ValueOf(kept.Labels).UnsafePointer() == reflect.ValueOf(a.Labels).UnsafePointer() &&
				reflect.ValueOf(kept.Annotations).UnsafePointer() == reflect.ValueOf(a.Annotations).UnsafePointer()
			if same != tc.owned {
				t.Fatalf("the pager keeps the caller's maps: %v, want %v", same, tc.owned)
			}
			if !tc.owned {
				a.Labels["alertname"] = "Changed"
				if kept.Labels["alertname"] != "HighErrors" {
					t.Fatalf("a change to the caller's map reached the incident: %v", kept.Labels)
				}
			}
		})
	}
}
