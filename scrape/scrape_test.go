package scrape

import (
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/relabel"
	"gopkg.in/yaml.v3"

	"github.com/watchdog-sre/watchdog/config"
)

const body2 = "# HELP foo A counter.\n# TYPE foo counter\nfoo{a=\"1\"} 1\nbar 2\n"

func TestHealthyTarget(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, nil)
		h.srv.set("a:80", text(body2))
		h.apply(cfgOf(scrapeCfg("test", "a:80")))
		h.run()
		advance(10 * time.Second)
		advance(10 * time.Second)
		h.stop()

		foo := h.rec.samples("foo")
		if len(foo) != 2 {
			t.Fatalf("foo samples: %v", foo)
		}
		want := labels.FromStrings("__name__", "foo", "a", "1", "instance", "a:80", "job", "test")
		if !labels.Equal(foo[0].lset, want) {
			t.Fatalf("foo labels = %s, want %s", foo[0].lset, want)
		}
		up := h.rec.samples("up", "job", "test", "instance", "a:80")
		mustEqual(t, "up timestamps", times(up), times(foo))
		for _, tc := range []struct {
			name string
			want []float64
		}{
			{"up", []float64{1, 1}},
			{"scrape_samples_scraped", []float64{2, 2}},
			{"scrape_samples_post_metric_relabeling", []float64{2, 2}},
			{"scrape_series_added", []float64{2, 0}},
		} {
			ss := h.rec.samples(tc.name, "job", "test", "instance", "a:80")
			got := make([]float64, len(ss))
			for i, s := range ss {
				got[i] = s.v
			}
			mustEqual(t, tc.name, got, tc.want)
		}
		if d := h.rec.samples("scrape_duration_seconds"); len(d) != 2 || d[0].v < 0 {
			t.Fatalf("scrape_duration_seconds: %v", d)
		}
		if foo[1].t-foo[0].t != 10000 {
			t.Fatalf("scrapes %d ms apart, want 10000", foo[1].t-foo[0].t)
		}
		if len(h.rec.refMisuses) > 0 {
			t.Fatalf("ref misuse: %v", h.rec.refMisuses)
		}
		if h.rec.byRefCalls == 0 {
			t.Fatalf("second scrape did not use cached refs")
		}
		if got := h.counter("watchdog_scrapes_total", "test"); got != 2 {
			t.Fatalf("watchdog_scrapes_total = %d", got)
		}
		if got := h.counter("watchdog_scrape_samples_total", "test"); got != 4 {
			t.Fatalf("watchdog_scrape_samples_total = %d", got)
		}

		reqs := h.srv.requests("a:80")
		if len(reqs) != 2 {
			t.Fatalf("%d requests", len(reqs))
		}
		r := reqs[0]
		mustContain(t, "Accept", r.Header.Get("Accept"), "application/openmetrics-text;version=1.0.0")
		if i, j := strings.Index(r.Header.Get("Accept"), "openmetrics-text;version=1.0.0"), strings.Index(r.Header.Get("Accept"), "text/plain;version=0.0.4"); i < 0 || j < i {
			t.Fatalf("Accept %q: OpenMetrics must come before text 0.0.4", r.Header.Get("Accept"))
		}
		mustEqual(t, "headers", []string{
			r.Header.Get("Accept-Encoding"), r.Header.Get("User-Agent"),
			r.Header.Get("X-Prometheus-Scrape-Timeout-Seconds"), r.URL.String(),
		}, []string{"gzip", "Watchdog", "5", "http://a:80/metrics"})

		ts := h.m.Targets()
		if len(ts) != 0 {
			t.Fatalf("targets after Run returned: %v", ts)
		}
	})
}

func TestTargetStatus(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, nil)
		h.srv.set("a:80", text(body2))
		h.apply(cfgOf(scrapeCfg("test", "a:80")))
		h.run()
		if got := h.target("test").Health; got != "unknown" {
			t.Fatalf("health before first scrape = %q", got)
		}
		advance(10 * time.Second)
		ts := h.target("test")
		if ts.Health != "up" || ts.LastError != "" || ts.ScrapeURL != "http://a:80/metrics" ||
			ts.ScrapeInterval != 10*time.Second || ts.ScrapeTimeout != 5*time.Second || ts.LastScrape.IsZero() {
			t.Fatalf("status: %+v", ts)
		}
		if !labels.Equal(ts.Labels, labels.FromStrings("instance", "a:80", "job", "test")) {
			t.Fatalf("labels: %s", ts.Labels)
		}
		if ts.DiscoveredLabels.Get("__address__") != "a:80" || ts.DiscoveredLabels.Get("__scrape_interval__") != "10s" {
			t.Fatalf("discovered labels: %s", ts.DiscoveredLabels)
		}
		h.stop()
	})
}

