//go:build linux

package main

import (
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/VictoriaMetrics/metrics"

	"github.com/watchdog-sre/watchdog/config"
)

// TestOpenStoreChunksDir: storage.chunks_dir puts the store's sealed
// chunks in files there (reported by the chunk file gauges); a directory
// another process (here: store) holds is a clear error naming the key.
func TestOpenStoreChunksDir(t *testing.T) {
	dir := t.TempDir()
	open := func() (*root, error) {
		r := &root{logger: slog.New(slog.NewTextHandler(io.Discard, nil)), set: metrics.NewSet()}
		cfg, err := config.Parse([]byte("storage:\n  chunks_dir: "+dir+"\n"), "w.yml")
		if err != nil {
			t.Fatal(err)
		}
		return r, r.openStore(cfg)
	}
	r, err := open()
	if err != nil {
		t.Fatal(err)
	}
	defer r.db.Close()
	if _, err := os.Stat(filepath.Join(dir, "watchdog-chunks.lock")); err != nil {
		t.Fatalf("chunks dir not taken: %v", err)
	}
	var out strings.Builder
	r.set.WritePrometheus(&out)
	for _, m := range []string{"watchdog_tsdb_chunk_file_bytes 0", "watchdog_tsdb_chunk_file_mapped_bytes 0", "watchdog_tsdb_chunk_file_fallbacks_total 0"} {
		if !strings.Contains(out.String(), m+"\n") {
			t.Errorf("metrics lack %q", m)
		}
	}
	if _, err := open(); err == nil || !strings.Contains(err.Error(), "storage.chunks_dir") || !strings.Contains(err.Error(), "in use by another process") {
		t.Fatalf("second store on the directory: %v", err)
	}
}
