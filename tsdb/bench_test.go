package tsdb

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"math"
	"math/rand/v2"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/textparse"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/tsdb/chunkenc"

	"github.com/watchdog-sre/watchdog/internal/testcorpus"
)

// nodeExporterWorkload parses node_exporter.prom and returns its series,
// whether each behaves like a counter, and the starting values.
func nodeExporterWorkload(tb testing.TB) (series []labels.Labels, isCounter []bool, start []float64) {
	tb.Helper()
	data := testcorpus.Read(tb, "node_exporter.prom")
	p, err := textparse.New(data, "text/plain", labels.NewSymbolTable(), textparse.ParserOptions{})
	if err != nil {
		tb.Fatal(err)
	}
	types := map[string]string{}
	for {
		e, err := p.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			tb.Fatal(err)
		}
		switch e {
		case textparse.EntryType:
			name, typ := p.Type()
			types[string(name)] = string(typ)
		case textparse.EntrySeries:
			var ls labels.Labels
			p.Labels(&ls)
			_, _, v := p.Series()
			name := ls.Get("__name__")
			typ := types[name]
			for _, suf := range []string{"_bucket", "_sum", "_count", "_total"} {
				if t, ok := types[strings.TrimSuffix(name, suf)]; ok && typ == "" {
					typ = t
				}
			}
			counter := typ == "counter" || typ == "histogram" || (typ == "summary" && ls.Get("quantile") == "")
			series = append(series, ls.Copy())
			isCounter = append(isCounter, counter)
			start = append(start, v)
		}
	}
	return series, isCounter, start
}

// nodeExporterScrapes makes 2h of 15s scrapes: counters grow by random
// increments, gauges wander a little; deterministic.
func nodeExporterScrapes(tb testing.TB) ([]labels.Labels, [][]genSample) {
	series, isCounter, vals := nodeExporterWorkload(tb)
	vals = append([]float64(nil), vals...)
	rng := rand.New(rand.NewPCG(7, 8))
	rates := make([]float64, len(series))
	for i := range rates {
		rates[i] = math.Round(rng.ExpFloat64() * 100)
	}
	var scrapes [][]genSample
	for t := int64(0); t <= 2*3600_000; t += 15_000 {
		sc := make([]genSample, 0, len(series))
		for i := range series {
			switch {
			case math.IsNaN(vals[i]) || math.IsInf(vals[i], 0):
			case isCounter[i]:
				vals[i] += math.Round(rng.Float64() * rates[i])
			case rng.IntN(3) == 0: // many gauges are constant between scrapes
				vals[i] += rng.NormFloat64() * math.Max(1, math.Abs(vals[i])*0.001)
			}
			sc = append(sc, genSample{series: i, t: t, v: vals[i]})
		}
		scrapes = append(scrapes, sc)
	}
	return series, scrapes
}

func heapAlloc() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

func dirSize(dir string) int64 {
	var n int64
	filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if fi, err := d.Info(); err == nil {
				n += fi.Size()
			}
		}
		return nil
	})
	return n
}

