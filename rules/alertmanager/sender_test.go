package alertmanager

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/VictoriaMetrics/metrics"
)

// request is what the fake Alertmanager saw of one POST.
type request struct {
	at          time.Time
	method      string
	path        string
	contentType string
	alerts      []map[string]any
	err         error // decoding the body
}

// fakeAM answers requests with the status codes in codes, in turn (the
// last one repeats), and reports every request on reqs.
type fakeAM struct {
	codes []int
	n     int
	reqs  chan request
	block bool // never answer; wait for the request to be cancelled
}

func newFakeAM(codes ...int) *fakeAM {
	return &fakeAM{codes: codes, reqs: make(chan request, 100)}
}

func (f *fakeAM) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	req := request{at: time.Now(), method: r.Method, path: r.URL.Path, contentType: r.Header.Get("Content-Type")}
	body, _ := io.ReadAll(r.Body)
	dec := json.NewDecoder(strings.NewReader(string(body)))
	req.err = dec.Decode(&req.alerts)
	f.reqs <- req
	if f.block {
		<-r.Context().Done()
		return
	}
	code := f.codes[min(f.n, len(f.codes)-1)]
	f.n++
	w.WriteHeader(code)
	fmt.Fprintf(w, "status %d\n", code)
}

// handlerTransport serves requests in memory, so that synctest bubbles
// have no real network I/O (which is never durably blocking).
type handlerTransport struct{ h http.Handler }

func (t handlerTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	rec := httptest.NewRecorder()
	sreq := req.Clone(req.Context())
	sreq.RequestURI = req.URL.RequestURI()
	t.h.ServeHTTP(rec, sreq)
	if err := req.Context().Err(); err != nil {
		return nil, err
	}
	return rec.Result(), nil
}

type errTransport struct{ calls chan time.Time }

func (t errTransport) RoundTrip(*http.Request) (*http.Response, error) {
	t.calls <- time.Now()
	return nil, errors.New("connection refused")
}

// chanHandler is a slog.Handler that sends every record on a channel.
type chanHandler chan slog.Record

func (h chanHandler) Enabled(context.Context, slog.Level) bool      { return true }
func (h chanHandler) Handle(_ context.Context, r slog.Record) error { h <- r; return nil }
func (h chanHandler) WithAttrs([]slog.Attr) slog.Handler            { return h }
func (h chanHandler) WithGroup(string) slog.Handler                 { return h }

func testAlert(name string, i int) Alert {
	return Alert{
		Labels:       map[string]string{"alertname": name, "instance": fmt.Sprintf("host-%d", i)},
		Annotations:  map[string]string{"summary": "it broke"},
		StartsAt:     time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC),
		GeneratorURL: "http://watchdog:9190/graph?g0.expr=up",
	}
}

func counter(set *metrics.Set, name, url string) uint64 {
	return set.GetOrCreateCounter(name + `{alertmanager="` + url + `"}`).Get()
}

