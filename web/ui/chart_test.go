package ui

import (
	"math"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql"

	"github.com/watchdog-sre/watchdog/config"
)

func TestSplitThreshold(t *testing.T) {
	for _, tt := range []struct {
		in, graph string
		threshold float64 // NaN: none
	}{
		{`rate(errors_total[5m]) > 0.5`, `rate(errors_total[5m])`, 0.5},
		{`(sum(rate(x[1m])) / sum(rate(y[1m]))) >= 0.05`, `(sum(rate(x[1m])) / sum(rate(y[1m])))`, 0.05},
		{`10 < up`, `up`, 10},
		{`(up == 0)`, `up`, 0},
		{`up > bool 1`, `up > bool 1`, math.NaN()},
		{`up > on() other`, `up > on () other`, math.NaN()},
		{`absent(up)`, `absent(up)`, math.NaN()},
		{`queue.depth > 100 for job == "w"`, `queue.depth > 100 for job == "w"`, math.NaN()},
	} {
		g, th := splitThreshold(promqlParser, tt.in)
		if math.IsNaN(tt.threshold) {
			if th != nil || g != tt.in {
				t.Errorf("%q: got %q, %v; want the whole expression without threshold", tt.in, g, th)
			}
			continue
		}
		if th == nil || *th != tt.threshold || g != tt.graph {
			t.Errorf("%q: got %q, %v; want %q, %v", tt.in, g, th, tt.graph, tt.threshold)
		}
	}
}

// TestChartNumbersOnly: path data, positions and tick values are built
// from numbers alone, whatever the series labels hold.
func TestChartNumbersOnly(t *testing.T) {
	start := testNow.Add(-time.Hour)
	step := time.Minute
	var pts []promql.FPoint
	for i := range 61 {
		v := float64(i)
		switch i {
		case 10:
			v = math.NaN()
		case 20:
			v = math.Inf(1)
		}
		if i == 30 || i == 31 || i == 32 {
			continue // a gap
		}
		pts = append(pts, promql.FPoint{T: start.Add(time.Duration(i) * step).UnixMilli(), F: v})
	}
	m := promql.Matrix{{Metric: labels.FromStrings("x", xssScript), Floats: pts},
		{Metric: labels.FromStrings("x", "lone"), Floats: []promql.FPoint{{T: start.UnixMilli(), F: 1e12}}}}
	th := 42.0
	c := buildChart(m, start, testNow, step, &th)
	num := regexp.MustCompile(`^-?[0-9]+(\.[0-9]+)?$`)
	path := regexp.MustCompile(`^([MLh] ?-?[0-9]+(\.[0-9]+)?( -?[0-9]+(\.[0-9]+)?)? ?)+$`)
	for _, s := range c.Series {
		if !path.MatchString(s.Path) {
			t.Errorf("path %q is not numbers-only", s.Path)
		}
	}
	if got := strings.Count(c.Series[0].Path, "M"); got != 4 {
		t.Errorf("series 0 has %d segments, want 4 (NaN, Inf and a gap split it): %s", got, c.Series[0].Path)
	}
	if !strings.HasSuffix(c.Series[1].Path, "h0.1") {
		t.Errorf("a lone point is not drawn as a dot: %q", c.Series[1].Path)
	}
	if c.Threshold == nil || !num.MatchString(c.Threshold.Y) || c.Threshold.Label != "42" {
		t.Errorf("threshold %+v", c.Threshold)
	}
	for _, tk := range append(c.YTicks, c.XTicks...) {
		if !num.MatchString(tk.Pos) {
			t.Errorf("tick position %q", tk.Pos)
		}
	}
	if e := buildChart(nil, start, testNow, step, nil); !e.Empty {
		t.Error("an empty matrix is not marked empty")
	}
	many := make(promql.Matrix, maxChartSeries+3)
	if c := buildChart(many, start, testNow, step, nil); c.Omitted != 3 || len(c.Series) != maxChartSeries {
		t.Errorf("omitted %d of %d", c.Omitted, len(many))
	}
}

// TestStatusPageConfig reads a status_page section through the config
// package, as the watchdog does.
func TestStatusPageConfig(t *testing.T) {
	cfg, err := config.Parse([]byte(`
status_page:
  title: Shop
  components:
    - {name: Checkout, routes: [pages]}
    - {name: Search, matchers: ['job="search"']}
`), "w.yml")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.StatusPage.Title != "Shop" || len(cfg.StatusPage.Components) != 2 || cfg.StatusPage.Components[1].Matchers[0] != `job="search"` {
		t.Fatalf("%+v", cfg.StatusPage)
	}
	if _, err := New(Options{StatusPage: func() *config.StatusPage { return &cfg.StatusPage }}); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{
		"status_page:\n  components:\n    - {name: A}\n",
		"status_page:\n  components:\n    - {name: A, routes: [x]}\n    - {name: A, routes: [y]}\n",
		"status_page:\n  components:\n    - {routes: [x]}\n",
		"status_page:\n  colour: red\n",
	} {
		if _, err := config.Parse([]byte(bad), "w.yml"); err == nil {
			t.Errorf("accepted:\n%s", bad)
		}
	}
}
