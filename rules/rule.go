package rules

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/timestamp"
	"github.com/prometheus/prometheus/promql"
)

// Series names written for alerting rules.
const (
	// AlertsMetric is 1 for every pending or firing alert, labelled with the
	// alert's labels and alertstate.
	AlertsMetric = "ALERTS"
	// AlertsForStateMetric is the ActiveAt (Unix seconds) of every pending or
	// firing alert; the "for" state is restored from it after a restart.
	AlertsForStateMetric = "ALERTS_FOR_STATE"
	// AlertsKeepFiringSinceMetric is the KeepFiringSince (Unix seconds) of
	// every firing alert held by keep_firing_for. Watchdog-specific: it lets
	// an alert inside its keep_firing_for window survive a restart.
	AlertsKeepFiringSinceMetric = "ALERTS_KEEP_FIRING_SINCE"

	alertStateLabel = "alertstate"
)

// Health is the outcome of a rule's last evaluation.
type Health string

// The health values, as the Prometheus API reports them.
const (
	HealthUnknown Health = "unknown"
	HealthGood    Health = "ok"
	HealthBad     Health = "err"
)

// Rule is an alerting or recording rule of a group. Its getters are safe to
// call while the group evaluates.
type Rule struct {
	spec        RuleSpec
	cond        Condition
	labels      labels.Labels // group labels, then rule labels over them
	annotations labels.Labels

	mu       sync.Mutex
	health   Health
	lastErr  error
	lastEval time.Time
	evalDur  time.Duration
	active   Alerts

	// Owned by the evaluating goroutine.
	prevSeries map[string]labels.Labels // series written by the last successful evaluation
}

func newRule(spec RuleSpec, groupLabels map[string]string, cond Condition) *Rule {
	lb := labels.NewBuilder(labels.FromMap(groupLabels))
	for k, v := range spec.Labels {
		lb.Set(k, v)
	}
	return &Rule{
		spec:        spec,
		cond:        cond,
		labels:      lb.Labels(),
		annotations: labels.FromMap(spec.Annotations),
		health:      HealthUnknown,
		active:      Alerts{},
	}
}

// Name is the alert or record name.
func (r *Rule) Name() string { return r.spec.Name() }

// IsAlerting reports whether r is an alerting rule.
func (r *Rule) IsAlerting() bool { return r.spec.Alert != "" }

// Spec returns the rule as written (group labels not merged in).
func (r *Rule) Spec() RuleSpec { return r.spec }

// Query is the rule's condition as text.
func (r *Rule) Query() string { return r.cond.String() }

// GraphQuery returns a PromQL expression that graphs the rule: its
// expression, or for a native rule the PromQL form of its $value; "" if
// there is none.
func (r *Rule) GraphQuery() string {
	if g, ok := r.cond.(interface{ PromQL() string }); ok {
		return g.PromQL()
	}
	return ""
}

// Labels are the rule's labels with the group's merged in.
func (r *Rule) Labels() labels.Labels { return r.labels }

// Annotations are the rule's annotation templates.
func (r *Rule) Annotations() labels.Labels { return r.annotations }

// Health is the outcome of the last evaluation.
func (r *Rule) Health() Health {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.health
}

// LastError is the error of the last evaluation, nil if it succeeded.
func (r *Rule) LastError() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.lastErr
}

// LastEvaluation is the timestamp of the last evaluation, zero before the
// first.
func (r *Rule) LastEvaluation() time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.lastEval
}

// EvaluationDuration is how long the last evaluation took.
func (r *Rule) EvaluationDuration() time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.evalDur
}

// Alerts returns copies of the rule's alerts that are pending or firing,
// ordered by labels (resolved alerts still retained are left out, as in
// Prometheus's ActiveAlerts).
func (r *Rule) Alerts() []*Alert {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []*Alert
	for _, a := range r.active.Sorted() {
		if a.ResolvedAt.IsZero() {
			c := *a
			out = append(out, &c)
		}
	}
	return out
}

// AllAlerts returns copies of all the rule's alerts, including resolved
// ones still retained.
func (r *Rule) AllAlerts() []*Alert {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.active.Clone().Sorted()
}

// State is the highest state of the rule's alerts; StateUnknown before the
// first evaluation.
func (r *Rule) State() AlertState {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.lastEval.IsZero() {
		return StateUnknown
	}
	st := StateInactive
	for _, a := range r.active {
		st = max(st, a.State)
	}
	return st
}

