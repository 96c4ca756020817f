package web

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/promqltest"
	"github.com/prometheus/prometheus/storage"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata/")

// testData holds 101 samples 15s apart from the unix epoch on.
const testData = `
load 15s
  metric{a="1",job="shop"} 1+1x100
  metric{a="2",job="shop"} 10+10x100
  other{a="1",job="db"} 5x100
  m1{a="1"} 1x100
  m2{a="1"} 2x100
`

func newTestServer(t *testing.T, opts Options) (*httptest.Server, *Handler) {
	t.Helper()
	if opts.Queryable == nil {
		opts.Queryable = promqltest.LoadedStorage(t, testData)
	}
	if opts.Now == nil {
		opts.Now = func() time.Time { return time.Unix(600, 0) }
	}
	if opts.Metrics == nil {
		opts.Metrics = metrics.NewSet()
	}
	h := New(opts)
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv, h
}

type response struct {
	code int
	body []byte
	hdr  http.Header
}

func do(t *testing.T, srv *httptest.Server, method, path string, form url.Values, hdr map[string]string) response {
	t.Helper()
	var body io.Reader
	u := srv.URL + path
	if method == http.MethodGet && form != nil {
		u += "?" + form.Encode()
	} else if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, u, body)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{code: resp.StatusCode, body: b, hdr: resp.Header}
}

// checkGolden compares got with testdata/name.json, rewriting it under -update.
func checkGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	var pretty bytes.Buffer
	if err := json.Indent(&pretty, got, "", "  "); err != nil {
		t.Fatalf("response is not JSON: %v\n%s", err, got)
	}
	pretty.WriteByte('\n')
	path := filepath.Join("testdata", name+".json")
	if *update {
		if err := os.WriteFile(path, pretty.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden (run with -update to create): %v", err)
	}
	if !bytes.Equal(pretty.Bytes(), want) {
		t.Errorf("response differs from %s:\ngot:\n%s\nwant:\n%s", path, pretty.Bytes(), want)
	}
}

