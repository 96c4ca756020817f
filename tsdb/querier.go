package tsdb

import (
	"context"
	"math"
	"slices"

	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/tsdb/chunkenc"
	"github.com/prometheus/prometheus/util/annotations"
)

// Querier returns a querier over samples in [mint, maxt] (inclusive,
// milliseconds). Each Select snapshots the matching series: sealed chunks are
// shared, open chunks are copied, so appends may continue meanwhile.
func (db *DB) Querier(mint, maxt int64) (storage.Querier, error) {
	return &querier{db: db, mint: mint, maxt: maxt, unpin: db.slab.pin()}, nil
}

type querier struct {
	db         *DB
	mint, maxt int64
	// unpin ends the querier's pin of the chunk files: the series sets of
	// its Selects share sealed chunks' bytes until Close.
	unpin func()
}

// Close implements storage.Querier. The series sets of its Selects must
// not be read after it.
func (q *querier) Close() error {
	q.unpin()
	return nil
}

// Select implements storage.Querier. hints may be nil.
func (q *querier) Select(ctx context.Context, sortSeries bool, _ *storage.SelectHints, ms ...*labels.Matcher) storage.SeriesSet {
	refs := q.db.index.postings(nil, ms...)
	set := &seriesSet{i: -1}
	var (
		slab  []sealedChunk
		bytes []byte
		spans []int // per series: end offset in slab
	)
	for i, ref := range refs {
		if i%256 == 0 && ctx.Err() != nil {
			return storage.ErrSeriesSet(ctx.Err())
		}
		s := q.db.series.getByRef(ref)
		if s == nil {
			continue
		}
		start := len(slab)
		s.mu.Lock()
		slab = s.snapshot(slab, &bytes, q.mint, q.maxt)
		var ext *extView
		if s.ext != nil {
			ext = s.ext.view(q.mint, q.maxt)
		}
		lset := q.db.series.labelsLocked(s)
		s.mu.Unlock()
		if len(slab) == start && (ext == nil || len(ext.hchunks) == 0) {
			continue
		}
		set.series = append(set.series, seriesView{lset: lset, mint: q.mint, maxt: q.maxt, ext: ext})
		spans = append(spans, len(slab))
	}
	start := 0
	for i := range set.series {
		set.series[i].chunks = slab[start:spans[i]:spans[i]]
		start = spans[i]
	}
	if sortSeries {
		slices.SortFunc(set.series, func(a, b seriesView) int { return labels.Compare(a.lset, b.lset) })
	}
	return set
}

// snapshot appends to dst the chunks overlapping [mint, maxt]; the open
// chunk's bytes are copied into *buf. Callers hold s.mu.
func (s *memSeries) snapshot(dst []sealedChunk, buf *[]byte, mint, maxt int64) []sealedChunk {
	for i := range s.chunks {
		c := &s.chunks[i]
		if c.maxt >= mint && c.mint <= maxt {
			dst = append(dst, *c)
		}
	}
	if s.headSamples() > 0 && s.lastT >= mint && s.headMint <= maxt {
		b := s.head.Bytes()
		if cap(*buf)-len(*buf) < len(b) {
			*buf = make([]byte, 0, max(4096, 2*len(b)))
		}
		start := len(*buf)
		*buf = append(*buf, b...)
		dst = append(dst, newSealedChunk((*buf)[start:], s.headMint, s.lastT, uint16(s.headSamples())))
	}
	return dst
}

// LabelValues implements storage.LabelQuerier.
func (q *querier) LabelValues(ctx context.Context, name string, hints *storage.LabelHints, ms ...*labels.Matcher) ([]string, annotations.Annotations, error) {
	var vals []string
	if len(ms) == 0 {
		vals = q.db.index.labelValues(name)
	} else {
		seen := map[string]struct{}{}
		err := q.forEachMatching(ctx, ms, func(lset labels.Labels) {
			if v := lset.Get(name); v != "" {
				seen[v] = struct{}{}
			}
		})
		if err != nil {
			return nil, nil, err
		}
		for v := range seen {
			vals = append(vals, v)
		}
		slices.Sort(vals)
	}
	return limit(vals, hints), nil, nil
}

