package e2e

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// pingServer is a loopback heartbeat endpoint that records every call.
type pingServer struct {
	*httptest.Server
	mu    sync.Mutex
	calls []string // "METHOD PATH AUTHORIZATION"
}

func newPingServer(t *testing.T) *pingServer {
	t.Helper()
	s := &pingServer{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.calls = append(s.calls, r.Method+" "+r.URL.Path+" "+r.Header.Get("Authorization"))
		s.mu.Unlock()
		w.WriteHeader(http.StatusAccepted)
		fmt.Fprintln(w, `{"result":"PONG","took":0.001}`)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *pingServer) list() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.calls...)
}

// TestHeartbeatPings (issue #12, dead man's switch): a watchdog with an
// Opsgenie-style heartbeat every second, rules evaluating and a pager,
// pings the endpoint with its API key from the environment, counts the
// pings in /metrics, and refuses a reload that changes the section
// (restart-only) while it keeps pinging. Withholding while unhealthy is
// covered by the heartbeat package's and cmd/watchdog's unit tests.
func TestHeartbeatPings(t *testing.T) {
	parallel(t, 5*time.Second)
	ping := newPingServer(t)
	hook := newHookServer(t)
	heartbeat := func(interval string) string {
		return "heartbeat:\n  kind: opsgenie\n  url: " + ping.URL + "\n  name: watchdog-e2e\n  api_key_env: WD_E2E_GENIE_KEY\n  interval: " + interval + "\n"
	}
	hc := hostileConfig{
		Rules:     map[string]string{"rules.yml": reloadRulesOne},
		Pager:     twoLevelPager(hook.URL, "15s", ""),
		Extra:     heartbeat("1s"),
		Env:       []string{"WD_E2E_GENIE_KEY=genie-e2e"},
		MaxRSSMiB: 128,
	}
	h := startHostile(t, hc)
	eventually(t, 15*time.Second, func() error {
		if n := len(ping.list()); n < 3 {
			return fmt.Errorf("%d pings so far, want 3", n)
		}
		return nil
	})
	for _, c := range ping.list() {
		if c != "GET /v2/heartbeats/watchdog-e2e/ping GenieKey genie-e2e" {
			t.Fatalf("ping %q, want GET /v2/heartbeats/watchdog-e2e/ping with the GenieKey", c)
		}
	}
	if v, ok := h.metric(t, "watchdog_heartbeat_sent_total"); !ok || v < 3 {
		t.Errorf("watchdog_heartbeat_sent_total = %v (present %v), want >= 3", v, ok)
	}
	if v, ok := h.metric(t, "watchdog_heartbeat_withheld_total"); !ok || v != 0 {
		t.Errorf("watchdog_heartbeat_withheld_total = %v (present %v), want 0", v, ok)
	}
	if v, ok := h.metric(t, "watchdog_heartbeat_last_success_timestamp_seconds"); !ok || v < float64(time.Now().Add(-time.Minute).Unix()) {
		t.Errorf("watchdog_heartbeat_last_success_timestamp_seconds = %v (present %v), want within the last minute", v, ok)
	}

	changed := hc
	changed.Extra = heartbeat("2s")
	h.writeConfig(t, h.configWith(changed))
	if code, body := h.reload(t); code == http.StatusOK || !strings.Contains(string(body), "changing the heartbeat section needs a restart") {
		t.Fatalf("reload changing the heartbeat: %d %s, want a refusal", code, body)
	}
	h.waitLog(t, regexp.MustCompile(`reload refused`))
	before := len(ping.list())
	eventually(t, 10*time.Second, func() error {
		if n := len(ping.list()); n < before+2 {
			return fmt.Errorf("%d pings since the refused reload, want 2", n-before)
		}
		return nil
	})
	if strings.Contains(h.logs(), "genie-e2e") {
		t.Error("the API key appears in the logs")
	}
	h.assertHealthy(t)
}
