package e2e

import (
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/watchdog-sre/watchdog/internal/promapi"
	"github.com/watchdog-sre/watchdog/internal/promtest"
)

// histTarget is a client_golang target with a native histogram
// (e2e_native_seconds, bucket factor 1.1: schema 3) and a classic one
// (e2e_classic_seconds), served by promhttp, which answers in the
// protobuf format when the scraper asks for it. Observations come in
// batches the test adds, so that both scrapers see the same ones.
type histTarget struct {
	srv             *httptest.Server
	native, classic prometheus.Histogram
	mu              sync.Mutex
}

func newHistTarget(t *testing.T) *histTarget {
	reg := prometheus.NewRegistry()
	h := &histTarget{
		native: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "e2e_native_seconds", Help: "A native histogram.", NativeHistogramBucketFactor: 1.1,
		}),
		classic: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "e2e_classic_seconds", Help: "A classic histogram.", Buckets: []float64{0.1, 0.5, 1, 5},
		}),
	}
	reg.MustRegister(h.native, h.classic)
	handler := promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.mu.Lock() // a scrape never sees half a batch
		defer h.mu.Unlock()
		handler.ServeHTTP(w, r)
	}))
	t.Cleanup(h.srv.Close)
	h.batch()
	return h
}

// batch adds ten observations to each histogram. Native: eight at 0.05
// (one with an exemplar) and two at 3: the 0.9 quantile is in the middle
// of the schema-3 bucket (2^(12/8), 2^(13/8)] holding 3. Classic: four at
// 0.05, four at 0.3, two at 3: the 0.9 quantile is in the middle of the
// (1, 5] bucket.
func (h *histTarget) batch() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for range 7 {
		h.native.Observe(0.05)
	}
	h.native.(prometheus.ExemplarObserver).ObserveWithExemplar(0.05, prometheus.Labels{"trace_id": "e2e-trace"})
	h.native.Observe(3)
	h.native.Observe(3)
	for _, v := range []float64{0.05, 0.05, 0.05, 0.05, 0.3, 0.3, 0.3, 0.3, 3, 3} {
		h.classic.Observe(v)
	}
}

func (h *histTarget) addr() string { return strings.TrimPrefix(h.srv.URL, "http://") }

// scalar runs an instant query at at and returns its single value.
func scalar(c promapi.Client, q string, at time.Time) (float64, error) {
	res, err := c.Query(q, at)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", q, err)
	}
	if len(res) != 1 || len(res[0].Samples) != 1 {
		return 0, fmt.Errorf("%s: %d series, want one value", q, len(res))
	}
	return res[0].Samples[0].V, nil
}

// envPrometheus3 names the environment variable of a Prometheus v3 binary
// (v0.316.0's cmd/prometheus, which .ci/run builds into a scratch GOBIN)
// that TestNativeHistogramsAgainstPrometheus compares with as well.
const envPrometheus3 = "WATCHDOG_TEST_PROMETHEUS3"

