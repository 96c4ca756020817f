// Package vmtest gives a test a VictoriaMetrics single-node server of its
// own: Debian's victoria-metrics package (or the binary named by
// WATCHDOG_TEST_VICTORIA_METRICS) on a free 127.0.0.1 port with a
// temporary -storageDataPath, stopped and removed when the test ends.
//
// The server runs without -dedup.minScrapeInterval, so it keeps every
// sample it receives: a sample written twice is exported twice
// (/api/v1/export returns raw samples), which lets tests see duplicates.
// Queries see fresh samples at once (-search.latencyOffset=0s) and are not
// cached (-search.disableCache), so tests and a datasource-mode watchdog
// read what was written, not an earlier answer.
//
// Stop and Start run the same server again on the same port and data
// directory, for outage tests. Without the binary, Start skips the test
// with a message that says how to install it.
package vmtest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/watchdog-sre/watchdog/internal/proctest"
	"github.com/watchdog-sre/watchdog/internal/promapi"
)

// EnvBinary names the environment variable of a victoria-metrics binary to
// use instead of the one on PATH.
const EnvBinary = "WATCHDOG_TEST_VICTORIA_METRICS"

// SkipMessage is why tests skip when there is no VictoriaMetrics.
const SkipMessage = "SKIP: VictoriaMetrics not installed: apt-get install victoria-metrics (or set " + EnvBinary + ")"

// Binary returns the victoria-metrics program, or "" when not installed.
func Binary() string {
	return proctest.Find(EnvBinary, "victoria-metrics", "/usr/bin/victoria-metrics")
}

// Options adjust the server; the zero value is a plain single node.
type Options struct {
	// Args are extra command-line flags.
	Args []string
}

// Server is a running (or stopped) VictoriaMetrics of one test.
type Server struct {
	url  string
	proc *proctest.Proc
}

