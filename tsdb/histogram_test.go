package tsdb

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/value"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/tsdb/chunkenc"
)

// anySample is a sample of any kind as a query returns it.
type anySample struct {
	t, st int64
	typ   chunkenc.ValueType
	v     float64                   // ValFloat
	fh    *histogram.FloatHistogram // ValHistogram and ValFloatHistogram, as float
}

func (s anySample) String() string {
	switch s.typ {
	case chunkenc.ValFloat:
		return fmt.Sprintf("%d(st %d)=%g", s.t, s.st, s.v)
	default:
		return fmt.Sprintf("%d(st %d)=%s%s hint %d", s.t, s.st, s.typ, s.fh, s.fh.CounterResetHint)
	}
}

// queryAny returns every sample of the series matching ms in [mint, maxt].
func queryAny(t *testing.T, q storage.Queryable, mint, maxt int64, ms ...*labels.Matcher) map[string][]anySample {
	t.Helper()
	if len(ms) == 0 {
		ms = []*labels.Matcher{labels.MustNewMatcher(labels.MatchRegexp, "__name__", ".+")}
	}
	qr, err := q.Querier(mint, maxt)
	if err != nil {
		t.Fatal(err)
	}
	defer qr.Close()
	ss := qr.Select(context.Background(), true, nil, ms...)
	out := map[string][]anySample{}
	var it chunkenc.Iterator
	for ss.Next() {
		it = ss.At().Iterator(it)
		var got []anySample
		for typ := it.Next(); typ != chunkenc.ValNone; typ = it.Next() {
			s := anySample{t: it.AtT(), st: it.AtST(), typ: typ}
			if typ == chunkenc.ValFloat {
				_, s.v = it.At()
			} else {
				_, s.fh = it.AtFloatHistogram(nil)
			}
			got = append(got, s)
		}
		if err := it.Err(); err != nil {
			t.Fatal(err)
		}
		out[ss.At().Labels().String()] = got
	}
	return out
}

// testHist is a small counter histogram with count n.
func testHist(n uint64) *histogram.Histogram {
	return &histogram.Histogram{
		Count: n, Sum: float64(n), Schema: 0, ZeroThreshold: 0.001,
		PositiveSpans:   []histogram.Span{{Offset: 0, Length: 1}},
		PositiveBuckets: []int64{int64(n)},
	}
}

// input is one append of a test: a float v unless h or fh is set.
type input struct {
	t, st int64
	v     float64
	h     *histogram.Histogram
	fh    *histogram.FloatHistogram
}

func appendInputs(t *testing.T, db *DB, ls labels.Labels, in []input) {
	t.Helper()
	a := db.Appender()
	for _, s := range in {
		if _, err := a.AppendSample(0, ls, s.st, s.t, s.v, s.h, s.fh); err != nil {
			t.Fatalf("append @%d: %v", s.t, err)
		}
	}
	if err := a.Commit(); err != nil {
		t.Fatal(err)
	}
}

