package tsdb

import (
	"bufio"
	"context"
	"fmt"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/storage"
	promtsdb "github.com/prometheus/prometheus/tsdb"
)

type queryCase struct {
	line             string
	expr             string
	rangeQ           bool
	start, end, step time.Duration
}

func loadQueries(tb testing.TB) []queryCase {
	tb.Helper()
	f, err := os.Open("testdata/queries.txt")
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	var out []queryCase
	sc := bufio.NewScanner(f)
	secs := func(s string) time.Duration {
		n, err := strconv.Atoi(s)
		if err != nil {
			tb.Fatalf("bad seconds %q", s)
		}
		return time.Duration(n) * time.Second
	}
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.SplitN(line, " ", 5)
		switch {
		case f[0] == "instant" && len(f) >= 3:
			out = append(out, queryCase{line: line, start: secs(f[1]), expr: strings.Join(f[2:], " ")})
		case f[0] == "range" && len(f) == 5:
			out = append(out, queryCase{line: line, rangeQ: true, start: secs(f[1]), end: secs(f[2]), step: secs(f[3]), expr: f[4]})
		default:
			tb.Fatalf("bad query line %q", line)
		}
	}
	if err := sc.Err(); err != nil {
		tb.Fatal(err)
	}
	return out
}

func newEngine() *promql.Engine {
	return promql.NewEngine(promql.EngineOpts{
		MaxSamples:           1e7,
		Timeout:              time.Minute,
		LookbackDelta:        5 * time.Minute,
		EnableAtModifier:     true,
		EnableNegativeOffset: true,
	})
}

// runQuery evaluates qc and returns a canonical text form: series sorted by
// labels, floats formatted exactly (NaNs by bit pattern).
func runQuery(tb testing.TB, ng *promql.Engine, q storage.Queryable, qc queryCase) string {
	tb.Helper()
	qry, res := execQuery(tb, ng, q, qc)
	defer qry.Close()
	return canonical(res)
}

// execQuery evaluates qc; the caller closes the query.
func execQuery(tb testing.TB, ng *promql.Engine, q storage.Queryable, qc queryCase) (promql.Query, *promql.Result) {
	tb.Helper()
	ctx := context.Background()
	var (
		qry promql.Query
		err error
	)
	if qc.rangeQ {
		qry, err = ng.NewRangeQuery(ctx, q, nil, qc.expr, time.UnixMilli(0).Add(qc.start), time.UnixMilli(0).Add(qc.end), qc.step)
	} else {
		qry, err = ng.NewInstantQuery(ctx, q, nil, qc.expr, time.UnixMilli(0).Add(qc.start))
	}
	if err != nil {
		tb.Fatalf("%s: %v", qc.line, err)
	}
	res := qry.Exec(ctx)
	if res.Err != nil {
		tb.Fatalf("%s: %v", qc.line, res.Err)
	}
	return qry, res
}

func fmtFloat(f float64) string {
	if math.IsNaN(f) {
		return fmt.Sprintf("NaN(%x)", math.Float64bits(f))
	}
	return strconv.FormatFloat(f, 'g', -1, 64)
}

func canonical(res *promql.Result) string {
	var lines []string
	switch v := res.Value.(type) {
	case promql.Vector:
		for _, s := range v {
			lines = append(lines, fmt.Sprintf("%s @%d %s", s.Metric, s.T, fmtFloat(s.F)))
		}
	case promql.Matrix:
		for _, s := range v {
			var b strings.Builder
			fmt.Fprintf(&b, "%s:", s.Metric)
			for _, p := range s.Floats {
				fmt.Fprintf(&b, " %s@%d", fmtFloat(p.F), p.T)
			}
			if len(s.Histograms) > 0 {
				fmt.Fprintf(&b, " +%d histograms", len(s.Histograms))
			}
			lines = append(lines, b.String())
		}
	case promql.Scalar:
		lines = append(lines, fmt.Sprintf("scalar @%d %s", v.T, fmtFloat(v.V)))
	default:
		lines = append(lines, fmt.Sprintf("%T %s", res.Value, res.String()))
	}
	slices.Sort(lines)
	return strings.Join(lines, "\n")
}

