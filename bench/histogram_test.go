package bench

import (
	"context"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/storage"
	promtsdb "github.com/prometheus/prometheus/tsdb"
	"github.com/prometheus/prometheus/tsdb/chunkenc"

	"github.com/watchdog-sre/watchdog/tsdb"
)

// histGen generates the scrapes of native-histogram series as
// client_golang exposes a latency histogram with native histograms on
// (bucket factor 1.1, i.e. schema 3): every scrape adds obsPerScrape
// log-normally distributed observations (median 100 ms, a few seconds at
// the far end) to each series' cumulative histogram. It is deterministic.
type histGen struct {
	series []labels.Labels
	state  []histState
	rng    *rand.Rand
}

// histState is one series' cumulative histogram. Its buckets are a fixed
// array (indexes histMinIdx up), so that the generator's memory does not
// grow while the stores are measured.
type histState struct {
	counts    [histBuckets]uint64
	zeroCount uint64
	count     uint64
	sum       float64
}

const (
	histSchema        = 3
	obsPerScrape      = 40
	histZeroThreshold = 1.0 / (1 << 20)
	histMinIdx        = -20 << histSchema // just above the zero threshold
	histBuckets       = 256               // up to 2^12 s
)

func newHistGen(nSeries int) *histGen {
	g := &histGen{rng: rand.New(rand.NewPCG(14, 14)), state: make([]histState, nSeries)}
	for i := range nSeries {
		g.series = append(g.series, labels.FromStrings("__name__", "http_request_duration_seconds",
			"job", "api", "instance", "api-"+strconv.Itoa(i/20)+":8080", "handler", "/h"+strconv.Itoa(i%20)))
	}
	return g
}

// next advances every series by one scrape and returns the histograms, as
// fresh objects (the stores may keep them).
func (g *histGen) next() []*histogram.Histogram {
	out := make([]*histogram.Histogram, len(g.state))
	for i := range g.state {
		s := &g.state[i]
		for range obsPerScrape {
			s.observe(math.Exp(math.Log(0.1) + 1.2*g.rng.NormFloat64()))
		}
		out[i] = s.histogram()
	}
	return out
}

func (s *histState) observe(v float64) {
	s.count++
	s.sum += v
	if v <= histZeroThreshold {
		s.zeroCount++
		return
	}
	// Bucket i of schema 3 is (2^((i-1)/8), 2^(i/8)].
	frac, exp := math.Frexp(v) // v = frac × 2^exp, frac in [0.5, 1)
	idx := exp<<histSchema + int(math.Ceil(math.Log2(frac)*(1<<histSchema)))
	s.counts[min(max(idx-histMinIdx, 0), histBuckets-1)]++
}

// histogram returns the state as client_golang encodes it: spans of
// consecutive buckets, gaps of up to two empty buckets filled in, counts
// as deltas.
func (s *histState) histogram() *histogram.Histogram {
	h := &histogram.Histogram{
		Schema: histSchema, ZeroThreshold: histZeroThreshold, ZeroCount: s.zeroCount,
		Count: s.count, Sum: s.sum,
	}
	var prev int64
	last := -1 // array position of the previous non-empty bucket
	for k, n := range s.counts {
		if n == 0 {
			continue
		}
		switch {
		case last < 0:
			h.PositiveSpans = append(h.PositiveSpans, histogram.Span{Offset: int32(k + histMinIdx)})
		case k-last > 3:
			h.PositiveSpans = append(h.PositiveSpans, histogram.Span{Offset: int32(k - last - 1)})
		default:
			for range k - last - 1 { // fill the gap with empty buckets
				h.PositiveBuckets = append(h.PositiveBuckets, -prev)
				h.PositiveSpans[len(h.PositiveSpans)-1].Length++
				prev = 0
			}
		}
		c := int64(n)
		h.PositiveBuckets = append(h.PositiveBuckets, c-prev)
		h.PositiveSpans[len(h.PositiveSpans)-1].Length++
		prev, last = c, k
	}
	return h
}

// histAppender is the part of both stores' appenders the benchmark uses.
type histAppender interface {
	appendHistogram(ref uint64, l labels.Labels, t int64, h *histogram.Histogram) (uint64, error)
	Commit() error
}