// TestHistogramSamples checks what a query returns for series of
// histograms and floats: kinds, values, the counter-reset hints
// Prometheus's head gives (the chunk header on a chunk's first sample,
// NotCounterReset after) and stale markers.
func TestHistogramSamples(t *testing.T) {
	gauge := testHist(3)
	gauge.CounterResetHint = histogram.GaugeType
	for _, tc := range []struct {
		name  string
		in    []input
		typ   []chunkenc.ValueType
		hints []histogram.CounterResetHint // of the histogram samples, in order
	}{
		{
			name: "counter with a reset",
			in:   []input{{t: 1, h: testHist(5)}, {t: 2, h: testHist(7)}, {t: 3, h: testHist(2)}, {t: 4, h: testHist(4)}},
			typ:  []chunkenc.ValueType{chunkenc.ValHistogram, chunkenc.ValHistogram, chunkenc.ValHistogram, chunkenc.ValHistogram},
			// A chunk's first sample is unknown, whatever the chunk's
			// header says (chunkenc: the previous chunk may be gone).
			hints: []histogram.CounterResetHint{histogram.UnknownCounterReset, histogram.NotCounterReset, histogram.UnknownCounterReset, histogram.NotCounterReset},
		},
		{
			name:  "float histograms",
			in:    []input{{t: 1, fh: testHist(5).ToFloat(nil)}, {t: 2, fh: testHist(6).ToFloat(nil)}},
			typ:   []chunkenc.ValueType{chunkenc.ValFloatHistogram, chunkenc.ValFloatHistogram},
			hints: []histogram.CounterResetHint{histogram.UnknownCounterReset, histogram.NotCounterReset},
		},
		{
			name:  "switching kinds: a histogram after a float starts unknown",
			in:    []input{{t: 1, v: 1}, {t: 2, h: testHist(5)}, {t: 3, v: 2}, {t: 4, h: testHist(9)}, {t: 5, h: testHist(10)}, {t: 6, fh: testHist(11).ToFloat(nil)}},
			typ:   []chunkenc.ValueType{chunkenc.ValFloat, chunkenc.ValHistogram, chunkenc.ValFloat, chunkenc.ValHistogram, chunkenc.ValHistogram, chunkenc.ValFloatHistogram},
			hints: []histogram.CounterResetHint{histogram.UnknownCounterReset, histogram.UnknownCounterReset, histogram.NotCounterReset, histogram.UnknownCounterReset},
		},
		{
			name:  "gauge histograms",
			in:    []input{{t: 1, h: gauge}, {t: 2, h: gauge}},
			typ:   []chunkenc.ValueType{chunkenc.ValHistogram, chunkenc.ValHistogram},
			hints: []histogram.CounterResetHint{histogram.GaugeType, histogram.GaugeType},
		},
		{
			name:  "a float stale marker after a histogram is a histogram one",
			in:    []input{{t: 1, h: testHist(5)}, {t: 2, v: math.Float64frombits(value.StaleNaN)}, {t: 3, v: 4}},
			typ:   []chunkenc.ValueType{chunkenc.ValHistogram, chunkenc.ValHistogram, chunkenc.ValFloat},
			hints: []histogram.CounterResetHint{histogram.UnknownCounterReset, histogram.UnknownCounterReset},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			db := newDB(anyTime(Options{}), nil)
			ls := labels.FromStrings("__name__", "h")
			appendInputs(t, db, ls, tc.in)
			got := queryAny(t, db, 0, 100)[ls.String()]
			if len(got) != len(tc.typ) {
				t.Fatalf("got %v, want %d samples", got, len(tc.typ))
			}
			var hints []histogram.CounterResetHint
			for i, s := range got {
				in := tc.in[i]
				if s.t != in.t || s.typ != tc.typ[i] {
					t.Fatalf("sample %d: %v, want time %d kind %s", i, s, in.t, tc.typ[i])
				}
				switch {
				case s.typ == chunkenc.ValFloat:
					if s.v != in.v {
						t.Errorf("sample %d: %v, want %g", i, s, in.v)
					}
					continue
				case in.h == nil && in.fh == nil: // stale marker
					if !value.IsStaleNaN(s.fh.Sum) {
						t.Errorf("sample %d: %v, want a stale marker", i, s)
					}
				case in.h != nil && s.fh.Count != float64(in.h.Count), in.fh != nil && s.fh.Count != in.fh.Count:
					t.Errorf("sample %d: %v, want %v%v", i, s, in.h, in.fh)
				}
				hints = append(hints, s.fh.CounterResetHint)
			}
			if fmt.Sprint(hints) != fmt.Sprint(tc.hints) {
				t.Errorf("hints %v, want %v", hints, tc.hints)
			}
		})
	}
}

