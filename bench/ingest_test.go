package bench

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/textparse"
	"github.com/prometheus/prometheus/storage"
	promtsdb "github.com/prometheus/prometheus/tsdb"

	"github.com/watchdog-sre/watchdog/config"
	"github.com/watchdog-sre/watchdog/internal/testcorpus"
	"github.com/watchdog-sre/watchdog/scrape"
	"github.com/watchdog-sre/watchdog/scrape/promtext"
	"github.com/watchdog-sre/watchdog/tsdb"
)

const (
	// corpusFile is the scrape body replayed, a file of the shared corpus
	// (internal/testcorpus).
	corpusFile = "node_exporter.prom"
	// numBodies distinct bodies are prepared up front and replayed in turn.
	numBodies = 32
	// scrapeInterval separates the timestamps of consecutive scrapes.
	scrapeInterval = 15 * time.Second
	// startTime is the timestamp of the first scrape, in milliseconds.
	startTime = int64(1_700_000_000_000)
)

// makeBodies returns n variants of the exposition in base: counters (and the
// _bucket, _count and _sum series of histograms and summaries) grow from one
// body to the next, gauges move around their original value. Comments and
// metadata are kept. It also returns the number of samples per body.
func makeBodies(tb testing.TB, base []byte, n int) ([][]byte, int) {
	tb.Helper()
	type line struct {
		raw     []byte // comment, metadata or blank line, copied as is
		series  []byte
		value   float64
		counter bool
	}
	var lines []line
	mtype := ""
	for _, raw := range bytes.Split(bytes.TrimSuffix(base, []byte("\n")), []byte("\n")) {
		if len(bytes.TrimSpace(raw)) == 0 || raw[0] == '#' {
			if f := bytes.Fields(raw); len(f) == 4 && string(f[1]) == "TYPE" {
				mtype = string(f[3])
			}
			lines = append(lines, line{raw: raw})
			continue
		}
		p := promtext.New(raw)
		if _, err := p.Next(); err != nil {
			tb.Fatalf("corpus line %q: %v", raw, err)
		}
		s, _, v := p.Series()
		name := string(s)
		if i := bytes.IndexByte(s, '{'); i >= 0 {
			name = string(s[:i])
		}
		counter := mtype == "counter" ||
			(mtype == "histogram" || mtype == "summary") && hasAnySuffix(name, "_bucket", "_count", "_sum")
		lines = append(lines, line{series: s, value: v, counter: counter})
	}
	bodies := make([][]byte, n)
	samples := 0
	for k := range bodies {
		var b []byte
		for i, l := range lines {
			if l.raw != nil {
				b = append(append(b, l.raw...), '\n')
				continue
			}
			if k == 0 {
				samples++
			}
			v := l.value
			switch {
			case math.IsNaN(v) || math.IsInf(v, 0):
			case l.counter:
				v += float64(k) * float64(1+i%7)
			default:
				v *= 1 + 0.05*math.Sin(float64(k+i))
			}
			b = append(append(b, l.series...), ' ')
			b = strconv.AppendFloat(b, v, 'g', -1, 64)
			b = append(b, '\n')
		}
		bodies[k] = b
	}
	return bodies, samples
}

func hasAnySuffix(s string, suffixes ...string) bool {
	for _, x := range suffixes {
		if len(s) >= len(x) && s[len(s)-len(x):] == x {
			return true
		}
	}
	return false
}

// scraper ingests one scrape body at time t and returns the number of
// samples appended.
type scraper func(tb testing.TB, body []byte, t int64) int

