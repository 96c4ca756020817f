package benchproc

import (
	"os"
	"testing"
)

func TestSelf(t *testing.T) {
	pid := os.Getpid()
	rss, err := Status(pid, "VmRSS")
	if err != nil || rss <= 0 {
		t.Fatalf("Status(VmRSS) = %d, %v; want > 0", rss, err)
	}
	if hwm, err := Status(pid, "VmHWM"); err != nil || hwm < rss {
		t.Fatalf("Status(VmHWM) = %d, %v; want >= VmRSS %d", hwm, err, rss)
	}
	if _, err := Status(pid, "NoSuchField"); err == nil {
		t.Fatal("Status(NoSuchField): want an error")
	}
	if _, err := CPU(pid); err != nil {
		t.Fatalf("CPU: %v", err)
	}
	if _, err := CPU(-1); err == nil {
		t.Fatal("CPU(-1): want an error")
	}
}

func TestRepoRoot(t *testing.T) {
	root, err := RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(root + "/cmd/watchdog"); err != nil {
		t.Fatalf("RepoRoot() = %s without cmd/watchdog: %v", root, err)
	}
}
