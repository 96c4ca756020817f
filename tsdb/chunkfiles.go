package tsdb

import (
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"unsafe"
)

// This file keeps sealed chunks' bytes in files instead of the Go heap
// (Options.ChunksDir), as Prometheus keeps its head chunks in memory-mapped
// files. Chunk bytes are written with pwrite into fixed-size segment files,
// each mapped read-only and shared once, and sealedChunk points into the
// mapping: the page cache makes the written bytes visible there, and a page
// counts in the process's resident memory only once a read touches it. The
// kernel may drop those clean pages under memory pressure and read them back
// on the next touch.
//
// The files are scratch, not persistence (the snapshot is): a store removes
// its leftover segments at start and all of them at Close.
//
// Reclamation. Each segment counts the bytes of its live chunks; dropping a
// chunk (retention, garbage collection, DeleteSeries) subtracts it. A
// segment that is full and holds no live chunk is retired, and unmapped and
// removed once no reader that could still hold a pointer into it is active.
// Readers that hold chunk bytes after releasing the series lock (a Querier
// until Close, WriteSnapshot) pin the current epoch; a segment retired at
// epoch E is freed when every pinned epoch is after E. Readers that decode
// only under the series lock (ReadRanges, Slide) need no pin: a dropped
// chunk is no longer in its series when the lock is released, and a removed
// series' chunks are dropped under its lock. DB.SeriesIterator copies the
// bytes it returns when chunks are in files.

// Names of the files a chunk directory holds: segments
// watchdog-chunks-NNNNNN.seg and the lock file that keeps a second process
// out. Only files of exactly this form are ever removed.
const (
	chunkSegPrefix = "watchdog-chunks-"
	chunkSegSuffix = ".seg"
	chunkLockName  = "watchdog-chunks.lock"
	// defaultSegmentSize is a segment's size: about four minutes of sealed
	// chunks at 151,600 series every 5 s, so that a segment empties within
	// minutes of retention passing its chunks.
	defaultSegmentSize = 16 << 20
)

// ErrChunksDir is wrapped by the errors of a ChunksDir that cannot be used.
var ErrChunksDir = errors.New("bad chunks directory")

// segment is one chunk file and its read-only mapping.
type segment struct {
	id   uint64
	path string
	f    *os.File
	mem  []byte // the mapping, never written through
	// base and end are the mapping's addresses, for release (which reads
	// them without the lock).
	base, end uintptr
	live      atomic.Int64 // bytes of live chunks, reservations included

	// Guarded by chunkFiles.mu.
	off     int  // next free byte
	full    bool // no longer written: retire when live reaches 0
	retired bool
	epoch   uint64 // the epoch it was retired in
}

// chunkFiles is a directory of segments that sealed chunks' bytes are
// written to. It is safe for concurrent use.
type chunkFiles struct {
	dir     string
	segSize int
	lock    *os.File

	mu      sync.Mutex
	cur     *segment
	nextID  uint64
	epoch   uint64
	readers map[uint64]int // pinned readers per epoch
	retired []*segment
	closed  bool
	// segs are the mapped segments not yet retired, by base address, for
	// release to find a chunk's segment without the lock. Replaced (never
	// changed) under mu.
	segs atomic.Pointer[[]*segment]

	liveBytes  atomic.Int64  // bytes of live chunks in files
	mapped     atomic.Int64  // bytes of mapped segments, retired ones included
	fallbacks  atomic.Uint64 // chunks kept on the heap after a failed write
	segsFreed  atomic.Uint64 // segments unmapped and removed
	writeFails atomic.Uint64 // failed writes (counted once per chunk)
}

// openChunkFiles takes dir (created if missing) for chunk segments: it
// locks it against other processes and removes the segments a previous run
// left.
func openChunkFiles(dir string, segSize int) (*chunkFiles, error) {
	if !chunkFilesSupported {
		return nil, fmt.Errorf("%w: %s: chunk files need Linux", ErrChunksDir, dir)
	}
	if segSize <= 0 {
		segSize = defaultSegmentSize
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrChunksDir, err)
	}
	if fi, err := os.Stat(dir); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrChunksDir, err)
	} else if !fi.IsDir() {
		return nil, fmt.Errorf("%w: %s is not a directory", ErrChunksDir, dir)
	}
	lock, err := lockDir(filepath.Join(dir, chunkLockName))
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrChunksDir, dir, err)
	}
	cf := &chunkFiles{dir: dir, segSize: segSize, lock: lock, readers: map[uint64]int{}}
	if err := cf.removeLeftovers(); err != nil {
		lock.Close()
		return nil, fmt.Errorf("%w: %w", ErrChunksDir, err)
	}
	cf.segs.Store(new([]*segment))
	return cf, nil
}

