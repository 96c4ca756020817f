package tsdb

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
	"unsafe"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/value"
)

// TestSlideMatchesReadRanges moves windows over series that keep growing
// (chunks sealed and dropped by retention, stale markers, jittered and
// gappy intervals, samples committed late, inside a window already read)
// and checks after every Slide that each window holds exactly what
// ReadRanges returns for its range, and each tally (moved over the same
// ranges) summarises exactly those samples.
func TestSlideMatchesReadRanges(t *testing.T) {
	stale := math.Float64frombits(value.StaleNaN)
	cases := []struct {
		name      string
		retention time.Duration
		step      func(r *rand.Rand) int64 // time between samples
		evalEvery func(r *rand.Rand) int64 // time between Slides
		val       func(r *rand.Rand, i int, prev float64) float64
		windows   []Range // relative to the evaluation time: (t+Mint, t+Maxt]
	}{
		{
			name:      "login-rule",
			retention: 2 * time.Hour,
			step:      func(*rand.Rand) int64 { return 15_000 },
			evalEvery: func(*rand.Rand) int64 { return 15_000 },
			val:       func(r *rand.Rand, _ int, p float64) float64 { return p + float64(r.IntN(5)) },
			windows:   []Range{{-300_000, 0}, {-3_900_000, -3_600_000}},
		},
		{
			name:      "jitter-stale-resets",
			retention: 30 * time.Minute,
			step:      func(r *rand.Rand) int64 { return 10_000 + r.Int64N(10_000) },
			evalEvery: func(r *rand.Rand) int64 { return r.Int64N(40_000) },
			val: func(r *rand.Rand, i int, p float64) float64 {
				switch {
				case i%31 == 7:
					return stale
				case r.IntN(50) == 0:
					return 0
				}
				return p + r.Float64()*100
			},
			windows: []Range{{-120_000, 0}, {-60_000, -30_000}, {-900_000, -600_000}},
		},
		{
			name:      "gaps-and-jumps",
			retention: time.Hour,
			step: func(r *rand.Rand) int64 {
				if r.IntN(40) == 0 {
					return 20 * 60_000 // a gap longer than the windows
				}
				return 5_000
			},
			evalEvery: func(r *rand.Rand) int64 {
				switch r.IntN(30) {
				case 0:
					return 30 * 60_000 // jump past the window
				case 1:
					return -r.Int64N(300_000) // back in time
				}
				return 5_000
			},
			val:     func(r *rand.Rand, _ int, _ float64) float64 { return r.NormFloat64() },
			windows: []Range{{-60_000, 0}, {-300_000, -240_000}},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for seed := range 20 {
				slideRun(t, uint64(seed), tc.retention, tc.step, tc.evalEvery, tc.val, tc.windows)
			}
		})
	}
}

func slideRun(t *testing.T, seed uint64, retention time.Duration, step, evalEvery func(*rand.Rand) int64,
	val func(*rand.Rand, int, float64) float64, rel []Range) {
	t.Helper()
	r := rand.New(rand.NewPCG(seed, 42))
	var clock testClock
	db := newDB(Options{Retention: retention, Now: clock.now}, nil)
	const nSeries = 4
	lsets := make([]labels.Labels, nSeries)
	refs := make([]uint64, nSeries)
	next := make([]int64, nSeries) // next sample time per series
	vals := make([]float64, nSeries)
	count := make([]int, nSeries)
	for i := range lsets {
		lsets[i] = labels.FromStrings("__name__", "m", "i", fmt.Sprint(i))
		next[i] = 1_000_000 + r.Int64N(20_000)
	}
	wins := make([][]Window, nSeries)
	for i := range wins {
		wins[i] = make([]Window, len(rel))
	}
	tals := make([][]Tally, nSeries)
	for i := range tals {
		tals[i] = make([]Tally, len(rel))
	}
	rs := make([]Range, len(rel))
	var smp Samples
	evalT := int64(1_000_000)
	for round := range 600 {
		evalT += evalEvery(r)
		clock.set(evalT)
		// Append up to a little past the evaluation time, so that some
		// samples land in windows already read (committed "late").
		a := db.Appender()
		for i := range lsets {
			for next[i] <= evalT+r.Int64N(30_000) {
				vals[i] = val(r, count[i], vals[i])
				ref, err := a.Append(refs[i], lsets[i], next[i], vals[i])
				if err != nil {
					t.Fatal(err)
				}
				refs[i] = ref
				count[i]++
				next[i] += step(r)
			}
		}
		if err := a.Commit(); err != nil {
			t.Fatal(err)
		}
		if round%97 == 0 {
			db.GC()
		}
		for k, w := range rel {
			rs[k] = Range{Mint: evalT + w.Mint + 1, Maxt: evalT + w.Maxt}
		}
		for i, ref := range refs {
			lset, ok := db.Slide(ref, rs, wins[i], rs, tals[i], nil)
			want, ok2 := db.ReadRanges(ref, rs, &smp)
			if ok != ok2 || !labels.Equal(lset, want) {
				t.Fatalf("seed %d round %d series %d: Slide %v %v, ReadRanges %v %v", seed, round, i, lset, ok, want, ok2)
			}
			if !ok {
				continue
			}
			for k := range rs {
				gt, gv := wins[i][k].Samples()
				wt, wv := smp.Range(k)
				if !slices.Equal(gt, wt) || !equalBits(gv, wv) {
					t.Fatalf("seed %d round %d series %d window %d %v:\nslide %v %v\nread  %v %v", seed, round, i, k, rs[k], gt, gv, wt, wv)
				}
				if got, want := tallyOf(&tals[i][k]), summarize(wt, wv); got != want {
					t.Fatalf("seed %d round %d series %d tally %d %v:\ngot  %+v\nwant %+v\nsamples %v %v", seed, round, i, k, rs[k], got, want, wt, wv)
				}
			}
		}
	}
}

