package tsdb

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"

	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/tsdb/chunkenc"
)

// This file is the version 3 part of a series in a snapshot (snapshot.go):
// its histogram chunks and start-timestamp runs.

// appendExt appends x's part of a series record (empty counts if x is nil).
func appendExt(b []byte, x *extView) []byte {
	if x == nil {
		return append(b, 0, 0)
	}
	b = binary.AppendUvarint(b, uint64(len(x.hchunks)))
	for _, c := range x.hchunks {
		data := c.c.Bytes()
		b = append(b, byte(c.c.Encoding()))
		b = binary.AppendVarint(b, c.mint)
		b = binary.AppendVarint(b, c.maxt)
		b = binary.AppendUvarint(b, uint64(len(data)))
		b = append(b, data...)
	}
	b = binary.AppendUvarint(b, uint64(len(x.sts)))
	for _, r := range x.sts {
		b = binary.AppendVarint(b, r.t)
		b = binary.AppendVarint(b, r.v)
		rel := byte(0)
		if r.rel {
			rel = 1
		}
		b = append(b, rel)
	}
	return b
}

// loadExt reads a series' histogram chunks and start-timestamp runs into s,
// whose float chunks, with sample times floatT, are loaded. Every chunk
// must decode within its bounds, and sample times must increase across
// both kinds.
func loadExt(r *snapReader, s *memSeries, lset labels.Labels, floatT []int64) error {
	nChunks := r.count()
	if r.err != nil {
		return r.err
	}
	if nChunks == 0 && len(floatT) == 0 {
		return corrupt("series %s has no chunks", lset)
	}
	var x *seriesExt
	if nChunks > 0 {
		x = s.ensureExt()
	}
	var histT []int64
	for k := 0; k < nChunks && r.err == nil; k++ {
		enc := r.byte()
		mint, maxt, raw := r.varint(), r.varint(), r.bytes()
		if r.err != nil {
			break
		}
		e := chunkenc.Encoding(enc)
		if e != chunkenc.EncHistogram && e != chunkenc.EncFloatHistogram {
			return corrupt("series %s: histogram chunk %d: encoding %d", lset, k, enc)
		}
		if nb, ok := layoutBuckets(raw); !ok || nb > MaxHistogramBuckets {
			return corrupt("series %s: histogram chunk %d: bad layout or more than %d buckets", lset, k, MaxHistogramBuckets)
		}
		c, err := chunkenc.FromData(e, append([]byte(nil), raw...))
		if err != nil {
			return corrupt("series %s: histogram chunk %d: %v", lset, k, err)
		}
		n := len(histT)
		var lastH *histogram.Histogram
		var lastFH *histogram.FloatHistogram
		if histT, lastH, lastFH, err = decodeHistChunk(c, histT); err != nil {
			return corrupt("series %s: histogram chunk %d: %v", lset, k, err)
		}
		if len(histT) == n || histT[n] != mint || histT[len(histT)-1] != maxt {
			return corrupt("series %s: histogram chunk %d mismatches its bounds", lset, k)
		}
		hc := histChunk{c: c, mint: mint, maxt: maxt}
		if k < nChunks-1 {
			x.hchunks = append(x.hchunks, hc)
			continue
		}
		app, err := c.Appender()
		if err != nil {
			return corrupt("series %s: open histogram chunk: %v", lset, err)
		}
		x.hhead, x.happ = hc, app
		x.lastHT, x.lastH, x.lastFH = maxt, lastH, lastFH
	}
	if r.err != nil {
		return r.err
	}
	if !disjoint(floatT, histT) {
		return corrupt("series %s: a float and a histogram sample share a time", lset)
	}
	return loadSTs(r, s, lset, s.newestT())
}

