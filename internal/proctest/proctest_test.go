package proctest

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestRun: a program that exits before it is ready is ErrNotReady with its
// output; one whose readiness URL answers is running until halted.
func TestRun(t *testing.T) {
	ready := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer ready.Close()
	tests := []struct {
		name    string
		script  string
		url     string
		wantErr bool
	}{
		{"exits early", "echo boom; exit 3", ready.URL + "/nowhere", true},
		{"never ready", "exec sleep 30", "http://127.0.0.1:1/", true},
		{"ready", "exec sleep 30", ready.URL, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			url := tt.url
			if tt.name == "exits early" {
				port, err := FreePort()
				if err != nil {
					t.Fatal(err)
				}
				url = "http://127.0.0.1:" + strconv.Itoa(port)
			}
			p := &Proc{Bin: "/bin/sh", Args: []string{"-c", tt.script}, Dir: t.TempDir(), ReadyURL: url,
				ReadyTimeout: time.Second}
			defer p.Halt()
			err := p.Run()
			if tt.wantErr {
				if !errors.Is(err, ErrNotReady) || p.Running() {
					t.Fatalf("err %v, running %v; want ErrNotReady, stopped", err, p.Running())
				}
				if tt.name == "exits early" && !strings.Contains(err.Error(), "boom") {
					t.Fatalf("error without the program's output: %v", err)
				}
				return
			}
			if err != nil || !p.Running() {
				t.Fatalf("err %v, running %v", err, p.Running())
			}
			p.Halt()
			if p.Running() {
				t.Fatal("running after Halt")
			}
		})
	}
}

// TestFind: the environment variable wins over PATH and fallbacks.
func TestFind(t *testing.T) {
	t.Setenv("PROCTEST_BIN", "/custom/bin")
	if got := Find("PROCTEST_BIN", "sh"); got != "/custom/bin" {
		t.Fatalf("got %q", got)
	}
	t.Setenv("PROCTEST_BIN", "")
	if got := Find("PROCTEST_BIN", "no-such-program-here", "/bin/sh"); got != "/bin/sh" {
		t.Fatalf("fallback: got %q", got)
	}
	if got := Find("PROCTEST_BIN", "no-such-program-here", "/no/such"); got != "" {
		t.Fatalf("none: got %q", got)
	}
}

// TestEnvAndPid: Env reaches the program on top of the inherited
// environment; Pid is the running program's and 0 once halted.
func TestEnvAndPid(t *testing.T) {
	ready := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer ready.Close()
	t.Setenv("PROCTEST_INHERITED", "inherited")
	p := &Proc{Bin: "/bin/sh", Args: []string{"-c", `echo "$PROCTEST_X $PROCTEST_INHERITED"; exec sleep 30`},
		Env: []string{"PROCTEST_X=set"}, Dir: t.TempDir(), ReadyURL: ready.URL, ReadyTimeout: 5 * time.Second}
	defer p.Halt()
	if err := p.Run(); err != nil {
		t.Fatal(err)
	}
	if p.Pid() <= 0 {
		t.Fatalf("Pid() = %d while running", p.Pid())
	}
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(p.Log(), "set inherited") {
		if time.Now().After(deadline) {
			t.Fatalf("log %q, want %q", p.Log(), "set inherited")
		}
		time.Sleep(10 * time.Millisecond)
	}
	p.Halt()
	if p.Pid() != 0 {
		t.Fatalf("Pid() = %d after Halt", p.Pid())
	}
}
