package rules

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/storage"
)

var (
	// ErrNoQuery is returned when a PromQL condition is evaluated without a
	// QueryFunc.
	ErrNoQuery = errors.New("no query function")
	// ErrResultType is returned by EngineQueryFunc for a query whose result is
	// neither an instant vector nor a scalar.
	ErrResultType = errors.New("rule result is not a vector or scalar")
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

// Condition is what a rule evaluates: PromQL today, native conditions later.
// Eval returns the samples that hold at t (for an alerting rule, one
// per alert).
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
