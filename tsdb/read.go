package tsdb

import (
	"github.com/prometheus/prometheus/model/labels"
)

// This file is the low-level read API for evaluators that read samples
// straight from the chunks instead of going through storage.Querier. It
// allocates nothing per series once the caller's buffers have grown:
//
//	refs = db.Postings(refs[:0], matchers...)
//	for _, ref := range refs {
//		lset, ok := db.SeriesIterator(ref, mint, maxt, &it)
//		if !ok { continue } // garbage-collected meanwhile
//		for it.Next() == chunkenc.ValFloat { t, v := it.At(); ... }
//	}

// Postings appends to dst the refs of the series matching all matchers, in
// ascending order, with Prometheus matcher semantics. No matchers selects
// every series.
func (db *DB) Postings(dst []uint64, ms ...*labels.Matcher) []uint64 {
	return db.index.postings(dst, ms...)
}

// SeriesIterator positions it at the start of series ref's samples in
// [mint, maxt] and returns the series' labels. It returns false if ref is
// unknown. The open chunk is copied into it's reusable buffer, so the
// iterator stays valid while appends continue.
func (db *DB) SeriesIterator(ref uint64, mint, maxt int64, it *SampleIterator) (labels.Labels, bool) {
	s := db.series.getByRef(ref)
	if s == nil {
		it.reset(nil, mint, maxt)
		return labels.EmptyLabels(), false
	}
	buf := it.buf[:0]
	s.mu.Lock()
	own := s.snapshot(it.own[:0], &buf, mint, maxt)
	lset := s.lset
	s.mu.Unlock()
	it.own, it.buf = own, buf
	it.reset(own, mint, maxt)
	return lset, true
}
