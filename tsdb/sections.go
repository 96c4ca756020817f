package tsdb

import (
	"bytes"
	"encoding/binary"
	"io"
	"maps"
	"slices"
	"sync"
)

// SnapshotSection is state of another package that is saved in the same
// snapshot file as the series, so that the two always agree: package remote
// keeps its send positions in one. The DB calls AppendSnapshot while it
// writes a snapshot, after it has copied every series, so the section
// describes a moment no earlier than the series data it travels with.
type SnapshotSection interface {
	// AppendSnapshot appends the section's bytes to dst and returns it. It
	// must not call back into the DB's snapshot methods.
	AppendSnapshot(dst []byte) []byte
}

// sections holds the registered snapshot sections and the ones loaded at
// Open that no one has claimed yet.
type sections struct {
	mu     sync.Mutex
	live   map[string]SnapshotSection
	loaded map[string][]byte
}

// SetSnapshotSection registers s under name: every later snapshot carries
// its bytes. A nil s unregisters name. A section loaded at Open whose name
// is never registered is carried over unchanged into later snapshots, so
// state is not lost while its owner is not running.
func (db *DB) SetSnapshotSection(name string, s SnapshotSection) {
	db.sections.mu.Lock()
	defer db.sections.mu.Unlock()
	if s == nil {
		delete(db.sections.live, name)
		delete(db.sections.loaded, name)
		return
	}
	if db.sections.live == nil {
		db.sections.live = map[string]SnapshotSection{}
	}
	db.sections.live[name] = s
}

// LoadedSection returns the bytes of the section name found in the
// snapshot loaded at Open, or nil. The slice must not be modified.
func (db *DB) LoadedSection(name string) []byte {
	db.sections.mu.Lock()
	defer db.sections.mu.Unlock()
	return db.sections.loaded[name]
}

// writeSections writes the section list to w, using scratch as its buffer.
func (db *DB) writeSections(w io.Writer, scratch []byte) ([]byte, error) {
	db.sections.mu.Lock()
	out := map[string][]byte{}
	for name, b := range db.sections.loaded {
		if _, ok := db.sections.live[name]; !ok {
			out[name] = b
		}
	}
	for name, s := range db.sections.live {
		out[name] = s.AppendSnapshot(nil)
	}
	db.sections.mu.Unlock()
	scratch = binary.AppendUvarint(scratch, uint64(len(out)))
	for _, name := range slices.Sorted(maps.Keys(out)) {
		scratch = binary.AppendUvarint(scratch, uint64(len(name)))
		scratch = append(scratch, name...)
		scratch = binary.AppendUvarint(scratch, uint64(len(out[name])))
		if _, err := w.Write(scratch); err != nil {
			return scratch, err
		}
		if _, err := w.Write(out[name]); err != nil {
			return scratch, err
		}
		scratch = scratch[:0]
	}
	_, err := w.Write(scratch)
	return scratch, err
}

// loadSections reads the section list of a version 2 snapshot body.
func (db *DB) loadSections(r *snapReader) error {
	n := r.count()
	loaded := make(map[string][]byte, n)
	for i := 0; i < n && r.err == nil; i++ {
		name, data := r.bytes(), r.bytes()
		if r.err != nil {
			break
		}
		if _, dup := loaded[string(name)]; dup {
			return corrupt("section %q appears twice", name)
		}
		loaded[string(name)] = bytes.Clone(data) // not a view: the file image is freed
	}
	if r.err != nil {
		return r.err
	}
	db.sections.mu.Lock()
	db.sections.loaded = loaded
	db.sections.mu.Unlock()
	return nil
}
