package e2e

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestHAOneProcessPerSQLiteFile (issue #12): a second watchdog on the
// SQLite pager database another one holds exits non-zero, naming the file
// and the holder's PID; after the holder is SIGKILLed, a new process
// starts on the same file and escalates the incident the dead one opened.
func TestHAOneProcessPerSQLiteFile(t *testing.T) {
	parallel(t, 20*time.Second)
	hook := newHookServer(t)
	db := filepath.Join(t.TempDir(), "pager.db")
	hc := hostileConfig{
		Pager:     twoLevelPager(hook.URL, "15s", ""),
		Storage:   "pager_db: " + strconv.Quote(db),
		MaxRSSMiB: 128,
	}
	first := startHostile(t, hc)
	first.fire(t, "LockTest")
	hook.waitHit(t, "/push", 1, 15*time.Second)
	inc := first.openIncident(t)

	// A second process on the same file and configuration is refused.
	second := exec.Command(binary, "run", "--config", first.configPath, "--web.listen-address", "127.0.0.1:0")
	second.Dir = first.dir
	second.Env = append(second.Environ(), "WATCHDOG_TOKEN=")
	out, err := runBounded(second, 30*time.Second)
	if err == nil {
		t.Fatalf("second watchdog on %s exited 0:\n%s", db, out)
	}
	want := fmt.Sprintf("pager database %s is in use by another watchdog (pid %d); two processes cannot share a SQLite pager database",
		db, first.cmd.Process.Pid)
	if !strings.Contains(out, want) {
		t.Fatalf("second watchdog: %v, output lacks %q:\n%s", err, want, tail(out, 4096))
	}
	if !first.alive() {
		t.Fatal("the first watchdog died when the second was refused")
	}

	// SIGKILL the holder before bob is due: nobody has paged him yet.
	if err := first.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-first.done
	if n := hook.count("/sms"); n != 0 {
		t.Fatalf("bob paged %d time(s) before the kill; the test needs a longer escalate_after", n)
	}
	third := startHostile(t, hc)
	hook.waitHit(t, "/sms", 1, 30*time.Second) // only the third process is alive
	eventually(t, 10*time.Second, func() error {
		got := third.openIncident(t)
		if got.ID != inc.ID || !got.has("escalated", "bob") {
			return fmt.Errorf("incident %s, want %s escalated to bob; timeline %+v", got.ID, inc.ID, got.Timeline)
		}
		return nil
	})
	third.assertHealthy(t)
}

// runBounded runs cmd to completion, killing it after limit, and returns
// its combined output and exit error.
func runBounded(cmd *exec.Cmd, limit time.Duration) (string, error) {
	buf := newSyncBuffer()
	cmd.Stdout, cmd.Stderr = buf, buf
	if err := cmd.Start(); err != nil {
		return "", err
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		return buf.String(), err
	case <-time.After(limit):
		_ = cmd.Process.Kill()
		<-done
		return buf.String(), fmt.Errorf("still running after %v", limit)
	}
}
