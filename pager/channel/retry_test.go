package channel

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/VictoriaMetrics/metrics"
)

// step is one scripted outcome of fakeChannel.Send.
type step struct {
	retry bool
	err   error
}

// fakeChannel replays steps and records when each attempt started and the
// deadline its context carried.
type fakeChannel struct {
	name      string
	steps     []step
	mu        sync.Mutex
	times     []time.Time
	deadlines []time.Duration
}

func (f *fakeChannel) Name() string { return f.name }

func (f *fakeChannel) Send(ctx context.Context, _ Message) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	now := time.Now()
	f.times = append(f.times, now)
	if dl, ok := ctx.Deadline(); ok {
		f.deadlines = append(f.deadlines, dl.Sub(now))
	}
	s := f.steps[min(len(f.times), len(f.steps))-1]
	return s.retry, s.err
}

// gaps returns the delays between consecutive attempts.
func (f *fakeChannel) gaps() []time.Duration {
	var g []time.Duration
	for i := 1; i < len(f.times); i++ {
		g = append(g, f.times[i].Sub(f.times[i-1]))
	}
	return g
}

var (
	errTransient = errors.New("transient")
	errFatal     = errors.New("fatal")
)

func TestRetrier(t *testing.T) {
	retryAfter := func(d time.Duration) error {
		return &StatusError{StatusCode: 429, RetryAfter: d}
	}
	noJitter := RetryPolicy{MaxAttempts: 5, InitialBackoff: time.Second, MaxBackoff: 4 * time.Second, Jitter: -1}
	tests := []struct {
		name         string
		policy       RetryPolicy
		rnd          float64
		steps        []step
		wantAttempts int
		wantGaps     []time.Duration
		wantErr      error
		wantMetrics  map[string]int // counter name → value
	}{
		{
			name:         "success after backoff",
			policy:       noJitter,
			steps:        []step{{true, errTransient}, {true, errTransient}, {false, nil}},
			wantAttempts: 3, wantGaps: []time.Duration{time.Second, 2 * time.Second},
			wantMetrics: map[string]int{"attempts": 3, "retries": 2, "failures": 0, "sent": 1},
		},
		{
			name:         "permanent error stops at once",
			policy:       noJitter,
			steps:        []step{{true, errTransient}, {false, errFatal}},
			wantAttempts: 2, wantGaps: []time.Duration{time.Second}, wantErr: errFatal,
			wantMetrics: map[string]int{"attempts": 2, "retries": 1, "failures": 1, "sent": 0},
		},
		{
			name:         "exhausted with capped backoff",
			policy:       noJitter,
			steps:        []step{{true, errTransient}},
			wantAttempts: 5, wantGaps: []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 4 * time.Second},
			wantErr:     ErrRetriesExhausted,
			wantMetrics: map[string]int{"attempts": 5, "retries": 4, "failures": 1},
		},
		{
			name:         "retry-after honoured",
			policy:       noJitter,
			steps:        []step{{true, retryAfter(30 * time.Second)}, {true, retryAfter(100 * time.Millisecond)}, {false, nil}},
			wantAttempts: 3, wantGaps: []time.Duration{30 * time.Second, 2 * time.Second},
		},
		{
			name:         "retry-after capped",
			policy:       RetryPolicy{Jitter: -1, MaxRetryAfter: time.Minute},
			steps:        []step{{true, retryAfter(time.Hour)}, {false, nil}},
			wantAttempts: 2, wantGaps: []time.Duration{time.Minute},
		},
		{
			name:         "jitter shortens delay",
			policy:       RetryPolicy{InitialBackoff: 10 * time.Second, Jitter: 0.5},
			rnd:          0.5,
			steps:        []step{{true, errTransient}, {false, nil}},
			wantAttempts: 2, wantGaps: []time.Duration{7500 * time.Millisecond},
		},
		{
			name:         "zero policy uses defaults",
			policy:       RetryPolicy{},
			steps:        []step{{true, errTransient}},
			wantAttempts: 5, wantErr: ErrRetriesExhausted,
			wantGaps: []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				set := metrics.NewSet()
				ch := &fakeChannel{name: "pd-primary", steps: tt.steps}
				r := NewRetrier(RetrierOptions{Policy: tt.policy, Metrics: set, Rand: func() float64 { return tt.rnd }})
				n, err := r.Send(bg(), ch, sampleMessage())
				wantEq(t, "attempts", n, tt.wantAttempts)
				if tt.wantErr == nil && err != nil || tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
					t.Fatalf("err = %v, want %v", err, tt.wantErr)
				}
				if g := ch.gaps(); len(g) != len(tt.wantGaps) || (len(g) > 0 && !equalDur(g, tt.wantGaps)) {
					t.Errorf("gaps = %v, want %v", g, tt.wantGaps)
				}
				for _, d := range ch.deadlines {
					if want := orDur(tt.policy.AttemptTimeout, 30*time.Second); d != want {
						t.Errorf("attempt deadline %v, want %v", d, want)
					}
				}
				var buf bytes.Buffer
				set.WritePrometheus(&buf)
				for c, v := range tt.wantMetrics {
					line := "watchdog_pager_channel_" + c + `_total{channel="pd-primary"} ` + strconv.Itoa(v)
					if !strings.Contains(buf.String(), line) {
						t.Errorf("metrics lack %q:\n%s", line, buf.String())
					}
				}
			})
		})
	}
}

