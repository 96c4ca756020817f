package bench

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql"

	"github.com/watchdog-sre/watchdog/evaluator"
	"github.com/watchdog-sre/watchdog/tsdb"
)

// The native-condition scenario: nativeSeries counters
// http_requests_total{handler="/login", code=5xx, instance} scraped every
// 15 s for nativeRetention, evaluated with the login rule natively
// (package evaluator) and as the equivalent PromQL through the engine, over
// the same store in the same run. See NATIVE.md.

const (
	nativeStep      = int64(15_000)
	nativeRetention = 2 * time.Hour
	nativeStart     = int64(1_700_000_000_000)
	nativeSelector  = `http_requests_total{handler="/login", code=~"5.."}`
	nativeWhen      = `rate("5m") > 0.5 && pct_change(rate("5m"), rate("5m", "1h")) > 500`
	nativeSel       = `http_requests_total{handler="/login", code=~"5.."}`
)

// The PromQL equivalents. `and` keeps the left side, which is also the
// native $value (the left operand of the first comparison).
var nativePromQL = map[string]string{
	"per-series": `rate(X[5m]) > 0.5 and (rate(X[5m]) - rate(X[5m] offset 1h)) / rate(X[5m] offset 1h) * 100 > 500`,
	"by-handler": `sum by (handler) (rate(X[5m])) > 0.5 and (sum by (handler) (rate(X[5m])) - sum by (handler) (rate(X[5m] offset 1h))) / sum by (handler) (rate(X[5m] offset 1h)) * 100 > 500`,
}

type nativeFixture struct {
	db     *tsdb.DB
	ts     time.Time // the first evaluation time; data continues nativeEvals steps past it
	series int
}

// nativeEvals is how many 15 s evaluation steps the data extends past the
// fixture's first evaluation time, plus one: the benchmark evaluates at ts,
// ts+15s, ... as a rule group does, so the slide cache (evaluator/slide.go)
// sees what it sees in production, one new sample per window per
// evaluation. 120 steps are 30 minutes, one chunk of samples: every phase
// of a window against the chunk boundaries (a window straddles two chunks
// in 19 steps out of 120) is measured once.
const nativeEvals = 121

// nativeCompareEvery is how often (in steps) the benchmark also runs the
// PromQL query and the fresh native path, which are 5–70 times slower and
// whose cost does not depend on the phase: at -benchtime=120x, at 10 phases
// spread over the chunk.
const nativeCompareEvery = 12

// nativeAt returns the evaluation time of iteration i (0 is the warm-up).
func (f *nativeFixture) nativeAt(i int) time.Time {
	return f.ts.Add(time.Duration(i%nativeEvals) * time.Duration(nativeStep) * time.Millisecond)
}

var (
	nativeMu       sync.Mutex
	nativeFixtures = map[int]*nativeFixture{}
)

// nativeSetup builds (once per size) the store: 2 h of samples up to the
// first evaluation time plus nativeEvals steps; every 20th series jumps
// from ~0.1/s to ~1.5/s 10 minutes before the first evaluation time and
// stays there, so both forms fire at every evaluation.
func nativeSetup(tb testing.TB, n int) *nativeFixture {
	nativeMu.Lock()
	defer nativeMu.Unlock()
	if f := nativeFixtures[n]; f != nil {
		return f
	}
	first := int(nativeRetention.Milliseconds() / nativeStep) // step of the first evaluation
	steps := first + 1 + nativeEvals
	// The store's clock is the time of the step being appended, then
	// stays at the last one.
	var now atomic.Int64
	db, err := tsdb.Open(tsdb.Options{Retention: nativeRetention, Now: func() time.Time { return time.UnixMilli(now.Load()) }})
	if err != nil {
		tb.Fatal(err)
	}
	refs := make([]uint64, n)
	vals := make([]float64, n)
	lsets := make([]labels.Labels, n)
	for i := range n {
		lsets[i] = labels.FromStrings("__name__", "http_requests_total", "code", fmt.Sprint(500+i%4), "handler", "/login", "instance", fmt.Sprintf("i-%07d", i))
		vals[i] = float64(i % 1000)
	}
	// Append in parallel over disjoint series ranges, one timestamp at a time.
	workers := runtime.GOMAXPROCS(0)
	for s := range steps {
		t := nativeStart + int64(s)*nativeStep
		now.Store(t)
		var wg sync.WaitGroup
		for w := range workers {
			wg.Go(func() {
				app := db.Appender()
				for i := w; i < n; i += workers {
					inc := 1.5 + float64(i%7)*0.1 // ~0.1/s
					if i%20 == 0 && s >= first-40 {
						inc = 22.5 // 1.5/s
					}
					vals[i] += inc
					ref, err := app.Append(refs[i], lsets[i], t, vals[i])
					if err != nil {
						panic(err)
					}
					refs[i] = ref
				}
				if err := app.Commit(); err != nil {
					panic(err)
				}
			})
		}
		wg.Wait()
	}
	f := &nativeFixture{db: db, ts: time.UnixMilli(nativeStart + int64(first)*nativeStep), series: n}
	nativeFixtures[n] = f
	return f
}

