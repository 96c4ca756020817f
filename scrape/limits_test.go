package scrape

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"

	"github.com/watchdog-sre/watchdog/config"
	"github.com/watchdog-sre/watchdog/tsdb"
)

// slowAppends delays every Append of a series of job by d (fake time inside
// a synctest bubble): an append that takes as long as the store needs for
// a huge scrape. An empty job slows every series. Appends by ref may come
// without labels (the cache keeps none once a series has a ref), so the
// job's series are known by the refs their first appends returned.
type slowAppends struct {
	next AppenderFunc
	job  string
	d    time.Duration

	mu   sync.Mutex
	refs map[uint64]bool // series of job
}

func (s *slowAppends) appender() Appender { return slowAppender{s.next(), s} }

// slow reports whether an append of lset by ref is one of job's.
func (s *slowAppends) slow(ref uint64, lset labels.Labels) bool {
	if s.job == "" || lset.Get("job") == s.job {
		return true
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return ref != 0 && lset.IsEmpty() && s.refs[ref]
}

func (s *slowAppends) note(ref uint64, lset labels.Labels) {
	if ref == 0 || lset.Get("job") != s.job {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.refs == nil {
		s.refs = map[uint64]bool{}
	}
	s.refs[ref] = true
}

type slowAppender struct {
	Appender
	s *slowAppends
}

func (a slowAppender) Append(ref uint64, lset labels.Labels, t int64, v float64) (uint64, error) {
	if a.s.slow(ref, lset) {
		time.Sleep(a.s.d)
	}
	r, err := a.Appender.Append(ref, lset, t, v)
	a.s.note(r, lset)
	return r, err
}

// TestStartedAppendIsCommitted: scrape_timeout bounds the fetch only. A
// scrape whose append runs past it (2,000 samples at 10ms each: 20s,
// against a 5s timeout) is committed with the scrape's timestamp, the
// target stays up, scrape_duration_seconds says how long it took, and the
// ticks that passed meanwhile are skipped and counted.
func TestStartedAppendIsCommitted(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, nil)
		slow := &slowAppends{next: h.rec.appender, job: "test", d: 10 * time.Millisecond}
		h.m.opts.Appender = slow.appender
		h.srv.set("a:80", text(distinctSamples(2000)))
		h.apply(cfgOf(scrapeCfg("test", "a:80")))
		h.run()
		advance(time.Minute) // two scrapes of 20s (and 50ms for the synthetic series)
		st := h.target("test")
		h.stop()

		if st.Health != "up" || st.LastError != "" || st.LastScrapeDuration != 20*time.Second {
			t.Fatalf("target %+v", st)
		}
		ups := h.rec.samples("up")
		if len(ups) != 2 || ups[0].v != 1 || ups[1].v != 1 || ups[1].t-ups[0].t != 30_000 {
			t.Fatalf("up = %v, want 1 on two ticks 30s apart", values(ups))
		}
		if n := len(h.rec.samples("m0")); n != 4000 {
			t.Fatalf("%d samples committed, want both scrapes' 2,000", n)
		}
		if d := h.rec.samples("scrape_duration_seconds"); d[0].v != 20 {
			t.Fatalf("scrape_duration_seconds = %v, want 20", values(d))
		}
		if got := h.counter("watchdog_scrape_limit_exceeded_total", "test", `limit="scrape_timeout"`); got != 0 {
			t.Fatalf("scrape_timeout exceeded %d times, want 0", got)
		}
		if h.rec.rollbacks != 0 {
			t.Fatalf("%d rollbacks", h.rec.rollbacks)
		}
		if got := h.counter("watchdog_scrape_missed_total", "test"); got != 4 {
			t.Fatalf("%d ticks missed, want two per 20s scrape", got)
		}
	})
}

// TestShutdownStopsAppend: cancelling Run while a scrape appends a huge
// body returns within a few appends and writes nothing for that scrape.
func TestShutdownStopsAppend(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, nil)
		slow := &slowAppends{next: h.rec.appender, job: "test", d: time.Millisecond}
		h.m.opts.Appender = slow.appender
		h.srv.set("a:80", text(distinctSamples(100_000))) // 100s of appending
		sc := scrapeCfg("test", "a:80")
		sc.ScrapeInterval, sc.ScrapeTimeout = model.Duration(5*time.Minute), model.Duration(5*time.Minute)
		h.apply(cfgOf(sc))
		h.run()
		for len(h.srv.requests("a:80")) == 0 {
			advance(time.Second)
		}
		advance(10 * time.Second) // the first scrape is appending
		start := time.Now()
		h.stop()
		if took := time.Since(start); took > time.Second {
			t.Fatalf("Run took %v to return after cancel", took)
		}
		if n := len(h.rec.committed); n != 0 {
			t.Fatalf("%d samples committed by a stopped scrape", n)
		}
	})
}

