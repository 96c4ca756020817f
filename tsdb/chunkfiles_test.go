//go:build linux

package tsdb

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"unsafe"
)

// segFiles returns the names of the segment files in dir, sorted.
func segFiles(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		if isSegmentName(e.Name()) {
			out = append(out, e.Name())
		}
	}
	return out
}

func openTestChunkFiles(t *testing.T, dir string, segSize int) *chunkFiles {
	t.Helper()
	cf, err := openChunkFiles(dir, segSize)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cf.close(true) })
	return cf
}

// writeChunks writes n chunks of size bytes (each filled with its index)
// and returns them as sealed chunks.
func writeChunks(t *testing.T, cf *chunkFiles, n, size int) []sealedChunk {
	t.Helper()
	var cs []sealedChunk
	for i := range n {
		b, err := cf.write(bytes.Repeat([]byte{byte(i)}, size))
		if err != nil {
			t.Fatal(err)
		}
		if len(b) != size || cap(b) != size {
			t.Fatalf("copy of %d bytes: len %d cap %d", size, len(b), cap(b))
		}
		cs = append(cs, newSealedChunk(b, int64(i), int64(i), 1))
	}
	return cs
}

// TestChunkFilesWriteRotateFree: chunks read back what was written across
// segments; a segment is removed once all its chunks are dropped and it is
// no longer written, never before, and never the one being written.
func TestChunkFilesWriteRotateFree(t *testing.T) {
	dir := t.TempDir()
	cf := openTestChunkFiles(t, dir, 4096)
	cs := writeChunks(t, cf, 40, 500) // 8 per segment: 5 segments
	for i := range cs {
		if !bytes.Equal(cs[i].bytes(), bytes.Repeat([]byte{byte(i)}, 500)) {
			t.Fatalf("chunk %d reads back wrong bytes", i)
		}
	}
	if got := segFiles(t, dir); len(got) != 5 || got[0] != "watchdog-chunks-000001.seg" {
		t.Fatalf("segment files %v, want 5 from watchdog-chunks-000001.seg", got)
	}
	if cf.liveBytes.Load() != 40*500 || cf.mapped.Load() != 5*4096 {
		t.Fatalf("live %d mapped %d", cf.liveBytes.Load(), cf.mapped.Load())
	}
	// Drop all but one chunk of the first segment: it stays.
	for i := range 7 {
		cf.drop(&cs[i])
	}
	if got := segFiles(t, dir); len(got) != 5 {
		t.Fatalf("a segment with a live chunk was removed: %v", got)
	}
	cf.drop(&cs[7])
	if got := segFiles(t, dir); len(got) != 4 || got[0] != "watchdog-chunks-000002.seg" {
		t.Fatalf("after dropping segment 1's chunks: %v", got)
	}
	// The segment being written stays, empty or not.
	for i := 32; i < 40; i++ {
		cf.drop(&cs[i])
	}
	if got := segFiles(t, dir); len(got) != 4 || got[3] != "watchdog-chunks-000005.seg" {
		t.Fatalf("the current segment was removed: %v", got)
	}
	if cf.liveBytes.Load() != 24*500 || cf.mapped.Load() != 4*4096 || cf.segsFreed.Load() != 1 {
		t.Fatalf("live %d mapped %d freed %d", cf.liveBytes.Load(), cf.mapped.Load(), cf.segsFreed.Load())
	}
	// A heap chunk is not the files' business.
	heap := newSealedChunk([]byte{0, 1, 2}, 0, 0, 1)
	cf.drop(&heap)
	if cf.liveBytes.Load() != 24*500 {
		t.Fatal("dropping a heap chunk changed the live bytes")
	}
}

// TestChunkFilesPinDefersFree: a segment emptied while a reader is pinned
// stays mapped and readable until that reader unpins; readers pinned after
// it was retired do not hold it.
func TestChunkFilesPinDefersFree(t *testing.T) {
	dir := t.TempDir()
	cf := openTestChunkFiles(t, dir, 4096)
	cs := writeChunks(t, cf, 16, 500) // segment 1 full, segment 2 current
	writeChunks(t, cf, 1, 500)        // segment 3 current, 2 full
	early := cf.pin()
	for i := range 8 {
		cf.drop(&cs[i])
	}
	late := cf.pin()
	if got := segFiles(t, dir); len(got) != 3 {
		t.Fatalf("segment freed under a pinned reader: %v", got)
	}
	if !bytes.Equal(cs[3].bytes(), bytes.Repeat([]byte{3}, 500)) {
		t.Fatal("a pinned reader reads wrong bytes")
	}
	cf.unpin(early)
	if got := segFiles(t, dir); len(got) != 2 {
		t.Fatalf("segment not freed when its last reader unpinned (a later pin held it): %v", got)
	}
	// A segment retired while late is pinned waits for late.
	for i := 8; i < 16; i++ {
		cf.drop(&cs[i])
	}
	if got := segFiles(t, dir); len(got) != 1+1 {
		t.Fatalf("segment freed under a pinned reader: %v", got)
	}
	cf.unpin(late)
	if got := segFiles(t, dir); len(got) != 1 || len(cf.readers) != 0 {
		t.Fatalf("after the last unpin: %v, readers %v", got, cf.readers)
	}
}

