package probe

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// journeyShop is a login → add to cart → view cart service. broken names
// the step that answers 500; the others check the session cookie and the
// captured token and cart id, answering 401 when they are missing.
func journeyShop(t *testing.T, broken *atomic.Value) *httptest.Server {
	t.Helper()
	fail := func(w http.ResponseWriter, step string) bool {
		if b, _ := broken.Load().(string); b == step {
			http.Error(w, step+" is broken", http.StatusInternalServerError)
			return true
		}
		return false
	}
	authed := func(r *http.Request) bool {
		c, err := r.Cookie("session")
		return err == nil && c.Value == "s1"
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		if fail(w, "login") {
			return
		}
		http.SetCookie(w, &http.Cookie{Name: "session", Value: "s1", Path: "/"})
		w.Header().Set("X-Request-Id", "req-42")
		fmt.Fprint(w, `{"token":"tok-9","user":{"name":"demo"}}`)
	})
	mux.HandleFunc("POST /cart/items", func(w http.ResponseWriter, r *http.Request) {
		if fail(w, "add_to_cart") {
			return
		}
		if !authed(r) || r.Header.Get("X-Token") != "tok-9" || r.Header.Get("X-Trace") != "req-42" {
			http.Error(w, "who are you", http.StatusUnauthorized)
			return
		}
		fmt.Fprint(w, `{"cart":"cart-17"} added`)
	})
	mux.HandleFunc("GET /cart/{id}", func(w http.ResponseWriter, r *http.Request) {
		if fail(w, "view_cart") {
			return
		}
		if !authed(r) || r.PathValue("id") != "cart-17" {
			http.Error(w, "no such cart", http.StatusNotFound)
			return
		}
		fmt.Fprint(w, `{"items":[{"sku":"SKU-1"}]}`)
	})
	s := httptest.NewServer(mux)
	t.Cleanup(s.Close)
	return s
}

const journeyConfig = `
probes:
  - name: checkout
    target: %s
    steps:
      - name: login
        url: /login
        http: {method: POST, body: '{"user":"demo"}'}
        capture:
          - {name: token, json_path: token}
          - {name: trace, header: X-Request-Id}
      - name: add_to_cart
        url: ${target}/cart/items
        http:
          method: POST
          headers: {X-Token: '${token}', X-Trace: '${trace}'}
        capture:
          - {name: cart, regexp: '"cart":"([^"]+)"'}
      - name: view_cart
        url: /cart/${cart}
        http:
          fail_if_json_not_matches: [{path: items.0.sku, regexp: '^SKU-'}]
`

func TestJourneyEachStepFails(t *testing.T) {
	var broken atomic.Value
	s := journeyShop(t, &broken)
	c := parseProbes(t, fmt.Sprintf(journeyConfig, s.URL))
	pc := c.Probes[0]
	steps := []string{"login", "add_to_cart", "view_cart"}
	for i, failing := range append([]string{""}, steps...) {
		t.Run("broken="+failing, func(t *testing.T) {
			broken.Store(failing)
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			res := NewProber().Run(ctx, &pc.Effective, pc.Steps, s.URL)
			if res.Success != (failing == "") {
				t.Fatalf("success = %v (%+v)", res.Success, res.Failure)
			}
			ran := len(steps)
			if failing != "" {
				ran = i
				if res.Failure.Step != failing || res.Failure.Status != 500 || !strings.Contains(res.Failure.Body, failing+" is broken") {
					t.Errorf("failure = %+v, want step %s, status 500 and the body", res.Failure, failing)
				}
				if v := mustValue(t, res, "probe_journey_failed_step", "step", failing); v != 1 {
					t.Errorf("probe_journey_failed_step = %v", v)
				}
			}
			if len(res.Steps) != ran {
				t.Fatalf("%d steps ran, want %d: %+v", len(res.Steps), ran, res.Steps)
			}
			for j, st := range steps {
				v, ok := seriesValue(res, "probe_journey_step_success", "step", st)
				switch {
				case j < ran-1 || (failing == "" && j < ran):
					if !ok || v != 1 {
						t.Errorf("step %s success = %v,%v, want 1", st, v, ok)
					}
				case j == ran-1 && failing != "":
					if !ok || v != 0 {
						t.Errorf("failing step %s success = %v,%v, want 0", st, v, ok)
					}
				default:
					if ok {
						t.Errorf("step %s after the failure has a series", st)
					}
				}
			}
			for _, st := range res.Steps {
				if v := mustValue(t, res, "probe_http_status_code", "step", st.Name); v != float64(st.Status) {
					t.Errorf("step %s status series %v, result %d", st.Name, v, st.Status)
				}
				mustValue(t, res, "probe_http_duration_seconds", "phase", "processing", "step", st.Name)
			}
			if _, ok := seriesValue(res, "probe_http_status_code"); ok {
				t.Errorf("a journey series without the step label")
			}
		})
	}
}

func TestJourneyCapturesFail(t *testing.T) {
	var broken atomic.Value
	s := journeyShop(t, &broken)
	tests := []struct{ name, yaml, step, reason string }{
		{"missing json path", strings.Replace(journeyConfig, "json_path: token", "json_path: user.id", 1), "login", "capture token: json path not found"},
		{"missing header", strings.Replace(journeyConfig, "header: X-Request-Id", "header: X-Nope", 1), "login", "capture trace: no header X-Nope"},
		{"regexp does not match", strings.Replace(journeyConfig, `"cart":"([^"]+)"`, `"basket":"(.+)"`, 1), "add_to_cart", "capture cart: body does not match"},
		{"undefined variable", strings.Replace(journeyConfig, "/cart/${cart}", "/cart/${basket}", 1), "view_cart", "undefined variable ${basket}"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pc := parseProbes(t, fmt.Sprintf(tt.yaml, s.URL)).Probes[0]
			res := NewProber().Run(context.Background(), &pc.Effective, pc.Steps, s.URL)
			if res.Success || res.Failure.Step != tt.step || !strings.Contains(res.Failure.Reason, tt.reason) {
				t.Fatalf("failure = %+v, want step %s with %q", res.Failure, tt.step, tt.reason)
			}
		})
	}
}
