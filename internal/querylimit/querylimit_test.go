package querylimit

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/prometheus/promql/parser"
)

var testParser = parser.NewParser(parser.Options{})

// realistic are queries of the kind dashboards and rules send; every one
// must pass every check.
var realistic = []string{
	`up`,
	`up == 0`,
	`sum by (job) (rate(http_requests_total{code=~"5..", job!="x"}[5m])) / sum by (job) (rate(http_requests_total[5m])) > 0.05`,
	`histogram_quantile(0.99, sum by (le, handler) (rate(http_request_duration_seconds_bucket[5m])))`,
	`max_over_time(rate(node_cpu_seconds_total{mode!="idle"}[1m])[1h:1m])`,
	`predict_linear(node_filesystem_avail_bytes{fstype!~"tmpfs|overlay"}[6h], 4 * 3600) < 0`,
	`absent(up{job="api"}) or up{job="api"} == 0`,
	`label_replace(up, "host", "$1", "instance", "([^:]+):.*")`,
	`topk(5, sum without (instance) (rate(x[5m] offset 1h)))`,
	`count_over_time(vector(1)[1d:1m])`,
	`quantile_over_time(0.9, (sum(rate(x[5m])) by (job))[30m:30s] @ end())`,
	`1e-5 * x + 0x1f - -3`,
	`x # a comment with ((((( and + + + in it
	  + y`,
	`{__name__="a(b(c", job="+-*/"} + 1`,
	`a and b or c unless d`,
	`(a atan2 b) ^ 2 >= 1`,
}

func TestRealisticQueriesPass(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	for _, q := range realistic {
		t.Run(q, func(t *testing.T) {
			if err := (Limits{}).Admit(testParser, q, now, now, 0); err != nil {
				t.Fatalf("instant: %v", err)
			}
			if err := (Limits{}).Admit(testParser, q, now.Add(-24*time.Hour), now, time.Minute); err != nil {
				t.Fatalf("range over a day: %v", err)
			}
		})
	}
}

func TestTextDepthTracksTreeDepth(t *testing.T) {
	for _, q := range realistic {
		t.Run(q, func(t *testing.T) {
			e, err := testParser.ParseExpr(q)
			if err != nil {
				t.Fatal(err)
			}
			tree := treeDepth(e, 1, 1000, true)
			text := TextDepth(q, 1000)
			if d := text - tree; d < -3 || d > 3 {
				t.Errorf("text depth %d, tree depth %d: more than 3 apart", text, tree)
			}
		})
	}
}

func TestCheckTextRefuses(t *testing.T) {
	long := strings.Repeat("x", DefaultMaxLength+1)
	tests := []struct {
		name string
		q    string
		l    Limits
		want error
	}{
		{"longer than the default", long, Limits{}, ErrQueryTooLong},
		{"longer than a set limit", "up + up", Limits{MaxLength: 6}, ErrQueryTooLong},
		{"2,000 nested parentheses", strings.Repeat("(", 2000) + "1" + strings.Repeat(")", 2000), Limits{}, ErrQueryTooDeep},
		{"2,000 unclosed parentheses", strings.Repeat("(", 2000), Limits{}, ErrQueryTooDeep},
		{"a chain of 100 additions", strings.Repeat("1+", 100) + "1", Limits{}, ErrQueryTooDeep},
		{"100 unary minus", strings.Repeat("-", 100) + "1", Limits{}, ErrQueryTooDeep},
		{"an and chain under 70 brackets", strings.Repeat("(", 70) + strings.Repeat("a and ", 3) + "a" + strings.Repeat(")", 70), Limits{}, ErrQueryTooDeep},
		{"nested functions", strings.Repeat("abs(", 70) + "x" + strings.Repeat(")", 70), Limits{}, ErrQueryTooDeep},
		{"depth over a set limit", "((((x))))", Limits{MaxDepth: 3}, ErrQueryTooDeep},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.l.CheckText(tt.q); !errors.Is(err, tt.want) {
				t.Fatalf("CheckText = %v, want %v", err, tt.want)
			}
		})
	}
}

