package evaluator

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"

	"github.com/watchdog-sre/watchdog/tsdb"
)

func TestCompileErrors(t *testing.T) {
	tests := []struct {
		name       string
		spec       Spec
		field      string
		line, col  int
		msgContain string
	}{
		{"syntax", Spec{Series: "m", When: `rate("5m") >`}, "when", 1, 12, "unexpected"},
		{"unknown function", Spec{Series: "m", When: "rate(\"5m\") > 1 &&\n  frobnicate(1)"}, "when", 2, 3, "frobnicate"},
		{"wrong argument type", Spec{Series: "m", When: `rate(5) > 1`}, "when", 1, 6, "string"},
		{"non-boolean", Spec{Series: "m", When: `rate("5m") * 2`}, "when", 1, 1, "boolean"},
		{"bad duration", Spec{Series: "m", When: `rate("5x") > 1`}, "when", 1, 6, "bad range"},
		{"zero range", Spec{Series: "m", When: `rate("0s") > 1`}, "when", 1, 6, "positive"},
		{"bad offset", Spec{Series: "m", When: `value("soon") > 1`}, "when", 1, 7, "bad offset"},
		{"non-literal duration", Spec{Series: "m", When: `rate("5" + "m") > 1`}, "when", 1, 10, "literal"},
		{"too many args", Spec{Series: "m", When: `rate("5m", "1m", "1m") > 1`}, "when", 1, 1, "arguments"},
		{"quantile not literal", Spec{Series: "m", When: `quantile_over_time(value(), "5m") > 1`}, "when", 1, 20, "number literal"},
		{"dynamic label", Spec{Series: "m", When: `labels[labels.x] == "a"`}, "when", 1, 15, "constant"},
		{"bare labels", Spec{Series: "m", When: `len(labels) > 1`}, "when", 1, 5, "labels"},
		{"label not in by", Spec{Series: "m", By: []string{"job"}, When: `labels.code == "a"`}, "when", 1, 8, "not in by"},
		{"uncalled function", Spec{Series: "m", When: `rate == nil`}, "when", 1, 1, ""},
		{"unknown variable", Spec{Series: "m", When: `foo > 1`}, "when", 1, 1, "foo"},
		{"empty when", Spec{Series: "m", When: " "}, "when", 0, 0, "empty"},
		{"bad selector", Spec{Series: `m{code=~"5.."`, When: `value() > 1`}, "series", 1, 0, ""},
		{"empty selector", Spec{Series: "", When: `value() > 1`}, "series", 0, 0, "empty"},
		{"bad by", Spec{Series: "m", By: []string{"a-b"}, When: `value() > 1`}, "by", 0, 0, "invalid"},
		{"duplicate by", Spec{Series: "m", By: []string{"a", "a"}, When: `value() > 1`}, "by", 0, 0, "duplicate"},
		{"non-numeric value", Spec{Series: "m", When: `value() > 1`, Value: `"x"`}, "value", 1, 1, "number"},
		{"value syntax", Spec{Series: "m", When: `value() > 1`, Value: `rate(`}, "value", 1, 5, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Compile(tt.spec, Options{})
			var ce *CompileError
			if !errors.As(err, &ce) || !errors.Is(err, ErrInvalid) {
				t.Fatalf("err = %v, want *CompileError wrapping ErrInvalid", err)
			}
			if ce.Field != tt.field || ce.Line != tt.line || (tt.col != 0 && ce.Column != tt.col) {
				t.Fatalf("err = %v (field %s line %d col %d), want field %s line %d col %d", err, ce.Field, ce.Line, ce.Column, tt.field, tt.line, tt.col)
			}
			if tt.msgContain != "" && !contains(ce.Msg, tt.msgContain) {
				t.Fatalf("msg %q does not mention %q", ce.Msg, tt.msgContain)
			}
		})
	}
}

func contains(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return true
		}
	}
	return false
}

// fixedNow returns a store clock stopped at ms milliseconds since the
// epoch, for stores filled with samples at synthetic times.
func fixedNow(ms int64) func() time.Time {
	return func() time.Time { return time.UnixMilli(ms) }
}

// testDB has three series of x at 15 s: code 500 growing 1/scrape, 501
// growing 2/scrape, 200 growing 3/scrape, for 2 h.
func testDB(t testing.TB) (*tsdb.DB, time.Time) {
	t.Helper()
	db, err := tsdb.Open(tsdb.Options{Now: fixedNow(480 * 15000)})
	if err != nil {
		t.Fatal(err)
	}
	app := db.Appender()
	for i, code := range []string{"500", "501", "200"} {
		ls := labels.FromStrings("__name__", "x", "code", code, "handler", "/login", "instance", fmt.Sprint(i))
		for j := range int64(481) {
			mustAppend(t, app, ls, j*15000, float64(j*int64(i+1)))
		}
	}
	if err := app.Commit(); err != nil {
		t.Fatal(err)
	}
	return db, time.UnixMilli(480 * 15000)
}

