package e2e

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// The hostile-input suite (issue #11): every test drives the real binary
// through an input a careless operator or an attacker could send, asserts the
// fixed behaviour and then asserts that the process is still healthy — alive,
// answering, a control target scraped on time, and peak RSS under a bound.
//
// The control target is a loopback exporter scraped every second by the job
// "control"; `watchdog_scrape_missed_total{job="control"}` must stay 0 and
// its `up` must stay 1 through every hostile input.

// defaultMaxRSSMiB bounds the peak resident set (VmHWM) of a watchdog under
// a hostile input unless a test states its own bound. An idle watchdog with
// the control job peaks at about 40 MiB; the query reproductions of #11
// reached 4.7 GB before the admission checks.
const defaultMaxRSSMiB = 400

// hostileConfig is the configuration of one hostile run. Every YAML fragment
// is indented as a top-level section body would be (list items for Scrape).
type hostileConfig struct {
	// Scrape holds extra scrape_configs list items (YAML, starting "- job_name").
	Scrape string
	// Rules maps rule file names (relative to the run's directory) to their text;
	// every file is listed in rule_files.
	Rules map[string]string
	// Pager is the body of the pager: section; "" leaves the pager out.
	Pager string
	// Storage holds extra keys of the storage: section.
	Storage string
	// Extra is appended as further top-level YAML.
	Extra string
	// Files are written into the run's directory before start (name → text).
	Files map[string]string
	// Args are extra command-line arguments after `run --config FILE`.
	Args []string
	// Env are extra environment variables (KEY=value).
	Env []string
	// MaxRSSMiB bounds the peak RSS checked by assertHealthy (default defaultMaxRSSMiB).
	MaxRSSMiB int
	// ExternalLabels are the global external_labels.
	ExternalLabels map[string]string
	// Retention is storage.retention (default 2h; the store garbage-collects
	// every tenth of a retention shorter than ten minutes).
	Retention string
}

// hostile is a running watchdog under a hostile test.
type hostile struct {
	*watchdog
	cmd        *exec.Cmd
	done       chan struct{}
	dir        string
	configPath string
	control    *httptest.Server
	controlHit atomic.Int64
	maxRSS     int64 // bytes
	hc         hostileConfig
}

// needBinary skips in -short mode and fails when the binary did not build.
func needBinary(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("end-to-end tests skipped in -short mode")
	}
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	if binary == "" {
		t.Fatal("the watchdog binary was not built")
	}
}

// startHostile writes the configuration of hc (with the control job) into a
// temporary directory, starts the binary on a free loopback port and waits
// until it serves and the control target has been scraped once.
func startHostile(t *testing.T, hc hostileConfig) *hostile {
	t.Helper()
	needBinary(t)
	h := &hostile{dir: t.TempDir(), done: make(chan struct{}), hc: hc}
	h.maxRSS = int64(hc.MaxRSSMiB) << 20
	if h.maxRSS == 0 {
		h.maxRSS = defaultMaxRSSMiB << 20
	}
	h.control = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		n := h.controlHit.Add(1)
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		fmt.Fprintf(w, "# TYPE control_scrapes_total counter\ncontrol_scrapes_total %d\ncontrol_ok 1\n", n)
	}))
	t.Cleanup(h.control.Close)
	writeFiles(t, h.dir, hc.Files)
	writeFiles(t, h.dir, hc.Rules)
	h.configPath = filepath.Join(h.dir, "watchdog.yml")
	h.writeConfig(t, h.configText(""))

	h.watchdog = &watchdog{stdout: newSyncBuffer(), stderr: newSyncBuffer()}
	args := append([]string{"run", "--config", h.configPath, "--web.listen-address", "127.0.0.1:0"}, hc.Args...)
	h.cmd = exec.Command(binary, args...)
	h.cmd.Stdout, h.cmd.Stderr = h.watchdog.stdout, h.watchdog.stderr
	h.cmd.Dir = h.dir
	h.cmd.Env = append(append(os.Environ(), "WATCHDOG_TOKEN="), hc.Env...)
	if err := h.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { h.cmd.Wait(); close(h.done) }()
	t.Cleanup(func() {
		h.stop(10 * time.Second)
		if t.Failed() {
			t.Logf("watchdog stdout (last 4 KiB):\n%s\nwatchdog stderr (last 8 KiB):\n%s",
				tail(h.watchdog.stdout.String(), 4096), tail(h.watchdog.stderr.String(), 8192))
		}
	})
	eventually(t, 30*time.Second, func() error {
		if !h.alive() {
			return fmt.Errorf("watchdog exited early:\n%s%s", h.watchdog.stdout, h.watchdog.stderr)
		}
		out := h.watchdog.stdout.String()
		u, tok := servingRE.FindStringSubmatch(out), tokenRE.FindStringSubmatch(out)
		if u == nil || tok == nil {
			return fmt.Errorf("no URL and token on stdout yet:\n%s", out)
		}
		h.url, h.token = u[1], tok[1]
		return nil
	})
	eventually(t, 15*time.Second, func() error {
		if v, ok := h.metric(t, `watchdog_scrape_missed_total{job="control"}`); !ok || h.controlHit.Load() == 0 {
			return fmt.Errorf("control target not scraped yet (missed series present: %v, value %v)", ok, v)
		}
		return nil
	})
	return h
}

