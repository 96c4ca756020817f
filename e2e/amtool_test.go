package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// amtoolPath returns Debian's amtool (package prometheus-alertmanager,
// which .ci/run installs) or $WATCHDOG_TEST_AMTOOL; the test skips without
// one.
func amtoolPath(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("WATCHDOG_TEST_AMTOOL"); p != "" {
		return p
	}
	p, err := exec.LookPath("amtool")
	if err != nil {
		t.Skip("amtool not found (apt-get install prometheus-alertmanager, or set WATCHDOG_TEST_AMTOOL): skipping the amtool test")
	}
	return p
}

// amtool runs amtool against the watchdog with the API token in an
// http.config.file, as the README tells users to, and returns stdout.
type amtoolRunner struct {
	bin, url, httpConfig string
}

func (a amtoolRunner) run(t *testing.T, args ...string) (string, error) {
	t.Helper()
	full := append([]string{"--alertmanager.url=" + a.url, "--no-version-check"}, args...)
	if a.httpConfig != "" {
		full = append([]string{"--http.config.file=" + a.httpConfig}, full...)
	}
	cmd := exec.Command(a.bin, full...)
	cmd.Env = append(os.Environ(), "HOME="+t.TempDir()) // no user amtool.yml
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return out.String(), fmt.Errorf("amtool %s: %v\nstdout: %s\nstderr: %s", strings.Join(args, " "), err, out.String(), errb.String())
	}
	return out.String(), nil
}

func (a amtoolRunner) must(t *testing.T, args ...string) string {
	t.Helper()
	out, err := a.run(t, args...)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("amtool %s:\n%s", strings.Join(args, " "), out)
	return out
}

// pagerSilence is what the test reads of GET /api/v1/pager/silences.
type pagerSilence struct {
	ID       string   `json:"id"`
	Matchers []string `json:"matchers"`
	Status   string   `json:"status"`
}

