package web

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"runtime"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/storage"

	"github.com/watchdog-sre/watchdog/internal/querylimit"
)

// serve runs one request through h and returns the recorder.
func serve(h http.Handler, method, path string, form url.Values, hdr http.Header) *httptest.ResponseRecorder {
	var req *http.Request
	if method == http.MethodGet {
		req = httptest.NewRequest(method, path+"?"+form.Encode(), nil)
	} else {
		req = httptest.NewRequest(method, path, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// TestHostileQueriesAreRefusedCheaply sends the reproductions of issue 11
// (and their neighbours) and checks that each is refused with a 4xx before
// the engine or the pretty-printer allocates anything sizeable: before the
// limits, the first two took the process down (out of memory in the
// engine's per-step arrays), the format_query ones kept a core busy for
// minutes.
func TestHostileQueriesAreRefusedCheaply(t *testing.T) {
	parens := strings.Repeat("(", 2000) + "1" + strings.Repeat(")", 2000)
	chain := strings.Repeat("1+", 100_000) + "1" // 200 KB
	tests := []struct {
		name     string
		method   string
		path     string
		form     url.Values
		hdr      http.Header
		wantCode int
		wantMsg  string
		reason   string
	}{
		{"subquery of 100 years at 1ms", "GET", "/api/v1/query",
			url.Values{"query": {"count_over_time(up[100y:1ms])"}}, nil,
			400, "too many points per series", "too_many_points"},
		{"subquery of a day at 1ms, with a timeout", "GET", "/api/v1/query",
			url.Values{"query": {"count_over_time(vector(1)[1d:1ms])"}, "timeout": {"5s"}}, nil,
			400, "too many points per series", "too_many_points"},
		{"the same as a cross-site form POST", "POST", "/api/v1/query",
			url.Values{"query": {"count_over_time(vector(1)[1d:1ms])"}}, http.Header{"Origin": {"https://evil.example"}},
			400, "too many points per series", "too_many_points"},
		{"subquery widened by the range query", "GET", "/api/v1/query_range",
			url.Values{"query": {"max_over_time(vector(1)[1h:1s])"}, "start": {"0"}, "end": {"10800"}, "step": {"60"}}, nil,
			400, "too many points per series", "too_many_points"},
		{"range query over 11,000 steps", "GET", "/api/v1/query_range",
			url.Values{"query": {"up"}, "start": {"0"}, "end": {"1e12"}, "step": {"0.001"}}, nil,
			400, "exceeded maximum resolution of 11,000 points", "too_many_points"},
		{"2,000 nested parentheses to format_query", "POST", "/api/v1/format_query",
			url.Values{"query": {parens}}, nil,
			400, "query nested too deeply", "too_deep"},
		{"2,000 nested parentheses to query", "GET", "/api/v1/query",
			url.Values{"query": {parens}}, nil,
			400, "query nested too deeply", "too_deep"},
		{"a 200 KB body to format_query", "POST", "/api/v1/format_query",
			url.Values{"query": {chain}}, nil,
			400, "query too long", "too_long"},
		{"a 60 KB operator chain, under the length limit", "POST", "/api/v1/format_query",
			url.Values{"query": {chain[:60_000] + "1"}}, nil,
			400, "query nested too deeply", "too_deep"},
		{"2,000 unary minus", "GET", "/api/v1/query",
			url.Values{"query": {strings.Repeat("-", 2000) + "1"}}, nil,
			400, "query nested too deeply", "too_deep"},
		{"a 200 KB selector to series", "POST", "/api/v1/series",
			url.Values{"match[]": {`up{a="` + strings.Repeat("x", 200_000) + `"}`}}, nil,
			400, "query too long", "too_long"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			set := metrics.NewSet()
			h := New(Options{Metrics: set})
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			rec := serve(h, tt.method, tt.path, tt.form, tt.hdr)
			runtime.ReadMemStats(&after)

			if rec.Code != tt.wantCode {
				t.Fatalf("status %d, want %d: %.300s", rec.Code, tt.wantCode, rec.Body)
			}
			var env envelope
			if err := json.Unmarshal(rec.Body.Bytes(), &env); err != nil {
				t.Fatal(err)
			}
			if env.Status != "error" || env.ErrorType != errorBadData || !strings.Contains(env.Error, tt.wantMsg) {
				t.Errorf("answer %+v, want bad_data mentioning %q", env, tt.wantMsg)
			}
			// A safety bound, not a speed claim: the body is copied a few
			// times by form parsing; the engine would have taken gigabytes.
			input := len(tt.form.Encode())
			if grew := after.TotalAlloc - before.TotalAlloc; grew > uint64(1<<20+10*input) {
				t.Errorf("allocated %d bytes to refuse a %d-byte request", grew, input)
			}
			series := `watchdog_query_refused_total{reason="` + tt.reason + `"}`
			if got := set.GetOrCreateCounter(series).Get(); got != 1 {
				t.Errorf("%s = %d, want 1", series, got)
			}
		})
	}
}

// TestFormatQueryStillFormats checks that admission leaves format_query's
// answer alone (the points check rewrites a tree; format_query must not see
// that).
func TestFormatQueryStillFormats(t *testing.T) {
	h := New(Options{})
	rec := serve(h, "GET", "/api/v1/format_query",
		url.Values{"query": {"sum(rate(x[5m]))  by (job) / ((1))"}}, nil)
	if rec.Code != 200 || !strings.Contains(rec.Body.String(), `"data":"sum by (job) (rate(x[5m])) / ((1))"`) {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
}

// gatedQueryable's Select blocks until open is closed or the query's
// context ends, counting the selects that started.
type gatedQueryable struct {
	open    chan struct{}
	once    sync.Once
	mu      sync.Mutex
	started int
}

// newGated returns a closed gate, opened when t ends at the latest.
func newGated(t *testing.T) *gatedQueryable {
	g := &gatedQueryable{open: make(chan struct{})}
	t.Cleanup(g.release)
	return g
}

// release lets every select through.
func (g *gatedQueryable) release() { g.once.Do(func() { close(g.open) }) }

func (g *gatedQueryable) Querier(int64, int64) (storage.Querier, error) {
	return &gatedQuerier{g: g}, nil
}

type gatedQuerier struct {
	storage.MockQuerier
	g *gatedQueryable
}

func (q *gatedQuerier) Select(ctx context.Context, _ bool, _ *storage.SelectHints, _ ...*labels.Matcher) storage.SeriesSet {
	q.g.mu.Lock()
	q.g.started++
	q.g.mu.Unlock()
	select {
	case <-q.g.open:
		return storage.EmptySeriesSet()
	case <-ctx.Done():
		return storage.ErrSeriesSet(ctx.Err())
	}
}

func (*gatedQuerier) Close() error { return nil }

// TestConcurrencyBeyondTheLimitIsRefused fills the two slots and the one
// place in the queue, then checks that the next query is answered 503
// "unavailable" at once and that the others complete once storage answers.
func TestConcurrencyBeyondTheLimitIsRefused(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := newGated(t)
		set := metrics.NewSet()
		h := New(Options{Queryable: store, Metrics: set, Limits: querylimit.Limits{MaxConcurrency: 2, MaxQueued: 1}})
		form := url.Values{"query": {"up"}, "time": {"100"}}

		codes := make(chan int, 3)
		for range 3 {
			go func() { codes <- serve(h, "GET", "/api/v1/query", form, nil).Code }()
		}
		synctest.Wait()
		if store.started != 2 {
			t.Fatalf("%d queries reached storage, want 2 (the third waits)", store.started)
		}
		rec := serve(h, "POST", "/api/v1/query", form, nil)
		if rec.Code != http.StatusServiceUnavailable {
			t.Fatalf("fourth query: status %d, want 503: %s", rec.Code, rec.Body)
		}
		var env envelope
		if err := json.Unmarshal(rec.Body.Bytes(), &env); err != nil {
			t.Fatal(err)
		}
		if env.ErrorType != errorUnavailable {
			t.Errorf("errorType %q, want %q", env.ErrorType, errorUnavailable)
		}
		if got := set.GetOrCreateCounter(`watchdog_query_refused_total{reason="queue_full"}`).Get(); got != 1 {
			t.Errorf("queue_full refusals %d, want 1", got)
		}
		// format_query shares the slots.
		if rec := serve(h, "GET", "/api/v1/format_query", url.Values{"query": {"up"}}, nil); rec.Code != http.StatusServiceUnavailable {
			t.Errorf("format_query while full: status %d, want 503", rec.Code)
		}

		store.release()
		for range 3 {
			if code := <-codes; code != http.StatusOK {
				t.Errorf("admitted query answered %d, want 200", code)
			}
		}
		if rec := serve(h, "GET", "/api/v1/query", form, nil); rec.Code != http.StatusOK {
			t.Errorf("after the flood: status %d, want 200", rec.Code)
		}
	})
}

// TestTimeoutCoversTheWait checks that a query waiting for a slot gives up
// when its timeout passes, answering 503 timeout, and frees its place.
func TestTimeoutCoversTheWait(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := newGated(t)
		h := New(Options{Queryable: store, Limits: querylimit.Limits{MaxConcurrency: 1, MaxQueued: 1}})
		done := make(chan int)
		go func() { done <- serve(h, "GET", "/api/v1/query", url.Values{"query": {"up"}, "time": {"1"}}, nil).Code }()
		synctest.Wait()
		rec := serve(h, "GET", "/api/v1/query", url.Values{"query": {"up"}, "time": {"1"}, "timeout": {"3s"}}, nil)
		if rec.Code != http.StatusServiceUnavailable || !strings.Contains(rec.Body.String(), `"errorType":"timeout"`) {
			t.Fatalf("waiting query: status %d %s, want 503 timeout", rec.Code, rec.Body)
		}
		if w := h.admission.gate.Waiting(); w != 0 {
			t.Errorf("%d still waiting", w)
		}
		store.release()
		<-done
	})
}

