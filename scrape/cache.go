package scrape

import (
	"github.com/prometheus/prometheus/model/labels"
)

// cacheEntry is what a target remembers about one exposed series line.
type cacheEntry struct {
	ref      uint64        // store reference, 0 if the store gave none
	lset     labels.Labels // labels after target labels and metric relabeling
	lastIter uint64        // scrape iteration the line was last seen in
}

// seriesCache maps the raw series text of a target's exposition to its final
// labels and store reference, so that a known line skips label parsing,
// relabeling and hashing, and tracks which series each successful scrape
// exposed, to write stale markers for those that disappear. It is owned by the
// target's goroutine.
type seriesCache struct {
	// series is keyed by the raw Series() bytes; lookups use
	// series[string(b)], which does not allocate.
	series map[string]*cacheEntry
	// dropped holds lines metric relabeling dropped, with their last iteration.
	dropped map[string]uint64
	// cur and prev are the series (by ref) appended without an explicit
	// timestamp in this and the previous scrape.
	cur, prev map[uint64]*cacheEntry
	iter      uint64
	// lastGood is the number of entries after the last successful scrape, to
	// bound growth through failing scrapes.
	lastGood int
}

func newSeriesCache() *seriesCache {
	return &seriesCache{
		series:  map[string]*cacheEntry{},
		dropped: map[string]uint64{},
		cur:     map[uint64]*cacheEntry{},
		prev:    map[uint64]*cacheEntry{},
	}
}

// get returns the entry of line and whether it was already seen in this
// scrape, and marks it seen.
func (c *seriesCache) get(line []byte) (e *cacheEntry, seenThisScrape bool) {
	e, ok := c.series[string(line)]
	if !ok {
		return nil, false
	}
	seen := e.lastIter == c.iter
	e.lastIter = c.iter
	return e, seen
}

func (c *seriesCache) add(line []byte, ref uint64, lset labels.Labels) *cacheEntry {
	e := &cacheEntry{ref: ref, lset: lset, lastIter: c.iter}
	c.series[string(line)] = e
	return e
}

// isDropped reports whether line was dropped by metric relabeling before,
// and marks it seen.
func (c *seriesCache) isDropped(line []byte) bool {
	if _, ok := c.dropped[string(line)]; ok {
		c.dropped[string(line)] = c.iter
		return true
	}
	return false
}

func (c *seriesCache) addDropped(line []byte) { c.dropped[string(line)] = c.iter }

// setRef points e at a new store reference (after the store recreated a
// garbage-collected series), moving its staleness tracking along.
func (c *seriesCache) setRef(e *cacheEntry, ref uint64) {
	if e.ref == ref {
		return
	}
	for _, m := range [...]map[uint64]*cacheEntry{c.prev, c.cur} {
		if m[e.ref] == e {
			delete(m, e.ref)
			m[ref] = e
		}
	}
	e.ref = ref
}

// track records that e was exposed in this scrape.
func (c *seriesCache) track(e *cacheEntry) {
	if e.ref != 0 {
		c.cur[e.ref] = e
	}
}

// forgetCurrent drops what this scrape tracked: the scrape failed and every
// series of the last successful scrape goes stale.
func (c *seriesCache) forgetCurrent() { clear(c.cur) }

// forEachStale calls f for every series of the previous scrape that this
// scrape did not expose.
func (c *seriesCache) forEachStale(f func(e *cacheEntry)) {
	for ref, e := range c.prev {
		if _, ok := c.cur[ref]; !ok {
			f(e)
		}
	}
}

// forEachTracked calls f for every series the last scrape exposed (used when
// the target goes away, after iterDone).
func (c *seriesCache) forEachTracked(f func(e *cacheEntry)) {
	for _, e := range c.prev {
		f(e)
	}
}

// iterDone ends a scrape. After a successful one, lines not seen in this or
// the previous scrape are forgotten. After a failed one, the cache is only
// flushed when it grew far beyond its last good size.
func (c *seriesCache) iterDone(ok bool) {
	n := len(c.series) + len(c.dropped)
	flush := ok || n > 2*c.lastGood+1000
	if flush {
		for k, e := range c.series {
			if c.iter-e.lastIter >= 2 {
				delete(c.series, k)
			}
		}
		for k, it := range c.dropped {
			if c.iter-it >= 2 {
				delete(c.dropped, k)
			}
		}
	}
	if ok {
		c.lastGood = len(c.series) + len(c.dropped)
	}
	c.prev, c.cur = c.cur, c.prev
	clear(c.cur)
	c.iter++
}

// resetLabels forgets every cached label set (after honor_labels, label_limit
// or metric_relabel_configs changed) but keeps staleness tracking, so series
// that relabel differently now still get their stale markers.
func (c *seriesCache) resetLabels() {
	clear(c.series)
	clear(c.dropped)
}
