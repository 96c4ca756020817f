package e2e

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/watchdog-sre/watchdog/internal/pgtest"
)

var (
	// browserPath is the chromium to drive; "" when none was found.
	browserPath string
	// binary is the watchdog built by TestMain; "" when it was not built.
	binary   string
	buildErr error
)

func TestMain(m *testing.M) {
	flag.Parse() // for testing.Short
	// The tests marked parallel (parallel(t, …)) mostly wait: for an outage
	// to last, a lease to run out, a rule's for: to pass, processes to
	// start. The scheduler runs defaultParallelSlots of them at once (or
	// what -parallel says), longest first; testing's own limit is lifted so
	// that they all reach the scheduler together. The tests that measure
	// latency or memory run alone, before them.
	slots := defaultParallelSlots
	flag.Visit(func(f *flag.Flag) {
		if f.Name == "test.parallel" {
			if n, err := strconv.Atoi(f.Value.String()); err == nil && n > 0 {
				slots = n
			}
		}
	})
	sched.slots = slots
	_ = flag.Set("test.parallel", "1000")
	browserPath = findBrowser()
	var dir string
	if !testing.Short() { // the browser tests and the hostile-input suite run the binary
		var err error
		if dir, err = os.MkdirTemp("", "watchdog-e2e-bin"); err != nil {
			buildErr = err
		} else {
			binary = filepath.Join(dir, "watchdog")
			goTool := filepath.Join(runtime.GOROOT(), "bin", "go")
			if _, err := os.Stat(goTool); err != nil {
				goTool = "go"
			}
			cmd := exec.Command(goTool, "build", "-o", binary, "github.com/watchdog-sre/watchdog/cmd/watchdog")
			if out, err := cmd.CombinedOutput(); err != nil {
				buildErr = fmt.Errorf("go build ./cmd/watchdog: %v\n%s", err, out)
			}
		}
	}
	code := pgtest.Main(m) // m.Run, then stops a throwaway PostgreSQL cluster
	if dir != "" {
		os.RemoveAll(dir)
	}
	os.Exit(code)
}

// findBrowser returns WATCHDOG_E2E_BROWSER or the first chromium-like
// program on PATH.
func findBrowser() string {
	if p := os.Getenv("WATCHDOG_E2E_BROWSER"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// needBrowser skips the test when there is no browser or the binary could
// not be built (a build failure fails the test).
func needBrowser(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("browser tests skipped in -short mode")
	}
	if browserPath == "" {
		t.Skip("SKIP: no chromium found on PATH (install it: apt-get install -y chromium, or set WATCHDOG_E2E_BROWSER); browser tests not run")
	}
	if buildErr != nil {
		t.Fatal(buildErr)
	}
}

// syncBuffer is a bytes.Buffer safe for the writer goroutine of exec and
// the test's readers. Every write signals changed (buffer of one), so a test
// can wait for output instead of polling it.
type syncBuffer struct {
	mu      sync.Mutex
	b       bytes.Buffer
	changed chan struct{}
}

func newSyncBuffer() *syncBuffer { return &syncBuffer{changed: make(chan struct{}, 1)} }

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n, err := s.b.Write(p)
	select {
	case s.changed <- struct{}{}:
	default:
	}
	return n, err
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// watchdog is a running watchdog process.
type watchdog struct {
	url, token     string
	stdout, stderr *syncBuffer
}

var (
	servingRE = regexp.MustCompile(`serving on (http://\S+)`)
	tokenRE   = regexp.MustCompile(`API token for state-changing calls \(generated[^)]*\): ([0-9a-f]+)`)
)

// startWatchdog runs the binary with args, reads the URL and the generated
// API token from its stdout, and stops it (SIGINT, then SIGKILL) when the
// test ends.
func startWatchdog(t *testing.T, args ...string) *watchdog {
	t.Helper()
	w := &watchdog{stdout: newSyncBuffer(), stderr: newSyncBuffer()}
	cmd := exec.Command(binary, args...)
	cmd.Stdout, cmd.Stderr = w.stdout, w.stderr
	cmd.Env = append(os.Environ(), "WATCHDOG_TOKEN=") // always a generated token, read from stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			t.Logf("watchdog stdout:\n%s\nwatchdog stderr (last 4 KiB):\n%s", w.stdout, tail(w.stderr.String(), 4096))
		}
	})
	eventually(t, 20*time.Second, func() error {
		select {
		case <-done:
			return fmt.Errorf("watchdog exited early:\n%s%s", w.stdout, w.stderr)
		default:
		}
		out := w.stdout.String()
		u, tok := servingRE.FindStringSubmatch(out), tokenRE.FindStringSubmatch(out)
		if u == nil || tok == nil {
			return fmt.Errorf("no URL and token on stdout yet:\n%s", out)
		}
		w.url, w.token = u[1], tok[1]
		return nil
	})
	return w
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// eventually retries f every 200ms until it returns nil, failing the test
// with f's last error after timeout.
func eventually(t *testing.T, timeout time.Duration, f func() error) {
	t.Helper()
	if err := poll(timeout, 200*time.Millisecond, nil, f); err != nil {
		t.Fatalf("after %v: %v", timeout, err)
	}
}

