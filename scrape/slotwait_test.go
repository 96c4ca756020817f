package scrape

import (
	"bytes"
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/watchdog-sre/watchdog/tsdb"
)

// slotHolds is a handler that serves bodies[i] to the target's i-th request
// (the last one again after them) and, when holds[i] is set, takes the
// Manager's only ingest slot while serving it: the scrape then waits for the
// slot, as behind an overloaded store. The slot is released holds[i] later;
// a negative hold keeps it. Inside a synctest bubble the hold is fake time.
type slotHolds struct {
	l      *limiter
	bodies []string
	holds  []time.Duration

	mu sync.Mutex
	n  int
}

func (s *slotHolds) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	i := s.n
	s.n++
	s.mu.Unlock()
	if i < len(s.holds) && s.holds[i] != 0 {
		if err := s.l.acquire(context.Background(), "holder"); err != nil {
			panic(err)
		}
		if d := s.holds[i]; d > 0 {
			go func() {
				time.Sleep(d)
				s.l.release()
			}()
		}
	}
	text(s.bodies[min(i, len(s.bodies)-1)])(w, r)
}

// countingApps counts the rollbacks of the appenders it wraps.
type countingApps struct {
	next      AppenderFunc
	mu        sync.Mutex
	rollbacks int
}

func (c *countingApps) appender() Appender { return &countingApp{Appender: c.next(), c: c} }

type countingApp struct {
	Appender
	c *countingApps
}

func (a *countingApp) Rollback() error {
	a.c.mu.Lock()
	a.c.rollbacks++
	a.c.mu.Unlock()
	return a.Appender.Rollback()
}

// TestOverloadedIngestCommits: behind an overloaded store (the only ingest
// slot held for 35s, then 20s to append 2,000 new series, against a 5s
// scrape_timeout and a 10s interval) the first scrape waits, appends and
// commits with its own timestamp; the ticks that pass meanwhile are skipped
// and counted; nothing is rolled back and no series is created twice or
// garbage-collected, although the store collects every minute.
func TestOverloadedIngestCommits(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		db, err := tsdb.Open(tsdb.Options{}) // the bubble's clock
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		dbDone := make(chan error, 1)
		go func() { dbDone <- db.Run(ctx) }()
		defer func() {
			cancel()
			<-dbDone
		}()

		apps := &countingApps{next: func() Appender { return db.Appender() }}
		h := newHarness(t, func(o *Options) { o.IngestConcurrency = 1 })
		slow := &slowAppends{next: apps.appender, job: "test", d: 10 * time.Millisecond}
		h.m.opts.Appender = slow.appender
		holds := &slotHolds{l: h.m.limiter, bodies: []string{distinctSamples(2000)}, holds: []time.Duration{35 * time.Second}}
		h.srv.set("a:80", holds.ServeHTTP)
		h.apply(cfgOf(scrapeCfg("test", "a:80")))
		h.run()
		for len(h.srv.requests("a:80")) == 0 {
			advance(time.Second)
		}
		// t0, the first scrape, is within the last second. It waits until
		// t0+35s, appends until t0+55s (and 50ms for the synthetic
		// series); the second scrape runs on the tick t0+60s until t0+80s,
		// the third from t0+90s.
		advance(89 * time.Second)
		st := h.target("test")
		var metricsText bytes.Buffer
		h.set.WritePrometheus(&metricsText)
		h.stop()

		if st.Health != "up" || st.LastError != "" || st.LastScrapeDuration != 20*time.Second {
			t.Fatalf("target %+v", st)
		}
		if got := h.counter("watchdog_scrape_missed_total", "test"); got != 7 {
			t.Fatalf("%d ticks missed, want 5 during the first scrape and 2 during the second", got)
		}
		if got := h.counter("watchdog_scrape_failures_total", "test"); got != 0 {
			t.Fatalf("%d scrapes failed", got)
		}
		if apps.rollbacks != 0 {
			t.Fatalf("%d rollbacks", apps.rollbacks)
		}
		s := db.Stats()
		if s.GCRuns == 0 {
			t.Fatal("the store did not collect: the test does not check churn")
		}
		if s.CreatedSeries != 2000+uint64(len(reportNames)) || s.GCedSeries != 0 {
			t.Fatalf("series created %d, collected %d: want each created once, none collected", s.CreatedSeries, s.GCedSeries)
		}
		if s.AppendedSamples != 2*(2000+uint64(len(reportNames))) {
			t.Fatalf("%d samples appended, want two scrapes' worth", s.AppendedSamples)
		}
		// The wait is reported apart from the scrape's duration.
		mustContain(t, "/metrics", metricsText.String(), `watchdog_scrape_ingest_wait_seconds_sum{job="test"} 35`+"\n")
		mustContain(t, "/metrics", metricsText.String(), `watchdog_scrape_ingest_wait_seconds_count{job="test"} 2`+"\n")
		mustContain(t, "/metrics", metricsText.String(), `watchdog_scrape_ingest_wait_seconds_bucket{job="test",le="30"} 1`+"\n")
	})
}

