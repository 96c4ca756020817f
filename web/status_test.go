package web

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"

	"github.com/watchdog-sre/watchdog/internal/querylimit"
)

// fakeAdmin records the admin calls.
type fakeAdmin struct {
	calls []string
	err   error
}

func (f *fakeAdmin) Snapshot(skipHead bool) (string, error) {
	f.calls = append(f.calls, fmt.Sprintf("snapshot skip_head=%v", skipHead))
	return "snapshot.wds", f.err
}

func (f *fakeAdmin) DeleteSeries(_ context.Context, mint, maxt int64, ms ...*labels.Matcher) error {
	f.calls = append(f.calls, fmt.Sprintf("delete %d %d %v", mint, maxt, ms))
	return f.err
}

func (f *fakeAdmin) CleanTombstones() error {
	f.calls = append(f.calls, "clean")
	return f.err
}

func statusOpts(admin Admin) Options {
	return Options{
		Token: "tok",
		Flags: map[string]string{"web.listen-address": "127.0.0.1:9190", "config": "watchdog.yml"},
		Config: func() string {
			return "global:\n  scrape_interval: 15s\n"
		},
		TSDBStatus: func(limit int) TSDBStatus {
			return TSDBStatus{
				HeadStats:                  HeadStats{NumSeries: 5, NumLabelPairs: 9, ChunkCount: 5, MinTime: 0, MaxTime: 1500000},
				SeriesCountByMetricName:    []TSDBStat{{"metric", 2}, {"other", 1}}[:min(2, limit)],
				LabelValueCountByLabelName: []TSDBStat{{"__name__", 4}},
			}
		},
		Alertmanagers: func() []string {
			return []string{"http://am:9093/api/v2/alerts", "http://127.0.0.1:9190/api/v2/alerts"}
		},
		Runtime: func() RuntimeInfo {
			return RuntimeInfo{StartTime: time.Unix(100, 0).UTC(), ReloadConfigSuccess: true,
				LastConfigTime: time.Unix(200, 0).UTC(), StorageRetention: "2h"}
		},
		Admin: admin,
	}
}

// TestStatusGolden: the status, parse_query and admin endpoints answer in
// Prometheus's shapes.
func TestStatusGolden(t *testing.T) {
	srv, _ := newTestServer(t, statusOpts(&fakeAdmin{}))
	empty, _ := newTestServer(t, Options{})
	tests := []struct {
		name   string
		empty  bool // the handler built from zero Options
		method string
		path   string
		form   url.Values
		code   int
	}{
		{"status_flags", false, "GET", "/api/v1/status/flags", nil, 200},
		{"status_flags_none", true, "GET", "/api/v1/status/flags", nil, 200},
		{"status_config", false, "GET", "/api/v1/status/config", nil, 200},
		{"status_tsdb", false, "GET", "/api/v1/status/tsdb", nil, 200},
		{"status_tsdb_limit", false, "GET", "/api/v1/status/tsdb", url.Values{"limit": {"1"}}, 200},
		{"status_tsdb_empty", true, "GET", "/api/v1/status/tsdb", nil, 200},
		{"status_tsdb_bad_limit", false, "GET", "/api/v1/status/tsdb", url.Values{"limit": {"0"}}, 400},
		{"status_tsdb_huge_limit", false, "GET", "/api/v1/status/tsdb", url.Values{"limit": {"10001"}}, 400},
		{"status_tsdb_blocks", false, "GET", "/api/v1/status/tsdb/blocks", nil, 200},
		{"status_walreplay", false, "GET", "/api/v1/status/walreplay", nil, 200},
		{"alertmanagers", false, "GET", "/api/v1/alertmanagers", nil, 200},
		{"alertmanagers_none", true, "GET", "/api/v1/alertmanagers", nil, 200},
		{"parse_query_selectors", false, "GET", "/api/v1/parse_query",
			url.Values{"query": {`rate(metric{job="shop",a=~"1|2"}[5m] offset 1m @ start())`}}, 200},
		{"parse_query_binary", false, "POST", "/api/v1/parse_query",
			url.Values{"query": {`sum by (job) (metric) / on(job) group_left(a) -other > bool 1`}}, 200},
		{"parse_query_subquery", false, "GET", "/api/v1/parse_query",
			url.Values{"query": {`max_over_time((metric + 1)[10m:30s] offset -5s) or topk(3, -vector(2))`}}, 200},
		{"parse_query_aggregation_param", false, "GET", "/api/v1/parse_query",
			url.Values{"query": {`quantile without(a) (0.9, metric)`}}, 200},
		{"parse_query_duration_expr", false, "GET", "/api/v1/parse_query",
			url.Values{"query": {`foo[5m+1m] offset (10m/2)`}}, 200},
		{"parse_query_bad", false, "GET", "/api/v1/parse_query", url.Values{"query": {"sum("}}, 400},
		{"admin_disabled", true, "POST", "/api/v1/admin/tsdb/clean_tombstones", nil, 403},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := srv
			if tc.empty {
				s = empty
			}
			resp := do(t, s, tc.method, tc.path, tc.form, nil)
			if resp.code != tc.code {
				t.Errorf("status %d, want %d; body %s", resp.code, tc.code, resp.body)
			}
			checkGolden(t, tc.name, resp.body)
		})
	}
}

