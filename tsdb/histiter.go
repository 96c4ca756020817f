package tsdb

import (
	"math"

	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/tsdb/chunkenc"
)

// mixedIterator iterates a series with an optional part (histogram.go): it
// merges the float samples and the histogram samples by time and gives each
// its start timestamp. Sample times never repeat across the two kinds, so
// the merge needs no tie rule. Histograms come from chunkenc's iterators,
// with the counter-reset hints those give (the chunk's header on its first
// sample, NotCounterReset after), as from Prometheus's head.
type mixedIterator = mixedIter[int64]

// mixedIter is generic for the reason sampleIterator is.
type mixedIter[T ~int64] struct {
	f          SampleIterator
	fT         int64 // the float stream's current time; math.MaxInt64 when done
	hs         []histChunk
	hk         int               // next histogram chunk to open
	hit        chunkenc.Iterator // current histogram chunk's iterator, nil if none
	reuse      chunkenc.Iterator
	hMaxt      int64 // maxt of hit's chunk
	hT         int64 // the histogram stream's current time; math.MaxInt64 when done
	hTyp       chunkenc.ValueType
	mint, maxt int64
	cur        chunkenc.ValueType
	started    bool
	sts        []stRun
	si         int
	err        error
}

var _ chunkenc.Iterator = (*mixedIterator)(nil)

func (it *mixedIter[T]) reset(chunks []sealedChunk, x *extView, mint, maxt int64) {
	it.f.reset(chunks, mint, maxt)
	it.hs, it.sts = x.hchunks, x.sts
	it.hk, it.hit, it.si = 0, nil, 0
	it.mint, it.maxt = mint, maxt
	it.fT, it.hT, it.hMaxt = math.MinInt64, math.MinInt64, math.MinInt64
	it.cur, it.started, it.err = chunkenc.ValNone, false, nil
}

func (it *mixedIter[T]) fNext() {
	if it.f.Next() == chunkenc.ValFloat {
		it.fT = it.f.AtT()
		return
	}
	it.fT = math.MaxInt64
	if err := it.f.Err(); err != nil {
		it.err = err
	}
}

func (it *mixedIter[T]) fSeek(t int64) {
	if it.fT >= t {
		return
	}
	if it.f.Seek(t) == chunkenc.ValFloat {
		it.fT = it.f.AtT()
		return
	}
	it.fT = math.MaxInt64
}

// hNext moves the histogram stream to its next sample in [mint, maxt].
func (it *mixedIter[T]) hNext() {
	for {
		if it.hit != nil {
			if typ := it.hit.Next(); typ != chunkenc.ValNone {
				t := it.hit.AtT()
				if t > it.maxt {
					break
				}
				if t < it.mint {
					continue
				}
				it.hT, it.hTyp = t, typ
				return
			}
			if err := it.hit.Err(); err != nil {
				it.err = err
				break
			}
			it.hit = nil
		}
		if it.hk >= len(it.hs) || it.hs[it.hk].mint > it.maxt {
			break
		}
		c := &it.hs[it.hk]
		it.hk++
		if c.maxt < it.mint {
			continue
		}
		it.hit = c.c.Iterator(it.reuse)
		it.reuse, it.hMaxt = it.hit, c.maxt
	}
	it.hit, it.hT = nil, math.MaxInt64
}

// hSeek moves the histogram stream to its first sample at or after t,
// skipping whole chunks that end before t.
func (it *mixedIter[T]) hSeek(t int64) {
	if it.hT >= t {
		return
	}
	if it.hit != nil && it.hMaxt < t {
		it.hit = nil
	}
	for it.hit == nil && it.hk < len(it.hs) && it.hs[it.hk].maxt < t {
		it.hk++
	}
	for it.hT < t {
		it.hNext()
	}
}

// pick makes the earlier of the two streams' samples the current one.
func (it *mixedIter[T]) pick() chunkenc.ValueType {
	switch {
	case it.fT == math.MaxInt64 && it.hT == math.MaxInt64:
		it.cur = chunkenc.ValNone
	case it.fT < it.hT:
		it.cur = chunkenc.ValFloat
	default:
		it.cur = it.hTyp
	}
	return it.cur
}

func (it *mixedIter[T]) start() {
	it.started = true
	it.fNext()
	it.hNext()
}

// Next implements chunkenc.Iterator.
func (it *mixedIter[T]) Next() chunkenc.ValueType {
	switch {
	case !it.started:
		it.start()
	case it.cur == chunkenc.ValNone:
		return chunkenc.ValNone
	case it.cur == chunkenc.ValFloat:
		it.fNext()
	default:
		it.hNext()
	}
	return it.pick()
}

// Seek implements chunkenc.Iterator.
func (it *mixedIter[T]) Seek(ts T) chunkenc.ValueType {
	t := int64(ts)
	if !it.started {
		it.start()
	} else if it.cur == chunkenc.ValNone {
		return chunkenc.ValNone
	}
	it.fSeek(t)
	it.hSeek(t)
	return it.pick()
}

// At implements chunkenc.Iterator.
func (it *mixedIter[T]) At() (int64, float64) { return it.f.At() }

// AtHistogram implements chunkenc.Iterator.
func (it *mixedIter[T]) AtHistogram(h *histogram.Histogram) (int64, *histogram.Histogram) {
	if it.hit == nil || it.cur == chunkenc.ValFloat {
		return it.AtT(), h
	}
	return it.hit.AtHistogram(h)
}

// AtFloatHistogram implements chunkenc.Iterator.
func (it *mixedIter[T]) AtFloatHistogram(fh *histogram.FloatHistogram) (int64, *histogram.FloatHistogram) {
	if it.hit == nil || it.cur == chunkenc.ValFloat {
		return it.AtT(), fh
	}
	return it.hit.AtFloatHistogram(fh)
}

// AtT implements chunkenc.Iterator.
func (it *mixedIter[T]) AtT() int64 {
	switch it.cur {
	case chunkenc.ValNone:
		return math.MinInt64
	case chunkenc.ValFloat:
		return it.fT
	}
	return it.hT
}

// AtST implements chunkenc.Iterator: the current sample's start timestamp,
// 0 if unknown.
func (it *mixedIter[T]) AtST() int64 {
	if it.cur == chunkenc.ValNone || len(it.sts) == 0 {
		return 0
	}
	t := it.AtT()
	// Samples only move forward, and so does the run cursor.
	for it.si+1 < len(it.sts) && it.sts[it.si+1].t <= t {
		it.si++
	}
	if r := &it.sts[it.si]; r.t <= t {
		return r.at(t)
	}
	return 0
}

// Err implements chunkenc.Iterator.
func (it *mixedIter[T]) Err() error { return it.err }
