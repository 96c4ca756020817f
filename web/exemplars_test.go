package web

import (
	"encoding/json"
	"net/url"
	"testing"

	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/exemplar"
	"github.com/prometheus/prometheus/model/labels"

	"github.com/watchdog-sre/watchdog/scrape"
	"github.com/watchdog-sre/watchdog/tsdb"
)

func testMetadata() []scrape.TargetMetadata {
	node := map[string]scrape.Metadata{
		"node_cpu_seconds": {Type: model.MetricTypeCounter, Help: "CPU time.", Unit: "seconds"},
		"node_load1":       {Type: model.MetricTypeGauge, Help: "Load."},
	}
	return []scrape.TargetMetadata{
		{Job: "node", Labels: labels.FromStrings("instance", "a:9100", "job", "node"), Families: node},
		{Job: "node", Labels: labels.FromStrings("instance", "b:9100", "job", "node"), Families: map[string]scrape.Metadata{
			"node_load1": {Type: model.MetricTypeGauge, Help: "Load average."},
		}},
		{Job: "api", Labels: labels.FromStrings("instance", "c:80", "job", "api"), Families: map[string]scrape.Metadata{
			"http_requests": {Type: model.MetricTypeCounter, Help: "Requests."},
		}},
	}
}

// TestMetadataEndpoints: /api/v1/metadata and /api/v1/targets/metadata
// answer in Prometheus's shapes (checked by decoding with client_golang's
// types) with its parameters.
func TestMetadataEndpoints(t *testing.T) {
	srv, _ := newTestServer(t, Options{Metadata: testMetadata})
	tests := []struct {
		name, path string
		form       url.Values
		code       int
	}{
		{"metadata_all", "/api/v1/metadata", nil, 200},
		{"metadata_metric", "/api/v1/metadata", url.Values{"metric": {"node_load1"}}, 200},
		{"metadata_limits", "/api/v1/metadata", url.Values{"limit": {"2"}, "limit_per_metric": {"1"}}, 200},
		{"metadata_limit_zero", "/api/v1/metadata", url.Values{"limit": {"0"}}, 200},
		{"metadata_bad_limit", "/api/v1/metadata", url.Values{"limit": {"x"}}, 400},
		{"targets_metadata_all", "/api/v1/targets/metadata", nil, 200},
		{"targets_metadata_match", "/api/v1/targets/metadata", url.Values{"match_target": {`{job="node"}`}, "metric": {"node_load1"}}, 200},
		{"targets_metadata_limit", "/api/v1/targets/metadata", url.Values{"limit": {"1"}}, 200},
		{"targets_metadata_bad_match", "/api/v1/targets/metadata", url.Values{"match_target": {`{job=`}}, 400},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp := do(t, srv, "GET", tc.path, tc.form, nil)
			if resp.code != tc.code {
				t.Fatalf("status %d, want %d: %s", resp.code, tc.code, resp.body)
			}
			checkGolden(t, tc.name, resp.body)
			if tc.code != 200 {
				return
			}
			var env struct {
				Data json.RawMessage `json:"data"`
			}
			if err := json.Unmarshal(resp.body, &env); err != nil {
				t.Fatal(err)
			}
			var err error
			if tc.path == "/api/v1/metadata" {
				var md map[string][]v1.Metadata
				err = json.Unmarshal(env.Data, &md)
			} else {
				var md []v1.MetricMetadata
				err = json.Unmarshal(env.Data, &md)
			}
			if err != nil {
				t.Errorf("client_golang cannot decode %s: %v", env.Data, err)
			}
		})
	}
}

// TestQueryExemplars: /api/v1/query_exemplars answers the exemplars of the
// series the query's selectors select, within start and end, in
// Prometheus's shape.
func TestQueryExemplars(t *testing.T) {
	ex := tsdb.NewExemplars(100)
	for _, a := range []struct {
		job string
		ts  int64
		v   float64
	}{{"api", 1000, 0.5}, {"api", 2000, 1.5}, {"db", 1500, 7}} {
		err := ex.AppendExemplar(labels.FromStrings("__name__", "req_seconds_bucket", "job", a.job, "le", "1"),
			exemplar.Exemplar{Labels: labels.FromStrings("trace_id", "t"+a.job), Value: a.v, Ts: a.ts, HasTs: true})
		if err != nil {
			t.Fatal(err)
		}
	}
	srv, _ := newTestServer(t, Options{Exemplars: ex})
	tests := []struct {
		name string
		form url.Values
		code int
	}{
		{"exemplars_all", url.Values{"query": {`histogram_quantile(0.9, rate(req_seconds_bucket[5m]))`}}, 200},
		{"exemplars_range", url.Values{"query": {`req_seconds_bucket{job="api"}`}, "start": {"1.5"}, "end": {"3"}}, 200},
		{"exemplars_none", url.Values{"query": {`other`}}, 200},
		{"exemplars_bad_query", url.Values{"query": {`rate(`}}, 400},
		{"exemplars_bad_range", url.Values{"query": {`x`}, "start": {"3"}, "end": {"1"}}, 400},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp := do(t, srv, "GET", "/api/v1/query_exemplars", tc.form, nil)
			if resp.code != tc.code {
				t.Fatalf("status %d, want %d: %s", resp.code, tc.code, resp.body)
			}
			checkGolden(t, tc.name, resp.body)
			if tc.code != 200 {
				return
			}
			var env struct {
				Data []v1.ExemplarQueryResult `json:"data"`
			}
			if err := json.Unmarshal(resp.body, &env); err != nil {
				t.Errorf("client_golang cannot decode: %v", err)
			}
		})
	}
}
