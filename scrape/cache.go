package scrape

import (
	"unsafe"

	"github.com/cespare/xxhash/v2"
	"github.com/prometheus/prometheus/model/labels"
)

// cacheEntry is what a target remembers about one exposed series line. The
// line itself is not in it: the cache finds entries by a hash of the line
// and keeps the texts, compressed, in the order of the scrape (see
// seriesCache).
type cacheEntry struct {
	lset labels.Labels // labels after target labels and metric relabeling
	ref  uint64        // store reference, 0 if the store gave none
	// lastIter is the scrape iteration the line was last seen in, and
	// seqIdx the index of its text's record in the stream of that scrape
	// (seriesCache.cur while lastIter is this scrape, else prev).
	// Iterations are 32-bit: they wrap after 2^32 scrapes, and an entry
	// not seen for two scrapes is forgotten long before.
	lastIter uint32
	seqIdx   int32
	// trackIter is the scrape iteration in which the series was last
	// tracked for staleness (exposed without an explicit timestamp).
	trackIter uint32
	state     entryState
}

// entryState tells what a slot of the cache's entry pages holds.
type entryState uint8

const (
	slotFree     entryState = iota
	slotLive                // findable by its line (dropped or kept)
	slotDropped             // findable; metric relabeling dropped the line, ref and lset are unset
	slotDetached            // only kept for staleness after resetLabels
)

// Entry pages: entries are values in fixed pages, so that a pointer to one
// stays valid while more are added, and an entry costs no allocation.
const (
	pageShift = 9
	pageSize  = 1 << pageShift
	pageMask  = pageSize - 1
)

// seriesCache maps the raw series text of a target's exposition to its final
// labels and store reference, so that a known line skips label parsing,
// relabeling and hashing, and tracks which series each successful scrape
// exposed, to write stale markers for those that disappear. It is owned by the
// target's goroutine.
//
// Entries are found by the 64-bit xxhash of their line. A hash is never
// trusted alone: the entry's line is compared in full before it is used,
// and a line whose hash another line holds is kept in a side map keyed by
// its text, so a collision costs a lookup, never a sample attached to the
// wrong series.
//
// The lines themselves are kept once, in the order of the scrape that last
// exposed them, prefix-compressed (lineStream): a target exposes its lines
// in the same order scrape after scrape, so the line expected next is
// decoded and compared first, and the map is only consulted when that fails.
// A map hit moves the expected position to just after the line's place in
// the previous scrape, so an inserted or removed series costs one map
// lookup, not the rest of the scrape. While a scrape repeats the previous
// one's lines in order, nothing is written: the previous stream is kept.
// Once it diverges, this scrape's stream is written (the common start
// copied), and at the end the lines of entries kept but not exposed are
// appended to it, so every entry's text stays in the newest stream.
//
// Staleness tracking costs no map operation per sample either: a tracked
// entry is stamped with the scrape iteration and appended to a list, and the
// previous scrape's list is compared with the stamps at the end. Maps keyed
// by ref are built only when a series of the previous scrape is missing, to
// write one marker per ref and none for a ref another line still exposes.
type seriesCache struct {
	pages    []*[pageSize]cacheEntry
	free     []int32 // freed slots
	used     int32   // slots handed out from pages
	live     int     // entries findable (index and collided)
	detached int     // slotDetached entries
	// index maps a line's hash to its entry; collided holds, by text, the
	// lines whose hash index gives to another line.
	index    map[uint64]int32
	collided map[string]int32
	hash     func([]byte) uint64

	// prev is the previous scrape's lines, then (from prevLen on) those of
	// entries kept that it did not expose. This scrape's lines so far number
	// seqLen; the first same of them equal prev's first records, and cur
	// is written only once they differ (same < seqLen).
	prev, cur    lineStream
	prevLen      int
	seqLen, same int
	pos          int // index in prev of the line expected next
	// expRd decodes the expected lines, rd the others.
	expRd, rd streamReader

	// cur and prev are the entries tracked (exposed without an explicit
	// timestamp, with a ref) in this and the previous scrape, each once.
	curTracked, prevTracked []int32
	// last is the slot lookup or insert returned last.
	last int32
	// seen counts the entries seen in this scrape, so that the
	// end-of-scrape sweep is skipped when it would find nothing to forget.
	seen int
	// seqText is set when this scrape's lines come from promtext, prevText
	// when the previous scrape's did: only then may the text parser take
	// the expected line as validated (expected, a method value made once).
	seqText, prevText bool
	expected          func() string
	// iter numbers the scrapes from 1, so that a zero stamp is never current.
	iter uint32
	// lastGood is the number of entries after the last successful scrape, to
	// bound growth through failing scrapes.
	lastGood int
}

