package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/watchdog-sre/watchdog/internal/promapi"
)

// The remote_write and datasource suite (issue #13) runs real watchdogs
// against real VictoriaMetrics and Prometheus servers (internal/vmtest,
// internal/promtest) and a loopback fleet of targets.

// remoteOutageEnv names the environment variable of the receiver outage of
// TestRemoteWriteVictoriaMetricsOutage (a Go duration). The issue asks for
// 60 s: .ci/run runs that test once more on its own with 60s, after
// `go test ./...` ran it with remoteOutageDefault (which keeps the e2e
// package well inside go test's 10-minute timeout).
const remoteOutageEnv = "WATCHDOG_E2E_REMOTE_OUTAGE"

// remoteOutageDefault is the outage of a local run without remoteOutageEnv.
const remoteOutageDefault = 20 * time.Second

// remoteOutage returns the configured outage.
func remoteOutage(t *testing.T) time.Duration {
	t.Helper()
	s := os.Getenv(remoteOutageEnv)
	if s == "" {
		return remoteOutageDefault
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 2*time.Second {
		t.Fatalf("%s=%q: want a Go duration of at least 2s", remoteOutageEnv, s)
	}
	return d
}

// fleet is a set of loopback targets serving moving values: every scrape
// of target i advances its counters and its gauge.
type fleet struct {
	servers []*httptest.Server
	hits    []atomic.Int64
}

// newFleet starts n targets, closed when t ends.
func newFleet(t *testing.T, n int) *fleet {
	t.Helper()
	f := &fleet{hits: make([]atomic.Int64, n)}
	for i := range n {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			k := f.hits[i].Add(1)
			w.Header().Set("Content-Type", "text/plain; version=0.0.4")
			fmt.Fprintf(w, "# TYPE fleet_requests_total counter\n"+
				"fleet_requests_total{code=\"200\"} %d\nfleet_requests_total{code=\"500\"} %d\n"+
				"# TYPE fleet_temperature_celsius gauge\nfleet_temperature_celsius %g\n",
				k*int64(3+i), k*int64(i%3), 20+float64(i)+float64(k%17)*0.25)
		}))
		t.Cleanup(srv.Close)
		f.servers = append(f.servers, srv)
	}
	return f
}

// targets returns the targets' host:port addresses.
func (f *fleet) targets() []string {
	out := make([]string, len(f.servers))
	for i, s := range f.servers {
		out[i] = strings.TrimPrefix(s.URL, "http://")
	}
	return out
}

// scrapeConfig renders a scrape_configs list item of job for the fleet,
// with relabel (YAML list items, may be "") as relabel_configs.
func (f *fleet) scrapeConfig(job, relabel string) string {
	var b strings.Builder
	b.WriteString("  - job_name: " + job + "\n    static_configs:\n      - targets:\n")
	for _, a := range f.targets() {
		b.WriteString("          - '" + a + "'\n")
	}
	if relabel != "" {
		b.WriteString("    relabel_configs:\n" + indent(relabel, "      "))
	}
	return b.String()
}

// remoteWriteConfig renders a remote_write list item sending to url with
// short batches and backoff, so that a test sees a recovery within seconds.
func remoteWriteConfig(name, url, extra string) string {
	s := "  - url: " + url + "\n    name: " + name + "\n    remote_timeout: 5s\n" +
		"    queue_config: {batch_send_deadline: 500ms, min_backoff: 50ms, max_backoff: 1s}\n"
	if extra != "" {
		s += indent(extra, "    ")
	}
	return s
}

// remoteWD is a watchdog of the remote suite: a configuration file of its
// own (no control job) in a directory that survives restarts, so that the
// snapshot (storage.snapshot_path, relative to the file) does too.
type remoteWD struct {
	name       string
	dir        string
	configPath string
	args       []string
	*watchdog
	cmd  *exec.Cmd
	done chan struct{}
	logs strings.Builder // output of earlier runs
}

