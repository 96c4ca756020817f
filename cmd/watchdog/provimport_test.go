package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestImportProviderCLI imports the PagerDuty and Opsgenie example
// exports with --out and checks the result with `watchdog check config`.
func TestImportProviderCLI(t *testing.T) {
	for _, tc := range []struct {
		cmd, dir, report string
	}{
		{"import-pagerduty", "pagerduty", "push_notification_contact_method: no watchdog equivalent"},
		{"import-opsgenie", "opsgenie", "team participant Databases"},
	} {
		t.Run(tc.cmd, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "watchdog.yml")
			var stdout, stderr bytes.Buffer
			in := filepath.Join("..", "..", "pager", "provimport", "testdata", tc.dir)
			if code := cmdPager([]string{tc.cmd, in, "--out", out}, &stdout, &stderr); code != 0 {
				t.Fatalf("exit %d: %s", code, stderr.String())
			}
			if !strings.Contains(stderr.String(), "not imported (") || !strings.Contains(stderr.String(), tc.report) {
				t.Errorf("report lacks %q:\n%s", tc.report, stderr.String())
			}
			if stdout.Len() != 0 {
				t.Errorf("stdout with --out: %q", stdout.String())
			}
			var co, ce bytes.Buffer
			if code := cmdCheck([]string{"config", out}, &co, &ce); code != 0 {
				t.Fatalf("check config of the imported file: exit %d: %s", code, ce.String())
			}
		})
	}
}

// TestImportProviderCLIErrors: bad input exits 1 naming the file and the
// position; bad usage exits 2; nothing goes to stdout.
func TestImportProviderCLIErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "users.json")
	if err := os.WriteFile(bad, []byte("{\"users\": [\n  {\"id\": \"P1\"\n]}"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"import-pagerduty", bad}, 1, bad + ":3:1 (offset 27): invalid character ']'"},
		{[]string{"import-opsgenie", bad}, 1, bad + ":3:1"},
		{[]string{"import-opsgenie", filepath.Join(dir, "missing.json")}, 1, "no such file"},
		{[]string{"import-pagerduty"}, 2, "usage:"},
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
