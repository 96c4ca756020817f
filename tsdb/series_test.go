package tsdb

import (
	"strconv"
	"testing"
	"unsafe"
)

// seriesSink makes the series TestMemSeriesLayout allocates escape to the
// heap.
var seriesSink *memSeries

// TestMemSeriesLayout checks what the append path's cache-line layout
// relies on: Append's fields in the first 64 bytes, the open chunk's encoder
// state in the next 64, and a size that keeps every series line-aligned.
func TestMemSeriesLayout(t *testing.T) {
	var s memSeries
	if sz := unsafe.Sizeof(s); sz%64 != 0 {
		t.Errorf("memSeries is %d bytes, not a multiple of 64", sz)
	}
	if sz := unsafe.Sizeof(sealedChunk{}); sz != 32 {
		t.Errorf("sealedChunk is %d bytes, want 32 (BenchmarkMemory)", sz)
	}
	for name, end := range map[string]uintptr{
		"mu":        unsafe.Offsetof(s.mu) + unsafe.Sizeof(s.mu),
		"pendOwner": unsafe.Offsetof(s.pendOwner) + unsafe.Sizeof(s.pendOwner),
		"hasExt":    unsafe.Offsetof(s.hasExt) + unsafe.Sizeof(s.hasExt),
		"lastV":     unsafe.Offsetof(s.lastV) + unsafe.Sizeof(s.lastV),
		"firstMaxt": unsafe.Offsetof(s.firstMaxt) + unsafe.Sizeof(s.firstMaxt),
		"tailOff":   unsafe.Offsetof(s.tailOff) + unsafe.Sizeof(s.tailOff),
		"headAddr":  unsafe.Offsetof(s.headAddr) + unsafe.Sizeof(s.headAddr),
		"headMint":  unsafe.Offsetof(s.headMint) + unsafe.Sizeof(s.headMint),
	} {
		if end > 64 {
			t.Errorf("memSeries.%s ends at byte %d, past the first cache line", name, end)
		}
	}
	if off := unsafe.Offsetof(s.head); off != 64 {
		t.Errorf("memSeries.head at byte %d, want 64", off)
	}
	if sz := unsafe.Sizeof(s.head); sz > 64 {
		t.Errorf("xorChunk encoder state is %d bytes, more than a cache line", sz)
	}
	if sz := unsafe.Sizeof(s); sz != 192 {
		t.Errorf("memSeries is %d bytes, want 192 (BenchmarkMemory)", sz)
	}
	// 192 is a size class, so consecutive series in a span are 192 bytes
	// apart and each starts on a line.
	for range 3 {
		seriesSink = newMemSeries(1, "")
		if p := uintptr(unsafe.Pointer(seriesSink)); p%64 != 0 {
			t.Errorf("memSeries at %#x, not on a cache line", p)
		}
	}
}

func TestAppendSealedGrowsByAQuarter(t *testing.T) {
	for _, n := range []int{0, 1, 2, 7, 12, 13, 40} {
		t.Run(strconv.Itoa(n), func(t *testing.T) {
			var chunks []sealedChunk
			for i := range n + 1 {
				c := sealedChunk{mint: int64(i), maxt: int64(i)}
				before := cap(chunks)
				chunks = appendSealed(chunks, c)
				if before > i && cap(chunks) != before {
					t.Fatalf("append %d: reallocated with room left (cap %d → %d)", i, before, cap(chunks))
				}
				if before == i && cap(chunks) != i+max(2, i/4) {
					t.Fatalf("append %d: cap %d, want %d", i, cap(chunks), i+max(2, i/4))
				}
			}
			for i, c := range chunks {
				if c.mint != int64(i) {
					t.Fatalf("chunk %d has mint %d", i, c.mint)
				}
			}
		})
	}
}