// startRemoteWD writes config into a new directory and starts a watchdog
// on it; it is stopped when t ends.
func startRemoteWD(t *testing.T, name, config string, args ...string) *remoteWD {
	t.Helper()
	needBinary(t)
	w := &remoteWD{name: name, dir: t.TempDir(), args: args}
	w.configPath = filepath.Join(w.dir, "watchdog.yml")
	if err := os.WriteFile(w.configPath, []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		w.stop(t)
		if t.Failed() {
			t.Logf("watchdog %s configuration:\n%s\noutput (last 12 KiB):\n%s", w.name, config,
				tail(w.logs.String(), 12<<10))
		}
	})
	w.start(t)
	return w
}

// start runs the watchdog on a free port and waits until it serves.
func (w *remoteWD) start(t *testing.T) {
	t.Helper()
	w.watchdog = &watchdog{stdout: newSyncBuffer(), stderr: newSyncBuffer()}
	args := append([]string{"run", "--config", w.configPath, "--web.listen-address", "127.0.0.1:0"}, w.args...)
	w.cmd = exec.Command(binary, args...)
	w.cmd.Stdout, w.cmd.Stderr = w.watchdog.stdout, w.watchdog.stderr
	w.cmd.Dir = w.dir
	w.cmd.Env = append(os.Environ(), "WATCHDOG_TOKEN=")
	if err := w.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	w.done = done
	cmd := w.cmd
	go func() { cmd.Wait(); close(done) }()
	eventually(t, 30*time.Second, func() error {
		select {
		case <-done:
			return fmt.Errorf("watchdog %s exited early:\n%s%s", w.name, w.watchdog.stdout, w.watchdog.stderr)
		default:
		}
		out := w.watchdog.stdout.String()
		u, tok := servingRE.FindStringSubmatch(out), tokenRE.FindStringSubmatch(out)
		if u == nil || tok == nil {
			return fmt.Errorf("no URL and token on stdout yet:\n%s", out)
		}
		w.url, w.token = u[1], tok[1]
		return nil
	})
}

// stop sends SIGTERM and waits for the exit (SIGKILL after 20 s, which
// fails t: a lost shutdown would also lose the snapshot).
func (w *remoteWD) stop(t *testing.T) {
	t.Helper()
	if w.cmd == nil {
		return
	}
	_ = w.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-w.done:
	case <-time.After(20 * time.Second):
		_ = w.cmd.Process.Kill()
		<-w.done
		t.Errorf("watchdog %s did not exit within 20s of SIGTERM", w.name)
	}
	fmt.Fprintf(&w.logs, "--- run ended\nstdout:\n%s\nstderr:\n%s\n", w.watchdog.stdout, w.watchdog.stderr)
	w.cmd = nil
}

// restart stops the watchdog (SIGTERM) and starts it again on the same
// directory, configuration and snapshot.
func (w *remoteWD) restart(t *testing.T) {
	t.Helper()
	w.stop(t)
	w.start(t)
}

// client is a query API client of the running watchdog.
func (w *remoteWD) client() promapi.Client { return promapi.Client{URL: w.url} }