// LabelNames implements storage.LabelQuerier.
func (q *querier) LabelNames(ctx context.Context, hints *storage.LabelHints, ms ...*labels.Matcher) ([]string, annotations.Annotations, error) {
	var names []string
	if len(ms) == 0 {
		names = q.db.index.labelNames()
	} else {
		seen := map[string]struct{}{}
		err := q.forEachMatching(ctx, ms, func(lset labels.Labels) {
			lset.Range(func(l labels.Label) { seen[l.Name] = struct{}{} })
		})
		if err != nil {
			return nil, nil, err
		}
		for n := range seen {
			names = append(names, n)
		}
		slices.Sort(names)
	}
	return limit(names, hints), nil, nil
}

func limit(s []string, hints *storage.LabelHints) []string {
	if hints != nil && hints.Limit > 0 && len(s) > hints.Limit {
		return s[:hints.Limit]
	}
	return s
}

func (q *querier) forEachMatching(ctx context.Context, ms []*labels.Matcher, fn func(labels.Labels)) error {
	for i, ref := range q.db.index.postings(nil, ms...) {
		if i%256 == 0 && ctx.Err() != nil {
			return ctx.Err()
		}
		if s := q.db.series.getByRef(ref); s != nil {
			fn(q.db.series.labelsOf(s))
		}
	}
	return nil
}

type seriesView struct {
	lset       labels.Labels
	chunks     []sealedChunk
	mint, maxt int64
	ext        *extView // histograms and start timestamps; nil if none
}

func (s *seriesView) Labels() labels.Labels { return s.lset }

func (s *seriesView) Iterator(it chunkenc.Iterator) chunkenc.Iterator {
	if s.ext != nil {
		mi, ok := it.(*mixedIterator)
		if !ok {
			mi = &mixedIterator{}
		}
		mi.reset(s.chunks, s.ext, s.mint, s.maxt)
		return mi
	}
	si, ok := it.(*SampleIterator)
	if !ok {
		si = &SampleIterator{}
	}
	si.reset(s.chunks, s.mint, s.maxt)
	return si
}

type seriesSet struct {
	series []seriesView
	i      int
}

func (s *seriesSet) Next() bool {
	if s.i+1 >= len(s.series) {
		s.i = len(s.series)
		return false
	}
	s.i++
	return true
}

func (s *seriesSet) At() storage.Series                { return &s.series[s.i] }
func (s *seriesSet) Err() error                        { return nil }
func (s *seriesSet) Warnings() annotations.Annotations { return nil }

// SampleIterator iterates the float samples of one series within a time
// range, skipping its histogram samples and start timestamps. It implements chunkenc.Iterator and can be reused. It decodes one
// chunk at a time into internal buffers (see xordecode.go), so Next is an
// index increment and Seek a binary search within the chunk.
type SampleIterator = sampleIterator[int64]

// sampleIterator is generic only so that go vet's stdmethods check, which
// mistakes chunkenc.Iterator's Seek(int64) for io.Seeker's, stays quiet
// without being disabled. It is only ever instantiated with int64.
type sampleIterator[T ~int64] struct {
	chunks     []sealedChunk
	own        []sealedChunk // backing for chunks when filled by DB.SeriesIterator
	buf        []byte        // open-chunk copy when filled by DB.SeriesIterator
	lb         LabelsBuf     // the labels DB.SeriesIterator returns
	mint, maxt int64

	next int       // index of the next chunk to decode
	tbuf []int64   // decode buffers
	vbuf []float64 //
	ts   []int64   // current chunk's samples inside [mint, maxt]
	vs   []float64 //
	pos  int       // current sample in ts; -1 before the first
	done bool
	err  error
}

