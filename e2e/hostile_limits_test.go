package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// Reproductions 3 and 7 of issue #11: a target with a wrong clock, a body
// of two million series and a hundred thousand file_sd targets.

// limitsTarget is one target of the job a limits test scrapes.
type limitsTarget struct {
	Health string `json:"health"`
	Error  string `json:"lastError"`
	Pool   string `json:"scrapePool"`
}

// targetsOf returns the active targets of job from /api/v1/targets.
func (h *hostile) targetsOf(t *testing.T, job string) []limitsTarget {
	t.Helper()
	code, body := h.get(t, "/api/v1/targets")
	if code != http.StatusOK {
		t.Fatalf("/api/v1/targets answered %d: %s", code, tail(string(body), 512))
	}
	var resp struct {
		Data struct {
			ActiveTargets []limitsTarget `json:"activeTargets"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &resp); err != nil {
		t.Fatalf("/api/v1/targets: %v", err)
	}
	var out []limitsTarget
	for _, tg := range resp.Data.ActiveTargets {
		if tg.Pool == job {
			out = append(out, tg)
		}
	}
	return out
}

// waitMetric waits until series is at least min and returns its value.
func (h *hostile) waitMetric(t *testing.T, series string, min float64, timeout time.Duration) float64 {
	t.Helper()
	var v float64
	eventually(t, timeout, func() error {
		var ok bool
		if v, ok = h.metric(t, series); !ok || v < min {
			return fmt.Errorf("%s = %v (present %v), want at least %v", series, v, ok, min)
		}
		return nil
	})
	return v
}

// vectorValue runs an instant query and returns the value of its only
// sample (false when the result is empty).
func (h *hostile) vectorValue(t *testing.T, query string) (string, bool) {
	t.Helper()
	code, body := h.get(t, "/api/v1/query?query="+strings.NewReplacer("{", "%7B", "}", "%7D", "\"", "%22", "[", "%5B", "]", "%5D", " ", "%20").Replace(query))
	if code != http.StatusOK {
		t.Fatalf("%s: %d %s", query, code, body)
	}
	var resp struct {
		Data struct {
			Result []struct {
				Value [2]any `json:"value"`
			} `json:"result"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &resp); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	if len(resp.Data.Result) != 1 {
		return "", false
	}
	s, _ := resp.Data.Result[0].Value[1].(string)
	return s, true
}

// TestHostileSkewedClock (reproduction 3): a target three hours ahead used
// to move the retention cutoff with it, so that every garbage collection
// emptied the store. Its future samples are now refused and counted per
// target, and the control job's history survives garbage collection.
func TestHostileSkewedClock(t *testing.T) {
	skewed := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		fmt.Fprintf(w, "skewed_metric 1 %d\nskewed_ok 1\n", time.Now().Add(3*time.Hour).UnixMilli())
	}))
	t.Cleanup(skewed.Close)
	// A retention of two minutes: garbage collection every 12 s instead of
	// every minute at 2h. The skewed sample minus the retention is still
	// hours from now, so the old bug would empty the store just the same.
	h := startHostile(t, hostileConfig{Retention: "2m", Scrape: `
- job_name: skewed
  static_configs: [{targets: ['` + strings.TrimPrefix(skewed.URL, "http://") + `']}]
`})
	start := time.Now()
	h.waitMetric(t, `watchdog_scrape_samples_rejected_total{job="skewed",reason="too_far_in_future"}`, 1, 15*time.Second)
	h.waitMetric(t, `watchdog_tsdb_refused_samples_total{reason="too_far_in_future"}`, 1, 5*time.Second)
	ts := h.targetsOf(t, "skewed")
	if len(ts) != 1 || ts[0].Health != "up" || !strings.Contains(ts[0].Error, "too_far_in_future=1") ||
		!strings.Contains(ts[0].Error, "skewed_metric") {
		t.Fatalf("skewed target %+v: want up, with the refused sample as its last error", ts)
	}

	// One garbage collection (every 12 s at 2m retention): before the fix,
	// its cutoff was the skewed sample minus 2m, about three hours from now.
	h.waitMetric(t, `watchdog_tsdb_gc_runs_total`, 1, 45*time.Second)
	elapsed := time.Since(start)
	got, ok := h.vectorValue(t, `count_over_time(control_ok[10m])`)
	var n float64
	fmt.Sscan(got, &n)
	if !ok || n < elapsed.Seconds()*0.8 {
		t.Fatalf("control history after GC: %q samples (present %v), want about %.0f (one a second)", got, ok, elapsed.Seconds())
	}
	if v, ok := h.vectorValue(t, `skewed_ok`); !ok || v != "1" {
		t.Fatalf("the skewed target's own samples were not kept: %q %v", v, ok)
	}
	if _, ok := h.vectorValue(t, `skewed_metric`); ok {
		t.Fatal("the future sample was stored")
	}
	if !strings.Contains(h.logs(), "samples refused") {
		t.Error("no log line for the refused samples")
	}
	h.assertHealthy(t)
}

// hugeBody is an exposition of two million series (about 20 MB), each
// line "sN 1".
func hugeBody() []byte {
	var b bytes.Buffer
	b.Grow(20 << 20)
	for i := range 2_000_000 {
		fmt.Fprintf(&b, "s%d 1\n", i)
	}
	return b.Bytes()
}