// TestContract posts over real HTTP and checks the request against the
// Alertmanager API v2 definition of postableAlerts.
func TestContract(t *testing.T) {
	am := newFakeAM(http.StatusOK)
	srv := httptest.NewServer(am)
	defer srv.Close()

	s := New(Options{URLs: []string{srv.URL + "/prefix/"}})
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()

	firing := testAlert("LoginErrorsUp", 1)
	resolved := Alert{
		Labels:   map[string]string{"alertname": "DiskFull"},
		StartsAt: time.Date(2026, 11, 24, 11, 0, 0, 0, time.FixedZone("CET", 3600)),
		EndsAt:   time.Date(2026, 11, 24, 12, 30, 0, 500e6, time.UTC),
	}
	s.Send(firing, resolved)

	var req request
	select {
	case req = <-am.reqs:
	case <-time.After(10 * time.Second):
		t.Fatal("no request within 10s")
	}
	if req.method != http.MethodPost || req.path != "/prefix/api/v2/alerts" || req.contentType != "application/json" {
		t.Errorf("got %s %s (Content-Type %q), want POST /prefix/api/v2/alerts (application/json)", req.method, req.path, req.contentType)
	}
	if req.err != nil {
		t.Fatalf("body is not a JSON array of objects: %v", req.err)
	}
	if len(req.alerts) != 2 {
		t.Fatalf("got %d alerts, want 2", len(req.alerts))
	}
	allowed := map[string]bool{"labels": true, "annotations": true, "startsAt": true, "endsAt": true, "generatorURL": true}
	for i, a := range req.alerts {
		for k := range a {
			if !allowed[k] {
				t.Errorf("alert %d: field %q is not in postableAlert", i, k)
			}
		}
		lbls, ok := a["labels"].(map[string]any)
		if !ok || len(lbls) == 0 {
			t.Errorf("alert %d: labels (required) = %v", i, a["labels"])
		}
		for k, v := range lbls {
			if _, ok := v.(string); !ok {
				t.Errorf("alert %d: label %s = %v, want a string", i, k, v)
			}
		}
		for _, k := range []string{"startsAt", "endsAt"} {
			if v, ok := a[k]; ok {
				if _, err := time.Parse(time.RFC3339Nano, v.(string)); err != nil {
					t.Errorf("alert %d: %s %q is not an RFC 3339 date-time: %v", i, k, v, err)
				}
			}
		}
	}
	want := []string{
		`{"annotations":{"summary":"it broke"},"generatorURL":"http://watchdog:9190/graph?g0.expr=up","labels":{"alertname":"LoginErrorsUp","instance":"host-1"},"startsAt":"2026-11-24T12:00:00.000Z"}`,
		`{"endsAt":"2026-11-24T12:30:00.500Z","labels":{"alertname":"DiskFull"},"startsAt":"2026-11-24T10:00:00.000Z"}`,
	}
	for i, a := range req.alerts {
		got, _ := json.Marshal(a) // map keys come out sorted
		if string(got) != want[i] {
			t.Errorf("alert %d:\n got %s\nwant %s", i, got, want[i])
		}
	}
}

func TestDelivery(t *testing.T) {
	const url = "http://am.test:9093"
	backoff := func(attempt int) time.Duration { return time.Duration(attempt) * time.Second }
	tests := []struct {
		name       string
		codes      []int
		maxRetries int
		// wantGaps are the waits between consecutive requests; their number
		// is one less than the requests expected.
		wantGaps                    []time.Duration
		wantSent, wantFailed, wantR uint64
	}{
		{"ok", []int{200}, 0, nil, 2, 0, 0},
		{"accepted 204", []int{204}, 0, nil, 2, 0, 0},
		{"503 then ok", []int{503, 503, 200}, 0, []time.Duration{time.Second, 2 * time.Second}, 2, 0, 2},
		{"429 then ok", []int{429, 200}, 0, []time.Duration{time.Second}, 2, 0, 1},
		{"400 is final", []int{400}, 0, nil, 0, 2, 0},
		{"404 is final", []int{404, 200}, 0, nil, 0, 2, 0},
		{"500 until retries run out", []int{500}, 2, []time.Duration{time.Second, 2 * time.Second}, 0, 2, 2},
		{"no retries", []int{502, 200}, -1, nil, 0, 2, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				am := newFakeAM(tt.codes...)
				set := metrics.NewSet()
				s := New(Options{
					URLs: []string{url}, Client: &http.Client{Transport: handlerTransport{am}},
					MaxRetries: tt.maxRetries, Backoff: backoff, Metrics: set,
				})
				ctx, cancel := context.WithCancel(t.Context())
				defer cancel()
				go s.Run(ctx)
				s.Send(testAlert("A", 1), testAlert("A", 2))

				var prev time.Time
				for i := range len(tt.wantGaps) + 1 {
					r := <-am.reqs
					if len(r.alerts) != 2 {
						t.Errorf("request %d carried %d alerts, want 2", i, len(r.alerts))
					}
					if i > 0 {
						if gap := r.at.Sub(prev); gap != tt.wantGaps[i-1] {
							t.Errorf("gap before request %d = %v, want %v", i, gap, tt.wantGaps[i-1])
						}
					}
					prev = r.at
				}
				synctest.Wait()
				if n := len(am.reqs); n != 0 {
					t.Errorf("%d requests more than expected", n)
				}
				sent, failed, retries := counter(set, "watchdog_alertmanager_alerts_sent_total", url),
					counter(set, "watchdog_alertmanager_alerts_failed_total", url),
					counter(set, "watchdog_alertmanager_retries_total", url)
				if sent != tt.wantSent || failed != tt.wantFailed || retries != tt.wantR {
					t.Errorf("sent %d failed %d retries %d, want %d %d %d", sent, failed, retries, tt.wantSent, tt.wantFailed, tt.wantR)
				}
			})
		})
	}
}

