package ui

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"runtime"
	"strings"
	"testing"

	"github.com/watchdog-sre/watchdog/web"
)

// TestGraphGoesThroughAdmission drives /graph, wired as cmd/watchdog wires
// it, with the hostile expressions: each is refused with a 400 page
// before the engine (or the threshold splitter's parse) sees it.
func TestGraphGoesThroughAdmission(t *testing.T) {
	api := web.New(web.Options{})
	if err := Register(api, Options{RangeQuery: api.RangeQuery, CheckQuery: api.CheckQueryText}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, expr, range_, want string
	}{
		{"subquery of 100 years at 1ms", "count_over_time(up[100y:1ms])", "1h", "too many points per series"},
		{"subquery of a day at 1ms", "count_over_time(vector(1)[1d:1ms]) > 1", "1h", "too many points per series"},
		{"subquery widened by the graph range", "max_over_time(vector(1)[1h:1s])", "7d", "too many points per series"},
		{"2,000 nested parentheses", strings.Repeat("(", 2000) + "1" + strings.Repeat(")", 2000), "1h", "query nested too deeply"},
		{"a 200 KB operator chain", strings.Repeat("1+", 100_000) + "1", "1h", "query too long"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := url.Values{"expr": {tt.expr}, "range": {tt.range_}}
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			rec := httptest.NewRecorder()
			api.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/graph?"+q.Encode(), nil))
			runtime.ReadMemStats(&after)
			if rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), tt.want) {
				t.Fatalf("status %d, want 400 with %q: %.300s", rec.Code, tt.want, rec.Body)
			}
			if grew := after.TotalAlloc - before.TotalAlloc; grew > uint64(1<<20+20*len(tt.expr)) {
				t.Errorf("allocated %d bytes to refuse a %d-byte expression", grew, len(tt.expr))
			}
		})
	}
	rec := httptest.NewRecorder()
	api.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/graph?expr=vector(1)+%3E+0&range=1h", nil))
	if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), `id="graph-result"`) {
		t.Fatalf("a plain graph: status %d: %.300s", rec.Code, rec.Body)
	}
}
