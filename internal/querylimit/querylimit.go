// Package querylimit decides whether a PromQL expression may be evaluated,
// before the engine allocates anything for it.
//
// The PromQL engine sizes some of its work from the expression alone: a
// subquery such as x[100y:1ms] makes it allocate per-step arrays for every
// step of the subquery before the sample limit is ever consulted, and the
// parser and the pretty-printer are super-linear in the nesting depth of
// what they are given. The checks here bound all of that:
//
//   - CheckText: the length of the text and a cheap nesting estimate from a
//     single pass over the raw bytes, so that the parser never sees
//     thousands of nested parentheses or chained operators;
//   - CheckDepth: the depth of the parsed expression tree;
//   - CheckRange and CheckSubqueries: Prometheus's 11,000 points per series,
//     for the steps of a range query and for the steps of every subquery,
//     nested subqueries measured over the span of their parent;
//   - Gate: a bound on the queries running at once, with a bounded queue.
//
// Admit runs the expression checks in order. The package depends only on
// the Prometheus parser and engine, so that both the HTTP API (web) and the
// rule loader (rules) use the same checks.
package querylimit

import (
	"errors"
	"fmt"
	"time"

	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/promql/parser"
)

// Sentinel errors of admission. Every refusal wraps exactly one of them.
var (
	// ErrQueryTooLong is returned for an expression longer than
	// Limits.MaxLength bytes.
	ErrQueryTooLong = errors.New("query too long")
	// ErrQueryTooDeep is returned for an expression nested deeper than
	// Limits.MaxDepth, counted on the raw text or on the parsed tree.
	ErrQueryTooDeep = errors.New("query nested too deeply")
	// ErrTooManyPoints is returned when a range query or a subquery would
	// evaluate more than MaxPointsPerSeries steps per series.
	ErrTooManyPoints = errors.New("too many points per series")
	// ErrQueueFull is returned by Gate.Enter when every slot is taken and
	// the wait queue is full.
	ErrQueueFull = errors.New("too many queries running and waiting")
)

// Defaults of Limits; WithDefaults fills them into zero fields.
const (
	// DefaultMaxLength is the longest expression accepted, in bytes. It is
	// four times VictoriaMetrics' 16 KiB default (-search.maxQueryLen),
	// leaving room for dashboards that expand a multi-value variable into a
	// long regular expression, and it bounds the worst-case parse of an
	// expression that passes the depth check to well under a second on one
	// core.
	DefaultMaxLength = 64 << 10
	// DefaultMaxDepth is the deepest nesting accepted: brackets plus
	// operators chained at one level. Hand-written queries and rules stay
	// under 20; the parser and the pretty-printer behind format_query grow
	// with the cube of the depth (2,000 parentheses took ~50 s), and 64
	// keeps the worst 64 KiB expression measured (61 parentheses around a
	// 64 KiB selector) at about a third of a second in format_query and a
	// hundredth in a query, on one core of a loaded 2-vCPU machine.
	DefaultMaxDepth = 64
	// DefaultMaxSamples is the engine's limit on samples held in memory by
	// one query, Prometheus's default (--query.max-samples).
	DefaultMaxSamples = 50_000_000
	// DefaultTimeout bounds one query, waiting and parsing included,
	// Prometheus's default (--query.timeout).
	DefaultTimeout = 2 * time.Minute
	// DefaultMaxConcurrency is the number of queries evaluated at once,
	// Prometheus's default (--query.max-concurrency).
	DefaultMaxConcurrency = 20
	// DefaultSubqueryStep is the step of a subquery written without one,
	// such as x[1h:].
	DefaultSubqueryStep = time.Minute
)

// MaxPointsPerSeries is the most steps a range query or a subquery may
// evaluate per series: Prometheus's limit for range queries, applied here to
// subqueries too.
const MaxPointsPerSeries = 11000

// Limits are the admission limits. The zero value of every field means its
// default (see WithDefaults); a negative MaxLength or MaxDepth disables that
// check.
type Limits struct {
	// MaxLength is the longest expression accepted, in bytes.
	MaxLength int
	// MaxDepth is the deepest nesting accepted.
	MaxDepth int
	// MaxSamples is the engine's limit on samples loaded by one query.
	MaxSamples int
	// Timeout bounds one query from admission to its last sample.
	Timeout time.Duration
	// MaxConcurrency is the number of queries evaluated at once.
	MaxConcurrency int
	// MaxQueued is the number of queries that may wait for a slot; zero
	// means as many as MaxConcurrency, negative means none.
	MaxQueued int
	// SubqueryStep is the step of a subquery written without one; it must
	// match the engine's NoStepSubqueryIntervalFn.
	SubqueryStep time.Duration
}