// TestSetOperatorChains: a long chain of or, and, unless is evaluated (it
// parses in linear time) but not pretty-printed (cubic in its length);
// other chains are refused in both.
func TestSetOperatorChains(t *testing.T) {
	tests := []struct {
		name         string
		q            string
		query, print error
	}{
		{"1,000 or", strings.Repeat(`up{job="x"} or `, 1000) + "up", nil, ErrQueryTooDeep},
		{"mixed set operators", strings.Repeat("a and b unless c or ", 100) + "d", nil, ErrQueryTooDeep},
		{"or chains under brackets", "sum(" + strings.Repeat("a or ", 100) + "b) or max(" + strings.Repeat("c or ", 100) + "d)", nil, ErrQueryTooDeep},
		{"100 additions", strings.Repeat("1+", 100) + "1", ErrQueryTooDeep, ErrQueryTooDeep},
		{"a short or chain", "a or b or c", nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := (Limits{}).ParseExpr(testParser, tt.q); !errors.Is(err, tt.query) {
				t.Errorf("ParseExpr = %v, want %v", err, tt.query)
			}
			if _, err := (Limits{}).ParseForFormat(testParser, tt.q); !errors.Is(err, tt.print) {
				t.Errorf("ParseForFormat = %v, want %v", err, tt.print)
			}
		})
	}
}

func TestCheckTextIgnoresQuotedAndCommentedBrackets(t *testing.T) {
	deep := strings.Repeat("(", 500)
	for _, q := range []string{
		`x{a="` + deep + `"}`,
		`label_replace(x, "a", "` + deep + `", "b", "c")`,
		"x{a=`" + deep + "`}",
		`x{a='\'` + deep + `'}`,
		"x # " + deep + "\n + 1",
		`x{a="b" # ` + deep + "\n}",
	} {
		if err := (Limits{}).CheckText(q); err != nil {
			t.Errorf("CheckText(%.40q…) = %v, want nil", q, err)
		}
	}
}

func TestNegativeLimitsDisableTextChecks(t *testing.T) {
	q := strings.Repeat("(", 200) + strings.Repeat("x", DefaultMaxLength) + strings.Repeat(")", 200)
	if err := (Limits{MaxLength: -1, MaxDepth: -1}).CheckText(q); err != nil {
		t.Fatalf("CheckText with limits off = %v", err)
	}
}

func TestCheckDepthCountsTheTree(t *testing.T) {
	e, err := testParser.ParseExpr(`max_over_time(rate(x[1m])[1h:1m])`) // call, subquery, call, matrix, selector
	if err != nil {
		t.Fatal(err)
	}
	if err := (Limits{MaxDepth: 5}).CheckDepth(e); err != nil {
		t.Errorf("depth 5 against 5: %v", err)
	}
	if err := (Limits{MaxDepth: 4}).CheckDepth(e); !errors.Is(err, ErrQueryTooDeep) {
		t.Errorf("depth 5 against 4: %v, want ErrQueryTooDeep", err)
	}
}

