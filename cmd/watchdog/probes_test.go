package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"

	"github.com/watchdog-sre/watchdog/config"
	"github.com/watchdog-sre/watchdog/probe"
	"github.com/watchdog-sre/watchdog/web"
)

// seriesShape reduces a text exposition to "name{label names}" lines,
// keeping the values of phase (a fixed set), sorted.
func seriesShape(t *testing.T, text string) []string {
	t.Helper()
	var out []string
	for _, line := range strings.Split(text, "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		ls, err := parser.NewParser(parser.Options{}).ParseMetric(line[:i])
		if err != nil {
			t.Fatalf("parse %q: %v", line, err)
		}
		var names []string
		ls.Range(func(l labels.Label) {
			switch l.Name {
			case labels.MetricName:
			case "phase":
				names = append(names, "phase="+l.Value)
			default:
				names = append(names, l.Name)
			}
		})
		out = append(out, ls.Get(labels.MetricName)+"{"+strings.Join(names, ",")+"}")
	}
	slices.Sort(out)
	return out
}

func goldenShape(t *testing.T, file string) []string {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, l := range strings.Split(string(data), "\n") {
		if l != "" && !strings.HasPrefix(l, "#") {
			out = append(out, l)
		}
	}
	slices.Sort(out)
	return out
}

// TestProbeEndpointMatchesBlackbox checks that /probe answers the series
// names and labels blackbox_exporter answers for the same http module
// (testdata/blackbox_http*.golden, from blackbox_exporter's source: it
// cannot be built on this machine), over plain HTTP and HTTPS.
func TestProbeEndpointMatchesBlackbox(t *testing.T) {
	plain := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "ok") }))
	defer plain.Close()
	secure := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "ok") }))
	defer secure.Close()
	cfg, err := config.Parse([]byte(`
probe_modules:
  http_2xx:
    prober: http
    http:
      preferred_ip_protocol: ip4
  https_insecure:
    prober: http
    http:
      tls_config: {insecure_skip_verify: true}
`), "probes.yml")
	if err != nil {
		t.Fatal(err)
	}
	m := probe.New(probe.Options{})
	m.Apply(cfg)
	api := web.New(web.Options{Token: "tok"})
	api.EnableProbes(web.ProbeOptions{Run: probeRun(m)})
	for _, tt := range []struct{ module, target, golden string }{
		{"http_2xx", plain.URL, "testdata/blackbox_http.golden"},
		{"https_insecure", secure.URL, "testdata/blackbox_https.golden"},
	} {
		t.Run(tt.module, func(t *testing.T) {
			req := httptest.NewRequest("GET", "/probe?module="+tt.module+"&target="+tt.target, nil).WithContext(context.Background())
			req.Header.Set("Authorization", "Bearer tok")
			rec := httptest.NewRecorder()
			api.ServeHTTP(rec, req)
			body, _ := io.ReadAll(rec.Body)
			if rec.Code != 200 || !strings.Contains(string(body), "probe_success 1") {
				t.Fatalf("GET /probe = %d:\n%s", rec.Code, body)
			}
			got, want := seriesShape(t, string(body)), goldenShape(t, tt.golden)
			if !slices.Equal(got, want) {
				t.Errorf("series differ from blackbox_exporter's\n got: %v\nwant: %v", got, want)
			}
			if !strings.Contains(string(body), "# HELP probe_success Displays whether or not the probe was a success\n# TYPE probe_success gauge\n") {
				t.Errorf("HELP/TYPE lines differ from blackbox_exporter's:\n%s", body)
			}
		})
	}
}