// promHead is a Prometheus head loaded through its own appender.
type promHead struct {
	head *promtsdb.Head
	dir  string // chunks_head lives here (memory-mapped, off-heap)
}

func newPromHead(tb testing.TB) *promHead {
	tb.Helper()
	opts := promtsdb.DefaultHeadOptions()
	dir := tb.TempDir()
	opts.ChunkDirRoot = dir
	h, err := promtsdb.NewHead(nil, nil, nil, nil, opts, nil)
	if err != nil {
		tb.Fatal(err)
	}
	if err := h.Init(math.MinInt64); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { h.Close() })
	return &promHead{head: h, dir: dir}
}

func (p *promHead) Querier(mint, maxt int64) (storage.Querier, error) {
	return promtsdb.NewBlockQuerier(promtsdb.NewRangeHead(p.head, mint, maxt), mint, maxt)
}

type promApp struct{ app storage.Appender }

func (a promApp) Append(ref uint64, lset labels.Labels, t int64, v float64) (uint64, error) {
	r, err := a.app.Append(storage.SeriesRef(ref), lset, t, v)
	return uint64(r), err
}
func (a promApp) Commit() error { return a.app.Commit() }

func (p *promHead) appender() genAppender {
	return promApp{p.head.Appender(context.Background())}
}

func loadBoth(tb testing.TB) (*DB, *promHead) {
	tb.Helper()
	return loadBothOpts(tb, anyTime(Options{}))
}

// loadBothOpts is loadBoth with our DB opened with opts.
func loadBothOpts(tb testing.TB, opts Options) (*DB, *promHead) {
	tb.Helper()
	series, scrapes := genData()
	db, err := Open(opts)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	if err := loadGen(func() genAppender { return db.Appender() }, series, scrapes); err != nil {
		tb.Fatal(err)
	}
	ph := newPromHead(tb)
	if err := loadGen(ph.appender, series, scrapes); err != nil {
		tb.Fatal(err)
	}
	return db, ph
}

func TestDifferentialPromQL(t *testing.T) {
	t.Run("heap", func(t *testing.T) { testDifferentialPromQL(t, anyTime(Options{})) })
	// Sealed chunks in chunk files of small segments (many of them).
	t.Run("chunk files", func(t *testing.T) {
		testDifferentialPromQL(t, anyTime(Options{ChunksDir: t.TempDir(), segmentSize: 8 << 10}))
	})
}

func testDifferentialPromQL(t *testing.T, opts Options) {
	db, ph := loadBothOpts(t, opts)
	if st := db.Stats(); opts.ChunksDir != "" && chunkFilesSupported && (st.ChunkFileBytes == 0 || st.ChunkFileMapped <= 8<<10) {
		t.Fatalf("chunks not in several chunk files: %+v", st)
	}
	ng := newEngine()
	queries := loadQueries(t)
	if len(queries) < 30 {
		t.Fatalf("only %d queries", len(queries))
	}
	empty := 0
	for _, qc := range queries {
		t.Run(qc.line, func(t *testing.T) {
			want := runQuery(t, ng, ph, qc)
			got := runQuery(t, ng, db, qc)
			if got != want {
				t.Fatalf("results differ\n--- prometheus head:\n%s\n--- ours:\n%s", want, got)
			}
			if want == "" {
				t.Logf("empty result on both stores: %q", want)
				empty++
			}
		})
	}
	// Guard against a vacuous comparison.
	if empty > 5 { // 4 queries are empty by design (no match, after staleness, absent of present)
		t.Fatalf("%d queries returned nothing on both stores", empty)
	}
}
