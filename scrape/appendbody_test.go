package scrape

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/relabel"
	"gopkg.in/yaml.v3"

	"github.com/watchdog-sre/watchdog/internal/testcorpus"
)

func newTestScrapeLoop(rec *recorder, sc func(c *jobConfig)) *scrapeLoop {
	jc := &jobConfig{cfg: scrapeCfg("j", "h:1"), honorTimestamps: true}
	if sc != nil {
		sc(jc)
	}
	tg, err := newTarget(labelsBuilder(), jc.cfg, "h:1", nil)
	if err != nil {
		panic(err)
	}
	deps := &loopDeps{appender: rec.appender, isSoft: isSoft}
	return newScrapeLoop(deps, &loopSettings{target: tg, job: jc})
}

// corpus returns the shared corpus' exposition bodies; it fails tb when the
// corpus is missing.
func corpus(tb testing.TB) [][]byte {
	tb.Helper()
	var out [][]byte
	for _, f := range testcorpus.All(tb) {
		out = append(out, f.Data)
	}
	return out
}

// FuzzAppendBody feeds arbitrary bodies through parsing, labeling, the series
// cache and staleness, twice in a row, as two scrapes of one target.
func FuzzAppendBody(f *testing.F) {
	for _, b := range corpus(f) {
		// Small seeds keep the mutator and minimizer fast.
		if len(b) > 4096 {
			b = b[:bytes.LastIndexByte(b[:4096], '\n')+1]
		}
		f.Add(b, []byte("m 1\n"), bytes.Contains(b, []byte("# EOF")))
	}
	f.Add([]byte(body2), []byte("foo{a=\"1\"} 2\n"), false)
	f.Add([]byte("# TYPE a counter\na_total 1\n# EOF\n"), []byte("# EOF\n"), true)
	f.Add([]byte("a{job=\"x\",instance=\"y\"} 1 1000\na 2\n"), []byte("a 1\na 1\n"), false)
	f.Fuzz(func(t *testing.T, first, second []byte, om bool) {
		ctype := "text/plain; version=0.0.4"
		if om {
			ctype = "application/openmetrics-text; version=1.0.0"
		}
		rec := newRecorder()
		sl := newTestScrapeLoop(rec, func(c *jobConfig) {
			c.cfg.SampleLimit = 50
			c.cfg.LabelLimit = 10
			c.cfg.MetricRelabelConfigs = mustRelabelF(`- source_labels: [__name__]
  regex: drop.*
  action: drop
`)
		})
		for i, body := range [][]byte{first, second} {
			app := rec.appender()
			res, err := sl.appendBody(context.Background(), app, body, ctype, int64(1000*(i+1)))
			if err != nil {
				_ = app.Rollback()
				sl.cache.forgetCurrent()
				app = rec.appender()
				sl.writeStale(app, int64(1000*(i+1)))
			}
			if res.added > res.total || res.seriesAdded > res.added {
				t.Fatalf("counts %+v", res)
			}
			sl.cache.iterDone(err == nil)
			_ = app.Commit()
		}
		for _, s := range rec.committed {
			if !s.lset.Has(model.MetricNameLabel) || s.lset.Get("job") != "j" || s.lset.Get("instance") != "h:1" {
				t.Fatalf("bad labels %s", s.lset)
			}
		}
		if len(rec.refMisuses) > 0 {
			t.Fatalf("ref misuse: %v", rec.refMisuses)
		}
	})
}

func mustRelabelF(y string) []*relabel.Config {
	var rcs []*relabel.Config
	if err := yaml.Unmarshal([]byte(y), &rcs); err != nil {
		panic(err)
	}
	rcs, err := checkRelabel(rcs)
	if err != nil {
		panic(err)
	}
	return rcs
}

