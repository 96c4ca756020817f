//go:build amd64 || arm64

package tsdb

// prefetch asks the CPU to load the cache line at a into its caches, and
// prefetch4 those at a, b, c and d. They read no Go memory and cannot fault,
// so the addresses may be stale guesses, and the loads are not ordered with
// the locked instructions of the series mutexes: they overlap with the work
// on earlier samples instead of waiting behind it.
//
//go:noescape
func prefetch(a uintptr)

//go:noescape
func prefetch4(a, b, c, d uintptr)
