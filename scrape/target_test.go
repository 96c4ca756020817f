package scrape

import (
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"

	"github.com/watchdog-sre/watchdog/config"
)

func modelDuration(d time.Duration) model.Duration { return model.Duration(d) }

func TestNewTarget(t *testing.T) {
	for _, tc := range []struct {
		name     string
		addr     string
		group    map[string]string
		mod      func(c *jobConfig)
		relabel  string
		want     string // public labels
		wantURL  string
		wantErr  string
		wantDrop bool
	}{
		{name: "defaults", addr: "h:9100", want: `{instance="h:9100", job="j"}`, wantURL: "http://h:9100/metrics"},
		{name: "group labels and instance override", addr: "h:9100", group: map[string]string{"instance": "web", "env": "p"},
			want: `{env="p", instance="web", job="j"}`, wantURL: "http://h:9100/metrics"},
		{name: "group overrides scheme and path", addr: "h:1", group: map[string]string{"__scheme__": "https", "__metrics_path__": "/m"},
			want: `{instance="h:1", job="j"}`, wantURL: "https://h:1/m"},
		{name: "params", addr: "h:1", mod: func(c *jobConfig) { c.cfg.Params = url.Values{"a": {"1", "2"}, "b": {"x"}} },
			group: map[string]string{"__param_b": "y"}, want: `{instance="h:1", job="j"}`, wantURL: "http://h:1/metrics?a=1&a=2&b=y"},
		{name: "relabel drop", addr: "h:1", relabel: "- action: drop\n  source_labels: [__address__]\n  regex: h:.*\n", wantDrop: true},
		{name: "relabel interval", addr: "h:1",
			relabel: "- target_label: __scrape_interval__\n  replacement: 1m\n- target_label: __scrape_timeout__\n  replacement: 30s\n",
			want:    `{instance="h:1", job="j"}`, wantURL: "http://h:1/metrics"},
		{name: "meta labels removed", addr: "h:1", group: map[string]string{"__meta_x": "1", "__tmp": "2"},
			want: `{instance="h:1", job="j"}`, wantURL: "http://h:1/metrics"},
		{name: "address with slash", addr: "h:1/x", wantErr: "not a valid hostname"},
		{name: "no address", addr: "h:1", relabel: "- target_label: __address__\n  replacement: ''\n", wantErr: "no address"},
		{name: "timeout above interval", addr: "h:1", relabel: "- target_label: __scrape_timeout__\n  replacement: 1h\n", wantErr: "greater than"},
		{name: "bad interval", addr: "h:1", relabel: "- target_label: __scrape_interval__\n  replacement: soon\n", wantErr: "scrape interval"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			jc := &jobConfig{cfg: scrapeCfg("j")}
			if tc.mod != nil {
				tc.mod(jc)
			}
			if tc.relabel != "" {
				rcs, err := checkRelabel(mustRelabel(t, tc.relabel))
				if err != nil {
					t.Fatal(err)
				}
				jc.cfg.RelabelConfigs = rcs
			}
			tg, err := newTarget(labels.NewBuilder(labels.EmptyLabels()), jc.cfg, tc.addr, tc.group)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tc.wantDrop {
				if tg != nil {
					t.Fatalf("not dropped: %s", tg.labels)
				}
				return
			}
			if got := tg.public.String(); got != tc.want {
				t.Fatalf("labels %s, want %s", got, tc.want)
			}
			if tg.url != tc.wantURL {
				t.Fatalf("url %s, want %s", tg.url, tc.wantURL)
			}
			if tc.name == "relabel interval" && (tg.interval != time.Minute || tg.timeout != 30*time.Second) {
				t.Fatalf("interval %s timeout %s", tg.interval, tg.timeout)
			}
		})
	}
}

func TestScrapeOffset(t *testing.T) {
	iv := 10 * time.Second
	for _, tc := range []struct {
		name string
		hash uint64
		now  time.Time
		want time.Duration
	}{
		{"aligned now", uint64(3 * time.Second), time.Unix(100, 0), 3 * time.Second},
		{"phase passed this interval", uint64(3 * time.Second), time.Unix(104, 0), 9 * time.Second},
		{"phase ahead", uint64(3 * time.Second), time.Unix(102, 0), 1 * time.Second},
		{"zero phase", 0, time.Unix(105, 0), 5 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := scrapeOffset(tc.hash, iv, tc.now)
			if got != tc.want {
				t.Fatalf("offset = %s, want %s", got, tc.want)
			}
			// The first scrape always lands on the target's phase.
			if phase := tc.now.Add(got).UnixNano() % int64(iv); phase != int64(tc.hash%uint64(iv)) {
				t.Fatalf("phase %d", phase)
			}
		})
	}
}

