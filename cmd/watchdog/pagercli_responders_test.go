package main

import (
	"bytes"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/watchdog-sre/watchdog/pager"
	"github.com/watchdog-sre/watchdog/web"
)

// TestPagerCLIResponders runs `watchdog pager incident add-responder` and
// `incident respond` against the paging API of an in-process pager.
func TestPagerCLIResponders(t *testing.T) {
	cfg, err := pager.ParseConfig("p.yml", []byte(`pager:
  users:
    - {name: alice, contact: {push: a}}
    - {name: bob, contact: {push: b}}
  schedules:
    - {name: db, time_zone: UTC, layers: [{name: l, members: [bob], rotation: daily, start: 2026-01-01T00:00}]}
  escalation_policies: [{name: ops, levels: [{targets: [user:alice]}]}]
  routes: [{escalation_policy: ops, group_wait: 0s}]
`))
	if err != nil {
		t.Fatal(err)
	}
	p, err := pager.New(pager.Options{Config: cfg})
	if err != nil {
		t.Fatal(err)
	}
	h := web.New(web.Options{Token: "tok"})
	h.EnablePager(web.PagerOptions{Pager: p, Schedules: cfg.Schedule})
	srv := httptest.NewServer(h)
	defer srv.Close()
	if err := p.Receive(pager.Alert{Labels: map[string]string{"alertname": "DBSlow"}}); err != nil {
		t.Fatal(err)
	}
	tok := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tok, []byte("tok\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		args   []string
		code   int
		stdout []string // substrings
		stderr string
	}{
		{"bad target", []string{"incident", "add-responder", "inc-1", "team:x"}, 2, nil, "want NAME, user:NAME"},
		{"no target", []string{"incident", "add-responder", "inc-1"}, 2, nil, "usage"},
		{"unknown user", []string{"incident", "add-responder", "inc-1", "mallory"}, 1, nil, `unknown user "mallory"`},
		{"add", []string{"--by", "alice", "incident", "add-responder", "inc-1", "schedule:db", "--message", "slow queries"}, 0,
			[]string{"inc-1 triggered", "bob", "requested", "schedule:db", "asked by alice", "slow queries"}, ""},
		{"not asked", []string{"--by", "alice", "incident", "respond", "inc-1"}, 1, nil, "no pending request to help"},
		{"respond", []string{"--by", "bob", "incident", "respond", "inc-1"}, 0, []string{"inc-1 triggered", "bob", "acknowledged"}, ""},
		{"unknown sub", []string{"incident", "frobnicate", "inc-1"}, 2, nil, "unknown incident command"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			args := append([]string{"--url", srv.URL, "--token-file", tok}, tt.args...)
			if code := cmdPager(args, &stdout, &stderr); code != tt.code {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tt.code, stdout.String(), stderr.String())
			}
			for _, s := range tt.stdout {
				if !strings.Contains(stdout.String(), s) {
					t.Errorf("stdout lacks %q:\n%s", s, stdout.String())
				}
			}
			if !strings.Contains(stderr.String(), tt.stderr) {
				t.Errorf("stderr lacks %q:\n%s", tt.stderr, stderr.String())
			}
		})
	}
	st, _, err := p.Incident("inc-1")
	if err != nil {
		t.Fatal(err)
	}
	if st.Status != pager.StatusTriggered || len(st.Responders) != 1 || st.Responders[0].Status != pager.ResponderAcknowledged {
		t.Errorf("incident %s, responders %+v", st.Status, st.Responders)
	}
}
