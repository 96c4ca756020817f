package scrape

import (
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/relabel"

	"github.com/watchdog-sre/watchdog/config"
)

func labelsBuilder() *labels.Builder { return labels.NewBuilder(labels.EmptyLabels()) }

func TestApplyConfigErrors(t *testing.T) {
	clientErr := errors.New("no tls")
	for _, tc := range []struct {
		name    string
		cfg     *config.Config
		opts    Options
		wantErr error
	}{
		{name: "nil config", cfg: nil, wantErr: ErrInvalidConfig},
		{name: "nil job", cfg: cfgOf(nil), wantErr: ErrInvalidConfig},
		{name: "duplicate job", cfg: cfgOf(scrapeCfg("a"), scrapeCfg("a")), wantErr: ErrInvalidConfig},
		{name: "empty job name", cfg: cfgOf(scrapeCfg("")), wantErr: ErrInvalidConfig},
		{name: "zero interval", cfg: func() *config.Config {
			c := scrapeCfg("a")
			c.ScrapeInterval = 0
			return cfgOf(c)
		}(), wantErr: ErrInvalidConfig},
		{name: "bad relabel action", cfg: func() *config.Config {
			c := scrapeCfg("a")
			c.MetricRelabelConfigs = []*relabel.Config{{Action: "explode"}}
			return cfgOf(c)
		}(), wantErr: ErrInvalidConfig},
		{name: "client error", cfg: cfgOf(scrapeCfg("a")),
			opts:    Options{HTTPClient: func(*config.ScrapeConfig) (*http.Client, error) { return nil, clientErr }},
			wantErr: clientErr},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := NewManager(tc.opts).ApplyConfig(tc.cfg)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
		})
	}
}

func TestZeroOptionsManager(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := NewManager(Options{})
		if err := m.ApplyConfig(cfgOf(scrapeCfg("a"))); err != nil {
			t.Fatal(err)
		}
		h := &harness{t: t, m: m}
		h.run()
		advance(time.Minute)
		h.stop()
	})
}

func TestApplyConfigMergesBeforeRun(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, nil)
		h.srv.set("a:80", text("a 1\n"))
		h.srv.set("b:80", text("b 1\n"))
		h.apply(cfgOf(scrapeCfg("first", "a:80")))
		h.apply(cfgOf(scrapeCfg("second", "b:80")))
		h.run()
		advance(10 * time.Second)
		ts := h.m.Targets()
		h.stop()
		if len(ts) != 1 || ts[0].Job != "second" {
			t.Fatalf("targets %v", ts)
		}
		if n := len(h.srv.requests("a:80")); n != 0 {
			t.Fatalf("superseded config scraped %d times", n)
		}
	})
}

func TestMetricRelabelChangeOnReload(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, nil)
		h.srv.set("a:80", text("a 1\nb 1\n"))
		h.apply(cfgOf(scrapeCfg("j", "a:80")))
		h.run()
		advance(10 * time.Second)
		sc := scrapeCfg("j", "a:80")
		sc.MetricRelabelConfigs = mustRelabel(t, "- source_labels: [__name__]\n  regex: b\n  action: drop\n")
		h.apply(cfgOf(sc))
		synctest.Wait()
		advance(10 * time.Second)
		advance(10 * time.Second)
		h.stop()
		up := times(h.rec.samples("up"))
		mustEqual(t, "b", values(h.rec.samples("b")), []string{
			values([]sample{{t: up[0], v: 1}})[0], values([]sample{{t: up[1], v: staleNaN()}})[0],
		})
		if n := len(h.rec.samples("a")); n != 3 {
			t.Fatalf("a: %v", values(h.rec.samples("a")))
		}
	})
}

// droppedView formats DroppedTargets as "job count [discovered...]".
func droppedView(ds []DroppedTargets) []string {
	out := make([]string, len(ds))
	for i, d := range ds {
		s := make([]string, len(d.Discovered))
		for j, l := range d.Discovered {
			s[j] = l.String()
		}
		out[i] = fmt.Sprintf("%s %d %v", d.Job, d.Count, s)
	}
	return out
}

