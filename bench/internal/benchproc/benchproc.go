// Package benchproc holds what the end-to-end benchmark commands
// (bench/fleet, bench/storm) share: building the watchdog binary from this
// repository and reading a process's CPU time and memory from /proc.
package benchproc

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// ErrParse is returned when /proc/pid/stat cannot be read as expected.
var ErrParse = errors.New("parse /proc/pid/stat")

// RepoRoot finds the directory holding this module's go.mod from the
// working directory up.
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if b, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil && strings.Contains(string(b), "module github.com/watchdog-sre/watchdog\n") {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("find repository: run from inside the watchdog repository")
		}
		dir = parent
	}
}

// BuildWatchdog runs `go build ./cmd/watchdog` in root into out, with the
// compiler's output on stderr.
func BuildWatchdog(ctx context.Context, root, out string) error {
	cmd := exec.CommandContext(ctx, "go", "build", "-o", out, "./cmd/watchdog")
	cmd.Dir, cmd.Stdout, cmd.Stderr = root, os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("build watchdog: %w", err)
	}
	return nil
}

// CPU returns the user plus system CPU time of pid from /proc/pid/stat.
func CPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name (field 2) may hold spaces: count from after ')'.
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return 0, ErrParse
	}
	fields := strings.Fields(string(b[i+1:]))
	if len(fields) < 13 {
		return 0, ErrParse
	}
	// utime and stime are fields 14 and 15, here 11 and 12 counting from
	// the state (field 3) at 0; clock ticks are 100 per second on Linux.
	ut, err1 := strconv.ParseInt(fields[11], 10, 64)
	st, err2 := strconv.ParseInt(fields[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, ErrParse
	}
	return time.Duration(ut+st) * 10 * time.Millisecond, nil
}

// Status returns a kB field of /proc/pid/status (VmRSS, VmHWM) in bytes.
func Status(pid int, field string) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, field+":"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kb << 10, err
		}
	}
	return 0, fmt.Errorf("no %s in /proc/%d/status", field, pid)
}
