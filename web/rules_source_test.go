package web

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql"

	"github.com/watchdog-sre/watchdog/rules"
)

// RulesFrom reads a rule manager's groups into the API's view: recording
// and alerting rules, an alert with its activeAt, a rule's error.
func TestRulesFrom(t *testing.T) {
	if RulesFrom(nil) != nil {
		t.Error("RulesFrom(nil) is not nil")
	}
	file := filepath.Join(t.TempDir(), "rules.yml")
	if err := os.WriteFile(file, []byte(`groups:
  - name: g
    interval: 30s
    rules:
      - record: r:sum
        expr: sum(up)
      - alert: Down
        expr: up == 0
        for: 1m
        keep_firing_for: 2m
        annotations: {summary: "{{ $labels.instance }} down"}
      - alert: Broken
        expr: broken
`), 0o644); err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1_700_000_000, 0).UTC()
	m := rules.NewManager(rules.Options{
		Now: func() time.Time { return now },
		Query: func(_ context.Context, q string, ts time.Time) (promql.Vector, error) {
			if q == "broken" {
				return nil, os.ErrInvalid
			}
			return promql.Vector{{T: ts.UnixMilli(), F: 0, Metric: labels.FromStrings("instance", "a")}}, nil
		},
	})
	if err := m.Update(time.Minute, []string{file}); err != nil {
		t.Fatal(err)
	}
	m.Groups()[0].Eval(context.Background(), now)
	gs := RulesFrom(m)()
	if len(gs) != 1 || gs[0].Name != "g" || gs[0].File != file || gs[0].Interval != 30 || len(gs[0].Rules) != 3 {
		t.Fatalf("groups %+v", gs)
	}
	rec, down, broken := gs[0].Rules[0], gs[0].Rules[1], gs[0].Rules[2]
	if rec.Type != RuleTypeRecording || rec.Name != "r:sum" || rec.Query != "sum(up)" || rec.Health != RuleHealthGood {
		t.Errorf("recording rule %+v", rec)
	}
	if down.Type != RuleTypeAlerting || down.Duration != 60 || down.KeepFiringFor != 120 || down.State != AlertStatePending ||
		down.Annotations.Get("summary") == "" || len(down.Alerts) != 1 {
		t.Fatalf("alerting rule %+v", down)
	}
	if a := down.Alerts[0]; a.Labels.Get("instance") != "a" || a.State != AlertStatePending || a.ActiveAt == nil ||
		!a.ActiveAt.Equal(now) || a.KeepFiringSince != nil {
		t.Errorf("alert %+v", a)
	}
	if broken.Health != RuleHealthBad || broken.LastError == "" {
		t.Errorf("failing rule %+v", broken)
	}
}