// WithDefaults returns l with every zero field set to its default.
func (l Limits) WithDefaults() Limits {
	if l.MaxLength == 0 {
		l.MaxLength = DefaultMaxLength
	}
	if l.MaxDepth == 0 {
		l.MaxDepth = DefaultMaxDepth
	}
	if l.MaxSamples <= 0 {
		l.MaxSamples = DefaultMaxSamples
	}
	if l.Timeout <= 0 {
		l.Timeout = DefaultTimeout
	}
	if l.MaxConcurrency <= 0 {
		l.MaxConcurrency = DefaultMaxConcurrency
	}
	if l.MaxQueued == 0 {
		l.MaxQueued = l.MaxConcurrency
	}
	if l.MaxQueued < 0 {
		l.MaxQueued = 0
	}
	if l.SubqueryStep <= 0 {
		l.SubqueryStep = DefaultSubqueryStep
	}
	return l
}

// Admit checks q and parses it with p, for an evaluation from start to end
// every step (an instant query has start == end and step 0): CheckRange,
// CheckText, parsing, CheckDepth and CheckSubqueries. A parse error is
// returned as the parser gave it. The parsed expression is not returned:
// CheckSubqueries rewrites it for evaluation, and the engine parses q again
// on its own.
func (l Limits) Admit(p parser.Parser, q string, start, end time.Time, step time.Duration) error {
	if err := l.CheckRange(start, end, step); err != nil {
		return err
	}
	expr, err := l.ParseExpr(p, q)
	if err != nil {
		return err
	}
	return l.CheckSubqueries(expr, start, end, step)
}

// ParseExpr runs CheckText, parses q with p and runs CheckDepth.
func (l Limits) ParseExpr(p parser.Parser, q string) (parser.Expr, error) {
	if err := l.CheckText(q); err != nil {
		return nil, err
	}
	expr, err := p.ParseExpr(q)
	if err != nil {
		return nil, err
	}
	if err := l.CheckDepth(expr); err != nil {
		return nil, err
	}
	return expr, nil
}

// ParseForFormat is ParseExpr for an expression that will be
// pretty-printed (format_query): the printer's cost grows with the cube of
// the tree's depth, chained operators included (a chain of 1,000 "or"
// took 8 s), so both checks count them (TextDepth, and every binary
// operator as a level of the tree).
func (l Limits) ParseForFormat(p parser.Parser, q string) (parser.Expr, error) {
	l = l.WithDefaults()
	if err := l.checkText(q, true); err != nil {
		return nil, err
	}
	expr, err := p.ParseExpr(q)
	if err != nil {
		return nil, err
	}
	if l.MaxDepth > 0 {
		if d := treeDepth(expr, 1, l.MaxDepth, true); d > l.MaxDepth {
			return nil, fmt.Errorf("%w: the expression tree is more than %d levels deep (chained operators count when formatting)",
				ErrQueryTooDeep, l.MaxDepth)
		}
	}
	return expr, nil
}

// CheckText refuses an expression longer than MaxLength bytes or whose
// nesting estimate (see TextDepth) exceeds MaxDepth. It reads q once and
// allocates nothing unless it refuses.
func (l Limits) CheckText(q string) error {
	return l.WithDefaults().checkText(q, false)
}

// checkText is CheckText, counting every chained operator when operators
// is set (TextDepth), all but or, and, unless otherwise (QueryDepth).
func (l Limits) checkText(q string, operators bool) error {
	if l.MaxLength > 0 && len(q) > l.MaxLength {
		return fmt.Errorf("%w: %d bytes, more than the limit of %d", ErrQueryTooLong, len(q), l.MaxLength)
	}
	if l.MaxDepth > 0 {
		if operators {
			if d := TextDepth(q, l.MaxDepth); d > l.MaxDepth {
				return fmt.Errorf("%w: more than %d levels of brackets and chained operators", ErrQueryTooDeep, l.MaxDepth)
			}
		} else if d := QueryDepth(q, l.MaxDepth); d > l.MaxDepth {
			return fmt.Errorf("%w: more than %d levels of brackets and chained operators (or, and, unless aside)",
				ErrQueryTooDeep, l.MaxDepth)
		}
	}
	return nil
}