func TestAPIGolden(t *testing.T) {
	srv, _ := newTestServer(t, Options{BuildInfo: BuildInfo{
		Version: "0.1.0", Revision: "abc123", Branch: "main",
		BuildUser: "ci@watchdog", BuildDate: "20240501-12:00:00", GoVersion: "go1.26",
	}})
	tests := []struct {
		name   string
		method string
		path   string
		form   url.Values
		code   int
	}{
		{"query_vector", "GET", "/api/v1/query", url.Values{"query": {"sort(metric)"}, "time": {"150"}}, 200},
		{"query_vector_post", "POST", "/api/v1/query", url.Values{"query": {"sort(metric)"}, "time": {"150"}}, 200},
		{"query_vector_rfc3339", "GET", "/api/v1/query", url.Values{"query": {`metric{a="1"}`}, "time": {"1970-01-01T00:02:30.5Z"}}, 200},
		{"query_default_time", "GET", "/api/v1/query", url.Values{"query": {`sum(metric)`}}, 200},
		{"query_scalar", "GET", "/api/v1/query", url.Values{"query": {"1/3"}, "time": {"10.123"}}, 200},
		{"query_special_floats", "GET", "/api/v1/query", url.Values{"query": {`vector(1/0) or label_replace(vector(-1/0),"x","y","","") or label_replace(vector(0/0),"x","z","","") or label_replace(vector(1e-7),"x","w","","")`}, "time": {"0"}}, 200},
		{"query_string", "GET", "/api/v1/query", url.Values{"query": {`"hello"`}, "time": {"1"}}, 200},
		{"query_empty_vector", "GET", "/api/v1/query", url.Values{"query": {"nonexistent"}, "time": {"1"}}, 200},
		{"query_limit", "GET", "/api/v1/query", url.Values{"query": {"sort(metric)"}, "time": {"150"}, "limit": {"1"}}, 200},
		{"query_warning", "GET", "/api/v1/query", url.Values{"query": {`rate(other[1m])`}, "time": {"150"}}, 200},
		{"query_range_matrix", "GET", "/api/v1/query_range", url.Values{"query": {`metric{a="1"}`}, "start": {"0"}, "end": {"60"}, "step": {"15s"}}, 200},
		{"query_range_rate", "POST", "/api/v1/query_range", url.Values{"query": {`rate(metric[1m])`}, "start": {"60"}, "end": {"90"}, "step": {"15"}}, 200},
		{"query_bad_syntax", "GET", "/api/v1/query", url.Values{"query": {"sum("}}, 400},
		{"query_missing", "GET", "/api/v1/query", nil, 400},
		{"query_bad_time", "GET", "/api/v1/query", url.Values{"query": {"1"}, "time": {"yesterday"}}, 400},
		{"query_bad_timeout", "GET", "/api/v1/query", url.Values{"query": {"1"}, "timeout": {"-1s"}}, 400},
		{"query_bad_limit", "GET", "/api/v1/query", url.Values{"query": {"1"}, "limit": {"-1"}}, 400},
		{"query_exec_error", "GET", "/api/v1/query", url.Values{"query": {`-{__name__=~"m1|m2"}`}, "time": {"10"}}, 422},
		{"query_range_too_many_points", "GET", "/api/v1/query_range", url.Values{"query": {"1"}, "start": {"0"}, "end": {"11001"}, "step": {"1"}}, 400},
		{"query_range_end_before_start", "GET", "/api/v1/query_range", url.Values{"query": {"1"}, "start": {"10"}, "end": {"0"}, "step": {"1"}}, 400},
		{"query_range_zero_step", "GET", "/api/v1/query_range", url.Values{"query": {"1"}, "start": {"0"}, "end": {"10"}, "step": {"0"}}, 400},
		{"query_range_bad_step", "GET", "/api/v1/query_range", url.Values{"query": {"1"}, "start": {"0"}, "end": {"10"}, "step": {"fast"}}, 400},
		{"query_range_missing_start", "GET", "/api/v1/query_range", url.Values{"query": {"1"}, "end": {"10"}, "step": {"1"}}, 400},
		{"format_query", "GET", "/api/v1/format_query", url.Values{"query": {"sum(rate(x[1m]))by(a)"}}, 200},
		{"series", "GET", "/api/v1/series", url.Values{"match[]": {`metric`, `{job="db"}`}}, 200},
		{"series_post", "POST", "/api/v1/series", url.Values{"match[]": {`{a="1"}`}, "start": {"0"}, "end": {"100"}}, 200},
		{"series_limit", "GET", "/api/v1/series", url.Values{"match[]": {`{a="1"}`}, "limit": {"2"}}, 200},
		{"series_no_match", "GET", "/api/v1/series", nil, 400},
		{"series_bad_match", "GET", "/api/v1/series", url.Values{"match[]": {`metric{`}}, 400},
		{"series_empty_matcher", "GET", "/api/v1/series", url.Values{"match[]": {`{a=""}`}}, 400},
		{"labels", "GET", "/api/v1/labels", nil, 200},
		{"labels_match", "POST", "/api/v1/labels", url.Values{"match[]": {`other`}}, 200},
		{"labels_bad_start", "GET", "/api/v1/labels", url.Values{"start": {"x"}}, 400},
		{"label_values", "GET", "/api/v1/label/__name__/values", nil, 200},
		{"label_values_match", "GET", "/api/v1/label/a/values", url.Values{"match[]": {`metric`, `other`}}, 200},
		{"label_values_escaped", "GET", "/api/v1/label/U__job/values", nil, 200},
		{"label_values_invalid_name", "GET", "/api/v1/label/%FF/values", nil, 400},
		{"label_values_none", "GET", "/api/v1/label/nope/values", nil, 200},
		{"buildinfo", "GET", "/api/v1/status/buildinfo", nil, 200},
		{"metadata", "GET", "/api/v1/metadata", nil, 200},
		{"query_exemplars", "GET", "/api/v1/query_exemplars", url.Values{"query": {"metric"}}, 200},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp := do(t, srv, tc.method, tc.path, tc.form, nil)
			if resp.code != tc.code {
				t.Errorf("status %d, want %d; body %s", resp.code, tc.code, resp.body)
			}
			if ct := resp.hdr.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q", ct)
			}
			checkGolden(t, tc.name, resp.body)
		})
	}
}