// BenchmarkMemory loads 2h of 15s scrapes of the node_exporter corpus into
// our DB and into a Prometheus head, measuring HeapAlloc deltas after GC.
// Run with -benchtime=1x; each iteration rebuilds both stores.
func BenchmarkMemory(b *testing.B) {
	series, scrapes := nodeExporterScrapes(b)
	nSamples := 0
	for _, sc := range scrapes {
		nSamples += len(sc)
	}
	// The heap after the first scrape, after 37 (the fleet benchmark's
	// state after 3 minutes at 5 s: open chunks a third full) and after
	// all.
	const fleetScrapes = 37
	measure := func(newApp func() genAppender) (perSeries, perSeries37, perSample float64) {
		base := heapAlloc()
		// The first scrape creates the series from label sets nothing
		// else keeps, as a scraper's (whose cache drops them), so that
		// what the store keeps of them is counted.
		fresh := make([]labels.Labels, len(series))
		for i, ls := range series {
			fresh[i] = ls.Copy()
		}
		if err := loadGen(newApp, fresh, scrapes[:1]); err != nil {
			b.Fatal(err)
		}
		fresh = nil
		one := heapAlloc()
		if err := loadGen(newApp, series, scrapes[1:fleetScrapes]); err != nil {
			b.Fatal(err)
		}
		at37 := heapAlloc()
		if err := loadGen(newApp, series, scrapes[fleetScrapes:]); err != nil {
			b.Fatal(err)
		}
		all := heapAlloc()
		n := float64(len(series))
		return float64(one-base) / n, float64(at37-base) / n, float64(all-base) / float64(nSamples)
	}
	for b.Loop() {
		db := newDB(anyTime(Options{}), nil)
		oursSeries, ours37, oursSample := measure(func() genAppender { return db.Appender() })
		st := db.Stats()
		// What a native rule's first evaluation adds: the checkpoints of
		// the chunks its windows (the login rule's: the last 5 m and 5 m
		// an hour before) start in, computed and cached by the read.
		before := heapAlloc()
		end := int64(len(scrapes)-1) * 15_000
		rs := []Range{{end - 300_000 + 1, end}, {end - 3_900_000 + 1, end - 3_600_000}}
		var smp Samples
		for _, ref := range db.Postings(nil) {
			db.ReadRanges(ref, rs, &smp)
		}
		readSample := oursSample + float64(heapAlloc()-before)/float64(nSamples)
		runtime.KeepAlive(db)
		db = nil

		ph := newPromHead(b)
		promSeries, prom37, promSample := measure(ph.appender)
		mmapBytes := dirSize(ph.dir)
		runtime.KeepAlive(ph)

		b.ReportMetric(oursSample, "ours-B/sample")
		b.ReportMetric(readSample, "ours-read-B/sample")
		b.ReportMetric(promSample, "prom-B/sample")
		b.ReportMetric(oursSample/promSample, "ours/prom-B/sample")
		b.ReportMetric(oursSeries, "ours-B/series")
		b.ReportMetric(promSeries, "prom-B/series")
		b.ReportMetric(ours37, "ours-37-B/series")
		b.ReportMetric(prom37, "prom-37-B/series")
		b.ReportMetric(float64(st.ChunkBytes)/float64(st.Samples), "ours-chunk-B/sample")
		b.ReportMetric(float64(mmapBytes)/float64(nSamples), "prom-mmap-B/sample")
		b.ReportMetric(float64(len(series)), "series")
		b.ReportMetric(float64(nSamples), "samples")

		db = newDB(anyTime(Options{}), nil)
		b.ReportMetric(fleetHeap(b, series, func() genAppender { return db.Appender() }), "ours-fleet-B/series")
		runtime.KeepAlive(db)
		db = nil
		ph = newPromHead(b)
		b.ReportMetric(fleetHeap(b, series, ph.appender), "prom-fleet-B/series")
		runtime.KeepAlive(ph)
	}
}

// fleetTargets is how many node_exporter targets fleetHeap creates.
const fleetTargets = 20

// fleetHeap returns the heap per series after one sample of every series
// of fleetTargets node_exporter targets (an instance label each) went into
// the store newApp appends to: what a fleet's label sets cost, most names
// and values shared by many series. The label sets are built per append,
// as a scraper does, so that only what the store keeps of them is counted.
func fleetHeap(b *testing.B, series []labels.Labels, newApp func() genAppender) float64 {
	base := heapAlloc()
	lb := labels.NewBuilder(labels.EmptyLabels())
	for i := range fleetTargets {
		app := newApp()
		inst := "10.0.0." + strconv.Itoa(i) + ":9100"
		for _, ls := range series {
			lb.Reset(ls)
			lb.Set("instance", inst)
			lb.Set("job", "node")
			if _, err := app.Append(0, lb.Labels(), 1000, 1); err != nil {
				b.Fatal(err)
			}
		}
		if err := app.Commit(); err != nil {
			b.Fatal(err)
		}
	}
	return float64(heapAlloc()-base) / float64(fleetTargets*len(series))
}

// BenchmarkQuerySet runs the differential query set against both stores in
// the same iteration and reports each one's time per full set and the ratio.
func BenchmarkQuerySet(b *testing.B) {
	db, ph := loadBoth(b)
	ng := newEngine()
	queries := loadQueries(b)
	// Interleave per query and alternate which store goes first, so that
	// CPU contention from other processes hits both sides alike.
	var ours, prom time.Duration
	timeQuery := func(q storage.Queryable, qc queryCase) time.Duration {
		t0 := time.Now()
		qry, _ := execQuery(b, ng, q, qc)
		qry.Close()
		return time.Since(t0)
	}
	i := 0
	for b.Loop() {
		for _, qc := range queries {
			if i%2 == 0 {
				ours += timeQuery(db, qc)
				prom += timeQuery(ph, qc)
			} else {
				prom += timeQuery(ph, qc)
				ours += timeQuery(db, qc)
			}
			i++
		}
	}
	n := float64(b.N)
	b.ReportMetric(float64(ours.Nanoseconds())/n, "ours-ns/set")
	b.ReportMetric(float64(prom.Nanoseconds())/n, "prom-ns/set")
	b.ReportMetric(float64(ours)/float64(prom), "ours/prom-time")
}

