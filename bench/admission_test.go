package bench

import (
	"strings"
	"testing"
	"time"

	"github.com/prometheus/prometheus/promql/parser"

	"github.com/watchdog-sre/watchdog/internal/querylimit"
)

// admissionQueries are typical dashboard and rule queries, shortest first.
var admissionQueries = []struct{ name, q string }{
	{"selector", `up`},
	{"rate", `sum by (job) (rate(http_requests_total{code=~"5.."}[5m]))`},
	{"ratio-alert", `sum by (job) (rate(http_requests_total{code=~"5..", job!="x"}[5m])) / sum by (job) (rate(http_requests_total[5m])) > 0.05`},
	{"quantile", `histogram_quantile(0.99, sum by (le, handler) (rate(http_request_duration_seconds_bucket[5m])))`},
	{"subquery", `max_over_time(rate(node_cpu_seconds_total{mode!="idle"}[1m])[1h:1m])`},
}

// BenchmarkAdmission measures the cost of admitting a query (text checks,
// parse, tree depth, points of the range and of every subquery, as the API
// runs them for a one-day range query at a one-minute step) against its
// peer, parsing the query alone with the Prometheus parser, in the same
// loop. The API parses twice (admission, then the engine), so admit-ns is
// what admission adds to a query; admit/parse is the ratio to the parse the
// engine does anyway. text-ns is the pre-parse check alone.
func BenchmarkAdmission(b *testing.B) {
	p := parser.NewParser(parser.Options{})
	end := time.Unix(1_700_000_000, 0)
	start := end.Add(-24 * time.Hour)
	limits := querylimit.Limits{}.WithDefaults()
	for _, tc := range admissionQueries {
		b.Run(tc.name, func(b *testing.B) {
			var tAdmit, tParse, tText time.Duration
			for b.Loop() {
				t0 := time.Now()
				if err := limits.Admit(p, tc.q, start, end, time.Minute); err != nil {
					b.Fatal(err)
				}
				t1 := time.Now()
				if _, err := p.ParseExpr(tc.q); err != nil {
					b.Fatal(err)
				}
				t2 := time.Now()
				if err := limits.CheckText(tc.q); err != nil {
					b.Fatal(err)
				}
				t3 := time.Now()
				tAdmit += t1.Sub(t0)
				tParse += t2.Sub(t1)
				tText += t3.Sub(t2)
			}
			n := float64(b.N)
			b.ReportMetric(float64(tAdmit.Nanoseconds())/n, "admit-ns/op")
			b.ReportMetric(float64(tParse.Nanoseconds())/n, "parse-ns/op")
			b.ReportMetric(float64(tText.Nanoseconds())/n, "text-ns/op")
			b.ReportMetric(float64(tAdmit)/float64(tParse), "admit/parse")
		})
	}
}

// BenchmarkAdmissionRefusal measures refusing the hostile inputs;
// the Prometheus parser is not run on them (it would take seconds on the
// 200 KB chain), so there is no peer.
func BenchmarkAdmissionRefusal(b *testing.B) {
	p := parser.NewParser(parser.Options{})
	now := time.Unix(1_700_000_000, 0)
	limits := querylimit.Limits{}.WithDefaults()
	for _, tc := range []struct{ name, q string }{
		{"subquery-100y-1ms", `count_over_time(up[100y:1ms])`},
		{"parens-2000", strings.Repeat("(", 2000) + "1" + strings.Repeat(")", 2000)},
		{"chain-60KB", strings.Repeat("1+", 30_000) + "1"},
		{"body-200KB", strings.Repeat("1+", 100_000) + "1"},
	} {
		b.Run(tc.name, func(b *testing.B) {
			b.SetBytes(int64(len(tc.q)))
			for b.Loop() {
				if err := limits.Admit(p, tc.q, now, now, 0); err == nil {
					b.Fatal("admitted")
				}
			}
		})
	}
}
