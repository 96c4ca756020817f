package main

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// TestReadSecretFile: a token or ack key file other users can read or
// write is refused with an error naming the file and its mode; one its
// group can read is accepted with a WARN line; 0600 and 0400 are quiet.
func TestReadSecretFile(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no mode bits")
	}
	tests := []struct {
		mode    os.FileMode
		refused bool
		warned  bool
	}{
		{0o600, false, false},
		{0o400, false, false},
		{0o640, false, true},
		{0o660, false, true},
		{0o644, true, false},
		{0o604, true, false},
		{0o602, true, false},
		{0o666, true, false},
	}
	for _, tt := range tests {
		t.Run(tt.mode.String(), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "token")
			if err := os.WriteFile(path, []byte(" s3cret\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(path, tt.mode); err != nil {
				t.Fatal(err)
			}
			var logs bytes.Buffer
			log := slog.New(slog.NewTextHandler(&logs, nil))
			for _, load := range []func() (string, error){
				func() (string, error) { tok, _, err := loadToken(path, log); return tok, err },
				func() (string, error) { k, err := ackKey(path, "api", log); return string(k), err },
			} {
				got, err := load()
				if tt.refused {
					if !errors.Is(err, errSecretMode) || !strings.Contains(err.Error(), path) ||
						!strings.Contains(err.Error(), fmt.Sprintf("mode %#o", tt.mode.Perm())) {
						t.Errorf("err %v, want errSecretMode naming %s", err, path)
					}
					if !strings.Contains(err.Error(), "chmod 600") {
						t.Errorf("err %v does not say how to fix it", err)
					}
					continue
				}
				if err != nil || got != "s3cret" {
					t.Errorf("got %q, %v", got, err)
				}
			}
			if warned := strings.Contains(logs.String(), "level=WARN") && strings.Contains(logs.String(), path); warned != tt.warned {
				t.Errorf("warned %v, want %v: %s", warned, tt.warned, logs.String())
			}
		})
	}
	empty := filepath.Join(t.TempDir(), "empty")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := loadToken(empty, slog.New(slog.DiscardHandler)); err == nil || !strings.Contains(err.Error(), "empty") {
		t.Errorf("empty token file: %v", err)
	}
}
