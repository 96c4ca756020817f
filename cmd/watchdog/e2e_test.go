package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// These tests run the real binary as a child process, as a user would.

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

func watchdogBinary(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("end-to-end test skipped in -short mode")
	}
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "watchdog-e2e")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "watchdog")
		out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// proc is a running watchdog.
type proc struct {
	cmd    *exec.Cmd
	url    string
	logs   *syncBuffer // stderr
	output *syncBuffer // stdout
}

type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

var servingRE = regexp.MustCompile(`serving on (http://\S+)`)

// start runs the binary with args and waits for the "serving on" line.
func start(t *testing.T, env []string, args ...string) *proc {
	t.Helper()
	cmd := exec.Command(watchdogBinary(t), args...)
	cmd.Env = append(os.Environ(), env...)
	logs := &syncBuffer{}
	cmd.Stderr = logs
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &proc{cmd: cmd, logs: logs, output: &syncBuffer{}}
	t.Cleanup(func() {
		if p.cmd.ProcessState == nil {
			_ = p.cmd.Process.Kill()
			_ = p.cmd.Wait()
		}
		if t.Failed() {
			t.Logf("watchdog logs:\n%s", logs.String())
		}
	})
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			p.output.Write(append(sc.Bytes(), '\n'))
			if m := servingRE.FindStringSubmatch(sc.Text()); m != nil {
				select {
				case found <- m[1]:
				default:
				}
			}
		}
	}()
	select {
	case p.url = <-found:
	case <-time.After(30 * time.Second):
		t.Fatalf("watchdog did not report its address within 30s; logs:\n%s", logs.String())
	}
	return p
}

// eventually polls f until it returns nil or the deadline passes.
func eventually(t *testing.T, within time.Duration, f func() error) {
	t.Helper()
	deadline := time.Now().Add(within)
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("not true within %s: %v", within, err)
		}
		<-tick.C
	}
}

type apiResult struct {
	Status string `json:"status"`
	Error  string `json:"error"`
	Data   struct {
		ResultType string `json:"resultType"`
		Result     []struct {
			Metric map[string]string `json:"metric"`
			Value  [2]any            `json:"value"`
		} `json:"result"`
	} `json:"data"`
}

func query(base, q string) (*apiResult, error) {
	resp, err := http.Get(base + "/api/v1/query?query=" + url.QueryEscape(q))
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var r apiResult
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		return nil, err
	}
	if r.Status != "success" {
		return nil, fmt.Errorf("query %q: %s", q, r.Error)
	}
	return &r, nil
}

func TestDemoScrapesShopAndItself(t *testing.T) {
	p := start(t, nil, "--web.listen-address", "127.0.0.1:0", "--storage.snapshot-path", filepath.Join(t.TempDir(), "snap"))
	eventually(t, 30*time.Second, func() error {
		r, err := query(p.url, "up == 1")
		if err != nil {
			return err
		}
		jobs := map[string]bool{}
		for _, s := range r.Data.Result {
			jobs[s.Metric["job"]] = true
		}
		if !jobs["shop"] || !jobs["watchdog"] {
			return fmt.Errorf("targets up: %v, want shop and watchdog", jobs)
		}
		return nil
	})
	eventually(t, 30*time.Second, func() error {
		r, err := query(p.url, `sum by (handler) (rate(shop_http_requests_total[30s]))`)
		if err != nil {
			return err
		}
		if len(r.Data.Result) < 3 {
			return fmt.Errorf("rate over shop counters: %d series, want 3 handlers", len(r.Data.Result))
		}
		return nil
	})
}

