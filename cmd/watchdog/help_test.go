package main

import (
	"bytes"
	"errors"
	"os/exec"
	"strings"
	"testing"
)

// TestHelp runs the built binary: every way of asking for help exits 0 and
// writes to stdout only, without the hidden flags; the top-level help
// lists every subcommand on one line; a subcommand's help shows its own
// usage; an unknown subcommand or flag exits 2 with a message on stderr
// that names it.
func TestHelp(t *testing.T) {
	bin := watchdogBinary(t)
	top := func(t *testing.T, out string) {
		for _, c := range commands {
			n := 0
			for _, line := range strings.Split(out, "\n") {
				if strings.HasPrefix(strings.TrimSpace(line), c.name+" ") {
					n++
				}
			}
			if n != 1 {
				t.Errorf("subcommand %q on %d lines of the help, want 1:\n%s", c.name, n, out)
			}
		}
	}
	has := func(want ...string) func(*testing.T, string) {
		return func(t *testing.T, out string) {
			for _, w := range want {
				if !strings.Contains(out, w) {
					t.Errorf("help lacks %q:\n%s", w, out)
				}
			}
		}
	}
	for _, tc := range []struct {
		args  []string
		check func(*testing.T, string)
	}{
		{[]string{"--help"}, top},
		{[]string{"-h"}, top},
		{[]string{"-help"}, top},
		{[]string{"help"}, top},
		{[]string{"help", "help"}, top},
		{[]string{"help", "run"}, has("Usage: watchdog run --config FILE", "-web.listen-address", "-config")},
		{[]string{"run", "--help"}, has("Usage: watchdog run --config FILE", "-web.listen-address", "-config")},
		{[]string{"run", "--log.level", "debug", "-h"}, has(`log level: debug, info, warn, error (default "info")`)},
		{[]string{"help", "demo"}, has("Usage: watchdog [demo]", "-web.listen-address")},
		{[]string{"demo", "--help"}, has("Usage: watchdog [demo]", "-web.listen-address")},
		{[]string{"help", "check"}, has("watchdog check config FILE...", "watchdog check rules FILE...")},
		{[]string{"check", "--help"}, has("watchdog check config FILE...")},
		{[]string{"check", "rules", "-h"}, has("watchdog check config FILE...")},
		{[]string{"help", "test"}, has("Usage: watchdog test", "-run")},
		{[]string{"test", "--help"}, has("Usage: watchdog test", "-run")},
		{[]string{"help", "pager"}, has("Usage: watchdog pager", "incidents", "-url")},
		{[]string{"pager", "--help"}, has("Usage: watchdog pager", "-url")},
		{[]string{"pager", "help"}, has("Usage: watchdog pager", "-url")},
		{[]string{"help", "version"}, has("Usage: watchdog version")},
		{[]string{"version", "--help"}, has("Usage: watchdog version")},
	} {
		t.Run(strings.Join(tc.args, "_"), func(t *testing.T) {
			code, stdout, stderr := runBinary(t, bin, tc.args...)
			if code != 0 || stderr != "" {
				t.Fatalf("exit %d, stderr %q; want 0 and nothing on stderr", code, stderr)
			}
			if strings.Contains(stdout, "demo.first") || strings.Contains(stdout, "Usage of") {
				t.Errorf("help shows a hidden flag or Go's default usage:\n%s", stdout)
			}
			tc.check(t, stdout)
		})
	}

	for _, tc := range []struct {
		args []string
		want string // on stderr
	}{
		{[]string{"nope"}, `unknown command "nope"`},
		{[]string{"help", "nope"}, `unknown command "nope"`},
		{[]string{"help", "run", "extra"}, "at most one command"},
		{[]string{"--nope"}, "demo: flag provided but not defined: -nope (see `watchdog help demo`)"},
		{[]string{"run", "--nope"}, "run: flag provided but not defined: -nope (see `watchdog help run`)"},
		{[]string{"run", "extra"}, `run: unexpected argument "extra"`},
		{[]string{"test", "--nope", "x.yml"}, "test: flag provided but not defined: -nope"},
		{[]string{"test"}, "missing TEST_FILE"},
		{[]string{"check", "nope", "x.yml"}, `unknown check "nope"`},
		{[]string{"check"}, "missing what to check"},
		{[]string{"pager", "--nope"}, "pager: flag provided but not defined: -nope"},
		{[]string{"pager"}, "missing COMMAND"},
		{[]string{"version", "extra"}, `unexpected argument "extra"`},
	} {
		t.Run("bad_"+strings.Join(tc.args, "_"), func(t *testing.T) {
			code, stdout, stderr := runBinary(t, bin, tc.args...)
			if code != 2 || stdout != "" {
				t.Fatalf("exit %d, stdout %q; want 2 and nothing on stdout", code, stdout)
			}
			if !strings.Contains(stderr, tc.want) {
				t.Errorf("stderr lacks %q:\n%s", tc.want, stderr)
			}
			if strings.Contains(stderr, "demo.first") {
				t.Errorf("stderr shows a hidden flag:\n%s", stderr)
			}
		})
	}
}

// runBinary runs bin with args and returns its exit code and output.
func runBinary(t *testing.T, bin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exit):
		code = exit.ExitCode()
	default:
		t.Fatal(err)
	}
	return code, out.String(), errb.String()
}