func newSeriesCache() *seriesCache {
	c := &seriesCache{index: map[uint64]int32{}, iter: 1, hash: xxhash.Sum64}
	c.expected = c.expectedLine
	return c
}

// entry returns the entry in slot idx.
func (c *seriesCache) entry(idx int32) *cacheEntry {
	return &c.pages[idx>>pageShift][idx&pageMask]
}

// newSlot returns a free slot.
func (c *seriesCache) newSlot() int32 {
	if n := len(c.free); n > 0 {
		idx := c.free[n-1]
		c.free = c.free[:n-1]
		return idx
	}
	if int(c.used)>>pageShift == len(c.pages) {
		c.pages = append(c.pages, new([pageSize]cacheEntry))
	}
	c.used++
	return c.used - 1
}

// freeSlot forgets the entry in slot idx.
func (c *seriesCache) freeSlot(idx int32) {
	*c.entry(idx) = cacheEntry{}
	c.free = append(c.free, idx)
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

// expectedLine returns the line expected next, or "". The string is valid
// until the cache is used again.
func (c *seriesCache) expectedLine() string {
	if c.pos >= c.prevLen {
		return ""
	}
	r := &c.expRd
	if r.s != &c.prev || r.next != c.pos+1 {
		if r.s == &c.prev && r.next == c.pos {
			r.decode() // the next line in order
		} else {
			r.at(&c.prev, c.pos)
		}
	}
	if len(r.text) == 0 {
		return ""
	}
	return unsafe.String(&r.text[0], len(r.text))
}

// lookup returns the entry of line (kept or dropped) and whether it was
// already seen in this scrape, and marks it seen. It returns nil for a line
// the cache does not know. expected tells that line is the text expectedLine
// returned for it (promtext.Parser.IsExpected), which saves comparing it.
func (c *seriesCache) lookup(line []byte, expected bool) (e *cacheEntry, seenThisScrape bool) {
	idx, inOrder := int32(-1), false
	if c.pos < c.prevLen {
		if r := &c.expRd; expected && r.s == &c.prev && r.next == c.pos+1 {
			// expectedLine decoded this line.
			idx, inOrder = r.idx, c.pos == c.seqLen
			c.pos++
		} else if text, i := r.at(&c.prev, c.pos); string(text) == string(line) {
			idx, inOrder = i, c.pos == c.seqLen
			c.pos++
		}
	}
	if idx < 0 {
		if idx = c.find(line); idx < 0 {
			return nil, false
		}
		if e := c.entry(idx); e.lastIter+1 == c.iter {
			c.pos = int(e.seqIdx) + 1
		}
	}
	e = c.entry(idx)
	c.last = idx
	seen := e.lastIter == c.iter
	if !seen {
		e.lastIter = c.iter
		c.seen++
	}
	c.appendSeq(idx, e, line, inOrder)
	return e, seen
}

// find returns the slot of line's entry, or -1.
func (c *seriesCache) find(line []byte) int32 {
	if idx, ok := c.index[c.hash(line)]; ok && string(c.textOf(idx)) == string(line) {
		return idx
	}
	if idx, ok := c.collided[string(line)]; ok {
		return idx
	}
	return -1
}

// textOf returns the line of the entry in slot idx; it is valid until the
// cache is used again.
func (c *seriesCache) textOf(idx int32) []byte {
	e := c.entry(idx)
	if e.lastIter == c.iter && c.same < c.seqLen {
		text, _ := c.rd.at(&c.cur, int(e.seqIdx))
		return text
	}
	// Seen in an earlier scrape, or in this one while it repeats prev.
	text, _ := c.rd.at(&c.prev, int(e.seqIdx))
	return text
}

// maxReserve bounds reserve: a body promising more lines grows the cache
// as its samples are appended.
const maxReserve = 1 << 20

// reserve sizes an empty cache for a target exposing about n series, so
// that its first scrapes neither rehash the map nor regrow the tracking
// lists. A cache in use is left alone.
func (c *seriesCache) reserve(n int) {
	if c.live > 0 || cap(c.curTracked) > 0 || n <= 0 {
		return
	}
	n = min(n, maxReserve)
	c.index = make(map[uint64]int32, n)
	c.curTracked, c.prevTracked = make([]int32, 0, n), make([]int32, 0, n)
}

// empty reports whether the cache knows no line.
func (c *seriesCache) empty() bool { return c.live == 0 }

// appendSeq records e (slot idx), seen in this scrape, as its next line;
// inOrder tells it was the previous scrape's line at the same position.
func (c *seriesCache) appendSeq(idx int32, e *cacheEntry, line []byte, inOrder bool) {
	e.seqIdx = int32(c.seqLen)
	if c.same == c.seqLen {
		if inOrder {
			c.same++
			c.seqLen++
			return
		}
		c.diverge()
	}
	c.cur.add(line, idx)
	c.seqLen++
}

// diverge starts writing this scrape's stream: a copy of the records it
// shares with prev.
func (c *seriesCache) diverge() {
	c.cur.reset()
	if c.same > 0 {
		off := c.rd.offset(&c.prev, c.same)
		c.cur.buf = append(make([]byte, 0, off+off/4), c.prev.buf[:off]...)
		c.cur.restarts = append([]int(nil), c.prev.restarts[:(c.same+restartEvery-1)/restartEvery]...)
		text, idx := c.rd.at(&c.prev, c.same-1)
		c.cur.last = append(c.cur.last, text...)
		c.cur.lastIdx = idx
		c.cur.n = c.same
	}
}

// add records a new line kept by metric relabeling.
func (c *seriesCache) add(line []byte, ref uint64, lset labels.Labels) *cacheEntry {
	_, e := c.insert(line, slotLive)
	e.ref, e.lset = ref, lset
	return e
}

// addDropped records that metric relabeling dropped line.
func (c *seriesCache) addDropped(line []byte) {
	c.insert(line, slotDropped)
}

// insert adds a new entry for line, seen in this scrape.
func (c *seriesCache) insert(line []byte, state entryState) (int32, *cacheEntry) {
	idx := c.newSlot()
	e := c.entry(idx)
	*e = cacheEntry{lastIter: c.iter, state: state}
	c.last = idx
	h := c.hash(line)
	if _, taken := c.index[h]; !taken {
		c.index[h] = idx
	} else {
		if c.collided == nil {
			c.collided = map[string]int32{}
		}
		c.collided[string(line)] = idx
	}
	c.live++
	c.seen++
	c.appendSeq(idx, e, line, false)
	return idx, e
}

// dropped reports whether metric relabeling dropped e's line.
func (e *cacheEntry) dropped() bool { return e.state == slotDropped }

// setRef points e at a new store reference (after the store recreated a
// garbage-collected series); its staleness tracking follows it.
func (c *seriesCache) setRef(e *cacheEntry, ref uint64) {
	e.ref = ref
}

// slotOf returns the slot of e, an entry of c.
func (c *seriesCache) slotOf(e *cacheEntry) int32 {
	if c.last >= 0 && c.last < c.used && c.entry(c.last) == e {
		return c.last
	}
	p := uintptr(unsafe.Pointer(e))
	size := unsafe.Sizeof(cacheEntry{})
	for i, page := range c.pages {
		lo := uintptr(unsafe.Pointer(&page[0]))
		if p >= lo && p < lo+pageSize*size {
			return int32(i<<pageShift) + int32((p-lo)/size)
		}
	}
	panic("scrape: entry not in its series cache")
}

// track records that e was exposed in this scrape.
func (c *seriesCache) track(e *cacheEntry) {
	if e.ref != 0 && e.trackIter != c.iter {
		e.trackIter = c.iter
		c.curTracked = append(c.curTracked, c.slotOf(e))
	}
}

// forgetCurrent drops what this scrape tracked: the scrape failed and every
// series of the last successful scrape goes stale.
func (c *seriesCache) forgetCurrent() {
	for _, idx := range c.curTracked {
		c.entry(idx).trackIter = 0
	}
	c.curTracked = c.curTracked[:0]
}

// forEachStale calls f once per ref for the series of the previous scrape
// that this scrape did not expose.
func (c *seriesCache) forEachStale(f func(e *cacheEntry)) {
	var done map[uint64]struct{} // refs exposed now or already reported
	for _, idx := range c.prevTracked {
		e := c.entry(idx)
		if e.trackIter == c.iter {
			continue
		}
		if done == nil {
			// A missing series: the rare case. Another line may expose
			// the same ref, and two missing lines may share one.
			done = make(map[uint64]struct{}, len(c.curTracked))
			for _, x := range c.curTracked {
				done[c.entry(x).ref] = struct{}{}
			}
		}
		if _, ok := done[e.ref]; ok {
			continue
		}
		done[e.ref] = struct{}{}
		f(e)
	}
}

// forEachTracked calls f once per ref for the series the last scrape
// exposed (used when the target goes away, after iterDone).
func (c *seriesCache) forEachTracked(f func(e *cacheEntry)) {
	done := make(map[uint64]struct{}, len(c.prevTracked))
	for _, idx := range c.prevTracked {
		e := c.entry(idx)
		if _, ok := done[e.ref]; !ok {
			done[e.ref] = struct{}{}
			f(e)
		}
	}
}

// iterDone ends a scrape. After a successful one, lines not seen in this or
// the previous scrape are forgotten. After a failed one, the cache is only
// flushed when it grew far beyond its last good size.
func (c *seriesCache) iterDone(ok bool) {
	flush := ok || c.live > 2*c.lastGood+1000
	// When every entry was seen in this scrape, none can be forgotten.
	if flush && c.seen < c.live {
		c.forgetOld()
	}
	if c.detached > 0 {
		// resetLabels ran before this scrape, whose stale markers are
		// written: the old entries are no longer needed.
		for idx := range c.used {
			if e := c.entry(idx); e.state == slotDetached && e.trackIter != c.iter {
				c.freeSlot(idx)
			}
		}
		c.detached = 0
	}
	c.nextStream()
	if ok {
		c.lastGood = c.live
	}
	c.prevTracked, c.curTracked = c.curTracked, c.prevTracked[:0]
	c.pos, c.seen, c.seqLen, c.same = 0, 0, 0, 0
	c.prevText, c.seqText = c.seqText, false
	c.iter++
	if c.iter == 0 {
		c.iter = 1 // zero means never
	}
}

// forgetOld forgets the entries not seen in this or the previous scrape.
func (c *seriesCache) forgetOld() {
	for h, idx := range c.index {
		if c.iter-c.entry(idx).lastIter >= 2 {
			delete(c.index, h)
			c.freeSlot(idx)
			c.live--
		}
	}
	for k, idx := range c.collided {
		if c.iter-c.entry(idx).lastIter >= 2 {
			delete(c.collided, k)
			c.freeSlot(idx)
			c.live--
		}
	}
	if len(c.collided) == 0 {
		c.collided = nil
	}
}

// nextStream makes this scrape's lines the previous ones, followed by the
// lines of the entries kept that it did not expose. A scrape that repeated
// the previous one's lines keeps its stream.
func (c *seriesCache) nextStream() {
	if c.same == c.seqLen && c.seqLen == c.prev.n {
		c.prevLen = c.seqLen
		c.expRd.reset()
		return
	}
	if c.same == c.seqLen {
		c.diverge()
	}
	if c.seen < c.live {
		// Each entry's text is in prev at its seqIdx, once.
		for r := range c.prev.n {
			text, idx := c.rd.at(&c.prev, r)
			e := c.entry(idx)
			if (e.state == slotLive || e.state == slotDropped) && e.lastIter != c.iter && int(e.seqIdx) == r {
				e.seqIdx = int32(c.cur.n)
				c.cur.add(text, idx)
			}
		}
	}
	c.cur.clip()
	c.prev, c.cur = c.cur, lineStream{}
	c.prevLen = c.seqLen
	c.expRd.reset()
	c.rd.reset()
}

// resetLabels forgets every cached label set (after honor_labels, label_limit
// or metric_relabel_configs changed) but keeps staleness tracking, so series
// that relabel differently now still get their stale markers.
func (c *seriesCache) resetLabels() {
	for idx := range c.used {
		if e := c.entry(idx); e.state == slotLive || e.state == slotDropped {
			e.state = slotDetached
			c.detached++
		}
	}
	clear(c.index)
	c.collided = nil
	c.live = 0
	c.prev.reset()
	c.cur.reset()
	c.expRd.reset()
	c.rd.reset()
	c.prevLen, c.pos, c.seen, c.seqLen, c.same = 0, 0, 0, 0, 0
	c.prevText, c.seqText = false, false
}
