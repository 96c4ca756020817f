//go:build !amd64 && !arm64

package tsdb

// prefetch and prefetch4 do nothing where no prefetch instruction is wired
// up.
func prefetch(a uintptr) {}

func prefetch4(a, b, c, d uintptr) {}
