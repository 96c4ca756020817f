package checkin

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func newMux(r *Runner) *http.ServeMux {
	mux := http.NewServeMux()
	Register(func(p string, h http.Handler) { mux.Handle(p, h) }, r)
	return mux
}

func do(mux http.Handler, method, target string, body io.Reader, hdr map[string]string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, target, body)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	mux.ServeHTTP(w, req)
	return w
}

// TestHTTPPing: the token in the path, the query or the header; /fail
// and /start; the body kept as the message.
func TestHTTPPing(t *testing.T) {
	r := New(Options{})
	r.Apply([]Spec{backup})
	mux := newMux(r)
	tests := []struct {
		name, target string
		hdr          map[string]string
		kind         Kind
		want         Status
	}{
		{"path", "/api/v1/heartbeats/backup/" + testToken, nil, Success, StatusUp},
		{"query", "/api/v1/heartbeats/backup?token=" + testToken, nil, Success, StatusUp},
		{"header", "/api/v1/heartbeats/backup", map[string]string{"Authorization": "Bearer " + testToken}, Success, StatusUp},
		{"header scheme case", "/api/v1/heartbeats/backup", map[string]string{"Authorization": "bearer " + testToken}, Success, StatusUp},
		{"start in path", "/api/v1/heartbeats/backup/" + testToken + "/start", nil, Start, StatusUp},
		{"fail with header", "/api/v1/heartbeats/backup/fail", map[string]string{"Authorization": "Bearer " + testToken}, Fail, StatusFailed},
		{"start with query", "/api/v1/heartbeats/backup/start?token=" + testToken, nil, Start, StatusFailed},
		{"success again", "/api/v1/heartbeats/backup/" + testToken, nil, Success, StatusUp},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := do(mux, http.MethodPost, tt.target, strings.NewReader("run "+tt.name), tt.hdr)
			if w.Code != http.StatusOK {
				t.Fatalf("code %d: %s", w.Code, w.Body)
			}
			var resp struct {
				Data struct{ State Status } `json:"data"`
			}
			if err := json.Unmarshal(w.Body.Bytes(), &resp); err != nil || resp.Data.State != tt.want {
				t.Fatalf("body %s (%v), want state %s", w.Body, err, tt.want)
			}
			if got := r.List()[0].State.Message; got != "run "+tt.name {
				t.Errorf("message %q", got)
			}
		})
	}
}