func TestCheckPoints(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	day := 24 * time.Hour
	tests := []struct {
		name       string
		q          string
		start, end time.Time
		step       time.Duration
		want       error
	}{
		{"the issue's subquery", `count_over_time(up[100y:1ms])`, now, now, 0, ErrTooManyPoints},
		{"a day at 1ms", `count_over_time(vector(1)[1d:1ms])`, now, now, 0, ErrTooManyPoints},
		{"a day at 10s", `count_over_time(vector(1)[1d:10s])`, now, now, 0, nil},
		{"exactly 11,000 steps", `count_over_time(vector(1)[11000s:1s])`, now, now, 0, nil},
		{"11,001 steps", `count_over_time(vector(1)[11001s:1s])`, now, now, 0, ErrTooManyPoints},
		{"default step", `count_over_time(vector(1)[7d:])`, now, now, 0, nil},
		{"default step too fine", `count_over_time(vector(1)[8d:])`, now, now, 0, ErrTooManyPoints},
		{"duration expression", `count_over_time(vector(1)[1h+1h:1ms])`, now, now, 0, ErrTooManyPoints},
		{"duration expression in the step", `count_over_time(vector(1)[1d:(1ms*1)])`, now, now, 0, ErrTooManyPoints},
		{"nested subqueries add their spans", `max_over_time(count_over_time(vector(1)[2h:1s])[2h:1m])`, now, now, 0, ErrTooManyPoints},
		{"nested subqueries within the limit", `max_over_time(count_over_time(vector(1)[1h:1s])[1h:1m])`, now, now, 0, nil},
		{"subquery widened by the range query", `max_over_time(x[1h:1s])`, now.Add(-3 * time.Hour), now, time.Minute, ErrTooManyPoints},
		{"subquery within the range query", `max_over_time(x[1h:1m])`, now.Add(-7 * day), now, time.Hour, nil},
		{"pinned subquery ignores the range", `max_over_time(x[1h:1s] @ 1700000000)`, now.Add(-3 * time.Hour), now, time.Minute, nil},
		{"range query over 11,000 steps", `up`, now.Add(-11001 * time.Second), now, time.Second, ErrTooManyPoints},
		{"range query of 11,000 steps", `up`, now.Add(-11000 * time.Second), now, time.Second, nil},
		{"range over durations near the int64 limit", `count_over_time(vector(1)[290y:1ms])`, now.Add(-290 * 365 * day), now, 30 * day, ErrTooManyPoints},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := (Limits{}).Admit(testParser, tt.q, tt.start, tt.end, tt.step)
			if tt.want == nil && err != nil || tt.want != nil && !errors.Is(err, tt.want) {
				t.Fatalf("Admit = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestAdmitReturnsParseErrors(t *testing.T) {
	err := (Limits{}).Admit(testParser, `sum(`, time.Time{}, time.Time{}, 0)
	var perrs parser.ParseErrors
	if !errors.As(err, &perrs) {
		t.Fatalf("Admit(`sum(`) = %v, want parser.ParseErrors", err)
	}
}

func TestRefusalAllocatesLittle(t *testing.T) {
	tests := map[string]string{
		"deep":     strings.Repeat("(", 100_000),
		"long":     strings.Repeat("1+", 100_000),
		"subquery": `count_over_time(up[100y:1ms])`,
	}
	for name, q := range tests {
		t.Run(name, func(t *testing.T) {
			allocs := testing.AllocsPerRun(5, func() {
				if err := (Limits{}).Admit(testParser, q, time.Time{}, time.Time{}, 0); err == nil {
					t.Fatal("admitted")
				}
			})
			if allocs > 200 {
				t.Errorf("%v allocations to refuse, want at most 200", allocs)
			}
		})
	}
}

func TestTextDepthDoesNotAllocate(t *testing.T) {
	q := realistic[2]
	if allocs := testing.AllocsPerRun(10, func() { TextDepth(q, DefaultMaxDepth) }); allocs != 0 {
		t.Errorf("TextDepth allocates %v times, want 0", allocs)
	}
}

func TestWithDefaults(t *testing.T) {
	got := Limits{MaxConcurrency: 3}.WithDefaults()
	want := Limits{MaxLength: DefaultMaxLength, MaxDepth: DefaultMaxDepth, MaxSamples: DefaultMaxSamples,
		Timeout: DefaultTimeout, MaxConcurrency: 3, MaxQueued: 3, SubqueryStep: DefaultSubqueryStep}
	if got != want {
		t.Errorf("WithDefaults = %+v, want %+v", got, want)
	}
	if got := (Limits{MaxQueued: -1}).WithDefaults().MaxQueued; got != 0 {
		t.Errorf("MaxQueued -1 became %d, want 0", got)
	}
}