// decodeHistChunk appends the sample times of c to ts, checking that they
// increase, and returns its last histogram. A chunk chunkenc cannot decode
// (or panics on: the bytes come from a file) is an error.
func decodeHistChunk(c chunkenc.Chunk, ts []int64) (_ []int64, lastH *histogram.Histogram, lastFH *histogram.FloatHistogram, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("undecodable: %v", r)
		}
	}()
	if c.NumSamples() > math.MaxUint16-1 {
		return ts, nil, nil, errors.New("too many samples")
	}
	it := c.Iterator(nil)
	for typ := it.Next(); typ != chunkenc.ValNone; typ = it.Next() {
		t := it.AtT()
		if len(ts) > 0 && t <= ts[len(ts)-1] {
			return ts, nil, nil, errors.New("timestamps not increasing")
		}
		ts = append(ts, t)
		if typ == chunkenc.ValHistogram {
			_, lastH = it.AtHistogram(nil)
		} else {
			_, lastFH = it.AtFloatHistogram(nil)
		}
	}
	return ts, lastH, lastFH, it.Err()
}

// loadSTs reads a series' start-timestamp runs; their times must increase.
func loadSTs(r *snapReader, s *memSeries, lset labels.Labels, newest int64) error {
	n := r.count()
	if r.err != nil || n == 0 {
		return r.err
	}
	x := s.ensureExt()
	x.sts = make([]stRun, 0, n)
	prev := int64(math.MinInt64)
	for range n {
		t, v, rel := r.varint(), r.varint(), r.byte()
		if r.err != nil {
			return r.err
		}
		if t <= prev || rel > 1 {
			return corrupt("series %s: start timestamps unsorted or malformed", lset)
		}
		prev = t
		x.sts = append(x.sts, stRun{t: t, v: v, rel: rel == 1})
	}
	// The newest sample, for addST to tell a run of one sample.
	x.stPrev = newest
	return nil
}

// disjoint reports whether two ascending time lists share no element.
func disjoint(a, b []int64) bool {
	for len(a) > 0 && len(b) > 0 {
		switch {
		case a[0] == b[0]:
			return false
		case a[0] < b[0]:
			a = a[1:]
		default:
			b = b[1:]
		}
	}
	return true
}

// layoutBuckets returns the number of buckets the layout at the start of
// histogram chunk data declares (the spans' lengths added up), reading it
// as chunkenc writes it: a 3-byte header, the zero threshold (one byte, or
// 0xff and 8 more), then in varbit encoding the schema and the positive and
// negative spans (a count, then per span a length and an offset). A chunk
// whose layout cannot be read is reported as not ok. The snapshot loader
// refuses a chunk declaring more than MaxHistogramBuckets before chunkenc
// allocates them: a crafted file must not take gigabytes.
func layoutBuckets(data []byte) (n uint64, ok bool) {
	if len(data) < 4 {
		return 0, len(data) == 3 // an empty chunk has no layout
	}
	r := bitReader{b: data, pos: 3 * 8}
	zt, ok := r.bits(8)
	if ok && zt == 0xff {
		_, ok = r.bits(64)
	}
	if !ok {
		return 0, false
	}
	if _, ok = r.varbit(); !ok { // schema
		return 0, false
	}
	for range 2 {
		spans, ok := r.varbit()
		if !ok || spans > MaxHistogramBuckets {
			return 0, false
		}
		for range spans {
			length, ok := r.varbit()
			if _, ok2 := r.varbit(); !ok || !ok2 { // offset
				return 0, false
			}
			if n += length; n > MaxHistogramBuckets {
				return n, true
			}
		}
	}
	return n, true
}

// bitReader reads bits most significant first, as chunkenc writes them.
type bitReader struct {
	b   []byte
	pos int
}

func (r *bitReader) bits(n int) (uint64, bool) {
	if r.pos+n > 8*len(r.b) {
		return 0, false
	}
	var v uint64
	for range n {
		v = v<<1 | uint64(r.b[r.pos>>3]>>(7-r.pos&7)&1)
		r.pos++
	}
	return v, true
}

// varbit reads one of chunkenc's varbit numbers as its raw bits: an
// unsigned one's value (signed ones are skipped).
func (r *bitReader) varbit() (uint64, bool) {
	ones := 0
	for ones < 8 {
		b, ok := r.bits(1)
		if !ok {
			return 0, false
		}
		if b == 0 {
			break
		}
		ones++
	}
	sz := [...]int{0, 3, 6, 9, 12, 18, 25, 56, 64}[ones]
	return r.bits(sz)
}