// TestHistogramOrderChecks checks the order and duplicate checks across
// float and histogram samples, in a batch and across commits.
func TestHistogramOrderChecks(t *testing.T) {
	ls := labels.FromStrings("__name__", "h")
	for _, tc := range []struct {
		name  string
		first input // committed first
		in    input
		want  error
	}{
		{"histogram before a float", input{t: 10, v: 1}, input{t: 9, h: testHist(1)}, ErrOutOfOrder},
		{"float before a histogram", input{t: 10, h: testHist(1)}, input{t: 9, v: 1}, ErrOutOfOrder},
		{"histogram at a float's time", input{t: 10, v: 1}, input{t: 10, h: testHist(1)}, ErrDuplicateSample},
		{"float at a histogram's time", input{t: 10, h: testHist(1)}, input{t: 10, v: 1}, ErrDuplicateSample},
		{"another histogram at the same time", input{t: 10, h: testHist(1)}, input{t: 10, h: testHist(2)}, ErrDuplicateSample},
		{"float histogram at an integer one's time", input{t: 10, h: testHist(1)}, input{t: 10, fh: testHist(1).ToFloat(nil)}, ErrDuplicateSample},
		{"the same histogram again", input{t: 10, h: testHist(1)}, input{t: 10, h: testHist(1)}, nil},
		{"a later histogram", input{t: 10, v: 1}, input{t: 11, h: testHist(1)}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, batched := range []bool{false, true} {
				db := newDB(anyTime(Options{}), nil)
				a := db.Appender()
				if _, err := a.AppendSample(0, ls, 0, tc.first.t, tc.first.v, tc.first.h, tc.first.fh); err != nil {
					t.Fatal(err)
				}
				if !batched {
					a.Commit()
				}
				_, err := a.AppendSample(0, ls, 0, tc.in.t, tc.in.v, tc.in.h, tc.in.fh)
				if !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
					t.Fatalf("batched %v: error %v, want %v", batched, err, tc.want)
				}
				a.Commit()
				n := 1
				if tc.want == nil && tc.in.t != tc.first.t {
					n = 2
				}
				if got := queryAny(t, db, 0, 100)[ls.String()]; len(got) != n {
					t.Fatalf("batched %v: stored %v, want %d samples", batched, got, n)
				}
			}
		})
	}
}

// TestHistogramCommitOrder checks that Commit re-checks the order across
// appenders: a histogram buffered before another appender committed a
// later float is dropped and counted.
func TestHistogramCommitOrder(t *testing.T) {
	db := newDB(anyTime(Options{}), nil)
	ls := labels.FromStrings("__name__", "h")
	a1, a2 := db.Appender(), db.Appender()
	if _, err := a1.AppendHistogram(0, ls, 10, testHist(1), nil); err != nil {
		t.Fatal(err)
	}
	mustAppend(t, a2, 0, ls, 20, 1)
	a2.Commit()
	a1.Commit()
	if got := queryAny(t, db, 0, 100)[ls.String()]; len(got) != 1 || got[0].typ != chunkenc.ValFloat {
		t.Fatalf("stored %v", got)
	}
	if st := db.Stats(); st.OutOfOrder != 1 || st.AppendedSamples != 1 {
		t.Fatalf("stats %+v", st)
	}
}

func TestAppendHistogramInvalid(t *testing.T) {
	ls := labels.FromStrings("__name__", "h")
	bad := testHist(5)
	bad.PositiveBuckets = []int64{1, 2} // more buckets than spans say
	huge := &histogram.Histogram{Count: MaxHistogramBuckets, PositiveSpans: []histogram.Span{{Length: MaxHistogramBuckets}}}
	huge.PositiveBuckets = make([]int64, MaxHistogramBuckets)
	huge.PositiveBuckets[0] = MaxHistogramBuckets
	for _, tc := range []struct {
		name string
		h    *histogram.Histogram
		fh   *histogram.FloatHistogram
	}{
		{"neither", nil, nil},
		{"both", testHist(1), testHist(1).ToFloat(nil)},
		{"invalid", bad, nil},
		{"invalid float", nil, bad.ToFloat(nil)},
		{"too many buckets", huge, nil},
		{"too many float buckets", nil, huge.ToFloat(nil)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			db := newDB(anyTime(Options{}), nil)
			a := db.Appender()
			if _, err := a.AppendHistogram(0, ls, 1, tc.h, tc.fh); !errors.Is(err, ErrInvalidHistogram) {
				t.Fatalf("error %v, want ErrInvalidHistogram", err)
			}
			a.Commit()
			if st := db.Stats(); st.Series != 0 || st.AppendedSamples != 0 || st.InvalidHistograms != 1 {
				t.Fatalf("stored something: %+v", st)
			}
		})
	}
}

