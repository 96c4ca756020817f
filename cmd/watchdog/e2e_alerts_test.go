package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestAlertsReachAlertmanagerAndConsole runs a rule that fires at once and
// checks the alert on /api/v1/alerts, on the console, and at a local
// Alertmanager API v2 server.
func TestAlertsReachAlertmanagerAndConsole(t *testing.T) {
	var (
		mu       sync.Mutex
		received []map[string]any
		paths    []string
	)
	am := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var alerts []map[string]any
		if err := json.Unmarshal(body, &alerts); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		mu.Lock()
		received = append(received, alerts...)
		paths = append(paths, r.Method+" "+r.URL.Path+" "+r.Header.Get("Content-Type"))
		mu.Unlock()
	}))
	defer am.Close()

	dir := t.TempDir()
	srv := target(t)
	rulesFile := filepath.Join(dir, "e2e.rules.yml")
	if err := os.WriteFile(rulesFile, []byte(`groups:
  - name: e2e
    interval: 1s
    rules:
      - alert: RequestsSeen
        expr: e2e_requests_total > 0
        labels: {severity: page}
        annotations:
          summary: 'requests on {{ $labels.path }}: {{ $value }}'
          runbook_url: https://runbooks.example/e2e
`), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := fmt.Sprintf(`global:
  scrape_interval: 1s
  scrape_timeout: 900ms
  evaluation_interval: 1s
  external_labels: {cluster: e2e}
scrape_configs:
  - job_name: e2e
    static_configs:
      - targets: [%q]
rule_files: [e2e.rules.yml]
alerting:
  alertmanagers:
    - static_configs:
        - targets: [%q]
      path_prefix: /prefix
`, strings.TrimPrefix(srv.URL, "http://"), strings.TrimPrefix(am.URL, "http://"))
	cfgPath := filepath.Join(dir, "watchdog.yml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	p := start(t, nil, "run", "--config", cfgPath, "--web.listen-address", "127.0.0.1:0")

	eventually(t, 20*time.Second, func() error {
		mu.Lock()
		defer mu.Unlock()
		for _, a := range received {
			lbls, _ := a["labels"].(map[string]any)
			if lbls["alertname"] == "RequestsSeen" && lbls["cluster"] == "e2e" && lbls["job"] == "e2e" {
				ann, _ := a["annotations"].(map[string]any)
				if ann["runbook_url"] != "https://runbooks.example/e2e" || a["startsAt"] == nil || a["endsAt"] == nil {
					return fmt.Errorf("incomplete alert payload: %v", a)
				}
				return nil
			}
		}
		return fmt.Errorf("alertmanager received %v", received)
	})
	mu.Lock()
	if !strings.HasPrefix(paths[0], "POST /prefix/api/v2/alerts application/json") {
		t.Errorf("alertmanager request = %q, want POST /prefix/api/v2/alerts with JSON", paths[0])
	}
	mu.Unlock()

	resp, err := http.Get(p.url + "/api/v1/alerts")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(b), `"alertname":"RequestsSeen"`) || !strings.Contains(string(b), `"state":"firing"`) {
		t.Errorf("/api/v1/alerts = %s, want the firing alert", b)
	}
	eventually(t, 5*time.Second, func() error {
		if out := p.output.String(); !strings.Contains(out, "FIRING") || !strings.Contains(out, "RequestsSeen") {
			return fmt.Errorf("console output has no FIRING line:\n%s", out)
		}
		return nil
	})
}

// alertsActiveAt returns the activeAt of each alert on /api/v1/alerts by
// alertname.
func alertsActiveAt(t *testing.T, base string) map[string]string {
	t.Helper()
	resp, err := http.Get(base + "/api/v1/alerts")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var r struct {
		Data struct {
			Alerts []struct {
				Labels   map[string]string `json:"labels"`
				State    string            `json:"state"`
				ActiveAt string            `json:"activeAt"`
			} `json:"alerts"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, a := range r.Data.Alerts {
		out[a.Labels["alertname"]] = a.State + "@" + a.ActiveAt
	}
	return out
}

// TestPendingAlertResumesForClockAfterSIGKILL checks that a pending alert's
// `for` clock survives a crash: after a snapshot, SIGKILL and restart, the
// alert is pending with the same activeAt instead of starting over.
func TestPendingAlertResumesForClockAfterSIGKILL(t *testing.T) {
	dir := t.TempDir()
	srv := target(t)
	if err := os.WriteFile(filepath.Join(dir, "r.yml"), []byte(`groups:
  - name: restore
    interval: 1s
    rules:
      - alert: SlowBurn
        expr: e2e_requests_total > 0
        for: 1h
`), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := fmt.Sprintf(`global:
  scrape_interval: 1s
  scrape_timeout: 900ms
  evaluation_interval: 1s
scrape_configs:
  - job_name: e2e
    static_configs:
      - targets: [%q]
rule_files: [r.yml]
storage:
  snapshot_path: snap
  snapshot_interval: 1h
`, strings.TrimPrefix(srv.URL, "http://"))
	cfgPath := filepath.Join(dir, "watchdog.yml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	env := []string{"WATCHDOG_TOKEN=tok"}
	p := start(t, env, "run", "--config", cfgPath, "--web.listen-address", "127.0.0.1:0")
	var before string
	eventually(t, 20*time.Second, func() error {
		before = alertsActiveAt(t, p.url)["SlowBurn"]
		if !strings.HasPrefix(before, "pending@") {
			return fmt.Errorf("SlowBurn = %q, want pending", before)
		}
		return nil
	})
	activeBefore := parseActiveAt(t, before)
	// Let the alert be pending for a while (ALERTS_FOR_STATE written every
	// evaluation), then snapshot and crash.
	eventually(t, 20*time.Second, func() error {
		if pending := time.Since(activeBefore); pending < 6*time.Second {
			return fmt.Errorf("pending for %s only", pending)
		}
		return nil
	})
	if code, body := post(t, p.url+"/api/v1/admin/tsdb/snapshot", "tok"); code != http.StatusOK {
		t.Fatalf("snapshot: %d %s", code, body)
	}
	_ = p.cmd.Process.Kill()
	_ = p.cmd.Wait()

	restartAt := time.Now()
	p2 := start(t, env, "run", "--config", cfgPath, "--web.listen-address", "127.0.0.1:0")
	var after string
	eventually(t, 20*time.Second, func() error {
		if after = alertsActiveAt(t, p2.url)["SlowBurn"]; after == "" {
			return fmt.Errorf("SlowBurn not active yet after restart")
		}
		return nil
	})
	// As Prometheus, the downtime is not counted as pending time, so activeAt
	// moves later by about the downtime; but the time spent pending before the
	// crash (≥ 6s) is kept: a clock that started over would be at restartAt.
	activeAfter := parseActiveAt(t, after)
	if !strings.HasPrefix(after, "pending@") || activeAfter.Before(activeBefore) ||
		activeAfter.After(restartAt.Add(-4*time.Second)) {
		t.Fatalf("after restart SlowBurn = %q (restart at %s); before the crash %q: the for clock did not resume",
			after, restartAt.Format(time.RFC3339Nano), before)
	}
}

func parseActiveAt(t *testing.T, stateAt string) time.Time {
	t.Helper()
	_, at, _ := strings.Cut(stateAt, "@")
	ts, err := time.Parse(time.RFC3339Nano, at)
	if err != nil {
		t.Fatalf("activeAt %q: %v", stateAt, err)
	}
	return ts
}