// Start runs a server for t, stopped and removed when t ends. It skips t
// when VictoriaMetrics is not installed and fails it when the server does
// not start.
func Start(t testing.TB, opts Options) *Server {
	t.Helper()
	bin := Binary()
	if bin == "" {
		t.Skip(SkipMessage)
	}
	dir := t.TempDir()
	port, err := proctest.FreePort()
	if err != nil {
		t.Fatalf("vmtest: %v", err)
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	s := &Server{url: "http://" + addr, proc: &proctest.Proc{
		Bin: bin,
		Args: append([]string{"-storageDataPath=" + dir + "/data", "-httpListenAddr=" + addr,
			"-search.latencyOffset=0s", "-search.disableCache", "-loggerLevel=WARN"}, opts.Args...),
		Dir:      dir,
		ReadyURL: "http://" + addr + "/health",
	}}
	t.Cleanup(func() {
		s.proc.Halt()
		if t.Failed() {
			t.Logf("victoria-metrics log (last 8 KiB):\n%s", s.proc.Log())
		}
	})
	if err := s.proc.Run(); err != nil {
		t.Fatalf("vmtest: %v", err)
	}
	return s
}

// URL is the server's base URL (the query API's base, a datasource url);
// it stays the same across restarts.
func (s *Server) URL() string { return s.url }

// WriteURL is the Remote-Write endpoint.
func (s *Server) WriteURL() string { return s.url + "/api/v1/write" }

// Running reports whether the server runs.
func (s *Server) Running() bool { return s.proc.Running() }

// Stop shuts the server down gracefully and waits for its exit. Stopping
// a stopped server does nothing.
func (s *Server) Stop(t testing.TB) {
	t.Helper()
	s.proc.Halt()
}

// Start runs the server again on the same port and data directory and
// waits until it is ready. Starting a running server does nothing.
func (s *Server) Start(t testing.TB) {
	t.Helper()
	if err := s.proc.Run(); err != nil {
		t.Fatalf("vmtest: restart: %v", err)
	}
}

// Client is a query API client of the server.
func (s *Server) Client() promapi.Client { return promapi.Client{URL: s.url} }

// Flush makes every sample received so far searchable
// (/internal/force_flush).
func (s *Server) Flush(t testing.TB) {
	t.Helper()
	resp, err := http.Get(s.url + "/internal/force_flush")
	if err != nil {
		t.Fatalf("vmtest: flush: %v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("vmtest: flush: %d %s", resp.StatusCode, b)
	}
}

// Export flushes and returns the raw samples of every series matching
// selector between start and end, from /api/v1/export: every sample
// stored, duplicates included, stale markers as NaN.
func (s *Server) Export(t testing.TB, selector string, start, end time.Time) []promapi.Series {
	t.Helper()
	s.Flush(t)
	v := url.Values{"match[]": {selector},
		"start": {strconv.FormatInt(start.Unix(), 10)}, "end": {strconv.FormatInt(end.Unix()+1, 10)}}
	resp, err := http.Get(s.url + "/api/v1/export?" + v.Encode())
	if err != nil {
		t.Fatalf("vmtest: export: %v", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("vmtest: export: %v", err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("vmtest: export %s: %d %s", selector, resp.StatusCode, body)
	}
	out, err := ParseExport(body)
	if err != nil {
		t.Fatalf("vmtest: export %s: %v", selector, err)
	}
	return out
}

// exportLine is one line of /api/v1/export and /api/v1/import.
type exportLine struct {
	Metric     map[string]string `json:"metric"`
	Values     []jsonFloat       `json:"values"`
	Timestamps []int64           `json:"timestamps"`
}

// jsonFloat is a float that VictoriaMetrics may write as a bare NaN or
// ±Inf, which encoding/json does not accept as a number.
type jsonFloat float64

func (f *jsonFloat) UnmarshalJSON(b []byte) error {
	v, err := strconv.ParseFloat(strings.Trim(string(b), `"`), 64)
	if err != nil {
		return fmt.Errorf("parse value %s: %w", b, err)
	}
	*f = jsonFloat(v)
	return nil
}

func (f jsonFloat) MarshalJSON() ([]byte, error) {
	return []byte(strconv.FormatFloat(float64(f), 'g', -1, 64)), nil
}

// ParseExport decodes /api/v1/export's JSON lines. Lines of the same
// series are not merged (promapi.ByKey does that).
func ParseExport(body []byte) ([]promapi.Series, error) {
	var out []promapi.Series
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Buffer(make([]byte, 0, 64<<10), 64<<20)
	for n := 1; sc.Scan(); n++ {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		// Bare NaN and Inf are not JSON; quote them for jsonFloat, in the
		// values only (the metric's label values come first).
		if i := bytes.Index(line, []byte(`"values":`)); i >= 0 {
			vals := line[i:]
			for _, w := range []string{"-Inf", "+Inf", "Inf", "NaN"} {
				vals = quoteBare(vals, w)
			}
			line = append(line[:i:i], vals...)
		}
		var l exportLine
		if err := json.Unmarshal(line, &l); err != nil {
			return nil, fmt.Errorf("line %d: %w", n, err)
		}
		if len(l.Values) != len(l.Timestamps) {
			return nil, fmt.Errorf("line %d: %d values for %d timestamps", n, len(l.Values), len(l.Timestamps))
		}
		s := promapi.Series{Labels: l.Metric, Samples: make([]promapi.Sample, len(l.Values))}
		for i := range l.Values {
			s.Samples[i] = promapi.Sample{T: l.Timestamps[i], V: float64(l.Values[i])}
		}
		out = append(out, s)
	}
	return out, sc.Err()
}

// quoteBare quotes the word w where it stands as a value in a JSON array
// (after '[' or ',').
func quoteBare(line []byte, w string) []byte {
	for _, pre := range []string{"[", ","} {
		line = bytes.ReplaceAll(line, []byte(pre+w), []byte(pre+`"`+w+`"`))
	}
	return line
}

// Import writes series through /api/v1/import (JSON lines) and flushes.
func (s *Server) Import(t testing.TB, series []promapi.Series) {
	t.Helper()
	var body bytes.Buffer
	enc := json.NewEncoder(&body)
	for _, sr := range series {
		l := exportLine{Metric: sr.Labels}
		for _, smp := range sr.Samples {
			l.Values = append(l.Values, jsonFloat(smp.V))
			l.Timestamps = append(l.Timestamps, smp.T)
		}
		if err := enc.Encode(l); err != nil {
			t.Fatalf("vmtest: import: %v", err)
		}
	}
	resp, err := http.Post(s.url+"/api/v1/import", "application/json", &body)
	if err != nil {
		t.Fatalf("vmtest: import: %v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("vmtest: import: %d %s", resp.StatusCode, b)
	}
	s.Flush(t)
}
