package tsdb

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"os"
	"path/filepath"
	"testing"

	"github.com/prometheus/prometheus/model/labels"
)

type fixedSection []byte

func (f fixedSection) AppendSnapshot(dst []byte) []byte { return append(dst, f...) }

// seqSection records, when it is written, how many samples the DB holds:
// sections are written after the series are copied.
type seqSection struct{ db *DB }

func (s seqSection) AppendSnapshot(dst []byte) []byte {
	return binary.AppendUvarint(dst, uint64(s.db.Stats().Samples))
}

func TestSnapshotSections(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tsdb.snap")
	db := newDB(anyTime(Options{SnapshotPath: path}), nil)
	a := db.Appender()
	mustAppend(t, a, 0, labels.FromStrings("__name__", "up"), 1000, 1)
	if err := a.Commit(); err != nil {
		t.Fatal(err)
	}
	db.SetSnapshotSection("remote/a", fixedSection("position-a"))
	db.SetSnapshotSection("remote/b", seqSection{db})
	db.SetSnapshotSection("gone", fixedSection("x"))
	db.SetSnapshotSection("gone", nil)
	if err := db.Snapshot(); err != nil {
		t.Fatal(err)
	}

	db2, err := Open(anyTime(Options{SnapshotPath: path}))
	if err != nil {
		t.Fatal(err)
	}
	if got := string(db2.LoadedSection("remote/a")); got != "position-a" {
		t.Errorf("section a = %q", got)
	}
	if n, _ := binary.Uvarint(db2.LoadedSection("remote/b")); n != 1 {
		t.Errorf("section b = %d samples, want 1", n)
	}
	if db2.LoadedSection("gone") != nil {
		t.Error("an unregistered section was written")
	}
	if db2.Stats().Samples != 1 {
		t.Errorf("samples = %d", db2.Stats().Samples)
	}

	// Unclaimed sections are carried over; claimed ones are rewritten.
	db2.SetSnapshotSection("remote/b", fixedSection("new"))
	if err := db2.Snapshot(); err != nil {
		t.Fatal(err)
	}
	db3, err := Open(anyTime(Options{SnapshotPath: path}))
	if err != nil {
		t.Fatal(err)
	}
	if got := string(db3.LoadedSection("remote/a")); got != "position-a" {
		t.Errorf("carried-over section a = %q", got)
	}
	if got := string(db3.LoadedSection("remote/b")); got != "new" {
		t.Errorf("rewritten section b = %q", got)
	}
}

// TestSnapshotOldVersionsLoad checks that snapshots written before
// histograms (version 2: testdata/snapshot-v2.golden, written by the store
// as it was then) and before sections (version 1: the same without the
// section list) still load, with the same samples.
func TestSnapshotOldVersionsLoad(t *testing.T) {
	v2, err := os.ReadFile("testdata/snapshot-v2.golden")
	if err != nil {
		t.Fatal(err)
	}
	if got := binary.BigEndian.Uint32(v2[len(snapMagic):]); got != 2 {
		t.Fatalf("golden file is version %d", got)
	}
	// Rebuild it as version 1: drop the empty section list (one byte, 0).
	body := v2[snapHeader : len(v2)-snapTrailer]
	if body[len(body)-1] != 0 {
		t.Fatalf("expected an empty section list at the end of the body")
	}
	body = body[:len(body)-1]
	var v1 []byte
	v1 = append(v1, snapMagic...)
	v1 = binary.BigEndian.AppendUint32(v1, 1)
	v1 = append(v1, body...)
	crc := crc32.Checksum(v1, castagnoli)
	v1 = binary.BigEndian.AppendUint64(v1, uint64(len(body)))
	v1 = binary.BigEndian.AppendUint32(v1, crc)
	v1 = append(v1, snapEndMagic...)

	var images [][]byte
	for _, tc := range []struct {
		name string
		data []byte
	}{{"version 1", v1}, {"version 2", v2}} {
		d := newDB(anyTime(Options{}), nil)
		if err := d.loadSnapshot(tc.data); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		checkGauges(t, d, tc.name)
		if st := d.Stats(); st.Series != 3 || st.Samples != 601 {
			t.Fatalf("%s: %d series, %d samples, want 3 and 601", tc.name, st.Series, st.Samples)
		}
		got := query(t, d, 0, 1<<40)
		up := got[labels.FromStrings("__name__", "up", "job", "x").String()]
		req := got[labels.FromStrings("__name__", "requests_total", "job", "y").String()]
		if len(up) != 300 || up[299] != (sample{299 * 15000, 1}) || len(req) != 300 || req[10] != (sample{150007, 100.0 / 3}) {
			t.Fatalf("%s: samples differ from what was written", tc.name)
		}
		images = append(images, snapshotBytes(t, d))
	}
	if !bytes.Equal(images[0], images[1]) {
		t.Fatal("re-snapshots of the version 1 and 2 loads differ")
	}
}