// newWatchdogScraper returns the Watchdog path: the scrape loop's own code
// after the HTTP fetch (scrape.Ingester), into a fresh tsdb.Appender per
// scrape behind the scrape.Appender interface, as cmd/watchdog wires it.
// That is promtext told which lines the series cache expects, the cache,
// duplicate and limit checks, staleness tracking and stale markers, the
// five synthetic series and the commit.
func newWatchdogScraper(tb testing.TB) scraper {
	// The store's clock is the time of the scrape being ingested.
	var now atomic.Int64
	db, err := tsdb.Open(tsdb.Options{Now: func() time.Time { return time.UnixMilli(now.Load()) }})
	if err != nil {
		tb.Fatal(err)
	}
	cfg := &config.ScrapeConfig{
		JobName:        "node",
		ScrapeInterval: model.Duration(scrapeInterval),
		ScrapeTimeout:  model.Duration(10 * time.Second),
		MetricsPath:    "/metrics",
		Scheme:         "http",
	}
	in, err := scrape.NewIngester(cfg, "localhost:9100", scrape.Options{
		Appender: func() scrape.Appender { return db.Appender() },
		IsSoftError: func(err error) bool {
			return errors.Is(err, tsdb.ErrOutOfOrder) || errors.Is(err, tsdb.ErrDuplicateSample)
		},
	})
	if err != nil {
		tb.Fatal(err)
	}
	return func(tb testing.TB, body []byte, t int64) int {
		now.Store(t)
		n, err := in.Ingest(body, "text/plain; version=0.0.4; charset=utf-8", time.UnixMilli(t))
		if err != nil {
			tb.Fatal(err)
		}
		return n
	}
}

// promCacheEntry is what the Prometheus scrape loop caches per series.
type promCacheEntry struct {
	ref  storage.SeriesRef
	lset labels.Labels
}

// newPrometheusScraper returns the Prometheus path: textparse.PromParser, a
// cache from series bytes to ref and label set as the Prometheus scrape loop
// keeps it, so known series skip Labels, and a Prometheus head appender.
func newPrometheusScraper(tb testing.TB) scraper {
	return newHeadScraper(tb, func(body []byte, st *labels.SymbolTable) textparse.Parser {
		return textparse.NewPromParser(body, st, false)
	})
}

// newMixedScraper is the Prometheus path with promtext.Parser in place of
// textparse, to tell the parser's share of the difference from the store's.
func newMixedScraper(tb testing.TB) scraper {
	p := promtext.New(nil)
	return newHeadScraper(tb, func(body []byte, _ *labels.SymbolTable) textparse.Parser {
		p.Reset(body)
		return p
	})
}

// newHeadScraper ingests into a Prometheus head with the parser newParser
// returns for each body.
func newHeadScraper(tb testing.TB, newParser func([]byte, *labels.SymbolTable) textparse.Parser) scraper {
	opts := promtsdb.DefaultHeadOptions()
	opts.ChunkDirRoot = tb.TempDir()
	head, err := promtsdb.NewHead(nil, nil, nil, nil, opts, nil)
	if err != nil {
		tb.Fatal(err)
	}
	if err := head.Init(math.MinInt64); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = head.Close() })
	st := labels.NewSymbolTable()
	cache := make(map[string]promCacheEntry)
	ctx := context.Background()
	return func(tb testing.TB, body []byte, t int64) int {
		p := newParser(body, st)
		app := head.Appender(ctx)
		n := 0
		for {
			e, err := p.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				tb.Fatal(err)
			}
			if e != textparse.EntrySeries {
				continue
			}
			s, _, v := p.Series()
			ce, ok := cache[string(s)]
			if !ok {
				p.Labels(&ce.lset)
			}
			ref, err := app.Append(ce.ref, ce.lset, t, v)
			if err != nil {
				tb.Fatal(err)
			}
			if !ok {
				cache[string(s)] = promCacheEntry{ref: ref, lset: ce.lset}
			}
			n++
		}
		if err := app.Commit(); err != nil {
			tb.Fatal(err)
		}
		return n
	}
}

func loadBodies(tb testing.TB) ([][]byte, int) {
	tb.Helper()
	base := testcorpus.Read(tb, corpusFile)
	return makeBodies(tb, base, numBodies)
}

