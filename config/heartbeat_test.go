package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestHeartbeatGood: defaults, and Load resolving the secret files.
func TestHeartbeatGood(t *testing.T) {
	abs, err := filepath.Abs("testdata")
	if err != nil {
		t.Fatal(err)
	}
	c := mustLoad(t, "testdata/heartbeat.good.yaml")
	h := c.Heartbeat
	if h == nil || h.Kind != "http" || h.Method != "POST" || h.Interval != dur("30s") || h.Timeout != dur("10s") ||
		h.Authorization.Type != "Bearer" || h.Authorization.CredentialsFile != filepath.Join(abs, "secrets/credentials") {
		t.Fatalf("heartbeat = %+v", h)
	}

	tests := []struct {
		name, yaml string
		check      func(h *HeartbeatConfig) bool
	}{
		{"none", "global: {}\n", func(h *HeartbeatConfig) bool { return h == nil }},
		{"defaults", "heartbeat: {url: 'https://hc-ping.com/x'}\n", func(h *HeartbeatConfig) bool {
			return h.Kind == "http" && h.Method == "GET" && h.Interval == DefaultHeartbeatInterval && h.Timeout == DefaultHeartbeatTimeout
		}},
		{"short interval caps the default timeout", "heartbeat: {url_env: HC_URL, interval: 5s}\n", func(h *HeartbeatConfig) bool {
			return h.Timeout == dur("5s") && h.URLEnv == "HC_URL"
		}},
		{"opsgenie", "heartbeat: {kind: opsgenie, name: watchdog-prod, api_key_env: OPSGENIE_KEY, url: 'https://api.eu.opsgenie.com'}\n",
			func(h *HeartbeatConfig) bool {
				return h.Kind == "opsgenie" && h.Name == "watchdog-prod" && h.Method == "GET"
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse([]byte(tt.yaml), "x.yml")
			if err != nil {
				t.Fatal(err)
			}
			if !tt.check(c.Heartbeat) {
				t.Errorf("heartbeat = %+v", c.Heartbeat)
			}
			checkRoundTrip(t, c)
		})
	}
}

// TestHeartbeatBad: every mistake is reported at its file:line.
func TestHeartbeatBad(t *testing.T) {
	tests := []struct {
		name, yaml string
		want       []string
	}{
		{"pagerduty", "heartbeat:\n  kind: pagerduty\n  url: https://x\n",
			[]string{`x.yml:2: heartbeat.kind: PagerDuty has no heartbeat API: use kind http`}},
		{"unknown kind", "heartbeat:\n  kind: smoke\n", []string{`x.yml:2: heartbeat.kind: "smoke" is not http or opsgenie`}},
		{"no url", "heartbeat:\n  interval: 1m\n", []string{`x.yml:1: heartbeat: kind http needs exactly one of url, url_file and url_env`}},
		{"two urls", "heartbeat:\n  url: https://a/b\n  url_env: X\n", []string{`x.yml:1: heartbeat: kind http needs exactly one of url, url_file and url_env`}},
		{"bad url", "heartbeat:\n  url: hc-ping.com/x\n", []string{`x.yml:2: heartbeat.url: "hc-ping.com/x" is not an http or https URL`}},
		{"method and body", "heartbeat:\n  url: https://a/b\n  method: PATCH\n", []string{`x.yml:3: heartbeat.method: "PATCH" is not GET, POST, PUT or HEAD`}},
		{"body with GET", "heartbeat:\n  url: https://a/b\n  body: hi\n", []string{`x.yml:3: heartbeat.body: a body needs method POST or PUT, not GET`}},
		{"secret header", "heartbeat:\n  url: https://a/b\n  headers:\n    authorization: Bearer x\n",
			[]string{`x.yml:3: heartbeat.headers: an Authorization header is a secret: use authorization.credentials_file`}},
		{"bad header name", "heartbeat:\n  url: https://a/b\n  headers:\n    'X Bad': v\n", []string{`x.yml:3: heartbeat.headers: "X Bad" is not a valid header name`}},
		{"timeout over interval", "heartbeat:\n  url: https://a/b\n  interval: 10s\n  timeout: 20s\n",
			[]string{`x.yml:4: heartbeat.timeout: "20s" is greater than interval "10s"`}},
		{"interval too short", "heartbeat:\n  url: https://a/b\n  interval: 100ms\n", []string{`x.yml:3: heartbeat.interval: "100ms" is shorter than 1s`}},
		{"inline api key", "heartbeat:\n  kind: opsgenie\n  name: n\n  api_key: abc\n",
			[]string{`x.yml:4: heartbeat: inline secret "api_key" is not allowed: secrets come from files, use api_key_file`}},
		{"opsgenie without name or key", "heartbeat:\n  kind: opsgenie\n", []string{
			`x.yml:1: heartbeat: kind opsgenie needs the heartbeat's name`,
			`x.yml:1: heartbeat: kind opsgenie needs exactly one of api_key_file and api_key_env`}},
		{"opsgenie with http keys", "heartbeat:\n  kind: opsgenie\n  name: n\n  api_key_env: K\n  url_file: f\n  authorization: {credentials_file: c}\n", []string{
			`x.yml:1: heartbeat: kind opsgenie takes url (the API's base URL), not url_file or url_env`,
			`x.yml:6: heartbeat.authorization: kind opsgenie sends the API key; authorization is for kind http`}},
		{"http with opsgenie keys", "heartbeat:\n  url: https://a/b\n  name: n\n", []string{`x.yml:1: heartbeat: name, api_key_file and api_key_env are for kind opsgenie`}},
		{"basic authorization", "heartbeat:\n  url: https://a/b\n  authorization: {type: Basic, credentials_file: c}\n",
			[]string{`x.yml:3: heartbeat.authorization.type: use basic_auth for basic authentication`}},
		{"bad variable name", "heartbeat:\n  url_env: 'HC URL'\n", []string{`x.yml:2: heartbeat.url_env: "HC URL" is not an environment variable name`}},
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

// TestHeartbeatSecretFileMissing: Load checks the secret files exist.
func TestHeartbeatSecretFileMissing(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "w.yml")
	if err := os.WriteFile(path, []byte("heartbeat:\n  kind: opsgenie\n  name: n\n  api_key_file: missing-key\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Load(path)
	if want := path + ":4: heartbeat.api_key_file: cannot read secret file"; err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Fatalf("Load: %v, want %q", err, want)
	}
}