func nativeEngine() *promql.Engine {
	return promql.NewEngine(promql.EngineOpts{MaxSamples: 1 << 40, Timeout: time.Hour, LookbackDelta: 5 * time.Minute})
}

func nativeQuery(tb testing.TB, eng *promql.Engine, db *tsdb.DB, q string, ts time.Time) promql.Vector {
	qry, err := eng.NewInstantQuery(context.Background(), db, nil, q, ts)
	if err != nil {
		tb.Fatal(err)
	}
	defer qry.Close()
	res := qry.Exec(context.Background())
	if res.Err != nil {
		tb.Fatal(res.Err)
	}
	v, err := res.Vector()
	if err != nil {
		tb.Fatal(err)
	}
	return v
}

func nativeCondition(tb testing.TB, form string, workers int, noSlide bool) *evaluator.Condition {
	spec := evaluator.Spec{Series: nativeSelector, When: nativeWhen}
	if form == "by-handler" {
		spec.By = []string{"handler"}
	}
	c, err := evaluator.Compile(spec, evaluator.Options{Workers: workers, NoSlide: noSlide})
	if err != nil {
		tb.Fatal(err)
	}
	if !c.FastPath() {
		tb.Fatal("login rule is not on the fast path")
	}
	return c
}

func promQLFor(form string) string {
	q := nativePromQL[form]
	out := ""
	for i := 0; i < len(q); i++ {
		if q[i] == 'X' {
			out += nativeSel
			continue
		}
		out += string(q[i])
	}
	return out
}

// TestNativeMatchesPromQL checks, on the benchmark data, that both forms
// fire on the same series with the same $value as their PromQL equivalent,
// at successive evaluation times as the benchmark runs them (the windows
// kept decoded between evaluations) and read afresh.
//
// Under -short it runs the same forms and steps on 1,000 series (50 of them
// firing) instead of 10,000.
func TestNativeMatchesPromQL(t *testing.T) {
	n, steps := 10_000, 12
	switch {
	case testing.Short():
		n = 1_000
	case raceBuild:
		steps = 3 // still slides twice; 12 take two minutes under the race detector
	}
	f := nativeSetup(t, n)
	eng := nativeEngine()
	for form := range nativePromQL {
		for _, noSlide := range []bool{false, true} {
			c := nativeCondition(t, form, 0, noSlide)
			for i := range steps {
				nativeCompare(t, c, eng, f, form, f.nativeAt(i))
			}
		}
	}
}

func nativeCompare(t *testing.T, c *evaluator.Condition, eng *promql.Engine, f *nativeFixture, form string, ts time.Time) {
	t.Helper()
	got, err := c.Eval(context.Background(), f.db, ts)
	if err != nil {
		t.Fatal(err)
	}
	want := nativeQuery(t, eng, f.db, promQLFor(form), ts)
	if len(got) != len(want) || form == "per-series" && len(got) == 0 {
		t.Fatalf("%s at %v: native fires %d, PromQL %d", form, ts, len(got), len(want))
	}
	idx := map[string]float64{}
	for _, s := range want {
		idx[s.Metric.DropMetricName().String()] = s.F
	}
	for _, s := range got {
		w, ok := idx[s.Metric.String()]
		if d := s.F - w; !ok || d > 1e-9*w || d < -1e-9*w {
			t.Fatalf("%s: %v native %v, PromQL %v (present %v)", form, s.Metric, s.F, w, ok)
		}
	}
}