func TestQueryDecodesWithCommonModel(t *testing.T) {
	srv, _ := newTestServer(t, Options{})
	resp := do(t, srv, "GET", "/api/v1/query_range", url.Values{
		"query": {`metric{a="2"}`}, "start": {"0"}, "end": {"30"}, "step": {"15"},
	}, nil)
	var env struct {
		Status string `json:"status"`
		Data   struct {
			ResultType string       `json:"resultType"`
			Result     model.Matrix `json:"result"`
		} `json:"data"`
	}
	if err := json.Unmarshal(resp.body, &env); err != nil {
		t.Fatalf("decode: %v\n%s", err, resp.body)
	}
	if env.Status != "success" || env.Data.ResultType != "matrix" || len(env.Data.Result) != 1 {
		t.Fatalf("unexpected answer %s", resp.body)
	}
	got := env.Data.Result[0].Values
	want := []model.SamplePair{{Timestamp: 0, Value: 10}, {Timestamp: 15000, Value: 20}, {Timestamp: 30000, Value: 30}}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for i := range want {
		if !got[i].Equal(&want[i]) {
			t.Errorf("point %d: got %v, want %v", i, got[i], want[i])
		}
	}
}

// blockingQuerier's Select waits for the query's context to end, so a query
// over it always runs into its timeout.
type blockingQuerier struct{ storage.MockQuerier }

func (*blockingQuerier) Select(ctx context.Context, _ bool, _ *storage.SelectHints, _ ...*labels.Matcher) storage.SeriesSet {
	<-ctx.Done()
	return storage.ErrSeriesSet(ctx.Err())
}

type blockingQueryableImpl struct{}

func (blockingQueryableImpl) Querier(int64, int64) (storage.Querier, error) {
	return &blockingQuerier{}, nil
}

func TestQueryTimeout(t *testing.T) {
	srv, _ := newTestServer(t, Options{Queryable: blockingQueryableImpl{}})
	resp := do(t, srv, "GET", "/api/v1/query", url.Values{"query": {"metric"}, "time": {"100"}, "timeout": {"0.01"}}, nil)
	if resp.code != http.StatusServiceUnavailable {
		t.Fatalf("status %d, want 503; body %s", resp.code, resp.body)
	}
	var env envelope
	if err := json.Unmarshal(resp.body, &env); err != nil {
		t.Fatal(err)
	}
	if env.Status != "error" || env.ErrorType != errorTimeout {
		t.Errorf("got %+v", env)
	}
}

func TestBodyLimit(t *testing.T) {
	srv, _ := newTestServer(t, Options{})
	big := url.Values{"query": {strings.Repeat("x", MaxRequestBodyBytes+10)}}
	resp := do(t, srv, "POST", "/api/v1/query", big, nil)
	if resp.code != http.StatusBadRequest || !bytes.Contains(resp.body, []byte(`"errorType":"bad_data"`)) {
		t.Fatalf("status %d body %.200s", resp.code, resp.body)
	}
	if !bytes.Contains(resp.body, []byte("request body larger than")) {
		t.Errorf("unclear message: %.200s", resp.body)
	}
}

func TestTargets(t *testing.T) {
	targets := []Target{
		{
			DiscoveredLabels: labels.FromStrings("__address__", "shop:8080"),
			Labels:           labels.FromStrings("instance", "shop:8080", "job", "shop"),
			ScrapePool:       "shop",
			ScrapeURL:        "http://shop:8080/metrics",
			GlobalURL:        "http://shop:8080/metrics",
			LastScrape:       time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC),
			// 0.0125 is exact in binary, so the golden file is stable.
			LastScrapeDuration: 0.0125,
			Health:             HealthGood,
			ScrapeInterval:     "15s",
			ScrapeTimeout:      "10s",
		},
		{
			Labels:     labels.FromStrings("instance", "db:9187", "job", "db"),
			ScrapePool: "db",
			ScrapeURL:  "http://db:9187/metrics",
			LastError:  "connection refused",
		},
	}
	srv, _ := newTestServer(t, Options{Targets: func() []Target { return targets }})
	tests := []struct {
		name  string
		query string
	}{
		{"targets", ""},
		{"targets_active", "?state=active"},
		{"targets_dropped", "?state=dropped"},
		{"targets_pool", "?scrapePool=db"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp := do(t, srv, "GET", "/api/v1/targets"+tc.query, nil, nil)
			if resp.code != 200 {
				t.Fatalf("status %d", resp.code)
			}
			checkGolden(t, tc.name, resp.body)
		})
	}
}

func TestZeroOptions(t *testing.T) {
	srv := httptest.NewServer(New(Options{}))
	defer srv.Close()
	for _, path := range []string{"/api/v1/query?query=up", "/api/v1/labels", "/api/v1/targets", "/-/ready"} {
		resp := do(t, srv, "GET", path, nil, nil)
		if resp.code != 200 {
			t.Errorf("%s: status %d body %s", path, resp.code, resp.body)
		}
	}
	resp := do(t, srv, "GET", "/api/v1/targets", nil, nil)
	if !bytes.Contains(resp.body, []byte(`"activeTargets":[]`)) {
		t.Errorf("targets: %s", resp.body)
	}
}

