// Package promtest gives a test a Prometheus server of its own as a
// Remote-Write receiver: Debian's prometheus package (or the binary named by
// WATCHDOG_TEST_PROMETHEUS) started with --web.enable-remote-write-receiver
// on a free 127.0.0.1 port, a temporary --storage.tsdb.path and a minimal
// configuration without scrape jobs, stopped and removed when the test
// ends. Stop and Start run it again on the same port and data (its WAL
// keeps what it received). Without the binary, Start skips the test with a
// message that says how to install it.
package promtest

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/watchdog-sre/watchdog/internal/proctest"
	"github.com/watchdog-sre/watchdog/internal/promapi"
)

// EnvBinary names the environment variable of a prometheus binary to use
// instead of the one on PATH.
const EnvBinary = "WATCHDOG_TEST_PROMETHEUS"

// SkipMessage is why tests skip when there is no Prometheus.
const SkipMessage = "SKIP: Prometheus not installed: apt-get install prometheus (or set " + EnvBinary + ")"

// Binary returns the prometheus program, or "" when not installed.
func Binary() string {
	return proctest.Find(EnvBinary, "prometheus", "/usr/bin/prometheus")
}

// Options adjust the server; the zero value is a receiver with no scrape
// jobs.
type Options struct {
	// Config replaces the configuration file's text (default: a global
	// section only).
	Config string
	// Args are extra command-line flags.
	Args []string
	// Binary is the prometheus program to run instead of Binary().
	Binary string
}

// defaultConfig scrapes nothing: the server only receives.
const defaultConfig = "global:\n  scrape_interval: 1m\n  evaluation_interval: 1m\n"

// Server is a running (or stopped) Prometheus of one test.
type Server struct {
	url  string
	proc *proctest.Proc
}

// Start runs a server for t, stopped and removed when t ends. It skips t
// when Prometheus is not installed and fails it when the server does not
// start.
func Start(t testing.TB, opts Options) *Server {
	t.Helper()
	bin := opts.Binary
	if bin == "" {
		bin = Binary()
	}
	if bin == "" {
		t.Skip(SkipMessage)
	}
	dir := t.TempDir()
	cfg := opts.Config
	if cfg == "" {
		cfg = defaultConfig
	}
	cfgPath := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		t.Fatalf("promtest: %v", err)
	}
	port, err := proctest.FreePort()
	if err != nil {
		t.Fatalf("promtest: %v", err)
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	s := &Server{url: "http://" + addr, proc: &proctest.Proc{
		Bin: bin,
		Args: append([]string{"--config.file=" + cfgPath, "--storage.tsdb.path=" + filepath.Join(dir, "data"),
			"--web.listen-address=" + addr, "--web.enable-remote-write-receiver",
			"--storage.tsdb.retention.time=1d", "--log.level=warn"}, opts.Args...),
		Dir:      dir,
		ReadyURL: "http://" + addr + "/-/ready",
	}}
	t.Cleanup(func() {
		s.proc.Halt()
		if t.Failed() {
			t.Logf("prometheus log (last 8 KiB):\n%s", s.proc.Log())
		}
	})
	if err := s.proc.Run(); err != nil {
		t.Fatalf("promtest: %v", err)
	}
	return s
}

// URL is the server's base URL; it stays the same across restarts.
func (s *Server) URL() string { return s.url }

// WriteURL is the Remote-Write receiver's endpoint.
func (s *Server) WriteURL() string { return s.url + "/api/v1/write" }

// Running reports whether the server runs.
func (s *Server) Running() bool { return s.proc.Running() }

// Client is a query API client of the server.
func (s *Server) Client() promapi.Client { return promapi.Client{URL: s.url} }

// Stop shuts the server down and waits for its exit. Stopping a stopped
// server does nothing.
func (s *Server) Stop(t testing.TB) {
	t.Helper()
	s.proc.Halt()
}

// Start runs the server again on the same port and data directory and
// waits until it is ready. Starting a running server does nothing.
func (s *Server) Start(t testing.TB) {
	t.Helper()
	if err := s.proc.Run(); err != nil {
		t.Fatalf("promtest: restart: %v", err)
	}
}