// TestTargetLimit: a job over target_limit keeps loops for target_limit
// targets only, none of which is fetched; each reports the limit and up 0.
// Raising the limit scrapes them all.
func TestTargetLimit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, nil)
		var hosts []string
		for i := range 50 {
			host := fmt.Sprintf("h%d:80", i)
			hosts = append(hosts, host)
			h.srv.set(host, text("m 1\n"))
		}
		sc := scrapeCfg("big", hosts...)
		sc.TargetLimit = 20
		h.apply(cfgOf(sc))
		h.run()
		advance(10 * time.Second)

		ts := h.m.Targets()
		if len(ts) != 20 {
			t.Fatalf("%d targets running, want the limit 20", len(ts))
		}
		for _, st := range ts {
			if st.Health != "down" || !strings.Contains(st.LastError, "target_limit exceeded: the job has 50 targets, its limit is 20") {
				t.Fatalf("target %+v", st)
			}
		}
		for _, host := range hosts {
			if n := len(h.srv.requests(host)); n != 0 {
				t.Fatalf("%s fetched %d times over the target limit", host, n)
			}
		}
		if ups := h.rec.samples("up"); len(ups) != 20 || ups[0].v != 0 {
			t.Fatalf("up = %v, want 20 zeros", values(ups))
		}
		if got := h.counter("watchdog_scrape_limit_exceeded_total", "big", `limit="target_limit"`); got != 20 {
			t.Fatalf("target_limit exceeded counted %d times, want once per failed scrape (20)", got)
		}

		sc2 := *sc
		sc2.TargetLimit = 50
		h.apply(cfgOf(&sc2))
		advance(10 * time.Second)
		ts = h.m.Targets()
		if len(ts) != 50 {
			t.Fatalf("%d targets after raising the limit, want 50", len(ts))
		}
		for _, st := range ts {
			if st.Health != "up" {
				t.Fatalf("target %+v after raising the limit", st)
			}
		}
		h.stop()
	})
}

// TestDefaultTargetLimit: a job built in code without limits gets the
// default target_limit.
func TestDefaultTargetLimit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, nil)
		hosts := make([]string, config.DefaultTargetLimit+1)
		for i := range hosts {
			hosts[i] = fmt.Sprintf("h%d:80", i)
		}
		h.apply(cfgOf(scrapeCfg("big", hosts...)))
		h.run()
		if n := len(h.m.Targets()); n != config.DefaultTargetLimit {
			t.Fatalf("%d loops, want %d", n, config.DefaultTargetLimit)
		}
		h.stop()
	})
}

// TestSampleLimitBeforeSeries: a body over sample_limit (without metric
// relabeling) is refused before any of its series reaches the store.
func TestSampleLimitBeforeSeries(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, nil)
		h.srv.set("a:80", text(distinctSamples(1001)))
		sc := scrapeCfg("test", "a:80")
		sc.SampleLimit = 1000
		h.apply(cfgOf(sc))
		h.run()
		advance(10 * time.Second)
		h.stop()
		h.rec.mu.Lock()
		defer h.rec.mu.Unlock()
		for key := range h.rec.byKey {
			if strings.Contains(key, `"m0"`) {
				t.Fatalf("series %s was appended", key)
			}
		}
	})
}

func TestLimiterTurns(t *testing.T) {
	tests := []struct {
		name  string
		slots int
		queue []string // jobs of the scrapes waiting, in arrival order
		want  []string // the order they get a slot in
	}{
		{"one job keeps its order", 1, []string{"a", "a", "a"}, []string{"a", "a", "a"}},
		{"a small job waits for one turn", 1, []string{"big", "big", "big", "big", "control"}, []string{"big", "control", "big", "big", "big"}},
		{"jobs alternate", 1, []string{"a", "a", "b", "b", "c"}, []string{"a", "b", "c", "a", "b"}},
		{"two slots", 2, []string{"big", "big", "big", "big", "control"}, []string{"big", "control", "big", "big", "big"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				l := newLimiter(tc.slots)
				ctx := context.Background()
				// Take every slot so that the others queue.
				for range tc.slots {
					if err := l.acquire(ctx, "holder"); err != nil {
						t.Fatal(err)
					}
				}
				var (
					mu  sync.Mutex
					got []string
				)
				done := make(chan struct{}, len(tc.queue))
				for _, job := range tc.queue {
					go func() {
						if err := l.acquire(ctx, job); err != nil {
							t.Error(err)
						}
						mu.Lock()
						got = append(got, job)
						mu.Unlock()
						done <- struct{}{}
					}()
					synctest.Wait() // queued in this order
				}
				for range tc.queue {
					l.release() // one grant at a time
					<-done
				}
				if strings.Join(got, " ") != strings.Join(tc.want, " ") {
					t.Fatalf("grants %v, want %v", got, tc.want)
				}
			})
		})
	}
}