func TestEvalSemantics(t *testing.T) {
	db, ts := testDB(t)
	tests := []struct {
		name string
		spec Spec
		want map[string]float64 // code (or handler with by) -> $value
	}{
		{"rate per series", Spec{Series: `x{code=~"5.."}`, When: `rate("5m") > 0.1`}, map[string]float64{"501": 2.0 / 15}},
		{"labels dot", Spec{Series: `x`, When: `labels.code == "500" && value() >= 0`}, map[string]float64{"500": 480}},
		{"labels index", Spec{Series: `x`, When: `labels["code"] != "500" && value("1h") >= 400`}, map[string]float64{"501": 480, "200": 720}},
		{"explicit value", Spec{Series: `x{code="200"}`, When: `increase("1m") > 0`, Value: `rate("1m") * 60`}, map[string]float64{"200": 12}},
		{"no comparison: value 1", Spec{Series: `x{code="200"}`, When: `!absent("1m")`}, map[string]float64{"200": 1}},
		{"absent far back", Spec{Series: `x{code="200"}`, When: `absent("1m", "3h")`}, map[string]float64{"200": 1}},
		{"by sums", Spec{Series: `x{code=~"5.."}`, By: []string{"handler"}, When: `rate("5m") > 0.19 && labels.handler == "/login"`}, map[string]float64{"/login": 0.2}},
		{"pct_change steady", Spec{Series: `x`, When: `pct_change(rate("5m"), rate("5m", "1h")) == 0`}, map[string]float64{"500": 0, "501": 0, "200": 0}},
		{"pct_change zero old: no alert", Spec{Series: `x`, When: `pct_change(rate("5m"), rate("5m") * 0) > 500`}, map[string]float64{}},
		{"pct_change zero old: rule says so", Spec{Series: `x{code="500"}`, When: `pct_change(value(), value("2h"), 1e9) > 500`}, map[string]float64{"500": 1e9}},
		{"pct_change of absent is NaN", Spec{Series: `x`, When: `pct_change(value(), value("3h"), 1e9) > 500`}, map[string]float64{}},
		{"vm path (modulo)", Spec{Series: `x`, When: `int(value()) % 7 == 4`}, map[string]float64{"500": 4}},
	}
	for _, tt := range tests {
		for _, noFast := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/nofast=%v", tt.name, noFast), func(t *testing.T) {
				c, err := Compile(tt.spec, Options{NoFastPath: noFast, Workers: 2})
				if err != nil {
					t.Fatal(err)
				}
				vec, err := c.Eval(context.Background(), db, ts)
				if err != nil {
					t.Fatal(err)
				}
				got := map[string]float64{}
				for _, s := range vec {
					k := s.Metric.Get("code")
					if len(tt.spec.By) > 0 {
						k = s.Metric.Get("handler")
						if s.Metric.Len() != 1 {
							t.Fatalf("group labels %v, want only by labels", s.Metric)
						}
					}
					got[k] = s.F
				}
				if len(got) != len(tt.want) {
					t.Fatalf("got %v, want %v", got, tt.want)
				}
				for k, w := range tt.want {
					if g, ok := got[k]; !ok || !sameFloat(g, w, 1e-12) {
						t.Fatalf("got %v, want %v", got, tt.want)
					}
				}
			})
		}
	}
}