// TestLateScrapeStaleness: scrapes that wait for a slot past their next
// tick write their samples, stale markers and synthetic series at their
// own timestamps, in order; a target removed while its scrape waits writes
// nothing for that scrape and stale markers, at the removal, for what the
// last committed scrape exposed.
func TestLateScrapeStaleness(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, func(o *Options) { o.IngestConcurrency = 1 })
		h.rec.strict = true // out-of-order or duplicate samples fail
		holds := &slotHolds{
			l:      h.m.limiter,
			bodies: []string{"a 1\nb 1\n", "a 2\n", "a 3\n"},
			holds:  []time.Duration{0, 25 * time.Second, -1},
		}
		h.srv.set("a:80", holds.ServeHTTP)
		h.apply(cfgOf(scrapeCfg("test", "a:80")))
		h.run()
		for len(h.srv.requests("a:80")) < 3 {
			advance(time.Second)
		}
		advance(5 * time.Second) // the third scrape waits
		removed := time.Now().UnixMilli()
		h.apply(cfgOf())
		advance(time.Second)
		h.stop()

		ups := h.rec.samples("up")
		if len(ups) != 3 {
			t.Fatalf("up = %v", values(ups))
		}
		ts1, ts2 := ups[0].t, ups[1].t
		if ts2-ts1 != 10_000 {
			t.Fatalf("up = %v: the second scrape is not on the tick after the first", values(ups))
		}
		stale := staleNaN()
		for _, tc := range []struct {
			name string
			want []sample
		}{
			{"a", []sample{{t: ts1, v: 1}, {t: ts2, v: 2}, {t: removed, v: stale}}},
			{"b", []sample{{t: ts1, v: 1}, {t: ts2, v: stale}}},
			{"up", []sample{{t: ts1, v: 1}, {t: ts2, v: 1}, {t: removed, v: stale}}},
		} {
			got := h.rec.samples(tc.name)
			mustEqual(t, tc.name, values(got), values(tc.want))
			for i := range got {
				if got[i].t != tc.want[i].t {
					t.Fatalf("%s: sample %d at %d, want %d", tc.name, i, got[i].t, tc.want[i].t)
				}
			}
		}
		if got := h.counter("watchdog_scrape_missed_total", "test"); got != 2 {
			t.Fatalf("%d ticks missed, want the 2 of the 25s wait", got)
		}
		if h.rec.rollbacks != 0 {
			t.Fatalf("%d rollbacks", h.rec.rollbacks)
		}
	})
}

// TestSlotWaitBounds: what waits for a slot is bounded. A body over
// body_size_limit is refused by the fetch as before and waits for nothing;
// a shutdown ends a wait at once and writes nothing for the waiting scrape.
func TestSlotWaitBounds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, func(o *Options) { o.IngestConcurrency = 1 })
		// The only slot is taken for good.
		if err := h.m.limiter.acquire(context.Background(), "holder"); err != nil {
			t.Fatal(err)
		}
		h.srv.set("big:80", text(strings.Repeat("m 1\n", 100)))
		h.srv.set("small:80", text("s 1\n"))
		big := scrapeCfg("big", "big:80")
		big.BodySizeLimit = 100
		h.apply(cfgOf(big, scrapeCfg("small", "small:80")))
		h.run()
		advance(35 * time.Second)
		start := time.Now()
		h.stop()
		if took := time.Since(start); took > time.Second {
			t.Fatalf("Run took %v to return after cancel", took)
		}

		ups := h.rec.samples("up", "job", "big")
		if len(ups) < 3 {
			t.Fatalf("big up = %v, want a failed scrape on every tick", values(ups))
		}
		for _, s := range ups {
			if s.v != 0 {
				t.Fatalf("big up = %v", values(ups))
			}
		}
		if got := h.counter("watchdog_scrape_limit_exceeded_total", "big", `limit="body_size_limit"`); got != uint64(len(ups)) {
			t.Fatalf("body_size_limit exceeded %d times in %d scrapes", got, len(ups))
		}
		if got := h.counter("watchdog_scrape_missed_total", "big"); got != 0 {
			t.Fatalf("big missed %d ticks", got)
		}
		if n := len(h.rec.samples("up", "job", "small")) + len(h.rec.samples("s")); n != 0 {
			t.Fatalf("%d samples of the waiting scrape written", n)
		}
	})
}
