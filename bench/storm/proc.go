package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"time"

	"github.com/watchdog-sre/watchdog/bench/internal/benchproc"
	"github.com/watchdog-sre/watchdog/internal/proctest"
)

// proc is a started receiver: the watchdog or Alertmanager.
type proc struct {
	*proctest.Proc
	base      string // http://host:port
	alertsURL string
	token     string
}

const stormToken = "storm-token"

// watchdogConfig pages one user through the webhook channel "push" once
// per group: one incident, one notification.
const watchdogConfig = `global:
  scrape_interval: 15s
  evaluation_interval: 15s
storage:
  retention: 1h
%s
pager:
  users:
    - {name: oncall, contact: {push: oncall}}
  escalation_policies:
    - name: storm
      levels:
        - {targets: [user:oncall], escalate_after: 1h}
  channels:
    - {name: push, type: webhook, url: "%s"%s}
  routes:
    - {name: storm, group_by: [group], group_wait: 0s, escalation_policy: storm}
`

// alertmanagerConfig is the same routing in Alertmanager.
const alertmanagerConfig = `route:
  receiver: hook
  group_by: [group]
  group_wait: 0s
  group_interval: 5m
  repeat_interval: 4h
receivers:
  - name: hook
    webhook_configs:
      - url: "%s"
        send_resolved: false
`

func startWatchdog(bin, dir, db, hook, chanKeys string, extra []string) (*proc, error) {
	storage := ""
	if db != "" {
		storage = "  pager_db: " + strconv.Quote(db)
	}
	cfg := filepath.Join(dir, "watchdog.yml")
	if err := os.WriteFile(cfg, fmt.Appendf(nil, watchdogConfig, storage, hook, chanKeys), 0o644); err != nil {
		return nil, err
	}
	return startProc(bin, dir, func(addr string) []string {
		return append([]string{"run", "--config", cfg, "--web.listen-address", addr}, extra...)
	}, stormToken)
}

func startAlertmanager(bin, dir, hook string) (*proc, error) {
	cfg := filepath.Join(dir, "alertmanager.yml")
	if err := os.WriteFile(cfg, fmt.Appendf(nil, alertmanagerConfig, hook), 0o644); err != nil {
		return nil, err
	}
	return startProc(bin, dir, func(addr string) []string {
		return []string{"--config.file", cfg, "--storage.path", filepath.Join(dir, "data"),
			"--web.listen-address", addr, "--cluster.listen-address="}
	}, "")
}

// startProc runs bin with args(a free loopback address) in dir until its
// /-/ready answers; a token is given to it as WATCHDOG_TOKEN.
func startProc(bin, dir string, args func(addr string) []string, token string) (*proc, error) {
	port, err := proctest.FreePort()
	if err != nil {
		return nil, err
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	p := &proc{Proc: &proctest.Proc{Bin: bin, Args: args(addr), Dir: dir, ReadyURL: "http://" + addr + "/-/ready"},
		base: "http://" + addr, alertsURL: "http://" + addr + "/api/v2/alerts", token: token}
	if token != "" {
		p.Env = []string{"WATCHDOG_TOKEN=" + token}
	}
	if err := p.Run(); err != nil {
		return nil, err
	}
	return p, nil
}

// rss returns VmRSS and VmHWM in MiB (0 when unreadable).
func (p *proc) rss() (rss, peak float64) {
	r, _ := benchproc.Status(p.Pid(), "VmRSS")
	h, _ := benchproc.Status(p.Pid(), "VmHWM")
	return float64(r) / (1 << 20), float64(h) / (1 << 20)
}

// cpu returns the process's user+system CPU time so far (0 when
// unreadable).
func (p *proc) cpu() time.Duration {
	d, _ := benchproc.CPU(p.Pid())
	return d
}

// countAlerts returns how many firing alerts GET /api/v2/alerts lists.
func (p *proc) countAlerts(ctx context.Context) (int, error) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, p.base+"/api/v2/alerts?active=true&silenced=true&inhibited=true", nil)
	if p.token != "" {
		req.Header.Set("Authorization", "Bearer "+p.token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("status %s", resp.Status)
	}
	var alerts []json.RawMessage
	if err := json.NewDecoder(resp.Body).Decode(&alerts); err != nil {
		return 0, err
	}
	return len(alerts), nil
}

func numCPU() int { return runtime.NumCPU() }
