package scrape

import (
	"hash/maphash"

	"github.com/prometheus/prometheus/model/labels"

	"github.com/watchdog-sre/watchdog/scrape/promtext"
)

// cacheEntry is what a target remembers about one exposed series line. The
// line itself is not in it: the cache finds entries by a seeded hash of the
// line and keeps its length (see seriesCache).
type cacheEntry struct {
	lset labels.Labels // labels after target labels and metric relabeling
	ref  uint64        // store reference, 0 if the store gave none
	hash uint64        // the line's hash (seriesCache.hashOf)
	// lastIter is the scrape iteration the line was last seen in.
	// Iterations are 32-bit: they wrap after 2^32 scrapes, and an entry
	// not seen for two scrapes is forgotten long before.
	lastIter uint32
	// trackIter is the scrape iteration in which the series was last
	// tracked for staleness (exposed without an explicit timestamp).
	trackIter uint32
	// next is the slot of the line that followed this one in the scrape
	// that last exposed it (-1 for none): the line expected after it.
	next int32
	// lineLen is the line's length, maxLineLen for that or longer.
	lineLen uint16
	state   entryState
	// trackedPrev tells, while trackIter is this scrape, that it was the
	// previous one before (forgetCurrent restores it).
	trackedPrev bool
}

// maxLineLen is the largest line length an entry records exactly.
const maxLineLen = 1<<16 - 1

// lineLenOf returns the lineLen of a line of n bytes.
func lineLenOf(n int) uint16 { return uint16(min(n, maxLineLen)) }

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
// Entries are found by a 64-bit hash of their line, seeded at random per
// cache (hash/maphash), and the line's length; the line itself is not kept.
// Two lines of a target with the same hash and length (a collision) share
// one entry: the second line's samples go to the first one's series, or are
// refused as duplicates when both are in one scrape. This is safe enough:
//   - The cache is per target, so a collision can only map a line of a
//     target to another series of the same target, data the target
//     controls anyway; it can never write into another target's series.
//   - The seed is random and never leaves the process, so a target cannot
//     compute colliding lines in advance; an accidental collision among n
//     lines of one target has probability about n²/2^65 (3·10^-10 for
//     100,000 lines, 5·10^-15 per new line in such a target).
//   - A collision between lines of different lengths is detected: the
//     new line goes to a side map keyed by its text (collided), and
//     watchdog_scrape_cache_collisions_total counts it.
//
// A target exposes its lines in the same order scrape after scrape: each
// entry links to the line that followed it (next), so the line expected next
// is checked first, by hash and length, and the map is only consulted when
// that fails. With promtext the check happens in the parser (ExpectedLen,
// MatchExpected), which then skips validating the line again.
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
	// lines whose hash index gives to a line of another length.
	index    slotTable
	collided map[string]int32
	seed     maphash.Seed
	hash     func([]byte) uint64 // replaces the seeded hash in tests
	// collisions counts the lines put in collided since takeCollisions.
	collisions int

	// head is the first line of the previous scrape, expect the line
	// expected next and prevLine the last line of this scrape so far (-1
	// for none). matched is the expected line MatchExpected accepted for
	// the current line, -1 if none.
	head, expect, prevLine, matched int32
	// missHash is the hash of the line lookup last failed to find, for the
	// insert that follows (missLen its length, -1 for none).
	missHash uint64
	missLen  int

	// Entries tracked for staleness (exposed without an explicit
	// timestamp, with a ref) are stamped with the scrape (trackIter):
	// prevIter is the previous scrape's iter (0 for none), curTracked and
	// prevTracked count the entries tracked in this and that scrape, and
	// carried those tracked in both.
	prevIter                         uint32
	curTracked, prevTracked, carried int
	// last is the slot lookup or insert returned last.
	last int32
	// seen counts the entries seen in this scrape, so that the
	// end-of-scrape sweep is skipped when it would find nothing to forget.
	seen int
	// seqText is set when this scrape's lines come from promtext, prevText
	// when the previous scrape's did: only then may the text parser take
	// the expected line as validated.
	seqText, prevText bool
	// iter numbers the scrapes from 1, so that a zero stamp is never current.
	iter uint32
	// lastGood is the number of entries after the last successful scrape, to
	// bound growth through failing scrapes.
	lastGood int
}

func newSeriesCache() *seriesCache {
	return &seriesCache{
		iter: 1, seed: maphash.MakeSeed(),
		head: -1, expect: -1, prevLine: -1, matched: -1, missLen: -1,
	}
}

// hashOf returns the hash of line.
func (c *seriesCache) hashOf(line []byte) uint64 {
	if c.hash != nil {
		return c.hash(line)
	}
	return maphash.Bytes(c.seed, line)
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
	*c.entry(idx) = cacheEntry{next: -1}
	c.free = append(c.free, idx)
}