// isSegmentName reports whether name is a segment's file name.
func isSegmentName(name string) bool {
	num, ok := strings.CutPrefix(name, chunkSegPrefix)
	if num, ok = strings.CutSuffix(num, chunkSegSuffix); !ok || num == "" {
		return false
	}
	_, err := strconv.ParseUint(num, 10, 64)
	return err == nil && strings.Trim(num, "0123456789") == ""
}

// removeLeftovers removes the segments in the directory, and nothing else.
func (cf *chunkFiles) removeLeftovers() error {
	ents, err := os.ReadDir(cf.dir)
	if err != nil {
		return err
	}
	for _, e := range ents {
		if e.Type().IsRegular() && isSegmentName(e.Name()) {
			if err := os.Remove(filepath.Join(cf.dir, e.Name())); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return err
			}
		}
	}
	return nil
}

// write copies b into the current segment and returns the copy, capped at
// its length, or an error: the caller keeps the chunk on the heap then.
func (cf *chunkFiles) write(b []byte) ([]byte, error) {
	n := len(b)
	cf.mu.Lock()
	if cf.closed {
		cf.mu.Unlock()
		return nil, errors.New("chunk files closed")
	}
	if n > cf.segSize {
		cf.mu.Unlock()
		return nil, fmt.Errorf("chunk of %d bytes exceeds the segment size", n)
	}
	if cf.cur == nil || cf.cur.off+n > cf.segSize {
		if err := cf.rotate(); err != nil {
			cf.mu.Unlock()
			return nil, err
		}
	}
	seg, off := cf.cur, cf.cur.off
	seg.off += n
	seg.live.Add(int64(n)) // reserved: the segment is not retired meanwhile
	cf.mu.Unlock()
	if w, err := seg.f.WriteAt(b, int64(off)); err != nil || w != n {
		cf.release(seg, n)
		if err == nil {
			err = errors.New("short write")
		}
		return nil, fmt.Errorf("write chunk: %w", err)
	}
	cf.liveBytes.Add(int64(n))
	return seg.mem[off : off+n : off+n], nil
}

// rotate retires the current segment, if any, and starts a new one.
// Callers hold cf.mu.
func (cf *chunkFiles) rotate() error {
	cf.nextID++
	path := filepath.Join(cf.dir, fmt.Sprintf("%s%06d%s", chunkSegPrefix, cf.nextID, chunkSegSuffix))
	f, mem, err := createSegment(path, cf.segSize)
	if err != nil {
		return fmt.Errorf("create chunk segment: %w", err)
	}
	if old := cf.cur; old != nil {
		old.full = true
		if old.live.Load() == 0 {
			cf.retire(old)
		}
	}
	base := uintptr(unsafe.Pointer(unsafe.SliceData(mem)))
	seg := &segment{id: cf.nextID, path: path, f: f, mem: mem, base: base, end: base + uintptr(len(mem))}
	cf.cur = seg
	cf.mapped.Add(int64(len(mem)))
	segs := append(slices.Clone(*cf.segs.Load()), seg)
	slices.SortFunc(segs, func(a, b *segment) int {
		if a.base < b.base {
			return -1
		}
		return 1
	})
	cf.segs.Store(&segs)
	return nil
}

// find returns the mapped segment holding address p, or nil (a chunk on
// the heap).
func (cf *chunkFiles) find(p uintptr) *segment {
	segs := *cf.segs.Load()
	i, _ := slices.BinarySearchFunc(segs, p, func(s *segment, p uintptr) int {
		switch {
		case s.end <= p:
			return -1
		case s.base > p:
			return 1
		}
		return 0
	})
	if i < len(segs) && segs[i].base <= p && p < segs[i].end {
		return segs[i]
	}
	return nil
}

