package tsdb

import (
	"context"
	"errors"
	"fmt"
	"math"
	"reflect"
	"testing"

	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"
)

// TestCardinalityStats: the counts and top lists of a small store, in
// Prometheus's order (largest first), cut at limit.
func TestCardinalityStats(t *testing.T) {
	db := newDB(anyTime(Options{}), nil)
	if st := db.CardinalityStats(10); st.NumSeries != 0 || st.MinTime != math.MaxInt64 || st.MaxTime != math.MinInt64 ||
		len(st.SeriesCountByMetricName) != 0 {
		t.Fatalf("empty store: %+v", st)
	}
	app := db.Appender()
	add := func(ts int64, kv ...string) { mustAppend(t, app, 0, labels.FromStrings(kv...), ts, 1) }
	add(1000, "__name__", "up", "job", "a", "instance", "x")
	add(2000, "__name__", "up", "job", "b", "instance", "y")
	add(3000, "__name__", "up", "job", "b", "instance", "z")
	add(4000, "__name__", "go_goroutines", "job", "b", "instance", "zz")
	if err := app.Commit(); err != nil {
		t.Fatal(err)
	}

	st := db.CardinalityStats(2)
	want := CardinalityStats{
		NumSeries:     4,
		NumLabelPairs: 2 + 2 + 4, // __name__: 2 values, job: 2, instance: 4
		ChunkCount:    4,
		MinTime:       1000,
		MaxTime:       4000,
		SeriesCountByMetricName: []Stat{
			{"up", 3}, {"go_goroutines", 1},
		},
		LabelValueCountByLabelName: []Stat{
			{"instance", 4}, {"__name__", 2}, // job has 2 too: ties go to the smaller name
		},
		MemoryInBytesByLabelName: []Stat{
			{"__name__", 3*2 + 13}, {"instance", 1 + 1 + 1 + 2},
		},
		// __name__=up and job=b tie at 3: the smaller name comes first.
		SeriesCountByLabelValuePair: []Stat{
			{"__name__=up", 3}, {"job=b", 3},
		},
	}
	if !reflect.DeepEqual(st, want) {
		t.Fatalf("stats:\n got %+v\nwant %+v", st, want)
	}

	for _, limit := range []int{-5, 0, 1} {
		if n := len(db.CardinalityStats(limit).SeriesCountByMetricName); n != 1 {
			t.Errorf("limit %d: %d entries, want 1 (clamped)", limit, n)
		}
	}
	if n := len(db.CardinalityStats(math.MaxInt).SeriesCountByLabelValuePair); n != 8 {
		t.Errorf("huge limit: %d pairs, want all 8", n)
	}
}

