package evaluator

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/value"
	"github.com/prometheus/prometheus/promql"

	"github.com/watchdog-sre/watchdog/tsdb"
)

// This file is the differential property test: every window function,
// natively and as the equivalent PromQL through the real engine, over the
// same randomized store.

const (
	diffStart    = int64(1_700_000_000_000)
	diffSpan     = 75 * time.Minute
	diffSeries   = 48
	diffInterval = int64(15_000)
)

// buildDiffDB fills a store with counters (with resets), gauges (with rare
// real NaNs), gaps, stale markers, jittered timestamps and series that end
// early.
func buildDiffDB(t testing.TB, seed uint64) *tsdb.DB {
	t.Helper()
	db, err := tsdb.Open(tsdb.Options{Retention: 4 * time.Hour, Now: fixedNow(diffStart + diffSpan.Milliseconds())})
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(seed, 1))
	app := db.Appender()
	for i := range diffSeries {
		kind := []string{"counter", "gauge", "resetty"}[i%3]
		ls := labels.FromStrings("__name__", "m", "grp", []string{"a", "b", "c", "d"}[rng.IntN(4)], "id", fmt.Sprint(i), "kind", kind)
		end := diffStart + diffSpan.Milliseconds()
		if rng.IntN(4) == 0 {
			end -= rng.Int64N(20 * 60_000)
		}
		v := rng.Float64() * 100
		rate := rng.ExpFloat64() * 3
		for ts := diffStart + rng.Int64N(diffInterval); ts < end; ts += diffInterval + rng.Int64N(6001) - 3000 {
			r := rng.Float64()
			switch {
			case r < 0.03: // gap
				ts += diffInterval * rng.Int64N(12)
				continue
			case r < 0.05:
				mustAppend(t, app, ls, ts, math.Float64frombits(value.StaleNaN))
				continue
			}
			switch kind {
			case "gauge":
				v = rng.NormFloat64()*10 + 20
				if rng.IntN(200) == 0 {
					v = math.NaN()
				}
				if rng.IntN(5) == 0 { // repeat for changes()
					v = 7
				}
			default:
				if rng.IntN(4) != 0 {
					v += rng.ExpFloat64() * rate
				}
				if kind == "resetty" && rng.IntN(15) == 0 || rng.IntN(150) == 0 {
					v = rng.Float64() * 5
				}
			}
			mustAppend(t, app, ls, ts, v)
		}
	}
	if err := app.Commit(); err != nil {
		t.Fatal(err)
	}
	return db
}

func mustAppend(t testing.TB, app *tsdb.Appender, ls labels.Labels, ts int64, v float64) {
	t.Helper()
	if _, err := app.Append(0, ls, ts, v); err != nil {
		t.Fatal(err)
	}
}

func newTestEngine() *promql.Engine {
	return promql.NewEngine(promql.EngineOpts{MaxSamples: 50_000_000, Timeout: time.Minute, LookbackDelta: 5 * time.Minute})
}

// query runs q at ts and returns the samples by their id label.
func query(t testing.TB, eng *promql.Engine, db *tsdb.DB, q string, ts int64, key string) map[string]float64 {
	t.Helper()
	out := map[string]float64{}
	for _, s := range promQLVector(t, eng, db, q, ts) {
		out[s.Metric.Get(key)] = s.F
	}
	return out
}

// sameFloat is equality within relative error tol, NaN equal to NaN.
func sameFloat(a, b, tol float64) bool {
	if math.IsNaN(a) || math.IsNaN(b) {
		return math.IsNaN(a) && math.IsNaN(b)
	}
	if a == b {
		return true
	}
	return math.Abs(a-b) <= tol*math.Max(math.Abs(a), math.Abs(b))
}

// diffCase is one randomized function call, native and PromQL.
type diffCase struct {
	native, promql string
	ts             int64
}