// metrics returns the exposition of /metrics.
func (w *remoteWD) metrics(t *testing.T) []byte {
	t.Helper()
	resp, err := http.Get(w.url + "/metrics")
	if err != nil {
		t.Fatalf("GET /metrics: %v", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET /metrics: %v", err)
	}
	return b
}

// getJSON GETs path from the watchdog and decodes the "data" of the answer
// into v.
func (w *remoteWD) getJSON(t *testing.T, path string, v any) {
	t.Helper()
	resp, err := http.Get(w.url + path)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %s", path, resp.StatusCode, tail(string(body), 512))
	}
	var env struct {
		Data json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(body, &env); err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	if err := json.Unmarshal(env.Data, v); err != nil {
		t.Fatalf("GET %s: decode data: %v: %s", path, err, tail(string(body), 512))
	}
}

// stored returns every raw sample the watchdog holds in (from, to].
func (w *remoteWD) stored(t *testing.T, from, to time.Time) map[string][]promapi.Sample {
	t.Helper()
	raw, err := w.client().Raw(`{__name__=~".+"}`, to, to.Sub(from))
	if err != nil {
		t.Fatalf("watchdog %s: raw samples: %v", w.name, err)
	}
	return promapi.ByKey(raw)
}

// withLabels returns the samples keyed as if every series also had the
// labels extra (the external labels a sender adds).
func withLabels(in map[string][]promapi.Sample, extra map[string]string) map[string][]promapi.Sample {
	if len(extra) == 0 {
		return in
	}
	out := make(map[string][]promapi.Sample, len(in))
	for k, ss := range in {
		ls := parseKey(k)
		for n, v := range extra {
			ls[n] = v
		}
		out[promapi.Key(ls)] = ss
	}
	return out
}

// parseKey inverts promapi.Key.
func parseKey(k string) map[string]string {
	out := map[string]string{}
	name, rest, _ := strings.Cut(k, "{")
	if name != "" {
		out["__name__"] = name
	}
	rest = strings.TrimSuffix(rest, "}")
	for rest != "" {
		n, after, _ := strings.Cut(rest, "=")
		v, err := strconv.QuotedPrefix(after)
		if err != nil {
			break
		}
		out[n], _ = strconv.Unquote(v)
		rest = strings.TrimPrefix(after[len(v):], ", ")
	}
	return out
}

// inWindow keeps the samples with from < T <= to and, when dropNaN, drops
// NaN values (stale markers, which a receiver keeps and PromQL hides).
func inWindow(in map[string][]promapi.Sample, from, to time.Time, dropNaN bool) map[string][]promapi.Sample {
	out := make(map[string][]promapi.Sample, len(in))
	lo, hi := from.UnixMilli(), to.UnixMilli()
	for k, ss := range in {
		var keep []promapi.Sample
		for _, s := range ss {
			if s.T > lo && s.T <= hi && !(dropNaN && math.IsNaN(s.V)) {
				keep = append(keep, s)
			}
		}
		if len(keep) > 0 {
			out[k] = keep
		}
	}
	return out
}

// diffSamples compares, series by series, what a watchdog stored with what
// a receiver holds: every stored series must be there with the same number
// of samples, the same timestamps and values, and no timestamp twice. It
// returns one line per problem (at most max) and the total sample count
// compared.
func diffSamples(stored, remote map[string][]promapi.Sample, max int) ([]string, int) {
	var problems []string
	add := func(format string, a ...any) {
		if len(problems) < max {
			problems = append(problems, fmt.Sprintf(format, a...))
		}
	}
	total := 0
	for _, k := range slices.Sorted(maps.Keys(stored)) {
		want, got := stored[k], remote[k]
		total += len(want)
		for i := 1; i < len(got); i++ {
			if got[i].T == got[i-1].T {
				add("%s: duplicate sample at %d (%v)", k, got[i].T, got[i].V)
			}
		}
		if len(got) == 0 {
			add("%s: missing (%d samples stored)", k, len(want))
			continue
		}
		if len(got) != len(want) {
			add("%s: %d samples stored, %d received", k, len(want), len(got))
		}
		for i := range min(len(want), len(got)) {
			if want[i] != got[i] {
				add("%s: sample %d stored as %v, received as %v", k, i, want[i], got[i])
				break
			}
		}
	}
	return problems, total
}

// waitSame polls until the receiver's samples (read) hold everything the
// watchdogs stored (stored), or fails t after timeout with the problems.
func waitSame(t *testing.T, timeout time.Duration, stored map[string][]promapi.Sample,
	read func() map[string][]promapi.Sample) int {
	t.Helper()
	var problems []string
	var total int
	err := poll(timeout, time.Second, nil, func() error {
		problems, total = diffSamples(stored, read(), 20)
		if len(problems) > 0 {
			return fmt.Errorf("%d+ problems", len(problems))
		}
		return nil
	})
	if err != nil {
		t.Fatalf("after %v the receiver does not hold what the watchdog stored (%d series, %d samples):\n%s",
			timeout, len(stored), total, strings.Join(problems, "\n"))
	}
	return total
}
