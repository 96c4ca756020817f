package tsdb

import (
	"encoding/binary"
	"math"

	"github.com/prometheus/prometheus/model/histogram"
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
func loadExt(r *snapReader, s *memSeries, floatT []int64) error {
	lset := s.lset
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
		c, err := chunkenc.FromData(e, append([]byte(nil), raw...))
		if err != nil {
			return corrupt("series %s: histogram chunk %d: %v", lset, k, err)
		}
		n := len(histT)
		var lastH *histogram.Histogram
		var lastFH *histogram.FloatHistogram
		it := c.Iterator(nil)
		for typ := it.Next(); typ != chunkenc.ValNone; typ = it.Next() {
			t := it.AtT()
			if len(histT) > 0 && t <= histT[len(histT)-1] {
				return corrupt("series %s: histogram chunk %d: timestamps not increasing", lset, k)
			}
			histT = append(histT, t)
			if e == chunkenc.EncHistogram {
				_, lastH = it.AtHistogram(nil)
			} else {
				_, lastFH = it.AtFloatHistogram(nil)
			}
		}
		if it.Err() != nil || len(histT) == n || histT[n] != mint || histT[len(histT)-1] != maxt {
			return corrupt("series %s: histogram chunk %d does not decode or mismatches its bounds", lset, k)
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
	return loadSTs(r, s, s.newestT())
}

// loadSTs reads a series' start-timestamp runs; their times must increase.
func loadSTs(r *snapReader, s *memSeries, newest int64) error {
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
			return corrupt("series %s: start timestamps unsorted or malformed", s.lset)
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