func TestLifecycle(t *testing.T) {
	var reloads int
	reloadErr := error(nil)
	ready, why := false, ""
	srv, _ := newTestServer(t, Options{
		Token:    "s3cret",
		Reload:   func() error { reloads++; return reloadErr },
		Ready:    func() bool { return ready },
		NotReady: func() string { return why },
	})
	resp := do(t, srv, "GET", "/-/healthy", nil, nil)
	if resp.code != 200 || string(resp.body) != "Watchdog is Healthy.\n" {
		t.Errorf("healthy: %d %q", resp.code, resp.body)
	}
	for _, tc := range []struct {
		ready bool
		why   string
		code  int
		body  string
	}{
		{false, "", 503, "Service Unavailable\n"},
		{false, "the pager is down", 503, "Service Unavailable: the pager is down\n"},
		{true, "the pager is down", 200, "Watchdog is Ready.\n"},
	} {
		ready, why = tc.ready, tc.why
		if resp := do(t, srv, "GET", "/-/ready", nil, nil); resp.code != tc.code || string(resp.body) != tc.body {
			t.Errorf("ready=%v why=%q: %d %q, want %d %q", tc.ready, tc.why, resp.code, resp.body, tc.code, tc.body)
		}
	}

	auth := map[string]string{"Authorization": "Bearer s3cret"}
	if resp := do(t, srv, "POST", "/-/reload", nil, auth); resp.code != 200 || reloads != 1 {
		t.Errorf("reload: %d, reloads %d", resp.code, reloads)
	}
	reloadErr = errors.New("bad rule file")
	resp = do(t, srv, "PUT", "/-/reload", nil, auth)
	if resp.code != 500 || !bytes.Contains(resp.body, []byte("bad rule file")) {
		t.Errorf("failed reload: %d %s", resp.code, resp.body)
	}
	if resp := do(t, srv, "GET", "/-/reload", nil, auth); resp.code != http.StatusMethodNotAllowed {
		t.Errorf("GET reload: %d", resp.code)
	}
}

