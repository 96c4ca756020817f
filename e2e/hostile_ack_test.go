package e2e

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	_ "modernc.org/sqlite"
)

// Hostile tests of issue #11 reproduction 5 and parts of 8: acknowledge
// links fetched by link unfurlers, links that outlive their database,
// secret files other users can read, the bearer scheme's case, a corrupt
// row and an empty file as the pager database.

// ackPager pages alice by push at once and by SMS 4 s later, then bob
// after 8 s: an incident nobody acknowledges keeps producing pages.
const ackPager = `
users:
  - name: alice
    contact: {push: alice-phone, sms: "+15550100001"}
    notification_rules:
      - {after: 0s, method: push}
      - {after: 4s, method: sms}
  - name: bob
    contact: {push: bob-phone}
escalation_policies:
  - name: fast
    levels:
      - {targets: [user:alice], escalate_after: 8s}
      - {targets: [user:bob], escalate_after: 8s}
channels:
  - {name: push, type: console}
  - {name: sms, type: console}
routes:
  - name: all
    group_by: [alertname]
    group_wait: 0s
    escalation_policy: fast
`

// ackRules fires at once and for good.
var ackRules = map[string]string{"rules.yml": `groups:
  - name: ack
    rules:
      - alert: AlwaysFiring
        expr: vector(1)
        labels: {severity: page}
        annotations: {summary: it fires at once}
`}

// ackKeyEnv fixes the key signing ack links, so that links stay valid
// across restarts of the binary (the default key derives from the API
// token, which the harness generates anew on every start).
const ackKeyEnv = "WATCHDOG_PAGER_ACK_KEY=hostile-ack-key"

// ackLineRE matches a console page with its ack link:
// "PAGE push → alice: [TRIGGER] ... incident=inc-1 ack: http://.../ack/TOKEN".
var ackLineRE = regexp.MustCompile(`(?m)^PAGE (\S+) → (\S+): \[TRIGGER\] .* incident=(\S+).* ack: (\S+)`)

var pageRE = regexp.MustCompile(`(?m)^PAGE (\S+) → (\S+): \[TRIGGER\]`)

// ackLink waits for the first page of method to user about an incident
// and returns the incident and the path of its ack link.
func (h *hostile) ackLink(t *testing.T, method, user string) (incident, path string) {
	t.Helper()
	eventually(t, 20*time.Second, func() error {
		for _, m := range ackLineRE.FindAllStringSubmatch(h.output(), -1) {
			if m[1] == method && m[2] == user {
				u, err := url.Parse(m[4])
				if err != nil {
					return err
				}
				incident, path = m[3], u.Path
				return nil
			}
		}
		return fmt.Errorf("no %s page with an ack link for %s yet:\n%s", method, user, tail(h.output(), 2048))
	})
	return incident, path
}

// pages counts the trigger pages of method to user so far ("" matches
// any).
func (h *hostile) pages(method, user string) int {
	n := 0
	for _, m := range pageRE.FindAllStringSubmatch(h.output(), -1) {
		if (method == "" || m[1] == method) && (user == "" || m[2] == user) {
			n++
		}
	}
	return n
}