// drop forgets chunk c, whose bytes no series holds any more.
func (cf *chunkFiles) drop(c *sealedChunk) {
	if seg := cf.find(uintptr(unsafe.Pointer(c.p))); seg != nil {
		cf.liveBytes.Add(-int64(c.size))
		cf.release(seg, int(c.size))
	}
}

// release subtracts n live bytes from seg and retires it if it is full and
// holds no live chunk.
func (cf *chunkFiles) release(seg *segment, n int) {
	if seg.live.Add(-int64(n)) != 0 {
		return
	}
	cf.mu.Lock()
	if seg.full && !seg.retired && seg.live.Load() == 0 {
		cf.retire(seg)
	}
	cf.mu.Unlock()
}

// retire takes seg out of use; it is freed once no reader that pinned an
// epoch up to the current one is active. Callers hold cf.mu.
func (cf *chunkFiles) retire(seg *segment) {
	seg.retired = true
	seg.epoch = cf.epoch
	cf.epoch++
	segs := slices.DeleteFunc(slices.Clone(*cf.segs.Load()), func(s *segment) bool { return s == seg })
	cf.segs.Store(&segs)
	cf.retired = append(cf.retired, seg)
	cf.freeRetired()
}

// freeRetired unmaps and removes the retired segments no pinned reader can
// still point into. Callers hold cf.mu.
func (cf *chunkFiles) freeRetired() {
	oldest := uint64(math.MaxUint64)
	for e := range cf.readers {
		oldest = min(oldest, e)
	}
	cf.retired = slices.DeleteFunc(cf.retired, func(seg *segment) bool {
		if seg.epoch >= oldest {
			return false // a reader pinned before it was retired is active
		}
		cf.free(seg)
		return true
	})
}

// free unmaps seg, closes and removes its file. Callers hold cf.mu.
func (cf *chunkFiles) free(seg *segment) {
	unmapSegment(seg.mem)
	seg.f.Close()
	os.Remove(seg.path)
	cf.mapped.Add(-int64(len(seg.mem)))
	cf.segsFreed.Add(1)
}

// pin marks a reader that may hold chunk bytes until unpin: no segment
// retired from now on is freed before then. It returns what unpin takes.
func (cf *chunkFiles) pin() uint64 {
	cf.mu.Lock()
	e := cf.epoch
	cf.readers[e]++
	cf.mu.Unlock()
	return e
}

// unpin ends the reader pin returned.
func (cf *chunkFiles) unpin(e uint64) {
	cf.mu.Lock()
	if cf.readers[e]--; cf.readers[e] <= 0 {
		delete(cf.readers, e)
	}
	if len(cf.retired) > 0 {
		cf.freeRetired()
	}
	cf.mu.Unlock()
}

// close removes the segment files and the lock. The mappings stay until
// the process exits (unless unmap): a reader that did not pin an epoch may
// still be reading. Later writes fail, so chunks go to the heap.
func (cf *chunkFiles) close(unmap bool) error {
	cf.mu.Lock()
	defer cf.mu.Unlock()
	if cf.closed {
		return nil
	}
	cf.closed = true
	var errs []error
	all := append(slices.Clone(*cf.segs.Load()), cf.retired...)
	// Forget them all: a chunk dropped later is no longer found (drop
	// does nothing), so nothing is unmapped or removed twice.
	cf.segs.Store(new([]*segment))
	cf.retired, cf.cur = nil, nil
	for _, seg := range all {
		if err := os.Remove(seg.path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
		}
		seg.f.Close()
		if unmap {
			unmapSegment(seg.mem)
			cf.mapped.Add(-int64(len(seg.mem)))
		}
	}
	if err := os.Remove(cf.lock.Name()); err != nil && !errors.Is(err, fs.ErrNotExist) {
		errs = append(errs, err)
	}
	errs = append(errs, cf.lock.Close())
	return errors.Join(errs...)
}

// discard is close for chunk files no reader has seen (a DB that Open
// does not return): it unmaps them too. cf may be nil.
func (cf *chunkFiles) discard() {
	if cf != nil {
		cf.close(true)
	}
}