// summary is what a Tally reports, for comparison.
type summary struct {
	exact                     bool
	n, stale, resets, changes int
	firstT, lastT             int64
	firstV, lastV             uint64
}

func tallyOf(tl *Tally) summary {
	s := summary{exact: tl.Exact(), n: tl.Len(), stale: tl.Stale(), resets: tl.Resets(), changes: tl.Changes()}
	if s.n > 0 {
		var f, l float64
		s.firstT, f = tl.First()
		s.lastT, l = tl.Last()
		s.firstV, s.lastV = math.Float64bits(f), math.Float64bits(l)
	}
	return s
}

// summarize computes a Tally's summary of ts/vs directly.
func summarize(ts []int64, vs []float64) summary {
	s := summary{exact: true, n: len(ts)}
	for i, v := range vs {
		if value.IsStaleNaN(v) {
			s.stale++
			continue
		}
		if i == 0 || value.IsStaleNaN(vs[i-1]) {
			continue
		}
		if p := vs[i-1]; v < p {
			s.resets++
		}
		if p := vs[i-1]; v != p && !(math.IsNaN(v) && math.IsNaN(p)) {
			s.changes++
		}
	}
	if len(ts) > 0 {
		s.firstT, s.lastT = ts[0], ts[len(ts)-1]
		s.firstV, s.lastV = math.Float64bits(vs[0]), math.Float64bits(vs[len(vs)-1])
	}
	return s
}

func equalBits(a, b []float64) bool {
	return slices.EqualFunc(a, b, func(x, y float64) bool { return math.Float64bits(x) == math.Float64bits(y) })
}

// TestSlideUnknownSeries: a ref that does not exist (or was collected)
// returns false and empties the windows.
func TestSlideUnknownSeries(t *testing.T) {
	db := newDB(anyTime(Options{}), nil)
	a := db.Appender()
	ref, err := a.Append(0, labels.FromStrings("__name__", "m"), 1000, 1)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Commit(); err != nil {
		t.Fatal(err)
	}
	ws := make([]Window, 1)
	rs := []Range{{0, 2000}}
	if _, ok := db.Slide(ref, rs, ws, nil, nil, nil); !ok {
		t.Fatal("known series: not found")
	}
	if ts, _ := ws[0].Samples(); len(ts) != 1 {
		t.Fatalf("window holds %v, want one sample", ts)
	}
	if _, ok := db.Slide(ref+100, rs, ws, nil, nil, nil); ok {
		t.Fatal("unknown series found")
	}
	if ts, _ := ws[0].Samples(); len(ts) != 0 {
		t.Fatalf("window of an unknown series holds %v", ts)
	}
}

// TestTallySize: a Tally fills whole cache lines, so that the slide cache's
// tallies (an array) each start on one.
func TestTallySize(t *testing.T) {
	if sz := unsafe.Sizeof(Tally{}); sz%64 != 0 {
		t.Fatalf("Tally is %d bytes, not a multiple of 64", sz)
	}
}

// TestTallyTooManySamples: a range holding more samples than a Tally
// counts is reported not Exact (the evaluator then reads the samples), and
// a later, smaller range is summarised again.
func TestTallyTooManySamples(t *testing.T) {
	db := newDB(anyTime(Options{}), nil)
	a := db.Appender()
	lset := labels.FromStrings("__name__", "m")
	var ref uint64
	const n = maxTally + 10
	for i := range int64(n) {
		var err error
		if ref, err = a.Append(ref, lset, i, float64(i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := a.Commit(); err != nil {
		t.Fatal(err)
	}
	tl := make([]Tally, 1)
	if _, ok := db.Slide(ref, nil, nil, []Range{{0, n}}, tl, nil); !ok || tl[0].Exact() {
		t.Fatalf("%d samples: found %v, Exact %v", n, ok, tl[0].Exact())
	}
	if _, ok := db.Slide(ref, nil, nil, []Range{{n - 100, n}}, tl, nil); !ok || !tl[0].Exact() || tl[0].Len() != 100 {
		t.Fatalf("100 samples: found %v, Exact %v, Len %d", ok, tl[0].Exact(), tl[0].Len())
	}
}
