package rules

import "github.com/watchdog-sre/watchdog/internal/selfmetrics"

// The families of the rule groups' metrics, for /metrics (package selfmetrics).
var _ = selfmetrics.Describe(
	selfmetrics.Family{Name: "watchdog_rule_group_iterations_total", Type: selfmetrics.Counter, Help: "Evaluations of the rule group run, by rule group."},
	selfmetrics.Family{Name: "watchdog_rule_group_iterations_missed_total", Type: selfmetrics.Counter, Help: "Evaluations of the rule group skipped because the previous one still ran, by rule group."},
	selfmetrics.Family{Name: "watchdog_rule_evaluations_total", Type: selfmetrics.Counter, Help: "Rule evaluations, by rule group."},
	selfmetrics.Family{Name: "watchdog_rule_evaluation_failures_total", Type: selfmetrics.Counter, Help: "Rule evaluations that failed, by rule group."},
	selfmetrics.Family{Name: "watchdog_rule_group_duration_seconds", Type: selfmetrics.Histogram, Help: "Time to evaluate the rule group, by rule group, in seconds."},
	selfmetrics.Family{Name: "watchdog_rule_native_series_evaluated_total", Type: selfmetrics.Counter, Help: "Series the group's native conditions were evaluated over, by rule group (per evaluation: every series their selectors match)."},
)
