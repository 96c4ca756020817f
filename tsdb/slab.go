package tsdb

import (
	"log/slog"
	"math"
	"sync"
	"sync/atomic"
	"unsafe"
)

// slabPage is the size of the pages sealed chunks' bytes are packed into.
const slabPage = 64 << 10

// chunkSlab packs the bytes of sealed chunks into shared pages instead of
// one allocation each, which the allocator rounds up to its next size class
// (about 16 bytes per 120-sample chunk, 0.1 byte per sample:
// BenchmarkMemory). A page is a pointer-free []byte, so the garbage
// collector does not scan it, and it is freed once no chunk points into it.
// The chunks of one page are sealed at about the same time and so pass the
// retention cutoff at about the same time: a page outlives its first dropped
// chunk by about as long as it took to fill. The zero value is ready to use;
// it is safe for concurrent use.
//
// With files set (Options.ChunksDir), sealed chunks' bytes go to segment
// files instead (chunkfiles.go), and only a chunk that cannot be written
// there stays on the heap.
type chunkSlab struct {
	mu   sync.Mutex
	page []byte // the page being filled: page[len(page):cap(page)] is free

	files *chunkFiles // nil: the heap only
	// lastErr is the latest write error to files and logged the fallbacks
	// counted when GC last logged them.
	lastErr atomic.Pointer[error]
	logged  atomic.Uint64
}

// seal returns the bytes of a chunk being sealed, b, copied where sealed
// chunks are kept: in a chunk file if s has files, else (or if the write
// fails, which is counted) on the heap.
func (s *chunkSlab) seal(b []byte) []byte {
	if s != nil && s.files != nil {
		c, err := s.files.write(b)
		if err == nil {
			return c
		}
		s.files.fallbacks.Add(1)
		s.lastErr.Store(&err)
	}
	return s.copy(b)
}

// drop forgets the bytes of sealed chunks no series holds any more, so
// that their chunk file can be removed. Callers hold the series lock the
// chunks were in.
func (s *chunkSlab) drop(cs []sealedChunk) {
	if s == nil || s.files == nil {
		return
	}
	for i := range cs {
		s.files.drop(&cs[i])
	}
}

// pin marks a reader that may read sealed chunks' bytes after releasing
// their series' locks, until the returned function is called: no chunk
// file is removed before then. It costs nothing without files.
func (s *chunkSlab) pin() (unpin func()) {
	if s == nil || s.files == nil {
		return func() {}
	}
	e := s.files.pin()
	var once sync.Once
	return func() { once.Do(func() { s.files.unpin(e) }) }
}

// copy returns a copy of b in the current page (in an allocation of its
// own if b is large or s is nil), capped at its length so that it cannot be
// appended to.
func (s *chunkSlab) copy(b []byte) []byte {
	if s == nil || len(b) > slabPage/16 {
		return append(make([]byte, 0, len(b)), b...)
	}
	s.mu.Lock()
	if cap(s.page)-len(s.page) < len(b) {
		s.page = make([]byte, 0, slabPage)
	}
	start := len(s.page)
	s.page = append(s.page, b...)
	c := s.page[start:len(s.page):len(s.page)]
	s.mu.Unlock()
	return c
}

// dropSealed drops the sealed float chunks of s, which is being removed,
// when they are in chunk files: a reader that found s before its removal
// then reads no bytes of a file that may be gone. Callers hold s.mu.
func (s *memSeries) dropSealed(slab *chunkSlab) {
	if slab.files == nil || len(s.chunks) == 0 {
		return
	}
	slab.drop(s.chunks)
	clear(s.chunks)
	s.chunks = nil
	s.firstMaxt = math.MaxInt64
	s.dropCheckpoints()
}

// logFallbacks logs the chunks kept on the heap since the last call
// because their chunk file write failed (disk full, I/O error).
func (s *chunkSlab) logFallbacks(logger *slog.Logger) {
	if s.files == nil {
		return
	}
	n := s.files.fallbacks.Load()
	if prev := s.logged.Swap(n); n > prev {
		var err error
		if e := s.lastErr.Load(); e != nil {
			err = *e
		}
		logger.Warn("tsdb: cannot write chunk files: sealed chunks kept in memory instead", "chunks", n-prev, "total", n, "err", err)
	}
}

// copyChunkBytes copies the bytes of cs into buf (appending; a full buf is
// replaced, as memSeries.snapshot does) and points cs at the copies. It
// returns buf.
func copyChunkBytes(cs []sealedChunk, buf []byte) []byte {
	for i := range cs {
		b := cs[i].bytes()
		if cap(buf)-len(buf) < len(b) {
			buf = make([]byte, 0, max(4096, 2*len(b)))
		}
		start := len(buf)
		buf = append(buf, b...)
		cs[i].p = unsafe.SliceData(buf[start:])
	}
	return buf
}
