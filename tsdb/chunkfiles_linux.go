package tsdb

import (
	"errors"
	"fmt"
	"os"
	"syscall"
)

// chunkFilesSupported: on Linux the page cache makes bytes written with
// pwrite visible through a shared mapping of the file at once.
const chunkFilesSupported = true

// errDirLocked is returned by lockDir when another process holds the lock.
var errDirLocked = errors.New("in use by another process")

// createSegment creates the file path (which must not exist) of size
// bytes, sparse, and maps it read-only and shared.
func createSegment(path string, size int) (*os.File, []byte, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, nil, err
	}
	if err := f.Truncate(int64(size)); err != nil {
		f.Close()
		os.Remove(path)
		return nil, nil, err
	}
	mem, err := syscall.Mmap(int(f.Fd()), 0, size, syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		f.Close()
		os.Remove(path)
		return nil, nil, fmt.Errorf("mmap %s: %w", path, err)
	}
	return f, mem, nil
}

// unmapSegment unmaps a segment's mapping. Its address range may be handed
// out again by a later mmap (our next segment, most likely); the Go heap
// reserves its arenas at addresses of its own, so a stale chunk pointer
// left in some garbage slice does not point into a heap span.
func unmapSegment(mem []byte) {
	if err := syscall.Munmap(mem); err != nil {
		panic("BUG: munmap chunk segment: " + err.Error())
	}
}

// lockDir creates (or opens) the lock file path and takes an exclusive
// lock on it that lasts until the file is closed or the process exits.
func lockDir(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, errDirLocked
		}
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	return f, nil
}