func TestLimiterCancel(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLimiter(1)
		if err := l.acquire(context.Background(), "a"); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		if err := l.acquire(ctx, "b"); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("acquire = %v, want the deadline", err)
		}
		// The abandoned waiter does not take the released slot.
		l.release()
		if err := l.acquire(context.Background(), "c"); err != nil {
			t.Fatal(err)
		}
	})
}

// TestSmallJobNotStarved: a job whose many targets keep every ingest slot
// busy does not delay a one-target job's scrapes past their ticks.
func TestSmallJobNotStarved(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, func(o *Options) { o.IngestConcurrency = 2 })
		// Each scrape of "big" appends for 300ms (30 samples at 10ms):
		// 200 targets every 10s want 6 slots, there are 2.
		slow := &slowAppends{next: h.rec.appender, job: "big", d: 10 * time.Millisecond}
		h.m.opts.Appender = slow.appender
		var hosts []string
		for i := range 200 {
			host := fmt.Sprintf("big%d:80", i)
			hosts = append(hosts, host)
			h.srv.set(host, text(distinctSamples(30)))
		}
		h.srv.set("control:80", text("c 1\n"))
		control := scrapeCfg("control", "control:80")
		control.ScrapeInterval, control.ScrapeTimeout = model.Duration(time.Second), model.Duration(time.Second)
		h.apply(cfgOf(scrapeCfg("big", hosts...), control))
		h.run()
		advance(time.Minute)
		h.stop()

		// The big job cannot keep up: its scrapes wait for a slot past
		// their next tick, which is skipped; none times out.
		if got := h.counter("watchdog_scrape_missed_total", "big"); got == 0 {
			t.Fatal("the big job kept up: the test does not overload the slots")
		}
		if got := h.counter("watchdog_scrape_failures_total", "big"); got != 0 {
			t.Fatalf("%d scrapes of the big job failed", got)
		}
		if got := h.counter("watchdog_scrape_missed_total", "control"); got != 0 {
			t.Fatalf("control missed %d ticks", got)
		}
		ups := h.rec.samples("up", "job", "control")
		if len(ups) < 59 {
			t.Fatalf("control scraped %d times in a minute", len(ups))
		}
		for _, s := range ups {
			if s.v != 1 {
				t.Fatalf("control up = %v", values(ups))
			}
		}
	})
}

// TestStoreRefusalsCounted runs a target against the real store: a sample
// three hours ahead of the clock is refused, counted under its reason and
// shown on the target, which stays up; the others are stored.
func TestStoreRefusalsCounted(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		db, err := tsdb.Open(tsdb.Options{}) // the bubble's clock
		if err != nil {
			t.Fatal(err)
		}
		reason := func(err error) string {
			switch {
			case errors.Is(err, tsdb.ErrTooFarInFuture):
				return "too_far_in_future"
			case errors.Is(err, tsdb.ErrTooOld):
				return "too_old"
			case errors.Is(err, tsdb.ErrSeriesLimit):
				return "series_limit"
			}
			return ""
		}
		h := newHarness(t, func(o *Options) {
			o.Appender = func() Appender { return db.Appender() }
			o.IsSoftError = func(err error) bool { return reason(err) != "" }
			o.RejectReason = reason
		})
		h.srv.set("a:80", func(w http.ResponseWriter, r *http.Request) {
			now := time.Now()
			text(fmt.Sprintf("skewed_metric 1 %d\nold_metric 1 %d\nfine 1\n",
				now.Add(3*time.Hour).UnixMilli(), now.Add(-3*time.Hour).UnixMilli()))(w, r)
		})
		h.apply(cfgOf(scrapeCfg("test", "a:80")))
		h.run()
		advance(30 * time.Second) // three scrapes
		st := h.target("test")
		h.stop()

		if st.Health != "up" || !strings.Contains(st.LastError, "2 samples refused (too_far_in_future=1, too_old=1)") ||
			!strings.Contains(st.LastError, "skewed_metric") {
			t.Fatalf("target %+v", st)
		}
		for reason, want := range map[string]uint64{"too_far_in_future": 3, "too_old": 3} {
			if got := h.counter("watchdog_scrape_samples_rejected_total", "test", `reason="`+reason+`"`); got != want {
				t.Fatalf("rejected %s = %d, want %d", reason, got, want)
			}
		}
		if s := db.Stats(); s.TooFarInFuture != 3 || s.TooOld != 3 {
			t.Fatalf("store stats %+v", s)
		}
		q, err := db.Querier(0, time.Now().Add(time.Hour).UnixMilli())
		if err != nil {
			t.Fatal(err)
		}
		defer q.Close()
		names, _, err := q.LabelValues(context.Background(), "__name__", nil)
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.Join(names, " "); strings.Contains(got, "skewed_metric") || strings.Contains(got, "old_metric") || !strings.Contains(got, "fine") {
			t.Fatalf("stored metric names %s", got)
		}
	})
}