type wdHistAppender struct{ *tsdb.Appender }

func (a wdHistAppender) appendHistogram(ref uint64, l labels.Labels, t int64, h *histogram.Histogram) (uint64, error) {
	return a.AppendHistogram(ref, l, t, h, nil)
}

type promHistAppender struct{ storage.Appender }

func (a promHistAppender) appendHistogram(ref uint64, l labels.Labels, t int64, h *histogram.Histogram) (uint64, error) {
	r, err := a.AppendHistogram(storage.SeriesRef(ref), l, t, h, nil)
	return uint64(r), err
}

// histStore is one store under test: a fresh appender per scrape, and the
// queryable to read back.
type histStore struct {
	appender   func() histAppender
	q          storage.Queryable
	now        *atomic.Int64 // the store's clock, for the watchdog's retention
	chunkBytes func() int    // the watchdog's encoded chunk bytes, nil for Prometheus
	close      func()
	refs       []uint64
}

func newWatchdogHistStore(tb testing.TB) *histStore {
	st := &histStore{now: new(atomic.Int64)}
	db, err := tsdb.Open(tsdb.Options{Now: func() time.Time { return time.UnixMilli(st.now.Load()) }})
	if err != nil {
		tb.Fatal(err)
	}
	st.appender = func() histAppender { return wdHistAppender{db.Appender()} }
	st.q = db
	st.chunkBytes = func() int { return db.Stats().ChunkBytes }
	st.close = func() {}
	return st
}

func newPromHistStore(tb testing.TB) *histStore {
	opts := promtsdb.DefaultHeadOptions()
	opts.ChunkDirRoot = tb.TempDir()
	head, err := promtsdb.NewHead(nil, nil, nil, nil, opts, nil)
	if err != nil {
		tb.Fatal(err)
	}
	if err := head.Init(math.MinInt64); err != nil {
		tb.Fatal(err)
	}
	return &histStore{
		close:    func() { _ = head.Close() },
		appender: func() histAppender { return promHistAppender{head.Appender(context.Background())} },
		q:        storage.QueryableFunc(func(mint, maxt int64) (storage.Querier, error) { return promtsdb.NewBlockQuerier(head, mint, maxt) }),
		now:      new(atomic.Int64),
	}
}

// ingest appends one scrape, caching refs as a scrape loop does, and
// returns the CPU time the process spent meanwhile (the appending
// goroutine and the garbage collection it causes).
func (st *histStore) ingest(tb testing.TB, series []labels.Labels, hs []*histogram.Histogram, t int64) time.Duration {
	st.now.Store(t)
	if st.refs == nil {
		st.refs = make([]uint64, len(series))
	}
	c0 := cpuTime()
	app := st.appender()
	for i, h := range hs {
		ref, err := app.appendHistogram(st.refs[i], series[i], t, h)
		if err != nil {
			tb.Fatalf("append %s: %v", series[i], err)
		}
		st.refs[i] = ref
	}
	if err := app.Commit(); err != nil {
		tb.Fatal(err)
	}
	return cpuTime() - c0
}