// TestHistogramCopied checks that the store keeps its own copy of an
// appended histogram.
func TestHistogramCopied(t *testing.T) {
	db := newDB(anyTime(Options{}), nil)
	ls := labels.FromStrings("__name__", "h")
	h := testHist(5)
	a := db.Appender()
	if _, err := a.AppendHistogram(0, ls, 1, h, nil); err != nil {
		t.Fatal(err)
	}
	h.Count, h.PositiveBuckets[0] = 99, 99
	a.Commit()
	if got := queryAny(t, db, 0, 10)[ls.String()]; len(got) != 1 || got[0].fh.Count != 5 {
		t.Fatalf("stored %v", got)
	}
}

// TestStartTimestamps checks that start timestamps come back per sample
// and cost a run only when they stop following the pattern of the run.
func TestStartTimestamps(t *testing.T) {
	for _, tc := range []struct {
		name string
		sts  []int64 // of samples at 1000, 2000, ...
		runs int
	}{
		{"none", []int64{0, 0, 0, 0}, 0},
		{"cumulative", []int64{500, 500, 500, 500}, 1},
		{"delta: the previous sample time", []int64{0, 1000, 2000, 3000}, 1},
		{"cumulative with a reset", []int64{500, 500, 2500, 2500}, 2},
		{"known after unknown", []int64{0, 0, 1500, 1500}, 1},
		{"unknown after known", []int64{500, 500, 0, 0}, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			db := newDB(anyTime(Options{}), nil)
			ls := labels.FromStrings("__name__", "c")
			var in []input
			for i, st := range tc.sts {
				s := input{t: int64(i+1) * 1000, st: st, v: float64(i)}
				if i%2 == 1 {
					s.h = testHist(uint64(i))
				}
				in = append(in, s)
			}
			appendInputs(t, db, ls, in)
			got := queryAny(t, db, 0, 10_000)[ls.String()]
			for i, s := range got {
				if s.st != tc.sts[i] {
					t.Fatalf("sample %d: %v, want start %d", i, s, tc.sts[i])
				}
			}
			if len(got) != len(tc.sts) {
				t.Fatalf("got %v", got)
			}
			// Seeking mid-series still finds the right start.
			qr, _ := db.Querier(2500, 10_000)
			ss := qr.Select(context.Background(), false, nil, labels.MustNewMatcher(labels.MatchEqual, "__name__", "c"))
			ss.Next()
			it := ss.At().Iterator(nil)
			if it.Seek(3500) == chunkenc.ValNone || it.AtT() != 4000 || it.AtST() != tc.sts[3] {
				t.Fatalf("after Seek(3500): t %d st %d, want 4000 and %d", it.AtT(), it.AtST(), tc.sts[3])
			}
			s := db.series.get(ls)
			if n := 0; s.ext != nil {
				n = len(s.ext.sts)
				if n != tc.runs {
					t.Fatalf("%d runs %v, want %d", n, s.ext.sts, tc.runs)
				}
			}
			checkGauges(t, db, tc.name)
		})
	}
}

// TestFloatSeriesHaveNoExt checks that plain float series do not pay for
// histograms or start timestamps.
func TestFloatSeriesHaveNoExt(t *testing.T) {
	db := newDB(anyTime(Options{}), nil)
	ls := labels.FromStrings("__name__", "f")
	appendInputs(t, db, ls, []input{{t: 1, v: 1}, {t: 2, v: 2}})
	if s := db.series.get(ls); s.ext != nil || s.hasExt {
		t.Fatal("a float series got an optional part")
	}
}

