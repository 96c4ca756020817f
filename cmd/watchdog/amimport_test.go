package main

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestImportAlertmanagerCLI imports Alertmanager's simple example with
// `watchdog pager import-alertmanager --out`, provides the secrets the
// report asks for, and checks the result with `watchdog check config`,
// which also builds every channel.
func TestImportAlertmanagerCLI(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "watchdog.yml")
	var stdout, stderr bytes.Buffer
	in := filepath.Join("..", "..", "pager", "amimport", "testdata", "simple.yml")
	if code := cmdPager([]string{"import-alertmanager", in, "--out", out}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	report := stderr.String()
	for _, want := range []string{"secrets to provide (4):", "not imported (7):", "simple.yml:8: templates:"} {
		if !strings.Contains(report, want) {
			t.Errorf("report lacks %q:\n%s", want, report)
		}
	}
	if stdout.Len() != 0 {
		t.Errorf("stdout with --out: %q", stdout.String())
	}
	// Before the secrets exist, check config names the first missing one.
	var co, ce bytes.Buffer
	if code := cmdCheck([]string{"config", out}, &co, &ce); code == 0 {
		t.Fatalf("check config passed without the secret files")
	}
	for _, m := range regexp.MustCompile(`(?m)^  (secrets/\S+)  <- `).FindAllStringSubmatch(report, -1) {
		p := filepath.Join(dir, m[1])
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("value\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	co.Reset()
	ce.Reset()
	if code := cmdCheck([]string{"config", out}, &co, &ce); code != 0 {
		t.Fatalf("check config of the imported file: exit %d: %s", code, ce.String())
	}
}

// TestImportAlertmanagerCLIErrors: bad input exits 1 with file:line; bad
// usage exits 2.
func TestImportAlertmanagerCLIErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "am.yml")
	if err := os.WriteFile(bad, []byte("receivers: [{name: r}]\nroute:\n  receiver: nope\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"import-alertmanager", bad}, 1, bad + `:3: route.receiver: undefined receiver "nope"`},
		{[]string{"import-alertmanager", filepath.Join(dir, "missing.yml")}, 1, "no such file"},
		{[]string{"import-alertmanager"}, 2, "usage:"},
	} {
		var stdout, stderr bytes.Buffer
		if code := cmdPager(tc.args, &stdout, &stderr); code != tc.code || !strings.Contains(stderr.String(), tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want %d and %q", tc.args, code, stderr.String(), tc.code, tc.want)
		}
		if stdout.Len() != 0 {
			t.Errorf("%v: output on error: %q", tc.args, stdout.String())
		}
	}
}