// prometheus3 returns the Prometheus v3 binary, or "".
func prometheus3() string {
	if p := os.Getenv(envPrometheus3); p != "" {
		return p
	}
	if home, err := os.UserHomeDir(); err == nil {
		p := filepath.Join(home, ".cache", "watchdog-gobin", "prometheus")
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return ""
}

// histComparison is one query compared between the watchdog and a
// Prometheus.
type histComparison struct {
	name     string
	wd, prom string // prom "" is the same as wd
	// tol is the relative tolerance: 0 for results that do not depend
	// on when each server scraped. A rate over a window depends on it:
	// the two servers scrape at different offsets of the second, and
	// rate extrapolates the increase to the window's edges from the
	// first and last samples in it, so the two rates differ by up to
	// about one scrape interval over the ~7 s of data (the quantiles do
	// not: extrapolation scales every bucket alike).
	tol float64
	// exact, when set, is what the watchdog must answer (to 1e-12).
	exact float64
}

// TestNativeHistogramsAgainstPrometheus (acceptance 4 of issue #14): the
// same client_golang target, scraped over protobuf by the watchdog and by
// a real Prometheus — Debian's 2.42 with --enable-feature=native-histograms,
// and v0.316.0 (v3) when prometheus3() finds it — gives the same
// histogram_quantile, histogram_count and histogram_sum results. Its
// classic histogram, converted to a custom-bucket native histogram by the
// watchdog (convert_classic_histograms_to_nhcb), gives the quantile 2.42
// computes from the classic _bucket series, and the one v3 computes from
// its own NHCB conversion. The watchdog also keeps the native histogram's
// exemplar and metadata.
func TestNativeHistogramsAgainstPrometheus(t *testing.T) {
	parallel(t, 15*time.Second)
	needBinary(t)
	target := newHistTarget(t)
	job := "  - job_name: hist\n    scrape_interval: 1s\n    scrape_timeout: 1s\n" +
		"    static_configs:\n      - targets: ['" + target.addr() + "']\n"
	histKeys := "    scrape_native_histograms: true\n    convert_classic_histograms_to_nhcb: true\n"
	proms := map[string]*promtest.Server{"prometheus-2.42": promtest.Start(t, promtest.Options{
		Config: "global:\n  scrape_interval: 1s\nscrape_configs:\n" + job,
		Args:   []string{"--enable-feature=native-histograms"},
	})}
	if bin := prometheus3(); bin != "" {
		proms["prometheus-3"] = promtest.Start(t, promtest.Options{
			Binary: bin, Config: "global:\n  scrape_interval: 1s\nscrape_configs:\n" + job + histKeys,
		})
	} else {
		t.Logf("no Prometheus v3 (%s, or ~/.cache/watchdog-gobin/prometheus, built by WATCHDOG_CI_BUILD_PROMETHEUS3=1 bash .ci/run): comparing with 2.42 only", envPrometheus3)
	}
	wd := startRemoteWD(t, "hist", "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n"+job+histKeys)
	clients := map[string]promapi.Client{"watchdog": wd.client()}
	for name, p := range proms {
		clients[name] = p.Client()
	}

	// Every server must have scraped the first batch a few times before
	// the second one, so that every rate window below starts before it.
	waitCount := func(want float64) {
		eventually(t, 30*time.Second, func() error {
			for name, c := range clients {
				v, err := scalar(c, "histogram_count(e2e_native_seconds)", time.Now())
				if err != nil || v != want {
					return fmt.Errorf("%s: histogram_count = %v, %v; want %v", name, v, err, want)
				}
			}
			return nil
		})
	}
	waitCount(10)
	time.Sleep(3 * time.Second)
	target.batch()
	waitCount(20)
	time.Sleep(2 * time.Second)
	at := time.Now().Add(-time.Second)

	common := []histComparison{
		{"native count", "histogram_count(sum(e2e_native_seconds))", "", 0, 20},
		{"native sum", "histogram_sum(sum(e2e_native_seconds))", "", 1e-12, 0},
		{"native count of rate", "histogram_count(sum(rate(e2e_native_seconds[1m])))", "", 0.2, 0},
	}
	nativeQuantile := "histogram_quantile(0.9, sum(rate(e2e_native_seconds[1m])))"
	nhcbQuantile := "histogram_quantile(0.9, sum(rate(e2e_classic_seconds[1m])))"
	perServer := map[string][]histComparison{
		// Within an exponential bucket, Prometheus v3's engine (the
		// watchdog's) interpolates exponentially: the middle of (a, b] is
		// sqrt(ab) = 2^(12.5/8); Prometheus 2.42 interpolates linearly,
		// (a+b)/2, 0.1% higher. That, not timing, is the tolerance here.
		"prometheus-2.42": {
			{"native quantile", nativeQuantile, "", 0.002, math.Exp2(12.5 / 8)},
			{"NHCB quantile vs classic", nhcbQuantile,
				"histogram_quantile(0.9, sum by (le) (rate(e2e_classic_seconds_bucket[1m])))", 1e-9, 3},
			{"NHCB count vs classic", "histogram_count(sum(e2e_classic_seconds))", "sum(e2e_classic_seconds_count)", 0, 20},
		},
		"prometheus-3": {
			{"native quantile", nativeQuantile, "", 1e-12, math.Exp2(12.5 / 8)},
			{"NHCB quantile", nhcbQuantile, "", 1e-12, 3},
			{"NHCB count", "histogram_count(sum(e2e_classic_seconds))", "", 0, 20},
		},
	}
	for name, prom := range proms {
		for _, tt := range append(perServer[name], common...) {
			t.Run(name+"/"+tt.name, func(t *testing.T) {
				compareHist(t, wd.client(), prom.Client(), tt, at)
			})
		}
	}

	// The exemplar of the native histogram and the metadata are kept.
	var ex []struct {
		SeriesLabels map[string]string `json:"seriesLabels"`
		Exemplars    []struct {
			Labels map[string]string `json:"labels"`
			Value  string            `json:"value"`
		} `json:"exemplars"`
	}
	wd.getJSON(t, "/api/v1/query_exemplars?query=e2e_native_seconds", &ex)
	if len(ex) != 1 || len(ex[0].Exemplars) == 0 || ex[0].Exemplars[0].Labels["trace_id"] != "e2e-trace" ||
		ex[0].Exemplars[0].Value != "0.05" {
		t.Errorf("exemplars = %+v", ex)
	}
	var md map[string][]struct{ Type, Help string }
	wd.getJSON(t, "/api/v1/metadata?metric=e2e_native_seconds", &md)
	if m := md["e2e_native_seconds"]; len(m) != 1 || m[0].Type != "histogram" || m[0].Help != "A native histogram." {
		t.Errorf("metadata = %+v", md)
	}
}

// compareHist runs tt on the watchdog and on prom at at.
func compareHist(t *testing.T, wd, prom promapi.Client, tt histComparison, at time.Time) {
	pq := tt.prom
	if pq == "" {
		pq = tt.wd
	}
	w, err := scalar(wd, tt.wd, at)
	if err != nil {
		t.Fatalf("watchdog: %v", err)
	}
	p, err := scalar(prom, pq, at)
	if err != nil {
		t.Fatalf("prometheus: %v", err)
	}
	if tt.exact != 0 && math.Abs(w-tt.exact) > 1e-12*tt.exact {
		t.Errorf("watchdog %s = %v, want %v", tt.wd, w, tt.exact)
	}
	if math.Abs(w-p) > tt.tol*math.Abs(p) || math.IsNaN(w) != math.IsNaN(p) {
		t.Errorf("watchdog %s = %v, prometheus %s = %v (tolerance %v)", tt.wd, w, pq, p, tt.tol)
	}
	t.Logf("watchdog %v, prometheus %v", w, p)
}
