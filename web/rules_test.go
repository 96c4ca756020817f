package web

import (
	"encoding/json"
	"net/url"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"
)

// testRuleGroups is a fixed rule set: an alerting rule with a firing, a
// pending and a resolved alert, recording rules, and a failing rule.
func testRuleGroups() []RuleGroup {
	evalShop := time.Date(2024, 5, 1, 12, 0, 0, 500_000_000, time.UTC)
	evalDB := time.Date(2024, 5, 1, 12, 0, 10, 0, time.UTC)
	firingAt := time.Date(2024, 5, 1, 11, 50, 0, 0, time.UTC)
	pendingAt := time.Date(2024, 5, 1, 11, 58, 30, 0, time.UTC)
	keepSince := time.Date(2024, 5, 1, 11, 59, 0, 0, time.UTC)
	resolvedAt := time.Date(2024, 5, 1, 11, 0, 0, 0, time.UTC)
	return []RuleGroup{
		{
			Name:     "shop",
			File:     "/etc/watchdog/rules/shop.yml",
			Interval: 30,
			Rules: []Rule{
				{
					Type:          RuleTypeAlerting,
					Name:          "HighErrorRate",
					Query:         `job:errors:rate5m > 0.1`,
					Duration:      300,
					KeepFiringFor: 120,
					Labels:        labels.FromStrings("severity", "page", "team", "shop"),
					Annotations:   labels.FromStrings("summary", "{{ $labels.instance }} errors at {{ $value }}"),
					State:         AlertStateFiring,
					Alerts: []Alert{
						{
							Labels:          labels.FromStrings("alertname", "HighErrorRate", "instance", "shop-1", "severity", "page", "team", "shop"),
							Annotations:     labels.FromStrings("summary", "shop-1 errors at 0.25"),
							State:           AlertStateFiring,
							ActiveAt:        &firingAt,
							KeepFiringSince: &keepSince,
							Value:           0.25,
						},
						{
							Labels:      labels.FromStrings("alertname", "HighErrorRate", "instance", "shop-2", "severity", "page", "team", "shop"),
							Annotations: labels.FromStrings("summary", "shop-2 errors at 0.15"),
							State:       AlertStatePending,
							ActiveAt:    &pendingAt,
							Value:       0.15,
						},
						{
							Labels:   labels.FromStrings("alertname", "HighErrorRate", "instance", "shop-3", "severity", "page", "team", "shop"),
							State:    AlertStateInactive,
							ActiveAt: &resolvedAt,
							Value:    0.3,
						},
					},
					Health:         RuleHealthGood,
					LastEvaluation: evalShop,
					EvaluationTime: 0.0021,
				},
				{
					Type:           RuleTypeRecording,
					Name:           "job:errors:rate5m",
					Query:          `sum by (job, instance) (rate(errors_total[5m]))`,
					Labels:         labels.FromStrings("team", "shop"),
					Health:         RuleHealthGood,
					LastEvaluation: evalShop,
					EvaluationTime: 0.0005,
				},
			},
			LastEvaluation: evalShop,
			EvaluationTime: 0.003,
		},
		{
			Name:     "db",
			File:     "/etc/watchdog/rules/db.yml",
			Interval: 60,
			Limit:    10,
			Rules: []Rule{
				{
					Type:           RuleTypeAlerting,
					Name:           "DBDown",
					Query:          `up{job="db"} == 0`,
					Duration:       60,
					Labels:         labels.FromStrings("severity", "ticket"),
					Health:         RuleHealthBad,
					LastError:      "query timed out in expression evaluation",
					LastEvaluation: evalDB,
					EvaluationTime: 2,
				},
				{
					Type:  RuleTypeRecording,
					Name:  "db:up:count",
					Query: `count(up{job="db"})`,
				},
			},
			LastEvaluation: evalDB,
			EvaluationTime: 2.5,
		},
		// A group with no rules is never listed.
		{Name: "empty", File: "/etc/watchdog/rules/db.yml", Interval: 60},
	}
}