// TestScrapersAgree checks that both paths accept every prepared body and
// append the same number of samples, so the benchmark compares like with like.
func TestScrapersAgree(t *testing.T) {
	bodies, samples := loadBodies(t)
	ours, theirs, mixed := newWatchdogScraper(t), newPrometheusScraper(t), newMixedScraper(t)
	for k, body := range bodies {
		ts := startTime + int64(k)*scrapeInterval.Milliseconds()
		if n := ours(t, body, ts); n != samples {
			t.Fatalf("body %d: watchdog appended %d samples, want %d", k, n, samples)
		}
		if n := theirs(t, body, ts); n != samples {
			t.Fatalf("body %d: prometheus appended %d samples, want %d", k, n, samples)
		}
		if n := mixed(t, body, ts); n != samples {
			t.Fatalf("body %d: promtext+head appended %d samples, want %d", k, n, samples)
		}
	}
}

// BenchmarkIngest measures parse + append + commit of one node_exporter scrape
// per iteration, with series caches warmed by one untimed scrape. Each
// iteration is the next scrape, 15 s after the previous one. It reports
// samples/s (one goroutine, so per core). "promtext+prometheus_head" swaps
// only the parser, to show the parser's share. "ratio" runs the three paths
// on every iteration, in rotating order, so that all see the same machine
// load, and reports x_faster (Prometheus time / Watchdog time) and
// x_parser_only (Prometheus time / promtext+head time).
func BenchmarkIngest(b *testing.B) {
	bodies, samples := loadBodies(b)
	// warm scrapes once before the timer starts, so that series creation
	// and the first Labels calls are not measured: the benchmark is the
	// steady state of a target scraped again and again.
	warm := func(b *testing.B, ss ...scraper) {
		for _, s := range ss {
			s(b, bodies[len(bodies)-1], startTime-scrapeInterval.Milliseconds())
		}
	}
	run := func(b *testing.B, s scraper) {
		warm(b, s)
		i := 0
		for b.Loop() {
			s(b, bodies[i%len(bodies)], startTime+int64(i)*scrapeInterval.Milliseconds())
			i++
		}
		b.ReportMetric(float64(samples*b.N)/b.Elapsed().Seconds(), "samples/s")
	}
	b.Run("watchdog", func(b *testing.B) { run(b, newWatchdogScraper(b)) })
	b.Run("prometheus", func(b *testing.B) { run(b, newPrometheusScraper(b)) })
	b.Run("promtext+prometheus_head", func(b *testing.B) { run(b, newMixedScraper(b)) })
	b.Run("ratio", func(b *testing.B) {
		paths := [3]scraper{newWatchdogScraper(b), newPrometheusScraper(b), newMixedScraper(b)}
		warm(b, paths[:]...)
		var took [3]time.Duration
		i := 0
		for b.Loop() {
			body := bodies[i%len(bodies)]
			ts := startTime + int64(i)*scrapeInterval.Milliseconds()
			// The path that goes first reads the body from memory, the
			// others from cache: rotate the order so that each path goes
			// first on every third scrape.
			for k := range paths {
				j := (i + k) % len(paths)
				t0 := time.Now()
				paths[j](b, body, ts)
				took[j] += time.Since(t0)
			}
			i++
		}
		tOurs, tTheirs, tMixed := took[0], took[1], took[2]
		perSec := func(d time.Duration) float64 { return float64(samples*b.N) / d.Seconds() }
		b.ReportMetric(perSec(tOurs), "watchdog_samples/s")
		b.ReportMetric(perSec(tTheirs), "prometheus_samples/s")
		b.ReportMetric(perSec(tMixed), "promtext+head_samples/s")
		b.ReportMetric(float64(tTheirs)/float64(tOurs), "x_faster")
		b.ReportMetric(float64(tTheirs)/float64(tMixed), "x_parser_only")
	})
}
