package tsdb

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"

	"github.com/prometheus/prometheus/model/labels"
)

// Snapshot file layout (all integers big-endian or varint):
//
//	header  : magic "WDOGTSDB" | version uint32
//	body    : uvarint series count, then per series:
//	            uvarint label count, per label uvarint len + name, uvarint len + value
//	            uvarint chunk count, per chunk varint mint, varint maxt, uvarint len + XOR chunk bytes
//	            version 3: uvarint histogram chunk count, per chunk byte chunkenc encoding,
//	              varint mint, varint maxt, uvarint len + chunk bytes;
//	              uvarint start-timestamp run count, per run varint t, varint v, byte rel
//	          version 2 and later: uvarint section count, per section uvarint len + name, uvarint len + data
//	trailer : uint64 body length | uint32 CRC32-Castagnoli of header+body | magic "WDOGEND\x00"
//
// The last chunk of a series (of each kind) is restored as its open chunk.
// In version 3 a series may have no float chunks if it has histogram ones.
// Sections (see DB.SetSnapshotSection) are written after the series, so
// that what they record was taken after the series were copied. Version 1
// files (no sections) and 2 (no histograms or start timestamps) still load.
const (
	snapMagic    = "WDOGTSDB"
	snapEndMagic = "WDOGEND\x00"
	snapVersion  = 3
	snapHeader   = len(snapMagic) + 4
	snapTrailer  = 8 + 4 + len(snapEndMagic)
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Snapshot writes the whole DB to Options.SnapshotPath: a temp file is
// written and fsynced, renamed over the old snapshot, and the directory is
// fsynced. It is a no-op without a SnapshotPath. A failure is counted in
// Stats.SnapshotFailures. Appends continue meanwhile;
// each series is copied under its own lock.
func (db *DB) Snapshot() error {
	if db.opts.SnapshotPath == "" {
		return nil
	}
	db.snapMu.Lock()
	defer db.snapMu.Unlock()
	if err := db.writeSnapshotFile(db.opts.SnapshotPath); err != nil {
		db.stats.snapshotFailures.Add(1)
		return fmt.Errorf("write snapshot: %w", err)
	}
	db.stats.snapshots.Add(1)
	db.stats.lastSnapshot.Store(db.now().Unix())
	return nil
}

func (db *DB) writeSnapshotFile(path string) (err error) {
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			_ = f.Close()
			_ = os.Remove(tmp)
		}
	}()
	bw := bufio.NewWriterSize(f, 1<<16)
	if _, err = db.WriteSnapshot(bw); err != nil {
		return err
	}
	if err = bw.Flush(); err != nil {
		return err
	}
	if err = f.Sync(); err != nil {
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	if err = os.Rename(tmp, path); err != nil {
		return err
	}
	return syncDir(filepath.Dir(path))
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	serr := d.Sync()
	cerr := d.Close()
	return errors.Join(serr, cerr)
}

func renameFile(from, to string) error { return os.Rename(from, to) }

// crcWriter counts and checksums what passes through it.
type crcWriter struct {
	w   io.Writer
	crc uint32
	n   int64
}

func (c *crcWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.crc = crc32.Update(c.crc, castagnoli, p[:n])
	c.n += int64(n)
	return n, err
}

