package channel

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
)

// recorded is one request seen by a fakeServer.
type recorded struct {
	Method string
	Path   string // escaped path
	Query  string
	Header http.Header
	Body   []byte
	User   string
	Pass   string
	HasBA  bool
}

// reply is what a fakeServer answers.
type reply struct {
	Status int
	Header map[string]string
	Body   string
}

// fakeServer records requests and answers from a script (the last reply
// repeats).
type fakeServer struct {
	*httptest.Server
	mu      sync.Mutex
	reqs    []recorded
	replies []reply
}

func newFakeServer(t *testing.T, replies ...reply) *fakeServer {
	t.Helper()
	if len(replies) == 0 {
		replies = []reply{{Status: 200}}
	}
	f := &fakeServer{replies: replies}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		u, p, ok := r.BasicAuth()
		f.mu.Lock()
		f.reqs = append(f.reqs, recorded{r.Method, r.URL.EscapedPath(), r.URL.RawQuery, r.Header.Clone(), body, u, p, ok})
		rep := f.replies[min(len(f.reqs), len(f.replies))-1]
		f.mu.Unlock()
		for k, v := range rep.Header {
			w.Header().Set(k, v)
		}
		w.WriteHeader(rep.Status)
		_, _ = io.WriteString(w, rep.Body)
	}))
	t.Cleanup(f.Close)
	return f
}

func (f *fakeServer) requests() []recorded {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]recorded(nil), f.reqs...)
}

// only returns the single request the server saw.
func (f *fakeServer) only(t *testing.T) recorded {
	t.Helper()
	r := f.requests()
	if len(r) != 1 {
		t.Fatalf("server saw %d requests, want 1", len(r))
	}
	return r[0]
}

// decodeJSON decodes a request body into a generic map.
func decodeJSON(t *testing.T, b []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("body is not a JSON object: %v\n%s", err, b)
	}
	return m
}

func wantEq[T comparable](t *testing.T, what string, got, want T) {
	t.Helper()
	if got != want {
		t.Errorf("%s = %v, want %v", what, got, want)
	}
}

var t0 = time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)

// sampleMessage is a realistic trigger page.
func sampleMessage() Message {
	return Message{
		IncidentID: "inc-42",
		DedupKey:   "wd-9f2c",
		Event:      EventTrigger,
		Title:      "LoginErrorSpike",
		Summary:    "login error ratio 12% > 5% for 10m",
		Severity:   "critical",
		Source:     "prod-eu-1",
		Labels:     map[string]string{"alertname": "LoginErrorSpike", "service": "auth", "team": "identity"},
		Annotations: map[string]string{
			"summary":     "login error ratio 12% > 5% for 10m",
			"runbook_url": "https://runbooks.example/login",
		},
		Alerts: []Alert{
			{
				Labels:       map[string]string{"alertname": "LoginErrorSpike", "service": "auth", "instance": "a:9090"},
				Annotations:  map[string]string{"summary": "a is bad", "runbook_url": "https://runbooks.example/login"},
				StartsAt:     t0.Add(-10 * time.Minute),
				GeneratorURL: "https://watchdog.example/graph?g0.expr=x",
				Status:       StatusFiring,
			},
			{
				Labels:      map[string]string{"alertname": "LoginErrorSpike", "service": "auth", "instance": "b:9090"},
				Annotations: map[string]string{"summary": "b is bad", "runbook_url": "https://runbooks.example/login"},
				StartsAt:    t0.Add(-20 * time.Minute),
				EndsAt:      t0.Add(-time.Minute),
				Status:      StatusResolved,
			},
		},
		AckURL:      "https://watchdog.example/ack?i=inc-42&sig=abc123",
		Recipient:   Contact{Name: "alice", Address: "alice@example.com"},
		ExternalURL: "https://watchdog.example",
		Time:        t0,
		GroupKey:    `{}:{alertname="LoginErrorSpike"}`,
		Receiver:    "identity-oncall",
	}
}

func bg() context.Context { return context.Background() }
