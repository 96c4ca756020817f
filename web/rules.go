package web

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/prometheus/model/labels"
)

// Rule types, as Prometheus reports them.
const (
	RuleTypeAlerting  = "alerting"
	RuleTypeRecording = "recording"
)

// Alert and alerting rule states, as Prometheus reports them.
const (
	AlertStateInactive = "inactive"
	AlertStatePending  = "pending"
	AlertStateFiring   = "firing"
)

// Rule health values, as Prometheus reports them.
const (
	RuleHealthUnknown = "unknown"
	RuleHealthGood    = "ok"
	RuleHealthBad     = "err"
)

// RuleGroup is one rule group as the rules endpoint reports it: plain
// values, read from the rule engine by RulesFrom (tests build them).
type RuleGroup struct {
	Name string
	File string
	// Interval is the evaluation interval in seconds.
	Interval float64
	// Limit caps the alerts or series a rule may produce; 0 means none.
	Limit int
	// Rules keeps the order of the rule file.
	Rules          []Rule
	LastEvaluation time.Time
	// EvaluationTime is the duration of the last evaluation in seconds.
	EvaluationTime float64
}

// Rule is an alerting or a recording rule of a RuleGroup.
type Rule struct {
	// Type is RuleTypeAlerting or RuleTypeRecording.
	Type  string
	Name  string
	Query string
	// GraphQuery is a PromQL expression that graphs the rule: Query for a
	// PromQL rule, the PromQL form of a native rule's $value, or empty.
	GraphQuery string
	// Duration ("for") and KeepFiringFor are in seconds; alerting only.
	Duration      float64
	KeepFiringFor float64
	// Labels are the labels the rule adds; the match[] filter reads them.
	Labels labels.Labels
	// Annotations are the rule's annotation templates; alerting only.
	Annotations labels.Labels
	// State is AlertStateInactive, AlertStatePending or AlertStateFiring;
	// alerting only. Empty means inactive.
	State string
	// Alerts are the rule's alerts; inactive (resolved) ones are not
	// reported. Alerting only.
	Alerts []Alert
	// Health is RuleHealthGood, RuleHealthBad or RuleHealthUnknown. Empty
	// means unknown.
	Health    string
	LastError string
	// LastEvaluation is when the rule was last evaluated.
	LastEvaluation time.Time
	// EvaluationTime is the duration of the last evaluation in seconds.
	EvaluationTime float64
}

// Alert is one alert of an alerting rule.
type Alert struct {
	Labels      labels.Labels
	Annotations labels.Labels
	// State is AlertStateInactive, AlertStatePending or AlertStateFiring.
	State string
	// ActiveAt is when the alert became pending; nil omits it.
	ActiveAt *time.Time
	// KeepFiringSince is when the condition stopped holding while
	// keep_firing_for keeps the alert firing; nil omits it.
	KeepFiringSince *time.Time
	// Value is the value of the condition's sample.
	Value float64
}

// RulesFunc returns the current rule groups in their configured order.
type RulesFunc func() []RuleGroup

// The types below are the JSON shapes of Prometheus's /api/v1/rules and
// /api/v1/alerts; field order follows Prometheus.

type ruleDiscovery struct {
	RuleGroups     []apiRuleGroup `json:"groups"`
	GroupNextToken string         `json:"groupNextToken,omitempty"`
}

type apiRuleGroup struct {
	Name           string    `json:"name"`
	File           string    `json:"file"`
	Rules          []any     `json:"rules"`
	Interval       float64   `json:"interval"`
	Limit          int       `json:"limit"`
	EvaluationTime float64   `json:"evaluationTime"`
	LastEvaluation time.Time `json:"lastEvaluation"`
}

type apiAlertingRule struct {
	State          string        `json:"state"`
	Name           string        `json:"name"`
	Query          string        `json:"query"`
	Duration       float64       `json:"duration"`
	KeepFiringFor  float64       `json:"keepFiringFor"`
	Labels         labels.Labels `json:"labels"`
	Annotations    labels.Labels `json:"annotations"`
	Alerts         []apiAlert    `json:"alerts"`
	Health         string        `json:"health"`
	LastError      string        `json:"lastError,omitempty"`
	EvaluationTime float64       `json:"evaluationTime"`
	LastEvaluation time.Time     `json:"lastEvaluation"`
	Type           string        `json:"type"`
}