// target serves a counter that grows by one per scrape.
func target(t *testing.T) *httptest.Server {
	var mu sync.Mutex
	n := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		n++
		v := n
		mu.Unlock()
		fmt.Fprintf(w, "# TYPE e2e_requests_total counter\ne2e_requests_total{path=\"/\"} %d\n", v)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func writeConfig(t *testing.T, dir, targetAddr, snapshot string) string {
	t.Helper()
	cfg := fmt.Sprintf(`global:
  scrape_interval: 1s
  scrape_timeout: 900ms
scrape_configs:
  - job_name: e2e
    static_configs:
      - targets: [%q]
storage:
  snapshot_path: %q
  snapshot_interval: 1h
`, targetAddr, snapshot)
	path := filepath.Join(dir, "watchdog.yml")
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func post(t *testing.T, u, token string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, u, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func sampleCount(t *testing.T, base string) float64 {
	t.Helper()
	r, err := query(base, `count_over_time(e2e_requests_total[1h])`)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Data.Result) != 1 {
		return 0
	}
	var v float64
	fmt.Sscan(r.Data.Result[0].Value[1].(string), &v)
	return v
}

func TestSnapshotSurvivesSIGKILL(t *testing.T) {
	dir := t.TempDir()
	srv := target(t)
	snap := filepath.Join(dir, "data", "snapshot")
	cfg := writeConfig(t, dir, strings.TrimPrefix(srv.URL, "http://"), snap)
	env := []string{"WATCHDOG_TOKEN=e2e-secret"}

	p := start(t, env, "run", "--config", cfg, "--web.listen-address", "127.0.0.1:0")
	eventually(t, 20*time.Second, func() error {
		if n := sampleCount(t, p.url); n < 3 {
			return fmt.Errorf("%v samples stored, want at least 3", n)
		}
		return nil
	})
	if code, body := post(t, p.url+"/api/v1/admin/tsdb/snapshot", ""); code != http.StatusUnauthorized {
		t.Fatalf("snapshot without token: %d %s, want 401", code, body)
	}
	if code, body := post(t, p.url+"/api/v1/admin/tsdb/snapshot", "e2e-secret"); code != http.StatusOK {
		t.Fatalf("snapshot: %d %s", code, body)
	}
	atSnapshot := sampleCount(t, p.url)
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = p.cmd.Wait()
	srv.Close() // nothing new arrives after the restart

	p2 := start(t, env, "run", "--config", cfg, "--web.listen-address", "127.0.0.1:0")
	// The snapshot was taken after atSnapshot was... read just before it, so at
	// least that many samples must be back.
	if got := sampleCount(t, p2.url); got < atSnapshot-1 || got == 0 {
		t.Fatalf("after SIGKILL and restart: %v samples, want about %v from the snapshot", got, atSnapshot)
	}
}

func TestCorruptSnapshotIsReportedAndSkipped(t *testing.T) {
	cases := map[string][]byte{
		"garbage": []byte("this is not a snapshot at all"),
		"empty":   {},
	}
	for name, content := range cases {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			srv := target(t)
			snap := filepath.Join(dir, "snapshot")
			if err := os.WriteFile(snap, content, 0o644); err != nil {
				t.Fatal(err)
			}
			cfg := writeConfig(t, dir, strings.TrimPrefix(srv.URL, "http://"), snap)
			p := start(t, nil, "run", "--config", cfg, "--web.listen-address", "127.0.0.1:0")
			eventually(t, 20*time.Second, func() error {
				if n := sampleCount(t, p.url); n < 1 {
					return fmt.Errorf("no samples yet")
				}
				return nil
			})
			if !strings.Contains(strings.ToLower(p.logs.String()), "snapshot") {
				t.Errorf("logs do not report the bad snapshot:\n%s", p.logs.String())
			}
		})
	}
}

func TestReloadRefusesBadConfigAndKeepsRunning(t *testing.T) {
	dir := t.TempDir()
	srv := target(t)
	cfg := writeConfig(t, dir, strings.TrimPrefix(srv.URL, "http://"), "")
	p := start(t, []string{"WATCHDOG_TOKEN=tok"}, "run", "--config", cfg, "--web.listen-address", "127.0.0.1:0")
	eventually(t, 20*time.Second, func() error {
		if n := sampleCount(t, p.url); n < 2 {
			return fmt.Errorf("%v samples", n)
		}
		return nil
	})
	if code, _ := post(t, p.url+"/-/reload", ""); code == http.StatusOK {
		t.Fatalf("reload without a token succeeded")
	}
	if err := os.WriteFile(cfg, []byte("scrape_configs:\n  - job_name: e2e\n    scrape_intervall: 1s\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, body := post(t, p.url+"/-/reload", "tok")
	if code == http.StatusOK || !strings.Contains(body, "scrape_intervall") {
		t.Fatalf("bad config reload: %d %s, want a refusal naming the unknown key", code, body)
	}
	_ = p.cmd.Process.Signal(syscall.SIGHUP)
	before := sampleCount(t, p.url)
	eventually(t, 20*time.Second, func() error {
		if n := sampleCount(t, p.url); n < before+2 {
			return fmt.Errorf("scraping stopped after a refused reload: %v samples, had %v", n, before)
		}
		return nil
	})
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- p.cmd.Wait() }()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v", err)
		}
	case <-ctx.Done():
		t.Fatal("watchdog did not exit within 20s of SIGTERM")
	}
}

// TestReloadStatusPage: a reload changes the public status page's
// components; one whose matchers do not parse is refused and the page stays.
func TestReloadStatusPage(t *testing.T) {
	dir := t.TempDir()
	srv := target(t)
	cfg := writeConfig(t, dir, strings.TrimPrefix(srv.URL, "http://"), "")
	base, err := os.ReadFile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	p := start(t, []string{"WATCHDOG_TOKEN=tok"}, "run", "--config", cfg, "--web.listen-address", "127.0.0.1:0")
	status := func() string {
		resp, err := http.Get(p.url + "/status.json")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	eventually(t, 20*time.Second, func() error {
		if s := status(); !strings.Contains(s, "All systems") {
			return fmt.Errorf("status page before reload: %s", s)
		}
		return nil
	})
	for _, step := range []struct {
		section string
		ok      bool
		want    string
	}{
		{"status_page:\n  title: Shop\n  components:\n    - name: Checkout\n      matchers: ['job=\"e2e\"']\n", true, `"Checkout"`},
		{"status_page:\n  components:\n    - name: Broken\n      matchers: ['job=~\"(\"']\n", false, `"Checkout"`},
	} {
		if err := os.WriteFile(cfg, append(slices.Clone(base), step.section...), 0o644); err != nil {
			t.Fatal(err)
		}
		code, body := post(t, p.url+"/-/reload", "tok")
		if (code == http.StatusOK) != step.ok {
			t.Fatalf("reload with %q: %d %s", step.section, code, body)
		}
		if s := status(); !strings.Contains(s, step.want) {
			t.Fatalf("after reload with %q: %s, want %s", step.section, s, step.want)
		}
	}
}
