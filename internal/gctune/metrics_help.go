package gctune

import "github.com/watchdog-sre/watchdog/internal/selfmetrics"

// The family of the tuner's gauge, for /metrics (package selfmetrics).
var _ = selfmetrics.Describe(
	selfmetrics.Family{Name: "watchdog_memory_gc_percent", Type: selfmetrics.Gauge, Help: "Garbage collector target (GOGC) in effect: --memory.gc-percent of the heap other than sample chunks, as a percentage of the whole live heap."},
)
