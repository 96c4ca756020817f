package e2e

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// reloadRules is the rule file of TestHostileReloadTwoPhase; the reloads
// add a second rule.
const (
	reloadRulesOne = `groups:
  - name: g
    rules:
      - {alert: First, expr: 'vector(1)', labels: {severity: info}}
`
	reloadRulesTwo = reloadRulesOne + `      - {alert: Second, expr: 'vector(1)', labels: {severity: info}}
`
)

// TestHostileReloadTwoPhase (issue #11, "reload is two-phase"): a reload
// whose rule files and scrape jobs are fine but whose pager part is refused
// changes nothing at all — not the rules, not the scrape jobs — and a reload
// with a broken rule file leaves the scrape jobs alone. Before, the parts
// were applied one after another and a late refusal left the earlier ones
// switched.
func TestHostileReloadTwoPhase(t *testing.T) {
	hook := newHookServer(t)
	hc := hostileConfig{
		Pager: strings.ReplaceAll(reloadPager, "HOOK", hook.URL),
		Rules: map[string]string{"rules.yml": reloadRulesOne},
	}
	h := startHostile(t, hc)
	h.fire(t, "TwoPhase")
	hook.waitHit(t, "/push", 1, 15*time.Second)

	extraJob := `
- job_name: added
  static_configs: [{targets: ['127.0.0.1:1']}]
`
	writeRules := func(text string) {
		if err := os.WriteFile(filepath.Join(h.dir, "rules.yml"), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	unchanged := func(step string) {
		t.Helper()
		_, rules := h.get(t, "/api/v1/rules")
		if strings.Contains(string(rules), `"Second"`) {
			t.Errorf("%s: the refused reload switched the rules: %s", step, rules)
		}
		_, targets := h.get(t, "/api/v1/targets")
		if strings.Contains(string(targets), `"added"`) {
			t.Errorf("%s: the refused reload switched the scrape jobs: %s", step, targets)
		}
	}

	// 1. New rules and a new job, with the open incident's policy renamed.
	next := hc
	next.Scrape = extraJob
	next.Pager = strings.NewReplacer("name: default", "name: renamed", "escalation_policy: default", "escalation_policy: renamed").
		Replace(hc.Pager)
	writeRules(reloadRulesTwo)
	h.writeConfig(t, h.configWith(next))
	if code, body := h.reload(t); code == http.StatusOK || !strings.Contains(string(body), "used by open incidents") {
		t.Fatalf("reload renaming the policy in use: %d %s, want a refusal", code, body)
	}
	unchanged("pager refused")

	// 2. A new job with a broken rule file.
	next.Pager = hc.Pager
	writeRules(reloadRulesOne + "      - {alert: Broken, expr: 'sum(('}\n")
	h.writeConfig(t, h.configWith(next))
	if code, body := h.reload(t); code == http.StatusOK {
		t.Fatalf("reload with a broken rule file: %d %s, want a refusal", code, body)
	}
	unchanged("rules refused")

	// 3. Everything fine: all of it applies.
	writeRules(reloadRulesTwo)
	if code, body := h.reload(t); code != http.StatusOK {
		t.Fatalf("good reload: %d %s", code, body)
	}
	// The rules swap before the reload answers; the scrape manager swaps
	// its loops in its own goroutine right after (as Prometheus's
	// discovery does), so the new job may take a moment to be listed.
	eventually(t, 10*time.Second, func() error {
		_, rules := h.get(t, "/api/v1/rules")
		_, targets := h.get(t, "/api/v1/targets")
		if !strings.Contains(string(rules), `"Second"`) || !strings.Contains(string(targets), `"added"`) {
			return fmt.Errorf("the good reload did not apply everything:\nrules %s\ntargets %s", rules, targets)
		}
		return nil
	})
	if v, ok := h.metric(t, `watchdog_config_reloads_total{result="failure"}`); !ok || v != 2 {
		t.Errorf("failed reloads counted %v (present %v), want 2", v, ok)
	}
	// The in-process sinks sit behind bounded queues, visible on /metrics.
	if _, ok := h.metric(t, `watchdog_alert_queue_dropped_total{sink="pager"}`); !ok {
		t.Error("no watchdog_alert_queue_dropped_total for the pager queue")
	}
	h.assertHealthy(t)
}