type apiRecordingRule struct {
	Name           string        `json:"name"`
	Query          string        `json:"query"`
	Labels         labels.Labels `json:"labels"`
	Health         string        `json:"health"`
	LastError      string        `json:"lastError,omitempty"`
	EvaluationTime float64       `json:"evaluationTime"`
	LastEvaluation time.Time     `json:"lastEvaluation"`
	Type           string        `json:"type"`
}

type alertDiscovery struct {
	Alerts []apiAlert `json:"alerts"`
}

type apiAlert struct {
	Labels          labels.Labels `json:"labels"`
	Annotations     labels.Labels `json:"annotations"`
	State           string        `json:"state"`
	ActiveAt        *time.Time    `json:"activeAt,omitempty"`
	KeepFiringSince *time.Time    `json:"keepFiringSince,omitempty"`
	Value           string        `json:"value"`
}

// activeAlerts converts the pending and firing alerts of a rule, never
// returning nil so that the list encodes as [].
func activeAlerts(in []Alert) []apiAlert {
	out := make([]apiAlert, 0, len(in))
	for _, a := range in {
		if a.State == "" || a.State == AlertStateInactive {
			continue
		}
		out = append(out, apiAlert{
			Labels:          a.Labels,
			Annotations:     a.Annotations,
			State:           a.State,
			ActiveAt:        a.ActiveAt,
			KeepFiringSince: a.KeepFiringSince,
			// Unlike sample values, Prometheus writes alert values in
			// exponent notation.
			Value: strconv.FormatFloat(a.Value, 'e', -1, 64),
		})
	}
	return out
}

// rulesFilter holds the parsed parameters of /api/v1/rules.
type rulesFilter struct {
	names, groups, files map[string]bool
	matchers             [][]*labels.Matcher
	alerting, recording  bool
	excludeAlerts        bool
	// groupLimit is the page size; 0 means no paging.
	groupLimit int
	nextToken  string
}

func setOf(values []string) map[string]bool {
	if len(values) == 0 {
		return nil
	}
	m := make(map[string]bool, len(values))
	for _, v := range values {
		m[v] = true
	}
	return m
}

func (h *Handler) parseRulesFilter(r *http.Request) (rulesFilter, *apiError) {
	var f rulesFilter
	if err := r.ParseForm(); err != nil {
		return f, badData(fmt.Errorf("error parsing form values: %w", err))
	}
	f.names = setOf(r.Form["rule_name[]"])
	f.groups = setOf(r.Form["rule_group[]"])
	f.files = setOf(r.Form["file[]"])
	if ms := r.Form["match[]"]; len(ms) > 0 {
		sets, err := h.parseMatchers(ms)
		if err != nil {
			return f, badData(err)
		}
		f.matchers = sets
	}

	q := r.URL.Query()
	switch typ := strings.ToLower(q.Get("type")); typ {
	case "":
		f.alerting, f.recording = true, true
	case "alert":
		f.alerting = true
	case "record":
		f.recording = true
	default:
		return f, invalidParam("type", fmt.Errorf("not supported value %q", typ))
	}

	if s := strings.ToLower(q.Get("exclude_alerts")); s != "" {
		b, err := strconv.ParseBool(s)
		if err != nil {
			return f, invalidParam("exclude_alerts", fmt.Errorf("error converting exclude_alerts: %w", err))
		}
		f.excludeAlerts = b
	}

	limit, token := q.Get("group_limit"), q.Get("group_next_token")
	if token != "" && limit == "" {
		return f, invalidParam("group_next_token",
			errors.New("group_limit needs to be present in order to paginate over the groups"))
	}
	if limit != "" {
		n, err := strconv.ParseInt(limit, 10, 32)
		if err != nil {
			return f, invalidParam("group_limit", fmt.Errorf("group_limit needs to be a valid number: %w", err))
		}
		if n <= 0 {
			return f, invalidParam("group_limit", errors.New("group_limit needs to be greater than 0"))
		}
		f.groupLimit, f.nextToken = int(n), token
	}
	return f, nil
}

// groupToken is the page token naming a group, computed as Prometheus does
// so that clients paging through either server behave alike.
func groupToken(file, name string) string {
	sum := sha256.Sum256([]byte(file + ";" + name))
	return hex.EncodeToString(sum[:])
}

// matchesRule reports whether the rule's labels satisfy any matcher set; no
// sets match every rule.
func matchesRule(sets [][]*labels.Matcher, ls labels.Labels) bool {
	if len(sets) == 0 {
		return true
	}
	for _, set := range sets {
		ok := true
		for _, m := range set {
			if !m.Matches(ls.Get(m.Name)) {
				ok = false
				break
			}
		}
		if ok {
			return true
		}
	}
	return false
}

