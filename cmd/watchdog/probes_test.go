package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"

	"github.com/watchdog-sre/watchdog/config"
	"github.com/watchdog-sre/watchdog/demo"
	"github.com/watchdog-sre/watchdog/internal/proctest"
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

// TestDemoJourney runs the demo configuration's checkout journey against
// the demo shop: it passes, and fails at add_to_cart while the cart is
// broken, with the shop's answer as the failure.
func TestDemoJourney(t *testing.T) {
	start := time.Now()
	var now atomic.Pointer[time.Time]
	now.Store(&start)
	shop := demo.NewShop(demo.ShopOptions{Start: start, Now: func() time.Time { return *now.Load() }})
	srv := httptest.NewServer(shop)
	defer srv.Close()
	text := strings.NewReplacer("{{WEB}}", "127.0.0.1:1", "{{SHOP}}", strings.TrimPrefix(srv.URL, "http://"),
		"{{SNAPSHOT}}", filepath.Join(t.TempDir(), "s.wds"), "{{PAGERDB}}", filepath.Join(t.TempDir(), "p.db"),
		"{{RULES}}", t.TempDir()).Replace(demoConfig)
	cfg, err := config.Parse([]byte(text), "demo.yml")
	if err != nil {
		t.Fatal(err)
	}
	var checkout *config.ProbeConfig
	for _, p := range cfg.Probes {
		if p.Name == "checkout" {
			checkout = p
		}
	}
	if checkout == nil {
		t.Fatal("no checkout probe in demo.yml")
	}
	outage := start.Add(demo.DefaultFirstCartOutage + time.Second)
	for _, tt := range []struct {
		name string
		at   time.Time
		ok   bool
	}{{"cart works", start, true}, {"cart broken", outage, false}, {"cart back", outage.Add(demo.DefaultCartOutageFor), true}} {
		t.Run(tt.name, func(t *testing.T) {
			if shop.InCartOutage(tt.at) == tt.ok {
				t.Fatalf("the shop's outage schedule is not what the test expects at %v", tt.at.Sub(start))
			}
			now.Store(&tt.at)
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			res := probe.NewProber().Run(ctx, &checkout.Effective, checkout.Steps, checkout.AllTargets()[0])
			if res.Success != tt.ok {
				t.Fatalf("success = %v, failure %+v", res.Success, res.Failure)
			}
			if !tt.ok {
				f := res.Failure
				if f.Step != "add_to_cart" || f.Status != 503 || !strings.Contains(f.Body, "cart service unavailable") {
					t.Errorf("failure = %+v, want add_to_cart with the 503 body", f)
				}
			} else if len(res.Steps) != 3 {
				t.Errorf("steps = %+v", res.Steps)
			}
		})
	}
}

// envBlackbox names a blackbox_exporter binary to use instead of Debian's.
const envBlackbox = "WATCHDOG_TEST_BLACKBOX_EXPORTER"

// TestProbeEndpointMatchesBlackboxExporter asks a real blackbox_exporter
// (Debian's prometheus-blackbox-exporter, installed by .ci/run) and the
// watchdog's /probe the same modules against the same targets and
// compares the series names and labels: every series blackbox_exporter
// answers, the watchdog answers too; the watchdog's extra series must be
// ones newer blackbox_exporter versions answer (the golden files, from its
// current source: Debian's is older).
func TestProbeEndpointMatchesBlackboxExporter(t *testing.T) {
	bin := proctest.Find(envBlackbox, "prometheus-blackbox-exporter", "/usr/bin/prometheus-blackbox-exporter")
	if bin == "" {
		bin = proctest.Find(envBlackbox, "blackbox_exporter")
	}
	if bin == "" {
		t.Skip("SKIP: blackbox_exporter not installed: apt-get install prometheus-blackbox-exporter (or set " + envBlackbox + ")")
	}
	modules := `
  http_2xx:
    prober: http
    http:
      preferred_ip_protocol: ip4
  https_insecure:
    prober: http
    http:
      preferred_ip_protocol: ip4
      tls_config: {insecure_skip_verify: true}
`
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "blackbox.yml"), []byte("modules:"+modules), 0o644); err != nil {
		t.Fatal(err)
	}
	port, err := proctest.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	proc := &proctest.Proc{Bin: bin, Dir: dir, ReadyURL: "http://" + addr + "/-/healthy",
		Args: []string{"--config.file=" + filepath.Join(dir, "blackbox.yml"), "--web.listen-address=" + addr}}
	if err := proc.Run(); err != nil {
		t.Fatalf("start blackbox_exporter: %v\n%s", err, proc.Log())
	}
	defer proc.Halt()
	version, _ := exec.Command(bin, "--version").CombinedOutput()
	t.Logf("comparing with %s", strings.SplitN(string(version), "\n", 2)[0])

	cfg, err := config.Parse([]byte("probe_modules:"+modules), "probes.yml")
	if err != nil {
		t.Fatal(err)
	}
	m := probe.New(probe.Options{})
	m.Apply(cfg)
	api := web.New(web.Options{})
	api.EnableProbes(web.ProbeOptions{Run: probeRun(m), Open: true})
	watchdog := httptest.NewServer(api)
	defer watchdog.Close()

	plain := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "ok") }))
	defer plain.Close()
	secure := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "ok") }))
	defer secure.Close()
	get := func(base, module, target string) string {
		resp, err := http.Get(base + "/probe?module=" + module + "&target=" + url.QueryEscape(target))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 || !strings.Contains(string(b), "probe_success 1") {
			t.Fatalf("GET %s/probe %s: %d\n%s", base, module, resp.StatusCode, b)
		}
		return string(b)
	}
	for _, tt := range []struct{ module, target, golden string }{
		{"http_2xx", plain.URL, "testdata/blackbox_http.golden"},
		{"https_insecure", secure.URL, "testdata/blackbox_https.golden"},
	} {
		t.Run(tt.module, func(t *testing.T) {
			theirs := seriesShape(t, get("http://"+addr, tt.module, tt.target))
			ours := seriesShape(t, get(watchdog.URL, tt.module, tt.target))
			newer := goldenShape(t, tt.golden)
			for _, s := range theirs {
				if slices.Contains(ours, s) {
					continue
				}
				// A series whose labels changed in a later version (such as
				// probe_ssl_last_chain_info gaining serialnumber) is answered
				// with the later labels.
				name, _, _ := strings.Cut(s, "{")
				later := slices.IndexFunc(ours, func(o string) bool { return strings.HasPrefix(o, name+"{") && slices.Contains(newer, o) })
				if later < 0 {
					t.Errorf("blackbox_exporter answers %s, the watchdog does not", s)
				} else {
					t.Logf("blackbox_exporter answers %s, the watchdog %s as newer versions do", s, ours[later])
				}
			}
			for _, s := range ours {
				if !slices.Contains(theirs, s) && !slices.Contains(newer, s) {
					t.Errorf("the watchdog answers %s, which no blackbox_exporter does", s)
				}
			}
			t.Logf("blackbox_exporter %d series, watchdog %d; the watchdog's extra ones (newer blackbox_exporter versions have them): %v",
				len(theirs), len(ours), extra(ours, theirs))
		})
	}
}

func extra(a, b []string) []string {
	var out []string
	for _, s := range a {
		if !slices.Contains(b, s) {
			out = append(out, s)
		}
	}
	return out
}