func TestToken(t *testing.T) {
	tests := []struct {
		name     string
		token    string
		reload   bool
		method   string
		path     string
		header   string
		wantCode int
		wantBody string
	}{
		{"no token configured", "", true, "POST", "/-/reload", "Bearer x", 403, "no API token is configured"},
		{"missing", "s3cret", true, "POST", "/-/reload", "", 401, "missing bearer token"},
		{"wrong", "s3cret", true, "POST", "/-/reload", "Bearer s3cre", 401, "invalid bearer token"},
		{"wrong scheme", "s3cret", true, "POST", "/-/reload", "Basic s3cret", 401, "missing bearer token"},
		{"right", "s3cret", true, "POST", "/-/reload", "Bearer s3cret", 200, ""},
		{"right lowercase scheme", "s3cret", true, "PUT", "/-/reload", "bearer s3cret", 200, ""},
		{"reload not configured", "s3cret", false, "POST", "/-/reload", "Bearer s3cret", 501, "reload not configured"},
		{"read-only post needs none", "s3cret", true, "POST", "/api/v1/query", "", 200, `"status":"success"`},
		{"read-only post with no token configured", "", true, "POST", "/api/v1/labels", "", 200, `"status":"success"`},
		{"added route needs token", "s3cret", true, "POST", "/api/v1/admin/thing", "", 401, `"errorType":"unauthorized"`},
		{"added route with token", "s3cret", true, "DELETE", "/api/v1/admin/thing", "Bearer s3cret", 204, ""},
		{"added route refused without config", "", true, "DELETE", "/api/v1/admin/thing", "Bearer s3cret", 403, `"status":"error"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			opts := Options{Token: tc.token}
			if tc.reload {
				opts.Reload = func() error { return nil }
			}
			srv, h := newTestServer(t, opts)
			admin := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) })
			h.Handle("POST /api/v1/admin/thing", admin)
			h.Handle("DELETE /api/v1/admin/thing", admin)
			hdr := map[string]string{}
			if tc.header != "" {
				hdr["Authorization"] = tc.header
			}
			var form url.Values
			if strings.HasPrefix(tc.path, "/api/v1/query") {
				form = url.Values{"query": {"1"}}
			}
			resp := do(t, srv, tc.method, tc.path, form, hdr)
			if resp.code != tc.wantCode {
				t.Errorf("status %d, want %d; body %s", resp.code, tc.wantCode, resp.body)
			}
			if !bytes.Contains(resp.body, []byte(tc.wantBody)) {
				t.Errorf("body %q lacks %q", resp.body, tc.wantBody)
			}
			if resp.code == 401 && resp.hdr.Get("WWW-Authenticate") == "" {
				t.Error("401 without WWW-Authenticate")
			}
		})
	}
}

func TestMetricsEndpoint(t *testing.T) {
	set := metrics.NewSet()
	srv, _ := newTestServer(t, Options{Metrics: set})
	do(t, srv, "GET", "/api/v1/query", url.Values{"query": {"metric"}}, nil)
	do(t, srv, "GET", "/api/v1/query", url.Values{"query": {"sum("}}, nil)
	do(t, srv, "GET", "/api/v1/query_range", url.Values{"query": {"metric"}, "start": {"0"}, "end": {"60"}, "step": {"15"}}, nil)
	do(t, srv, "GET", "/api/v1/label/a/values", nil, nil)
	resp := do(t, srv, "GET", "/metrics", nil, nil)
	if resp.code != 200 {
		t.Fatalf("status %d", resp.code)
	}
	for _, want := range []string{
		`watchdog_http_requests_total{handler="/api/v1/query",code="200"} 1`,
		`watchdog_http_requests_total{handler="/api/v1/query",code="400"} 1`,
		`watchdog_http_requests_total{handler="/api/v1/label/{name}/values",code="200"} 1`,
		`watchdog_query_duration_seconds_count{endpoint="query"} 2`,
		`watchdog_query_duration_seconds_count{endpoint="query_range"} 1`,
		`watchdog_http_request_duration_seconds_bucket{handler="/api/v1/query_range",le=`,
		"go_goroutines ",
	} {
		if !bytes.Contains(resp.body, []byte(want)) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}

func TestFormatValue(t *testing.T) {
	tests := []struct {
		in   float64
		want string
	}{
		{0, "0"},
		{1, "1"},
		{-2.5, "-2.5"},
		{0.1, "0.1"},
		{1e-6, "0.000001"},
		{1e-7, "1e-07"},
		{123456789012, "123456789012"},
		{1e21, "1e+21"},
		{posInf, "+Inf"},
		{-posInf, "-Inf"},
		{nan, "NaN"},
	}
	for _, tc := range tests {
		t.Run(tc.want, func(t *testing.T) {
			if got := FormatValue(tc.in); got != tc.want {
				t.Errorf("FormatValue(%v) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

func TestAppendTimestamp(t *testing.T) {
	tests := []struct {
		ms   int64
		want string
	}{
		{0, "0"},
		{1000, "1"},
		{1500, "1.500"},
		{1005, "1.005"},
		{1050, "1.050"},
		{-1500, "-1.500"},
		{1714564800123, "1714564800.123"},
	}
	for _, tc := range tests {
		t.Run(tc.want, func(t *testing.T) {
			if got := string(appendTimestamp(nil, tc.ms)); got != tc.want {
				t.Errorf("appendTimestamp(%d) = %q, want %q", tc.ms, got, tc.want)
			}
		})
	}
}

// TestBearerToken: the scheme is case-insensitive (RFC 7235), the token
// is trimmed, other schemes and empty tokens are refused.
func TestBearerToken(t *testing.T) {
	for _, tc := range []struct {
		header, want string
		ok           bool
	}{
		{"Bearer tok", "tok", true},
		{"bearer tok", "tok", true},
		{"BEARER tok", "tok", true},
		{"bEaReR   tok  ", "tok", true},
		{"  Bearer tok", "tok", true},
		{"Basic tok", "", false},
		{"Bearer", "", false},
		{"Bearer   ", "", false},
		{"Bearertok", "", false},
		{"", "", false},
	} {
		t.Run(tc.header, func(t *testing.T) {
			h := http.Header{}
			if tc.header != "" {
				h.Set("Authorization", tc.header)
			}
			got, ok := BearerToken(h)
			if got != tc.want || ok != tc.ok {
				t.Errorf("BearerToken(%q) = %q, %v; want %q, %v", tc.header, got, ok, tc.want, tc.ok)
			}
		})
	}
}