// convertRule returns the JSON shape of r, or nil when the filter drops it.
func (f *rulesFilter) convertRule(r Rule) any {
	if f.names != nil && !f.names[r.Name] {
		return nil
	}
	if !matchesRule(f.matchers, r.Labels) {
		return nil
	}
	health := r.Health
	if health == "" {
		health = RuleHealthUnknown
	}
	switch r.Type {
	case RuleTypeAlerting:
		if !f.alerting {
			return nil
		}
		state := r.State
		if state == "" {
			state = AlertStateInactive
		}
		var alerts []apiAlert // Prometheus writes null when alerts are excluded.
		if !f.excludeAlerts {
			alerts = activeAlerts(r.Alerts)
		}
		return apiAlertingRule{
			State:          state,
			Name:           r.Name,
			Query:          r.Query,
			Duration:       r.Duration,
			KeepFiringFor:  r.KeepFiringFor,
			Labels:         r.Labels,
			Annotations:    r.Annotations,
			Alerts:         alerts,
			Health:         health,
			LastError:      r.LastError,
			EvaluationTime: r.EvaluationTime,
			LastEvaluation: r.LastEvaluation,
			Type:           RuleTypeAlerting,
		}
	case RuleTypeRecording:
		if !f.recording {
			return nil
		}
		return apiRecordingRule{
			Name:           r.Name,
			Query:          r.Query,
			Labels:         r.Labels,
			Health:         health,
			LastError:      r.LastError,
			EvaluationTime: r.EvaluationTime,
			LastEvaluation: r.LastEvaluation,
			Type:           RuleTypeRecording,
		}
	}
	return nil
}

// rulesList returns the /api/v1/rules endpoint reading groups from get; a
// nil get serves no groups.
func (h *Handler) rulesList(get RulesFunc) apiFunc {
	return func(r *http.Request) apiResult {
		f, apiErr := h.parseRulesFilter(r)
		if apiErr != nil {
			return apiResult{err: apiErr}
		}
		var groups []RuleGroup
		if get != nil {
			groups = get()
		}
		return filterRules(groups, &f)
	}
}

func filterRules(groups []RuleGroup, f *rulesFilter) apiResult {
	for _, g := range groups {
		for _, rule := range g.Rules {
			if rule.Type != RuleTypeAlerting && rule.Type != RuleTypeRecording {
				return apiResult{err: &apiError{typ: errorInternal,
					msg: fmt.Sprintf("failed to assert type of rule '%v'", rule.Name)}}
			}
		}
	}

	res := ruleDiscovery{RuleGroups: []apiRuleGroup{}}
	foundToken := f.nextToken == ""
	for _, g := range groups {
		if !foundToken {
			if groupToken(g.File, g.Name) != f.nextToken {
				continue
			}
			foundToken = true
		}
		if f.groups != nil && !f.groups[g.Name] {
			continue
		}
		if f.files != nil && !f.files[g.File] {
			continue
		}
		out := apiRuleGroup{
			Name:           g.Name,
			File:           g.File,
			Rules:          []any{},
			Interval:       g.Interval,
			Limit:          g.Limit,
			EvaluationTime: g.EvaluationTime,
			LastEvaluation: g.LastEvaluation,
		}
		for _, rule := range g.Rules {
			if v := f.convertRule(rule); v != nil {
				out.Rules = append(out.Rules, v)
			}
		}
		// Like Prometheus, leave out groups whose rules were all filtered.
		if len(out.Rules) == 0 {
			continue
		}
		if f.groupLimit > 0 && len(res.RuleGroups) == f.groupLimit {
			res.GroupNextToken = groupToken(g.File, g.Name)
			break
		}
		res.RuleGroups = append(res.RuleGroups, out)
	}
	if !foundToken {
		return apiResult{err: invalidParam("group_next_token",
			fmt.Errorf("invalid group_next_token '%v'. were rule groups changed?", f.nextToken))}
	}
	return apiResult{data: res}
}

// alertsList returns the /api/v1/alerts endpoint: the pending and firing
// alerts of every alerting rule from get; a nil get serves none.
func alertsList(get RulesFunc) apiFunc {
	return func(*http.Request) apiResult {
		res := alertDiscovery{Alerts: []apiAlert{}}
		if get == nil {
			return apiResult{data: res}
		}
		for _, g := range get() {
			for _, rule := range g.Rules {
				if rule.Type == RuleTypeAlerting {
					res.Alerts = append(res.Alerts, activeAlerts(rule.Alerts)...)
				}
			}
		}
		return apiResult{data: res}
	}
}
