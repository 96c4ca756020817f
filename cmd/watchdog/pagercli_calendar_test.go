package main

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/watchdog-sre/watchdog/pager"
	"github.com/watchdog-sre/watchdog/web"
)

const cliPagerYAML = `
pager:
  users:
    - {name: alice, contact: {push: a}}
    - {name: bob, contact: {push: b}}
  schedules:
    - name: primary
      time_zone: UTC
      layers:
        - {name: daily, members: [alice, bob], rotation: daily, start: "2026-03-01T09:00"}
  channels:
    - {name: push, type: console}
`

// servePagerCLI serves h (whose token is "tok") and returns its server and a
// run of `watchdog pager args… --url … --token-file … --by alice` that
// fails t unless it exits with wantCode; run returns stdout and stderr.
func servePagerCLI(t *testing.T, h http.Handler) (*httptest.Server, func(wantCode int, args ...string) string) {
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	tokenFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokenFile, []byte("tok\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return srv, func(wantCode int, args ...string) string {
		t.Helper()
		var out, errb bytes.Buffer
		args = append(args, "--url", srv.URL, "--token-file", tokenFile, "--by", "alice")
		if code := cmdPager(args, &out, &errb); code != wantCode {
			t.Fatalf("pager %s: exit %d, want %d\n%s%s", strings.Join(args, " "), code, wantCode, out.String(), errb.String())
		}
		return out.String() + errb.String()
	}
}

// TestPagerCLICalendarsAndOverrides drives `watchdog pager override …`
// and `watchdog pager calendar …` against the real API over a real pager,
// and fetches the feed URL the CLI printed.
func TestPagerCLICalendarsAndOverrides(t *testing.T) {
	cfg, err := pager.ParseConfig("pager.yml", []byte(cliPagerYAML))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	clk := func() time.Time { return now }
	p, err := pager.New(pager.Options{Config: cfg, Now: clk, AckKey: []byte("k")})
	if err != nil {
		t.Fatal(err)
	}
	h := web.New(web.Options{Token: "tok", Now: clk, Metrics: metrics.NewSet()})
	h.EnablePager(web.PagerOptions{Pager: p, Calendars: p})
	srv, run := servePagerCLI(t, h)
	out := run(0, "override", "add", "--schedule", "primary", "--user", "bob", "--start", "2026-03-02T12:00:00Z", "--end", "+2h")
	if !strings.Contains(out, "ovr-1: bob on call in primary") {
		t.Errorf("add: %s", out)
	}
	out = run(0, "override", "add", "--schedule", "primary", "--user", "alice", "--start", "2026-03-02T13:00:00Z", "--end", "+2h")
	if !strings.Contains(out, "warning: overlaps ovr-1") {
		t.Errorf("overlapping add: %s", out)
	}
	if out := run(1, "override", "add", "--schedule", "primary", "--user", "bob", "--start", "2026-03-02T12:00:00Z", "--end", "2026-03-02T11:00:00Z"); !strings.Contains(out, "is not after start") {
		t.Errorf("reversed: %s", out)
	}
	if out := run(2, "override", "add", "--schedule", "primary", "--user", "bob", "--start", "yesterday", "--end", "+1h"); !strings.Contains(out, `bad time "yesterday"`) {
		t.Errorf("bad time: %s", out)
	}
	out = run(0, "override", "list", "--schedule", "primary")
	if !regexp.MustCompile(`ovr-1\s+bob\s.*alice \(cli\)`).MatchString(out) || !strings.Contains(out, "ovr-2") {
		t.Errorf("list: %s", out)
	}
	if out := run(0, "override", "delete", "ovr-2", "--schedule", "primary"); !strings.Contains(out, "ovr-2 deleted") {
		t.Errorf("delete: %s", out)
	}

	out = run(0, "calendar", "create", "--schedule", "primary")
	m := regexp.MustCompile(`(cal-1): (\S+/calendar/schedule/\S+\.ics)`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("create: %s", out)
	}
	resp, err := srv.Client().Get(m[2])
	if err != nil {
		t.Fatal(err)
	}
	var body bytes.Buffer
	body.ReadFrom(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(body.String(), "SUMMARY:bob on call\r\n") {
		t.Fatalf("feed: %d %s", resp.StatusCode, body.String()[:min(body.Len(), 300)])
	}
	if out := run(0, "calendar", "list"); !regexp.MustCompile(`cal-1\s+schedule\s+primary\s.*alice \(cli\)\s+-`).MatchString(out) {
		t.Errorf("list: %s", out)
	}
	run(0, "calendar", "revoke", "cal-1")
	if resp, err := srv.Client().Get(m[2]); err != nil || resp.StatusCode != 404 {
		t.Errorf("revoked feed: %v %v", resp.StatusCode, err)
	}
	if out := run(2, "calendar", "create", "--schedule", "primary", "--user", "bob"); !strings.Contains(out, "--schedule S | --user U") {
		t.Errorf("both: %s", out)
	}
}