// TestChunkFilesDirectory: leftover segments are removed at open, and
// nothing else; a directory that cannot be used is a clear error.
func TestChunkFilesDirectory(t *testing.T) {
	dir := t.TempDir()
	keep := []string{"notes.txt", "watchdog-chunks-abc.seg", "watchdog-chunks-1.seg.bak", "watchdog-chunks-.seg", "chunks-000001.seg"}
	for _, name := range append([]string{"watchdog-chunks-000007.seg", "watchdog-chunks-1.seg"}, keep...) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	cf := openTestChunkFiles(t, dir, 4096)
	for _, name := range keep {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			t.Errorf("foreign file %s: %v", name, err)
		}
	}
	if got := segFiles(t, dir); len(got) != 0 {
		t.Errorf("leftover segments not removed: %v", got)
	}
	notDir := filepath.Join(dir, "notes.txt")
	for _, tc := range []struct{ name, dir string }{
		{"a file", notDir},
		{"under a file", filepath.Join(notDir, "sub")},
		{"in use", dir},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := openChunkFiles(tc.dir, 4096)
			if !errors.Is(err, ErrChunksDir) {
				t.Fatalf("err %v, want ErrChunksDir", err)
			}
		})
	}
	// Close removes our files only, and frees the directory.
	writeChunks(t, cf, 10, 500)
	if err := cf.close(true); err != nil {
		t.Fatal(err)
	}
	ents, _ := os.ReadDir(dir)
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	slices.Sort(keep)
	if !slices.Equal(names, keep) {
		t.Fatalf("after close: %v, want %v", names, keep)
	}
	if _, err := cf.write([]byte{0, 1}); err == nil {
		t.Fatal("write after close succeeded")
	}
	openTestChunkFiles(t, dir, 4096)
}

// TestChunkFilesWriteFailure: a chunk whose file write fails stays on the
// heap with its bytes intact, and is counted.
func TestChunkFilesWriteFailure(t *testing.T) {
	dir := t.TempDir()
	cf := openTestChunkFiles(t, dir, 1<<20)
	writeChunks(t, cf, 1, 10)
	// Make the current segment's writes fail (as on a full disk).
	ro, err := os.Open(cf.cur.path)
	if err != nil {
		t.Fatal(err)
	}
	rw := cf.cur.f
	cf.cur.f = ro
	t.Cleanup(func() { rw.Close() })
	slab := &chunkSlab{files: cf}
	src := bytes.Repeat([]byte{9}, 100)
	c := slab.seal(src)
	if !bytes.Equal(c, src) || cf.find(uintptr(unsafe.Pointer(unsafe.SliceData(c)))) != nil {
		t.Fatal("failed write: chunk not kept on the heap")
	}
	if cf.fallbacks.Load() != 1 || cf.liveBytes.Load() != 10 || cf.cur.live.Load() != 10 {
		t.Fatalf("fallbacks %d live %d/%d", cf.fallbacks.Load(), cf.liveBytes.Load(), cf.cur.live.Load())
	}
	if slab.lastErr.Load() == nil {
		t.Fatal("write error not kept for the log")
	}
}

func TestIsSegmentName(t *testing.T) {
	for name, want := range map[string]bool{
		"watchdog-chunks-000001.seg": true, "watchdog-chunks-9.seg": true,
		"watchdog-chunks-.seg": false, "watchdog-chunks-+1.seg": false, "watchdog-chunks-1a.seg": false,
		"watchdog-chunks-1.seg~": false, "watchdog-chunks.lock": false, "x-watchdog-chunks-1.seg": false,
	} {
		if got := isSegmentName(name); got != want {
			t.Errorf("isSegmentName(%q) = %v", name, got)
		}
	}
}
