package main

import (
	"context"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/watchdog-sre/watchdog/web"
)

const (
	stepsRulesOne = "groups:\n  - name: one\n    rules:\n      - {alert: First, expr: 'vector(1)'}\n"
	stepsRulesTwo = "groups:\n  - name: two\n    rules:\n      - {alert: Second, expr: 'vector(1)'}\n"
)

// TestReloadSteps drives the composition root's steps directly: the first
// configuration goes through build, validate and commit as serve does; a
// reload refused at any step (build: a broken rule file; validate: a
// status page matcher that does not parse; validateChange: a section that
// applies only at restart) changes nothing — not the rules, not the status
// page — and is counted as failed; a good one switches both.
func TestReloadSteps(t *testing.T) {
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "watchdog.yml")
	write := func(name, text string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	config := func(title, extra string) string {
		return "rule_files: [rules.yml]\nstatus_page:\n  title: " + title + "\n" + extra
	}
	write("rules.yml", stepsRulesOne)
	write("watchdog.yml", config("One", ""))

	fs, o := serveFlags(false)
	if err := fs.Parse([]string{"--config", cfgPath}); err != nil {
		t.Fatal(err)
	}
	limits, err := o.limits.queryLimits()
	if err != nil {
		t.Fatal(err)
	}
	src, err := openConfigSource(o, false, "127.0.0.1:9190")
	if err != nil {
		t.Fatal(err)
	}
	logger := slog.New(slog.DiscardHandler)
	r, first, err := newRoot(o, io.Discard, logger, &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 9190}, src, "token", limits)
	if err != nil {
		t.Fatal(err)
	}
	defer r.close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := r.commit(ctx, first); err != nil {
		t.Fatal(err)
	}
	defer r.remote.stop()
	rl := &reloader{root: r, state: newConfigState(first.cfg, time.Now()), load: src.load, configName: src.name}

	running := func() (alerts []string, title string) {
		for _, g := range web.RulesFrom(r.ruler)() {
			for _, rule := range g.Rules {
				alerts = append(alerts, rule.Name)
			}
		}
		return alerts, r.statusPage.Load().Title
	}
	for _, tc := range []struct {
		name   string
		rules  string
		config string
		want   string // in the error; "" for success
		alerts []string
		title  string
	}{
		{"build refuses a broken rule file", stepsRulesTwo + "      - {alert: Broken, expr: 'sum(('}\n", config("Two", ""),
			"rules.yml", []string{"First"}, "One"},
		{"validate refuses a status page matcher", stepsRulesTwo, config("Two", "  components:\n    - {name: C, matchers: ['job=~\"(\"']}\n"),
			"status_page", []string{"First"}, "One"},
		{"validateChange refuses a new datasource", stepsRulesTwo, config("Two", "datasource: {url: 'http://127.0.0.1:1'}\n"),
			errDatasourceRestart.Error(), []string{"First"}, "One"},
		{"a good reload switches everything", stepsRulesTwo, config("Two", ""), "", []string{"Second"}, "Two"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			write("rules.yml", tc.rules)
			write("watchdog.yml", tc.config)
			err := rl.reload(ctx)
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("reload: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("reload = %v, want an error with %q", err, tc.want)
			}
			if got := rl.state.runtime().ReloadConfigSuccess; got != (tc.want == "") {
				t.Errorf("reload success recorded as %v", got)
			}
			alerts, title := running()
			if !slices.Equal(alerts, tc.alerts) || title != tc.title {
				t.Errorf("running rules %v, status page %q; want %v, %q", alerts, title, tc.alerts, tc.title)
			}
		})
	}
	if err := rl.reload(ctx); err != nil {
		t.Fatalf("reloading the same file again: %v", err)
	}
}
