package web

import "github.com/watchdog-sre/watchdog/rules"

// RuleGroups is what the rules endpoints read of the rule engine, as Pager
// is what the paging API reads of the pager: *rules.Manager implements it.
// Groups may be called from any goroutine.
type RuleGroups interface {
	// Groups returns the current groups in their configured order.
	Groups() []*rules.Group
}

// RulesFrom returns the RulesFunc that reads m's groups into the API's view
// at every call; nil when m is nil (no rule engine: the endpoints report
// no groups).
func RulesFrom(m RuleGroups) RulesFunc {
	if m == nil {
		return nil
	}
	return func() []RuleGroup { return ruleGroups(m.Groups()) }
}

// ruleGroups converts the engine's groups to the API's view.
func ruleGroups(groups []*rules.Group) []RuleGroup {
	out := make([]RuleGroup, 0, len(groups))
	for _, g := range groups {
		wg := RuleGroup{
			Name:           g.Name(),
			File:           g.File(),
			Interval:       g.Interval().Seconds(),
			Limit:          g.Limit(),
			LastEvaluation: g.LastEvaluation(),
			EvaluationTime: g.EvaluationDuration().Seconds(),
		}
		for _, r := range g.Rules() {
			wg.Rules = append(wg.Rules, ruleView(r))
		}
		out = append(out, wg)
	}
	return out
}

// ruleView converts one rule and, for an alerting rule, its alerts.
func ruleView(r *rules.Rule) Rule {
	wr := Rule{
		Type:           RuleTypeRecording,
		Name:           r.Name(),
		Query:          r.Query(),
		GraphQuery:     r.GraphQuery(),
		Labels:         r.Labels(),
		Health:         string(r.Health()),
		LastEvaluation: r.LastEvaluation(),
		EvaluationTime: r.EvaluationDuration().Seconds(),
	}
	if err := r.LastError(); err != nil {
		wr.LastError = err.Error()
	}
	if !r.IsAlerting() {
		return wr
	}
	spec := r.Spec()
	wr.Type = RuleTypeAlerting
	wr.Duration = spec.For.Seconds()
	wr.KeepFiringFor = spec.KeepFiringFor.Seconds()
	wr.Annotations = r.Annotations()
	wr.State = r.State().String()
	for _, a := range r.Alerts() {
		wa := Alert{
			Labels:      a.Labels,
			Annotations: a.Annotations,
			State:       a.State.String(),
			Value:       a.Value,
		}
		if !a.ActiveAt.IsZero() {
			t := a.ActiveAt
			wa.ActiveAt = &t
		}
		if !a.KeepFiringSince.IsZero() {
			t := a.KeepFiringSince
			wa.KeepFiringSince = &t
		}
		wr.Alerts = append(wr.Alerts, wa)
	}
	return wr
}
