package heartbeat

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// seen is what a test endpoint received.
type seen struct {
	method, path, query, body string
	header                    http.Header
}

// endpointServer answers every request with code and records it.
func endpointServer(t *testing.T, code int) (*httptest.Server, *[]seen) {
	t.Helper()
	var got []seen
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got = append(got, seen{r.Method, r.URL.Path, r.URL.RawQuery, string(b), r.Header.Clone()})
		w.WriteHeader(code)
		io.WriteString(w, "answer body\n")
	}))
	t.Cleanup(srv.Close)
	return srv, &got
}

// TestAttemptContract: what goes over the wire for each kind of endpoint,
// and how the answer is classified.
func TestAttemptContract(t *testing.T) {
	tests := []struct {
		name      string
		endpoint  func(base string) Endpoint
		code      int
		want      seen
		wantRetry bool
		wantErr   string
	}{
		{
			name:     "healthchecks GET",
			endpoint: func(base string) Endpoint { return Endpoint{URL: base + "/0f1e2d3c-uuid?rid=1"} },
			code:     200,
			want:     seen{method: "GET", path: "/0f1e2d3c-uuid", query: "rid=1"},
		},
		{
			name: "POST with body and headers",
			endpoint: func(base string) Endpoint {
				return Endpoint{URL: base + "/ping/abc", Method: "POST", Body: []byte("watchdog ok"),
					Header: http.Header{"X-Api-Key": {"s3cret"}, "Content-Type": {"text/plain"}}}
			},
			code: 202,
			want: seen{method: "POST", path: "/ping/abc", body: "watchdog ok",
				header: http.Header{"X-Api-Key": {"s3cret"}, "Content-Type": {"text/plain"}}},
		},
		{
			name:     "opsgenie ping",
			endpoint: func(base string) Endpoint { return Opsgenie(base, "watchdog-prod", "genie-123", "") },
			code:     202,
			want:     seen{method: "GET", path: "/v2/heartbeats/watchdog-prod/ping", header: http.Header{"Authorization": {"GenieKey genie-123"}}},
		},
		{
			name:     "opsgenie POST",
			endpoint: func(base string) Endpoint { return Opsgenie(base+"/", "wd", "k", "POST") },
			code:     200,
			want:     seen{method: "POST", path: "/v2/heartbeats/wd/ping", header: http.Header{"Authorization": {"GenieKey k"}}},
		},
		{
			name:      "server error retried",
			endpoint:  func(base string) Endpoint { return Endpoint{URL: base + "/secret-uuid"} },
			code:      503,
			want:      seen{method: "GET", path: "/secret-uuid"},
			wantRetry: true,
			wantErr:   "503 Service Unavailable: answer body",
		},
		{
			name:      "rate limited retried",
			endpoint:  func(base string) Endpoint { return Endpoint{URL: base + "/secret-uuid"} },
			code:      429,
			want:      seen{method: "GET", path: "/secret-uuid"},
			wantRetry: true,
			wantErr:   "429 Too Many Requests",
		},
		{
			name:     "not found not retried",
			endpoint: func(base string) Endpoint { return Endpoint{URL: base + "/secret-uuid"} },
			code:     404,
			want:     seen{method: "GET", path: "/secret-uuid"},
			wantErr:  "404 Not Found",
		},
		{
			name:     "redirect is an error",
			endpoint: func(base string) Endpoint { return Endpoint{URL: base + "/secret-uuid"} },
			code:     302,
			want:     seen{method: "GET", path: "/secret-uuid"},
			wantErr:  "302 Found",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, got := endpointServer(t, tt.code)
			s := New(Options{Endpoint: tt.endpoint(srv.URL)})
			retry, err := s.Attempt(context.Background())
			if retry != tt.wantRetry {
				t.Errorf("retry = %v, want %v", retry, tt.wantRetry)
			}
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("err = %v, want nil", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr) || !errors.Is(err, ErrStatus)):
				t.Errorf("err = %v, want ErrStatus with %q", err, tt.wantErr)
			case err != nil && strings.Contains(err.Error(), "secret-uuid"):
				t.Errorf("err %q reveals the URL's path", err)
			}
			if len(*got) != 1 {
				t.Fatalf("endpoint got %d requests, want 1", len(*got))
			}
			r := (*got)[0]
			if r.method != tt.want.method || r.path != tt.want.path || r.query != tt.want.query || r.body != tt.want.body {
				t.Errorf("got %s %s?%s body %q, want %s %s?%s body %q",
					r.method, r.path, r.query, r.body, tt.want.method, tt.want.path, tt.want.query, tt.want.body)
			}
			for k, v := range tt.want.header {
				if g := r.header.Get(k); g != v[0] {
					t.Errorf("header %s = %q, want %q", k, g, v[0])
				}
			}
			if ua := r.header.Get("User-Agent"); ua != userAgent {
				t.Errorf("User-Agent = %q", ua)
			}
		})
	}
}

// TestAttemptNetworkError: a refused connection is retried, and the error
// names the host but not the path.
func TestAttemptNetworkError(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	base := srv.URL
	srv.Close()
	s := New(Options{Endpoint: Endpoint{URL: base + "/secret-uuid"}})
	retry, err := s.Attempt(context.Background())
	if !retry || err == nil {
		t.Fatalf("retry %v, err %v; want a retryable error", retry, err)
	}
	if strings.Contains(err.Error(), "secret-uuid") || !strings.Contains(err.Error(), base) {
		t.Errorf("err %q: want the host %s and not the path", err, base)
	}
}
