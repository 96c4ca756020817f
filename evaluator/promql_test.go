package evaluator

import (
	"context"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/prometheus/prometheus/promql"

	"github.com/watchdog-sre/watchdog/tsdb"
)

// TestPromQLForm checks the PromQL rendering of conditions' $value and,
// on random data, that the rendered expression run by the engine gives
// every firing series (or group) the $value the native evaluation gives it.
func TestPromQLForm(t *testing.T) {
	cases := []struct {
		name string
		spec Spec
		want string
	}{
		{"rate", Spec{Series: "m", When: `rate("5m") > 0.5`}, `rate(m[5m])`},
		{"pct_change", Spec{Series: `m{grp="g1"}`, When: `pct_change(rate("5m"), rate("5m", "1h")) > 50`},
			`((rate(m{grp="g1"}[5m]) - rate(m{grp="g1"}[5m] offset 1h)) / rate(m{grp="g1"}[5m] offset 1h) * 100)`},
		{"by", Spec{Series: "m", When: `rate("5m") > 0.1`, By: []string{"grp"}}, `sum by (grp) (rate(m[5m]))`},
		{"value", Spec{Series: "m", When: `value() > 3`}, `m`},
		{"value offset", Spec{Series: "m", When: `value("10m") > 3`}, `m offset 10m`},
		{"quantile", Spec{Series: "m", When: `quantile_over_time(0.9, "5m") > 1`}, `quantile_over_time(0.9, m[5m])`},
		{"explicit value", Spec{Series: "m", When: `changes("5m") >= 0`, Value: `-increase("10m") * 2 + 1.5`},
			`((-increase(m[10m]) * 2) + 1.5)`},
		{"labels: none", Spec{Series: "m", When: `rate("5m") > 0`, Value: `len(labels.grp)`}, ``},
		{"ternary: none", Spec{Series: "m", When: `rate("5m") > 0`, Value: `rate("5m") > 1 ? 1 : 0`}, ``},
		{"no comparison: none", Spec{Series: "m", When: `absent("5m")`}, ``},
	}
	feed := newSlideFeed(rand.New(rand.NewPCG(3, 4)), 60)
	db, err := tsdb.Open(tsdb.Options{Retention: 3 * time.Hour, Now: feed.now})
	if err != nil {
		t.Fatal(err)
	}
	evalT := diffStart + 100*60_000
	feed.appendUntil(t, db, evalT)
	eng := newTestEngine()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Compile(tc.spec, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if got := c.PromQL(); got != tc.want {
				t.Fatalf("PromQL() = %q, want %q", got, tc.want)
			}
			if tc.want == "" {
				return
			}
			vec, err := c.Eval(context.Background(), db, time.UnixMilli(evalT))
			if err != nil {
				t.Fatal(err)
			}
			want := map[string]float64{}
			for _, s := range promQLVector(t, eng, db, tc.want, evalT) {
				want[s.Metric.DropMetricName().String()] = s.F
			}
			for _, s := range vec {
				w, ok := want[s.Metric.String()]
				if !ok || !sameFloat(s.F, w, 1e-9) {
					t.Errorf("%s: native $value %v, PromQL %v (found %v)", s.Metric, s.F, w, ok)
				}
			}
			if len(vec) == 0 {
				t.Fatal("nothing fired: the case checks nothing")
			}
		})
	}
}

// promQLVector runs q at ts.
func promQLVector(t testing.TB, eng *promql.Engine, db *tsdb.DB, q string, ts int64) promql.Vector {
	t.Helper()
	qry, err := eng.NewInstantQuery(context.Background(), db, nil, q, time.UnixMilli(ts))
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	defer qry.Close()
	res := qry.Exec(context.Background())
	if res.Err != nil {
		t.Fatalf("%s: %v", q, res.Err)
	}
	vec, err := res.Vector()
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return vec
}
