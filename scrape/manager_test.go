package scrape

import (
	"errors"
	"net/http"
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
