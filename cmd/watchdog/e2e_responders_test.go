package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestPagerRespondersE2E runs the real binary: the page says its summary
// once; alice acknowledges and asks bob for help with the CLI; bob is
// paged on the console, acknowledges his part with the CLI, and the
// incident stays acknowledged by alice with bob engaged.
func TestPagerRespondersE2E(t *testing.T) {
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "watchdog.yml")
	for name, text := range map[string]string{"watchdog.yml": pagerConfig, "rules.yml": pagerRules} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	const token = "e2e-token"
	p := start(t, []string{"WATCHDOG_TOKEN=" + token}, "run", "--config", cfgPath, "--web.listen-address", "127.0.0.1:0")
	var incident, line string
	eventually(t, 20*time.Second, func() error {
		for _, m := range pageLineRE.FindAllStringSubmatch(p.output.String(), -1) {
			if m[1] == "push" && m[2] == "alice" && strings.HasPrefix(m[3], "AlwaysFiring") {
				incident, line = m[4], m[0]
				return nil
			}
		}
		return fmt.Errorf("no push page for AlwaysFiring yet; stdout:\n%s", p.output.String())
	})
	if n := strings.Count(line, "it fires at once"); n != 1 || !strings.Contains(line, "[TRIGGER] AlwaysFiring: it fires at once (page) incident=") {
		t.Errorf("page line says the summary %d times: %s", n, line)
	}
	t.Setenv("WATCHDOG_TOKEN", token)
	cli := func(args ...string) string {
		t.Helper()
		var out, errOut bytes.Buffer
		if code := run(append([]string{"pager", "--url", p.url}, args...), &out, &errOut); code != 0 {
			t.Fatalf("pager %v: exit %d: %s%s", args, code, out.String(), errOut.String())
		}
		return out.String()
	}
	cli("--by", "alice", "ack", incident)
	if out := cli("--by", "alice", "incident", "add-responder", incident, "bob", "--message", "second pair of eyes"); !strings.Contains(out, "requested") {
		t.Errorf("add-responder printed %q", out)
	}
	eventually(t, 20*time.Second, func() error {
		for _, m := range pageLineRE.FindAllStringSubmatch(p.output.String(), -1) {
			if m[1] == "push" && m[2] == "bob" && m[4] == incident {
				return nil
			}
		}
		return fmt.Errorf("bob not paged yet; stdout:\n%s", p.output.String())
	})
	if out := cli("--by", "bob", "incident", "respond", incident); !strings.Contains(out, "acknowledged") {
		t.Errorf("respond printed %q", out)
	}
	resp, err := http.Get(p.url + "/api/v1/pager/incidents/" + incident)
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Data struct {
			Status     string `json:"status"`
			AckedBy    string `json:"acknowledgedBy"`
			Urgency    string `json:"urgency"`
			Responders []struct {
				User, Status, RequestedBy, Via string
			} `json:"responders"`
		} `json:"data"`
	}
	err = json.NewDecoder(resp.Body).Decode(&got)
	resp.Body.Close()
	d := got.Data
	if err != nil || d.Status != "acknowledged" || d.AckedBy != "alice" || d.Urgency != "high" || len(d.Responders) != 1 ||
		d.Responders[0].User != "bob" || d.Responders[0].Status != "acknowledged" || d.Responders[0].RequestedBy != "alice" || d.Responders[0].Via != "cli" {
		t.Fatalf("incident: %+v (%v)", d, err)
	}
}
