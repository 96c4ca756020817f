package scrape

import (
	"context"
	"runtime"
	"testing"

	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"

	"github.com/watchdog-sre/watchdog/internal/testcorpus"
)

// storeAppender hands out refs for new series and keeps their label sets,
// as the store does, so that memory measured around it is the scrape loop's
// own.
type storeAppender struct {
	lsets *[]labels.Labels
}

func (s storeAppender) Append(ref uint64, lset labels.Labels, _ int64, _ float64) (uint64, error) {
	if ref == 0 {
		*s.lsets = append(*s.lsets, lset)
		ref = uint64(len(*s.lsets))
	}
	return ref, nil
}
func (s storeAppender) AppendHistogram(ref uint64, lset labels.Labels, t int64, _ *histogram.Histogram, _ *histogram.FloatHistogram) (uint64, error) {
	return s.Append(ref, lset, t, 0)
}
func (s storeAppender) AppendSample(ref uint64, lset labels.Labels, _, t int64, v float64, _ *histogram.Histogram, _ *histogram.FloatHistogram) (uint64, error) {
	return s.Append(ref, lset, t, v)
}
func (storeAppender) AppendSTZeroSample(ref uint64, _ labels.Labels, _, _ int64, _ *histogram.Histogram, _ *histogram.FloatHistogram) (uint64, error) {
	return ref, nil
}
func (storeAppender) Commit() error   { return nil }
func (storeAppender) Rollback() error { return nil }

// heapInUse returns the live heap after a collection.
func heapInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// BenchmarkSeriesCache measures the series cache of a node_exporter target:
// "memory" the bytes per series that 20 targets' scrape loops hold after
// three scrapes (label sets excluded: the store holds them; parser, metadata
// and cache included: B/series; the series cache alone: cache_B/series), "create" a target's first scrape (every series new:
// parse labels, relabel, fill the cache) per sample, with our parser and
// with Prometheus's (textparse) as the peer; BenchmarkAppendBody is the
// steady state.
func BenchmarkSeriesCache(b *testing.B) {
	body := testcorpus.Read(b, "node_exporter.prom")
	ctx := context.Background()
	b.Run("memory", func(b *testing.B) {
		const targets = 20
		var perSeries, cachePerSeries float64
		for b.Loop() {
			var lsets []labels.Labels
			app := storeAppender{&lsets}
			before := heapInUse()
			loops := make([]*scrapeLoop, targets)
			series := 0
			for i := range loops {
				sl := newTestScrapeLoop(newRecorder(), nil)
				for n := range 3 {
					res, err := sl.appendBody(ctx, app, body, "text/plain", int64(n+1))
					if err != nil {
						b.Fatal(err)
					}
					if n == 0 {
						series += res.seriesAdded
					}
					sl.cache.iterDone(true)
					sl.meta.end(true)
					sl.parsers.release()
				}
				loops[i] = sl
			}
			with := heapInUse()
			for _, sl := range loops {
				sl.cache = newSeriesCache()
				if sl.parsers.text != nil {
					sl.parsers.text.SetExpected(nil)
				}
			}
			noCache := heapInUse()
			runtime.KeepAlive(loops)
			loops = nil
			without := heapInUse()
			runtime.KeepAlive(lsets)
			_ = before
			perSeries = float64(with-without) / float64(series)
			cachePerSeries = (float64(with) - float64(noCache)) / float64(series)
		}
		b.ReportMetric(perSeries, "B/series")
		b.ReportMetric(cachePerSeries, "cache_B/series")
	})
	for _, prom := range []bool{false, true} {
		name := "create/promtext"
		if prom {
			name = "create/textparse"
		}
		b.Run(name, func(b *testing.B) {
			var lsets []labels.Labels
			app := storeAppender{&lsets}
			samples := 0
			b.ReportAllocs()
			for b.Loop() {
				lsets = lsets[:0]
				sl := newTestScrapeLoop(newRecorder(), nil)
				sl.parsers.prometheus = prom
				res, err := sl.appendBody(ctx, app, body, "text/plain", 1)
				if err != nil {
					b.Fatal(err)
				}
				sl.cache.iterDone(true)
				samples += res.total
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(samples), "ns/sample")
		})
	}
}