// findable reports whether e is an entry lookups may return.
func (e *cacheEntry) findable() bool { return e.state == slotLive || e.state == slotDropped }

// expectedForText returns, for promtext.Parser.SetExpected, the cache as
// the parser's Expecter, or nil when the previous scrape's lines did not
// all come from promtext. Call it at the start of a scrape parsed by
// promtext.
func (c *seriesCache) expectedForText() promtext.Expecter {
	c.seqText = true
	if !c.prevText {
		return nil
	}
	return c
}

// ExpectedLen returns the length of the line expected next, or 0
// (promtext.Expecter).
func (c *seriesCache) ExpectedLen() int {
	c.matched = -1
	if c.expect < 0 {
		return 0
	}
	e := c.entry(c.expect)
	if !e.findable() || e.lineLen == maxLineLen {
		return 0
	}
	return int(e.lineLen)
}

// MatchExpected reports whether line, of the length ExpectedLen returned,
// has the expected line's hash (promtext.Expecter); lookup then takes it
// as that line without hashing it again.
func (c *seriesCache) MatchExpected(line []byte) bool {
	if c.expect < 0 || c.hashOf(line) != c.entry(c.expect).hash {
		return false
	}
	c.matched = c.expect
	return true
}

// lookup returns the entry of line (kept or dropped) and whether it was
// already seen in this scrape, and marks it seen. It returns nil for a line
// the cache does not know. expected tells that MatchExpected accepted line
// (promtext.Parser.IsExpected), which saves hashing it.
func (c *seriesCache) lookup(line []byte, expected bool) (e *cacheEntry, seenThisScrape bool) {
	idx := int32(-1)
	if expected && c.matched >= 0 {
		idx = c.matched
	} else {
		h := c.hashOf(line)
		if c.expect >= 0 {
			if x := c.entry(c.expect); x.hash == h && x.lineLen == lineLenOf(len(line)) && x.findable() {
				idx = c.expect
			}
		}
		if idx < 0 {
			if idx = c.find(line, h); idx < 0 {
				c.missHash, c.missLen = h, len(line)
				return nil, false
			}
		}
	}
	c.matched = -1
	e = c.entry(idx)
	c.last = idx
	seen := e.lastIter == c.iter
	if !seen {
		if e.lastIter+1 == c.iter {
			// In the previous scrape: the line after it there comes next.
			c.expect = e.next
		}
		e.lastIter = c.iter
		c.seen++
		c.link(idx)
	}
	return e, seen
}

// find returns the slot of the line with hash h, or -1.
func (c *seriesCache) find(line []byte, h uint64) int32 {
	if c.collided != nil {
		if idx, ok := c.collided[string(line)]; ok {
			return idx
		}
	}
	if idx := c.tableGet(h); idx >= 0 && c.entry(idx).lineLen == lineLenOf(len(line)) {
		return idx
	}
	return -1
}

// link appends slot idx, seen for the first time in this scrape, to this
// scrape's sequence of lines.
func (c *seriesCache) link(idx int32) {
	if c.prevLine >= 0 {
		c.entry(c.prevLine).next = idx
	} else {
		c.head = idx
	}
	c.prevLine = idx
}

// maxReserve bounds reserve: a body promising more lines grows the cache
// as its samples are appended.
const maxReserve = 1 << 20

// reserve sizes an empty cache for a target exposing about n series, so
// that its first scrapes neither grow the index nor the entry pages. A
// cache in use is left alone.
func (c *seriesCache) reserve(n int) {
	if c.live > 0 || c.used > 0 || n <= 0 {
		return
	}
	n = min(n, maxReserve)
	if size := tableSize(n); size > len(c.index.slots) {
		c.tableResize(size)
	}
	if pages := (n + pageSize - 1) / pageSize; cap(c.pages) < pages {
		c.pages = make([]*[pageSize]cacheEntry, 0, pages)
	}
}

// empty reports whether the cache knows no line.
func (c *seriesCache) empty() bool { return c.live == 0 }

// add records a new line kept by metric relabeling.
func (c *seriesCache) add(line []byte, ref uint64, lset labels.Labels) *cacheEntry {
	e := c.insert(line, slotLive)
	e.ref, e.lset = ref, lset
	return e
}

// addDropped records that metric relabeling dropped line.
func (c *seriesCache) addDropped(line []byte) {
	c.insert(line, slotDropped)
}