// poll calls f until it returns nil, then returns nil; or returns f's last
// error once timeout has passed. Between calls it waits for the next tick of
// every, or for wake (may be nil) — the child process and the browser run on
// real time, so this is a bounded poll, not a timing assumption.
func poll(timeout, every time.Duration, wake <-chan struct{}, f func() error) error {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		err := f()
		if err == nil {
			return nil
		}
		select {
		case <-deadline.C:
			if err = f(); err == nil {
				return nil
			}
			return err
		case <-tick.C:
		case <-wake:
		}
	}
}

// writeFiles writes name → content into dir.
func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// withTimeout runs f with a context limited to d, derived from ctx.
func withTimeout(ctx context.Context, d time.Duration, f func(ctx context.Context) error) error {
	c, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	return f(c)
}

// defaultParallelSlots is how many parallel tests run at once unless
// -parallel says otherwise.
const defaultParallelSlots = 6

// schedSettle is how long the scheduler waits after the first parallel test
// asks for a slot before it grants any: the parallel tests are released at
// once when the sequential ones are done, and all of them queue meanwhile.
const schedSettle = 250 * time.Millisecond

// sched orders the parallel tests of the package.
var sched scheduler

// parallel marks t parallel and waits until the scheduler lets it run;
// expect is about how long the test takes (its waits: for: durations,
// outages, leases), so that the long tests start first and their waits
// overlap with the short tests instead of trailing at the end. The slot is
// given back when the test and its cleanups are done.
func parallel(t *testing.T, expect time.Duration) {
	t.Helper()
	t.Parallel()
	sched.acquire(expect)
	t.Cleanup(sched.release)
}

// scheduler hands out slots to waiting tests, the longest expected first.
type scheduler struct {
	mu      sync.Mutex
	slots   int // free slots
	waiting []*schedWaiter
	started bool // the settle timer runs or ran
	open    bool // the settle delay has passed
}

type schedWaiter struct {
	expect time.Duration
	ready  chan struct{}
}

func (s *scheduler) acquire(expect time.Duration) {
	w := &schedWaiter{expect: expect, ready: make(chan struct{})}
	s.mu.Lock()
	s.waiting = append(s.waiting, w)
	if !s.started {
		s.started = true
		time.AfterFunc(schedSettle, func() {
			s.mu.Lock()
			defer s.mu.Unlock()
			s.open = true
			s.grantLocked()
		})
	}
	s.grantLocked()
	s.mu.Unlock()
	<-w.ready
}

func (s *scheduler) release() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.slots++
	s.grantLocked()
}

// grantLocked starts the longest waiting tests while slots are free (the
// first to ask among equals).
func (s *scheduler) grantLocked() {
	for s.open && s.slots > 0 && len(s.waiting) > 0 {
		i := 0
		for j, w := range s.waiting {
			if w.expect > s.waiting[i].expect {
				i = j
			}
		}
		w := s.waiting[i]
		s.waiting = slices.Delete(s.waiting, i, i+1)
		s.slots--
		close(w.ready)
	}
}

// TestParallelThroughScheduler: every parallel test of the package goes
// through parallel(t, …). testing's own limit is lifted in TestMain, so a
// test calling t.Parallel() directly would run beside all the others at
// once, unbounded.
func TestParallelThroughScheduler(t *testing.T) {
	files, err := filepath.Glob("*_test.go")
	if err != nil || len(files) == 0 {
		t.Fatalf("no test files: %v", err)
	}
	for _, f := range files {
		if f == "main_test.go" {
			continue
		}
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for i, line := range bytes.Split(src, []byte("\n")) {
			if bytes.Contains(line, []byte("t.Parallel()")) {
				t.Errorf("%s:%d calls t.Parallel(); use parallel(t, expected) (main_test.go)", f, i+1)
			}
		}
	}
}
