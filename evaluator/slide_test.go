package evaluator

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/value"
	"github.com/prometheus/prometheus/promql"

	"github.com/watchdog-sre/watchdog/tsdb"
)

// TestSlideMatchesFreshReads evaluates conditions again and again at
// moving times (mostly 15 s apart, sometimes the same time, backwards or a
// long jump) while samples keep arriving (some of them inside windows
// already read, as a scrape committed during an evaluation), series appear
// and go stale, and checks that the conditions keeping their windows
// decoded between evaluations return exactly what the same conditions
// reading everything afresh return, and, at some times, what the PromQL
// engine returns.
func TestSlideMatchesFreshReads(t *testing.T) {
	specs := []Spec{
		{Series: "m", When: `rate("5m") > 0.5 && pct_change(rate("5m"), rate("5m", "1h")) > 50`},
		{Series: "m", When: `rate("5m") > 0.1`, By: []string{"grp"}},
		{Series: "m", When: `value() > -1e300 && count_over_time("2m") >= 0 && changes("3m", "1m") >= 0`},
		{Series: "m", When: `absent("1m")`},
		{Series: "m", When: `irate("1m") + increase("3m") + delta("4m", "30s") + deriv("5m") > -1e300`},
		{Series: "m", When: `avg_over_time("5m") + min_over_time("2m") + max_over_time("2m") + sum_over_time("90s") > -1e300`},
		{Series: "m", When: `stddev_over_time("5m") + stdvar_over_time("5m") + last_over_time("1m") + quantile_over_time(0.9, "5m") + resets("10m") > -1e300`},
		{Series: "m", When: `rate("30m") > 0`},                         // longer than MaxSlideSpan: read afresh, mixed with nothing
		{Series: "m", When: `rate("30m") > 0 && rate("1m", "1h") > 0`}, // one cluster slides, one not
	}
	// The PromQL form of specs[0], checked at some evaluation times.
	const promQL = `rate(m[5m]) > 0.5 and (rate(m[5m]) - rate(m[5m] offset 1h)) / rate(m[5m] offset 1h) * 100 > 50`

	for seed := range uint64(3) {
		t.Run(fmt.Sprint("seed=", seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 7))
			feed := newSlideFeed(rng, 40)
			db, err := tsdb.Open(tsdb.Options{Retention: 3 * time.Hour, Now: feed.now})
			if err != nil {
				t.Fatal(err)
			}
			slid := make([]*Condition, len(specs))
			fresh := make([]*Condition, len(specs))
			for i, sp := range specs {
				if slid[i], err = Compile(sp, Options{Workers: 1 + i%3}); err != nil {
					t.Fatal(err)
				}
				if fresh[i], err = Compile(sp, Options{Workers: 1, NoSlide: true}); err != nil {
					t.Fatal(err)
				}
			}
			// How the clusters are kept: specs[0]'s two rates by tallies;
			// specs[5]'s windows decoded; specs[7]'s read afresh; specs[8]
			// one of each; specs[2] and [3] tallies only.
			for _, want := range []struct{ spec, slid, tallied, unslid int }{
				{0, 0, 2, 0}, {2, 0, 3, 0}, {3, 0, 1, 0}, {5, 1, 0, 0}, {7, 0, 0, 1}, {8, 0, 1, 1},
			} {
				c := slid[want.spec]
				if len(c.slid) != want.slid || len(c.tallied) != want.tallied || len(c.unslid) != want.unslid {
					t.Fatalf("spec %d: slid %v tallied %v unslid %v", want.spec, c.slid, c.tallied, c.unslid)
				}
			}
			eng := newTestEngine()
			evalT := diffStart + 70*60_000 // an hour of history first
			feed.appendUntil(t, db, evalT)
			compared := 0
			for round := range 400 {
				switch r := rng.IntN(40); {
				case r == 0:
					evalT -= rng.Int64N(10 * 60_000)
				case r == 1:
					evalT += 20 * 60_000
				case r < 4:
				default:
					evalT += 15_000 + rng.Int64N(200) - 100
				}
				feed.appendUntil(t, db, evalT+rng.Int64N(20_000)-5_000)
				ts := time.UnixMilli(evalT)
				for i := range specs {
					got, err := slid[i].Eval(context.Background(), db, ts)
					if err != nil {
						t.Fatal(err)
					}
					want, err := fresh[i].Eval(context.Background(), db, ts)
					if err != nil {
						t.Fatal(err)
					}
					if d := vectorDiff(got, want); d != "" {
						t.Fatalf("round %d at %d, %s: slid and fresh differ: %s", round, evalT, specs[i].When, d)
					}
					compared += len(got)
				}
				if round%10 == 0 {
					want := query(t, eng, db, promQL, evalT, "id")
					got, _ := slid[0].Eval(context.Background(), db, ts)
					if len(got) != len(want) {
						t.Fatalf("round %d: native fires %d, PromQL %d", round, len(got), len(want))
					}
					for _, s := range got {
						if w, ok := want[s.Metric.Get("id")]; !ok || !sameFloat(s.F, w, 1e-9) {
							t.Fatalf("round %d %v: native %v, PromQL %v (present %v)", round, s.Metric, s.F, w, ok)
						}
					}
				}
			}
			if compared < 1000 {
				t.Fatalf("only %d samples compared: the data fires too little", compared)
			}
		})
	}
}