func TestNetworkErrorRetried(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const url = "http://down.test"
		calls := make(chan time.Time, 10)
		set := metrics.NewSet()
		s := New(Options{URLs: []string{url}, Client: &http.Client{Transport: errTransport{calls}}, MaxRetries: 3, Metrics: set})
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		go s.Run(ctx)
		s.Send(testAlert("A", 1))
		start := time.Now()
		for range 4 {
			<-calls
		}
		synctest.Wait()
		// DefaultBackoff waits [250ms,500ms), [500ms,1s), [1s,2s).
		if d := time.Since(start); d < 1750*time.Millisecond || d >= 3500*time.Millisecond {
			t.Errorf("three backoffs took %v", d)
		}
		if f := counter(set, "watchdog_alertmanager_alerts_failed_total", url); f != 1 {
			t.Errorf("failed = %d, want 1", f)
		}
	})
}

func TestAttemptTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const url = "http://slow.test"
		am := newFakeAM(200)
		am.block = true
		set := metrics.NewSet()
		logs := make(chan slog.Record, 10)
		s := New(Options{URLs: []string{url}, Client: &http.Client{Transport: handlerTransport{am}},
			Timeout: 2 * time.Second, MaxRetries: 1, Backoff: func(int) time.Duration { return time.Second },
			Metrics: set, Logger: slog.New(chanHandler(logs))})
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		go s.Run(ctx)
		s.Send(testAlert("A", 1))
		first, second := <-am.reqs, <-am.reqs
		if gap := second.at.Sub(first.at); gap != 3*time.Second {
			t.Errorf("second attempt %v after the first, want timeout 2s + backoff 1s", gap)
		}
		for r := range logs {
			if r.Level == slog.LevelError {
				if r.Message != "alertmanager: giving up on alerts" || time.Since(second.at) != 2*time.Second {
					t.Errorf("%v after the last attempt: %s", time.Since(second.at), r.Message)
				}
				break
			}
		}
		synctest.Wait()
		if f := counter(set, "watchdog_alertmanager_alerts_failed_total", url); f != 1 {
			t.Errorf("failed = %d, want 1", f)
		}
	})
}

func TestQueueOverflowDropsOldest(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const url = "http://am.test"
		am := newFakeAM(200)
		set := metrics.NewSet()
		s := New(Options{URLs: []string{url}, Client: &http.Client{Transport: handlerTransport{am}},
			QueueCapacity: 3, BatchSize: 2, Metrics: set})
		// Not running yet: Send must neither block nor grow past capacity.
		for i := range 5 {
			s.Send(testAlert("A", i))
		}
		s.Send(testAlert("A", 5), testAlert("A", 6), testAlert("A", 7), testAlert("A", 8)) // more than capacity at once
		if d := counter(set, "watchdog_alertmanager_alerts_dropped_total", url); d != 6 {
			t.Errorf("dropped = %d, want 6", d)
		}
		if q := set.GetOrCreateGauge(`watchdog_alertmanager_queue_length{alertmanager="`+url+`"}`, nil).Get(); q != 3 {
			t.Errorf("queue length = %v, want 3", q)
		}

		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		go s.Run(ctx)
		var got []string
		for _, want := range []int{2, 1} { // batches of at most 2
			r := <-am.reqs
			if len(r.alerts) != want {
				t.Errorf("batch of %d, want %d", len(r.alerts), want)
			}
			for _, a := range r.alerts {
				got = append(got, a["labels"].(map[string]any)["instance"].(string))
			}
		}
		if want := "host-6 host-7 host-8"; strings.Join(got, " ") != want {
			t.Errorf("delivered %v, want the newest: %s", got, want)
		}
		synctest.Wait()
		if sent := counter(set, "watchdog_alertmanager_alerts_sent_total", url); sent != 3 {
			t.Errorf("sent = %d, want 3", sent)
		}
	})
}