// incidentStatus reads an incident's status through the API.
func (h *hostile) incidentStatus(t *testing.T, id string) string {
	t.Helper()
	code, body := h.get(t, "/api/v1/pager/incidents/"+id)
	if code != http.StatusOK {
		t.Fatalf("incident %s: %d %s", id, code, body)
	}
	var got struct {
		Data struct {
			Status string `json:"status"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatalf("incident %s: %v: %s", id, err, body)
	}
	return got.Data.Status
}

// TestHostileAckLinkFetch: fetching an ack link the way Slack, Teams and
// mail scanners do (GET, HEAD, with their User-Agent) shows a
// confirmation page and changes nothing: the incident stays triggered
// and escalation goes on (the SMS 4 s later still goes out). Only the
// POST of the page's button acknowledges.
func TestHostileAckLinkFetch(t *testing.T) {
	h := startHostile(t, hostileConfig{Pager: ackPager, Rules: ackRules, Env: []string{ackKeyEnv}})
	id, link := h.ackLink(t, "push", "alice")
	before := h.pages("", "")

	for _, ua := range []string{"Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)",
		"Mozilla/5.0 (compatible; MSTeams-LinkPreview)", "Microsoft Office Protocol Discovery", ""} {
		for _, method := range []string{http.MethodGet, http.MethodHead} {
			hdr := http.Header{}
			if ua != "" {
				hdr.Set("User-Agent", ua)
			}
			resp, body := h.do(t, method, link, hdr, nil)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("%s %q: %d %s", method, ua, resp.StatusCode, body)
			}
			for k, want := range map[string]string{"Cache-Control": "no-store", "X-Robots-Tag": "noindex",
				"Referrer-Policy": "no-referrer"} {
				if !strings.Contains(resp.Header.Get(k), want) {
					t.Errorf("%s: %s %q, want %q", method, k, resp.Header.Get(k), want)
				}
			}
			if method == http.MethodGet && (!bytes.Contains(body, []byte(`<form method="post"`)) ||
				!bytes.Contains(body, []byte("Acknowledge as alice"))) {
				t.Errorf("GET shows no confirmation button:\n%s", body)
			}
		}
	}
	if resp, _ := h.do(t, http.MethodOptions, link, nil, nil); resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("OPTIONS: %d", resp.StatusCode)
	}
	if st := h.incidentStatus(t, id); st != "triggered" {
		t.Fatalf("after GET/HEAD the incident is %s", st)
	}
	// Escalation goes on: alice's SMS step (4 s) or bob's level (8 s)
	// still comes.
	eventually(t, 20*time.Second, func() error {
		if h.pages("", "") <= before {
			return errors.New("no page after the link was fetched: escalation stopped")
		}
		return nil
	})

	// A cross-site form POST is refused; the button's POST acknowledges.
	hdr := http.Header{"Content-Type": {"application/x-www-form-urlencoded"}, "Sec-Fetch-Site": {"cross-site"}}
	if resp, body := h.do(t, http.MethodPost, link, hdr, []byte("confirm=ack")); resp.StatusCode != http.StatusForbidden {
		t.Errorf("cross-site POST: %d %s", resp.StatusCode, body)
	}
	if st := h.incidentStatus(t, id); st != "triggered" {
		t.Fatalf("after a cross-site POST the incident is %s", st)
	}
	hdr.Set("Sec-Fetch-Site", "same-origin")
	resp, body := h.do(t, http.MethodPost, link, hdr, []byte("confirm=ack"))
	if resp.StatusCode != http.StatusOK || !bytes.Contains(body, []byte("acknowledged by alice")) {
		t.Fatalf("POST: %d %s", resp.StatusCode, body)
	}
	if st := h.incidentStatus(t, id); st != "acknowledged" {
		t.Fatalf("after POST the incident is %s", st)
	}
	h.assertHealthy(t)
}

// TestHostileAckLinkAfterDatabaseLoss: a link from before the pager
// database was lost names an incident number the next database gives to
// a new, unrelated incident. The link is refused (410, "no longer
// exists") on GET and POST and the new incident stays triggered.
func TestHostileAckLinkAfterDatabaseLoss(t *testing.T) {
	dbDir := t.TempDir()
	db := filepath.Join(dbDir, "pager.db")
	hc := hostileConfig{Pager: ackPager, Rules: ackRules, Env: []string{ackKeyEnv}, Storage: "pager_db: " + db}
	h1 := startHostile(t, hc)
	id1, oldLink := h1.ackLink(t, "push", "alice")
	if _, ok := h1.stop(10 * time.Second); !ok {
		t.Fatal("first watchdog did not stop")
	}
	for _, suffix := range []string{"", "-wal", "-shm"} {
		if err := os.Remove(db + suffix); err != nil && !errors.Is(err, os.ErrNotExist) {
			t.Fatal(err)
		}
	}

	h2 := startHostile(t, hc)
	id2, newLink := h2.ackLink(t, "push", "alice")
	if id2 != id1 {
		t.Fatalf("the new database numbered the incident %s, the old one %s: the test needs the same number", id2, id1)
	}
	h2.waitLog(t, regexp.MustCompile(`level=WARN .*created a new, empty pager database`))
	if code, body := h2.get(t, oldLink); code != http.StatusGone || !bytes.Contains(body, []byte("no longer exists")) {
		t.Errorf("GET of the old link: %d %s", code, body)
	}
	hdr := http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}
	if resp, body := h2.do(t, http.MethodPost, oldLink, hdr, []byte("confirm=ack")); resp.StatusCode != http.StatusGone {
		t.Errorf("POST of the old link: %d %s", resp.StatusCode, body)
	}
	if st := h2.incidentStatus(t, id2); st != "triggered" {
		t.Fatalf("the new %s is %s after the old link", id2, st)
	}
	if newLink == oldLink {
		t.Fatal("the new incident's link equals the old one")
	}
	if resp, body := h2.do(t, http.MethodPost, newLink, hdr, []byte("confirm=ack")); resp.StatusCode != http.StatusOK {
		t.Errorf("POST of the new link: %d %s", resp.StatusCode, body)
	}
	h2.assertHealthy(t)
}

// runToExit runs the binary with args and env in dir and waits for it to
// exit (it must, within timeout), returning its exit code and stderr.
func runToExit(t *testing.T, dir string, env []string, args ...string) (int, string) {
	t.Helper()
	needBinary(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, args...)
	cmd.Dir = dir
	cmd.Env = append(append(os.Environ(), "WATCHDOG_TOKEN="), env...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("watchdog %v did not exit: it started although it should have refused\n%s", args, stderr.String())
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode(), stderr.String()
	}
	if err != nil {
		t.Fatal(err)
	}
	return 0, stderr.String()
}

// TestHostileSecretFileModes: a token file or ack key file other users
// can read is refused at start with an error naming the file and its mode
// (like ssh with private keys); the same file with mode 0600 is used.
func TestHostileSecretFileModes(t *testing.T) {
	needBinary(t)
	dir := t.TempDir()
	h := &hostile{dir: dir, hc: hostileConfig{Pager: ackPager}}
	h.control = &httptest.Server{URL: "http://127.0.0.1:1"} // configText reads only its URL
	cfg := filepath.Join(dir, "watchdog.yml")
	if err := os.WriteFile(cfg, []byte(h.configText("")), 0o600); err != nil {
		t.Fatal(err)
	}
	secret := filepath.Join(dir, "secret")
	if err := os.WriteFile(secret, []byte("s3cret-token\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(secret, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, flag := range []string{"--web.token-file", "--pager.ack-key-file"} {
		t.Run(flag, func(t *testing.T) {
			code, stderr := runToExit(t, dir, nil, "run", "--config", cfg, "--web.listen-address", "127.0.0.1:0", flag, secret)
			if code == 0 {
				t.Fatalf("exit 0 with a world-readable %s", flag)
			}
			for _, want := range []string{secret, "mode 0644", "chmod 600"} {
				if !strings.Contains(stderr, want) {
					t.Errorf("error lacks %q:\n%s", want, stderr)
				}
			}
		})
	}

	// With mode 0600 the ack key file is used: links it signs verify.
	if err := os.Chmod(secret, 0o600); err != nil {
		t.Fatal(err)
	}
	h2 := startHostile(t, hostileConfig{Args: []string{"--pager.ack-key-file", secret}, Pager: ackPager, Rules: ackRules})
	_, link := h2.ackLink(t, "push", "alice")
	if code, body := h2.get(t, link); code != http.StatusOK {
		t.Errorf("link signed with the file's key: %d %s", code, body)
	}
	h2.assertHealthy(t)
}

// TestHostileBearerScheme: the bearer scheme is case-insensitive on every
// endpoint that needs the token (RFC 7235), and a wrong token is refused
// on each, whatever the case.
func TestHostileBearerScheme(t *testing.T) {
	storage := "snapshot_path: " + filepath.Join(t.TempDir(), "snap.wds")
	h := startHostile(t, hostileConfig{Pager: ackPager, Storage: storage})
	endpoints := []struct{ path, contentType, body string }{
		{"/-/reload", "", ""},
		{"/api/v1/admin/tsdb/snapshot", "", ""},
		{"/api/v2/alerts", "application/json", `[{"labels":{"alertname":"ByCurl","severity":"page"}}]`},
		{"/api/v1/pager/incidents/inc-1/note", "application/json", `{"by":"e2e","text":"bearer scheme test"}`},
		{"/api/v1/pager/silences", "application/json",
			`{"matchers":["alertname=\"ByCurl\""],"duration":"1h","createdBy":"e2e","comment":"bearer scheme test"}`},
		{"/api/v2/silences", "application/json", `{"matchers":[{"name":"alertname","value":"ByCurl","isRegex":false}],` +
			`"startsAt":"` + time.Now().UTC().Format(time.RFC3339) + `","endsAt":"` + time.Now().Add(time.Hour).UTC().Format(time.RFC3339) +
			`","createdBy":"e2e","comment":"bearer scheme test"}`},
	}
	for _, e := range endpoints {
		for _, scheme := range []string{"Bearer", "bearer", "BEARER", "bEaReR"} {
			for _, tok := range []string{h.token, "wrong"} {
				hdr := http.Header{"Authorization": {scheme + " " + tok}}
				if e.contentType != "" {
					hdr.Set("Content-Type", e.contentType)
				}
				resp, body := h.do(t, http.MethodPost, e.path, hdr, []byte(e.body))
				if tok == "wrong" {
					if resp.StatusCode != http.StatusUnauthorized {
						t.Errorf("%s %q with a wrong token: %d %s", e.path, scheme, resp.StatusCode, body)
					}
					continue
				}
				if resp.StatusCode < 200 || resp.StatusCode > 299 {
					t.Errorf("%s with %q: %d %s", e.path, scheme, resp.StatusCode, body)
				}
			}
		}
	}
	h.assertHealthy(t)
}

// corruptDB changes the pager database behind the watchdog's back.
func corruptDB(t *testing.T, path string, stmts ...string) {
	t.Helper()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, q := range stmts {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
}

// TestHostileCorruptPagerRow: an open incident whose row no longer
// decodes, and a corrupt timeline row, do not end the process (they ended
// it after it reported ready, taking scraping down too). The rows are
// reported by an ERROR naming table and key and counted; the pager goes
// on: the still-firing alert opens a new incident, which is paged.
func TestHostileCorruptPagerRow(t *testing.T) {
	db := filepath.Join(t.TempDir(), "pager.db")
	hc := hostileConfig{Pager: ackPager, Rules: ackRules, Storage: "pager_db: " + db}
	h1 := startHostile(t, hc)
	id, _ := h1.ackLink(t, "push", "alice")
	if _, ok := h1.stop(10 * time.Second); !ok {
		t.Fatal("first watchdog did not stop")
	}
	corruptDB(t, db,
		`UPDATE incidents SET state = '{"ID": broken' WHERE id = '`+id+`'`,
		`UPDATE timeline SET entry = 'not json' WHERE incident_id = '`+id+`' AND seq = 1`,
		`UPDATE deliveries SET delivery = json_set(delivery, '$.Status', 'lost') WHERE incident_id = '`+id+`'`)

	h2 := startHostile(t, hc)
	if id2, _ := h2.ackLink(t, "push", "alice"); id2 == id {
		t.Errorf("the restarted watchdog paged for the corrupt %s", id)
	}
	h2.waitLog(t, regexp.MustCompile(`level=ERROR .*corrupt row.* table=incidents key=`+id))
	if v, ok := h2.metric(t, `watchdog_pager_store_corrupt_rows_total{table="incidents"}`); !ok || v != 1 {
		t.Errorf("corrupt incident rows counted %v (present %v), want 1", v, ok)
	}
	if v, ok := h2.metric(t, `watchdog_pager_up`); !ok || v != 1 {
		t.Errorf("watchdog_pager_up %v (present %v), want 1", v, ok)
	}
	if code, _ := h2.get(t, "/-/ready"); code != http.StatusOK {
		t.Errorf("/-/ready: %d", code)
	}
	// The incidents list and the old incident's page answer without it.
	if code, body := h2.get(t, "/api/v1/pager/incidents"); code != http.StatusOK {
		t.Errorf("incident list: %d %s", code, body)
	}
	h2.assertHealthy(t)
}

// TestHostileEmptyPagerDB: a 0-byte file as the pager database is
// refused at start with an error that names it and says how to start
// afresh (it is far more likely a lost database than a new one); once it
// is deleted the watchdog starts and says it created a new database.
func TestHostileEmptyPagerDB(t *testing.T) {
	needBinary(t)
	dir := t.TempDir()
	db := filepath.Join(dir, "pager.db")
	if err := os.WriteFile(db, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	hc := hostileConfig{Pager: ackPager, Storage: "pager_db: " + db}
	h := &hostile{dir: dir, hc: hc}
	h.control = &httptest.Server{URL: "http://127.0.0.1:1"} // configText reads only its URL
	cfg := filepath.Join(dir, "watchdog.yml")
	if err := os.WriteFile(cfg, []byte(h.configText("")), 0o600); err != nil {
		t.Fatal(err)
	}
	code, stderr := runToExit(t, dir, nil, "run", "--config", cfg, "--web.listen-address", "127.0.0.1:0")
	if code == 0 {
		t.Fatal("exit 0 with a 0-byte pager database")
	}
	for _, want := range []string{db, "empty (0 bytes)", "delete the file"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("error lacks %q:\n%s", want, stderr)
		}
	}
	if fi, err := os.Stat(db); err != nil || fi.Size() != 0 {
		t.Errorf("the refused file was changed: %v %v", fi, err)
	}

	if err := os.Remove(db); err != nil {
		t.Fatal(err)
	}
	h2 := startHostile(t, hc)
	h2.waitLog(t, regexp.MustCompile(`level=WARN .*created a new, empty pager database`))
	h2.assertHealthy(t)
}