// BenchmarkAppendScrape appends one node_exporter scrape per op via the ref
// fast path, into both stores, and reports the ratio.
func BenchmarkAppendScrape(b *testing.B) {
	series, scrapes := nodeExporterScrapes(b)
	db := newDB(anyTime(Options{}), nil)
	ph := newPromHead(b)
	oursRefs := make([]uint64, len(series))
	promRefs := make([]uint64, len(series))
	var ours, prom time.Duration
	app := db.Appender()
	t := int64(0)
	ctx := context.Background()
	for b.Loop() {
		sc := scrapes[int(t/15_000)%len(scrapes)]
		ts := t
		t += 15_000
		t0 := time.Now()
		for _, s := range sc {
			r, err := app.Append(oursRefs[s.series], series[s.series], ts, s.v)
			if err != nil {
				b.Fatal(err)
			}
			oursRefs[s.series] = r
		}
		app.Commit()
		t1 := time.Now()
		papp := promApp{ph.head.Appender(ctx)}
		for _, s := range sc {
			r, err := papp.Append(promRefs[s.series], series[s.series], ts, s.v)
			if err != nil {
				b.Fatal(err)
			}
			promRefs[s.series] = r
		}
		papp.Commit()
		ours += t1.Sub(t0)
		prom += time.Since(t1)
	}
	n := float64(b.N) * float64(len(series))
	b.ReportMetric(float64(ours.Nanoseconds())/n, "ours-ns/sample")
	b.ReportMetric(float64(prom.Nanoseconds())/n, "prom-ns/sample")
	b.ReportMetric(float64(ours)/float64(prom), "ours/prom-time")
}

// BenchmarkSelectIterate isolates the storage: select every series of the
// node_exporter workload and iterate all samples in the last hour, from both
// stores in the same iteration.
func BenchmarkSelectIterate(b *testing.B) {
	series, scrapes := nodeExporterScrapes(b)
	db := newDB(anyTime(Options{}), nil)
	ph := newPromHead(b)
	if err := loadGen(func() genAppender { return db.Appender() }, series, scrapes); err != nil {
		b.Fatal(err)
	}
	if err := loadGen(ph.appender, series, scrapes); err != nil {
		b.Fatal(err)
	}
	ms := labels.MustNewMatcher(labels.MatchRegexp, "__name__", "node_.+")
	mint, maxt := int64(3600_000), int64(7200_000)
	scan := func(q storage.Queryable) (time.Duration, int) {
		t0 := time.Now()
		qr, err := q.Querier(mint, maxt)
		if err != nil {
			b.Fatal(err)
		}
		ss := qr.Select(context.Background(), false, nil, ms)
		var it chunkenc.Iterator
		n := 0
		for ss.Next() {
			it = ss.At().Iterator(it)
			for it.Next() == chunkenc.ValFloat {
				n++
			}
		}
		qr.Close()
		return time.Since(t0), n
	}
	var ours, prom time.Duration
	i := 0
	for b.Loop() {
		var d1, d2 time.Duration
		var n1, n2 int
		if i%2 == 0 {
			d1, n1 = scan(db)
			d2, n2 = scan(ph)
		} else {
			d2, n2 = scan(ph)
			d1, n1 = scan(db)
		}
		if n1 != n2 {
			b.Fatalf("sample counts differ: ours %d, prom %d", n1, n2)
		}
		ours += d1
		prom += d2
		i++
	}
	n := float64(b.N)
	b.ReportMetric(float64(ours.Nanoseconds())/n, "ours-ns/scan")
	b.ReportMetric(float64(prom.Nanoseconds())/n, "prom-ns/scan")
	b.ReportMetric(float64(ours)/float64(prom), "ours/prom-time")
}

// BenchmarkCreateSeries is the first scrape of a fleet: the node_exporter
// series of 20 targets (an instance label each), appended by labels into an
// empty store, one commit per target, into our DB and into a Prometheus head
// in the same iteration. It reports the time per created series of each.
func BenchmarkCreateSeries(b *testing.B) {
	const targets = 20
	series, _, start := nodeExporterWorkload(b)
	fleet := make([][]labels.Labels, targets)
	for i := range fleet {
		inst := "10.0.0." + strconv.Itoa(i) + ":9100"
		for _, ls := range series {
			bl := labels.NewBuilder(ls)
			bl.Set("instance", inst)
			bl.Set("job", "node")
			fleet[i] = append(fleet[i], bl.Labels())
		}
	}
	load := func(newApp func() genAppender) time.Duration {
		t0 := time.Now()
		for _, target := range fleet {
			app := newApp()
			for k, ls := range target {
				if _, err := app.Append(0, ls, 1000, start[k]); err != nil {
					b.Fatal(err)
				}
			}
			if err := app.Commit(); err != nil {
				b.Fatal(err)
			}
		}
		return time.Since(t0)
	}
	var ours, prom time.Duration
	for b.Loop() {
		db := newDB(anyTime(Options{}), nil)
		ours += load(func() genAppender { return db.Appender() })
		if st := db.Stats(); st.Series != targets*len(series) {
			b.Fatalf("%d series, want %d", st.Series, targets*len(series))
		}
		ph := newPromHead(b)
		prom += load(ph.appender)
		ph.head.Close()
	}
	n := float64(b.N) * targets * float64(len(series))
	b.ReportMetric(float64(ours.Nanoseconds())/n, "ours-ns/series")
	b.ReportMetric(float64(prom.Nanoseconds())/n, "prom-ns/series")
	b.ReportMetric(float64(ours)/float64(prom), "ours/prom-time")
}
