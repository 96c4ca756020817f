package scrape

import (
	"unsafe"

	"github.com/prometheus/prometheus/model/labels"
)

// cacheEntry is what a target remembers about one exposed series line. It
// fits one 64-byte cache line (the allocator's 64-byte size class).
type cacheEntry struct {
	key  string        // the raw series line (in the cache's key arena); also its key in seriesCache.series
	ref  uint64        // store reference, 0 if the store gave none
	lset labels.Labels // labels after target labels and metric relabeling
	// lastIter is the scrape iteration the line was last seen in, and
	// seqIdx its last position in that scrape's lines (seriesCache.seq).
	// Iterations are 32-bit: they wrap after 2^32 scrapes, and an entry
	// not seen for two scrapes is forgotten long before.
	lastIter uint32
	seqIdx   int32
	// trackIter is the scrape iteration in which the series was last
	// tracked for staleness (exposed without an explicit timestamp).
	trackIter uint32
	dropped   bool // metric relabeling dropped the line; ref and lset are unset
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
//
// Staleness tracking costs no map operation per sample either: a tracked
// entry is stamped with the scrape iteration and appended to a list, and the
// previous scrape's list is compared with the stamps at the end. Maps keyed
// by ref are built only when a series of the previous scrape is missing, to
// write one marker per ref and none for a ref another line still exposes.
type seriesCache struct {
	// series is keyed by the raw Series() bytes, for kept and dropped
	// lines alike; lookups use series[string(b)], which does not allocate.
	series map[string]*cacheEntry
	// cur and prev are the entries tracked (exposed without an explicit
	// timestamp, with a ref) in this and the previous scrape, each once.
	cur, prev []*cacheEntry
	// prevSeq is the previous scrape's lines in order, seq this scrape's so
	// far; pos is the index in prevSeq of the line expected next.
	prevSeq, seq []*cacheEntry
	pos          int
	// seen counts the entries of series seen in this scrape, so that the
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

	// The keys of all entries are packed in arena chunks (keyBuf is the
	// one being filled), mostly in the order the lines were first seen, so
	// that the comparisons of a scrape read them as one sequential stream,
	// not one scattered allocation per line. keyAlloc is the size of the
	// chunks that may hold live keys, keyLive the bytes of the keys in
	// series; compactKeys copies the live keys to one chunk when the dead
	// ones waste too much.
	keyBuf            []byte
	keyAlloc, keyLive int
}

// Key arena chunk sizes: a new chunk is an eighth of the live key bytes,
// within these bounds, so the unused end of the newest chunk stays small.
const (
	minKeyChunk = 1 << 10
	maxKeyChunk = 64 << 10
)

func newSeriesCache() *seriesCache {
	c := &seriesCache{series: map[string]*cacheEntry{}, iter: 1}
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
		if e.lastIter+1 == c.iter {
			c.pos = int(e.seqIdx) + 1
		}
	}
	seen := e.lastIter == c.iter
	if !seen {
		e.lastIter = c.iter
		c.seen++
	}
	c.appendSeq(e)
	return e, seen
}

// maxReserve bounds reserve: a body promising more lines grows the cache
// as its samples are appended.
const maxReserve = 1 << 20

// reserve sizes an empty cache for a target exposing about n series, so
// that its first scrapes neither rehash the map nor regrow the line lists
// (and the lists carry no growth slack). A cache in use is left alone.
func (c *seriesCache) reserve(n int) {
	if len(c.series) > 0 || cap(c.seq) > 0 || n <= 0 {
		return
	}
	n = min(n, maxReserve)
	c.series = make(map[string]*cacheEntry, n)
	c.seq, c.prevSeq = make([]*cacheEntry, 0, n), make([]*cacheEntry, 0, n)
	c.cur, c.prev = make([]*cacheEntry, 0, n), make([]*cacheEntry, 0, n)
}

// empty reports whether the cache knows no line.
func (c *seriesCache) empty() bool { return len(c.series) == 0 }

// appendSeq records e, seen in this scrape, as its next line.
func (c *seriesCache) appendSeq(e *cacheEntry) {
	e.seqIdx = int32(len(c.seq))
	c.seq = append(c.seq, e)
}

func (c *seriesCache) add(line []byte, ref uint64, lset labels.Labels) *cacheEntry {
	e := &cacheEntry{key: c.intern(line), ref: ref, lset: lset, lastIter: c.iter}
	c.series[e.key] = e
	c.seen++
	c.appendSeq(e)
	return e
}

// addDropped records that metric relabeling dropped line.
func (c *seriesCache) addDropped(line []byte) {
	e := &cacheEntry{key: c.intern(line), dropped: true, lastIter: c.iter}
	c.series[e.key] = e
	c.seen++
	c.appendSeq(e)
}