func TestScrapeFailures(t *testing.T) {
	many := ""
	for i := range 5 {
		many += fmt.Sprintf("m%d 1\n", i)
	}
	for _, tc := range []struct {
		name    string
		handler http.HandlerFunc
		mod     func(*config.ScrapeConfig)
		wantUp  float64
		wantErr string
		wantIs  error
		// wantFoo is how many scraped (non-synthetic) samples are committed.
		wantFoo int
		// wantLimit is the limit label of watchdog_scrape_limit_exceeded_total
		// the failure counts under ("" for none).
		wantLimit string
	}{
		{
			name: "hanging past timeout",
			handler: func(w http.ResponseWriter, r *http.Request) {
				<-r.Context().Done()
			},
			wantErr:   "deadline exceeded",
			wantLimit: "scrape_timeout",
		},
		{
			name: "slow within timeout",
			handler: func(w http.ResponseWriter, r *http.Request) {
				select {
				case <-time.After(4 * time.Second):
				case <-r.Context().Done():
				}
				text("m0 1\n")(w, r)
			},
			wantUp:  1,
			wantFoo: 1,
		},
		{name: "garbage body", handler: text("m0 1\n{{{not metrics\n"), wantErr: "parse"},
		{name: "http 500", handler: status(500), wantErr: "500"},
		{
			name:      "oversized body",
			handler:   text(many),
			mod:       func(c *config.ScrapeConfig) { c.BodySizeLimit = 20 },
			wantIs:    ErrBodySizeLimit,
			wantLimit: "body_size_limit",
		},
		{
			name:      "too many samples",
			handler:   text(many),
			mod:       func(c *config.ScrapeConfig) { c.SampleLimit = 4 },
			wantIs:    ErrSampleLimit,
			wantLimit: "sample_limit",
		},
		{
			name:      "more samples than the default sample_limit",
			handler:   text(distinctSamples(config.DefaultSampleLimit + 1)),
			wantErr:   "sample limit exceeded (200001 samples, limit 200000)",
			wantLimit: "sample_limit",
		},
		{
			name:      "body larger than the default body_size_limit",
			handler:   text(strings.Repeat("#", int(config.DefaultBodySizeLimit))),
			wantIs:    ErrBodySizeLimit,
			wantLimit: "body_size_limit",
		},
		{
			name:      "more labels than the default label_limit",
			handler:   text("m0{" + manyLabels(config.DefaultLabelLimit) + "} 1\n"), // plus job and instance
			wantIs:    ErrLabelLimit,
			wantLimit: "label_limit",
		},
		{
			name:    "labels within the default label_limit",
			handler: text("m0{" + manyLabels(config.DefaultLabelLimit-3) + "} 1\n"),
			wantUp:  1, wantFoo: 1,
		},
		{
			name:      "label name longer than the default",
			handler:   text("m0{" + strings.Repeat("n", config.DefaultLabelNameLengthLimit+1) + "=\"v\"} 1\n"),
			wantIs:    ErrLabelNameLengthLimit,
			wantLimit: "label_name_length_limit",
		},
		{
			name:      "label value longer than the default",
			handler:   text("m0{a=\"" + strings.Repeat("v", config.DefaultLabelValueLengthLimit+1) + "\"} 1\n"),
			wantIs:    ErrLabelValueLengthLimit,
			wantLimit: "label_value_length_limit",
		},
		{
			name:    "label value at the default length",
			handler: text("m0{a=\"" + strings.Repeat("v", config.DefaultLabelValueLengthLimit) + "\"} 1\n"),
			wantUp:  1, wantFoo: 1,
		},
		{
			name:      "label name length limit set",
			handler:   text("m0{abcd=\"1\"} 1\n"),
			mod:       func(c *config.ScrapeConfig) { c.LabelNameLengthLimit = 3 },
			wantIs:    ErrLabelNameLengthLimit,
			wantLimit: "label_name_length_limit",
		},
		{
			name:      "label value length limit set",
			handler:   text("m0{a=\"1234\"} 1\n"),
			mod:       func(c *config.ScrapeConfig) { c.LabelValueLengthLimit = 3 },
			wantIs:    ErrLabelValueLengthLimit,
			wantLimit: "label_value_length_limit",
		},
		{
			name:    "sample limit not exceeded",
			handler: text(many),
			mod:     func(c *config.ScrapeConfig) { c.SampleLimit = 5 },
			wantUp:  1,
			wantFoo: 1,
		},
		{
			name:      "label limit",
			handler:   text("m0{a=\"1\",b=\"2\"} 1\n"),
			mod:       func(c *config.ScrapeConfig) { c.LabelLimit = 3 },
			wantIs:    ErrLabelLimit,
			wantLimit: "label_limit",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				h := newHarness(t, nil)
				h.srv.set("a:80", tc.handler)
				sc := scrapeCfg("test", "a:80")
				if tc.mod != nil {
					tc.mod(sc)
				}
				h.apply(cfgOf(sc))
				h.run()
				advance(10 * time.Second)
				st := h.target("test")
				h.stop()

				up := h.rec.samples("up")
				if len(up) != 1 || up[0].v != tc.wantUp {
					t.Fatalf("up = %v, want one sample %v", values(up), tc.wantUp)
				}
				if got := len(h.rec.samples("m0")); got != tc.wantFoo {
					t.Fatalf("%d m0 samples committed, want %d", got, tc.wantFoo)
				}
				if tc.wantUp == 1 {
					if st.Health != "up" || st.LastError != "" {
						t.Fatalf("status %+v", st)
					}
					return
				}
				if st.Health != "down" {
					t.Fatalf("health = %q", st.Health)
				}
				if tc.wantErr != "" {
					mustContain(t, "LastError", st.LastError, tc.wantErr)
				}
				if tc.wantIs != nil {
					mustContain(t, "LastError", st.LastError, tc.wantIs.Error())
				}
				if got := h.counter("watchdog_scrape_failures_total", "test"); got != 1 {
					t.Fatalf("failures = %d", got)
				}
				if tc.wantLimit != "" {
					if got := h.counter("watchdog_scrape_limit_exceeded_total", "test", `limit="`+tc.wantLimit+`"`); got != 1 {
						t.Fatalf("watchdog_scrape_limit_exceeded_total{limit=%q} = %d, want 1", tc.wantLimit, got)
					}
				}
			})
		})
	}
}

