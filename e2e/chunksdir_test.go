package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestChunksDir drives storage.chunks_dir through the real binary: a path
// that is not a directory is refused with the file and line; a directory
// is taken (lock file, gauges), a second process on it is refused, leftover
// segments of a crashed run are removed at start while other files are left
// alone, and a stop removes the process's own files.
func TestChunksDir(t *testing.T) {
	parallel(t, 10*time.Second)
	needBinary(t)

	t.Run("not a directory", func(t *testing.T) {
		dir := t.TempDir()
		file := filepath.Join(dir, "plain-file")
		if err := os.WriteFile(file, []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
		cfg := filepath.Join(dir, "watchdog.yml")
		if err := os.WriteFile(cfg, []byte("storage:\n  chunks_dir: "+strconv.Quote(file)+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		code, stderr := runToExit(t, dir, nil, "run", "--config", cfg, "--web.listen-address", "127.0.0.1:0")
		if code == 0 {
			t.Fatal("exit 0")
		}
		for _, want := range []string{"watchdog.yml:2", "storage.chunks_dir", "is not a directory"} {
			if !strings.Contains(stderr, want) {
				t.Errorf("error lacks %q:\n%s", want, stderr)
			}
		}
	})

	t.Run("taken, shared, cleaned", func(t *testing.T) {
		chunks := t.TempDir()
		leftover := filepath.Join(chunks, "watchdog-chunks-000007.seg")
		foreign := filepath.Join(chunks, "notes.txt")
		for _, f := range []string{leftover, foreign} {
			if err := os.WriteFile(f, []byte("x"), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		h := startHostile(t, hostileConfig{Storage: "chunks_dir: " + strconv.Quote(chunks)})
		if _, err := os.Stat(leftover); !os.IsNotExist(err) {
			t.Errorf("a crashed run's segment was not removed at start: %v", err)
		}
		if _, err := os.Stat(filepath.Join(chunks, "watchdog-chunks.lock")); err != nil {
			t.Errorf("no lock file: %v", err)
		}
		if _, ok := h.metric(t, "watchdog_tsdb_chunk_file_mapped_bytes"); !ok {
			t.Error("no watchdog_tsdb_chunk_file_mapped_bytes gauge")
		}

		second := exec.Command(binary, "run", "--config", h.configPath, "--web.listen-address", "127.0.0.1:0")
		second.Dir = h.dir
		second.Env = append(second.Environ(), "WATCHDOG_TOKEN=")
		out, err := runBounded(second, 30*time.Second)
		if err == nil {
			t.Fatalf("a second watchdog on %s exited 0:\n%s", chunks, out)
		}
		if !strings.Contains(out, "storage.chunks_dir") || !strings.Contains(out, "in use by another process") {
			t.Errorf("second watchdog's error does not name the directory in use:\n%s", tail(out, 4096))
		}
		if !h.alive() {
			t.Fatal("the first watchdog died when the second was refused")
		}
		h.assertHealthy(t)

		if took, ok := h.stop(10 * time.Second); !ok {
			t.Fatalf("SIGTERM took over %v", took)
		}
		left, err := filepath.Glob(filepath.Join(chunks, "watchdog-chunks-*"))
		if err != nil {
			t.Fatal(err)
		}
		if len(left) != 0 {
			t.Errorf("segments left after a clean stop: %v", left)
		}
		if _, err := os.Stat(foreign); err != nil {
			t.Errorf("a file that is not the store's was touched: %v", err)
		}
	})
}
