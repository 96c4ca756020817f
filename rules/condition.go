package rules

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/storage"

	"github.com/watchdog-sre/watchdog/evaluator"
)

var (
	// ErrNoQuery is returned when a PromQL condition is evaluated without a
	// QueryFunc.
	ErrNoQuery = errors.New("no query function")
	// ErrResultType is returned by EngineQueryFunc for a query whose result is
	// neither an instant vector nor a scalar.
	ErrResultType = errors.New("rule result is not a vector or scalar")
	// ErrNoNativeReader is returned when a native condition is evaluated
	// without a Reader (Options.Native).
	ErrNoNativeReader = errors.New("no store to evaluate native conditions on (Options.Native is not set)")
	// ErrNotCompiled is returned when a NativeCondition without a compiled
	// condition is evaluated (build one with NewNativeCondition).
	ErrNotCompiled = errors.New("native condition not compiled")
)

// QueryFunc runs an instant PromQL query at t.
type QueryFunc func(ctx context.Context, q string, t time.Time) (promql.Vector, error)

// EngineQueryFunc returns a QueryFunc that runs queries on engine over q. A
// scalar result becomes a one-element vector without labels, as in
// Prometheus.
func EngineQueryFunc(engine *promql.Engine, q storage.Queryable) QueryFunc {
	return func(ctx context.Context, qs string, t time.Time) (promql.Vector, error) {
		query, err := engine.NewInstantQuery(ctx, q, nil, qs, t)
		if err != nil {
			return nil, err
		}
		defer query.Close()
		res := query.Exec(ctx)
		if res.Err != nil {
			return nil, res.Err
		}
		switch v := res.Value.(type) {
		case promql.Vector:
			return v, nil
		case promql.Scalar:
			return promql.Vector{promql.Sample{T: v.T, F: v.V, Metric: labels.EmptyLabels()}}, nil
		default:
			return nil, fmt.Errorf("%w: %s", ErrResultType, res.Value.Type())
		}
	}
}

// Condition is what a rule evaluates: a PromQLCondition or a
// NativeCondition. Eval returns the samples that hold at t (for an alerting
// rule, one per alert), labelled as a PromQL result would be (no __name__
// once the value is computed); String is the condition as shown in the API
// and handed to NotifyFunc.
type Condition interface {
	Eval(ctx context.Context, t time.Time) (promql.Vector, error)
	String() string
}

// PromQLCondition is a Condition that runs Expr through Query.
type PromQLCondition struct {
	Expr  string
	Query QueryFunc
}

// Eval runs the expression at t.
func (c PromQLCondition) Eval(ctx context.Context, t time.Time) (promql.Vector, error) {
	if c.Query == nil {
		return nil, ErrNoQuery
	}
	return c.Query(ctx, c.Expr, t)
}

// String returns the expression.
func (c PromQLCondition) String() string { return c.Expr }

// PromQL returns the expression.
func (c PromQLCondition) PromQL() string { return c.Expr }

// NativeCondition is a Condition that runs a compiled native condition (see
// package evaluator) over Reader. Its samples carry the series labels
// without __name__, or with By only the By labels, as the equivalent PromQL
// (`sum by (...)`) would. The compiled condition keeps windows between
// evaluations: each rule of each group has its own (see newCondition).
type NativeCondition struct {
	Spec   evaluator.Spec
	Cond   *evaluator.Condition // compiled Spec (NewNativeCondition); Eval fails without it
	Reader evaluator.Reader
	err    error // why Spec did not compile, returned by Eval
}

// NewNativeCondition compiles spec once into a condition run over r. On
// error it also returns a condition whose Eval returns that error.
func NewNativeCondition(spec evaluator.Spec, r evaluator.Reader) (NativeCondition, error) {
	c := NativeCondition{Spec: spec, Reader: r}
	cond, err := evaluator.Compile(spec, evaluator.Options{})
	if err != nil {
		c.err = fmt.Errorf("compile native condition: %w", err)
		return c, c.err
	}
	c.Cond = cond
	return c, nil
}

// Eval runs the condition at t. A failure on some series (an expr run-time
// error or panic) fails the whole evaluation, with an error wrapping
// evaluator.ErrRuntime, as a failing PromQL query does: the rule's alerts
// keep their state until an evaluation succeeds.
func (c NativeCondition) Eval(ctx context.Context, t time.Time) (vec promql.Vector, err error) {
	switch {
	case c.err != nil:
		return nil, c.err
	case c.Cond == nil:
		return nil, ErrNotCompiled
	case c.Reader == nil:
		return nil, ErrNoNativeReader
	}
	cond := c.Cond
	defer func() {
		// The evaluator recovers per series; this guards the rest, so that
		// one rule cannot stop its group.
		if p := recover(); p != nil {
			vec, err = nil, fmt.Errorf("%w: panic: %v", evaluator.ErrRuntime, p)
		}
	}()
	vec, err = cond.Eval(ctx, c.Reader, t)
	if err != nil {
		return nil, err
	}
	return vec, nil
}

// PromQL returns the PromQL form of the condition's $value, to graph the
// rule, or "" (see evaluator.Condition.PromQL).
func (c NativeCondition) PromQL() string {
	if c.Cond == nil {
		return ""
	}
	return c.Cond.PromQL()
}

// String returns the condition in rule-file form: "series: ... when: ...".
func (c NativeCondition) String() string {
	if c.Cond != nil {
		return c.Cond.String()
	}
	s := "series: " + c.Spec.Series + " when: " + c.Spec.When
	if len(c.Spec.By) > 0 {
		s += " by: [" + strings.Join(c.Spec.By, ", ") + "]"
	}
	if c.Spec.Value != "" {
		s += " value: " + c.Spec.Value
	}
	return s
}

// newCondition returns the condition of a rule spec, compiling a native one:
// a group calls it once per rule when it is built (a load or reload), so
// each group's rules own their compiled conditions and their windows. A
// spec that does not compile (ParseFile refuses those; a spec built in code
// may) gives a condition whose evaluations fail with the compile error.
func newCondition(rs RuleSpec, opts *Options) Condition {
	if rs.IsNative() {
		c, _ := NewNativeCondition(rs.NativeSpec(), opts.Native)
		return c
	}
	return PromQLCondition{Expr: rs.Expr, Query: opts.Query}
}