// distinctSamples returns a body of n samples of n series of m0.
func distinctSamples(n int) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "m0{i=\"%d\"} 1\n", i)
	}
	return b.String()
}

// manyLabels returns n labels l0="v",l1="v",... for a series in text format.
func manyLabels(n int) string {
	var b strings.Builder
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `l%d="v"`, i)
	}
	return b.String()
}

func TestSampleLimitCommitsNothingElse(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, nil)
		h.srv.set("a:80", text("a 1\nb 2\nc 3\n"))
		sc := scrapeCfg("test", "a:80")
		sc.SampleLimit = 2
		h.apply(cfgOf(sc))
		h.run()
		advance(10 * time.Second)
		h.stop()
		for _, s := range h.rec.committed {
			name := s.lset.Get("__name__")
			if name == "a" || name == "b" || name == "c" {
				t.Fatalf("scraped sample committed despite sample_limit: %v", s)
			}
		}
		if got := values(h.rec.samples("scrape_samples_scraped")); len(got) != 1 || !strings.HasSuffix(got[0], "=3") {
			t.Fatalf("scrape_samples_scraped = %v", got)
		}
	})
}

func TestReloadKeepsUnchangedTargets(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, nil)
		h.srv.set("a:80", text("a 1\n"))
		h.srv.set("b:80", text("b 1\n"))
		h.apply(cfgOf(scrapeCfg("one", "a:80"), scrapeCfg("two", "b:80")))
		h.run()
		advance(10 * time.Second)

		// Same job "one" with a new interval; job "two" removed.
		one := scrapeCfg("one", "a:80")
		one.ScrapeInterval = model.Duration(30 * time.Second)
		h.apply(cfgOf(one))
		synctest.Wait()
		advance(60 * time.Second)
		if st := h.target("one"); st.ScrapeInterval != 30*time.Second {
			t.Fatalf("status interval %s", st.ScrapeInterval)
		}
		h.stop()

		if s := stales(h.rec.samples("a")); len(s) != 0 {
			t.Fatalf("kept target staled at %v", s)
		}
		if s := stales(h.rec.samples("b")); len(s) != 1 {
			t.Fatalf("removed job's series: %v", values(h.rec.samples("b")))
		}
		at := times(h.rec.samples("a"))
		if len(at) < 3 {
			t.Fatalf("a scraped at %v", at)
		}
		if d := at[len(at)-1] - at[len(at)-2]; d != 30000 {
			t.Fatalf("interval after reload = %dms, want 30000", d)
		}
		added := h.rec.samples("scrape_series_added", "job", "one")
		for _, s := range added[1:] {
			if s.v != 0 {
				t.Fatalf("cache lost on reload: scrape_series_added %v", values(added))
			}
		}
	})
}