// BenchmarkAppendBody measures a steady-state scrape of a node_exporter
// exposition (every line in the series cache) with our text parser and with
// Prometheus's, and reports the time ratio.
func BenchmarkAppendBody(b *testing.B) {
	body := testcorpus.Read(b, "node_exporter.prom")
	nsPerOp := map[bool]float64{}
	for _, prom := range []bool{false, true} {
		name := "promtext"
		if prom {
			name = "textparse"
		}
		b.Run(name, func(b *testing.B) {
			rec := newRecorder()
			sl := newTestScrapeLoop(rec, nil)
			sl.parsers.prometheus = prom
			// Fill the cache once through the recorder so entries have refs.
			if _, err := sl.appendBody(context.Background(), rec.appender(), body, "text/plain", 1); err != nil {
				b.Fatal(err)
			}
			sl.cache.iterDone(true)
			sl.meta.end(true)
			var refs uint64
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			start := time.Now()
			n, samples := 0, 0
			for b.Loop() {
				n++
				res, err := sl.appendBody(context.Background(), countingAppender{&refs}, body, "text/plain", int64(n+1))
				if err != nil || res.seriesAdded != 0 {
					b.Fatalf("%+v %v", res, err)
				}
				samples += res.total
				sl.cache.iterDone(true)
				sl.meta.end(true)
			}
			nsPerOp[prom] = float64(time.Since(start).Nanoseconds()) / float64(n)
			b.ReportMetric(float64(time.Since(start).Nanoseconds())/float64(samples), "ns/sample")
		})
	}
	if nsPerOp[false] > 0 && nsPerOp[true] > 0 {
		b.Logf("textparse/promtext time ratio: %.2f", nsPerOp[true]/nsPerOp[false])
	}
}

type countingAppender struct{ n *uint64 }

func (c countingAppender) Append(ref uint64, _ labels.Labels, _ int64, _ float64) (uint64, error) {
	*c.n++
	return ref, nil
}
func (c countingAppender) AppendHistogram(ref uint64, _ labels.Labels, _ int64, _ *histogram.Histogram, _ *histogram.FloatHistogram) (uint64, error) {
	*c.n++
	return ref, nil
}
func (c countingAppender) AppendSample(ref uint64, _ labels.Labels, _, _ int64, _ float64, _ *histogram.Histogram, _ *histogram.FloatHistogram) (uint64, error) {
	*c.n++
	return ref, nil
}
func (c countingAppender) AppendSTZeroSample(ref uint64, _ labels.Labels, _, _ int64, _ *histogram.Histogram, _ *histogram.FloatHistogram) (uint64, error) {
	return ref, nil
}
func (countingAppender) Commit() error   { return nil }
func (countingAppender) Rollback() error { return nil }

// TestSampleLines: the sample_limit pre-check counts lines that can hold a
// sample, not comments or empty lines.
func TestSampleLines(t *testing.T) {
	for _, tt := range []struct {
		body string
		want int
	}{
		{"", 0},
		{"a 1", 1},
		{"a 1\n", 1},
		{"# HELP a x\n# TYPE a counter\na 1\n\nb 2\n", 2},
		{"\n\n#\n", 0},
	} {
		if got := sampleLines([]byte(tt.body)); got != tt.want {
			t.Errorf("sampleLines(%q) = %d, want %d", tt.body, got, tt.want)
		}
	}
}

// TestMergeTargetMatchesBuilder: mutate's one-pass merge of the target's
// labels gives what labels.Builder gives, on label sets with empty values,
// names before, between and after the target's, and names of target labels,
// with and without honor_labels.
func TestMergeTargetMatchesBuilder(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	names := []string{"__name__", "A", "a", "instance", "job", "k", "zz", "exported_job", "team"}
	values := []string{"", "x", "y"}
	for _, honor := range []bool{false, true} {
		t.Run(fmt.Sprint("honor=", honor), func(t *testing.T) {
			merged := 0
			for i := range 2000 {
				var tl, sl []string
				for _, n := range names[1:] {
					if rng.IntN(3) == 0 {
						tl = append(tl, n, values[1+rng.IntN(2)])
					}
				}
				for _, n := range names {
					if rng.IntN(2) == 0 {
						sl = append(sl, n, values[rng.IntN(3)])
					}
				}
				loop := newTestScrapeLoop(newRecorder(), func(c *jobConfig) { c.cfg.HonorLabels = honor })
				loop.s.target.public = labels.FromStrings(tl...)
				lset := labels.FromStrings(sl...)
				if _, ok := loop.mergeTarget(lset); ok {
					merged++
				}
				got, gotKeep := loop.mutate(lset)
				want, wantKeep := loop.mutateBuilder(lset)
				if !labels.Equal(got, want) || gotKeep != wantKeep || got.String() != want.String() {
					t.Fatalf("case %d: target %v, scraped %s: merge %s %v, builder %s %v", i, tl, lset, got, gotKeep, want, wantKeep)
				}
			}
			if merged < 200 || merged > 1800 {
				t.Fatalf("%d of 2000 cases merged in one pass: both paths must be exercised", merged)
			}
		})
	}
}
