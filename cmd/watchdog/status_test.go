package main

import (
	"flag"
	"strings"
	"testing"
	"time"

	"github.com/watchdog-sre/watchdog/config"
)

// TestStatusConfigRedactsSecrets: /api/v1/status/config never shows a
// password, token or DSN password, whether in a PostgreSQL URL, the
// userinfo or query of any URL, or a secret key the pager section carries
// through as written; what is not secret stays.
func TestStatusConfigRedactsSecrets(t *testing.T) {
	const text = `
global:
  scrape_interval: 15s
scrape_configs:
  - job_name: shop
    static_configs:
      - targets: ["127.0.0.1:8080"]
storage:
  pager_db: postgres://watchdog:dsn-pass-1@db.internal:5432/pager?sslmode=disable&password=dsn-pass-2
pager:
  channels:
    - {name: hook, type: webhook, url: "https://bob:hook-pass@hooks.internal/alerts?token=hook-token&team=shop"}
    - {name: hook2, type: webhook, url: "https://hooks.internal/x?api_key=key-123&sig=sig-456"}
`
	cfg, err := config.Parse([]byte(text), "watchdog.yml")
	if err != nil {
		t.Fatal(err)
	}
	s := newConfigState(cfg, time.Unix(0, 0))
	got := s.yaml()
	for _, secret := range []string{"dsn-pass-1", "dsn-pass-2", "hook-pass", "hook-token", "key-123", "sig-456"} {
		if strings.Contains(got, secret) {
			t.Errorf("status/config shows %q:\n%s", secret, got)
		}
	}
	for _, kept := range []string{"job_name: shop", "127.0.0.1:8080", "hooks.internal/alerts", "team=shop", "bob:<secret>@", "token=<secret>"} {
		if !strings.Contains(got, kept) {
			t.Errorf("status/config lost %q:\n%s", kept, got)
		}
	}
}

// TestRedactConfigYAML: secret keys are redacted wherever they are, and a
// document that does not parse is not shown.
func TestRedactConfigYAML(t *testing.T) {
	tests := []struct {
		name, in string
		hidden   []string
		kept     []string
	}{
		{"keys", "a:\n  password: p1\n  bearer_token: p2\n  list:\n    - {routing_key: p3, name: n1}\n  credentials_file: /etc/cred\n",
			[]string{"p1", "p2", "p3"}, []string{"n1", "/etc/cred", "<secret>"}},
		{"url userinfo", "url: http://u:p4@h/\n", []string{"p4"}, []string{"u:<secret>@h"}},
		{"unparsable url with userinfo", "url: \"http://u:p5@h:port:x/\"\n", []string{"p5"}, nil},
		{"plain url", "url: http://h:9093/path?team=a\n", nil, []string{"http://h:9093/path?team=a"}},
		{"not yaml", "a: [\n", []string{"a: ["}, []string{"cannot be shown"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := redactConfigYAML(tc.in)
			for _, h := range tc.hidden {
				if strings.Contains(got, h) {
					t.Errorf("shows %q:\n%s", h, got)
				}
			}
			for _, k := range tc.kept {
				if !strings.Contains(got, k) {
					t.Errorf("lost %q:\n%s", k, got)
				}
			}
		})
	}
}

// TestConfigStateRuntime: runtimeinfo follows reloads, and a refused one
// keeps the running configuration.
func TestConfigStateRuntime(t *testing.T) {
	cfg, err := config.Parse([]byte("storage:\n  retention: 3h\n"), "a.yml")
	if err != nil {
		t.Fatal(err)
	}
	s := newConfigState(cfg, time.Unix(10, 0))
	if r := s.runtime(); !r.ReloadConfigSuccess || r.StorageRetention != "3h" || !r.LastConfigTime.Equal(time.Unix(10, 0)) {
		t.Fatalf("start: %+v", r)
	}
	s.failed()
	if r := s.runtime(); r.ReloadConfigSuccess || !r.LastConfigTime.Equal(time.Unix(10, 0)) {
		t.Fatalf("after a refused reload: %+v", r)
	}
	next, err := config.Parse([]byte("storage:\n  retention: 1h\n"), "a.yml")
	if err != nil {
		t.Fatal(err)
	}
	s.loaded(next, time.Unix(20, 0))
	if r := s.runtime(); !r.ReloadConfigSuccess || r.StorageRetention != "1h" || !r.StartTime.Equal(time.Unix(10, 0)) {
		t.Fatalf("after a reload: %+v", r)
	}
}

// TestFlagValues: every flag is listed with its value, defaults included.
func TestFlagValues(t *testing.T) {
	fs, _ := serveFlags(false)
	if err := fs.Parse([]string{"--config", "w.yml", "--web.token-file", "/run/tok"}); err != nil {
		t.Fatal(err)
	}
	got := flagValues(fs)
	n := 0
	fs.VisitAll(func(*flag.Flag) { n++ })
	if len(got) != n || got["config"] != "w.yml" || got["web.token-file"] != "/run/tok" || got["web.listen-address"] != "127.0.0.1:9190" {
		t.Fatalf("flags: %v", got)
	}
}
