package web

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/prometheus/prometheus/util/stats"
)

// parseForm reads URL and body parameters, reporting an oversized or broken
// body as bad data.
func parseForm(r *http.Request) *apiError {
	if err := r.ParseForm(); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return badData(fmt.Errorf("request body larger than %d bytes", tooBig.Limit))
		}
		return badData(fmt.Errorf("error parsing form values: %w", err))
	}
	return nil
}

// queryTimeout parses the optional timeout parameter.
func queryTimeout(r *http.Request) (time.Duration, *apiError) {
	v := r.FormValue("timeout")
	if v == "" {
		return 0, nil
	}
	d, err := ParseDuration(v)
	if err != nil {
		return 0, invalidParam("timeout", err)
	}
	if d <= 0 {
		return 0, invalidParam("timeout", fmt.Errorf("timeout must be positive, got %s", d))
	}
	return d, nil
}

func (h *Handler) query(r *http.Request) apiResult {
	if e := parseForm(r); e != nil {
		return apiResult{err: e}
	}
	limit, err := parseLimit(r.FormValue("limit"))
	if err != nil {
		return apiResult{err: invalidParam("limit", err)}
	}
	ts, e := timeParam(r.FormValue("time"), "time", h.now())
	if e != nil {
		return apiResult{err: e}
	}
	qs := r.FormValue("query")
	return h.runQuery(r, "query", qs, ts, ts, 0, limit, func(ctx context.Context) (promql.Query, error) {
		return h.engine.NewInstantQuery(ctx, h.queryable, queryOpts(r), qs, ts)
	})
}

func (h *Handler) queryRange(r *http.Request) apiResult {
	if e := parseForm(r); e != nil {
		return apiResult{err: e}
	}
	limit, err := parseLimit(r.FormValue("limit"))
	if err != nil {
		return apiResult{err: invalidParam("limit", err)}
	}
	start, err := ParseTime(r.FormValue("start"))
	if err != nil {
		return apiResult{err: invalidParam("start", err)}
	}
	end, err := ParseTime(r.FormValue("end"))
	if err != nil {
		return apiResult{err: invalidParam("end", err)}
	}
	if end.Before(start) {
		return apiResult{err: invalidParam("end", errors.New("end timestamp must not be before start time"))}
	}
	step, err := ParseDuration(r.FormValue("step"))
	if err != nil {
		return apiResult{err: invalidParam("step", err)}
	}
	if step <= 0 {
		return apiResult{err: invalidParam("step", errors.New(
			"zero or negative query resolution step widths are not accepted. Try a positive integer"))}
	}
	qs := r.FormValue("query")
	return h.runQuery(r, "query_range", qs, start, end, step, limit, func(ctx context.Context) (promql.Query, error) {
		return h.engine.NewRangeQuery(ctx, h.queryable, queryOpts(r), qs, start, end, step)
	})
}

// runQuery admits the query qs evaluated from start to end every step (see
// admission.enter), builds it with build, runs it under the request's
// timeout and context, so that a client going away cancels it, records its
// latency under endpoint and shapes the answer.
func (h *Handler) runQuery(r *http.Request, endpoint, qs string, start, end time.Time, step time.Duration, limit int,
	build func(context.Context) (promql.Query, error),
) apiResult {
	requested, e := queryTimeout(r)
	if e != nil {
		return apiResult{err: e}
	}
	ctx, cancel := context.WithTimeout(r.Context(), h.admission.timeout(requested))
	defer cancel()
	began := time.Now()
	defer h.metrics.GetOrCreatePrometheusHistogram(
		`watchdog_query_duration_seconds{endpoint="` + endpoint + `"}`).UpdateDuration(began)

	_, release, err := h.admission.enter(ctx, qs, &evalRange{start, end, step})
	if err != nil {
		return apiResult{err: admissionError(err)}
	}
	defer release()
	qry, err := build(ctx)
	if err != nil {
		return apiResult{err: constructionError(err)}
	}
	defer qry.Close()
	res := qry.Exec(ctx)
	if res.Err != nil {
		return apiResult{err: classify(res.Err), warnings: res.Warnings, query: qs}
	}
	warnings := res.Warnings
	if limit > 0 && truncate(res, limit) {
		warnings = warnings.Add(errors.New("results truncated due to limit"))
	}
	// The result is encoded before qry.Close returns its memory to the pool.
	qd := queryData{value: res.Value}
	if r.FormValue("stats") != "" {
		if qd.stats, err = json.Marshal(stats.NewQueryStats(qry.Stats())); err != nil {
			return apiResult{err: &apiError{typ: errorInternal, msg: err.Error()}}
		}
	}
	data, err := qd.MarshalJSON()
	if err != nil {
		return apiResult{err: &apiError{typ: errorInternal, msg: err.Error()}}
	}
	return apiResult{data: rawJSON(data), warnings: warnings, query: qs}
}

// queryOpts are the engine options of a query: stats=all asks for the
// samples of every step, as in Prometheus (any other non-empty stats value
// gives the totals).
func queryOpts(r *http.Request) promql.QueryOpts {
	return promql.NewPrometheusQueryOpts(r.FormValue("stats") == "all", 0, nil)
}

// rawJSON is pre-encoded data placed into the envelope as is.
type rawJSON []byte

// MarshalJSON implements json.Marshaler.
func (j rawJSON) MarshalJSON() ([]byte, error) { return j, nil }

// constructionError maps a failure to build a query: running out of time or
// being canceled keep their type, anything else is a bad query parameter.
func constructionError(err error) *apiError {
	var (
		timeout  promql.ErrQueryTimeout
		canceled promql.ErrQueryCanceled
	)
	if errors.As(err, &timeout) || errors.As(err, &canceled) ||
		errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return classify(err)
	}
	return invalidParam("query", err)
}

// truncate cuts vector and matrix results to limit series and reports
// whether it cut anything.
func truncate(res *promql.Result, limit int) bool {
	switch v := res.Value.(type) {
	case promql.Vector:
		if len(v) > limit {
			res.Value = v[:limit]
			return true
		}
	case promql.Matrix:
		if len(v) > limit {
			res.Value = v[:limit]
			return true
		}
	}
	return false
}

func (h *Handler) formatQuery(r *http.Request) apiResult {
	// Formatting is the costliest step here: the pretty-printer grows with
	// the cube of the depth, which the admission bounds.
	return h.withParsedQuery(r, func(expr parser.Expr) any { return expr.Pretty(0) })
}

// withParsedQuery parses the request's query under the admission (its
// depth, size and concurrency bounds) and answers answer(expr).
func (h *Handler) withParsedQuery(r *http.Request, answer func(parser.Expr) any) apiResult {
	if e := parseForm(r); e != nil {
		return apiResult{err: e}
	}
	ctx, cancel := context.WithTimeout(r.Context(), h.admission.timeout(0))
	defer cancel()
	expr, release, err := h.admission.enter(ctx, r.FormValue("query"), nil)
	if err != nil {
		return apiResult{err: admissionError(err)}
	}
	defer release()
	return apiResult{data: answer(expr)}
}