// TestAmtool is acceptance 3 of issue 14: Debian's amtool lists the demo's
// alerts, adds a silence that suppresses the next page, queries it,
// expires it (paging resumes) and draws the routing tree — each step
// checked through the pager's own API too.
func TestAmtool(t *testing.T) {
	if binary == "" {
		t.Skip("watchdog binary not built (-short)")
	}
	bin := amtoolPath(t)
	parallel(t, 40*time.Second)
	dir := t.TempDir()
	wd := startWatchdog(t, "demo", "--web.listen-address", "127.0.0.1:0",
		"--storage.snapshot-path", filepath.Join(dir, "snapshot.wds"), "--demo.first-spike", "0s")
	writeFiles(t, dir, map[string]string{
		"token":      wd.token + "\n",
		"amtool.yml": "authorization:\n  type: Bearer\n  credentials_file: " + filepath.Join(dir, "token") + "\n",
	})
	am := amtoolRunner{bin: bin, url: wd.url, httpConfig: filepath.Join(dir, "amtool.yml")}
	anon := amtoolRunner{bin: bin, url: wd.url}

	// 1. The demo's alerts: its login spike pages, amtool lists the alert.
	var incID string
	eventually(t, 90*time.Second, func() error {
		var err error
		incID, err = wd.firstPage("LoginErrorSpike")
		return err
	})
	var alerts []struct {
		Fingerprint string            `json:"fingerprint"`
		Labels      map[string]string `json:"labels"`
		Receivers   []struct{ Name string }
		Status      struct{ State string }
	}
	if err := json.Unmarshal([]byte(anon.must(t, "-o", "json", "alert", "query")), &alerts); err != nil {
		t.Fatalf("amtool -o json alert query: %v", err)
	}
	inc := wd.incident(t, incID)
	found := false
	for _, a := range alerts {
		if a.Labels["alertname"] == "LoginErrorSpike" {
			found = true
			if a.Status.State != "active" || len(a.Receivers) == 0 || a.Receivers[0].Name != "everything" {
				t.Errorf("amtool's LoginErrorSpike: %+v, want active, receiver everything", a)
			}
		}
	}
	if !found || inc.Title == "" || !strings.Contains(inc.Title, "LoginErrorSpike") {
		t.Fatalf("amtool lists %d alerts without LoginErrorSpike, or the pager's incident %s is %q", len(alerts), incID, inc.Title)
	}
	if out := anon.must(t, "alert", "query", "alertname=LoginErrorSpike"); !strings.Contains(out, "LoginErrorSpike") {
		t.Errorf("amtool alert query alertname=LoginErrorSpike:\n%s", out)
	}

	// 2. A silence: refused without the token, added with it.
	if _, err := anon.run(t, "silence", "add", "alertname=E2ESilenced", "--comment=no token", "--duration=1h"); err == nil {
		t.Fatal("amtool silence add without the token succeeded")
	}
	id := strings.TrimSpace(am.must(t, "silence", "add", "alertname=E2ESilenced", "service=~\"check(out)?\"",
		"--comment=e2e maintenance", "--author=e2e", "--duration=1h"))
	if id == "" || strings.ContainsAny(id, " \n") {
		t.Fatalf("amtool silence add printed %q, want an id", id)
	}
	var sils []pagerSilence
	wd.api(t, "GET", "/api/v1/pager/silences", "", &sils)
	if s := silenceByID(sils, id); s == nil || s.Status != "active" || len(s.Matchers) != 2 {
		t.Fatalf("the pager's silences %+v lack an active %s with two matchers", sils, id)
	}

	// It suppresses the next page: a silenced alert posted before an
	// unsilenced one (same route, group_wait 0s) does not page while the
	// other does.
	post := func(name string) {
		wd.api(t, "POST", "/api/v2/alerts", `[{"labels":{"alertname":"`+name+`","service":"checkout","severity":"page"},
		  "annotations":{"summary":"`+name+` from the amtool test"}}]`, nil)
	}
	// amtool alert add posts without endsAt, like a one-off script.
	am.must(t, "alert", "add", "alertname=E2ESilenced", "service=checkout", "severity=page",
		"--annotation=summary=E2ESilenced from amtool alert add")
	post("E2EControl")
	eventually(t, 30*time.Second, func() error {
		_, err := wd.firstPage("E2EControl")
		return err
	})
	if _, err := wd.firstPage("E2ESilenced"); err == nil {
		t.Fatalf("the silenced alert paged:\n%s", strings.Join(wd.triggerPages(""), "\n"))
	}
	var open []struct {
		ID         string `json:"id"`
		Title      string `json:"title"`
		Suppressed bool   `json:"suppressed"`
	}
	wd.api(t, "GET", "/api/v1/pager/incidents?status=open&limit=100", "", &open)
	silencedInc := ""
	for _, o := range open {
		if strings.Contains(o.Title, "E2ESilenced") {
			silencedInc = o.ID
			if !o.Suppressed {
				t.Errorf("incident %s of the silenced alert is not suppressed", o.ID)
			}
		}
	}
	if silencedInc == "" {
		t.Fatalf("no open incident for E2ESilenced: %+v", open)
	}
	var silenced []struct{ Status struct{ SilencedBy []string } }
	if err := json.Unmarshal([]byte(anon.must(t, "-o", "json", "alert", "query", "-s", "alertname=E2ESilenced")), &silenced); err != nil ||
		len(silenced) != 1 || len(silenced[0].Status.SilencedBy) != 1 || silenced[0].Status.SilencedBy[0] != id {
		t.Errorf("amtool alert query -s alertname=E2ESilenced: %+v, %v; want silenced by %s", silenced, err, id)
	}

	// 3. Query it.
	if out := anon.must(t, "silence", "query", "-q"); !strings.Contains(out, id) {
		t.Errorf("amtool silence query -q does not list %s:\n%s", id, out)
	}
	if out := anon.must(t, "silence", "query", "alertname=E2ESilenced"); !strings.Contains(out, id) || !strings.Contains(out, "e2e maintenance") {
		t.Errorf("amtool silence query alertname=E2ESilenced:\n%s", out)
	}
	if out := anon.must(t, "silence", "query", "-q", "alertname=Other"); strings.Contains(out, id) {
		t.Errorf("amtool silence query alertname=Other lists %s", id)
	}

	// An update that changes only the comment keeps the silence's id.
	if out := am.must(t, "silence", "update", "--comment=e2e maintenance, longer", id); !strings.Contains(out, id+" ") ||
		!strings.Contains(out, "longer") {
		t.Errorf("amtool silence update printed %q, want the same id %s with the new comment", out, id)
	}
	wd.api(t, "GET", "/api/v1/pager/silences", "", &sils)
	if s := silenceByID(sils, id); s == nil || s.Status != "active" {
		t.Fatalf("after amtool silence update the pager has %+v", s)
	}

	// 4. Expire it: the pager's API shows it expired and paging resumes.
	if _, err := anon.run(t, "silence", "expire", id); err == nil {
		t.Fatal("amtool silence expire without the token succeeded")
	}
	am.must(t, "silence", "expire", id)
	wd.api(t, "GET", "/api/v1/pager/silences", "", &sils)
	if s := silenceByID(sils, id); s == nil || s.Status != "expired" {
		t.Fatalf("after amtool silence expire the pager has %+v", s)
	}
	if out := anon.must(t, "silence", "query", "-q"); strings.Contains(out, id) {
		t.Errorf("amtool silence query still lists the expired %s", id)
	}
	if out := anon.must(t, "silence", "query", "-q", "--expired"); !strings.Contains(out, id) {
		t.Errorf("amtool silence query --expired does not list %s", id)
	}
	eventually(t, 30*time.Second, func() error {
		if len(wd.triggerPages(silencedInc)) == 0 {
			return fmt.Errorf("no page for %s after its silence expired", silencedInc)
		}
		return nil
	})

	// 5. The routing tree.
	out := anon.must(t, "config", "routes")
	if !strings.Contains(out, "receiver: root") || !strings.Contains(out, "receiver: everything") {
		t.Errorf("amtool config routes:\n%s", out)
	}
	if out := anon.must(t, "config", "routes", "test", "alertname=X"); strings.TrimSpace(out) != "everything" {
		t.Errorf("amtool config routes test alertname=X: %q, want everything", out)
	}
}

func silenceByID(sils []pagerSilence, id string) *pagerSilence {
	for i := range sils {
		if sils[i].ID == id {
			return &sils[i]
		}
	}
	return nil
}