// A failing Alertmanager does not hold up a healthy one.
func TestAlertmanagersIndependent(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		down, up := newFakeAM(503), newFakeAM(200)
		mux := http.NewServeMux()
		mux.Handle("/down/", down)
		mux.Handle("/up/", up)
		set := metrics.NewSet()
		s := New(Options{URLs: []string{"http://am.test/down", "http://am.test/up"},
			Client: &http.Client{Transport: handlerTransport{mux}}, MaxRetries: 100,
			Backoff: func(int) time.Duration { return time.Hour }, Metrics: set})
		ctx, cancel := context.WithCancel(t.Context())
		go s.Run(ctx)
		s.Send(testAlert("A", 1))
		<-down.reqs
		<-up.reqs
		s.Send(testAlert("A", 2))
		r := <-up.reqs // while down waits an hour
		if len(r.alerts) != 1 || r.path != "/up/api/v2/alerts" {
			t.Errorf("healthy alertmanager got %+v", r)
		}
		synctest.Wait()
		if got := counter(set, "watchdog_alertmanager_alerts_sent_total", "http://am.test/up"); got != 2 {
			t.Errorf("sent to healthy = %d, want 2", got)
		}
		cancel()
		synctest.Wait()
		// Cancelled mid-backoff: neither sent nor failed.
		if got := counter(set, "watchdog_alertmanager_alerts_failed_total", "http://am.test/down"); got != 0 {
			t.Errorf("failed at shutdown = %d, want 0", got)
		}
	})
}

func TestRun(t *testing.T) {
	tests := []struct {
		url     string
		wantErr bool
	}{
		{"http://am:9093", false},
		{"https://am.example.com/prefix", false},
		{"am:9093", true},
		{"ftp://am", true},
		{"http://", true},
		{"://bad", true},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				s := New(Options{URLs: []string{tt.url}})
				ctx, cancel := context.WithCancel(t.Context())
				done := make(chan error, 1)
				go func() { done <- s.Run(ctx) }()
				synctest.Wait()
				cancel()
				err := <-done
				if tt.wantErr != errors.Is(err, ErrInvalidURL) || (!tt.wantErr && err != nil) {
					t.Errorf("Run = %v, want invalid url: %v", err, tt.wantErr)
				}
			})
		})
	}
}

func TestZeroOptions(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := New(Options{})
		s.Send(testAlert("A", 1)) // no Alertmanagers: discarded
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error, 1)
		go func() { done <- s.Run(ctx) }()
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run = %v", err)
		}
	})
}

func TestDefaultBackoff(t *testing.T) {
	tests := []struct {
		attempt  int
		min, max time.Duration
	}{
		{1, 250 * time.Millisecond, 500 * time.Millisecond},
		{2, 500 * time.Millisecond, time.Second},
		{4, 2 * time.Second, 4 * time.Second},
		{7, 15 * time.Second, 30 * time.Second},
		{30, 15 * time.Second, 30 * time.Second},
		{1000, 15 * time.Second, 30 * time.Second},
		{0, 15 * time.Second, 30 * time.Second},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.attempt), func(t *testing.T) {
			for range 100 {
				if d := DefaultBackoff(tt.attempt); d < tt.min || d >= tt.max {
					t.Fatalf("DefaultBackoff(%d) = %v, want in [%v, %v)", tt.attempt, d, tt.min, tt.max)
				}
			}
		})
	}
}

// TestAuthorization: the header comes from Options.Authorization at every
// attempt; an error there (an unreadable credentials file) is retried, and
// the next attempt carries the credentials found then.
func TestAuthorization(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		got := make(chan string, 10)
		mux := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got <- r.Header.Get("Authorization") })
		calls := 0
		s := New(Options{
			URLs:   []string{"http://am:9093"},
			Client: &http.Client{Transport: handlerTransport{mux}},
			Authorization: func(base string) (string, error) {
				calls++
				if base != "http://am:9093" {
					t.Errorf("asked for %q", base)
				}
				if calls == 1 {
					return "", errors.New("open token: no such file")
				}
				return "Bearer s3cret", nil
			},
		})
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		go s.Run(ctx)
		s.Send(testAlert("A", 1))
		time.Sleep(time.Minute)
		synctest.Wait()
		if calls != 2 || len(got) != 1 {
			t.Fatalf("%d credential look-ups and %d requests, want 2 and 1", calls, len(got))
		}
		if h := <-got; h != "Bearer s3cret" {
			t.Errorf("Authorization %q", h)
		}
	})
}