func TestRelabeling(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, nil)
		h.srv.set("a:80", text("m 1\n"))
		h.srv.set("b:80", text("m 1\n"))
		sc := scrapeCfg("test", "a:80", "b:80")
		sc.StaticConfigs[0].Labels = map[string]string{"__meta_zone": "eu"}
		sc.RelabelConfigs = mustRelabel(t, `
- source_labels: [__address__]
  regex: b:.*
  action: drop
- source_labels: [__meta_zone]
  target_label: zone
- source_labels: [__address__]
  regex: '(.*):80'
  target_label: instance
  replacement: '$1'
- target_label: __param_module
  replacement: http_2xx
`)
		h.apply(cfgOf(sc))
		h.run()
		advance(10 * time.Second)
		ts := h.m.Targets()
		h.stop()
		if len(ts) != 1 {
			t.Fatalf("targets: %v", ts)
		}
		want := labels.FromStrings("instance", "a", "job", "test", "zone", "eu")
		if !labels.Equal(ts[0].Labels, want) {
			t.Fatalf("labels %s, want %s", ts[0].Labels, want)
		}
		if ts[0].ScrapeURL != "http://a:80/metrics?module=http_2xx" {
			t.Fatalf("url %s", ts[0].ScrapeURL)
		}
		m := h.rec.samples("m")
		if len(m) != 1 || !labels.Equal(m[0].lset, labels.FromStrings("__name__", "m", "instance", "a", "job", "test", "zone", "eu")) {
			t.Fatalf("m = %v", m)
		}
		if n := len(h.srv.requests("b:80")); n != 0 {
			t.Fatalf("dropped target scraped %d times", n)
		}
	})
}

func TestMetricRelabelDrop(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, nil)
		h.srv.set("a:80", text("keep_me 1\ndrop_me 2\ndrop_me{x=\"y\"} 3\n"))
		sc := scrapeCfg("test", "a:80")
		sc.MetricRelabelConfigs = mustRelabel(t, `
- source_labels: [__name__]
  regex: drop_.*
  action: drop
- target_label: team
  replacement: sre
`)
		h.apply(cfgOf(sc))
		h.run()
		advance(10 * time.Second)
		advance(10 * time.Second)
		h.stop()
		if d := h.rec.samples("drop_me"); len(d) != 0 {
			t.Fatalf("dropped series appended: %v", d)
		}
		k := h.rec.samples("keep_me", "team", "sre")
		if len(k) != 2 {
			t.Fatalf("keep_me = %v", k)
		}
		mustEqual(t, "scraped", values(h.rec.samples("scrape_samples_scraped")), []string{
			fmt.Sprintf("%d=3", k[0].t), fmt.Sprintf("%d=3", k[1].t),
		})
		mustEqual(t, "post relabel", values(h.rec.samples("scrape_samples_post_metric_relabeling")), []string{
			fmt.Sprintf("%d=1", k[0].t), fmt.Sprintf("%d=1", k[1].t),
		})
		if s := h.rec.samples("up", "team", "sre"); len(s) != 0 {
			t.Fatalf("metric_relabel applied to synthetic series: %v", s)
		}
	})
}

