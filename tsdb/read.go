package tsdb

import (
	"math"

	"github.com/prometheus/prometheus/model/labels"
)

// This file is the low-level read API for evaluators that read samples
// straight from the chunks instead of going through storage.Querier. It
// allocates nothing per series once the caller's buffers have grown:
//
//	refs = db.Postings(refs[:0], matchers...)
//	for _, ref := range refs {
//		lset, ok := db.ReadRanges(ref, ranges, &smp)
//		if !ok { continue } // garbage-collected meanwhile
//		for i := range ranges { ts, vs := smp.Range(i); ... }
//	}
//
// ReadRanges decodes only the samples in the ranges, starting at the chunk
// checkpoint nearest before each range (checkpoint.go) and stopping after
// it; SeriesIterator positions a chunkenc.Iterator instead, decoding whole
// chunks.

// Postings appends to dst the refs of the series matching all matchers, in
// ascending order, with Prometheus matcher semantics. No matchers selects
// every series.
func (db *DB) Postings(dst []uint64, ms ...*labels.Matcher) []uint64 {
	return db.index.postings(dst, ms...)
}

// PostingsVersion returns a number that changes whenever a series is
// created or removed. While it stays the same, Postings returns the same
// refs for the same matchers, so a caller that read the version before
// calling Postings may keep the result until the version changes.
func (db *DB) PostingsVersion() uint64 {
	return db.index.version.Load()
}

// SeriesIterator positions it at the start of series ref's samples in
// [mint, maxt] and returns the series' labels, which alias it (valid until
// the next SeriesIterator into it; Copy them to keep them). It returns
// false if ref is unknown. The open chunk is copied into it's reusable
// buffer, so the iterator stays valid while appends continue; so are the
// sealed chunks when they are in chunk files (Options.ChunksDir), which
// may be removed.
func (db *DB) SeriesIterator(ref uint64, mint, maxt int64, it *SampleIterator) (labels.Labels, bool) {
	s := db.series.getByRef(ref)
	if s == nil {
		it.reset(nil, mint, maxt)
		return labels.EmptyLabels(), false
	}
	buf := it.buf[:0]
	s.mu.Lock()
	own := s.snapshot(it.own[:0], &buf, mint, maxt)
	if db.slab.files != nil {
		// it may be read at any time later: no pin could cover that.
		buf = copyChunkBytes(own, buf)
	}
	lset := db.series.labelsLockedInto(s, &it.lb)
	s.mu.Unlock()
	it.own, it.buf = own, buf
	it.reset(own, mint, maxt)
	return lset, true
}

// HasHistograms reports whether series ref has had histogram samples
// since it was created or loaded. ReadRanges, Slide and SeriesIterator
// skip them (they read float samples only): a reader that must see them
// uses the Querier.
func (db *DB) HasHistograms(ref uint64) bool {
	s := db.series.getByRef(ref)
	if s == nil {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ext != nil && s.ext.lastHT != math.MinInt64
}

// Range is a time range [Mint, Maxt], inclusive, in milliseconds.
type Range struct {
	Mint, Maxt int64
}

// Samples is the reusable destination of DB.ReadRanges: the samples of
// each range, one after another. The zero value is ready to use.
type Samples struct {
	T    []int64   // timestamps of all ranges, ascending within a range
	V    []float64 // values, stale markers included
	ends []int     // ends[i] is the end of range i in T and V
	lb   LabelsBuf // the labels ReadRanges returns
}

// Reset empties s, keeping its buffers.
func (s *Samples) Reset() {
	s.T, s.V, s.ends = s.T[:0], s.V[:0], s.ends[:0]
}

// Len returns the number of ranges in s.
func (s *Samples) Len() int { return len(s.ends) }

// Range returns range i's samples. They alias s and stay valid until the
// next Reset or ReadRanges into s.
func (s *Samples) Range(i int) ([]int64, []float64) {
	lo := 0
	if i > 0 {
		lo = s.ends[i-1]
	}
	hi := s.ends[i]
	return s.T[lo:hi:hi], s.V[lo:hi:hi]
}

// ReadRanges replaces the contents of dst with the float samples of series ref in
// each of rs (stale markers included) and returns the series' labels. The
// labels alias dst, like its samples: they stay valid until the next
// ReadRanges into dst (Copy them to keep them). It returns false if ref is
// unknown. The chunks are decoded under the series
// lock straight into dst, from the checkpoint nearest before each range and
// no further than its end, so nothing is copied and appends wait at most one
// short decode. Ranges may overlap; each gets its own copy of the samples.
func (db *DB) ReadRanges(ref uint64, rs []Range, dst *Samples) (labels.Labels, bool) {
	dst.Reset()
	s := db.series.getByRef(ref)
	if s == nil {
		return labels.EmptyLabels(), false
	}
	ts, vs := dst.T, dst.V
	var err error
	s.mu.Lock()
	for _, r := range rs {
		if ts, vs, err = s.appendRange(ts, vs, r.Mint, r.Maxt); err != nil {
			break
		}
		dst.ends = append(dst.ends, len(ts))
	}
	lset := db.series.labelsLockedInto(s, &dst.lb)
	s.mu.Unlock()
	if err != nil {
		// The chunks were validated when written or restored.
		panic("BUG: series " + lset.String() + ": " + err.Error())
	}
	dst.T, dst.V = ts, vs
	return lset, true
}

// appendRange appends the samples in [mint, maxt] to ts and vs. Callers
// hold s.mu.
func (s *memSeries) appendRange(ts []int64, vs []float64, mint, maxt int64) (_ []int64, _ []float64, err error) {
	if mint > maxt || s.lastT < mint {
		return ts, vs, nil
	}
	var past bool
	for i := range s.chunks {
		c := &s.chunks[i]
		if c.maxt < mint {
			continue
		}
		if c.mint > maxt {
			return ts, vs, nil
		}
		n := c.samples()
		if ts, vs, past, err = appendRange(c.bytes(), n, s.startState(i, n, c.mint, mint), mint, maxt, ts, vs); err != nil || past {
			return ts, vs, err
		}
	}
	if n := s.headSamples(); n > 0 && s.headMint <= maxt {
		ts, vs, _, err = appendRange(s.head.b, n, s.startState(len(s.chunks), n, s.headMint, mint), mint, maxt, ts, vs)
	}
	return ts, vs, err
}