// CheckDepth refuses a parsed expression whose tree is deeper than MaxDepth
// nodes.
func (l Limits) CheckDepth(e parser.Node) error {
	l = l.WithDefaults()
	if l.MaxDepth <= 0 {
		return nil
	}
	if d := treeDepth(e, 1, l.MaxDepth, false); d > l.MaxDepth {
		return fmt.Errorf("%w: the expression tree is more than %d levels deep", ErrQueryTooDeep, l.MaxDepth)
	}
	return nil
}

// treeDepth returns the depth of n, counting n as level, but stops
// descending once it exceeds limit. Unless chains is set, a set operator
// (or, and, unless) directly under another adds no level: a or b or c is
// as deep as a or b.
func treeDepth(n parser.Node, level, limit int, chains bool) int {
	if n == nil || level > limit {
		return level
	}
	deepest := level
	set := !chains && isSetOp(n)
	for child := range parser.ChildrenIter(n) {
		next := level + 1
		if set && isSetOp(child) {
			next = level
		}
		if d := treeDepth(child, next, limit, chains); d > deepest {
			deepest = d
			if deepest > limit {
				break
			}
		}
	}
	return deepest
}

// isSetOp reports whether n is an or, and or unless expression.
func isSetOp(n parser.Node) bool {
	b, ok := n.(*parser.BinaryExpr)
	return ok && (b.Op == parser.LOR || b.Op == parser.LAND || b.Op == parser.LUNLESS)
}

// tooManyPointsMsg is Prometheus's wording for a range query over the limit.
const tooManyPointsMsg = "exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution (?step=XX)"

// CheckRange refuses a range query from start to end every step that would
// return more than MaxPointsPerSeries points per series, in Prometheus's
// words. An instant query (step 0) always passes.
func (l Limits) CheckRange(start, end time.Time, step time.Duration) error {
	if step <= 0 {
		return nil
	}
	if end.Sub(start)/step > MaxPointsPerSeries {
		return rangeTooLong{}
	}
	return nil
}

// rangeTooLong is CheckRange's refusal: Prometheus's message, which clients
// may match, wrapping ErrTooManyPoints.
type rangeTooLong struct{}

func (rangeTooLong) Error() string { return tooManyPointsMsg }
func (rangeTooLong) Unwrap() error { return ErrTooManyPoints }

// CheckSubqueries refuses an expression with a subquery that would evaluate
// more than MaxPointsPerSeries steps per series. The engine evaluates a
// subquery once over the span of its parent (the query's range, or the
// enclosing subquery's) widened by the subquery's range, at the subquery's
// step, and allocates per-step arrays of that length up front; a subquery
// pinned with @ spans only its own range. CheckSubqueries first prepares e
// for evaluation as the engine does (PreprocessExpr: duration expressions,
// @ start() and end()), which rewrites e in place; print or reuse e only
// before calling it.
func (l Limits) CheckSubqueries(e parser.Expr, start, end time.Time, step time.Duration) error {
	l = l.WithDefaults()
	if step < 0 {
		step = 0
	}
	expr, err := promql.PreprocessExpr(e, start, end, step)
	if err != nil {
		return err
	}
	span := time.Duration(0)
	if step > 0 {
		span = end.Sub(start)
	}
	return l.subqueries(expr, span)
}

// subqueries walks n, whose evaluator spans span, checking every subquery.
func (l Limits) subqueries(n parser.Node, span time.Duration) error {
	sq, ok := n.(*parser.SubqueryExpr)
	if ok {
		step := sq.Step
		if step <= 0 {
			step = l.SubqueryStep
		}
		if sq.Timestamp != nil || sq.StartOrEnd != 0 {
			span = 0 // pinned with @: the same window at every parent step
		}
		span = saturatingAdd(span, sq.Range)
		if points := span / step; points > MaxPointsPerSeries {
			return fmt.Errorf("%w: the subquery %s would evaluate %d points per series, more than the limit of %d; "+
				"use a larger subquery step or a shorter range", ErrTooManyPoints, shorten(sq.String()), points, MaxPointsPerSeries)
		}
	}
	for child := range parser.ChildrenIter(n) {
		if err := l.subqueries(child, span); err != nil {
			return err
		}
	}
	return nil
}

// saturatingAdd adds two non-negative durations without wrapping.
func saturatingAdd(a, b time.Duration) time.Duration {
	if b > 0 && a > (1<<63-1)-b {
		return 1<<63 - 1
	}
	return a + b
}

// shorten cuts a quoted expression to a readable length.
func shorten(s string) string {
	const maxLen = 80
	if len(s) <= maxLen {
		return s
	}
	return s[:maxLen] + "…"
}
