package e2e

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/snappy"
	"github.com/prometheus/client_golang/exp/api/remote"
	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/prompb"
	writev2 "github.com/prometheus/prometheus/prompb/io/prometheus/write/v2"
)

// rwBearerTransport adds the API token to every request.
type rwBearerTransport struct{ token string }

func (b rwBearerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+b.token)
	return http.DefaultTransport.RoundTrip(r)
}

// TestRemoteReceive runs the binary with --web.enable-remote-write-receiver,
// writes to it with Remote-Write 1.0 (raw protobuf + snappy) and 2.0
// (client_golang's sender, which checks the written headers), and reads
// the samples back with /api/v1/query. Hostile bodies are refused without
// hurting the process.
func TestRemoteReceive(t *testing.T) {
	parallel(t, 5*time.Second)
	h := startHostile(t, hostileConfig{Args: []string{"--web.enable-remote-write-receiver"}})
	now := time.Now().UnixMilli()

	// 1.0: two series, three samples each; the newest value is read back.
	var req prompb.WriteRequest
	for _, inst := range []string{"a", "b"} {
		ts := prompb.TimeSeries{Labels: []prompb.Label{{Name: "__name__", Value: "rw_v1_total"}, {Name: "instance", Value: inst}}}
		for i := range 3 {
			ts.Samples = append(ts.Samples, prompb.Sample{Timestamp: now - int64(2-i)*1000, Value: float64(10*i) + 1})
		}
		req.Timeseries = append(req.Timeseries, ts)
	}
	data, err := req.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	hdr := http.Header{"Content-Type": {"application/x-protobuf"}, "Content-Encoding": {"snappy"},
		"X-Prometheus-Remote-Write-Version": {"0.1.0"}}
	if resp, body := h.do(t, http.MethodPost, "/api/v1/write", hdr, snappy.Encode(nil, data)); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("1.0 without token: %d %s, want 401", resp.StatusCode, body)
	}
	hdr.Set("Authorization", "Bearer "+h.token)
	if resp, body := h.do(t, http.MethodPost, "/api/v1/write", hdr, snappy.Encode(nil, data)); resp.StatusCode != http.StatusNoContent {
		t.Fatalf("1.0 write: %d %s, want 204", resp.StatusCode, body)
	}
	for _, inst := range []string{"a", "b"} {
		if v, ok := h.vectorValue(t, `rw_v1_total{instance="`+inst+`"}`); !ok || v != "21" {
			t.Errorf("rw_v1_total{instance=%q} = %q (found %v), want 21", inst, v, ok)
		}
	}

	// 2.0 through client_golang's sender.
	api, err := remote.NewAPI(h.url, remote.WithAPIHTTPClient(&http.Client{Transport: rwBearerTransport{h.token}, Timeout: 30 * time.Second}),
		remote.WithAPIPath("/api/v1/write"), remote.WithAPIBackoff(remote.BackoffConfig{Min: time.Millisecond, Max: time.Millisecond, MaxRetries: 1}))
	if err != nil {
		t.Fatal(err)
	}
	st := writev2.NewSymbolTable()
	v2 := writev2.Request{Timeseries: []writev2.TimeSeries{
		{LabelsRefs: st.SymbolizeLabels(labels.FromStrings("__name__", "rw_v2_gauge", "zone", "x"), nil),
			Samples:   []writev2.Sample{{Timestamp: now - 1000, Value: 4}, {Timestamp: now, Value: 42}},
			Exemplars: []writev2.Exemplar{{Value: 42, Timestamp: now}}},
	}}
	v2.Symbols = st.Symbols()
	stats, err := api.Write(context.Background(), remote.WriteV2MessageType, &v2)
	if err != nil {
		t.Fatalf("2.0 write: %v", err)
	}
	if stats.Samples != 2 || stats.Histograms != 0 || stats.Exemplars != 1 {
		t.Errorf("2.0 written stats %+v, want 2 samples, no histograms, 1 exemplar (accepted and discarded)", stats)
	}
	if v, ok := h.vectorValue(t, `rw_v2_gauge{zone="x"}`); !ok || v != "42" {
		t.Errorf(`rw_v2_gauge{zone="x"} = %q (found %v), want 42`, v, ok)
	}

	// 2.0 with native histograms: the valid one is stored beside the float
	// series; one whose spans do not match its buckets is refused with 400
	// and counted.
	st.Reset()
	v2 = writev2.Request{Timeseries: []writev2.TimeSeries{
		{LabelsRefs: st.SymbolizeLabels(labels.FromStrings("__name__", "rw_v2_hist"), nil),
			Histograms: []writev2.Histogram{writev2.FromIntHistogram(0, now, &histogram.Histogram{Count: 3, Sum: 1,
				PositiveSpans: []histogram.Span{{Offset: 0, Length: 2}}, PositiveBuckets: []int64{1, 1}})}},
		{LabelsRefs: st.SymbolizeLabels(labels.FromStrings("__name__", "rw_v2_bad_hist"), nil),
			Histograms: []writev2.Histogram{writev2.FromIntHistogram(0, now, &histogram.Histogram{Count: 3, Sum: 1,
				PositiveSpans: []histogram.Span{{Offset: 0, Length: 5}}, PositiveBuckets: []int64{1, 1}})}},
		{LabelsRefs: st.SymbolizeLabels(labels.FromStrings("__name__", "rw_v2_beside_hist"), nil),
			Samples: []writev2.Sample{{Timestamp: now, Value: 7}}},
	}}
	v2.Symbols = st.Symbols()
	data, err = v2.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	hdr.Set("Content-Type", "application/x-protobuf;proto=io.prometheus.write.v2.Request")
	hdr.Set("X-Prometheus-Remote-Write-Version", "2.0.0")
	resp, body := h.do(t, http.MethodPost, "/api/v1/write", hdr, snappy.Encode(nil, data))
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), "1 invalid_histogram") ||
		resp.Header.Get("X-Prometheus-Remote-Write-Samples-Written") != "1" ||
		resp.Header.Get("X-Prometheus-Remote-Write-Histograms-Written") != "1" {
		t.Errorf("2.0 with histograms: %d %s %v, want 400 naming invalid_histogram, 1 sample and 1 histogram written", resp.StatusCode, body, resp.Header)
	}
	if v, ok := h.vectorValue(t, `rw_v2_beside_hist`); !ok || v != "7" {
		t.Errorf("rw_v2_beside_hist = %q (found %v), want 7", v, ok)
	}
	if v, ok := h.vectorValue(t, `histogram_count(rw_v2_hist)`); !ok || v != "3" {
		t.Errorf("histogram_count(rw_v2_hist) = %q (found %v), want 3", v, ok)
	}
	if v, _ := h.metric(t, `watchdog_remote_write_refused_samples_total{reason="invalid_histogram"}`); v != 1 {
		t.Errorf("invalid_histogram refusals %v, want 1", v)
	}
	if v, _ := h.metric(t, `watchdog_remote_write_received_histograms_total`); v != 1 {
		t.Errorf("received histograms %v, want 1", v)
	}

	// Too old for the 2h retention: refused, counted, 400.
	data, _ = (&prompb.WriteRequest{Timeseries: []prompb.TimeSeries{{
		Labels:  []prompb.Label{{Name: "__name__", Value: "rw_old"}},
		Samples: []prompb.Sample{{Timestamp: now - 3*3600*1000, Value: 1}}}}}).Marshal()
	hdr.Set("Content-Type", "application/x-protobuf;proto=prometheus.WriteRequest")
	if resp, body := h.do(t, http.MethodPost, "/api/v1/write", hdr, snappy.Encode(nil, data)); resp.StatusCode != http.StatusBadRequest ||
		!strings.Contains(string(body), "too_old") {
		t.Errorf("too old sample: %d %s, want 400 naming too_old", resp.StatusCode, body)
	}

	// A snappy header announcing 1 GiB, and garbage: refused cheaply.
	b := []byte{0x80, 0x80, 0x80, 0x80, 0x04, 0x00}
	if resp, body := h.do(t, http.MethodPost, "/api/v1/write", hdr, b); resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("snappy bomb: %d %s, want 413", resp.StatusCode, body)
	}
	if resp, body := h.do(t, http.MethodPost, "/api/v1/write", hdr, []byte("garbage")); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("garbage: %d %s, want 400", resp.StatusCode, body)
	}
	if v, _ := h.metric(t, "watchdog_remote_write_received_samples_total"); v != 9 {
		t.Errorf("received samples %v, want 9 (6 + 2 + 1)", v)
	}
	if v, _ := h.metric(t, `watchdog_http_requests_total{handler="/api/v1/write",code="204"}`); v != 2 {
		t.Errorf("204 answers %v, want 2", v)
	}
	t.Log("written: " + strconv.Itoa(stats.Samples) + " samples by the 2.0 client")
	h.assertHealthy(t)
}

