package main

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"

	"github.com/watchdog-sre/watchdog/config"
	"github.com/watchdog-sre/watchdog/rules/alertmanager"
)

// TestCheckinSpecs: tokens from files and the environment; short tokens,
// tokens that cannot travel in a path, world-readable files and unset
// variables are refused.
func TestCheckinSpecs(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := write("good", "a-long-enough-token-1234\n", 0o600)
	t.Setenv("WD_TEST_CHECKIN", "env-token-of-sufficient-length")
	specs, err := checkinSpecs([]*config.CheckinConfig{
		{Name: "a", Period: config.MinCheckinPeriod, Grace: config.DefaultCheckinGrace, TokenFile: good, Labels: map[string]string{"team": "x"}},
		{Name: "b", Period: config.MinCheckinPeriod, Grace: config.DefaultCheckinGrace, TokenEnv: "WD_TEST_CHECKIN"},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(specs) != 2 || specs[0].Token != "a-long-enough-token-1234" || specs[1].Token != "env-token-of-sufficient-length" ||
		specs[0].Period != time.Second || specs[0].Grace != time.Minute || specs[0].Labels["team"] != "x" {
		t.Fatalf("specs %+v", specs)
	}
	tests := []struct {
		name string
		c    config.CheckinConfig
		want error
	}{
		{"short", config.CheckinConfig{Name: "s", TokenFile: write("short", "abc", 0o600)}, errCheckinToken},
		{"slash", config.CheckinConfig{Name: "s", TokenFile: write("slash", "a-long-token/with-a-slash", 0o600)}, errCheckinToken},
		{"world readable", config.CheckinConfig{Name: "s", TokenFile: write("open", "a-long-enough-token-1234", 0o644)}, errSecretMode},
		{"unset variable", config.CheckinConfig{Name: "s", TokenEnv: "WD_TEST_CHECKIN_UNSET"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := checkinSpecs([]*config.CheckinConfig{&tt.c}, nil)
			if err == nil || (tt.want != nil && !errors.Is(err, tt.want)) {
				t.Fatalf("err %v, want %v", err, tt.want)
			}
		})
	}
}

// TestCheckinNotify: the heartbeats' alerts reach every sink with the
// external labels added (not overriding their own).
func TestCheckinNotify(t *testing.T) {
	var got [][]alertmanager.Alert
	sink := func(a ...alertmanager.Alert) { got = append(got, a) }
	n := checkinNotify(labels.FromStrings("cluster", "eu", "team", "ext"), sink, sink)
	n(alertmanager.Alert{Labels: map[string]string{"alertname": "HeartbeatMissed", "heartbeat": "b", "team": "storage"}})
	if len(got) != 2 {
		t.Fatalf("sinks called %d times", len(got))
	}
	l := got[0][0].Labels
	if l["cluster"] != "eu" || l["team"] != "storage" || l["heartbeat"] != "b" {
		t.Fatalf("labels %v", l)
	}
}

func TestCheckinStatePath(t *testing.T) {
	for in, want := range map[string]string{"": "", "/d/snapshot.wds": "/d/snapshot.heartbeats.json", "/d/snap": "/d/snap.heartbeats.json"} {
		if got := checkinStatePath(in); got != want {
			t.Errorf("checkinStatePath(%q) = %q, want %q", in, got, want)
		}
	}
}
