package scrape

import (
	"bytes"
	"net/http"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/common/model"
)

// slowCommits delays the n-th Commit by delays[n]; later commits are quick.
// Inside a synctest bubble the delay is fake time.
type slowCommits struct {
	mu     sync.Mutex
	delays []time.Duration
	n      int
}

func (s *slowCommits) wrap(next AppenderFunc) AppenderFunc {
	return func() Appender { return &slowApp{Appender: next(), s: s} }
}

type slowApp struct {
	Appender
	s *slowCommits
}

func (a *slowApp) Commit() error {
	a.s.mu.Lock()
	var d time.Duration
	if a.s.n < len(a.s.delays) {
		d = a.s.delays[a.s.n]
	}
	a.s.n++
	a.s.mu.Unlock()
	time.Sleep(d)
	return a.Appender.Commit()
}

func TestMissedScrapes(t *testing.T) {
	const iv = 10 * time.Second
	hangFirst := func() http.HandlerFunc {
		var once sync.Once
		return func(w http.ResponseWriter, r *http.Request) {
			hang := false
			once.Do(func() { hang = true })
			if hang {
				<-r.Context().Done()
				return
			}
			text("m 1\n")(w, r)
		}
	}
	for _, tc := range []struct {
		name    string
		delays  []time.Duration  // of the first commits
		handler http.HandlerFunc // nil serves "m 1"
		timeout time.Duration    // 0 keeps 5s
		want    uint64           // watchdog_scrape_missed_total
		gaps    []int64          // between the first scrapes' timestamps, in ms
		ups     []float64        // up of the first scrapes
	}{
		{name: "on time", want: 0, gaps: []int64{10000, 10000, 10000}, ups: []float64{1, 1, 1, 1}},
		{name: "scrape a bit longer than the interval", delays: []time.Duration{iv + time.Millisecond},
			want: 1, gaps: []int64{20000, 10000, 10000}, ups: []float64{1, 1, 1, 1}},
		{name: "scrape over two intervals", delays: []time.Duration{25 * time.Second},
			want: 2, gaps: []int64{30000, 10000, 10000}, ups: []float64{1, 1, 1, 1}},
		{name: "two slow scrapes add up", delays: []time.Duration{25 * time.Second, 0, 15 * time.Second},
			want: 3, gaps: []int64{30000, 10000, 20000}, ups: []float64{1, 1, 1, 1}},
		{name: "timeout equal to the interval ends on the next tick", handler: hangFirst(), timeout: iv,
			want: 0, gaps: []int64{10000, 10000, 10000}, ups: []float64{0, 1, 1, 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				slow := &slowCommits{delays: tc.delays}
				h := newHarness(t, func(o *Options) { o.Appender = slow.wrap(o.Appender) })
				handler := tc.handler
				if handler == nil {
					handler = text("m 1\n")
				}
				h.srv.set("a:80", handler)
				sc := scrapeCfg("test", "a:80")
				if tc.timeout != 0 {
					sc.ScrapeTimeout = model.Duration(tc.timeout)
				}
				h.apply(cfgOf(sc))
				h.run()
				advance(2 * time.Minute)
				h.stop()

				up := h.rec.samples("up")
				if len(up) < len(tc.ups) {
					t.Fatalf("up: %v", values(up))
				}
				var gaps []int64
				var ups []float64
				for i, s := range up[:len(tc.ups)] {
					ups = append(ups, s.v)
					if i > 0 {
						gaps = append(gaps, s.t-up[i-1].t)
					}
				}
				mustEqual(t, "gaps between scrapes", gaps, tc.gaps)
				mustEqual(t, "up", ups, tc.ups)
				// Skipped ticks are skipped, not made up: every scrape stays on
				// the target's grid.
				for _, s := range up {
					if (s.t-up[0].t)%iv.Milliseconds() != 0 {
						t.Fatalf("scrape off the grid: %v", values(up))
					}
				}
				if got := h.counter("watchdog_scrape_missed_total", "test"); got != tc.want {
					t.Fatalf("watchdog_scrape_missed_total = %d, want %d", got, tc.want)
				}
			})
		})
	}
}

// TestMissedScrapesExposed checks the counter's name and labels on /metrics.
func TestMissedScrapesExposed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		slow := &slowCommits{delays: []time.Duration{25 * time.Second}}
		h := newHarness(t, func(o *Options) { o.Appender = slow.wrap(o.Appender) })
		h.srv.set("a:80", text("m 1\n"))
		h.apply(cfgOf(scrapeCfg(`we"b`, "a:80")))
		h.run()
		advance(time.Minute)
		h.stop()
		var b bytes.Buffer
		h.set.WritePrometheus(&b)
		mustContain(t, "/metrics", b.String(), `watchdog_scrape_missed_total{job="we\"b"} 2`+"\n")
	})
}
