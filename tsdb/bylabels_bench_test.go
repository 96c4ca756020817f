package tsdb

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"
)

// byLabelsSets returns n label sets shaped like recording-rule outputs and
// remote-write series (node_exporter series of n/len(corpus)+1 instances),
// and fresh copies of them that share no memory with the first, as a rule
// evaluation or a decoded remote-write request hands them to Append.
func byLabelsSets(tb testing.TB, n int) (stored, incoming []labels.Labels) {
	series, _ := nodeExporterScrapes(tb)
	for i := 0; len(stored) < n; i++ {
		b := labels.NewBuilder(series[i%len(series)])
		b.Set("instance", fmt.Sprintf("host-%04d.example.org:9100", i/len(series)))
		ls := b.Labels()
		stored = append(stored, ls)
		var sb labels.ScratchBuilder
		ls.Range(func(l labels.Label) { sb.Add(string([]byte(l.Name)), string([]byte(l.Value))) })
		incoming = append(incoming, sb.Labels())
	}
	return stored, incoming
}

// BenchmarkAppendByLabels appends one sample to each of 10,000 existing
// series per op by labels (ref 0), as the rules manager does for recording
// rule and ALERTS outputs and remote-write ingest does for every sample,
// into both stores, and reports ns per sample; the 100k case is the same
// with series that do not fit in the caches.
func BenchmarkAppendByLabels(b *testing.B) {
	for _, n := range []int{10_000, 100_000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) { benchAppendByLabels(b, n) })
	}
}

func benchAppendByLabels(b *testing.B, n int) {
	stored, incoming := byLabelsSets(b, n)
	db := newDB(anyTime(Options{}), nil)
	ph := newPromHead(b)
	ctx := context.Background()
	app := db.Appender()
	papp := promApp{ph.head.Appender(ctx)}
	for _, ls := range stored {
		if _, err := app.Append(0, ls, 0, 1); err != nil {
			b.Fatal(err)
		}
		if _, err := papp.Append(0, ls, 0, 1); err != nil {
			b.Fatal(err)
		}
	}
	app.Commit()
	papp.Commit()
	var ours, prom time.Duration
	ts := int64(0)
	for b.Loop() {
		ts += 15_000
		t0 := time.Now()
		for _, ls := range incoming {
			if _, err := app.Append(0, ls, ts, float64(ts)); err != nil {
				b.Fatal(err)
			}
		}
		app.Commit()
		t1 := time.Now()
		papp := promApp{ph.head.Appender(ctx)}
		for _, ls := range incoming {
			if _, err := papp.Append(0, ls, ts, float64(ts)); err != nil {
				b.Fatal(err)
			}
		}
		papp.Commit()
		ours += t1.Sub(t0)
		prom += time.Since(t1)
	}
	k := float64(b.N) * float64(n)
	b.ReportMetric(float64(ours.Nanoseconds())/k, "ours-ns/sample")
	b.ReportMetric(float64(prom.Nanoseconds())/k, "prom-ns/sample")
	b.ReportMetric(float64(ours)/float64(prom), "ours/prom-time")
}

// BenchmarkSymbolsEqual isolates the check a by-labels lookup makes once
// the hash matched: a series' symbol ids against the incoming labels, beside
// labels.Equal of two label sets (what the store did before symbol ids).
func BenchmarkSymbolsEqual(b *testing.B) {
	const n = 10_000
	stored, incoming := byLabelsSets(b, n)
	t := newSymbolTable()
	syms := make([]string, n)
	for i, ls := range stored {
		syms[i] = t.encode(ls)
	}
	b.Run("symbols", func(b *testing.B) {
		for b.Loop() {
			for i := range syms {
				if !t.equal(syms[i], incoming[i]) {
					b.Fatal("not equal")
				}
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/n, "ns/series")
	})
	b.Run("labels.Equal", func(b *testing.B) {
		for b.Loop() {
			for i := range stored {
				if !labels.Equal(stored[i], incoming[i]) {
					b.Fatal("not equal")
				}
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/n, "ns/series")
	})
}
