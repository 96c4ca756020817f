package tsdb

import "sync"

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
type chunkSlab struct {
	mu   sync.Mutex
	page []byte // the page being filled: page[len(page):cap(page)] is free
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
