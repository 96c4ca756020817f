package e2e

import (
	"net/http"
	"testing"
	"time"

	"github.com/klauspost/compress/snappy"
	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/prompb"

	"github.com/watchdog-sre/watchdog/internal/promtest"
)

// TestRemoteHistogramsThroughToPrometheus runs native histograms through
// the whole chain against a real Prometheus: written into the watchdog's
// remote-write receiver (1.0), summed by a recording rule into a float
// histogram, and both series sent on by the watchdog's remote_write to a
// Prometheus with native histograms on, where histogram_count and
// histogram_sum read them back.
func TestRemoteHistogramsThroughToPrometheus(t *testing.T) {
	parallel(t, 5*time.Second)
	needBinary(t)
	p := promtest.Start(t, promtest.Options{Args: []string{"--enable-feature=native-histograms"}})
	h := startHostile(t, hostileConfig{
		Args:  []string{"--web.enable-remote-write-receiver"},
		Extra: "remote_write:\n" + remoteWriteConfig("prom", p.WriteURL(), ""),
		Rules: map[string]string{"hist.yml": `groups:
  - name: hist
    interval: 1s
    rules:
      - record: job:e2e_latency:sum
        expr: sum by (job) (e2e_latency)
`},
	})

	now := time.Now().UnixMilli()
	var req prompb.WriteRequest
	for i, inst := range []string{"a", "b"} {
		ts := prompb.TimeSeries{Labels: []prompb.Label{{Name: "__name__", Value: "e2e_latency"}, {Name: "instance", Value: inst},
			{Name: "job", Value: "api"}}}
		for k := range 3 {
			n := int64(2 + k + i) // instance a ends at 4 observations, b at 5
			ts.Histograms = append(ts.Histograms, prompb.FromIntHistogram(now-int64(2-k)*1000, &histogram.Histogram{
				Count: uint64(n), Sum: float64(n) / 2, Schema: 1,
				PositiveSpans: []histogram.Span{{Offset: -1, Length: 2}}, PositiveBuckets: []int64{1, n - 2}}))
		}
		req.Timeseries = append(req.Timeseries, ts)
	}
	data, err := req.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	hdr := http.Header{"Content-Type": {"application/x-protobuf"}, "Content-Encoding": {"snappy"},
		"X-Prometheus-Remote-Write-Version": {"0.1.0"}, "Authorization": {"Bearer " + h.token}}
	if resp, body := h.do(t, http.MethodPost, "/api/v1/write", hdr, snappy.Encode(nil, data)); resp.StatusCode != http.StatusNoContent {
		t.Fatalf("write histograms: %d %s, want 204", resp.StatusCode, body)
	}

	want := map[string]float64{
		`histogram_count(e2e_latency{instance="a"})`: 4,
		`histogram_count(e2e_latency{instance="b"})`: 5,
		`histogram_sum(e2e_latency{instance="b"})`:   2.5,
		`histogram_count(job:e2e_latency:sum)`:       9,
		`histogram_sum(job:e2e_latency:sum)`:         4.5,
	}
	deadline := time.Now().Add(60 * time.Second)
	for query, v := range want {
		for {
			got, err := p.Client().Query(query, time.Now())
			if err == nil && len(got) == 1 && len(got[0].Samples) == 1 && got[0].Samples[0].V == v {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("prometheus: %s = %+v (err %v), want %v", query, got, err, v)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	if v, _ := h.metric(t, `watchdog_remote_storage_histograms_total{remote_name="prom",url="`+p.WriteURL()+`"}`); v < 6 {
		t.Errorf("histograms_total = %v, want at least 6 (the input) plus the rule's", v)
	}
}