func TestRulesGolden(t *testing.T) {
	srv, _ := newTestServer(t, Options{Rules: testRuleGroups})
	dbToken := groupToken("/etc/watchdog/rules/db.yml", "db")
	tests := []struct {
		name string
		path string
		form url.Values
		code int
	}{
		{"rules", "/api/v1/rules", nil, 200},
		{"rules_type_alert", "/api/v1/rules", url.Values{"type": {"alert"}}, 200},
		{"rules_type_record", "/api/v1/rules", url.Values{"type": {"RECORD"}}, 200},
		{"rules_rule_name", "/api/v1/rules", url.Values{"rule_name[]": {"DBDown", "job:errors:rate5m"}}, 200},
		{"rules_rule_group", "/api/v1/rules", url.Values{"rule_group[]": {"db"}}, 200},
		{"rules_file", "/api/v1/rules", url.Values{"file[]": {"/etc/watchdog/rules/shop.yml"}}, 200},
		{"rules_exclude_alerts", "/api/v1/rules", url.Values{"exclude_alerts": {"true"}, "type": {"alert"}}, 200},
		{"rules_match", "/api/v1/rules", url.Values{"match[]": {`{severity="page"}`, `{severity="ticket"}`}}, 200},
		{"rules_match_team", "/api/v1/rules", url.Values{"match[]": {`{team=~"sh.*",severity=""}`}}, 200},
		{"rules_no_match", "/api/v1/rules", url.Values{"rule_name[]": {"nope"}}, 200},
		{"rules_group_limit", "/api/v1/rules", url.Values{"group_limit": {"1"}}, 200},
		{"rules_group_next_token", "/api/v1/rules", url.Values{"group_limit": {"1"}, "group_next_token": {dbToken}}, 200},
		{"rules_bad_type", "/api/v1/rules", url.Values{"type": {"alerting"}}, 400},
		{"rules_bad_exclude_alerts", "/api/v1/rules", url.Values{"exclude_alerts": {"maybe"}}, 400},
		{"rules_bad_match", "/api/v1/rules", url.Values{"match[]": {`{severity=`}}, 400},
		{"rules_empty_match", "/api/v1/rules", url.Values{"match[]": {`{severity=~".*"}`}}, 400},
		{"rules_bad_group_limit", "/api/v1/rules", url.Values{"group_limit": {"0"}}, 400},
		{"rules_nan_group_limit", "/api/v1/rules", url.Values{"group_limit": {"ten"}}, 400},
		{"rules_token_without_limit", "/api/v1/rules", url.Values{"group_next_token": {dbToken}}, 400},
		{"rules_bad_token", "/api/v1/rules", url.Values{"group_limit": {"1"}, "group_next_token": {"abc"}}, 400},
		{"alerts", "/api/v1/alerts", nil, 200},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp := do(t, srv, "GET", tc.path, tc.form, nil)
			if resp.code != tc.code {
				t.Errorf("status %d, want %d; body %s", resp.code, tc.code, resp.body)
			}
			if ct := resp.hdr.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q", ct)
			}
			if tc.code == 400 {
				var env envelope
				if err := json.Unmarshal(resp.body, &env); err != nil || env.ErrorType != errorBadData {
					t.Errorf("want bad_data error, got %s", resp.body)
				}
			}
			checkGolden(t, tc.name, resp.body)
		})
	}
}

func TestRulesNoSource(t *testing.T) {
	srv, _ := newTestServer(t, Options{})
	tests := []struct {
		name, path, want string
	}{
		{"rules", "/api/v1/rules", `{"status":"success","data":{"groups":[]}}`},
		{"alerts", "/api/v1/alerts", `{"status":"success","data":{"alerts":[]}}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp := do(t, srv, "GET", tc.path, nil, nil)
			if resp.code != 200 || string(resp.body) != tc.want {
				t.Errorf("got %d %s, want 200 %s", resp.code, resp.body, tc.want)
			}
		})
	}
}

func TestRulesMethodAndType(t *testing.T) {
	bad := func() []RuleGroup {
		return []RuleGroup{{Name: "g", Rules: []Rule{{Type: "other", Name: "x"}}}}
	}
	srv, _ := newTestServer(t, Options{Rules: bad})
	tests := []struct {
		name, method, path string
		code               int
	}{
		{"unknown rule type", "GET", "/api/v1/rules", 500},
		{"alerts skip unknown type", "GET", "/api/v1/alerts", 200},
		// Prometheus serves the rules only to GET.
		{"post rules", "POST", "/api/v1/rules", 405},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp := do(t, srv, tc.method, tc.path, nil, nil)
			if resp.code != tc.code {
				t.Errorf("status %d, want %d; body %s", resp.code, tc.code, resp.body)
			}
		})
	}
}

func TestAlertValueFormat(t *testing.T) {
	tests := []struct {
		v    float64
		want string
	}{
		{1, "1e+00"},
		{0.25, "2.5e-01"},
		{1234.5, "1.2345e+03"},
	}
	for _, tc := range tests {
		t.Run(tc.want, func(t *testing.T) {
			got := activeAlerts([]Alert{{State: AlertStateFiring, Value: tc.v}})
			if len(got) != 1 || got[0].Value != tc.want {
				t.Errorf("got %+v, want value %q", got, tc.want)
			}
		})
	}
}
