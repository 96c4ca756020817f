package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// checkinToken is the e2e heartbeat's token (from the environment).
const checkinToken = "e2e-heartbeat-token-0123456789"

// checkinHeartbeat is GET /api/v1/heartbeats's entry, as the test reads it.
type checkinHeartbeat struct {
	Name        string     `json:"name"`
	State       string     `json:"state"`
	LastSuccess *time.Time `json:"lastSuccess"`
	Started     *time.Time `json:"started"`
	Message     string     `json:"message"`
	Pings       uint64     `json:"pings"`
	Alert       string     `json:"alert"`
}

func (h *hostile) heartbeat(t *testing.T) checkinHeartbeat {
	t.Helper()
	code, body := h.get(t, "/api/v1/heartbeats")
	var resp struct {
		Data struct {
			Heartbeats []checkinHeartbeat `json:"heartbeats"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &resp); code != http.StatusOK || err != nil || len(resp.Data.Heartbeats) != 1 {
		t.Fatalf("GET /api/v1/heartbeats: %d %s (%v)", code, body, err)
	}
	if strings.Contains(string(body), checkinToken) {
		t.Fatalf("the list shows the token: %s", body)
	}
	return resp.Data.Heartbeats[0]
}

// checkin posts to a check-in URL with an optional header token.
func (h *hostile) checkin(t *testing.T, method, path string, header string, body []byte) (int, []byte) {
	t.Helper()
	hdr := http.Header{}
	if header != "" {
		hdr.Set("Authorization", "Bearer "+header)
	}
	resp, b := h.do(t, method, path, hdr, body)
	return resp.StatusCode, b
}

// openIncidents returns the body of the open incidents list.
func (h *hostile) openIncidents(t *testing.T) string {
	t.Helper()
	code, body := h.get(t, "/api/v1/pager/incidents?status=open")
	if code != http.StatusOK {
		t.Fatalf("open incidents: %d %s", code, body)
	}
	return string(body)
}

// restart stops the watchdog (SIGTERM) and starts it again on the same
// directory and configuration, waiting until it serves.
func (h *hostile) restart(t *testing.T, down time.Duration) {
	t.Helper()
	if took, ok := h.stop(10 * time.Second); !ok {
		t.Fatalf("SIGTERM took %v", took)
	}
	time.Sleep(down) // the watchdog is down: real time passes for the heartbeat
	h.watchdog = &watchdog{stdout: newSyncBuffer(), stderr: newSyncBuffer()}
	h.done = make(chan struct{})
	args := append([]string{"run", "--config", h.configPath, "--web.listen-address", "127.0.0.1:0"}, h.hc.Args...)
	h.cmd = exec.Command(binary, args...)
	h.cmd.Stdout, h.cmd.Stderr = h.watchdog.stdout, h.watchdog.stderr
	h.cmd.Dir = h.dir
	h.cmd.Env = append(append(os.Environ(), "WATCHDOG_TOKEN="), h.hc.Env...)
	if err := h.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	cmd, done := h.cmd, h.done
	go func() { cmd.Wait(); close(done) }()
	eventually(t, 30*time.Second, func() error {
		if !h.alive() {
			return fmt.Errorf("watchdog exited early:\n%s%s", h.watchdog.stdout, h.watchdog.stderr)
		}
		out := h.watchdog.stdout.String()
		u, tok := servingRE.FindStringSubmatch(out), tokenRE.FindStringSubmatch(out)
		if u == nil || tok == nil {
			return fmt.Errorf("no URL and token on stdout yet:\n%s", out)
		}
		h.url, h.token = u[1], tok[1]
		return nil
	})
}

// TestCheckins (issue #15, heartbeats): a job's check-ins with its own
// token (path, query, header), /start then success measuring the run;
// hostile calls (GET, wrong token, unknown name, huge body) change
// nothing; a missed check-in pages through the pager like a rule alert and
// the next success resolves it; the state survives a restart, and a
// deadline that passed while the watchdog was down is detected at start.
func TestCheckins(t *testing.T) {
	parallel(t, 10*time.Second)
	hook := newHookServer(t)
	hc := hostileConfig{
		Pager:   twoLevelPager(hook.URL, "1h", ""),
		Storage: "snapshot_path: data/snapshot.wds\n",
		Extra: `heartbeats:
  - name: nightly
    period: 2s
    grace: 1s
    token_env: WD_E2E_CHECKIN_TOKEN
    labels: {severity: page, team: storage}
    annotations: {summary: the nightly job did not check in}
`,
		Env: []string{"WD_E2E_CHECKIN_TOKEN=" + checkinToken},
	}
	h := startHostile(t, hc)
	base := "/api/v1/heartbeats/nightly"

	if code, b := h.checkin(t, http.MethodPost, base+"/start", checkinToken, nil); code != http.StatusOK {
		t.Fatalf("start: %d %s", code, b)
	}
	if hb := h.heartbeat(t); hb.Started == nil || hb.Pings != 1 {
		t.Fatalf("after start: %+v", hb)
	}
	code, b := h.checkin(t, http.MethodPost, base+"/"+checkinToken, "", []byte("backup done: 3 GB"))
	if code != http.StatusOK || !strings.Contains(string(b), `"state":"up"`) {
		t.Fatalf("success: %d %s", code, b)
	}
	before := h.heartbeat(t)
	if before.State != "up" || before.Message != "backup done: 3 GB" || before.Started != nil || before.Pings != 2 {
		t.Fatalf("after success: %+v", before)
	}

	// Hostile calls change nothing; unknown and wrong look the same.
	var notFound string
	for i, c := range []struct{ method, path, header string }{
		{http.MethodPost, base + "/wrong-token-0123456789", ""},
		{http.MethodPost, base + "?token=wrong", ""},
		{http.MethodPost, base, "wrong"},
		{http.MethodPost, base, ""},
		{http.MethodPost, "/api/v1/heartbeats/nope/" + checkinToken, ""},
		{http.MethodPost, "/api/v1/heartbeats/nope/fail?token=" + checkinToken, ""},
	} {
		code, b := h.checkin(t, c.method, c.path, c.header, []byte("x"))
		if code != http.StatusNotFound {
			t.Errorf("%s %s: %d %s, want 404", c.method, c.path, code, b)
		}
		if i == 0 {
			notFound = string(b)
		} else if string(b) != notFound {
			t.Errorf("%s %s: body %q differs from %q", c.method, c.path, b, notFound)
		}
	}
	for _, p := range []string{base + "/" + checkinToken, base + "/fail?token=" + checkinToken, base + "/" + checkinToken + "/start"} {
		if code, _ := h.checkin(t, http.MethodGet, p, "", nil); code == http.StatusOK {
			t.Errorf("GET %s answered 200", p)
		}
	}
	if hb := h.heartbeat(t); hb.Pings != before.Pings || hb.Message != before.Message || !hb.LastSuccess.Equal(*before.LastSuccess) {
		t.Fatalf("hostile calls changed the heartbeat: %+v → %+v", before, hb)
	}
	// A body over 1 MiB is refused (413, or the connection closed while the
	// client still sends) and changes nothing.
	req, err := http.NewRequest(http.MethodPost, h.url+base+"?token="+checkinToken, bytes.NewReader(bytes.Repeat([]byte("A"), 8<<20)))
	if err != nil {
		t.Fatal(err)
	}
	if resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req); err == nil {
		resp.Body.Close()
		if resp.StatusCode != http.StatusRequestEntityTooLarge {
			t.Errorf("8 MiB body: %d, want 413", resp.StatusCode)
		}
	}
	if hb := h.heartbeat(t); hb.Pings != before.Pings || hb.Message != before.Message {
		t.Fatalf("a huge body changed the heartbeat: %+v → %+v", before, hb)
	}
	// A large log within the bound: its last 1 KiB is the message.
	log := append(bytes.Repeat([]byte("A"), 200<<10), "exit 0"...)
	if code, b := h.checkin(t, http.MethodPost, base, checkinToken, log); code != http.StatusOK {
		t.Fatalf("large body: %d %s", code, b)
	}
	if hb := h.heartbeat(t); len(hb.Message) != 1024 || !strings.HasSuffix(hb.Message, "exit 0") {
		t.Errorf("message of %d bytes kept, want the last 1024", len(hb.Message))
	}

	// No check-in for period + grace: the pager opens an incident and pages.
	eventually(t, 15*time.Second, func() error {
		if body := h.openIncidents(t); !strings.Contains(body, "HeartbeatMissed") || !strings.Contains(body, "nightly") {
			return fmt.Errorf("no HeartbeatMissed incident yet: %s", tail(body, 400))
		}
		return nil
	})
	hook.waitHit(t, "/push", 1, 10*time.Second)
	if hb := h.heartbeat(t); hb.State != "down" || hb.Alert != "HeartbeatMissed" {
		t.Errorf("after the miss: %+v", hb)
	}
	code, b = h.get(t, `/api/v1/query?query=watchdog_checkin_up{heartbeat="nightly"}`)
	if code != http.StatusOK || !strings.Contains(string(b), `"heartbeat":"nightly"`) {
		t.Errorf("watchdog_checkin_up: %d %s", code, b)
	}
	if code, b := h.checkin(t, http.MethodPost, base+"?token="+checkinToken, "", nil); code != http.StatusOK {
		t.Fatalf("success: %d %s", code, b)
	}
	eventually(t, 10*time.Second, func() error {
		if body := h.openIncidents(t); strings.Contains(body, "HeartbeatMissed") {
			return fmt.Errorf("the incident is still open: %s", tail(body, 400))
		}
		return nil
	})

	// Restart mid-period: the state survives.
	if code, b := h.checkin(t, http.MethodPost, base, checkinToken, []byte("before restart")); code != http.StatusOK {
		t.Fatalf("success: %d %s", code, b)
	}
	last := h.heartbeat(t)
	h.restart(t, 0)
	if hb := h.heartbeat(t); !hb.LastSuccess.Equal(*last.LastSuccess) || hb.Pings != last.Pings || hb.Message != "before restart" {
		t.Fatalf("after restart: %+v, before %+v", hb, last)
	}
	if code, b := h.checkin(t, http.MethodPost, base, checkinToken, nil); code != http.StatusOK {
		t.Fatalf("success after restart: %d %s", code, b)
	}

	// Down across the deadline: the miss is found at start, from the
	// persisted last success (a fresh heartbeat would be "new").
	last = h.heartbeat(t)
	h.restart(t, 4*time.Second)
	if hb := h.heartbeat(t); hb.State != "down" || !hb.LastSuccess.Equal(*last.LastSuccess) {
		t.Fatalf("after a restart across the deadline: %+v", hb)
	}
	eventually(t, 10*time.Second, func() error {
		if body := h.openIncidents(t); !strings.Contains(body, "HeartbeatMissed") {
			return fmt.Errorf("no HeartbeatMissed incident after the restart: %s", tail(body, 400))
		}
		return nil
	})

	// A reload adds a heartbeat and keeps the state of the one that stays.
	next := hc
	next.Extra += `  - name: hourly
    period: 1h
    token_env: WD_E2E_CHECKIN_TOKEN
`
	h.writeConfig(t, h.configWith(next))
	if code, b := h.reload(t); code != http.StatusOK {
		t.Fatalf("reload: %d %s", code, b)
	}
	code, b = h.get(t, "/api/v1/heartbeats")
	if code != http.StatusOK || !strings.Contains(string(b), `"name":"hourly","state":"new"`) ||
		!strings.Contains(string(b), `"name":"nightly","state":"down"`) {
		t.Fatalf("after the reload: %d %s", code, b)
	}
	h.assertHealthy(t)
}
