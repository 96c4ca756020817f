package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"time"
)

// TestHostileSnapshotFailure (issue #11, item 8): periodic snapshots that
// start failing — the data directory replaced by a file, which stops root
// too — are an ERROR line each and count in
// watchdog_tsdb_snapshot_failures_total, and the watchdog goes on.
func TestHostileSnapshotFailure(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	h := startHostile(t, hostileConfig{
		Storage:   "snapshot_path: " + filepath.Join(data, "snapshot.wds") + "\nsnapshot_interval: 1s\n",
		MaxRSSMiB: 64,
	})
	eventually(t, 10*time.Second, func() error {
		if v, ok := h.metric(t, "watchdog_tsdb_snapshots_total"); !ok || v < 1 {
			return fmt.Errorf("no snapshot written yet (%v, present %v)", v, ok)
		}
		return nil
	})
	if err := os.RemoveAll(data); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(data, []byte("not a directory"), 0o644); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, func() error {
		if v, ok := h.metric(t, "watchdog_tsdb_snapshot_failures_total"); !ok || v < 2 {
			return fmt.Errorf("snapshot failures counted %v (present %v), want at least 2", v, ok)
		}
		return nil
	})
	h.waitLog(t, regexp.MustCompile(`level=ERROR msg="tsdb: snapshot failed`))
	h.assertHealthy(t)
}