func TestRetrierStopsOnContextCancel(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithTimeout(bg(), 90*time.Second)
		defer cancel()
		ch := &fakeChannel{name: "x", steps: []step{{true, errTransient}}}
		start := time.Now()
		n, err := SendWithRetry(ctx, ch, sampleMessage(), RetryPolicy{MaxAttempts: 100, InitialBackoff: time.Minute, Jitter: -1})
		if !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, errTransient) {
			t.Fatalf("err = %v, want deadline joined with last error", err)
		}
		wantEq(t, "attempts", n, 2)
		wantEq(t, "elapsed", time.Since(start), 90*time.Second)
	})
}

// roundTripFunc lets a test answer HTTP requests without a network, so the
// real channel code runs inside a synctest bubble.
type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// TestRetrierWithPagerDuty runs the real PagerDuty channel under the retry
// loop: a 429 with Retry-After: 10, a 503, then 202.
func TestRetrierWithPagerDuty(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var times []time.Time
		codes := []int{429, 503, 202}
		rt := roundTripFunc(func(r *http.Request) (*http.Response, error) {
			times = append(times, time.Now())
			code := codes[len(times)-1]
			h := http.Header{}
			if code == 429 {
				h.Set("Retry-After", "10")
			}
			return &http.Response{StatusCode: code, Header: h, Body: io.NopCloser(strings.NewReader("{}")), Request: r}, nil
		})
		pd, _ := NewPagerDuty(PagerDutyOptions{RoutingKey: "k", HTTP: HTTPOptions{Client: &http.Client{Transport: rt}}})
		n, err := SendWithRetry(bg(), pd, sampleMessage(), RetryPolicy{InitialBackoff: time.Second, Jitter: -1})
		if err != nil {
			t.Fatal(err)
		}
		wantEq(t, "attempts", n, 3)
		wantEq(t, "wait after 429", times[1].Sub(times[0]), 10*time.Second)
		wantEq(t, "wait after 503", times[2].Sub(times[1]), 2*time.Second)
	})
}

func TestMetricLabelNeverPanics(t *testing.T) {
	set := metrics.NewSet()
	r := NewRetrier(RetrierOptions{Metrics: set})
	for _, name := range []string{"", `we"ird\name`, "a\nb", strings.Repeat("ü", 300)} {
		_ = r.counters(name)
	}
}

func equalDur(a, b []time.Duration) bool {
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func orDur(d, def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return d
}

// TestRetrierLoud: every failed attempt is a WARN line naming the channel,
// incident, recipient and attempt (the caller logs the one ERROR line of a
// failed delivery); Register exports the counters at zero.
func TestRetrierLoud(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		set := metrics.NewSet()
		var logs bytes.Buffer
		r := NewRetrier(RetrierOptions{Policy: RetryPolicy{MaxAttempts: 3, Jitter: -1}, Metrics: set,
			Logger: slog.New(slog.NewTextHandler(&logs, nil))})
		r.Register("idle")
		m := sampleMessage()
		m.Recipient = Contact{Name: "alice"}
		ch := &fakeChannel{name: "pd", steps: []step{{true, errTransient}}}
		if _, err := r.Send(bg(), ch, m); !errors.Is(err, ErrRetriesExhausted) {
			t.Fatalf("err = %v", err)
		}
		lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
		wantEq(t, "log lines", len(lines), 3)
		for i, l := range lines {
			for _, want := range []string{"level=WARN", "channel=pd", "incident=" + m.IncidentID, "user=alice", "attempt=" + strconv.Itoa(i+1), "err="} {
				if !strings.Contains(l, want) {
					t.Errorf("line %d %q lacks %q", i, l, want)
				}
			}
		}
		var buf bytes.Buffer
		set.WritePrometheus(&buf)
		for _, want := range []string{`watchdog_pager_channel_attempts_total{channel="idle"} 0`,
			`watchdog_pager_channel_failures_total{channel="idle"} 0`, `watchdog_pager_channel_failures_total{channel="pd"} 1`} {
			if !strings.Contains(buf.String(), want) {
				t.Errorf("metrics lack %q:\n%s", want, buf.String())
			}
		}
	})
}
