package main

import (
	"bytes"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/watchdog-sre/watchdog/pager"
	"github.com/watchdog-sre/watchdog/web"
)

const tokenCLIConfig = `pager:
  users:
    - name: alice
      contact: {push: a}
  escalation_policies:
    - name: p
      levels: [{targets: [user:alice]}]
  channels:
    - {name: push, type: console}
  routes:
    - {name: all, escalation_policy: p}
`

// TestPagerUserTokenCLI: create prints the secret once (and only it on
// stdout), list never shows it, revoke makes it useless.
func TestPagerUserTokenCLI(t *testing.T) {
	cfg, err := pager.ParseConfig("pager.yml", []byte(tokenCLIConfig))
	if err != nil {
		t.Fatal(err)
	}
	p, err := pager.New(pager.Options{Config: cfg})
	if err != nil {
		t.Fatal(err)
	}
	h := web.New(web.Options{Token: "op-secret"})
	h.EnablePager(web.PagerOptions{Pager: p, People: p})
	srv := httptest.NewServer(h)
	defer srv.Close()
	t.Setenv("WATCHDOG_TOKEN", "op-secret")
	run := func(args ...string) (int, string, string) {
		var out, errb bytes.Buffer
		code := cmdPager(append([]string{"--url", srv.URL}, args...), &out, &errb)
		return code, out.String(), errb.String()
	}

	code, out, errOut := run("user", "token", "create", "--user", "alice", "--scope", "respond,admin", "--name", "laptop", "--expires", "90d")
	secret := strings.TrimSpace(out)
	if code != 0 || !strings.HasPrefix(secret, "wdp_") || strings.Count(out, "\n") != 1 || !strings.Contains(errOut, "shown once") {
		t.Fatalf("create: %d %q %q", code, out, errOut)
	}
	c, err := p.Authenticate(secret)
	if err != nil || c.User != "alice" || c.Name != "laptop" || len(c.Scopes) != 2 || c.ExpiresAt.IsZero() {
		t.Fatalf("created token: %+v %v", c, err)
	}
	code, out, _ = run("user", "token", "list", "--user", "alice")
	if code != 0 || !strings.Contains(out, c.ID) || !strings.Contains(out, "admin,respond") || strings.Contains(out, secret) {
		t.Errorf("list: %d\n%s", code, out)
	}
	if code, out, errOut := run("user", "token", "revoke", c.ID); code != 0 || !strings.Contains(out, "revoked") {
		t.Errorf("revoke: %d %q %q", code, out, errOut)
	}
	if _, err := p.Authenticate(secret); err == nil {
		t.Error("revoked token still authenticates")
	}
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"user", "token", "create", "--user", "alice"}, 2, "--scope"},
		{[]string{"user", "token", "create", "--user", "mallory", "--scope", "respond"}, 1, "unknown user"},
		{[]string{"user", "token", "create", "--user", "alice", "--scope", "root"}, 1, "unknown scope"},
		{[]string{"user", "token", "revoke"}, 2, "revoke ID"},
		{[]string{"user", "token", "revoke", "0000000000000000"}, 1, "404"},
		{[]string{"user", "key"}, 2, "token create|list|revoke"},
	} {
		if code, _, errOut := run(tc.args...); code != tc.code || !strings.Contains(errOut, tc.want) {
			t.Errorf("%v: %d %q, want %d and %q", tc.args, code, errOut, tc.code, tc.want)
		}
	}
}
