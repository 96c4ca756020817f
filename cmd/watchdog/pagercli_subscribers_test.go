package main

import (
	"bytes"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/VictoriaMetrics/metrics"

	"github.com/watchdog-sre/watchdog/pager"
	"github.com/watchdog-sre/watchdog/web"
)

// TestPagerCLISubscribers drives `watchdog pager subscriber …` against
// the real API: a generated secret is printed once, a secret read from a
// file is not printed; list never shows secrets; delete removes one.
func TestPagerCLISubscribers(t *testing.T) {
	cfg, err := pager.ParseConfig("pager.yml", []byte(cliPagerYAML))
	if err != nil {
		t.Fatal(err)
	}
	p, err := pager.New(pager.Options{Config: cfg})
	if err != nil {
		t.Fatal(err)
	}
	h := web.New(web.Options{Token: "tok", Metrics: metrics.NewSet()})
	h.EnablePager(web.PagerOptions{Pager: p})
	srv := httptest.NewServer(h)
	defer srv.Close()
	dir := t.TempDir()
	tokenFile, secretFile := filepath.Join(dir, "token"), filepath.Join(dir, "hook.secret")
	if err := os.WriteFile(tokenFile, []byte("tok\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(secretFile, []byte("file-secret-0123456789\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	run := func(wantCode int, args ...string) string {
		t.Helper()
		var out, errb bytes.Buffer
		args = append(args, "--url", srv.URL, "--token-file", tokenFile, "--by", "alice")
		if code := cmdPager(args, &out, &errb); code != wantCode {
			t.Fatalf("pager %s: exit %d, want %d\n%s%s", strings.Join(args, " "), code, wantCode, out.String(), errb.String())
		}
		return out.String() + errb.String()
	}
	out := run(0, "subscriber", "add", "--webhook", "https://hooks.example/a")
	m := regexp.MustCompile(`(sub_\w+): webhook https://hooks.example/a\nsigning secret \(shown once\): (whsec_\w+)`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("add: %s", out)
	}
	out = run(0, "subscriber", "add", "--webhook", "https://hooks.example/b", "--secret-file", secretFile)
	if strings.Contains(out, "secret") {
		t.Errorf("add with a secret file printed it: %s", out)
	}
	if out := run(1, "subscriber", "add", "--webhook", "ftp://hooks.example/c"); !strings.Contains(out, "not an absolute http(s) URL") {
		t.Errorf("bad URL: %s", out)
	}
	if out := run(2, "subscriber", "add"); !strings.Contains(out, "--webhook URL") {
		t.Errorf("no URL: %s", out)
	}
	out = run(0, "subscriber", "list")
	if !regexp.MustCompile(m[1]+`\s+https://hooks.example/a\s.*alice`).MatchString(out) || !strings.Contains(out, "hooks.example/b") ||
		strings.Contains(out, m[2]) || strings.Contains(out, "file-secret") || !strings.Contains(out, "0 confirmed, 0 pending") {
		t.Errorf("list: %s", out)
	}
	run(0, "subscriber", "delete", m[1])
	if out := run(0, "subscriber", "list"); strings.Contains(out, m[1]) {
		t.Errorf("deleted subscriber listed: %s", out)
	}
	subs, err := p.Subscribers()
	if err != nil || len(subs) != 1 || subs[0].Target != "https://hooks.example/b" {
		t.Fatalf("subscribers %+v, %v", subs, err)
	}
}
