package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// proc is a started receiver: the watchdog or Alertmanager.
type proc struct {
	cmd       *exec.Cmd
	done      chan struct{}
	base      string // http://host:port
	alertsURL string
	token     string
	logPath   string
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

var servingRE = regexp.MustCompile(`serving on (http://\S+)`)

func startWatchdog(ctx context.Context, bin, dir, db, hook, chanKeys string, extra []string) (*proc, error) {
	storage := ""
	if db != "" {
		storage = "  pager_db: " + strconv.Quote(db)
	}
	cfg := filepath.Join(dir, "watchdog.yml")
	if err := os.WriteFile(cfg, fmt.Appendf(nil, watchdogConfig, storage, hook, chanKeys), 0o644); err != nil {
		return nil, err
	}
	args := append([]string{"run", "--config", cfg, "--web.listen-address", "127.0.0.1:0"}, extra...)
	p, err := startProc(ctx, bin, dir, args, []string{"WATCHDOG_TOKEN=" + stormToken})
	if err != nil {
		return nil, err
	}
	p.token = stormToken
	deadline := time.Now().Add(60 * time.Second)
	for {
		if m := servingRE.FindStringSubmatch(p.stdout()); m != nil {
			p.base = m[1]
			break
		}
		if err := p.wait(deadline); err != nil {
			p.stop()
			return nil, err
		}
	}
	p.alertsURL = p.base + "/api/v2/alerts"
	if err := p.waitReady(deadline); err != nil {
		p.stop()
		return nil, err
	}
	return p, nil
}

func startAlertmanager(ctx context.Context, bin, dir, hook string) (*proc, error) {
	cfg := filepath.Join(dir, "alertmanager.yml")
	if err := os.WriteFile(cfg, fmt.Appendf(nil, alertmanagerConfig, hook), 0o644); err != nil {
		return nil, err
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	p, err := startProc(ctx, bin, dir, []string{"--config.file", cfg, "--storage.path", filepath.Join(dir, "data"),
		"--web.listen-address", addr, "--cluster.listen-address="}, nil)
	if err != nil {
		return nil, err
	}
	p.base = "http://" + addr
	p.alertsURL = p.base + "/api/v2/alerts"
	if err := p.waitReady(time.Now().Add(60 * time.Second)); err != nil {
		p.stop()
		return nil, err
	}
	return p, nil
}

func startProc(ctx context.Context, bin, dir string, args, env []string) (*proc, error) {
	p := &proc{done: make(chan struct{}), logPath: filepath.Join(dir, "output.log")}
	out, err := os.Create(p.logPath)
	if err != nil {
		return nil, err
	}
	p.cmd = exec.CommandContext(ctx, bin, args...)
	p.cmd.Dir = dir
	p.cmd.Stdout, p.cmd.Stderr = out, out
	p.cmd.Env = append(os.Environ(), env...)
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := p.cmd.Start(); err != nil {
		out.Close()
		return nil, err
	}
	go func() { p.cmd.Wait(); out.Close(); close(p.done) }()
	return p, nil
}

func (p *proc) stdout() string {
	b, _ := os.ReadFile(p.logPath)
	return string(b)
}

// wait sleeps a little; an error when the process exited or deadline passed.
func (p *proc) wait(deadline time.Time) error {
	select {
	case <-p.done:
		return fmt.Errorf("exited early; output:\n%s", tail(p.stdout(), 4096))
	case <-time.After(50 * time.Millisecond):
	}
	if time.Now().After(deadline) {
		return fmt.Errorf("not ready in time; output:\n%s", tail(p.stdout(), 4096))
	}
	return nil
}

func (p *proc) waitReady(deadline time.Time) error {
	for {
		resp, err := http.Get(p.base + "/-/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		if err := p.wait(deadline); err != nil {
			return err
		}
	}
}

// stop ends the process with SIGTERM (profiles are written at exit) and
// waits for it, killing it after 30 s.
func (p *proc) stop() {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// rss returns VmRSS and VmHWM in MiB.
func (p *proc) rss() (rss, peak float64) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
	if err != nil {
		return 0, 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, _ := strings.Cut(sc.Text(), ":")
		kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
		switch k {
		case "VmRSS":
			rss = kb / 1024
		case "VmHWM":
			peak = kb / 1024
		}
	}
	return rss, peak
}

// cpu returns the process's user+system CPU time so far.
func (p *proc) cpu() time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	s := string(b)
	if i := strings.LastIndexByte(s, ')'); i >= 0 {
		s = s[i+2:]
	}
	f := strings.Fields(s) // f[0] is field 3 (state); utime is field 14, stime 15
	if len(f) < 13 {
		return 0
	}
	u, _ := strconv.ParseInt(f[11], 10, 64)
	sy, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(u+sy) * time.Second / 100 // USER_HZ
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

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

func numCPU() int { return runtime.NumCPU() }