// TestHTTPHostile: a huge body, wrong tokens, unknown names and GET (or
// any method but POST) change nothing, and unknown and wrong look alike.
func TestHTTPHostile(t *testing.T) {
	r := New(Options{})
	r.Apply([]Spec{backup})
	mux := newMux(r)
	before := r.List()[0].State

	var notFound string
	for i, target := range []string{
		"/api/v1/heartbeats/backup/wrong-token",
		"/api/v1/heartbeats/backup?token=wrong",
		"/api/v1/heartbeats/backup",
		"/api/v1/heartbeats/nope/" + testToken,
		"/api/v1/heartbeats/nope?token=" + testToken,
		"/api/v1/heartbeats/nope/fail",
	} {
		w := do(mux, http.MethodPost, target, strings.NewReader("x"), nil)
		if w.Code != http.StatusNotFound {
			t.Errorf("POST %s: code %d", target, w.Code)
		}
		if i == 0 {
			notFound = w.Body.String()
		} else if w.Body.String() != notFound {
			t.Errorf("POST %s: body %q differs from %q", target, w.Body, notFound)
		}
	}
	for _, m := range []string{http.MethodGet, http.MethodHead, http.MethodPut, http.MethodDelete} {
		for _, target := range []string{"/api/v1/heartbeats/backup/" + testToken, "/api/v1/heartbeats/backup?token=" + testToken,
			"/api/v1/heartbeats/backup/" + testToken + "/fail", "/api/v1/heartbeats/nope/" + testToken} {
			if w := do(mux, m, target, nil, nil); w.Code != http.StatusMethodNotAllowed {
				t.Errorf("%s %s: code %d, want 405", m, target, w.Code)
			}
		}
	}
	if after := r.List()[0].State; after != before {
		t.Fatalf("state changed: %+v → %+v", before, after)
	}

	// A body over MaxBodyBytes is refused and changes nothing; it is not
	// read much beyond the limit.
	huge := &countingReader{left: 64 << 20}
	if w := do(mux, http.MethodPost, "/api/v1/heartbeats/backup/"+testToken, huge, nil); w.Code != http.StatusRequestEntityTooLarge {
		t.Fatalf("huge body: code %d", w.Code)
	}
	if huge.read > MaxBodyBytes+64<<10 {
		t.Errorf("read %d bytes of the body", huge.read)
	}
	if after := r.List()[0].State; after != before {
		t.Fatalf("a huge body changed the state: %+v → %+v", before, after)
	}
	// A large body within the bound: its last MaxMessageBytes are kept,
	// a rune cut at the start dropped.
	body := strings.Repeat("é", 300<<10) + "exit 3: disk full"
	if w := do(mux, http.MethodPost, "/api/v1/heartbeats/backup/"+testToken, strings.NewReader(body), nil); w.Code != http.StatusOK {
		t.Fatalf("large body: code %d", w.Code)
	}
	got := r.List()[0].State.Message
	if len(got) > MaxMessageBytes || len(got) < MaxMessageBytes-1 || !strings.HasSuffix(got, "exit 3: disk full") || strings.ContainsRune(got, '\uFFFD') {
		t.Errorf("message of %d bytes: %q…", len(got), got[:min(len(got), 20)])
	}
	// Invalid UTF-8 is made valid.
	do(mux, http.MethodPost, "/api/v1/heartbeats/backup/"+testToken, strings.NewReader("ok \xff\xfe"), nil)
	if got := r.List()[0].State.Message; got != "ok \uFFFD" {
		t.Errorf("message %q", got)
	}
}

type countingReader struct{ left, read int }

func (c *countingReader) Read(p []byte) (int, error) {
	if c.left == 0 {
		return 0, io.EOF
	}
	n := min(len(p), c.left)
	for i := range p[:n] {
		p[i] = 'a'
	}
	c.left -= n
	c.read += n
	return n, nil
}

// TestHTTPList: the list shows state and next due, never the token.
func TestHTTPList(t *testing.T) {
	r := New(Options{})
	other := backup
	other.Name, other.Token = "alpha", "another-secret-token-value"
	r.Apply([]Spec{backup, other})
	mux := newMux(r)
	do(mux, http.MethodPost, "/api/v1/heartbeats/backup/"+testToken, strings.NewReader("done"), nil)
	w := do(mux, http.MethodGet, "/api/v1/heartbeats", nil, nil)
	if w.Code != http.StatusOK {
		t.Fatalf("code %d", w.Code)
	}
	body := w.Body.String()
	if strings.Contains(body, testToken) || strings.Contains(body, other.Token) {
		t.Fatalf("list shows a token: %s", body)
	}
	var resp struct {
		Data struct {
			Heartbeats []jsonHeartbeat `json:"heartbeats"`
		} `json:"data"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &resp); err != nil {
		t.Fatal(err)
	}
	hb := resp.Data.Heartbeats
	if len(hb) != 2 || hb[0].Name != "alpha" || hb[0].State != StatusNew || hb[1].Name != "backup" || hb[1].State != StatusUp ||
		hb[1].Message != "done" || hb[1].LastSuccess == nil || !hb[1].NextDue.Equal(hb[1].LastSuccess.Add(backup.Period)) ||
		hb[1].Period != 10 || hb[1].Grace != 5 || hb[1].Labels["team"] != "storage" {
		t.Fatalf("list %s", body)
	}
}