// TestRuntimeInfo: the handler fills the process's runtime fields next to
// those the caller gives.
func TestRuntimeInfo(t *testing.T) {
	srv, _ := newTestServer(t, statusOpts(nil))
	resp := do(t, srv, "GET", "/api/v1/status/runtimeinfo", nil, nil)
	var env struct {
		Status string      `json:"status"`
		Data   RuntimeInfo `json:"data"`
	}
	if err := json.Unmarshal(resp.body, &env); err != nil || resp.code != 200 {
		t.Fatalf("%d %s: %v", resp.code, resp.body, err)
	}
	d := env.Data
	if !d.StartTime.Equal(time.Unix(100, 0)) || !d.ReloadConfigSuccess || d.StorageRetention != "2h" ||
		d.GOMAXPROCS < 1 || d.GoroutineCount < 1 || d.CWD == "" || !d.ServerTime.Equal(time.Unix(600, 0)) || d.GOMEMLIMIT <= 0 {
		t.Fatalf("runtimeinfo %+v", d)
	}
}

// TestAdminEndpoints: every admin call needs the token, gets its
// parameters parsed, and maps the store's errors.
func TestAdminEndpoints(t *testing.T) {
	admin := &fakeAdmin{}
	srv, _ := newTestServer(t, statusOpts(admin))
	auth := map[string]string{"Authorization": "Bearer tok"}
	for _, path := range []string{"snapshot", "delete_series", "clean_tombstones"} {
		if resp := do(t, srv, "POST", "/api/v1/admin/tsdb/"+path, url.Values{"match[]": {"x"}}, nil); resp.code != http.StatusUnauthorized {
			t.Errorf("%s without token: %d %s", path, resp.code, resp.body)
		}
	}
	if len(admin.calls) != 0 {
		t.Fatalf("calls without a token: %v", admin.calls)
	}
	resp := do(t, srv, "POST", "/api/v1/admin/tsdb/snapshot", url.Values{"skip_head": {"true"}}, auth)
	if resp.code != 200 || string(resp.body) != `{"status":"success","data":{"name":"snapshot.wds"}}` {
		t.Errorf("snapshot: %d %s", resp.code, resp.body)
	}
	if resp := do(t, srv, "PUT", "/api/v1/admin/tsdb/snapshot", url.Values{"skip_head": {"maybe"}}, auth); resp.code != 400 {
		t.Errorf("bad skip_head: %d %s", resp.code, resp.body)
	}
	resp = do(t, srv, "POST", "/api/v1/admin/tsdb/delete_series",
		url.Values{"match[]": {`metric{a="1"}`, "other"}, "start": {"10"}, "end": {"20"}}, auth)
	if resp.code != 200 || string(resp.body) != `{"status":"success"}` {
		t.Errorf("delete_series: %d %s", resp.code, resp.body)
	}
	for _, form := range []url.Values{{}, {"match[]": {"x{"}}, {"match[]": {"x"}, "start": {"soon"}}} {
		if resp := do(t, srv, "POST", "/api/v1/admin/tsdb/delete_series", form, auth); resp.code != 400 {
			t.Errorf("delete_series %v: %d %s", form, resp.code, resp.body)
		}
	}
	if resp := do(t, srv, "POST", "/api/v1/admin/tsdb/clean_tombstones", nil, auth); resp.code != 200 {
		t.Errorf("clean_tombstones: %d %s", resp.code, resp.body)
	}
	want := []string{"snapshot skip_head=true", `delete 10000 20000 [a="1" __name__="metric"]`,
		`delete 10000 20000 [__name__="other"]`, "clean"}
	if fmt.Sprint(admin.calls) != fmt.Sprint(want) {
		t.Errorf("calls\n got %q\nwant %q", admin.calls, want)
	}

	admin.err = fmt.Errorf("delete: %w: partial", ErrUnsupported)
	if resp := do(t, srv, "POST", "/api/v1/admin/tsdb/delete_series", url.Values{"match[]": {"x"}}, auth); resp.code != 400 ||
		!strings.Contains(string(resp.body), "partial") {
		t.Errorf("unsupported delete: %d %s", resp.code, resp.body)
	}
	admin.err = errors.New("disk full")
	if resp := do(t, srv, "POST", "/api/v1/admin/tsdb/snapshot", nil, auth); resp.code != 500 ||
		!strings.Contains(string(resp.body), `"errorType":"internal"`) {
		t.Errorf("failed snapshot: %d %s", resp.code, resp.body)
	}

	noAdmin, _ := newTestServer(t, Options{Token: "tok"})
	if resp := do(t, noAdmin, "POST", "/api/v1/admin/tsdb/snapshot", nil, auth); resp.code != 503 ||
		!strings.Contains(string(resp.body), "admin APIs disabled") {
		t.Errorf("no admin: %d %s", resp.code, resp.body)
	}
}

