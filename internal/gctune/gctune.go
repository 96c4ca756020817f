// Package gctune keeps the garbage collector's headroom proportional to the
// part of the heap it has to scan.
//
// GOGC lets the heap grow by a percentage of everything that was live after
// the last collection before the next one starts. For the watchdog most of
// that, once its retention fills, is sample chunks: pointer-free bytes that
// the collector never scans and that only grow as fast as samples arrive.
// Giving them the same headroom as the pointer-rich rest of the heap costs
// memory (half of the chunk bytes again at GOGC 50, hundreds of megabytes
// with two hours of a large fleet) and buys nothing: collections are rare
// because the watchdog allocates little per scrape, and cheap because the
// chunks are not scanned. The tuner lowers the percentage so that the
// headroom is the base percentage of the rest of the heap only.
package gctune

import (
	"context"
	"math"
	"runtime/debug"
	"runtime/metrics"
	"sync/atomic"
	"time"

	vmetrics "github.com/VictoriaMetrics/metrics"
)

// DefaultInterval is how often Run adjusts the percentage when
// Options.Interval is zero.
const DefaultInterval = 10 * time.Second

// MinPercent is the lowest percentage Run sets, however much of the heap
// is pointer-free: a collection every few percent of growth is still cheap
// when the collector scans little, and it bounds the collections' rate.
const MinPercent = 5

// Options configure Run. The zero value tunes nothing: Percent must be set.
type Options struct {
	// Percent is the headroom wanted, in percent of the live heap other
	// than the pointer-free bytes (GOGC's meaning for the rest of the
	// heap). Run does nothing when it is not positive.
	Percent int
	// PointerFree returns how many bytes of the live heap hold no pointers
	// and stay live for a long time (the store's chunk bytes). Run does
	// nothing when it is nil.
	PointerFree func() int64
	// Interval between adjustments (DefaultInterval when zero).
	Interval time.Duration
	// LiveHeap returns the live heap in bytes after the last collection
	// (runtime/metrics /gc/heap/live:bytes when nil).
	LiveHeap func() int64
	// SetGCPercent sets the collector's percentage (debug.SetGCPercent when
	// nil).
	SetGCPercent func(int) int
	// Metrics, when set, gets the gauge watchdog_memory_gc_percent.
	Metrics *vmetrics.Set
}

// Percent returns the GOGC percentage that gives a heap of live bytes, of
// which pointerFree hold no pointers, a headroom of base percent of the
// rest: base × (live − pointerFree) / live, rounded up, at least MinPercent
// and at most base.
func Percent(base int, live, pointerFree int64) int {
	if base <= MinPercent || live <= 0 || pointerFree <= 0 {
		return base
	}
	scanned := max(live-pointerFree, 0)
	p := int(math.Ceil(float64(base) * float64(scanned) / float64(live)))
	return min(max(p, MinPercent), base)
}

// Run adjusts the collector's percentage every interval until ctx is done,
// then sets it back to o.Percent. It returns at once if o.Percent or
// o.PointerFree are not set.
func Run(ctx context.Context, o Options) {
	if o.Percent <= 0 || o.PointerFree == nil {
		return
	}
	interval := o.Interval
	if interval <= 0 {
		interval = DefaultInterval
	}
	live := o.LiveHeap
	if live == nil {
		live = liveHeap
	}
	set := o.SetGCPercent
	if set == nil {
		set = debug.SetGCPercent
	}
	var current atomic.Int64
	current.Store(int64(o.Percent))
	if o.Metrics != nil {
		o.Metrics.NewGauge("watchdog_memory_gc_percent", func() float64 { return float64(current.Load()) })
	}
	defer set(o.Percent)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if p := Percent(o.Percent, live(), o.PointerFree()); int64(p) != current.Load() {
			set(p)
			current.Store(int64(p))
		}
	}
}

// liveHeap reads the live heap after the last collection.
func liveHeap() int64 {
	s := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return int64(min(s[0].Value.Uint64(), math.MaxInt64))
}
