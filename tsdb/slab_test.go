package tsdb

import (
	"bytes"
	"sync"
	"testing"
	"unsafe"
)

// TestChunkSlab: copies hold the bytes, cannot be appended to, share a
// page until it is full, and large or slab-less copies get their own
// allocation; concurrent use is safe (run with -race).
func TestChunkSlab(t *testing.T) {
	var s chunkSlab
	small := bytes.Repeat([]byte{0xab}, 300)
	a, b := s.copy(small), s.copy(small)
	if !bytes.Equal(a, small) || !bytes.Equal(b, small) || cap(a) != len(a) || cap(b) != len(b) {
		t.Fatalf("copies %d/%d bytes (cap %d/%d), want %d each, capped", len(a), len(b), cap(a), cap(b), len(small))
	}
	if unsafe.SliceData(b) != (*byte)(unsafe.Add(unsafe.Pointer(unsafe.SliceData(a)), len(a))) {
		t.Error("consecutive copies are not packed in one page")
	}
	a[0] = 0 // a copy, not an alias
	if small[0] != 0xab || b[0] != 0xab {
		t.Error("copy aliases its source or its neighbour")
	}
	for _, tc := range []struct {
		name string
		s    *chunkSlab
		n    int
	}{
		{"large", &s, slabPage/16 + 1},
		{"nil slab", nil, 300},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := bytes.Repeat([]byte{7}, tc.n)
			c := tc.s.copy(src)
			if !bytes.Equal(c, src) || cap(c) != len(c) {
				t.Fatalf("copy of %d bytes: %d bytes, cap %d", tc.n, len(c), cap(c))
			}
		})
	}
	// Fill past a page: every copy stays intact.
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			src := bytes.Repeat([]byte{byte(g)}, 1000+g)
			var got [][]byte
			for range 200 {
				got = append(got, s.copy(src))
			}
			for i, c := range got {
				if !bytes.Equal(c, src) {
					t.Errorf("goroutine %d copy %d overwritten", g, i)
					return
				}
			}
		}()
	}
	wg.Wait()
}
