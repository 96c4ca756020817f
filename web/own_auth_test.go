package web

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestHandleOwnAuth: a route with its own credentials is reached without
// the API token (and with a foreign bearer token), with the body limit
// applied; Handle still refuses the same request.
func TestHandleOwnAuth(t *testing.T) {
	h := New(Options{Token: "api-token"})
	var got int
	h.HandleOwnAuth("POST /own", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, "too large", http.StatusRequestEntityTooLarge)
			return
		}
		got = len(b)
	}))
	h.Handle("POST /guarded", http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	for _, tt := range []struct {
		path, auth string
		body       int
		want       int
	}{
		{"/own", "", 10, http.StatusOK},
		{"/own", "Bearer heartbeat-token", 10, http.StatusOK},
		{"/own", "", MaxRequestBodyBytes + 1, http.StatusRequestEntityTooLarge},
		{"/guarded", "Bearer heartbeat-token", 10, http.StatusUnauthorized},
	} {
		req := httptest.NewRequest(http.MethodPost, tt.path, strings.NewReader(strings.Repeat("a", tt.body)))
		if tt.auth != "" {
			req.Header.Set("Authorization", tt.auth)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != tt.want {
			t.Errorf("POST %s (%q, %d bytes): %d, want %d", tt.path, tt.auth, tt.body, rec.Code, tt.want)
		}
	}
	if got != 10 {
		t.Errorf("handler read %d bytes", got)
	}
}