// TestTimeoutIsCappedByTheLimit checks that the timeout parameter cannot
// exceed the configured timeout.
func TestTimeoutIsCappedByTheLimit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := newGated(t)
		h := New(Options{Queryable: store, Limits: querylimit.Limits{Timeout: 2 * time.Second}})
		rec := serve(h, "GET", "/api/v1/query", url.Values{"query": {"up"}, "time": {"1"}, "timeout": {"1h"}}, nil)
		if rec.Code != http.StatusServiceUnavailable || !strings.Contains(rec.Body.String(), `"errorType":"timeout"`) {
			t.Fatalf("status %d %s, want 503 timeout after the configured 2s", rec.Code, rec.Body)
		}
	})
}

// TestClientGoneCancelsTheQuery checks that a query stops, and frees its
// slot, when the client's request context ends.
func TestClientGoneCancelsTheQuery(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := newGated(t)
		h := New(Options{Queryable: store, Limits: querylimit.Limits{MaxConcurrency: 1}})
		ctx, cancel := context.WithCancel(t.Context())
		req := httptest.NewRequestWithContext(ctx, "GET", "/api/v1/query?query=up&time=1", nil)
		rec := httptest.NewRecorder()
		done := make(chan struct{})
		go func() {
			h.ServeHTTP(rec, req)
			close(done)
		}()
		synctest.Wait()
		if store.started != 1 || h.admission.gate.Running() != 1 {
			t.Fatalf("started %d, running %d: the query is not in storage", store.started, h.admission.gate.Running())
		}
		cancel()
		<-done
		if rec.Code != statusClientClosedRequest {
			t.Errorf("status %d, want %d", rec.Code, statusClientClosedRequest)
		}
		if r := h.admission.gate.Running(); r != 0 {
			t.Errorf("%d queries still hold a slot", r)
		}
	})
}
