package tsdb

import (
	"bytes"
	"errors"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"

	"github.com/watchdog-sre/watchdog/internal/testcorpus"
)

func snapshotBytes(tb testing.TB, db *DB) []byte {
	tb.Helper()
	var buf bytes.Buffer
	if _, err := db.WriteSnapshot(&buf); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

func TestSnapshotRoundTrip(t *testing.T) {
	db, _ := loadBoth(t)
	path := filepath.Join(t.TempDir(), "tsdb.snap")
	db.opts.SnapshotPath = path
	if err := db.Snapshot(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path + ".tmp"); !os.IsNotExist(err) {
		t.Fatalf("temp file left behind: %v", err)
	}
	db2, err := Open(anyTime(Options{SnapshotPath: path}))
	if err != nil {
		t.Fatal(err)
	}
	st1, st2 := db.Stats(), db2.Stats()
	if st1.Series != st2.Series || st1.Samples != st2.Samples || st1.Chunks != st2.Chunks || st1.ChunkBytes != st2.ChunkBytes {
		t.Fatalf("stats differ: %+v vs %+v", st1, st2)
	}
	ng := newEngine()
	for _, qc := range loadQueries(t) {
		if want, got := runQuery(t, ng, db, qc), runQuery(t, ng, db2, qc); want != got {
			t.Fatalf("%s: results differ after reload\nbefore:\n%s\nafter:\n%s", qc.line, want, got)
		}
	}
	if !bytes.Equal(snapshotBytes(t, db), snapshotBytes(t, db2)) {
		t.Fatal("snapshot of the reloaded DB differs from the original")
	}
	// The reloaded DB keeps appending: the open chunk was restored.
	a := db2.Appender()
	ls := labels.FromStrings("__name__", "node_memory_bytes", "job", "node", "instance", "i1")
	mustAppend(t, a, 0, ls, 7200_000+15_000, 1)
	if _, err := a.Append(0, ls, 7200_000, 1); !errors.Is(err, ErrOutOfOrder) {
		t.Fatalf("order check after reload: %v", err)
	}
	a.Commit()
	if got := query(t, db2, 7200_000, 7300_000)[ls.String()]; len(got) != 2 || got[1].v != 1 {
		t.Fatalf("append after reload: %v", got)
	}
}

func TestSnapshotCorruption(t *testing.T) {
	db, _ := loadBoth(t)
	good := snapshotBytes(t, db)
	check := func(t *testing.T, name string, data []byte) {
		t.Helper()
		d := newDB(anyTime(Options{}), nil)
		err := d.loadSnapshot(data)
		if !errors.Is(err, ErrCorruptSnapshot) {
			t.Fatalf("%s: err = %v, want ErrCorruptSnapshot", name, err)
		}
	}
	t.Run("truncated", func(t *testing.T) {
		step := max(1, len(good)/500)
		for n := 0; n < len(good); n += step {
			check(t, "truncate", good[:n])
		}
		check(t, "truncate", good[:len(good)-1])
	})
	t.Run("bit flips", func(t *testing.T) {
		rng := rand.New(rand.NewPCG(3, 4))
		for range 500 {
			bad := bytes.Clone(good)
			i := rng.IntN(len(bad))
			bad[i] ^= 1 << rng.IntN(8)
			check(t, "flip", bad)
		}
	})
	t.Run("trailing garbage", func(t *testing.T) {
		check(t, "append", append(bytes.Clone(good), 0))
	})
	t.Run("empty", func(t *testing.T) { check(t, "empty", nil) })
}

func TestOpenCorruptSnapshotMovesAside(t *testing.T) {
	db, _ := loadBoth(t)
	good := snapshotBytes(t, db)
	path := filepath.Join(t.TempDir(), "tsdb.snap")
	if err := os.WriteFile(path, good[:len(good)/2], 0o600); err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	d, err := Open(Options{SnapshotPath: path, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	if st := d.Stats(); st.Series != 0 {
		t.Fatalf("DB not empty after corrupt snapshot: %+v", st)
	}
	if _, err := os.Stat(path + ".corrupt"); err != nil {
		t.Fatalf("corrupt file not moved aside: %v", err)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatalf("corrupt file still in place: %v", err)
	}
	if out := logs.String(); !strings.Contains(out, "level=WARN") || !strings.Contains(out, path) || !strings.Contains(out, "corrupt snapshot") {
		t.Fatalf("warning missing file or problem: %q", out)
	}
	// Missing file: empty DB, no error.
	if _, err := Open(Options{SnapshotPath: filepath.Join(t.TempDir(), "none")}); err != nil {
		t.Fatal(err)
	}
}

// FuzzLoadSnapshot feeds arbitrary bytes to the loader, both through the
// checksummed file path and straight to the body decoder (which a random
// input could otherwise never reach past the CRC). It must never panic, and
// any error must wrap ErrCorruptSnapshot.
func FuzzLoadSnapshot(f *testing.F) {
	db := newDB(anyTime(Options{}), nil)
	a := db.Appender()
	for i := range 300 {
		a.Append(0, labels.FromStrings("__name__", "a", "i", string(rune('a'+i%3))), int64(i)*15_000, float64(i%17))
	}
	for i := range 30 {
		a.AppendSample(0, labels.FromStrings("__name__", "h"), int64(i)*1000, int64(i)*15_000, 0, testHist(uint64(i%7)), nil)
		a.AppendSample(0, labels.FromStrings("__name__", "fh"), 0, int64(i)*15_000, 0, nil, testHist(uint64(i)).ToFloat(nil))
	}
	a.Commit()
	img := snapshotBytes(f, db)
	f.Add(img)
	f.Add(img[snapHeader : len(img)-snapTrailer])
	f.Add(img[:len(img)/2])
	f.Add([]byte{})
	// Seed with the shared exposition corpus too: realistic label bytes.
	for _, file := range testcorpus.All(f) {
		f.Add(file.Data[:min(len(file.Data), 4096)])
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if err := newDB(anyTime(Options{}), nil).loadSnapshot(data); err != nil && !errors.Is(err, ErrCorruptSnapshot) {
			t.Fatalf("error does not wrap ErrCorruptSnapshot: %v", err)
		}
		d := newDB(anyTime(Options{}), nil)
		if err := d.loadBody(data, snapVersion); err != nil {
			if !errors.Is(err, ErrCorruptSnapshot) {
				t.Fatalf("error does not wrap ErrCorruptSnapshot: %v", err)
			}
			return
		}
		// A body that loads must yield a queryable, re-snapshottable DB.
		query(t, d, -1<<62, 1<<62)
		snapshotBytes(t, d)
	})
}

// TestSnapshotFailureCounted: a snapshot that cannot be written (its
// directory replaced by a file, which stops root too) is an error, counted,
// and the next good one is counted as written with its time.
func TestSnapshotFailureCounted(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	at := time.Unix(1_800_000_000, 0)
	db, err := Open(Options{SnapshotPath: filepath.Join(dir, "tsdb.snap"), Now: func() time.Time { return at }})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(dir); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dir, []byte("not a directory"), 0o644); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := db.Snapshot(); err == nil {
			t.Fatal("snapshot into a file's path succeeded")
		}
	}
	if st := db.Stats(); st.SnapshotFailures != 2 || st.Snapshots != 0 || st.LastSnapshot != 0 {
		t.Fatalf("after two failures: %d failures, %d snapshots, last %d", st.SnapshotFailures, st.Snapshots, st.LastSnapshot)
	}
	if err := os.Remove(dir); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := db.Snapshot(); err != nil {
		t.Fatal(err)
	}
	if st := db.Stats(); st.SnapshotFailures != 2 || st.Snapshots != 1 || st.LastSnapshot != at.Unix() {
		t.Fatalf("after a good one: %d failures, %d snapshots, last %d", st.SnapshotFailures, st.Snapshots, st.LastSnapshot)
	}
}
