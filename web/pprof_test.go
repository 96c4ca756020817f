package web

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestPprofNeedsToken: the runtime profiles answer only with the API token,
// even to GET, and refuse a CPU profile longer than maxProfileSeconds.
func TestPprofNeedsToken(t *testing.T) {
	h := New(Options{Token: "api-token"})
	for _, tt := range []struct {
		path, auth string
		want       int
		body       string
	}{
		{"/debug/pprof/heap", "", http.StatusUnauthorized, ""},
		{"/debug/pprof/heap", "Bearer wrong", http.StatusUnauthorized, ""},
		{"/debug/pprof/", "", http.StatusUnauthorized, ""},
		{"/debug/pprof/heap?debug=1", "Bearer api-token", http.StatusOK, "heap profile:"},
		{"/debug/pprof/goroutine?debug=1", "Bearer api-token", http.StatusOK, "goroutine profile:"},
		{"/debug/pprof/", "Bearer api-token", http.StatusOK, "Types of profiles available"},
		{"/debug/pprof/profile?seconds=100000", "Bearer api-token", http.StatusBadRequest, "seconds must be"},
		{"/debug/pprof/trace?seconds=-1", "Bearer api-token", http.StatusBadRequest, "seconds must be"},
		{"/debug/pprof/profile?seconds=1", "", http.StatusUnauthorized, ""},
	} {
		req := httptest.NewRequest(http.MethodGet, tt.path, nil)
		if tt.auth != "" {
			req.Header.Set("Authorization", tt.auth)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != tt.want || !strings.Contains(rec.Body.String(), tt.body) {
			t.Errorf("GET %s (%q): %d %.80q, want %d and %q", tt.path, tt.auth, rec.Code, rec.Body.String(), tt.want, tt.body)
		}
	}
}

// TestPprofRefusedWithoutToken: with no API token configured the profiles
// are not served at all.
func TestPprofRefusedWithoutToken(t *testing.T) {
	h := New(Options{})
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/debug/pprof/heap", nil))
	if rec.Code != http.StatusForbidden {
		t.Errorf("GET /debug/pprof/heap without a configured token: %d, want 403", rec.Code)
	}
}