// configText renders the configuration; rulesOverride, when not "", replaces
// the rule_files list body.
func (h *hostile) configText(rulesOverride string) string {
	var b strings.Builder
	b.WriteString("global:\n  scrape_interval: 1s\n  scrape_timeout: 900ms\n  evaluation_interval: 1s\n")
	if len(h.hc.ExternalLabels) > 0 {
		b.WriteString("  external_labels:\n")
		for _, k := range slices.Sorted(maps.Keys(h.hc.ExternalLabels)) {
			b.WriteString("    " + k + ": " + strconv.Quote(h.hc.ExternalLabels[k]) + "\n")
		}
	}
	b.WriteString("scrape_configs:\n  - job_name: control\n    static_configs:\n      - targets: ['" +
		strings.TrimPrefix(h.control.URL, "http://") + "']\n")
	b.WriteString(indent(h.hc.Scrape, "  "))
	retention := h.hc.Retention
	if retention == "" {
		retention = "2h"
	}
	b.WriteString("storage:\n  retention: " + retention + "\n")
	b.WriteString(indent(h.hc.Storage, "  "))
	if rulesOverride != "" {
		b.WriteString("rule_files:\n" + indent(rulesOverride, "  "))
	} else if len(h.hc.Rules) > 0 {
		b.WriteString("rule_files:\n")
		for name := range h.hc.Rules {
			b.WriteString("  - " + strconv.Quote(filepath.Join(h.dir, name)) + "\n")
		}
	}
	if h.hc.Pager != "" {
		b.WriteString("pager:\n" + indent(h.hc.Pager, "  "))
	}
	if h.hc.Extra != "" {
		b.WriteString(strings.TrimRight(h.hc.Extra, "\n") + "\n")
	}
	return b.String()
}

// indent prefixes every non-empty line of text with prefix and ends it with
// a newline.
func indent(text, prefix string) string {
	text = strings.Trim(text, "\n")
	if strings.TrimSpace(text) == "" {
		return ""
	}
	lines := strings.Split(text, "\n")
	// Strip the common indentation of the fragment first.
	common := -1
	for _, l := range lines {
		if strings.TrimSpace(l) == "" {
			continue
		}
		n := len(l) - len(strings.TrimLeft(l, " "))
		if common < 0 || n < common {
			common = n
		}
	}
	var b strings.Builder
	for _, l := range lines {
		if strings.TrimSpace(l) == "" {
			b.WriteString("\n")
			continue
		}
		b.WriteString(prefix + l[common:] + "\n")
	}
	return b.String()
}

// writeConfig replaces the configuration file with text (complete YAML).
// Use h.configWith to change one part of the hostile configuration.
func (h *hostile) writeConfig(t *testing.T, text string) {
	t.Helper()
	if err := os.WriteFile(h.configPath+".tmp", []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(h.configPath+".tmp", h.configPath); err != nil {
		t.Fatal(err)
	}
}

// configWith renders the configuration with hc's parts replaced: the
// control job stays. Write it with writeConfig, then reload.
func (h *hostile) configWith(hc hostileConfig) string {
	next := &hostile{dir: h.dir, control: h.control, hc: hc}
	return next.configText("")
}

// reload asks the running watchdog to reload its configuration file.
func (h *hostile) reload(t *testing.T) (int, []byte) {
	t.Helper()
	return h.post(t, "/-/reload", "", nil, true)
}

// do sends one request with a 30 s client timeout and returns the response
// (body already read and closed) and its body.
func (h *hostile) do(t *testing.T, method, path string, hdr http.Header, body []byte) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, h.url+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, vs := range hdr {
		req.Header[k] = vs
	}
	resp, err := (&http.Client{Timeout: 30 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}).Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", method, path, err)
	}
	return resp, b
}

// get sends a GET and returns the status code and body.
func (h *hostile) get(t *testing.T, path string) (int, []byte) {
	t.Helper()
	resp, b := h.do(t, http.MethodGet, path, nil, nil)
	return resp.StatusCode, b
}

// post sends a POST with the given content type (none when "") and, when
// withToken, the API token.
func (h *hostile) post(t *testing.T, path, contentType string, body []byte, withToken bool) (int, []byte) {
	t.Helper()
	hdr := http.Header{}
	if contentType != "" {
		hdr.Set("Content-Type", contentType)
	}
	if withToken {
		hdr.Set("Authorization", "Bearer "+h.token)
	}
	resp, b := h.do(t, http.MethodPost, path, hdr, body)
	return resp.StatusCode, b
}