// TestHostileHugeBody (reproduction 7): two million series in one body used
// to keep the first scrape appending for minutes, stop /metrics answering
// and make SIGTERM take a minute. The default sample_limit now refuses the
// body before any series is created, quickly; /metrics answers at once; and
// SIGTERM while a huge body is half received ends the process in a moment.
func TestHostileHugeBody(t *testing.T) {
	body := hugeBody()
	var (
		firstHit atomic.Int64 // unix ns of the first request
		slow     atomic.Bool  // serve half the body, then hang until the request ends
		halfSent = make(chan struct{}, 1)
	)
	huge := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		firstHit.CompareAndSwap(0, time.Now().UnixNano())
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		if !slow.Load() {
			_, _ = w.Write(body)
			return
		}
		_, _ = w.Write(body[:len(body)/2])
		w.(http.Flusher).Flush()
		select {
		case halfSent <- struct{}{}:
		default:
		}
		<-r.Context().Done() // the rest never comes: the scrape is mid-body
	}))
	t.Cleanup(huge.Close)
	h := startHostile(t, hostileConfig{Scrape: `
- job_name: huge
  scrape_interval: 10s
  scrape_timeout: 10s
  static_configs: [{targets: ['` + strings.TrimPrefix(huge.URL, "http://") + `']}]
`})
	h.waitMetric(t, `watchdog_scrape_limit_exceeded_total{job="huge",limit="sample_limit"}`, 1, 30*time.Second)
	refusedAfter := time.Since(time.Unix(0, firstHit.Load()))
	t.Logf("two million series refused %v after the first request", refusedAfter.Round(time.Millisecond))
	if refusedAfter > 10*time.Second {
		t.Errorf("refusing the huge body took %v", refusedAfter)
	}
	ts := h.targetsOf(t, "huge")
	if len(ts) != 1 || ts[0].Health != "down" || !strings.Contains(ts[0].Error, "sample limit exceeded (2000000 samples, limit 200000)") {
		t.Fatalf("huge target %+v: want down with the sample limit", ts)
	}
	if v, ok := h.metric(t, "watchdog_tsdb_active_series"); !ok || v > 1000 {
		t.Fatalf("watchdog_tsdb_active_series = %v (present %v): the refused body's series reached the store", v, ok)
	}
	h.assertHealthy(t)

	// /metrics and SIGTERM while a huge body is half received.
	slow.Store(true)
	select {
	case <-halfSent:
	case <-time.After(15 * time.Second):
		t.Fatal("the huge target was not scraped again")
	}
	for range 5 {
		start := time.Now()
		h.metric(t, "watchdog_tsdb_active_series")
		if took := time.Since(start); took > time.Second {
			t.Errorf("/metrics took %v", took)
		}
	}
	took, ok := h.stop(10 * time.Second)
	t.Logf("SIGTERM during the huge scrape: exited in %v", took.Round(time.Millisecond))
	if !ok || took > 3*time.Second {
		t.Fatalf("SIGTERM took %v (within the 10 s grace: %v)", took, ok)
	}
}

// manyTargetsRSSMiB bounds the peak RSS with a hundred thousand file_sd
// targets: the 6 MB file, its parse and the target_limit loops (measured
// about 200 MiB).
const manyTargetsRSSMiB = 300

// TestHostileManyTargets (reproduction 7): a file_sd file of a hundred
// thousand targets used to start a hundred thousand goroutines and starve
// the other jobs. The default target_limit (10,000) now fails the job —
// every kept target down with the limit, none fetched — with goroutines and
// memory bounded, and the control job on time.
func TestHostileManyTargets(t *testing.T) {
	var fetched atomic.Int64
	sink := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		fetched.Add(1)
		fmt.Fprintln(w, "m 1")
	}))
	t.Cleanup(sink.Close)
	addr := strings.TrimPrefix(sink.URL, "http://")
	targets := make([]string, 100_000)
	for i := range targets {
		// Distinct targets that would all reach the sink: the path differs
		// by a parameter label.
		targets[i] = fmt.Sprintf(`{"targets":["%s"],"labels":{"__param_n":"%d"}}`, addr, i)
	}
	h := startHostile(t, hostileConfig{
		Files: map[string]string{"many.json": "[" + strings.Join(targets, ",") + "]"},
		Scrape: `
- job_name: many
  scrape_interval: 10s
  scrape_timeout: 5s
  file_sd_configs: [{files: [many.json]}]
`,
		MaxRSSMiB: manyTargetsRSSMiB,
	})
	// Reading and relabelling the 6 MB file alone took 24 s on a loaded
	// machine: the deadline leaves room for it.
	h.waitMetric(t, `watchdog_scrape_limit_exceeded_total{job="many",limit="target_limit"}`, 10_000, 60*time.Second)
	// Every target's first (failed) scrape falls somewhere in its 10 s
	// interval: wait for all of them, not for the counter alone (some
	// targets may have counted twice before others counted once).
	eventually(t, 30*time.Second, func() error {
		ts := h.targetsOf(t, "many")
		if len(ts) != 10_000 {
			return fmt.Errorf("%d targets of job many running, want the default target_limit 10000", len(ts))
		}
		for _, tg := range ts {
			if tg.Health != "down" || !strings.Contains(tg.Error, "target_limit exceeded: the job has 100000 targets, its limit is 10000") {
				return fmt.Errorf("target %+v", tg)
			}
		}
		return nil
	})
	if n := fetched.Load(); n != 0 {
		t.Fatalf("%d scrapes of a job over its target_limit", n)
	}
	if v, ok := h.metric(t, "go_goroutines"); !ok || v > 15_000 {
		t.Fatalf("go_goroutines = %v (present %v), want about one per kept target", v, ok)
	}
	// The control job keeps its ticks meanwhile: five more scrapes, then
	// none missed.
	before := h.controlHit.Load()
	eventually(t, 15*time.Second, func() error {
		if n := h.controlHit.Load() - before; n < 5 {
			return fmt.Errorf("control scraped %d more times, want 5", n)
		}
		return nil
	})
	h.assertHealthy(t)
}