func histHeapAlloc() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// BenchmarkHistogramIngest is acceptance 5 of issue #14: native histogram
// samples ingested per core and bytes per histogram sample, the watchdog's
// store against Prometheus's head, on the same generated data in the same
// run: 2,000 series of client_golang-like latency histograms (schema 3,
// about 40 populated buckets) over 240 scrapes, 15 s apart (1 h). Each
// store is filled alone, by one goroutine caching refs as a scrape loop
// does, from the same deterministic generator. samples/cpu-s is samples
// divided by the process CPU time (user + system, getrusage) spent
// appending and committing, garbage collection included; CPU time rather
// than wall time because the machine is shared. B/sample is the heap
// growth after GC from the empty store to the full one, divided by the
// samples (series included). A bare Prometheus head keeps all
// its chunks in the heap (memory-mapping full chunks is the job of the
// DB's background loop, not run here), so both figures are whole
// footprints; ours-chunk-B/sample is the encoded part of the watchdog's.
// Run with -benchtime=1x.
func BenchmarkHistogramIngest(b *testing.B) {
	nSeries, nScrapes := 2000, 240
	if raceBuild {
		nSeries, nScrapes = 50, 20
	}
	samples := float64(nSeries * nScrapes)
	fill := func(newStore func(testing.TB) *histStore) (cpu time.Duration, bytes uint64, chunkBytes int) {
		gen := newHistGen(nSeries)
		st := newStore(b)
		base := histHeapAlloc() // after the empty store's fixed allocations
		for k := range nScrapes {
			hs := gen.next()
			cpu += st.ingest(b, gen.series, hs, startTime+int64(k)*scrapeInterval.Milliseconds())
		}
		bytes = histHeapAlloc() - base
		if st.chunkBytes != nil {
			chunkBytes = st.chunkBytes()
		}
		runtime.KeepAlive(st)
		st.close()
		return cpu, bytes, chunkBytes
	}
	for b.Loop() {
		oursCPU, oursHeap, oursChunks := fill(newWatchdogHistStore)
		promCPU, promHeap, _ := fill(newPromHistStore)

		b.ReportMetric(samples/oursCPU.Seconds(), "ours-samples/cpu-s")
		b.ReportMetric(samples/promCPU.Seconds(), "prom-samples/cpu-s")
		b.ReportMetric(promCPU.Seconds()/oursCPU.Seconds(), "ours/prom-speed")
		b.ReportMetric(float64(oursHeap)/samples, "ours-B/sample")
		b.ReportMetric(float64(promHeap)/samples, "prom-B/sample")
		b.ReportMetric(float64(oursChunks)/samples, "ours-chunk-B/sample")
		b.ReportMetric(float64(oursHeap)/float64(promHeap), "ours/prom-B")
		b.ReportMetric(samples, "samples")
	}
}

// TestHistogramStoresAgree guards BenchmarkHistogramIngest: both stores
// return the same histograms (counter reset hints included) for the
// generated data, read back through their queryables.
func TestHistogramStoresAgree(t *testing.T) {
	gen := newHistGen(10)
	ours, prom := newWatchdogHistStore(t), newPromHistStore(t)
	t.Cleanup(prom.close)
	const nScrapes = 300 // more than one chunk of each store
	for k := range nScrapes {
		hs := gen.next()
		for i, h := range hs {
			if err := h.Validate(); err != nil {
				t.Fatalf("generated histogram %d of scrape %d: %v", i, k, err)
			}
		}
		cp := make([]*histogram.Histogram, len(hs))
		for i, h := range hs {
			cp[i] = h.Copy()
		}
		tm := startTime + int64(k)*scrapeInterval.Milliseconds()
		ours.ingest(t, gen.series, hs, tm)
		prom.ingest(t, gen.series, cp, tm)
	}
	read := func(st *histStore) map[string][]string {
		q, err := st.q.Querier(math.MinInt64, math.MaxInt64)
		if err != nil {
			t.Fatal(err)
		}
		defer q.Close()
		out := map[string][]string{}
		ss := q.Select(context.Background(), true, nil, labels.MustNewMatcher(labels.MatchRegexp, "__name__", ".+"))
		var it chunkenc.Iterator
		for ss.Next() {
			s := ss.At()
			it = s.Iterator(it)
			var got []string
			for vt := it.Next(); vt != chunkenc.ValNone; vt = it.Next() {
				if vt != chunkenc.ValHistogram {
					t.Fatalf("%s: value type %v, want an integer histogram", s.Labels(), vt)
				}
				// Counter reset hints included: both stores cut their
				// chunks at the same samples.
				tm, h := it.AtHistogram(nil)
				got = append(got, strconv.FormatInt(tm, 10)+" "+h.String())
			}
			if err := it.Err(); err != nil {
				t.Fatal(err)
			}
			out[s.Labels().String()] = got
		}
		if err := ss.Err(); err != nil {
			t.Fatal(err)
		}
		return out
	}
	o, p := read(ours), read(prom)
	if len(o) != 10 || len(p) != 10 {
		t.Fatalf("series: ours %d, prom %d, want 10", len(o), len(p))
	}
	for k, ps := range p {
		if !slices.Equal(o[k], ps) {
			t.Errorf("%s: stores differ (ours %d samples, prom %d)", k, len(o[k]), len(ps))
		}
		if len(ps) != nScrapes {
			t.Errorf("%s: %d samples, want %d", k, len(ps), nScrapes)
		}
	}
}
