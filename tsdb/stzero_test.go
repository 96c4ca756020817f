package tsdb

import (
	"testing"

	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/tsdb/chunkenc"
)

// TestAppendSTZeroSample checks the zero sample injected at a start
// timestamp: stored only when it is before the sample and after the
// series' newest one, committed or pending, and never counted as refused.
func TestAppendSTZeroSample(t *testing.T) {
	ls := labels.FromStrings("__name__", "c_total")
	type call struct {
		st, t int64
		v     float64
		h     *histogram.Histogram
	}
	for _, tc := range []struct {
		name    string
		commits [][]call // batches of (zero sample, sample) pairs
		want    []anySample
	}{
		{
			name:    "fresh counter",
			commits: [][]call{{{st: 1000, t: 5000, v: 3}}},
			want:    []anySample{{t: 1000, typ: chunkenc.ValFloat}, {t: 5000, st: 1000, typ: chunkenc.ValFloat, v: 3}},
		},
		{
			name:    "start not before the sample",
			commits: [][]call{{{st: 5000, t: 5000, v: 3}, {st: 7000, t: 6000, v: 4}}},
			want:    []anySample{{t: 5000, st: 5000, typ: chunkenc.ValFloat, v: 3}, {t: 6000, st: 7000, typ: chunkenc.ValFloat, v: 4}},
		},
		{
			name: "same start on the next scrape: no second zero",
			commits: [][]call{
				{{st: 1000, t: 5000, v: 3}},
				{{st: 1000, t: 6000, v: 4}},
			},
			want: []anySample{{t: 1000, typ: chunkenc.ValFloat}, {t: 5000, st: 1000, typ: chunkenc.ValFloat, v: 3},
				{t: 6000, st: 1000, typ: chunkenc.ValFloat, v: 4}},
		},
		{
			name:    "pending sample newer than the start",
			commits: [][]call{{{st: 1000, t: 5000, v: 3}, {st: 4000, t: 6000, v: 1}}},
			want: []anySample{{t: 1000, typ: chunkenc.ValFloat}, {t: 5000, st: 1000, typ: chunkenc.ValFloat, v: 3},
				{t: 6000, st: 4000, typ: chunkenc.ValFloat, v: 1}},
		},
		{
			name: "reset: a zero between the old and the new counter",
			commits: [][]call{
				{{st: 1000, t: 5000, v: 3}},
				{{st: 5500, t: 6000, v: 1}},
			},
			want: []anySample{{t: 1000, typ: chunkenc.ValFloat}, {t: 5000, st: 1000, typ: chunkenc.ValFloat, v: 3},
				{t: 5500, typ: chunkenc.ValFloat}, {t: 6000, st: 5500, typ: chunkenc.ValFloat, v: 1}},
		},
		{
			name:    "histogram",
			commits: [][]call{{{st: 1000, t: 5000, h: testHist(2)}}},
			want: []anySample{{t: 1000, typ: chunkenc.ValHistogram, fh: &histogram.FloatHistogram{ZeroThreshold: 0.001, CounterResetHint: histogram.CounterReset}},
				{t: 5000, st: 1000, typ: chunkenc.ValHistogram, fh: testHist(2).ToFloat(nil)}},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			db := newDB(anyTime(Options{}), nil)
			for _, batch := range tc.commits {
				a := db.Appender()
				for _, c := range batch {
					ref, err := a.AppendSTZeroSample(0, ls, c.st, c.t, c.h, nil)
					if err != nil {
						t.Fatalf("zero sample at %d: %v", c.st, err)
					}
					if _, err := a.AppendSample(ref, ls, c.st, c.t, c.v, c.h, nil); err != nil {
						t.Fatalf("sample at %d: %v", c.t, err)
					}
				}
				a.Commit()
			}
			got := queryAny(t, db, 0, 10_000)[ls.String()]
			if len(got) != len(tc.want) {
				t.Fatalf("stored %v, want %v", got, tc.want)
			}
			for i := range got {
				g, w := got[i], tc.want[i]
				if g.t != w.t || g.st != w.st || g.typ != w.typ || g.v != w.v ||
					(w.fh != nil && (g.fh.Count != w.fh.Count || g.fh.Schema != w.fh.Schema || g.fh.ZeroThreshold != w.fh.ZeroThreshold)) {
					t.Fatalf("sample %d is %v, want %v (all: %v)", i, g, w, got)
				}
			}
			if n := db.stats.outOfOrder.Load() + db.stats.duplicates.Load(); n != 0 {
				t.Fatalf("%d samples counted as refused, want 0", n)
			}
		})
	}
}
