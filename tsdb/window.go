package tsdb

import (
	"slices"
	"unsafe"

	"github.com/prometheus/prometheus/model/labels"
)

// This file is the sliding-window read API. A rule evaluated every few
// seconds reads the same short windows of each series again and again, each
// time a little later: DB.Slide keeps a Window's samples decoded between
// calls and, when the window moves forward, drops the samples that left it
// and decodes only the new ones, resuming the XOR decoder where it stopped.
// At a 15 s scrape and evaluation interval that is one decoded sample per
// window per evaluation instead of a whole window.
//
// A Window holds exactly the samples DB.ReadRanges returns for the same
// range: samples appended after a Slide with timestamps inside the window
// (a scrape committed after the evaluation started) are picked up by the
// next one, because the decoder resumes at the first sample it has not
// consumed, not at a time. A window moved backwards, or so far forward that
// it no longer overlaps its previous range, is read again from the nearest
// checkpoint, as ReadRanges would.

// Window is one series' samples in a time range that moves forward between
// DB.Slide calls. The zero value is an empty window; a Window belongs to one
// series of one DB.
type Window struct {
	t  []int64   // t[lo:] and v[lo:] are the samples in [r.Mint, r.Maxt]
	v  []float64 //
	lo int
	r  Range
	// The decoder's position: the state before the first sample not yet
	// decoded, in the chunk whose first timestamp is chunk.
	chunk int64
	st    xorState
	valid bool // r, chunk and st are set
	// next is the address of the chunk byte at the decoder position when
	// it was last set, for Prefetch only: it may be stale, and is never
	// dereferenced.
	next uintptr
}

// Samples returns the window's samples, stale markers included. They alias
// w and stay valid until the next Slide or Reset of w.
func (w *Window) Samples() ([]int64, []float64) {
	return w.t[w.lo:len(w.t):len(w.t)], w.v[w.lo:len(w.v):len(w.v)]
}

// Reset empties w, keeping its buffers; the next Slide reads its range
// afresh.
func (w *Window) Reset() {
	w.t, w.v, w.lo, w.valid = w.t[:0], w.v[:0], 0, false
}

// Slide moves each ws[i] to the range rs[i] (len(ws) must be len(rs)) and
// each tallies[i] to trs[i] (see Tally) over series ref's samples and
// returns the series' labels, built in lb (see LabelsBuf; nil: a fresh
// allocation), or false if ref is unknown (the windows and tallies are then
// reset). All are moved under one series lock.
func (db *DB) Slide(ref uint64, rs []Range, ws []Window, trs []Range, tallies []Tally, lb *LabelsBuf) (labels.Labels, bool) {
	if len(ws) != len(rs) || len(tallies) != len(trs) {
		panic("BUG: Slide: windows and ranges differ in length")
	}
	s := db.series.getByRef(ref)
	if s == nil {
		for i := range ws {
			ws[i].Reset()
		}
		for i := range tallies {
			tallies[i].Reset()
		}
		return labels.EmptyLabels(), false
	}
	var err error
	s.mu.Lock()
	for i := range ws {
		if err = ws[i].slide(s, rs[i]); err != nil {
			break
		}
	}
	for i := range tallies {
		if err != nil {
			break
		}
		if err = tallies[i].slide(s, trs[i]); err != nil {
			tallies[i].Reset()
		}
	}
	lset := db.series.labelsLockedInto(s, lb)
	s.mu.Unlock()
	if err != nil {
		// The chunks were validated when written or restored.
		panic("BUG: series " + lset.String() + ": " + err.Error())
	}
	return lset, true
}

// slide moves w to r. Callers hold s.mu.
func (w *Window) slide(s *memSeries, r Range) error {
	if !w.valid || r.Mint < w.r.Mint || r.Maxt < w.r.Maxt || r.Mint > w.r.Maxt {
		return w.read(s, r)
	}
	// Drop the samples that left the window, then decode the new ones.
	w.lo += countBefore(w.t[w.lo:], r.Mint)
	if w.lo > 0 {
		n := copy(w.t, w.t[w.lo:])
		copy(w.v, w.v[w.lo:])
		w.t, w.v, w.lo = w.t[:n], w.v[:n], 0
	}
	w.r = r
	k, ok := s.chunkAt(w.chunk)
	if !ok {
		return w.read(s, r)
	}
	return w.decode(s, k, w.st, r)
}