var diffRangeFuncs = []string{
	"rate", "irate", "increase", "delta", "deriv", "avg_over_time", "min_over_time", "max_over_time",
	"sum_over_time", "count_over_time", "stddev_over_time", "stdvar_over_time", "last_over_time",
	"changes", "resets", "quantile_over_time", "value", "absent",
}

func randomCase(rng *rand.Rand, fn string) diffCase {
	ranges := []string{"15s", "30s", "1m", "2m", "5m", "7m30s", "10m", "1h"}
	offsets := []string{"", "", "", "1m", "5m", "17s", "1h"}
	rg, off := ranges[rng.IntN(len(ranges))], offsets[rng.IntN(len(offsets))]
	ts := diffStart + 5*60_000 + rng.Int64N(diffSpan.Milliseconds())
	if rng.IntN(3) == 0 { // land exactly on a scrape-ish boundary
		ts -= ts % 1000
	}
	nArgs, pOff := fmt.Sprintf("%q", rg), ""
	if off != "" {
		nArgs += fmt.Sprintf(", %q", off)
		pOff = " offset " + off
	}
	switch fn {
	case "value":
		if off == "" {
			return diffCase{"value()", "m", ts}
		}
		return diffCase{fmt.Sprintf("value(%q)", off), "m" + pOff, ts}
	case "absent":
		if rng.IntN(2) == 0 {
			return diffCase{"absent()", "m", ts}
		}
		return diffCase{fmt.Sprintf("absent(%s)", nArgs), fmt.Sprintf("count_over_time(m[%s]%s)", rg, pOff), ts}
	case "quantile_over_time":
		q := []float64{-0.5, 0, 0.25, 0.5, 0.9, 1, 1.5}[rng.IntN(7)]
		return diffCase{fmt.Sprintf("quantile_over_time(%v, %s)", q, nArgs), fmt.Sprintf("quantile_over_time(%v, m[%s]%s)", q, rg, pOff), ts}
	}
	return diffCase{fmt.Sprintf("%s(%s)", fn, nArgs), fmt.Sprintf("%s(m[%s]%s)", fn, rg, pOff), ts}
}

// TestDifferentialFunctions compares every function per series: value and
// presence (PromQL returning no sample ⇔ native NaN/absent).
func TestDifferentialFunctions(t *testing.T) {
	db := buildDiffDB(t, 1)
	eng := newTestEngine()
	rng := rand.New(rand.NewPCG(2, 2))
	perFn := 120
	if testing.Short() {
		perFn = 30
	}
	compared := 0
	for _, fn := range diffRangeFuncs {
		t.Run(fn, func(t *testing.T) {
			for range perFn {
				dc := randomCase(rng, fn)
				when := dc.native + " > -1e300"
				if fn == "absent" {
					when = dc.native
				}
				c, err := Compile(Spec{Series: "m", When: when}, Options{Workers: 1})
				if err != nil {
					t.Fatalf("%s: %v", dc.native, err)
				}
				want := query(t, eng, db, dc.promql, dc.ts, "id")
				got := nativeValues(t, c, db, dc.ts)
				for id, g := range got {
					w, ok := want[id]
					if fn == "absent" {
						if (g == 1) == ok {
							t.Fatalf("%s at %d id=%s: native absent=%v, PromQL %s present=%v", dc.native, dc.ts, id, g, dc.promql, ok)
						}
						continue
					}
					if math.IsNaN(g) && !ok {
						continue
					}
					if !ok || !sameFloat(g, w, 1e-9) {
						t.Fatalf("%s at %d id=%s: native %v, PromQL %s = %v (present %v)", dc.native, dc.ts, id, g, dc.promql, w, ok)
					}
					compared++
				}
				for id := range want {
					if _, ok := got[id]; !ok && fn != "absent" {
						t.Fatalf("%s at %d: PromQL has id=%s, native has no series", dc.native, dc.ts, id)
					}
				}
			}
		})
	}
	t.Logf("compared %d present values", compared)
}