// vectorDiff describes the first difference between a and b (same labels
// in the same order and bit-identical values), or returns "".
func vectorDiff(a, b promql.Vector) string {
	if len(a) != len(b) {
		return fmt.Sprintf("%d samples vs %d", len(a), len(b))
	}
	for i := range a {
		if !labels.Equal(a[i].Metric, b[i].Metric) || a[i].T != b[i].T ||
			math.Float64bits(a[i].F) != math.Float64bits(b[i].F) {
			return fmt.Sprintf("sample %d: %v %v@%d vs %v %v@%d", i, a[i].Metric, a[i].F, a[i].T, b[i].Metric, b[i].F, b[i].T)
		}
	}
	return ""
}

// slideFeed produces samples for series that start at different times, some
// stopping (with a stale marker) for a while: counters with resets that
// sometimes jump sixfold, and gauges.
type slideFeed struct {
	rng  *rand.Rand
	ls   []labels.Labels
	next []int64
	v    []float64
	rate []float64
	refs []uint64
	// until is the newest time appended up to: the store's clock (now).
	until atomic.Int64
}

// now is the clock of the store the feed appends to.
func (f *slideFeed) now() time.Time { return time.UnixMilli(f.until.Load()) }

func newSlideFeed(rng *rand.Rand, n int) *slideFeed {
	f := &slideFeed{rng: rng}
	for i := range n {
		f.ls = append(f.ls, labels.FromStrings("__name__", "m", "grp", fmt.Sprint("g", i%3), "id", fmt.Sprint(i)))
		start := diffStart + rng.Int64N(90*60_000) // some appear only later
		f.next = append(f.next, start)
		f.v = append(f.v, rng.Float64()*100)
		f.rate = append(f.rate, rng.ExpFloat64())
		f.refs = append(f.refs, 0)
	}
	return f
}

// appendUntil appends every series' samples up to until and commits.
func (f *slideFeed) appendUntil(t *testing.T, db *tsdb.DB, until int64) {
	t.Helper()
	if until > f.until.Load() {
		f.until.Store(until)
	}
	app := db.Appender()
	for i := range f.ls {
		for f.next[i] <= until {
			ts := f.next[i]
			f.next[i] += 15_000 + f.rng.Int64N(3000) - 1500
			v := f.v[i]
			switch r := f.rng.IntN(200); {
			case r == 0: // stop for a while
				v = math.Float64frombits(value.StaleNaN)
				f.next[i] += f.rng.Int64N(15 * 60_000)
			case r < 4:
				f.v[i] = f.rng.Float64() // counter reset
				v = f.v[i]
			case i%4 == 3: // gauge
				v = f.rng.NormFloat64() * 10
			default:
				if f.rng.IntN(100) == 0 {
					f.rate[i] *= 6
				}
				f.v[i] += f.rate[i] * 15
				v = f.v[i]
			}
			ref, err := app.Append(f.refs[i], f.ls[i], ts, v)
			if err != nil {
				t.Fatal(err)
			}
			f.refs[i] = ref
		}
	}
	if err := app.Commit(); err != nil {
		t.Fatal(err)
	}
}