func TestBuildTargetsDedup(t *testing.T) {
	jc := &jobConfig{cfg: scrapeCfg("j")}
	ts, dropped, errs := buildTargets(jc, jc.cfg.StaticConfigs) // no targets
	if len(ts) != 0 || len(errs) != 0 || dropped.count != 0 {
		t.Fatalf("%v %v %v", ts, dropped, errs)
	}
	jc.cfg.StaticConfigs[0].Targets = []string{"a:1", "a:1", "b/x", "c:1"}
	ts, dropped, errs = buildTargets(jc, jc.cfg.StaticConfigs)
	if len(ts) != 2 || len(errs) != 1 || dropped.count != 0 || dropped.discovered != nil {
		t.Fatalf("targets %d errs %v dropped %v", len(ts), errs, dropped)
	}
}

func TestBuildTargetsDropped(t *testing.T) {
	groups := []config.StaticConfig{
		{Targets: []string{"keep:1", "drop:1", "drop:2"}, Labels: map[string]string{"env": "prod", "__meta_zone": "eu"}},
		{Targets: []string{"drop:3", "drop:1", "bad/x"}},
	}
	discovered := func(addr string, group map[string]string) string {
		lset := labels.FromMap(map[string]string{
			"__address__": addr, "__scheme__": "http", "__metrics_path__": "/metrics",
			"__scrape_interval__": "10s", "__scrape_timeout__": "5s", "job": "j", "__param_module": "m",
		})
		lb := labels.NewBuilder(lset)
		for k, v := range group {
			lb.Set(k, v)
		}
		return lb.Labels().String()
	}
	all := []string{
		discovered("drop:1", groups[0].Labels), discovered("drop:2", groups[0].Labels),
		discovered("drop:3", nil), discovered("drop:1", nil),
	}
	for _, tc := range []struct {
		name string
		keep int
		want []string
	}{
		{"unlimited", 0, all},
		{"capped", 2, all[:2]},
		{"cap above count", 10, all},
	} {
		t.Run(tc.name, func(t *testing.T) {
			jc := &jobConfig{cfg: scrapeCfg("j")}
			jc.cfg.KeepDroppedTargets = tc.keep
			jc.cfg.Params = url.Values{"module": {"m"}}
			rcs, err := checkRelabel(mustRelabel(t, "- action: drop\n  source_labels: [__address__]\n  regex: drop:.*\n"))
			if err != nil {
				t.Fatal(err)
			}
			jc.cfg.RelabelConfigs = rcs
			ts, dropped, errs := buildTargets(jc, groups)
			if len(ts) != 1 || ts[0].url != "http://keep:1/metrics?module=m" || len(errs) != 1 {
				t.Fatalf("targets %v errs %v", ts, errs)
			}
			// Duplicates are kept, as Prometheus does; the count is exact.
			if dropped.count != 4 {
				t.Fatalf("count %d, want 4", dropped.count)
			}
			got := make([]string, len(dropped.discovered))
			for i, l := range dropped.discovered {
				got[i] = l.String()
			}
			mustEqual(t, "discovered", got, tc.want)
		})
	}
}

func TestNextTick(t *testing.T) {
	iv := 10 * time.Second
	tick := time.Unix(100, 0)
	for _, tc := range []struct {
		name       string
		now        time.Duration // after tick
		wantNext   time.Duration // after tick
		wantMissed int
	}{
		{"quick scrape", time.Second, iv, 0},
		{"ends on the next tick", iv, iv, 0},
		{"just past the next tick", iv + time.Nanosecond, 2 * iv, 1},
		{"two and a half intervals", 25 * time.Second, 3 * iv, 2},
		{"ends on a later tick", 3 * iv, 3 * iv, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			next, missed := nextTick(tick, iv, tick.Add(tc.now))
			if got := next.Sub(tick); got != tc.wantNext || missed != tc.wantMissed {
				t.Fatalf("next +%s missed %d, want +%s missed %d", got, missed, tc.wantNext, tc.wantMissed)
			}
		})
	}
}
