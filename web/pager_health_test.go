package web

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// TestPagerHealth pages, acknowledges and resolves one incident over the
// API and reads the health report back (golden testdata/pager_health.json).
func TestPagerHealth(t *testing.T) {
	srv, _, clk := newPagerServer(t)
	if resp := doJSON(t, srv, "POST", "/api/v2/alerts", loginAlert, true); resp.code != 200 {
		t.Fatalf("receive: %d %s", resp.code, resp.body)
	}
	clk.advance(3 * time.Minute)
	if resp := doJSON(t, srv, "POST", "/api/v1/pager/incidents/inc-1/ack", `{"by":"alice"}`, true); resp.code != 200 {
		t.Fatalf("ack: %d %s", resp.code, resp.body)
	}
	clk.advance(2 * time.Minute)
	if resp := doJSON(t, srv, "POST", "/api/v1/pager/incidents/inc-1/resolve", `{"by":"alice"}`, true); resp.code != 200 {
		t.Fatalf("resolve: %d %s", resp.code, resp.body)
	}
	clk.advance(time.Hour)

	resp := doJSON(t, srv, "GET", "/api/v1/pager/health?window=7d", "", false)
	if resp.code != 200 {
		t.Fatalf("health: %d %s", resp.code, resp.body)
	}
	checkGoldenText(t, "pager_health.json", resp.body)
	var got struct {
		Data struct {
			Routes []struct {
				Name      string
				Incidents int
				Noise     int
				TimeToAck struct {
					Median float64 `json:"median_seconds"`
				} `json:"time_to_ack"`
			}
		}
	}
	if err := json.Unmarshal(resp.body, &got); err != nil {
		t.Fatal(err)
	}
	// Acknowledged 3 minutes after it opened, resolved 2 minutes later
	// with no note: noise.
	if r := got.Data.Routes; len(r) != 1 || r[0].Name != "pages" || r[0].Incidents != 1 || r[0].TimeToAck.Median != 180 || r[0].Noise != 1 {
		t.Errorf("routes %+v", r)
	}

	// The route and user filters, and a window that no longer holds it.
	for path, want := range map[string]string{
		"/api/v1/pager/health?route=other":               `"routes":[]`,
		"/api/v1/pager/health?user=nobody":               `"people":[]`,
		"/api/v1/pager/health?window=30m":                `"routes":[]`,
		"/api/v1/pager/health?window=90d&route=pages":    `"name":"pages"`,
		"/api/v1/pager/health?route=%3Cscript%3E&user=x": `"routes":[]`,
	} {
		resp := doJSON(t, srv, "GET", path, "", false)
		if resp.code != 200 || !strings.Contains(string(resp.body), want) {
			t.Errorf("%s: %d %s, want %s", path, resp.code, resp.body, want)
		}
	}
}

func TestPagerHealthBadParams(t *testing.T) {
	srv, _, _ := newPagerServer(t)
	tests := []struct{ query, want string }{
		{"window=91d", `invalid parameter \"window\"`},
		{"window=0", `invalid parameter \"window\"`},
		{"window=-1h", `invalid parameter \"window\"`},
		{"window=forever", `invalid parameter \"window\"`},
		{"window=1e300", `invalid parameter \"window\"`},
		{"route=" + strings.Repeat("r", maxHealthNameBytes+1), `invalid parameter \"route\"`},
		{"user=" + strings.Repeat("u", maxHealthNameBytes+1), `invalid parameter \"user\"`},
	}
	for _, tt := range tests {
		t.Run(tt.query[:min(len(tt.query), 20)], func(t *testing.T) {
			resp := doJSON(t, srv, "GET", "/api/v1/pager/health?"+tt.query, "", false)
			if resp.code != http.StatusBadRequest || !strings.Contains(string(resp.body), tt.want) {
				t.Errorf("%d %s, want 400 with %s", resp.code, resp.body, tt.want)
			}
		})
	}
}

// TestPagerHealthOneAtATime: while a report runs, another waits; one whose
// client has gone gets 503 without reading anything.
func TestPagerHealthOneAtATime(t *testing.T) {
	_, p, clk := newPagerServer(t)
	a := &pagerAPI{o: PagerOptions{Pager: p}, now: clk.now, healthGate: make(chan struct{}, 1)}
	a.healthGate <- struct{}{}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	res := a.health(httptest.NewRequestWithContext(ctx, "GET", "/api/v1/pager/health", nil))
	if res.err == nil || res.err.typ != errorUnavailable || res.err.status() != http.StatusServiceUnavailable {
		t.Fatalf("busy: %+v", res.err)
	}
	<-a.healthGate
	res = a.health(httptest.NewRequest("GET", "/api/v1/pager/health", nil))
	if res.err != nil || len(a.healthGate) != 0 {
		t.Errorf("free: %+v, gate %d", res.err, len(a.healthGate))
	}
}
