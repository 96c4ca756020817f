package sqlstore

import (
	"bufio"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestLockOneStorePerFile: a second Open of a file a Store holds is
// refused with ErrLocked, naming the file, the holder's PID and the way
// out, however the path is spelled; Close, and a failed Open, release
// the lock.
func TestLockOneStorePerFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "pager.db")
	abs, _ := filepath.Abs(path)
	a := mustOpen(t, path)

	for _, second := range []string{path, filepath.Join(dir, ".", "pager.db"), filepath.Join(dir, "sub", "..", "pager.db")} {
		t.Run(second, func(t *testing.T) {
			s, err := Open(second, Options{})
			if err == nil {
				s.Close()
				t.Fatal("second Open of a held file succeeded")
			}
			if !errors.Is(err, ErrLocked) {
				t.Fatalf("err = %v, want ErrLocked", err)
			}
			for _, want := range []string{
				"pager database " + abs + " is in use by another watchdog",
				"(pid " + strconv.Itoa(os.Getpid()) + ")",
				"use PostgreSQL for replicas",
			} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("err = %q, want it to contain %q", err, want)
				}
			}
		})
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	b := mustOpen(t, path) // released by Close
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestLockReleasedOnFailedOpen: an Open that fails after taking the lock
// (here: a file that is not a database) releases it.
func TestLockReleasedOnFailedOpen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "pager.db")
	if err := os.WriteFile(path, []byte("not a database at all, just text"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(path, Options{}); !errors.Is(err, ErrNotDatabase) {
		t.Fatalf("Open: %v, want ErrNotDatabase", err)
	}
	l, err := acquireLock(path)
	if err != nil {
		t.Fatalf("lock after a failed Open: %v", err)
	}
	l.release()
}

// TestLockWithoutPID: a lock file whose holder wrote no PID (yet) still
// refuses, naming "another process".
func TestLockWithoutPID(t *testing.T) {
	path := filepath.Join(t.TempDir(), "pager.db")
	f, err := os.OpenFile(path+lockSuffix, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := tryLock(f); err != nil {
		t.Fatal(err)
	}
	_, err = Open(path, Options{})
	if !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), "(another process)") {
		t.Fatalf("Open: %v, want ErrLocked naming another process", err)
	}
}

// lockChildEnv makes TestLockChild hold the store at its value's path.
const lockChildEnv = "WATCHDOG_SQLSTORE_LOCK_CHILD"

// TestLockChild is the child process of TestLockAcrossProcesses: it opens
// the store, says so, and waits to be killed.
func TestLockChild(t *testing.T) {
	path := os.Getenv(lockChildEnv)
	if path == "" {
		t.Skip("child process of TestLockAcrossProcesses")
	}
	if _, err := Open(path, Options{}); err != nil {
		t.Fatal(err)
	}
	os.Stdout.WriteString("locked\n")
	select {} // until SIGKILL
}

// TestLockAcrossProcesses: while another process holds the database, Open
// is refused with that process's PID; once it is SIGKILLed (no Close), the
// database opens again and keeps what the dead process committed.
func TestLockAcrossProcesses(t *testing.T) {
	path := filepath.Join(t.TempDir(), "pager.db")
	cmd := exec.Command(os.Args[0], "-test.run=^TestLockChild$", "-test.v")
	cmd.Env = append(os.Environ(), lockChildEnv+"="+path)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	ready := make(chan bool, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if sc.Text() == "locked" {
				ready <- true
			}
		}
		close(ready)
	}()
	select {
	case ok := <-ready:
		if !ok {
			t.Fatal("child exited before taking the lock")
		}
	case <-time.After(30 * time.Second): // a bound on a child process, not a sleep
		t.Fatal("child did not take the lock")
	}

	_, err = Open(path, Options{})
	if !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), "(pid "+strconv.Itoa(cmd.Process.Pid)+")") {
		t.Fatalf("Open while the child holds it: %v, want ErrLocked naming pid %d", err, cmd.Process.Pid)
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatalf("Open after the holder was killed: %v", err)
	}
	defer s.Close()
	if s.Created() { // the child created the file
		t.Error("Open after the kill created a new database")
	}
}
