package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCheckinsGood: defaults, and Load resolving the token files.
func TestCheckinsGood(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "backup.token"), []byte("s3cr3t-token-of-the-backup\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "w.yml")
	doc := `heartbeats:
  - name: nightly-backup
    period: 1d
    grace: 30m
    token_file: backup.token
    labels: {severity: page, team: storage}
    annotations: {summary: the nightly backup did not run}
  - name: reports.hourly
    period: 1h
    token_env: REPORTS_TOKEN
`
	if err := os.WriteFile(path, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	c := mustLoad(t, path)
	if len(c.Heartbeats) != 2 {
		t.Fatalf("heartbeats = %+v", c.Heartbeats)
	}
	b, h := c.Heartbeats[0], c.Heartbeats[1]
	if b.Name != "nightly-backup" || b.Period != dur("1d") || b.Grace != dur("30m") ||
		b.TokenFile != filepath.Join(dir, "backup.token") || b.Labels["team"] != "storage" ||
		b.Annotations["summary"] != "the nightly backup did not run" {
		t.Errorf("heartbeats[0] = %+v", b)
	}
	if h.Grace != DefaultCheckinGrace || h.TokenEnv != "REPORTS_TOKEN" {
		t.Errorf("heartbeats[1] = %+v", h)
	}
	checkRoundTrip(t, c)
}

// TestCheckinsBad: every mistake is reported at its file:line, and inline
// tokens are refused.
func TestCheckinsBad(t *testing.T) {
	tests := []struct {
		name, yaml string
		want       []string
	}{
		{"inline token", "heartbeats:\n  - name: a\n    period: 1m\n    token: abc\n",
			[]string{`x.yml:4: heartbeats[0]: inline secret "token" is not allowed: secrets come from files, use token_file`}},
		{"no name, period or token", "heartbeats:\n  - grace: 1m\n", []string{
			`x.yml:2: heartbeats[0]: a heartbeat needs a name`,
			`x.yml:2: heartbeats[0]: a heartbeat needs a period`,
			`x.yml:2: heartbeats[0]: a heartbeat needs exactly one of token_file and token_env`}},
		{"both tokens", "heartbeats:\n  - name: a\n    period: 1m\n    token_env: A\n    token_file: f\n",
			[]string{`x.yml:2: heartbeats[0]: a heartbeat needs exactly one of token_file and token_env`}},
		{"bad name", "heartbeats:\n  - name: 'a/b'\n    period: 1m\n    token_env: A\n",
			[]string{`x.yml:2: heartbeats[0].name: "a/b" is not a heartbeat name`}},
		{"short period", "heartbeats:\n  - name: a\n    period: 10ms\n    grace: 1ms\n    token_env: A\n", []string{
			`x.yml:3: heartbeats[0].period: "10ms" is shorter than 1s`,
			`x.yml:4: heartbeats[0].grace: "1ms" is shorter than 1s`}},
		{"bad period", "heartbeats:\n  - name: a\n    period: often\n    token_env: A\n",
			[]string{`x.yml:3: heartbeats[0].period: not a valid duration string`}},
		{"duplicate", "heartbeats:\n  - {name: a, period: 1m, token_env: A}\n  - {name: a, period: 1m, token_env: B}\n",
			[]string{`x.yml:3: heartbeats[1].name: duplicate heartbeat name "a" (first in heartbeats[0], line 2)`}},
		{"reserved label", "heartbeats:\n  - name: a\n    period: 1m\n    token_env: A\n    labels:\n      heartbeat: x\n",
			[]string{`x.yml:6: heartbeats[0].labels.heartbeat: label "heartbeat" is set by the watchdog`}},
		{"bad variable", "heartbeats:\n  - name: a\n    period: 1m\n    token_env: 'A B'\n",
			[]string{`x.yml:4: heartbeats[0].token_env: "A B" is not an environment variable name`}},
		{"empty entry", "heartbeats:\n  -\n", []string{`x.yml:2: heartbeats[0]: empty entry`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.yaml), "x.yml")
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("Parse: %v, want ErrInvalid", err)
			}
			lines := strings.Split(err.Error(), "\n")
			if len(lines) != len(tt.want) {
				t.Fatalf("errors:\n%s\nwant %d: %q", err, len(tt.want), tt.want)
			}
			for i, w := range tt.want {
				if !strings.HasPrefix(lines[i], w) {
					t.Errorf("error %d = %q, want prefix %q", i, lines[i], w)
				}
			}
		})
	}
}

// TestCheckinsTokenFileMissing: Load checks the token files exist.
func TestCheckinsTokenFileMissing(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "w.yml")
	if err := os.WriteFile(path, []byte("heartbeats:\n  - name: a\n    period: 1m\n    token_file: missing\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Load(path)
	if want := path + ":4: heartbeats[0].token_file: cannot read secret file"; err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Fatalf("Load: %v, want %q", err, want)
	}
}
