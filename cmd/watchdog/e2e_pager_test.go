package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// pagerConfig has a rule that fires at once and a pager whose escalation
// runs in seconds: push at 0s, SMS at 3s, voice at 6s, next level at 9s.
const pagerConfig = `global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files: [rules.yml]
storage:
  pager_db: pager.db
pager:
  users:
    - name: alice
      contact: {push: alice-phone, sms: "+15550100001", voice: "+15550100001"}
      notification_rules:
        - {after: 0s, method: push}
        - {after: 3s, method: sms}
        - {after: 6s, method: voice}
    - name: bob
      contact: {push: bob-phone}
  escalation_policies:
    - name: fast
      levels:
        - {targets: [user:alice], escalate_after: 9s}
        - {targets: [user:bob], escalate_after: 9s}
  channels:
    - {name: push, type: console}
    - {name: sms, type: console}
    - {name: voice, type: console}
  routes:
    - name: all
      group_by: [alertname]
      group_wait: 0s
      escalation_policy: fast
`

const pagerRules = `groups:
  - name: e2e
    rules:
      - alert: AlwaysFiring
        expr: vector(1)
        labels: {severity: page}
        annotations: {summary: it fires at once, runbook_url: https://runbooks.test/always}
`

var pageLineRE = regexp.MustCompile(`(?m)^PAGE (\S+) → (\S+): \[TRIGGER\] (\S+).* incident=(\S+)`)

// pageLines returns the trigger page lines of stdout naming incident id
// (every incident when id is "").
func pageLines(out, id string) []string {
	var lines []string
	for _, m := range pageLineRE.FindAllStringSubmatch(out, -1) {
		if id == "" || m[4] == id {
			lines = append(lines, m[0])
		}
	}
	return lines
}

func TestPagerPagesAndStopsOnAck(t *testing.T) {
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "watchdog.yml")
	for name, text := range map[string]string{"watchdog.yml": pagerConfig, "rules.yml": pagerRules} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	const token = "e2e-token"
	p := start(t, []string{"WATCHDOG_TOKEN=" + token}, "run", "--config", cfgPath, "--web.listen-address", "127.0.0.1:0")

	// The rule fires at once; its first page names the alert.
	var incident string
	eventually(t, 20*time.Second, func() error {
		for _, m := range pageLineRE.FindAllStringSubmatch(p.output.String(), -1) {
			if m[1] == "push" && m[2] == "alice" && strings.HasPrefix(m[3], "AlwaysFiring") {
				incident = m[4]
				return nil
			}
		}
		return fmt.Errorf("no push page for AlwaysFiring yet; stdout:\n%s", p.output.String())
	})

	// Acknowledge through the CLI, which talks to the API.
	var out, errOut bytes.Buffer
	t.Setenv("WATCHDOG_TOKEN", token)
	if code := run([]string{"pager", "--url", p.url, "--by", "alice", "ack", incident}, &out, &errOut); code != 0 {
		t.Fatalf("pager ack: exit %d: %s%s", code, out.String(), errOut.String())
	}
	if !strings.Contains(out.String(), "acknowledged by alice") {
		t.Errorf("pager ack printed %q", out.String())
	}
	ackedAt := time.Now()
	before := len(pageLines(p.output.String(), incident))

	resp, err := http.Get(p.url + "/api/v1/pager/incidents/" + incident)
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Data struct {
			Status  string `json:"status"`
			AckedBy string `json:"acknowledgedBy"`
		} `json:"data"`
	}
	err = json.NewDecoder(resp.Body).Decode(&got)
	resp.Body.Close()
	if err != nil || got.Data.Status != "acknowledged" || got.Data.AckedBy != "alice" {
		t.Fatalf("incident after ack: %+v (%v)", got.Data, err)
	}

	// For two escalation steps past the ack (SMS, voice and the next level
	// would all be due), no further page arrives for the incident.
	deadline := ackedAt.Add(12 * time.Second)
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for time.Now().Before(deadline) {
		if n := len(pageLines(p.output.String(), incident)); n > before {
			t.Fatalf("page after ack:\n%s", strings.Join(pageLines(p.output.String(), incident), "\n"))
		}
		<-tick.C
	}

	// The Alertmanager receiver opens another incident, paged the same way.
	req, _ := http.NewRequest("POST", p.url+"/api/v2/alerts",
		strings.NewReader(`[{"labels":{"alertname":"PostedByCurl","severity":"page"}}]`))
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("POST /api/v2/alerts: %s", resp.Status)
	}
	eventually(t, 10*time.Second, func() error {
		if strings.Contains(p.output.String(), "[TRIGGER] PostedByCurl") {
			return nil
		}
		return fmt.Errorf("no page for PostedByCurl")
	})
}