func TestHonorLabels(t *testing.T) {
	for _, tc := range []struct {
		honor bool
		want  labels.Labels
	}{
		{false, labels.FromStrings("__name__", "m", "exported_instance", "x", "exported_job", "other", "instance", "a:80", "job", "test", "k", "v")},
		{true, labels.FromStrings("__name__", "m", "instance", "x", "job", "other", "k", "v")},
	} {
		t.Run(fmt.Sprint("honor=", tc.honor), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				h := newHarness(t, nil)
				h.srv.set("a:80", text(`m{job="other",instance="x",k="v"} 1`+"\n"))
				sc := scrapeCfg("test", "a:80")
				sc.HonorLabels = tc.honor
				h.apply(cfgOf(sc))
				h.run()
				advance(10 * time.Second)
				h.stop()
				m := h.rec.samples("m")
				if len(m) != 1 || !labels.Equal(m[0].lset, tc.want) {
					t.Fatalf("m = %v, want %s", m, tc.want)
				}
			})
		})
	}
}

func TestHonorTimestamps(t *testing.T) {
	for _, honor := range []bool{true, false} {
		t.Run(fmt.Sprint("honor=", honor), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				h := newHarness(t, nil)
				h.srv.set("a:80", text("m 1 123\n"))
				sc := scrapeCfg("test", "a:80")
				sc.HonorTimestamps = &honor
				h.apply(cfgOf(sc))
				h.run()
				advance(10 * time.Second)
				h.srv.set("a:80", text("n 1\n"))
				advance(10 * time.Second)
				h.stop()
				m := h.rec.samples("m")
				up := times(h.rec.samples("up"))
				if honor {
					// Explicit timestamps are kept and not tracked for staleness.
					mustEqual(t, "m", values(m), []string{"123=1"})
				} else {
					mustEqual(t, "m", values(m), []string{fmt.Sprintf("%d=1", up[0]), fmt.Sprintf("%d=stale", up[1])})
				}
			})
		})
	}
}

func TestGzipAndBearerTokenFile(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tokFile := filepath.Join(t.TempDir(), "token")
		if err := os.WriteFile(tokFile, []byte("s3cret\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		h := newHarness(t, nil)
		var auths []string
		h.srv.set("a:80", func(w http.ResponseWriter, r *http.Request) {
			auths = append(auths, r.Header.Get("Authorization"))
			var b bytes.Buffer
			gz := gzip.NewWriter(&b)
			_, _ = gz.Write([]byte("zipped 42\n"))
			_ = gz.Close()
			w.Header().Set("Content-Encoding", "gzip")
			w.Header().Set("Content-Type", "text/plain; version=0.0.4")
			_, _ = w.Write(b.Bytes())
		})
		sc := scrapeCfg("test", "a:80")
		sc.BearerTokenFile = tokFile
		h.apply(cfgOf(sc))
		h.run()
		advance(10 * time.Second)
		if err := os.WriteFile(tokFile, []byte("rotated-token"), 0o600); err != nil {
			t.Fatal(err)
		}
		advance(10 * time.Second)
		h.stop()
		mustEqual(t, "Authorization", auths, []string{"Bearer s3cret", "Bearer rotated-token"})
		if z := h.rec.samples("zipped"); len(z) != 2 || z[0].v != 42 {
			t.Fatalf("zipped = %v", z)
		}
	})
}

func TestContentTypes(t *testing.T) {
	for _, tc := range []struct {
		name, ctype, body string
		wantUp            float64
		wantValue         string
	}{
		{"openmetrics", "application/openmetrics-text; version=1.0.0; charset=utf-8",
			"# TYPE om counter\nom_total 7\n# EOF\n", 1, "om_total"},
		{"openmetrics without EOF fails", "application/openmetrics-text; version=1.0.0",
			"# TYPE om counter\nom_total 7\n", 0, ""},
		{"empty content type falls back to text", "", "om_total 7\n", 1, "om_total"},
		{"unknown content type falls back to text", "application/json", "om_total 7\n", 1, "om_total"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				h := newHarness(t, nil)
				h.srv.set("a:80", func(w http.ResponseWriter, _ *http.Request) {
					w.Header()["Content-Type"] = []string{tc.ctype}
					_, _ = w.Write([]byte(tc.body))
				})
				h.apply(cfgOf(scrapeCfg("test", "a:80")))
				h.run()
				advance(10 * time.Second)
				h.stop()
				up := h.rec.samples("up")
				if len(up) != 1 || up[0].v != tc.wantUp {
					t.Fatalf("up = %v", values(up))
				}
				if tc.wantValue != "" {
					if s := h.rec.samples(tc.wantValue); len(s) != 1 || s[0].v != 7 {
						t.Fatalf("%s = %v", tc.wantValue, s)
					}
				}
			})
		})
	}
}