// WriteSnapshot writes the snapshot format to w and returns the byte count.
// Each series is copied under its own lock, so the image is consistent per
// series but not a single point in time across series.
func (db *DB) WriteSnapshot(w io.Writer) (int64, error) {
	cw := &crcWriter{w: w}
	var scratch []byte
	scratch = append(scratch, snapMagic...)
	scratch = binary.BigEndian.AppendUint32(scratch, snapVersion)
	if _, err := cw.Write(scratch); err != nil {
		return cw.n, err
	}

	// Sealed chunks' bytes are shared until written.
	defer db.slab.pin()()
	refs := db.index.postings(nil) // all refs, ascending
	type entry struct {
		lset   labels.Labels
		chunks []sealedChunk
		ext    *extView
	}
	// Copy first so the count is exact; sealed chunk bytes are shared.
	var (
		entries []entry
		slab    []sealedChunk
		buf     []byte
	)
	for _, ref := range refs {
		s := db.series.getByRef(ref)
		if s == nil {
			continue
		}
		s.mu.Lock()
		start := len(slab)
		slab = s.snapshot(slab, &buf, math.MinInt64, math.MaxInt64)
		var ext *extView
		if s.ext != nil {
			ext = s.ext.view(math.MinInt64, math.MaxInt64)
		}
		lset := db.series.labelsLocked(s)
		s.mu.Unlock()
		if len(slab) > start || (ext != nil && len(ext.hchunks) > 0) {
			entries = append(entries, entry{lset: lset, chunks: slab[start:len(slab):len(slab)], ext: ext})
		}
	}
	bodyStart := cw.n
	scratch = binary.AppendUvarint(scratch[:0], uint64(len(entries)))
	if _, err := cw.Write(scratch); err != nil {
		return cw.n, err
	}
	for _, e := range entries {
		scratch = binary.AppendUvarint(scratch[:0], uint64(e.lset.Len()))
		scratch = appendPlain(scratch, e.lset) // the snapshot's label form is the plain one
		scratch = binary.AppendUvarint(scratch, uint64(len(e.chunks)))
		for _, c := range e.chunks {
			scratch = binary.AppendVarint(scratch, c.mint)
			scratch = binary.AppendVarint(scratch, c.maxt)
			scratch = binary.AppendUvarint(scratch, uint64(c.size))
			scratch = append(scratch, c.bytes()...)
		}
		scratch = appendExt(scratch, e.ext)
		if _, err := cw.Write(scratch); err != nil {
			return cw.n, err
		}
	}
	var err error
	if scratch, err = db.writeSections(cw, scratch[:0]); err != nil {
		return cw.n, err
	}
	bodyLen := cw.n - bodyStart
	scratch = binary.BigEndian.AppendUint64(scratch[:0], uint64(bodyLen))
	scratch = binary.BigEndian.AppendUint32(scratch, cw.crc)
	scratch = append(scratch, snapEndMagic...)
	n, err := w.Write(scratch)
	return cw.n + int64(n), err
}

// loadSnapshotFile loads path into the (empty) DB. A missing file is not an
// error; a damaged one returns an error wrapping ErrCorruptSnapshot.
func (db *DB) loadSnapshotFile(path string) error {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read snapshot: %w", err)
	}
	if err := db.loadSnapshot(data); err != nil {
		return fmt.Errorf("read snapshot %s: %w", path, err)
	}
	return nil
}

func corrupt(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrCorruptSnapshot, fmt.Sprintf(format, args...))
}

// loadSnapshot verifies and loads a snapshot image into the DB.
func (db *DB) loadSnapshot(data []byte) error {
	if len(data) < snapHeader+snapTrailer {
		return corrupt("file too short (%d bytes)", len(data))
	}
	if string(data[:len(snapMagic)]) != snapMagic {
		return corrupt("bad magic")
	}
	v := binary.BigEndian.Uint32(data[len(snapMagic):])
	if v < 1 || v > snapVersion {
		return corrupt("unsupported version %d", v)
	}
	tr := data[len(data)-snapTrailer:]
	if string(tr[12:]) != snapEndMagic {
		return corrupt("bad end magic (truncated?)")
	}
	bodyLen := binary.BigEndian.Uint64(tr)
	if bodyLen != uint64(len(data)-snapHeader-snapTrailer) {
		return corrupt("body length %d does not match file size %d", bodyLen, len(data))
	}
	if want, got := binary.BigEndian.Uint32(tr[8:]), crc32.Checksum(data[:len(data)-snapTrailer], castagnoli); want != got {
		return corrupt("checksum mismatch: stored %08x, computed %08x", want, got)
	}
	return db.loadBody(data[snapHeader:len(data)-snapTrailer], v)
}

// snapReader is a bounds-checked cursor over the snapshot body.
type snapReader struct {
	b   []byte
	err error
}