func TestRuntimeFailureIsCaughtAndCounted(t *testing.T) {
	db, ts := testDB(t)
	// value("2h") is 0 for every series: integer modulo by zero fails on
	// the VM; the label test short-circuits it for code 500.
	c, err := Compile(Spec{Series: "x", When: `labels.code == "500" || 5 % int(value("2h")) == 0`, Value: `value()`}, Options{Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	vec, err := c.Eval(context.Background(), db, ts)
	var re *RuntimeError
	if !errors.As(err, &re) || !errors.Is(err, ErrRuntime) || re.Failures != 2 {
		t.Fatalf("err = %v, want *RuntimeError with 2 failures", err)
	}
	if len(vec) != 1 || vec[0].Metric.Get("code") != "500" {
		t.Fatalf("vec = %v, want the code 500 series", vec)
	}
	if c.Failures() != 2 {
		t.Fatalf("Failures() = %d, want 2", c.Failures())
	}
	// Every matched series counts as evaluated, failed ones included; a
	// cancelled Eval counts nothing.
	if c.Evaluated() != 3 {
		t.Fatalf("Evaluated() = %d, want 3", c.Evaluated())
	}
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := c.Eval(cancelled, db, ts); !errors.Is(err, context.Canceled) || c.Evaluated() != 3 {
		t.Fatalf("cancelled Eval: err %v, Evaluated() = %d, want context.Canceled and 3", err, c.Evaluated())
	}
	// A Go panic inside the evaluation is recovered the same way.
	w := newWorker(c).(*worker)
	w.runBatch(reader{r: panicReader{}}, []uint64{1, 2, 3}, 0, 3, 0)
	if w.failures != 3 {
		t.Fatalf("failures = %d, want 3", w.failures)
	}
}

type panicReader struct{}

func (panicReader) Postings(dst []uint64, _ ...*labels.Matcher) []uint64 { return dst }
func (panicReader) ReadRanges(uint64, []tsdb.Range, *tsdb.Samples) (labels.Labels, bool) {
	panic("boom")
}

func TestEvalCanceled(t *testing.T) {
	db, ts := testDB(t)
	c, err := Compile(Spec{Series: "x", When: `value() > 0`}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := c.Eval(ctx, db, ts); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
}

func TestFastPathChosen(t *testing.T) {
	tests := []struct {
		when string
		fast bool
	}{
		{`rate("5m") > 0.5 && pct_change(rate("5m"), rate("5m", "1h")) > 500`, true},
		{`labels.code == "500" || !absent("5m") && value() / 2 <= -1.5`, true},
		{`int(value()) % 2 == 0`, false},
		{`1 + 2 > value()`, false},
		{`value() in [1, 2]`, false},
	}
	for _, tt := range tests {
		c, err := Compile(Spec{Series: "x", When: tt.when}, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if c.FastPath() != tt.fast {
			t.Errorf("%s: FastPath() = %v, want %v", tt.when, c.FastPath(), tt.fast)
		}
	}
}

// TestFastPathMatchesVM evaluates random fast-path conditions on random
// slot values (including NaN, ±Inf and 0) both ways.
func TestFastPathMatchesVM(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 5))
	for i := range 3000 {
		when := randomBool(rng, 3)
		checkFastVsVM(t, when, rng)
		_ = i
	}
}

func checkFastVsVM(t testing.TB, when string, rng *rand.Rand) {
	c, err := Compile(Spec{Series: "x", When: when}, Options{})
	if err != nil {
		t.Fatalf("%s: %v", when, err)
	}
	if !c.FastPath() {
		return
	}
	w := newWorker(c).(*worker)
	specials := []float64{math.NaN(), math.Inf(1), math.Inf(-1), 0, 1, -1, 0.5, 500}
	for range 20 {
		for k := range w.env.vals {
			if rng.IntN(2) == 0 {
				w.env.vals[k] = specials[rng.IntN(len(specials))]
			} else {
				w.env.vals[k] = rng.NormFloat64() * 100
			}
		}
		w.env.lset = labels.FromStrings("code", []string{"500", "200", ""}[rng.IntN(3)])
		fb, fv := c.when.fastB(&w.env), c.value.fastF(&w.env)
		res, err := w.vm.Run(c.when.prog, &w.env)
		if err != nil {
			t.Fatalf("%s: vm: %v", when, err)
		}
		vv := 1.0
		if c.value.prog != nil {
			r, err := w.vm.Run(c.value.prog, &w.env)
			if err != nil {
				t.Fatalf("%s: vm value: %v", when, err)
			}
			vv = toFloat(r)
		}
		if res.(bool) != fb || math.Float64bits(vv) != math.Float64bits(fv) && !(math.IsNaN(vv) && math.IsNaN(fv)) {
			t.Fatalf("%s with %v: fast %v/%v, vm %v/%v", when, w.env.vals, fb, fv, res, vv)
		}
	}
}

func randomFloat(rng *rand.Rand, depth int) string {
	leaves := []string{`rate("5m")`, `value()`, `delta("1m", "1h")`, `0`, `2.5`, `-3`, `500`}
	if depth == 0 || rng.IntN(3) == 0 {
		return leaves[rng.IntN(len(leaves))]
	}
	switch rng.IntN(3) {
	case 0:
		return fmt.Sprintf("pct_change(%s, %s)", randomFloat(rng, depth-1), randomFloat(rng, depth-1))
	case 1:
		return fmt.Sprintf("-(%s)", randomFloat(rng, depth-1))
	}
	op := []string{"+", "-", "*", "/"}[rng.IntN(4)]
	return fmt.Sprintf("(%s %s %s)", randomFloat(rng, depth-1), op, randomFloat(rng, depth-1))
}

func randomBool(rng *rand.Rand, depth int) string {
	if depth == 0 || rng.IntN(3) == 0 {
		switch rng.IntN(4) {
		case 0:
			return `absent("5m")`
		case 1:
			return fmt.Sprintf(`labels.code %s "500"`, []string{"==", "!="}[rng.IntN(2)])
		}
		op := []string{"<", ">", "<=", ">=", "==", "!="}[rng.IntN(6)]
		return fmt.Sprintf("%s %s %s", randomFloat(rng, 2), op, randomFloat(rng, 2))
	}
	switch rng.IntN(3) {
	case 0:
		return fmt.Sprintf("!(%s)", randomBool(rng, depth-1))
	case 1:
		return fmt.Sprintf("(%s && %s)", randomBool(rng, depth-1), randomBool(rng, depth-1))
	}
	return fmt.Sprintf("(%s || %s)", randomBool(rng, depth-1), randomBool(rng, depth-1))
}

func TestNoAllocsPerSeries(t *testing.T) {
	db, err := tsdb.Open(tsdb.Options{Now: fixedNow(299 * 15000)})
	if err != nil {
		t.Fatal(err)
	}
	app := db.Appender()
	const n = 2000
	for i := range n {
		ls := labels.FromStrings("__name__", "x", "handler", "/login", "code", "500", "instance", fmt.Sprint(i))
		for j := range int64(300) {
			mustAppend(t, app, ls, j*15000, float64(j))
		}
	}
	if err := app.Commit(); err != nil {
		t.Fatal(err)
	}
	if raceEnabled {
		t.Skip("sync.Pool drops workers at random under the race detector")
	}
	for _, by := range [][]string{nil, {"handler"}} {
		c, err := Compile(Spec{Series: `x{handler="/login"}`, By: by, When: `rate("5m") > 100 && pct_change(rate("5m"), rate("5m", "1h")) > 500`}, Options{Workers: 1})
		if err != nil {
			t.Fatal(err)
		}
		// Every run 15 s later, as a rule group evaluates: the slide cache
		// decodes the new samples into the windows' buffers.
		ts := time.UnixMilli(290 * 15000)
		allocs := testing.AllocsPerRun(5, func() {
			ts = ts.Add(15 * time.Second)
			if _, err := c.Eval(context.Background(), db, ts); err != nil {
				t.Fatal(err)
			}
		})
		if allocs/n > 0.01 {
			t.Fatalf("by=%v: %.0f allocs per Eval over %d series", by, allocs, n)
		}
	}
}

func TestString(t *testing.T) {
	c, err := Compile(Spec{Series: "x", When: `value() > 1`, By: []string{"b", "a"}, Value: `value()`}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := c.String(), `series: x when: value() > 1 by: [b, a] value: value()`; got != want {
		t.Fatalf("String() = %q, want %q", got, want)
	}
}

// TestEvalOrder: without By, results come in the order of the series'
// refs whatever the number of workers; with By, sorted by group labels.
func TestEvalOrder(t *testing.T) {
	db, err := tsdb.Open(tsdb.Options{Now: fixedNow(1000)})
	if err != nil {
		t.Fatal(err)
	}
	app := db.Appender()
	const n = 5*batchSize + 17
	for i := range n {
		// Label values out of ref order, so that ref order is not label order.
		ls := labels.FromStrings("__name__", "m", "id", fmt.Sprint((i*7919)%n), "grp", fmt.Sprint("g", (i*31)%5))
		if _, err := app.Append(0, ls, 1000, float64(i%3)); err != nil {
			t.Fatal(err)
		}
	}
	if err := app.Commit(); err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, ref := range db.Postings(nil) {
		var smp tsdb.Samples
		ls, _ := db.ReadRanges(ref, nil, &smp)
		want = append(want, ls.DropMetricName().String())
	}
	for _, tc := range []struct {
		name string
		spec Spec
	}{
		{"per-series", Spec{Series: "m", When: `value() >= 0`}},
		{"by", Spec{Series: "m", When: `value() >= 0`, By: []string{"grp"}}},
	} {
		for _, workers := range []int{1, 2, 4} {
			t.Run(fmt.Sprint(tc.name, "/workers=", workers), func(t *testing.T) {
				c, err := Compile(tc.spec, Options{Workers: workers})
				if err != nil {
					t.Fatal(err)
				}
				for round := range 3 { // the slide cache's evaluations too
					vec, err := c.Eval(context.Background(), db, time.UnixMilli(2000+int64(round)))
					if err != nil {
						t.Fatal(err)
					}
					var got []string
					for _, s := range vec {
						got = append(got, s.Metric.String())
					}
					w := want
					if len(tc.spec.By) > 0 {
						w = []string{`{grp="g0"}`, `{grp="g1"}`, `{grp="g2"}`, `{grp="g3"}`, `{grp="g4"}`}
					}
					if !slices.Equal(got, w) {
						t.Fatalf("round %d: %d results, first %v; want %d, first %v", round, len(got), got[:min(3, len(got))], len(w), w[:3])
					}
				}
			})
		}
	}
}