// TestRemoteReceiveAsDatasource runs two watchdogs: B receives remote
// write, A has B as its datasource. A's rule fires on a series only B
// holds, A writes ALERTS locally, and the rule is healthy.
func TestRemoteReceiveAsDatasource(t *testing.T) {
	parallel(t, 5*time.Second)
	b := startHostile(t, hostileConfig{Args: []string{"--web.enable-remote-write-receiver"}})
	data, err := (&prompb.WriteRequest{Timeseries: []prompb.TimeSeries{{
		Labels:  []prompb.Label{{Name: "__name__", Value: "ds_e2e_errors"}, {Name: "team", Value: "b"}},
		Samples: []prompb.Sample{{Timestamp: time.Now().UnixMilli(), Value: 5}}}}}).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	hdr := http.Header{"Content-Type": {"application/x-protobuf"}, "Content-Encoding": {"snappy"},
		"Authorization": {"Bearer " + b.token}}
	if resp, body := b.do(t, http.MethodPost, "/api/v1/write", hdr, snappy.Encode(nil, data)); resp.StatusCode != http.StatusNoContent {
		t.Fatalf("write to B: %d %s", resp.StatusCode, body)
	}
	a := startHostile(t, hostileConfig{
		Rules: map[string]string{"ds.yml": "groups:\n  - name: ds\n    rules:\n      - alert: DsE2E\n        expr: ds_e2e_errors > 3\n" +
			"        labels: {severity: page}\n"},
		Extra: "datasource:\n  url: " + b.url + "\n  timeout: 5s\n",
	})
	eventually(t, 20*time.Second, func() error {
		code, body := a.get(t, "/api/v1/alerts")
		if code != http.StatusOK || !strings.Contains(string(body), `"alertname":"DsE2E"`) || !strings.Contains(string(body), `"state":"firing"`) {
			return fmt.Errorf("DsE2E not firing on A: %d %s", code, body)
		}
		return nil
	})
	if v, ok := a.vectorValue(t, `ALERTS{alertname="DsE2E",alertstate="firing"}`); !ok || v != "1" {
		t.Errorf("A's local ALERTS for DsE2E = %q (found %v), want 1", v, ok)
	}
	if _, ok := a.vectorValue(t, `ds_e2e_errors`); ok {
		t.Error("A holds ds_e2e_errors locally; the test would not show the datasource is used")
	}
	code, body := a.get(t, "/api/v1/rules")
	if code != http.StatusOK || !strings.Contains(string(body), `"health":"ok"`) || strings.Contains(string(body), `"health":"err"`) {
		t.Errorf("A's rules: %d %s, want healthy", code, body)
	}
}
