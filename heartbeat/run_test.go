package heartbeat

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/VictoriaMetrics/metrics"
)

// fakeEndpoint is an in-memory transport: each request gets the next code
// of codes (the last one repeats), or hangs until its context ends when the
// code is 0. It records when each request arrived.
type fakeEndpoint struct {
	mu    sync.Mutex
	codes []int
	at    []time.Time
}

func (f *fakeEndpoint) RoundTrip(r *http.Request) (*http.Response, error) {
	f.mu.Lock()
	f.at = append(f.at, time.Now())
	code := f.codes[0]
	if len(f.codes) > 1 {
		f.codes = f.codes[1:]
	}
	f.mu.Unlock()
	if code == 0 {
		<-r.Context().Done()
		return nil, r.Context().Err()
	}
	return &http.Response{StatusCode: code, Body: io.NopCloser(strings.NewReader("")), Request: r}, nil
}

// offsets returns the arrival times relative to start.
func (f *fakeEndpoint) offsets(start time.Time) []time.Duration {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []time.Duration
	for _, t := range f.at {
		out = append(out, t.Sub(start))
	}
	return out
}

// syncBuf is a log sink safe for the sender's goroutine.
type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) { s.mu.Lock(); defer s.mu.Unlock(); return s.b.Write(p) }
func (s *syncBuf) String() string              { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// metricValue reads one series of set.
func metricValue(set *metrics.Set, series string) string {
	var b bytes.Buffer
	set.WritePrometheus(&b)
	for _, l := range strings.Split(b.String(), "\n") {
		if v, ok := strings.CutPrefix(l, series+" "); ok {
			return v
		}
	}
	return "absent"
}

// TestRun drives the sender on a fake clock (synctest): when it beats,
// retries and withholds, what it counts and what it logs.
func TestRun(t *testing.T) {
	unhealthy := errors.New("rule group g last evaluated 5m ago")
	tests := []struct {
		name     string
		codes    []int
		interval time.Duration
		timeout  time.Duration
		// sick reports whether the watchdog is unhealthy at offset d.
		sick     func(d time.Duration) bool
		run      time.Duration
		want     []time.Duration // request arrival offsets
		sent     string
		failures string
		withheld string
		logs     map[string]int // substring → number of lines
	}{
		{
			name:  "healthy beats at once and every interval",
			codes: []int{200}, interval: time.Minute, run: 3*time.Minute + time.Second,
			want: []time.Duration{0, time.Minute, 2 * time.Minute, 3 * time.Minute},
			sent: "4", failures: "0", withheld: "0",
		},
		{
			name:  "withheld while unhealthy, one WARN per change",
			codes: []int{200}, interval: time.Minute, run: 5*time.Minute + time.Second,
			sick: func(d time.Duration) bool { return d >= time.Minute && d < 4*time.Minute },
			want: []time.Duration{0, 4 * time.Minute, 5 * time.Minute},
			sent: "3", failures: "0", withheld: "3",
			logs: map[string]int{"heartbeat withheld": 1, "rule group g last evaluated 5m ago": 1, "heartbeat resumed": 1},
		},
		{
			name:  "retried with backoff within the interval",
			codes: []int{503, 503, 200}, interval: time.Minute, run: 30 * time.Second,
			want: []time.Duration{0, time.Second, 3 * time.Second},
			sent: "1", failures: "2", withheld: "0",
			logs: map[string]int{"heartbeat not accepted": 0},
		},
		{
			name:  "retries stop before the next beat is due",
			codes: []int{500}, interval: 10 * time.Second, run: 15 * time.Second,
			want: []time.Duration{0, time.Second, 3 * time.Second, 7 * time.Second, 10 * time.Second, 11 * time.Second, 13 * time.Second},
			sent: "0", failures: "7", withheld: "0",
			logs: map[string]int{"heartbeat not accepted": 1},
		},
		{
			name:  "4xx not retried, logged once until it recovers",
			codes: []int{404, 404, 404, 200}, interval: time.Minute, run: 3*time.Minute + time.Second,
			want: []time.Duration{0, time.Minute, 2 * time.Minute, 3 * time.Minute},
			sent: "1", failures: "3", withheld: "0",
			logs: map[string]int{"heartbeat not accepted": 1, "heartbeat accepted again": 1},
		},
		{
			name:  "a hung endpoint times out and is retried",
			codes: []int{0, 200}, interval: time.Minute, timeout: 5 * time.Second, run: 30 * time.Second,
			want: []time.Duration{0, 6 * time.Second}, // 5 s timeout, then 1 s backoff
			sent: "1", failures: "1", withheld: "0",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				start := time.Now()
				ep := &fakeEndpoint{codes: tt.codes}
				set := metrics.NewSet()
				var logs syncBuf
				var healthy HealthFunc
				if tt.sick != nil {
					healthy = func(now time.Time) error {
						if tt.sick(now.Sub(start)) {
							return unhealthy
						}
						return nil
					}
				}
				s := New(Options{
					Endpoint: Endpoint{URL: "https://hc-ping.example/secret-uuid"},
					Interval: tt.interval, Timeout: tt.timeout, Healthy: healthy,
					Client: &http.Client{Transport: ep}, Metrics: set,
					Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelInfo})),
				})
				ctx, cancel := context.WithCancel(t.Context())
				done := make(chan struct{})
				go func() { s.Run(ctx); close(done) }()
				time.Sleep(tt.run) // fake time
				cancel()
				<-done

				got := ep.offsets(start)
				if len(got) != len(tt.want) {
					t.Fatalf("requests at %v, want %v", got, tt.want)
				}
				for i := range got {
					if got[i] != tt.want[i] {
						t.Fatalf("requests at %v, want %v", got, tt.want)
					}
				}
				for series, want := range map[string]string{
					"watchdog_heartbeat_sent_total":     tt.sent,
					"watchdog_heartbeat_failures_total": tt.failures,
					"watchdog_heartbeat_withheld_total": tt.withheld,
				} {
					if got := metricValue(set, series); got != want {
						t.Errorf("%s = %s, want %s", series, got, want)
					}
				}
				last := metricValue(set, "watchdog_heartbeat_last_success_timestamp_seconds")
				if (tt.sent == "0") != (last == "0") {
					t.Errorf("last success timestamp %s with %s sent", last, tt.sent)
				}
				out := logs.String()
				for sub, n := range tt.logs {
					if got := strings.Count(out, sub); got != n {
						t.Errorf("%d log lines with %q, want %d:\n%s", got, sub, n, out)
					}
				}
				if strings.Contains(out, "secret-uuid") {
					t.Errorf("logs reveal the URL's path:\n%s", out)
				}
			})
		})
	}
}
