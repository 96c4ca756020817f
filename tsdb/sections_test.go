package tsdb

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
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

// TestSnapshotVersion1Loads checks that a snapshot written before sections
// existed (version 1: no section list) still loads.
func TestSnapshotVersion1Loads(t *testing.T) {
	db := newDB(anyTime(Options{}), nil)
	a := db.Appender()
	mustAppend(t, a, 0, labels.FromStrings("__name__", "up", "job", "x"), 1000, 1)
	mustAppend(t, a, 0, labels.FromStrings("__name__", "up", "job", "y"), 1000, 0)
	if err := a.Commit(); err != nil {
		t.Fatal(err)
	}
	v2 := snapshotBytes(t, db)
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

	d := newDB(anyTime(Options{}), nil)
	if err := d.loadSnapshot(v1); err != nil {
		t.Fatalf("version 1 snapshot: %v", err)
	}
	if d.Stats().Series != 2 {
		t.Fatalf("series = %d", d.Stats().Series)
	}
	if !bytes.Equal(snapshotBytes(t, d), v2) {
		t.Fatal("re-snapshot of a version 1 load differs from the version 2 image")
	}
}
