package web

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/promql/parser"

	"github.com/watchdog-sre/watchdog/internal/querylimit"
)

// errorUnavailable is Prometheus's error type for a server too busy to take
// the query.
const errorUnavailable = "unavailable"

// EngineOpts returns the engine options for the limits l (zero fields take
// their defaults): l's sample limit, timeout and default subquery step, a
// five minute lookback, and the @ modifier and negative offsets enabled.
func EngineOpts(l querylimit.Limits) promql.EngineOpts {
	l = l.WithDefaults()
	step := l.SubqueryStep.Milliseconds()
	return promql.EngineOpts{
		MaxSamples:           l.MaxSamples,
		Timeout:              l.Timeout,
		LookbackDelta:        5 * time.Minute,
		EnableAtModifier:     true,
		EnableNegativeOffset: true,
		// Only a query asking for stats=all tracks its steps.
		EnablePerStepStats: true,
		NoStepSubqueryIntervalFn: func(int64) int64 {
			return step
		},
	}
}

// admission holds what every query passes through before the engine sees
// it: the limits, the gate bounding concurrent queries and the counters of
// refusals.
type admission struct {
	limits  querylimit.Limits
	gate    *querylimit.Gate
	parser  parser.Parser
	metrics *metrics.Set
}

func newAdmission(l querylimit.Limits, p parser.Parser, set *metrics.Set) *admission {
	l = l.WithDefaults()
	a := &admission{limits: l, gate: querylimit.NewGate(l.MaxConcurrency, l.MaxQueued), parser: p, metrics: set}
	set.GetOrCreateGauge("watchdog_queries_running", func() float64 { return float64(a.gate.Running()) })
	set.GetOrCreateGauge("watchdog_queries_waiting", func() float64 { return float64(a.gate.Waiting()) })
	set.GetOrCreateGauge("watchdog_query_max_concurrency", func() float64 { return float64(l.MaxConcurrency) })
	return a
}

// refused counts a refusal under its reason and passes err through.
func (a *admission) refused(err error) error {
	reason := ""
	switch {
	case errors.Is(err, querylimit.ErrQueryTooLong):
		reason = "too_long"
	case errors.Is(err, querylimit.ErrQueryTooDeep):
		reason = "too_deep"
	case errors.Is(err, querylimit.ErrTooManyPoints):
		reason = "too_many_points"
	case errors.Is(err, querylimit.ErrQueueFull):
		reason = "queue_full"
	default:
		return err
	}
	a.metrics.GetOrCreateCounter(`watchdog_query_refused_total{reason="` + reason + `"}`).Inc()
	return err
}

// timeout returns the timeout of one query: the request's timeout parameter
// (parsed by the caller; zero when absent), capped by the configured one,
// as in Prometheus.
func (a *admission) timeout(requested time.Duration) time.Duration {
	if requested <= 0 || requested > a.limits.Timeout {
		return a.limits.Timeout
	}
	return requested
}

// evalRange is when a query is evaluated: from start to end every step, or
// at start alone when step is 0.
type evalRange struct {
	start, end time.Time
	step       time.Duration
}

// enter admits the query text q: it checks the text, takes a slot of the
// gate (waiting at most until ctx ends), then parses and checks the
// expression, for its evaluation over r, or only parses it when r is nil.
// The parse runs inside the slot so that concurrent parsing is bounded too,
// and under ctx: a query whose time ran out while it waited or parsed goes
// no further. It returns the parsed expression when r is nil (an evaluated
// query is parsed again by the engine). On success the caller must call
// release.
func (a *admission) enter(ctx context.Context, q string, r *evalRange) (expr parser.Expr, release func(), err error) {
	if err := a.limits.CheckText(q); err != nil { // ParseForFormat checks more
		return nil, nil, a.refused(err)
	}
	if r != nil {
		if err := a.limits.CheckRange(r.start, r.end, r.step); err != nil {
			return nil, nil, a.refused(err)
		}
	}
	release, err = a.gate.Enter(ctx)
	if err != nil {
		return nil, nil, a.refused(err)
	}
	if r == nil {
		expr, err = a.limits.ParseForFormat(a.parser, q)
	} else {
		err = a.limits.Admit(a.parser, q, r.start, r.end, r.step)
	}
	if err == nil {
		err = ctx.Err()
	}
	if err != nil {
		release()
		return nil, nil, a.refused(err)
	}
	return expr, release, nil
}

// admissionError maps a refusal or a failure to build a query onto the API
// error: limits are bad data (400) like Prometheus's 11,000-points refusal,
// a full queue is unavailable (503), running out of time or being canceled
// keep their types, and anything else (a parse error) is a bad query
// parameter.
func admissionError(err error) *apiError {
	switch {
	case errors.Is(err, querylimit.ErrQueueFull):
		return &apiError{typ: errorUnavailable, msg: err.Error()}
	case errors.Is(err, querylimit.ErrQueryTooLong), errors.Is(err, querylimit.ErrQueryTooDeep),
		errors.Is(err, querylimit.ErrTooManyPoints):
		return badData(err)
	}
	return constructionError(err)
}

// RangeQuery evaluates expr from start to end every step through the same
// admission as /api/v1/query_range: the limits, a slot among the concurrent
// queries and the configured timeout. It is the web console's graph query.
func (h *Handler) RangeQuery(ctx context.Context, expr string, start, end time.Time, step time.Duration) (promql.Matrix, error) {
	ctx, cancel := context.WithTimeout(ctx, h.admission.limits.Timeout)
	defer cancel()
	_, release, err := h.admission.enter(ctx, expr, &evalRange{start, end, step})
	if err != nil {
		return nil, err
	}
	defer release()
	qry, err := h.engine.NewRangeQuery(ctx, h.queryable, nil, expr, start, end, step)
	if err != nil {
		return nil, err
	}
	defer qry.Close()
	res := qry.Exec(ctx)
	if res.Err != nil {
		return nil, res.Err
	}
	return res.Matrix()
}

// CheckQueryText applies the length and nesting limits to a query's text,
// for callers that parse it themselves before querying (the console's
// graph page). It returns an error wrapping one of querylimit's sentinels.
func (h *Handler) CheckQueryText(q string) error {
	return h.admission.refused(h.admission.limits.CheckText(q))
}

// StatusOf returns the HTTP status the API would answer for err, returned
// by RangeQuery or CheckQueryText: 400 for a refused or bad query, 503 when
// the server is too busy or the query ran out of time; the console's pages
// use it.
func StatusOf(err error) int {
	if err == nil {
		return http.StatusOK
	}
	return admissionError(err).status()
}