var _ chunkenc.Iterator = (*SampleIterator)(nil)

func (it *sampleIterator[T]) reset(chunks []sealedChunk, mint, maxt int64) {
	it.chunks = chunks
	it.mint, it.maxt = mint, maxt
	it.next, it.pos = 0, -1
	it.ts, it.vs = nil, nil
	it.done, it.err = false, nil
}

// loadNext decodes the next chunk that has samples in range and positions
// before its first sample. It returns false when no chunk is left.
func (it *sampleIterator[T]) loadNext() bool {
	for it.next < len(it.chunks) {
		c := &it.chunks[it.next]
		it.next++
		if c.maxt < it.mint {
			continue
		}
		if c.mint > it.maxt {
			break
		}
		var err error
		it.tbuf, it.vbuf, err = decodeXOR(c.bytes(), it.tbuf[:0], it.vbuf[:0])
		if err != nil {
			it.err = err
			break
		}
		lo, _ := slices.BinarySearch(it.tbuf, it.mint)
		hi, found := slices.BinarySearch(it.tbuf, it.maxt)
		if found {
			hi++
		}
		if lo >= hi {
			continue
		}
		it.ts, it.vs, it.pos = it.tbuf[lo:hi], it.vbuf[lo:hi], -1
		return true
	}
	it.done = true
	it.ts, it.vs = nil, nil
	return false
}

// Next implements chunkenc.Iterator.
func (it *sampleIterator[T]) Next() chunkenc.ValueType {
	if it.done {
		return chunkenc.ValNone
	}
	if it.pos+1 < len(it.ts) {
		it.pos++
		return chunkenc.ValFloat
	}
	if it.loadNext() {
		it.pos = 0
		return chunkenc.ValFloat
	}
	return chunkenc.ValNone
}

// Seek implements chunkenc.Iterator: it moves to the first sample at or after
// t, and does nothing if the current sample already qualifies.
func (it *sampleIterator[T]) Seek(ts T) chunkenc.ValueType {
	t := int64(ts)
	for !it.done {
		if n := len(it.ts); n > 0 && it.ts[n-1] >= t {
			if it.pos < 0 || it.ts[it.pos] < t {
				i, _ := slices.BinarySearch(it.ts, t)
				it.pos = max(it.pos, i)
			}
			return chunkenc.ValFloat
		}
		for it.next < len(it.chunks) && it.chunks[it.next].maxt < t {
			it.next++
		}
		if !it.loadNext() {
			break
		}
	}
	return chunkenc.ValNone
}

// At implements chunkenc.Iterator.
func (it *sampleIterator[T]) At() (int64, float64) { return it.ts[it.pos], it.vs[it.pos] }

// AtHistogram implements chunkenc.Iterator; a SampleIterator reads float
// chunks only (a series with histograms is read by mixedIterator), so it
// returns h unchanged.
func (it *sampleIterator[T]) AtHistogram(h *histogram.Histogram) (int64, *histogram.Histogram) {
	return it.AtT(), h
}

// AtFloatHistogram implements chunkenc.Iterator; a SampleIterator reads
// float chunks only, so it returns fh unchanged.
func (it *sampleIterator[T]) AtFloatHistogram(fh *histogram.FloatHistogram) (int64, *histogram.FloatHistogram) {
	return it.AtT(), fh
}

// AtT implements chunkenc.Iterator.
func (it *sampleIterator[T]) AtT() int64 {
	if it.pos < 0 || it.pos >= len(it.ts) {
		return math.MinInt64
	}
	return it.ts[it.pos]
}

// AtST implements chunkenc.Iterator: 0, as a SampleIterator reads float
// chunks only (start timestamps are read by mixedIterator).
func (it *sampleIterator[T]) AtST() int64 { return 0 }

// Err implements chunkenc.Iterator.
func (it *sampleIterator[T]) Err() error { return it.err }