// BenchmarkNativeLoginRule times the login rule natively (one worker and
// all cores) and through the PromQL engine, alternating in each iteration.
// 1,000,000 series only with WATCHDOG_BENCH_1M=1 (≈2.5 GB, slow to build).
func BenchmarkNativeLoginRule(b *testing.B) {
	sizes := []int{100_000}
	if os.Getenv("WATCHDOG_BENCH_1M") != "" {
		sizes = append(sizes, 1_000_000)
	}
	for _, n := range sizes {
		for _, form := range []string{"per-series", "by-handler"} {
			for _, workers := range []int{1, runtime.GOMAXPROCS(0)} {
				b.Run(fmt.Sprintf("series=%d/%s/workers=%d", n, form, workers), func(b *testing.B) {
					f := nativeSetup(b, n)
					eng := nativeEngine()
					c := nativeCondition(b, form, workers, false)
					fresh := nativeCondition(b, form, workers, true)
					q := promQLFor(form)
					ctx := context.Background()
					// Warm-up: the first evaluation of a rule fills the
					// slide cache, as after a start or reload.
					if _, err := c.Eval(ctx, f.db, f.nativeAt(0)); err != nil {
						b.Fatal(err)
					}
					var nativeD, freshD, promD time.Duration
					var ms0, ms1 runtime.MemStats
					var mallocs uint64
					compared := 0
					runtime.GC()
					b.ResetTimer()
					for i := 1; b.Loop(); i++ {
						ts := f.nativeAt(i) // 15 s after the previous iteration's
						runtime.ReadMemStats(&ms0)
						t0 := time.Now()
						if _, err := c.Eval(ctx, f.db, ts); err != nil {
							b.Fatal(err)
						}
						nativeD += time.Since(t0)
						runtime.ReadMemStats(&ms1)
						mallocs += ms1.Mallocs - ms0.Mallocs
						if i%nativeCompareEvery != 0 {
							continue
						}
						// Each timed section starts on a collected heap, so
						// that it pays for its own garbage only (PromQL
						// leaves ~1 GB per query that the GC would
						// otherwise mark during the next native Eval).
						compared++
						runtime.GC()
						t0 = time.Now()
						if _, err := fresh.Eval(ctx, f.db, ts); err != nil {
							b.Fatal(err)
						}
						freshD += time.Since(t0)
						runtime.GC()
						t0 = time.Now()
						nativeQuery(b, eng, f.db, q, ts)
						promD += time.Since(t0)
						runtime.GC()
					}
					if compared == 0 {
						b.Fatalf("%d iterations: run at least %d (-benchtime=%dx)", b.N, nativeCompareEvery, nativeEvals-1)
					}
					iters := float64(b.N)
					nNs := float64(nativeD.Nanoseconds()) / iters
					fNs := float64(freshD.Nanoseconds()) / float64(compared)
					pNs := float64(promD.Nanoseconds()) / float64(compared)
					b.ReportMetric(nNs, "native-ns/eval")
					b.ReportMetric(fNs, "fresh-ns/eval")
					b.ReportMetric(pNs, "promql-ns/eval")
					b.ReportMetric(pNs/nNs, "speedup")
					b.ReportMetric(pNs/fNs, "speedup-fresh")
					b.ReportMetric(float64(n)/(nNs/1e9), "native-series/s")
					b.ReportMetric(float64(n)/(nNs/1e9)/float64(workers), "native-series/s/worker")
					b.ReportMetric(float64(n)/(pNs/1e9), "promql-series/s")
					b.ReportMetric(float64(mallocs)/iters/float64(n), "native-allocs/series")
				})
			}
		}
	}
}
