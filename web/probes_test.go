package web

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func probesHandler(open bool, gotTimeout *time.Duration) *Handler {
	h := New(Options{Token: "tok"})
	h.EnableProbes(ProbeOptions{
		Open: open,
		Probes: func() []Probe {
			return []Probe{{Probe: "checkout", Target: "http://shop", Prober: "journey", Health: HealthBad,
				Interval: "30s", Timeout: "10s", Labels: map[string]string{"team": "shop"},
				Steps: []ProbeStep{{Name: "login", Success: true, Status: 200, Duration: 0.01},
					{Name: "add_to_cart", Success: false, Status: 500, Duration: 0.02}},
				LastFailure: &ProbeFailure{Time: time.Unix(1700000000, 0).UTC(), Step: "add_to_cart",
					Reason: "status 500 is not 2xx", Status: 500, Body: "<script>cart is broken</script>"}}}
		},
		Run: func(_ context.Context, module, target string, timeout time.Duration) (ProbeResult, error) {
			if gotTimeout != nil {
				*gotTimeout = timeout
			}
			if module != "http_2xx" {
				return ProbeResult{}, ErrUnknownProbeModule
			}
			return ProbeResult{Text: []byte("probe_success 0\n"), Failure: "status 500 is not 2xx"}, nil
		},
	})
	return h
}

func TestProbesAPI(t *testing.T) {
	h := probesHandler(false, nil)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/api/v1/probes", nil))
	if rec.Code != 200 {
		t.Fatalf("code %d: %s", rec.Code, rec.Body)
	}
	var env struct {
		Status string  `json:"status"`
		Data   []Probe `json:"data"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &env); err != nil {
		t.Fatal(err)
	}
	if env.Status != "success" || len(env.Data) != 1 || env.Data[0].LastFailure.Step != "add_to_cart" ||
		env.Data[0].Steps[1].Status != 500 || env.Data[0].LastFailure.Body != "<script>cart is broken</script>" {
		t.Errorf("answer: %s", rec.Body)
	}
	if strings.Contains(rec.Body.String(), "<script>") {
		t.Errorf("the body is not escaped in JSON: %s", rec.Body)
	}
	for q, n := range map[string]int{"?probe=checkout": 1, "?probe=nope": 0, "?health=down": 1, "?health=up": 0} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", "/api/v1/probes"+q, nil))
		if got := strings.Count(rec.Body.String(), `"probe":`); got != n {
			t.Errorf("%s: %d probes, want %d: %s", q, got, n, rec.Body)
		}
	}
}

func TestProbeEndpoint(t *testing.T) {
	var timeout time.Duration
	closed, open := probesHandler(false, &timeout), probesHandler(true, &timeout)
	tests := []struct {
		name    string
		h       *Handler
		url     string
		header  map[string]string
		code    int
		body    string
		timeout time.Duration
	}{
		{"no token", closed, "/probe?module=http_2xx&target=shop", nil, 401, "needs the API bearer token", 0},
		{"wrong token", closed, "/probe?module=http_2xx&target=shop", map[string]string{"Authorization": "Bearer nope"}, 401, "", 0},
		{"token", closed, "/probe?module=http_2xx&target=shop", map[string]string{"Authorization": "Bearer tok"}, 200, "probe_success 0\n", 0},
		{"open", open, "/probe?module=http_2xx&target=shop", nil, 200, "probe_success 0\n", 0},
		{"unknown module", open, "/probe?module=ssh&target=shop", nil, 400, `Unknown module "ssh"`, 0},
		{"no target", open, "/probe?module=http_2xx", nil, 400, "Target parameter is missing", 0},
		{"no module", open, "/probe?target=x", nil, 400, "Module parameter is missing", 0},
		{"long target", open, "/probe?module=http_2xx&target=" + strings.Repeat("a", 3000), nil, 400, "too long", 0},
		{"scrape timeout", open, "/probe?module=http_2xx&target=shop", map[string]string{"X-Prometheus-Scrape-Timeout-Seconds": "5"}, 200, "", 4500 * time.Millisecond},
		{"bad scrape timeout", open, "/probe?module=http_2xx&target=shop", map[string]string{"X-Prometheus-Scrape-Timeout-Seconds": "-1"}, 400, "Failed to parse timeout", 0},
		{"debug", open, "/probe?module=http_2xx&target=shop&debug=true", nil, 200, "failed: status 500 is not 2xx\n\nMetrics that would have been returned:\nprobe_success 0\n", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			timeout = 0
			req := httptest.NewRequest("GET", tt.url, nil)
			for k, v := range tt.header {
				req.Header.Set(k, v)
			}
			rec := httptest.NewRecorder()
			tt.h.ServeHTTP(rec, req)
			body, _ := io.ReadAll(rec.Body)
			if rec.Code != tt.code || !strings.Contains(string(body), tt.body) {
				t.Errorf("got %d %q, want %d with %q", rec.Code, body, tt.code, tt.body)
			}
			if timeout != tt.timeout {
				t.Errorf("timeout %v, want %v", timeout, tt.timeout)
			}
			if tt.code == 200 && !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/plain") {
				t.Errorf("content type %q", rec.Header().Get("Content-Type"))
			}
		})
	}
	noToken := New(Options{})
	noToken.EnableProbes(ProbeOptions{Run: func(context.Context, string, string, time.Duration) (ProbeResult, error) {
		return ProbeResult{}, nil
	}})
	rec := httptest.NewRecorder()
	noToken.ServeHTTP(rec, httptest.NewRequest("GET", "/probe?module=a&target=b", nil))
	if rec.Code != http.StatusForbidden {
		t.Errorf("without a configured token /probe answers %d, want 403", rec.Code)
	}
}