// TestHistogramRetentionGCAndSnapshot runs series of every kind through
// retention, GC and a snapshot reload, checking the gauges against a walk
// of the series each time, that histogram-only series are not collected
// while they have recent samples, and that a reload returns the same
// samples, kinds, hints and start timestamps.
func TestHistogramRetentionGCAndSnapshot(t *testing.T) {
	var clock testClock
	db := newDB(Options{Retention: 30 * time.Minute, Now: clock.now}, nil)
	const step = 15_000
	for i := range 600 {
		ts := int64(i) * step
		clock.set(ts)
		a := db.Appender()
		for s := range 8 {
			ls := labels.FromStrings("__name__", "m", "s", fmt.Sprint(s))
			if i >= 150*(s%4+1) { // series stop at different times, so that GC removes some
				continue
			}
			var err error
			switch s % 4 {
			case 0: // integer histograms with resets
				_, err = a.AppendHistogram(0, ls, ts, testHist(uint64(i%50+1)), nil)
			case 1: // float histograms with a start timestamp
				_, err = a.AppendSample(0, ls, ts-ts%(100*step), ts, 0, nil, testHist(uint64(i)).ToFloat(nil))
			case 2: // switching kinds every 10 samples
				if i/10%2 == 0 {
					_, err = a.Append(0, ls, ts, float64(i))
				} else {
					_, err = a.AppendHistogram(0, ls, ts, testHist(uint64(i)), nil)
				}
			case 3: // floats with delta start timestamps
				_, err = a.AppendSample(0, ls, ts-step, ts, float64(i), nil, nil)
			}
			if err != nil {
				t.Fatal(err)
			}
		}
		a.Commit()
		if i%50 == 0 {
			checkGauges(t, db, fmt.Sprintf("scrape %d", i))
			db.GC()
			checkGauges(t, db, fmt.Sprintf("GC after scrape %d", i))
		}
	}
	st := db.Stats()
	if st.GCedSeries == 0 || st.DroppedChunks == 0 || st.Series == 0 {
		t.Fatalf("nothing collected or everything: %+v", st)
	}
	if db.series.get(labels.FromStrings("__name__", "m", "s", "7")) == nil {
		t.Fatal("a live histogram series was collected")
	}
	db2 := newDB(Options{Retention: 30 * time.Minute, Now: clock.now}, nil)
	if err := db2.loadSnapshot(snapshotBytes(t, db)); err != nil {
		t.Fatal(err)
	}
	checkGauges(t, db2, "reloaded")
	want, got := queryAny(t, db, 0, 1<<40), queryAny(t, db2, 0, 1<<40)
	if fmt.Sprint(want) != fmt.Sprint(got) {
		t.Fatalf("reloaded samples differ:\n%v\n%v", got, want)
	}
	// The reloaded open chunks take more samples.
	clock.set(600 * step)
	a := db2.Appender()
	for s := range 8 {
		ls := labels.FromStrings("__name__", "m", "s", fmt.Sprint(s))
		if _, err := a.AppendHistogram(0, ls, 600*step, testHist(1000), nil); err != nil && db2.series.get(ls) != nil {
			t.Fatal(err)
		}
	}
	a.Commit()
	checkGauges(t, db2, "appended after reload")
}

// TestLayoutBuckets checks the snapshot loader's reading of a histogram
// chunk's bucket count against chunks chunkenc wrote.
func TestLayoutBuckets(t *testing.T) {
	wide := &histogram.Histogram{
		Count: 10, Schema: 3, ZeroThreshold: 1e-100, // a threshold that takes 9 bytes
		PositiveSpans:   []histogram.Span{{Offset: -5, Length: 3}, {Offset: 1000, Length: 2}},
		PositiveBuckets: []int64{1, 1, 0, 0, 0},
		NegativeSpans:   []histogram.Span{{Offset: 2, Length: 4}},
		NegativeBuckets: []int64{1, 0, 0, 0},
	}
	for _, tc := range []struct {
		name string
		h    *histogram.Histogram
		want uint64
	}{
		{"one bucket", testHist(3), 1},
		{"spans both ways", wide, 9},
		{"stale marker", &histogram.Histogram{Sum: math.Float64frombits(value.StaleNaN)}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, enc := range []chunkenc.Encoding{chunkenc.EncHistogram, chunkenc.EncFloatHistogram} {
				c, _ := chunkenc.NewEmptyChunk(enc)
				app, _ := c.Appender()
				if enc == chunkenc.EncHistogram {
					app.AppendHistogram(nil, 0, 1, tc.h, false)
				} else {
					app.AppendFloatHistogram(nil, 0, 1, tc.h.ToFloat(nil), false)
				}
				if n, ok := layoutBuckets(c.Bytes()); !ok || n != tc.want {
					t.Errorf("%s: %d buckets (ok %v), want %d", enc, n, ok, tc.want)
				}
				if _, ok := layoutBuckets(c.Bytes()[:4]); ok && tc.want > 0 {
					t.Errorf("%s: a truncated layout reads", enc)
				}
			}
		})
	}
}