// read fills w with the samples in r from scratch.
func (w *Window) read(s *memSeries, r Range) error {
	w.t, w.v, w.lo, w.r, w.valid = w.t[:0], w.v[:0], 0, r, false
	if r.Mint > r.Maxt {
		return nil
	}
	// Start in the first chunk that reaches r.Mint, else in the open chunk.
	k := 0
	for k < len(s.chunks) && s.chunks[k].maxt < r.Mint {
		k++
	}
	_, total, mint := s.chunkData(k)
	if total == 0 {
		// No samples at or after r.Mint and no open chunk to wait in:
		// w stays invalid and the next Slide reads afresh.
		return nil
	}
	st := s.startState(k, total, mint, r.Mint)
	w.chunk, w.valid = mint, true
	return w.decode(s, k, st, r)
}

// decode appends the samples in r from chunk k on, starting at state st of
// that chunk, and records where it stopped. Chunk len(s.chunks) is the open
// chunk.
func (w *Window) decode(s *memSeries, k int, st xorState, r Range) error {
	ts, vs := w.t, w.v
	var err error
	past := false
	for ; k <= len(s.chunks); k++ {
		data, total, mint := s.chunkData(k)
		if total == 0 {
			break
		}
		if ts, vs, past, err = decodeFrom(data, total, &st, r.Mint, r.Maxt, ts, vs); err != nil {
			w.Reset()
			return err
		}
		w.chunk, w.st = mint, st
		if p := int(st.pos >> 3); p < len(data) {
			w.next = uintptr(unsafe.Pointer(&data[p]))
		}
		if past || k == len(s.chunks) {
			break
		}
		st = xorState{}
	}
	w.t, w.v, w.valid = ts, vs, true
	return nil
}

// chunkData returns chunk k of s (len(s.chunks): the open chunk) with its
// sample count and first timestamp. Callers hold s.mu.
func (s *memSeries) chunkData(k int) (data []byte, total int, mint int64) {
	if k < len(s.chunks) {
		c := &s.chunks[k]
		return c.bytes(), c.samples(), c.mint
	}
	if n := s.headSamples(); n > 0 {
		return s.head.b, n, s.headMint
	}
	return nil, 0, 0
}

// chunkAt returns the index of the chunk whose first timestamp is mint
// (len(s.chunks) for the open chunk), searching from the newest. Callers
// hold s.mu.
func (s *memSeries) chunkAt(mint int64) (int, bool) {
	if s.headSamples() > 0 && s.headMint == mint {
		return len(s.chunks), true
	}
	for k := len(s.chunks) - 1; k >= 0; k-- {
		switch c := s.chunks[k].mint; {
		case c == mint:
			return k, true
		case c < mint:
			return 0, false
		}
	}
	return 0, false
}

// countBefore returns the number of leading ts below t.
func countBefore(ts []int64, t int64) int {
	if len(ts) == 0 || ts[0] >= t {
		return 0
	}
	if len(ts) <= 8 {
		n := 0
		for n < len(ts) && ts[n] < t {
			n++
		}
		return n
	}
	n, _ := slices.BinarySearch(ts, t)
	return n
}

// Prefetch asks the CPU to start loading what a Slide of series ref will
// read first (the series' lock, open chunk state, chunk list and label header:
// its four cache lines), so that an evaluator can overlap those
// cache misses with the work on earlier series. It reads nothing itself
// beyond the ref table.
func (db *DB) Prefetch(ref uint64) {
	s := db.series.getByRef(ref)
	if s == nil {
		return
	}
	a := uintptr(unsafe.Pointer(s))
	prefetch4(a, a+64, a+128, a+192)
}

// Prefetch asks the CPU to start loading w's decoded samples, which the
// next Slide of w moves, and the chunk bytes it will decode next.
func (w *Window) Prefetch() {
	if cap(w.t) == 0 {
		return
	}
	t, v := uintptr(unsafe.Pointer(unsafe.SliceData(w.t))), uintptr(unsafe.Pointer(unsafe.SliceData(w.v)))
	if w.next == 0 {
		prefetch4(t, t+64, v, v+64)
		return
	}
	prefetch4(t, v, w.next, w.next+64)
}