// TestDeleteSeries: whole series inside the range go, with their
// footprint; a series with samples outside it stays and is reported; new
// samples recreate a deleted series.
func TestDeleteSeries(t *testing.T) {
	db := newDB(anyTime(Options{}), nil)
	app := db.Appender()
	a := labels.FromStrings("__name__", "m", "k", "a")
	b := labels.FromStrings("__name__", "m", "k", "b")
	c := labels.FromStrings("__name__", "other")
	for ts := int64(1000); ts <= 5000; ts += 1000 {
		mustAppend(t, app, 0, a, ts, 1)
		mustAppend(t, app, 0, c, ts, 1)
	}
	mustAppend(t, app, 0, b, 9000, 1)
	if err := app.Commit(); err != nil {
		t.Fatal(err)
	}
	m := labels.MustNewMatcher(labels.MatchEqual, "__name__", "m")

	n, err := db.DeleteSeries(context.Background(), 0, 6000, m)
	if n != 1 || !errors.Is(err, ErrPartialDelete) {
		t.Fatalf("delete [0, 6000]: %d, %v; want 1 and ErrPartialDelete (b has a sample at 9000)", n, err)
	}
	got := query(t, db, math.MinInt64, math.MaxInt64, labels.MustNewMatcher(labels.MatchRegexp, "__name__", ".+"))
	if _, ok := got[a.String()]; ok || len(got) != 2 {
		t.Fatalf("after delete: %v", got)
	}
	if s := db.Stats(); s.Series != 2 || s.Samples != 6 {
		t.Fatalf("stats after delete: %+v, want 2 series, 6 samples", s)
	}
	if st := db.CardinalityStats(10); st.NumSeries != 2 || st.NumLabelPairs != 3 {
		t.Fatalf("cardinality after delete: %+v", st)
	}

	n, err = db.DeleteSeries(context.Background(), math.MinInt64, math.MaxInt64, m)
	if n != 1 || err != nil {
		t.Fatalf("delete everything of m: %d, %v", n, err)
	}
	app = db.Appender()
	mustAppend(t, app, 0, a, 10000, 2)
	if err := app.Commit(); err != nil {
		t.Fatal(err)
	}
	if got := query(t, db, 0, math.MaxInt64, m); len(got[a.String()]) != 1 {
		t.Fatalf("appended after delete: %v", got)
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := db.DeleteSeries(ctx, math.MinInt64, math.MaxInt64); !errors.Is(err, context.Canceled) {
		t.Fatalf("canceled: %v", err)
	}
}

// BenchmarkCardinalityStats measures /api/v1/status/tsdb's work on a
// store of 1M series (100 metrics × 10,000 instances, 5 labels each).
func BenchmarkCardinalityStats(b *testing.B) {
	db := newDB(anyTime(Options{MaxSeries: -1}), nil)
	app := db.Appender()
	for i := range 1_000_000 {
		ls := labels.FromStrings("__name__", fmt.Sprintf("metric_%d", i%100), "instance", fmt.Sprintf("host-%d:9100", i/100),
			"job", "node", "zone", fmt.Sprintf("z%d", i%7))
		if _, err := app.Append(0, ls, 1000, float64(i)); err != nil {
			b.Fatal(err)
		}
		if i%10000 == 9999 {
			if err := app.Commit(); err != nil {
				b.Fatal(err)
			}
			app = db.Appender()
		}
	}
	if err := app.Commit(); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		st := db.CardinalityStats(10)
		if st.NumSeries != 1_000_000 {
			b.Fatal(st.NumSeries)
		}
	}
}

// TestDeleteSeriesHistograms: a histogram series counts its histogram
// samples in its time range and footprint.
func TestDeleteSeriesHistograms(t *testing.T) {
	db := newDB(anyTime(Options{}), nil)
	app := db.Appender()
	h := labels.FromStrings("__name__", "latency")
	for ts := int64(1000); ts <= 3000; ts += 1000 {
		if _, err := app.AppendHistogram(0, h, ts, nil, &histogram.FloatHistogram{Count: 1, Sum: 1, ZeroCount: 1, ZeroThreshold: 0.001}); err != nil {
			t.Fatal(err)
		}
	}
	if err := app.Commit(); err != nil {
		t.Fatal(err)
	}
	if st := db.CardinalityStats(10); st.MinTime != 1000 || st.MaxTime != 3000 {
		t.Fatalf("histogram series bounds: %d..%d, want 1000..3000", st.MinTime, st.MaxTime)
	}
	m := labels.MustNewMatcher(labels.MatchEqual, "__name__", "latency")
	if n, err := db.DeleteSeries(context.Background(), 2000, 5000, m); n != 0 || !errors.Is(err, ErrPartialDelete) {
		t.Fatalf("delete [2000, 5000]: %d, %v; want ErrPartialDelete (a histogram at 1000)", n, err)
	}
	if n, err := db.DeleteSeries(context.Background(), 1000, 3000, m); n != 1 || err != nil {
		t.Fatalf("delete [1000, 3000]: %d, %v", n, err)
	}
	if s := db.Stats(); s.Series != 0 || s.Samples != 0 || s.Chunks != 0 || s.ChunkBytes != 0 {
		t.Fatalf("stats after deleting the histogram series: %+v", s)
	}
}