// metric returns the value of one exact series line of /metrics, e.g.
// `watchdog_scrape_missed_total{job="control"}`, and whether it was there.
func (h *hostile) metric(t *testing.T, series string) (float64, bool) {
	t.Helper()
	code, body := h.get(t, "/metrics")
	if code != http.StatusOK {
		t.Fatalf("/metrics answered %d: %s", code, tail(string(body), 512))
	}
	return findMetric(body, series)
}

// findMetric finds series in an exposition body.
func findMetric(body []byte, series string) (float64, bool) {
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		rest, ok := strings.CutPrefix(line, series+" ")
		if !ok {
			continue
		}
		if i := strings.IndexByte(rest, ' '); i >= 0 {
			rest = rest[:i] // a timestamp follows
		}
		v, err := strconv.ParseFloat(rest, 64)
		if err != nil {
			return 0, false
		}
		return v, true
	}
	return 0, false
}

// alive reports whether the process is still running.
func (h *hostile) alive() bool {
	select {
	case <-h.done:
		return false
	default:
		return true
	}
}

// logs returns everything the process wrote to stderr so far.
func (h *hostile) logs() string { return h.watchdog.stderr.String() }

// waitLog waits until stderr has a line matching re (stderr reaches the
// test through a pipe, a little after the process wrote it).
func (h *hostile) waitLog(t *testing.T, re *regexp.Regexp) {
	t.Helper()
	eventually(t, 5*time.Second, func() error {
		if !re.MatchString(h.logs()) {
			return fmt.Errorf("no log line matching %s:\n%s", re, tail(h.logs(), 4096))
		}
		return nil
	})
}

// output returns everything the process wrote to stdout so far.
func (h *hostile) output() string { return h.watchdog.stdout.String() }

// peakRSS reads the process's peak resident set (VmHWM) in bytes.
func (h *hostile) peakRSS(t *testing.T) int64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", h.cmd.Process.Pid))
	if err != nil {
		t.Skipf("no /proc status for the RSS bound: %v", err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			if err != nil {
				t.Fatalf("VmHWM %q: %v", rest, err)
			}
			return kb << 10
		}
	}
	t.Fatalf("no VmHWM in /proc/%d/status", h.cmd.Process.Pid)
	return 0
}

// assertHealthy checks that the process is alive and answering, that the
// control target is up and has been scraped on time throughout (missed
// scrapes 0, a fresh scrape within 3 intervals) and that its peak RSS stayed
// under the bound.
func (h *hostile) assertHealthy(t *testing.T) {
	t.Helper()
	if !h.alive() {
		t.Fatalf("watchdog exited:\n%s", tail(h.logs(), 4096))
	}
	if code, body := h.get(t, "/-/healthy"); code != http.StatusOK {
		t.Fatalf("/-/healthy answered %d: %s", code, body)
	}
	if v, ok := h.metric(t, `watchdog_scrape_missed_total{job="control"}`); !ok || v != 0 {
		t.Errorf("control target missed scrapes: watchdog_scrape_missed_total{job=\"control\"} = %v (present %v), want 0", v, ok)
	}
	before := h.controlHit.Load()
	eventually(t, 5*time.Second, func() error {
		if h.controlHit.Load() <= before {
			return fmt.Errorf("control target not scraped since the check began (%d scrapes)", before)
		}
		return nil
	})
	code, body := h.get(t, "/api/v1/query?query=up%7Bjob%3D%22control%22%7D")
	if code != http.StatusOK || !strings.Contains(string(body), `"value":[`) || !strings.Contains(string(body), `"1"]`) {
		t.Errorf("up{job=\"control\"} is not 1: %d %s", code, body)
	}
	if rss := h.peakRSS(t); rss > h.maxRSS {
		t.Errorf("peak RSS %d MiB, over the bound of %d MiB", rss>>20, h.maxRSS>>20)
	} else {
		t.Logf("peak RSS %d MiB (bound %d MiB)", rss>>20, h.maxRSS>>20)
	}
}

// stop sends SIGTERM and waits up to grace for the exit, then kills. It
// returns how long the exit took and whether it was within grace.
func (h *hostile) stop(grace time.Duration) (time.Duration, bool) {
	if !h.alive() {
		return 0, true
	}
	start := time.Now()
	_ = h.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-h.done:
		return time.Since(start), true
	case <-time.After(grace):
		_ = h.cmd.Process.Kill()
		<-h.done
		return time.Since(start), false
	}
}

// TestHostileHarness checks the harness itself: a plain run is healthy, and
// a stop is quick.
func TestHostileHarness(t *testing.T) {
	h := startHostile(t, hostileConfig{})
	h.assertHealthy(t)
	if took, ok := h.stop(10 * time.Second); !ok {
		t.Fatalf("SIGTERM took over %v", took)
	}
}