func TestUnknownRefRetry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, nil)
		h.srv.set("a:80", text("a 1\n"))
		h.apply(cfgOf(scrapeCfg("test", "a:80")))
		h.run()
		advance(10 * time.Second)
		h.rec.gc()
		advance(10 * time.Second)
		advance(10 * time.Second)
		h.stop()
		if up := values(h.rec.samples("up")); len(up) != 3 || !strings.HasSuffix(up[1], "=1") {
			t.Fatalf("up = %v", up)
		}
		if n := len(h.rec.samples("a")); n != 3 {
			t.Fatalf("a = %v", values(h.rec.samples("a")))
		}
		if len(h.rec.refMisuses) > 0 {
			t.Fatalf("ref misuse: %v", h.rec.refMisuses)
		}
	})
}

func TestOutOfOrderSkipped(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, nil)
		h.rec.strict = true
		h.srv.set("a:80", text("old 1 5000\nfresh 1\n"))
		h.apply(cfgOf(scrapeCfg("test", "a:80")))
		h.run()
		advance(10 * time.Second)
		h.srv.set("a:80", text("old 2 4000\nfresh 2\nfresh 3\n"))
		advance(10 * time.Second)
		// The target stays up, its last error says what was refused.
		if ts := h.target("test"); ts.Health != "up" || !strings.Contains(ts.LastError, "2 samples refused (out_of_order=1, duplicate=1)") {
			t.Fatalf("target %+v", ts)
		}
		h.stop()
		mustEqual(t, "old", values(h.rec.samples("old")), []string{"5000=1"})
		if n := len(h.rec.samples("fresh")); n != 2 {
			t.Fatalf("fresh = %v", values(h.rec.samples("fresh")))
		}
		// One out-of-order sample and one duplicate in the second scrape.
		for _, reason := range []string{"out_of_order", "duplicate"} {
			if got := h.counter("watchdog_scrape_samples_rejected_total", "test", `reason="`+reason+`"`); got != 1 {
				t.Fatalf("rejected %s = %d, want 1", reason, got)
			}
		}
		if up := values(h.rec.samples("up")); len(up) != 2 || !strings.HasSuffix(up[1], "=1") {
			t.Fatalf("up = %v", up)
		}
	})
}

func TestHardAppendErrorFailsScrape(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		boom := errors.New("disk on fire")
		rec := newRecorder()
		h := newHarness(t, func(o *Options) {
			o.Appender = func() Appender { return failing{rec.appender(), "bad", boom} }
		})
		h.rec = rec
		h.srv.set("a:80", text("good 1\nbad 1\n"))
		h.apply(cfgOf(scrapeCfg("test", "a:80")))
		h.run()
		advance(10 * time.Second)
		st := h.target("test")
		h.stop()
		mustContain(t, "LastError", st.LastError, boom.Error())
		if n := len(rec.samples("good")); n != 0 {
			t.Fatalf("good committed from failed scrape")
		}
	})
}

// failing fails every Append of the series named name with err.
type failing struct {
	Appender
	name string
	err  error
}

func (f failing) Append(ref uint64, lset labels.Labels, t int64, v float64) (uint64, error) {
	if lset.Get("__name__") == f.name {
		return 0, f.err
	}
	return f.Appender.Append(ref, lset, t, v)
}

func mustRelabel(t *testing.T, y string) []*relabel.Config {
	t.Helper()
	var rcs []*relabel.Config
	if err := yaml.Unmarshal([]byte(y), &rcs); err != nil {
		t.Fatal(err)
	}
	return rcs
}

// A scrape failing halfway through its body (after some samples were
// appended) still stales every series of the last successful scrape.