func (r *Rule) setResult(ts time.Time, d time.Duration, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.lastEval, r.evalDur, r.lastErr = ts, d, err
	r.health = HealthGood
	if err != nil {
		r.health = HealthBad
	}
}

func (r *Rule) setAppendError(err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.lastErr, r.health = err, HealthBad
}

func (r *Rule) sameAs(o *Rule) bool {
	return r.Name() == o.Name() && labels.Equal(r.labels, o.labels)
}

// equal reports whether two rules are the same rule definition.
func (r *Rule) equal(o *Rule) bool {
	a, b := r.spec, o.spec
	return a.Alert == b.Alert && a.Record == b.Record && r.cond.String() == o.cond.String() &&
		a.For == b.For && a.KeepFiringFor == b.KeepFiringFor &&
		labels.Equal(r.labels, o.labels) && labels.Equal(r.annotations, o.annotations)
}

// evalRecording runs a recording rule at ts: the result gets the record name
// and the rule labels.
func (r *Rule) evalRecording(ctx context.Context, ts time.Time, g *Group) (promql.Vector, error) {
	vec, err := r.cond.Eval(ctx, ts.Add(-g.queryOffset))
	if err != nil {
		return nil, err
	}
	out := make(promql.Vector, 0, len(vec))
	lb := labels.NewBuilder(labels.EmptyLabels())
	for _, s := range vec {
		lb.Reset(s.Metric)
		lb.Set(labels.MetricName, r.spec.Record)
		r.labels.Range(func(l labels.Label) { lb.Set(l.Name, l.Value) })
		s.Metric = lb.Labels()
		out = append(out, s)
	}
	if out.ContainsSameLabelset() {
		return nil, ErrDuplicateRecordLabelSet
	}
	if g.limit > 0 && len(out) > g.limit {
		return nil, fmt.Errorf("%w of %d with %d series", ErrLimitExceeded, g.limit, len(out))
	}
	return out, nil
}

// evalAlerting runs an alerting rule at ts, steps its state machine and
// returns the ALERTS, ALERTS_FOR_STATE and ALERTS_KEEP_FIRING_SINCE samples.
// prev, when not nil, replaces the rule's alerts before the step (state
// restored from the store).
func (r *Rule) evalAlerting(ctx context.Context, ts time.Time, g *Group, restored Alerts) (promql.Vector, error) {
	vec, err := r.cond.Eval(ctx, ts.Add(-g.queryOffset))
	if err != nil {
		return nil, err
	}
	e := g.expander(r.spec.Alert, ts)
	found := e.alertsFromVector(ctx, vec, r.labels, r.annotations)

	r.mu.Lock()
	prev := r.active
	r.mu.Unlock()
	if restored != nil {
		prev = restored
		for _, a := range prev {
			if a.Annotations.IsEmpty() {
				a.Annotations = e.annotationsFor(ctx, a, r.annotations)
			}
		}
	}
	next, err := Step(prev, found, ts, StepParams{For: r.spec.For, KeepFiringFor: r.spec.KeepFiringFor, Limit: g.limit})
	r.mu.Lock()
	r.active = next
	r.mu.Unlock()
	if err != nil {
		return nil, err
	}
	return alertSamples(r.spec.Alert, next, timestamp.FromTime(ts.Add(-g.queryOffset))), nil
}

// alertSamples returns the series written for the pending and firing alerts.
func alertSamples(name string, as Alerts, t int64) promql.Vector {
	var out promql.Vector
	for _, a := range as.Sorted() {
		if a.State == StateInactive {
			continue
		}
		lb := labels.NewBuilder(a.Labels)
		lb.Set(labels.AlertName, name)
		lb.Set(labels.MetricName, AlertsMetric)
		lb.Set(alertStateLabel, a.State.String())
		out = append(out, promql.Sample{Metric: lb.Labels(), T: t, F: 1})
		lb.Del(alertStateLabel)
		lb.Set(labels.MetricName, AlertsForStateMetric)
		out = append(out, promql.Sample{Metric: lb.Labels(), T: t, F: float64(a.ActiveAt.Unix())})
		if !a.KeepFiringSince.IsZero() {
			lb.Set(labels.MetricName, AlertsKeepFiringSinceMetric)
			out = append(out, promql.Sample{Metric: lb.Labels(), T: t, F: float64(a.KeepFiringSince.Unix())})
		}
	}
	return out
}