func TestHasHistograms(t *testing.T) {
	db := newDB(anyTime(Options{}), nil)
	a := db.Appender()
	f := mustAppend(t, a, 0, labels.FromStrings("__name__", "f"), 1, 1)
	st, _ := a.AppendSample(0, labels.FromStrings("__name__", "st"), 1, 2, 1, nil, nil)
	h, err := a.AppendHistogram(0, labels.FromStrings("__name__", "h"), 1, testHist(1), nil)
	if err != nil {
		t.Fatal(err)
	}
	a.Commit()
	for ref, want := range map[uint64]bool{f: false, st: false, h: true, 999: false} {
		if got := db.HasHistograms(ref); got != want {
			t.Errorf("HasHistograms(%d) = %v, want %v", ref, got, want)
		}
	}
}

// TestHistogramConcurrentAppendQuery appends histograms and floats to
// shared series from two goroutines while the test queries, snapshots and
// collects garbage: run with -race. Every query must see increasing times.
func TestHistogramConcurrentAppendQuery(t *testing.T) {
	db := newDB(anyTime(Options{}), nil)
	var wg sync.WaitGroup
	var stop atomic.Bool
	for w := range 2 {
		wg.Go(func() {
			for i := range 400 {
				a := db.Appender()
				for s := range 4 {
					ls := labels.FromStrings("__name__", "m", "s", fmt.Sprint(s))
					ts := int64(i)*1000 + int64(w)*500
					if (i+s)%3 == 0 {
						a.Append(0, ls, ts, float64(i))
					} else {
						a.AppendSample(0, ls, ts-500, ts, 0, testHist(uint64(i)), nil)
					}
				}
				a.Commit()
			}
		})
	}
	go func() { wg.Wait(); stop.Store(true) }()
	for !stop.Load() {
		qr, _ := db.Querier(0, 1<<40)
		ss := qr.Select(context.Background(), false, nil, labels.MustNewMatcher(labels.MatchEqual, "__name__", "m"))
		var it chunkenc.Iterator
		for ss.Next() {
			it = ss.At().Iterator(it)
			prev := int64(math.MinInt64)
			for typ := it.Next(); typ != chunkenc.ValNone; typ = it.Next() {
				if it.AtT() <= prev {
					t.Fatalf("time %d after %d", it.AtT(), prev)
				}
				prev = it.AtT()
				if typ != chunkenc.ValFloat {
					it.AtFloatHistogram(nil)
				}
			}
		}
		snapshotBytes(t, db)
		db.GC()
	}
	checkGauges(t, db, "after the appends")
	if st := db.Stats(); st.AppendedSamples == 0 || st.Series != 4 {
		t.Fatalf("stats %+v", st)
	}
}

// BenchmarkAppendHistogram commits 120 scrapes of 1,000 series of counter
// histograms with 40 populated buckets each, and reports the time and the
// chunk bytes per histogram sample.
func BenchmarkAppendHistogram(b *testing.B) {
	const nSeries, scrapes, buckets = 1000, 120, 40
	lsets := make([]labels.Labels, nSeries)
	for i := range lsets {
		lsets[i] = labels.FromStrings("__name__", "request_duration_seconds", "instance", fmt.Sprint(i))
	}
	hs := make([]*histogram.Histogram, scrapes)
	for i := range hs {
		h := &histogram.Histogram{Schema: 3, ZeroThreshold: 1e-128, PositiveSpans: []histogram.Span{{Offset: -20, Length: buckets}}}
		h.PositiveBuckets = make([]int64, buckets)
		prev := int64(0)
		for k := range buckets {
			c := int64(i*(k%7+1) + k) // each bucket grows at its own pace
			h.PositiveBuckets[k] = c - prev
			prev = c
			h.Count += uint64(c)
		}
		h.Sum = float64(h.Count) * 0.1
		hs[i] = h
	}
	var st Stats
	for b.Loop() {
		db := newDB(anyTime(Options{}), nil)
		refs := make([]uint64, nSeries)
		for i := range scrapes {
			a := db.Appender()
			for s := range nSeries {
				var err error
				if refs[s], err = a.AppendHistogram(refs[s], lsets[s], int64(i)*15_000, hs[i], nil); err != nil {
					b.Fatal(err)
				}
			}
			a.Commit()
		}
		st = db.Stats()
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*nSeries*scrapes), "ns/sample")
	b.ReportMetric(float64(st.ChunkBytes)/float64(st.Samples), "chunk-B/sample")
}