// nativeValues evaluates slot 0 of c on every matched series, NaN for no
// result (absent reads 1/0), keyed by id.
func nativeValues(t testing.TB, c *Condition, db *tsdb.DB, ts int64) map[string]float64 {
	t.Helper()
	w := newWorker(c).(*worker)
	w.setTime(ts)
	out := map[string]float64{}
	for _, ref := range db.Postings(nil, c.matchers...) {
		lset, ok := w.read(reader{r: db}, ref, 0)
		if !ok {
			continue
		}
		w.loadSlots(ts)
		v := w.env.vals[0]
		if !w.has[0] && !math.IsNaN(v) {
			t.Fatalf("slot without result is %v, want NaN", v)
		}
		out[strings.Clone(lset.Get("id"))] = v // lset aliases the worker's read buffers
	}
	return out
}

// TestDifferentialFiring compares firing sets and $value for thresholds,
// per series and with by (sum by), through Eval with several workers.
func TestDifferentialFiring(t *testing.T) {
	db := buildDiffDB(t, 3)
	eng := newTestEngine()
	rng := rand.New(rand.NewPCG(4, 4))
	n := 600
	if testing.Short() {
		n = 150
	}
	for i := range n {
		fn := diffRangeFuncs[rng.IntN(len(diffRangeFuncs)-2)] // not value/absent: sums of those differ
		dc := randomCase(rng, fn)
		thr := []float64{0, 0.1, 1, 5, 20, 100}[rng.IntN(6)]
		by := i%2 == 1
		spec := Spec{Series: `m{kind=~"counter|gauge|resetty"}`, When: fmt.Sprintf("%s > %v", dc.native, thr)}
		pq := fmt.Sprintf("%s > %v", dc.promql, thr)
		key := "id"
		if by {
			spec.By = []string{"grp"}
			pq = fmt.Sprintf("sum by (grp) (%s) > %v", dc.promql, thr)
			key = "grp"
		}
		c, err := Compile(spec, Options{Workers: 1 + i%3, NoFastPath: i%4 == 0})
		if err != nil {
			t.Fatal(err)
		}
		want := query(t, eng, db, pq, dc.ts, key)
		vec, err := c.Eval(context.Background(), db, time.UnixMilli(dc.ts))
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]float64{}
		for _, s := range vec {
			if s.Metric.Has("__name__") {
				t.Fatalf("%v: result keeps __name__", s.Metric)
			}
			got[s.Metric.Get(key)] = s.F
		}
		var scale map[string]float64
		if by {
			scale = absSums(query(t, eng, db, dc.promql, dc.ts, "id"), db)
		}
		for k, w := range want {
			g, ok := got[k]
			tol := 1e-9
			if by && scale[k] > 0 && !math.IsInf(scale[k], 0) {
				// Sums in a different order: relative to the sum of magnitudes.
				tol = 1e-9 * math.Max(1, scale[k]/math.Max(math.Abs(w), 1e-300))
			}
			if !ok || !sameFloat(g, w, tol) {
				t.Fatalf("case %d %s (by=%v) at %d: %s=%s: native %v (firing %v), PromQL %s = %v", i, spec.When, by, dc.ts, key, k, g, ok, pq, w)
			}
		}
		if len(got) != len(want) {
			t.Fatalf("case %d %s (by=%v) at %d: native fires %d, PromQL %s fires %d: %v vs %v", i, spec.When, by, dc.ts, len(got), pq, len(want), got, want)
		}
	}
}

// absSums returns per grp the sum of |v| of per-series values (by id).
func absSums(perID map[string]float64, db *tsdb.DB) map[string]float64 {
	grp := map[string]string{}
	var it tsdb.SampleIterator
	for _, ref := range db.Postings(nil) {
		ls, _ := db.SeriesIterator(ref, 0, 0, &it)
		grp[ls.Get("id")] = ls.Get("grp")
	}
	out := map[string]float64{}
	for id, v := range perID {
		out[grp[id]] += math.Abs(v)
	}
	return out
}
