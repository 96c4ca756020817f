package main

import (
	"errors"
	"io"
	"math"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/textparse"

	"github.com/watchdog-sre/watchdog/config"
)

// parse reads an exposition with Prometheus's text parser and returns each
// series' value in order.
func parse(t *testing.T, body []byte) ([]string, []float64) {
	t.Helper()
	p := textparse.NewPromParser(body, labels.NewSymbolTable(), false)
	var names []string
	var values []float64
	for {
		e, err := p.Next()
		if errors.Is(err, io.EOF) {
			return names, values
		}
		if err != nil {
			t.Fatalf("parse: %v", err)
		}
		if e != textparse.EntrySeries {
			continue
		}
		var l labels.Labels
		p.Labels(&l)
		_, _, v := p.Series()
		names = append(names, l.String())
		values = append(values, v)
	}
}

// A generated exposition parses as Prometheus text, and the values a target
// rewrites in place are the ones it moved: counters only grow, gauges stay
// within 5% of their previous value.
func TestGeneratedTargetRewritesValuesInPlace(t *testing.T) {
	e := generated(1000)
	if e.samples != 1000 || len(e.slots) != 1000 {
		t.Fatalf("samples %d, slots %d, want 1000", e.samples, len(e.slots))
	}
	tg := newTarget(e, 7, false)
	names0, v0 := parse(t, tg.render())
	if len(names0) != 1000 {
		t.Fatalf("parsed %d series, want 1000", len(names0))
	}
	seen := map[string]bool{}
	for _, n := range names0 {
		if seen[n] {
			t.Fatalf("series %s twice", n)
		}
		seen[n] = true
	}
	moved := 0
	for range 20 {
		names, v := parse(t, tg.render())
		if len(names) != len(names0) {
			t.Fatalf("parsed %d series, want %d", len(names), len(names0))
		}
		for i := range v {
			if names[i] != names0[i] {
				t.Fatalf("series %d is %s, was %s", i, names[i], names0[i])
			}
			if math.Abs(v[i]-tg.values[i]) > 0.0005 {
				t.Fatalf("series %s: body says %v, target holds %v", names[i], v[i], tg.values[i])
			}
			switch {
			case e.slots[i].counter && v[i] < v0[i]:
				t.Fatalf("counter %s went down from %v to %v", names[i], v0[i], v[i])
			case !e.slots[i].counter && math.Abs(v[i]-v0[i]) > 0.051*v0[i]+0.001:
				t.Fatalf("gauge %s jumped from %v to %v", names[i], v0[i], v[i])
			}
			if v[i] != v0[i] {
				moved++
			}
		}
		v0 = v
	}
	if moved < 20*1000/5 {
		t.Errorf("%d values moved over 20 scrapes of 1000 series, want at least a fifth", moved)
	}
}

func TestPutFixed(t *testing.T) {
	for _, tt := range []struct {
		v       float64
		counter bool
		want    string
	}{
		{0, true, "000000000000000"},
		{1234, true, "000000000001234"},
		{12.3456, false, "00000000012.346"},
		{999, false, "00000000999.000"},
		{-5, false, "00000000000.000"},
		{1e20, true, "090000000000000"},
	} {
		b := make([]byte, valueWidth)
		putFixed(b, tt.v, tt.counter)
		if string(b) != tt.want {
			t.Errorf("putFixed(%v, %v) = %s, want %s", tt.v, tt.counter, b, tt.want)
		}
	}
}

// The watchdog's configuration of a fleet loads, rules and a series limit
// above the store's default included.
func TestWriteConfigLoads(t *testing.T) {
	f := &fleet{addrs: []string{"127.0.0.1:1", "127.0.0.1:2"}}
	for _, o := range []options{
		{interval: 15 * time.Second, timeout: 12 * time.Second},
		{interval: 15 * time.Second, timeout: 12 * time.Second, rules: "rules.yml", targets: 200, series: 50_000},
	} {
		path, err := writeConfig(o, "watchdog", f, t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		cfg, err := config.Load(path)
		if err != nil {
			t.Fatalf("%+v: %v", o, err)
		}
		if want := o.targets * o.series; want > 0 && cfg.Storage.MaxSeries < want {
			t.Errorf("max_series %d, want at least %d", cfg.Storage.MaxSeries, want)
		}
		if o.rules != "" && (len(cfg.RuleFiles) != 1 || time.Duration(cfg.Global.EvaluationInterval) != o.interval) {
			t.Errorf("rule files %v every %v, want %s every %v", cfg.RuleFiles, cfg.Global.EvaluationInterval, o.rules, o.interval)
		}
	}
}

// While a generated target ramps up it serves a prefix of its series, whole
// lines only.
func TestGeneratedTargetRamps(t *testing.T) {
	e := generated(1000)
	for _, tt := range []struct {
		share float64
		want  int
	}{{0, 0}, {0.0001, 1}, {0.5, 500}, {1, 1000}} {
		tg := newTarget(e, 1, false)
		tg.ramp = func() float64 { return tt.share }
		names, _ := parse(t, tg.render())
		if len(names) != tt.want {
			t.Errorf("share %v: %d series, want %d", tt.share, len(names), tt.want)
		}
	}
}
