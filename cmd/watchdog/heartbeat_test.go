package main

import (
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/watchdog-sre/watchdog/config"
)

// TestWatchdogHealth: the heartbeat's gate over rule groups and the pager.
func TestWatchdogHealth(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 10, 0, 0, 0, time.UTC)
	at := func(d time.Duration) time.Time { return t0.Add(d) }
	type step struct {
		now    time.Duration
		groups []groupEval
		down   bool
		want   string // "" healthy, else a substring of the reason
	}
	g := func(name string, last time.Duration) groupEval {
		ge := groupEval{name: name, interval: time.Minute}
		if last >= 0 {
			ge.last = at(last)
		}
		return ge
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{"no rules, no pager", []step{{now: 0}, {now: time.Hour}}},
		{"pager down", []step{{now: 0, down: true, want: "the pager is down"}, {now: time.Minute}}},
		{"fresh groups", []step{{now: 5 * time.Minute, groups: []groupEval{g("a", 4*time.Minute), g("b", 3*time.Minute)}}}},
		{"stale group", []step{
			{now: 0, groups: []groupEval{g("a", -1), g("b", -1)}},
			{now: 10 * time.Minute, groups: []groupEval{g("a", 9*time.Minute), g("b", 6*time.Minute)},
				want: "rule group b last evaluated 4m0s ago (interval 1m0s)"},
		}},
		{"not yet evaluated counts from first seen", []step{
			{now: 0, groups: []groupEval{g("new", -1)}},
			{now: 3 * time.Minute, groups: []groupEval{g("new", -1)}},
			{now: 3*time.Minute + time.Second, groups: []groupEval{g("new", -1)}, want: "rule group new last evaluated 3m1s ago"},
			{now: 4 * time.Minute, groups: []groupEval{g("new", 4*time.Minute)}},
		}},
		{"a group added by a reload gets its time", []step{
			{now: time.Hour, groups: []groupEval{g("old", time.Hour)}},
			{now: time.Hour + time.Minute, groups: []groupEval{g("old", time.Hour+time.Minute), g("added", -1)}},
			{now: time.Hour + 2*time.Minute, groups: []groupEval{g("old", time.Hour+2*time.Minute), g("added", -1)}},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var cur step
			health := watchdogHealth(func() []groupEval { return cur.groups }, func() bool { return !cur.down })
			for i, s := range tt.steps {
				cur = s
				err := health(at(s.now))
				switch {
				case s.want == "" && err != nil:
					t.Errorf("step %d: %v, want healthy", i, err)
				case s.want != "" && (err == nil || !strings.Contains(err.Error(), s.want)):
					t.Errorf("step %d: %v, want %q", i, err, s.want)
				}
			}
		})
	}
}

// TestHeartbeatEndpoint: the request each section becomes, with secrets
// from files and the environment.
func TestHeartbeatEndpoint(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	key := write("key", "genie-key\n", 0o600)
	hcURL := write("url", "https://hc-ping.com/uuid-1\n", 0o600)
	cred := write("cred", "tok\n", 0o600)
	open := write("open", "tok\n", 0o644)
	t.Setenv("WD_TEST_HB_URL", "https://hc-ping.com/uuid-env")
	log := slog.New(slog.DiscardHandler)
	tests := []struct {
		name            string
		h               config.HeartbeatConfig
		url, method     string
		header, wantErr string
	}{
		{"http url", config.HeartbeatConfig{Kind: "http", URL: "https://hc-ping.com/u", Method: "GET"}, "https://hc-ping.com/u", "GET", "", ""},
		{"http url_file and authorization", config.HeartbeatConfig{Kind: "http", URLFile: hcURL, Method: "POST",
			Authorization: &config.Authorization{Type: "Bearer", CredentialsFile: cred}, Headers: map[string]string{"x-team": "sre"}},
			"https://hc-ping.com/uuid-1", "POST", "Authorization=Bearer tok;X-Team=sre", ""},
		{"http url_env", config.HeartbeatConfig{Kind: "http", URLEnv: "WD_TEST_HB_URL", Method: "GET"}, "https://hc-ping.com/uuid-env", "GET", "", ""},
		{"opsgenie", config.HeartbeatConfig{Kind: "opsgenie", Name: "wd prod", APIKeyFile: key, Method: "GET"},
			"https://api.opsgenie.com/v2/heartbeats/wd%20prod/ping", "GET", "Authorization=GenieKey genie-key", ""},
		{"opsgenie eu", config.HeartbeatConfig{Kind: "opsgenie", URL: "https://api.eu.opsgenie.com", Name: "wd", APIKeyFile: key, Method: "POST"},
			"https://api.eu.opsgenie.com/v2/heartbeats/wd/ping", "POST", "Authorization=GenieKey genie-key", ""},
		{"env unset", config.HeartbeatConfig{Kind: "opsgenie", Name: "wd", APIKeyEnv: "WD_TEST_HB_NOPE"}, "", "", "",
			"environment variable WD_TEST_HB_NOPE is empty or not set"},
		{"secret readable by others", config.HeartbeatConfig{Kind: "http", URL: "https://a/b",
			Authorization: &config.Authorization{Type: "Bearer", CredentialsFile: open}}, "", "", "", "is accessible by other users"},
		{"url file not a URL", config.HeartbeatConfig{Kind: "http", URLFile: cred}, "", "", "", "is not an http or https URL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ep, err := heartbeatEndpoint(&tt.h, log)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if ep.URL != tt.url || ep.Method != tt.method {
				t.Errorf("endpoint %s %s, want %s %s", ep.Method, ep.URL, tt.method, tt.url)
			}
			for _, kv := range strings.Split(tt.header, ";") {
				if k, v, ok := strings.Cut(kv, "="); ok && ep.Header.Get(k) != v {
					t.Errorf("header %s = %q, want %q", k, ep.Header.Get(k), v)
				}
			}
		})
	}
}