// intern returns a copy of line in the key arena.
func (c *seriesCache) intern(line []byte) string {
	if len(line) == 0 {
		return ""
	}
	if cap(c.keyBuf)-len(c.keyBuf) < len(line) {
		n := max(len(line), min(max(c.keyLive/8, minKeyChunk), maxKeyChunk))
		c.keyBuf = make([]byte, 0, n)
		c.keyAlloc += n
	}
	c.keyLive += len(line)
	start := len(c.keyBuf)
	c.keyBuf = append(c.keyBuf, line...)
	// The chunk is never written again below len, so the string is
	// immutable; it keeps the chunk alive.
	return unsafe.String(&c.keyBuf[start], len(line))
}

// compactKeys moves the keys of all entries to one new chunk, those of this
// scrape's lines first and in order, and re-keys the map with them, so the
// chunks that held dead keys can be freed. Call it at the end of a scrape.
func (c *seriesCache) compactKeys() {
	c.keyBuf = make([]byte, 0, c.keyLive)
	c.keyAlloc, c.keyLive = c.keyLive, 0
	// An entry is moved once; a key already in the new chunk is moved.
	moved := func(e *cacheEntry) bool {
		if len(e.key) == 0 || len(c.keyBuf) == 0 {
			return false
		}
		p := uintptr(unsafe.Pointer(unsafe.StringData(e.key)))
		lo := uintptr(unsafe.Pointer(unsafe.SliceData(c.keyBuf)))
		return p >= lo && p < lo+uintptr(cap(c.keyBuf))
	}
	move := func(e *cacheEntry) {
		if moved(e) {
			return
		}
		e.key = c.intern(unsafe.Slice(unsafe.StringData(e.key), len(e.key)))
		// Assigning to an existing string key replaces the stored key.
		c.series[e.key] = e
	}
	for _, e := range c.seq {
		if c.series[e.key] == e {
			move(e)
		}
	}
	for _, e := range c.series {
		move(e)
	}
}

// setRef points e at a new store reference (after the store recreated a
// garbage-collected series); its staleness tracking follows it.
func (c *seriesCache) setRef(e *cacheEntry, ref uint64) {
	e.ref = ref
}

// track records that e was exposed in this scrape.
func (c *seriesCache) track(e *cacheEntry) {
	if e.ref != 0 && e.trackIter != c.iter {
		e.trackIter = c.iter
		c.cur = append(c.cur, e)
	}
}

// forgetCurrent drops what this scrape tracked: the scrape failed and every
// series of the last successful scrape goes stale.
func (c *seriesCache) forgetCurrent() {
	for _, e := range c.cur {
		e.trackIter = 0
	}
	clear(c.cur)
	c.cur = c.cur[:0]
}

// forEachStale calls f once per ref for the series of the previous scrape
// that this scrape did not expose.
func (c *seriesCache) forEachStale(f func(e *cacheEntry)) {
	var done map[uint64]struct{} // refs exposed now or already reported
	for _, e := range c.prev {
		if e.trackIter == c.iter {
			continue
		}
		if done == nil {
			// A missing series: the rare case. Another line may expose
			// the same ref, and two missing lines may share one.
			done = make(map[uint64]struct{}, len(c.cur))
			for _, x := range c.cur {
				done[x.ref] = struct{}{}
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
	done := make(map[uint64]struct{}, len(c.prev))
	for _, e := range c.prev {
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
	n := len(c.series)
	flush := ok || n > 2*c.lastGood+1000
	// When every entry was seen in this scrape, none can be forgotten.
	if flush && c.seen < n {
		for k, e := range c.series {
			if c.iter-e.lastIter >= 2 {
				delete(c.series, k)
				c.keyLive -= len(k)
			}
		}
	}
	if c.keyAlloc > 2*c.keyLive+maxKeyChunk {
		c.compactKeys()
	}
	if ok {
		c.lastGood = len(c.series)
	}
	clear(c.prev)
	c.prev, c.cur = c.cur, c.prev[:0]
	// Every line of this scrape was seen now, so none was deleted above.
	clear(c.prevSeq)
	c.prevSeq, c.seq = c.seq, c.prevSeq[:0]
	c.pos, c.seen = 0, 0
	c.prevText, c.seqText = c.seqText, false
	c.iter++
	if c.iter == 0 {
		c.iter = 1 // zero means never
	}
}

// resetLabels forgets every cached label set (after honor_labels, label_limit
// or metric_relabel_configs changed) but keeps staleness tracking, so series
// that relabel differently now still get their stale markers.
func (c *seriesCache) resetLabels() {
	clear(c.series)
	c.keyBuf, c.keyAlloc, c.keyLive = nil, 0, 0
	clear(c.prevSeq)
	clear(c.seq)
	c.prevSeq, c.seq = c.prevSeq[:0], c.seq[:0]
	c.pos, c.seen = 0, 0
	c.prevText, c.seqText = false, false
}
