package scrape

import (
	"github.com/prometheus/prometheus/model/labels"
)

// cacheEntry is what a target remembers about one exposed series line.
type cacheEntry struct {
	key      string        // the raw series line; also its key in seriesCache.series
	ref      uint64        // store reference, 0 if the store gave none
	lset     labels.Labels // labels after target labels and metric relabeling
	lastIter uint64        // scrape iteration the line was last seen in
	dropped  bool          // metric relabeling dropped the line; ref and lset are unset
	// seqIter and seqIdx place the entry in the order of lines of scrape
	// seqIter (its last position there), to resynchronise the sequence.
	seqIter uint64
	seqIdx  int
}

// seriesCache maps the raw series text of a target's exposition to its final
// labels and store reference, so that a known line skips label parsing,
// relabeling and hashing, and tracks which series each successful scrape
// exposed, to write stale markers for those that disappear. It is owned by the
// target's goroutine.
//
// A target exposes its lines in the same order scrape after scrape, so the
// cache also keeps the previous scrape's lines in order: the line expected
// next is compared first (one string comparison), and the map is only
// consulted when that fails. A map hit moves the expected position to just
// after the line's place in the previous scrape, so an inserted or removed
// series costs one map lookup, not the rest of the scrape.
type seriesCache struct {
	// series is keyed by the raw Series() bytes, for kept and dropped
	// lines alike; lookups use series[string(b)], which does not allocate.
	series map[string]*cacheEntry
	// cur and prev are the series (by ref) appended without an explicit
	// timestamp in this and the previous scrape.
	cur, prev map[uint64]*cacheEntry
	// prevSeq is the previous scrape's lines in order, seq this scrape's so
	// far; pos is the index in prevSeq of the line expected next.
	prevSeq, seq []*cacheEntry
	pos          int
	// seqText is set when this scrape's lines come from promtext, prevText
	// when the previous scrape's did: only then may the text parser take
	// the expected line as validated (expected, a method value made once).
	seqText, prevText bool
	expected          func() string
	iter              uint64
	// lastGood is the number of entries after the last successful scrape, to
	// bound growth through failing scrapes.
	lastGood int
}

func newSeriesCache() *seriesCache {
	c := &seriesCache{
		series: map[string]*cacheEntry{},
		cur:    map[uint64]*cacheEntry{},
		prev:   map[uint64]*cacheEntry{},
	}
	c.expected = c.expectedLine
	return c
}

// expectedForText returns, for promtext.Parser.SetExpected, a function
// returning the line the sequence expects next, or nil when the previous
// scrape's lines did not all come from promtext. Call it at the start of a
// scrape parsed by promtext.
func (c *seriesCache) expectedForText() func() string {
	c.seqText = true
	if !c.prevText {
		return nil
	}
	return c.expected
}

// expectedLine returns the line expected next, or "".
func (c *seriesCache) expectedLine() string {
	if c.pos < len(c.prevSeq) {
		return c.prevSeq[c.pos].key
	}
	return ""
}

// lookup returns the entry of line (kept or dropped) and whether it was
// already seen in this scrape, and marks it seen. It returns nil for a line
// the cache does not know. expected tells that line is the text expectedLine
// returned for it (promtext.Parser.IsExpected), which saves comparing it.
func (c *seriesCache) lookup(line []byte, expected bool) (e *cacheEntry, seenThisScrape bool) {
	if c.pos < len(c.prevSeq) && (expected || c.prevSeq[c.pos].key == string(line)) {
		e = c.prevSeq[c.pos]
		c.pos++
	} else {
		e = c.series[string(line)]
		if e == nil {
			return nil, false
		}
		if e.seqIter+1 == c.iter {
			c.pos = e.seqIdx + 1
		}
	}
	seen := e.lastIter == c.iter
	e.lastIter = c.iter
	c.appendSeq(e)
	return e, seen
}

// appendSeq records e as the next line of this scrape.
func (c *seriesCache) appendSeq(e *cacheEntry) {
	e.seqIter, e.seqIdx = c.iter, len(c.seq)
	c.seq = append(c.seq, e)
}

func (c *seriesCache) add(line []byte, ref uint64, lset labels.Labels) *cacheEntry {
	e := &cacheEntry{key: string(line), ref: ref, lset: lset, lastIter: c.iter}
	c.series[e.key] = e
	c.appendSeq(e)
	return e
}

// addDropped records that metric relabeling dropped line.
func (c *seriesCache) addDropped(line []byte) {
	e := &cacheEntry{key: string(line), dropped: true, lastIter: c.iter}
	c.series[e.key] = e
	c.appendSeq(e)
}

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
	n := len(c.series)
	flush := ok || n > 2*c.lastGood+1000
	if flush {
		for k, e := range c.series {
			if c.iter-e.lastIter >= 2 {
				delete(c.series, k)
			}
		}
	}
	if ok {
		c.lastGood = len(c.series)
	}
	c.prev, c.cur = c.cur, c.prev
	clear(c.cur)
	// Every line of this scrape was seen now, so none was deleted above.
	clear(c.prevSeq)
	c.prevSeq, c.seq = c.seq, c.prevSeq[:0]
	c.pos = 0
	c.prevText, c.seqText = c.seqText, false
	c.iter++
}

// resetLabels forgets every cached label set (after honor_labels, label_limit
// or metric_relabel_configs changed) but keeps staleness tracking, so series
// that relabel differently now still get their stale markers.
func (c *seriesCache) resetLabels() {
	clear(c.series)
	clear(c.prevSeq)
	clear(c.seq)
	c.prevSeq, c.seq = c.prevSeq[:0], c.seq[:0]
	c.pos = 0
	c.prevText, c.seqText = false, false
}