// TestQueryStats: stats=true adds Prometheus's timings and samples,
// stats=all the samples of every step; none without the parameter.
func TestQueryStats(t *testing.T) {
	srv, _ := newTestServer(t, Options{})
	type statsShape struct {
		Timings map[string]float64 `json:"timings"`
		Samples struct {
			TotalQueryableSamples        int64   `json:"totalQueryableSamples"`
			PeakSamples                  int     `json:"peakSamples"`
			TotalQueryableSamplesPerStep [][]any `json:"totalQueryableSamplesPerStep"`
		} `json:"samples"`
	}
	get := func(path string, form url.Values) (*statsShape, []byte) {
		resp := do(t, srv, "GET", path, form, nil)
		var env struct {
			Data struct {
				ResultType string          `json:"resultType"`
				Stats      *statsShape     `json:"stats"`
				Result     json.RawMessage `json:"result"`
			} `json:"data"`
		}
		if err := json.Unmarshal(resp.body, &env); err != nil || resp.code != 200 || env.Data.ResultType == "" {
			t.Fatalf("%s %v: %d %s", path, form, resp.code, resp.body)
		}
		return env.Data.Stats, resp.body
	}
	if s, body := get("/api/v1/query", url.Values{"query": {"metric"}, "time": {"150"}}); s != nil {
		t.Errorf("stats without asking: %s", body)
	}
	s, body := get("/api/v1/query", url.Values{"query": {"metric"}, "time": {"150"}, "stats": {"true"}})
	if s == nil || s.Samples.TotalQueryableSamples != 2 || s.Samples.PeakSamples < 2 || s.Samples.TotalQueryableSamplesPerStep != nil {
		t.Fatalf("stats=true: %s", body)
	}
	for _, k := range []string{"evalTotalTime", "resultSortTime", "queryPreparationTime", "innerEvalTime", "execQueueTime", "execTotalTime"} {
		if _, ok := s.Timings[k]; !ok {
			t.Errorf("stats=true: no timing %q in %s", k, body)
		}
	}
	s, body = get("/api/v1/query_range", url.Values{"query": {"metric"}, "start": {"0"}, "end": {"60"}, "step": {"15"}, "stats": {"all"}})
	if s == nil || s.Samples.TotalQueryableSamples != 10 || len(s.Samples.TotalQueryableSamplesPerStep) != 5 {
		t.Fatalf("stats=all: %s", body)
	}
	if math.IsNaN(s.Timings["evalTotalTime"]) {
		t.Fatalf("stats=all timings: %s", body)
	}
}

// TestTSDBStatusTakesAQuerySlot: the cardinality walk runs in a query
// slot; with the only slot taken and no queue, another is refused at once.
func TestTSDBStatusTakesAQuerySlot(t *testing.T) {
	entered, unblock := make(chan struct{}), make(chan struct{})
	opts := Options{
		Limits: querylimit.Limits{MaxConcurrency: 1, MaxQueued: -1},
		TSDBStatus: func(int) TSDBStatus {
			entered <- struct{}{}
			<-unblock
			return TSDBStatus{}
		},
	}
	srv, _ := newTestServer(t, opts)
	first := make(chan int, 1)
	go func() {
		resp, err := srv.Client().Get(srv.URL + "/api/v1/status/tsdb")
		if err != nil {
			first <- 0
			return
		}
		resp.Body.Close()
		first <- resp.StatusCode
	}()
	<-entered
	resp := do(t, srv, "GET", "/api/v1/status/tsdb", nil, nil)
	if resp.code != http.StatusServiceUnavailable || !strings.Contains(string(resp.body), `"errorType":"unavailable"`) {
		t.Errorf("second walk while the slot is taken: %d %s", resp.code, resp.body)
	}
	close(unblock)
	if code := <-first; code != 200 {
		t.Errorf("first walk: %d", code)
	}
}