func TestDroppedTargetsOnReload(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, nil)
		for _, host := range []string{"a:80", "b:80", "c:80"} {
			h.srv.set(host, text("m 1\n"))
		}
		web := func(dropRegex string) *config.ScrapeConfig {
			sc := scrapeCfg("web", "a:80", "b:80")
			sc.StaticConfigs[0].Labels = map[string]string{"team": "x"}
			if dropRegex != "" {
				sc.RelabelConfigs = mustRelabel(t, "- source_labels: [__address__]\n  regex: "+dropRegex+"\n  action: drop\n")
			}
			return sc
		}
		disc := func(addr string) string {
			return `{__address__="` + addr + `", __metrics_path__="/metrics", __scheme__="http", ` +
				`__scrape_interval__="10s", __scrape_timeout__="5s", job="web", team="x"}`
		}
		h.apply(cfgOf(web("b:.*"), scrapeCfg("other", "c:80")))
		if got := h.m.DroppedTargets(); len(got) != 0 {
			t.Fatalf("dropped before Run: %v", droppedView(got))
		}
		h.run()
		mustEqual(t, "dropped", droppedView(h.m.DroppedTargets()), []string{
			"other 0 []",
			"web 1 [" + disc("b:80") + "]",
		})

		// The reload keeps b and drops a instead; job other is gone.
		h.apply(cfgOf(web("a:.*")))
		synctest.Wait()
		mustEqual(t, "dropped after reload", droppedView(h.m.DroppedTargets()), []string{"web 1 [" + disc("a:80") + "]"})
		advance(10 * time.Second)
		if ts := h.m.Targets(); len(ts) != 1 || ts[0].ScrapeURL != "http://b:80/metrics" {
			t.Fatalf("targets: %v", ts)
		}
		if n := len(h.srv.requests("b:80")); n != 1 {
			t.Fatalf("kept target scraped %d times", n)
		}

		h.apply(cfgOf(web("")))
		synctest.Wait()
		mustEqual(t, "nothing dropped", droppedView(h.m.DroppedTargets()), []string{"web 0 []"})
		h.stop()
		if got := h.m.DroppedTargets(); len(got) != 0 {
			t.Fatalf("dropped after Run returned: %v", droppedView(got))
		}
	})
}

func TestDroppedTargetsFileSDAndCap(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dir, write := fileSDFile(t)
		write(`[{"targets": ["keep:80", "drop-1:80"], "labels": {"__meta_dc": "eu"}}]`)
		h := newHarness(t, nil)
		sc := scrapeCfg("fs")
		sc.StaticConfigs = nil
		sc.FileSDConfigs = []config.FileSDConfig{{Files: []string{filepath.Join(dir, "*.json")}}}
		sc.RelabelConfigs = mustRelabel(t, "- source_labels: [__address__]\n  regex: drop-.*\n  action: drop\n")
		sc.KeepDroppedTargets = 2
		h.apply(cfgOf(sc))
		h.run()
		disc := func(addr string) string {
			return `{__address__="` + addr + `", __meta_dc="eu", __metrics_path__="/metrics", __scheme__="http", ` +
				`__scrape_interval__="10s", __scrape_timeout__="5s", job="fs"}`
		}
		mustEqual(t, "dropped", droppedView(h.m.DroppedTargets()), []string{"fs 1 [" + disc("drop-1:80") + "]"})

		// More dropped targets than keep_dropped_targets: the list is capped,
		// the count is exact.
		write(`[{"targets": ["keep:80", "drop-1:80", "drop-2:80", "drop-3:80"], "labels": {"__meta_dc": "eu"}}]`)
		advance(filePollInterval)
		mustEqual(t, "dropped after file change", droppedView(h.m.DroppedTargets()), []string{
			"fs 3 [" + disc("drop-1:80") + " " + disc("drop-2:80") + "]",
		})
		if n := len(h.m.Targets()); n != 1 {
			t.Fatalf("%d active targets", n)
		}
		h.stop()
	})
}