func (r *snapReader) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.err = corrupt("bad uvarint")
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *snapReader) byte() byte {
	if r.err != nil {
		return 0
	}
	if len(r.b) == 0 {
		r.err = corrupt("body ends early")
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

func (r *snapReader) varint() int64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.err = corrupt("bad varint")
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *snapReader) bytes() []byte {
	n := r.uvarint()
	if r.err != nil {
		return nil
	}
	if n > uint64(len(r.b)) {
		r.err = corrupt("length %d beyond end of body", n)
		return nil
	}
	b := r.b[:n:n]
	r.b = r.b[n:]
	return b
}

// count reads an element count, bounded by the remaining bytes (every
// element takes at least one byte).
func (r *snapReader) count() int {
	n := r.uvarint()
	if r.err == nil && n > uint64(len(r.b)) {
		r.err = corrupt("count %d exceeds remaining %d bytes", n, len(r.b))
		return 0
	}
	return int(n)
}

func (db *DB) loadBody(body []byte, version uint32) error {
	r := &snapReader{b: body}
	nSeries := r.count()
	var (
		b  labels.ScratchBuilder
		ld seriesLoader
	)
	for i := 0; i < nSeries && r.err == nil; i++ {
		nLabels := r.count()
		if r.err == nil && nLabels == 0 {
			return corrupt("series %d has no labels", i)
		}
		b.Reset()
		prev := ""
		for j := 0; j < nLabels && r.err == nil; j++ {
			name, value := r.bytes(), r.bytes()
			if r.err != nil {
				break
			}
			if len(name) == 0 || (j > 0 && string(name) <= prev) {
				return corrupt("series %d: labels empty, unsorted or duplicate", i)
			}
			prev = string(name)
			b.Add(prev, string(value))
		}
		if r.err != nil {
			break
		}
		lset := b.Labels()
		s, created := db.series.getOrCreate(lset, func(s *memSeries) { db.index.add(s.ref, lset) })
		if !created {
			return corrupt("series %s appears twice", lset)
		}
		if err := ld.load(r, s, lset, version >= 3, &db.slab); err != nil {
			return err
		}
		db.stats.series.Add(1)
		db.stats.add(s.footprint(), false)
	}
	if r.err != nil {
		return r.err
	}
	if version >= 2 {
		if err := db.loadSections(r); err != nil {
			return err
		}
	}
	if len(r.b) != 0 {
		return corrupt("%d trailing bytes in body", len(r.b))
	}
	return nil
}

// seriesLoader restores series from a snapshot body, reusing its decode
// buffers.
type seriesLoader struct {
	ts     []int64
	vs     []float64
	floatT []int64 // all float sample times of the series
}

// load reads a series' float chunks (and, with ext, its histogram chunks
// and start timestamps) into s, the sealed chunks' bytes into slab.
func (ld *seriesLoader) load(r *snapReader, s *memSeries, lset labels.Labels, ext bool, slab *chunkSlab) error {
	nChunks := r.count()
	if r.err != nil {
		return r.err
	}
	if nChunks == 0 && !ext {
		return corrupt("series %s has no chunks", lset)
	}
	s.chunks = make([]sealedChunk, 0, max(nChunks-1, 0))
	lastT := int64(math.MinInt64)
	var lastV uint64
	ld.floatT = ld.floatT[:0]
	for k := 0; k < nChunks && r.err == nil; k++ {
		mint, maxt, raw := r.varint(), r.varint(), r.bytes()
		if r.err != nil {
			break
		}
		if len(raw) < 2 {
			return corrupt("series %s: chunk %d too short", lset, k)
		}
		// Verify the chunk decodes and matches its bounds.
		var err error
		ld.ts, ld.vs, err = decodeXOR(raw, ld.ts[:0], ld.vs[:0])
		if err != nil || len(ld.ts) == 0 || ld.ts[0] != mint || ld.ts[len(ld.ts)-1] != maxt {
			return corrupt("series %s: chunk %d does not decode or mismatches its bounds", lset, k)
		}
		for _, t := range ld.ts {
			if t <= lastT {
				return corrupt("series %s: chunk %d: timestamps not increasing", lset, k)
			}
			lastT = t
		}
		ld.floatT = append(ld.floatT, ld.ts...)
		lastV = math.Float64bits(ld.vs[len(ld.vs)-1])
		if k < nChunks-1 {
			s.chunks = appendSealed(s.chunks, newSealedChunk(slab.seal(raw), mint, maxt, uint16(len(ld.ts))))
			continue
		}
		data := make([]byte, len(raw), max(len(raw), headChunkAlloc))
		copy(data, raw)
		s.head.Reset(data)
		if _, err := s.head.Appender(); err != nil {
			return corrupt("series %s: open chunk: %v", lset, err)
		}
		s.headMint = mint
	}
	if r.err != nil {
		return r.err
	}
	s.lastT, s.lastV = lastT, lastV
	if !ext {
		return nil
	}
	return loadExt(r, s, lset, ld.floatT)
}