// insert adds a new entry for line, seen in this scrape. The line's hash is
// the one lookup computed when it did not find the line.
func (c *seriesCache) insert(line []byte, state entryState) *cacheEntry {
	h := c.missHash
	if c.missLen != len(line) {
		h = c.hashOf(line)
	}
	c.missLen = -1
	idx := c.newSlot()
	e := c.entry(idx)
	*e = cacheEntry{hash: h, lastIter: c.iter, next: -1, lineLen: lineLenOf(len(line)), state: state}
	c.last = idx
	if c.tableGet(h) < 0 {
		c.tablePut(h, idx)
	} else {
		// A line of another length has this hash (same-length lines are
		// taken for the same line: see seriesCache).
		if c.collided == nil {
			c.collided = map[string]int32{}
		}
		c.collided[string(line)] = idx
		c.collisions++
	}
	c.live++
	c.seen++
	c.link(idx)
	return e
}

// takeCollisions returns the number of collisions detected since its last
// call.
func (c *seriesCache) takeCollisions() int {
	n := c.collisions
	c.collisions = 0
	return n
}

// dropped reports whether metric relabeling dropped e's line.
func (e *cacheEntry) dropped() bool { return e.state == slotDropped }

// setRef points e at a new store reference (after the store recreated a
// garbage-collected series); its staleness tracking follows it.
func (c *seriesCache) setRef(e *cacheEntry, ref uint64) {
	e.ref = ref
}

// track records that e was exposed in this scrape.
func (c *seriesCache) track(e *cacheEntry) {
	if e.ref != 0 && e.trackIter != c.iter {
		e.trackedPrev = c.prevIter != 0 && e.trackIter == c.prevIter
		if e.trackedPrev {
			c.carried++
		}
		e.trackIter = c.iter
		c.curTracked++
	}
}

// forgetCurrent drops what this scrape tracked: the scrape failed and every
// series of the last successful scrape goes stale.
func (c *seriesCache) forgetCurrent() {
	if c.curTracked == 0 {
		return
	}
	for idx := range c.used {
		if e := c.entry(idx); e.trackIter == c.iter {
			e.trackIter = 0
			if e.trackedPrev {
				e.trackIter = c.prevIter
			}
		}
	}
	c.curTracked, c.carried = 0, 0
}

// forEachStale calls f once per ref for the series of the previous scrape
// that this scrape did not expose. When every one of them was tracked again
// it costs nothing; otherwise it reads every entry.
func (c *seriesCache) forEachStale(f func(e *cacheEntry)) {
	if c.carried == c.prevTracked || c.prevIter == 0 {
		return
	}
	// A missing series: the rare case. Another line may expose the same
	// ref, and two missing lines may share one.
	done := make(map[uint64]struct{}, c.curTracked)
	for idx := range c.used {
		if e := c.entry(idx); e.trackIter == c.iter {
			done[e.ref] = struct{}{}
		}
	}
	for idx := range c.used {
		e := c.entry(idx)
		if e.trackIter != c.prevIter {
			continue
		}
		if _, ok := done[e.ref]; !ok {
			done[e.ref] = struct{}{}
			f(e)
		}
	}
}

// forEachTracked calls f once per ref for the series the last scrape
// exposed (used when the target goes away, after iterDone).
func (c *seriesCache) forEachTracked(f func(e *cacheEntry)) {
	if c.prevIter == 0 || c.prevTracked == 0 {
		return
	}
	done := make(map[uint64]struct{}, c.prevTracked)
	for idx := range c.used {
		e := c.entry(idx)
		if e.trackIter != c.prevIter {
			continue
		}
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
	// This scrape's sequence of lines is the one expected next.
	if c.prevLine >= 0 {
		c.entry(c.prevLine).next = -1
	} else {
		c.head = -1
	}
	c.expect, c.prevLine, c.matched, c.missLen = c.head, -1, -1, -1
	if ok {
		c.lastGood = c.live
	}
	c.prevTracked, c.curTracked, c.carried = c.curTracked, 0, 0
	c.prevIter = c.iter
	c.seen = 0
	c.prevText, c.seqText = c.seqText, false
	c.iter++
	if c.iter == 0 {
		c.iter = 1 // zero means never
	}
}

// forgetOld forgets the entries not seen in this or the previous scrape.
func (c *seriesCache) forgetOld() {
	c.tableForget()
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

// resetLabels forgets every cached label set (after honor_labels, label_limit
// or metric_relabel_configs changed) but keeps staleness tracking, so series
// that relabel differently now still get their stale markers.
func (c *seriesCache) resetLabels() {
	for idx := range c.used {
		if e := c.entry(idx); e.findable() {
			e.state = slotDetached
			c.detached++
		}
	}
	c.tableClear()
	c.collided = nil
	c.live = 0
	c.head, c.expect, c.prevLine, c.matched, c.missLen = -1, -1, -1, -1, -1
	c.seen = 0
	c.prevText, c.seqText = false, false
}
