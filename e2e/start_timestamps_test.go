package e2e

import (
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/watchdog-sre/watchdog/internal/promapi"
	"github.com/watchdog-sre/watchdog/internal/promtest"
)

// stFeatures are Prometheus's start timestamp features, given to both.
const stFeatures = "--enable-feature=st-storage,created-timestamp-zero-ingestion,use-start-timestamps"

// TestStartTimestampsAgainstPrometheus: one client_golang counter, served
// as protobuf (job proto, default scrape_protocols) and as OpenMetrics
// with _created lines (job om), scraped by the watchdog and by Prometheus
// v0.316.0, both with st-storage, created-timestamp-zero-ingestion and
// use-start-timestamps: both store the zero sample at the counter's
// created time, then its value, and neither stores a _created series.
func TestStartTimestampsAgainstPrometheus(t *testing.T) {
	parallel(t, 10*time.Second)
	needBinary(t)
	bin := prometheus3()
	if bin == "" {
		t.Skipf("no Prometheus v3 (%s, or ~/.cache/watchdog-gobin/prometheus, built by WATCHDOG_CI_BUILD_PROMETHEUS3=1 bash .ci/run)", envPrometheus3)
	}
	reg := prometheus.NewRegistry()
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: "e2e_st_jobs_total", Help: "Jobs."})
	reg.MustRegister(c)
	c.Add(5)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	created := mfs[0].Metric[0].GetCounter().GetCreatedTimestamp().AsTime().UnixMilli()
	proto := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	defer proto.Close()
	om := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{EnableOpenMetrics: true, EnableOpenMetricsTextCreatedSamples: true}))
	defer om.Close()
	jobs := "scrape_configs:\n" +
		"  - job_name: proto\n    static_configs: [{targets: ['" + strings.TrimPrefix(proto.URL, "http://") + "']}]\n" +
		"  - job_name: om\n    scrape_protocols: [OpenMetricsText1.0.0]\n" +
		"    static_configs: [{targets: ['" + strings.TrimPrefix(om.URL, "http://") + "']}]\n"
	global := "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
	prom := promtest.Start(t, promtest.Options{Binary: bin, Config: global + jobs, Args: []string{stFeatures}})
	wd := startRemoteWD(t, "st", global+jobs, stFeatures)
	clients := map[string]promapi.Client{"watchdog": wd.client(), "prometheus": prom.Client()}

	for _, job := range []string{"proto", "om"} {
		sel := `e2e_st_jobs_total{job="` + job + `"}`
		eventually(t, 30*time.Second, func() error {
			for name, cl := range clients {
				res, err := cl.Raw(sel, time.Now(), 5*time.Minute)
				if err != nil {
					return fmt.Errorf("%s: %w", name, err)
				}
				if len(res) != 1 || len(res[0].Samples) < 3 {
					return fmt.Errorf("%s: %s: %v, want one series of 3 samples or more", name, sel, res)
				}
				s := res[0].Samples
				if s[0] != (promapi.Sample{T: created, V: 0}) || s[1].V != 5 || s[1].T <= created {
					return fmt.Errorf("%s: %s starts %v, want the zero sample at %d then 5", name, sel, s[:2], created)
				}
			}
			return nil
		})
		for name, cl := range clients {
			if res, err := cl.Query(`e2e_st_jobs_created{job="`+job+`"}`, time.Now()); err != nil || len(res) != 0 {
				t.Errorf("%s: e2e_st_jobs_created = %v, %v; want no series", name, res, err)
			}
		}
	}
	// Both engines use the start timestamps the same way: the increase
	// since the counter was created is its value on both. Each is asked at
	// the time of its own last sample, so that no extrapolation past that
	// sample (which grows with a late evaluation on a loaded machine) adds
	// to the answer.
	for name, cl := range clients {
		last, err := scalar(cl, `timestamp(e2e_st_jobs_total{job="proto"})`, time.Now())
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		at := time.UnixMilli(int64(last * 1000))
		v, err := scalar(cl, `sum(increase(e2e_st_jobs_total{job="proto"}[10m]))`, at)
		t.Logf("%s: increase over the counter's life at its last sample: %v", name, v)
		if err != nil || v < 5 || v > 5.25 {
			t.Errorf("%s: increase over the counter's life at its last sample = %v, %v; want 5 (up to extrapolation)", name, v, err)
		}
	}
}
