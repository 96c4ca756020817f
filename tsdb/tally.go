package tsdb

import (
	"math"
	"unsafe"

	"github.com/prometheus/prometheus/model/value"
)

// This file is the running-summary half of the sliding-window read API
// (window.go). Many window functions need not see a window's samples at
// all: rate, increase and delta need its first and last sample and whether
// a counter reset lies between; count_over_time, last_over_time, changes,
// resets and an instant selector need counts and the last sample. A Tally
// keeps just that for a range that moves forward between DB.Slide calls,
// with two decoder cursors over the compressed chunks instead of decoded
// samples: one at the window's first sample and one at its last. Moving
// the window decodes the samples that enter it at the last cursor and those
// that leave it at the first, updating the counts pair by pair. At a 15 s
// scrape and evaluation interval that is two decoded samples per window and
// evaluation (the next timestamp is usually known without decoding: see
// peekT), and 128 bytes of state instead of a window's samples.
//
// Like a Window, a Tally describes exactly the samples DB.ReadRanges returns
// for its range: a sample committed late with a timestamp inside the range
// is picked up by the next move, because the last cursor resumes at the
// first sample it has not consumed.

// Tally is one series' running summary of the samples in a time range that
// moves forward between DB.Slide calls. The zero value is an empty tally
// that the next Slide reads afresh; a Tally belongs to one series of one DB.
type Tally struct {
	r Range
	// first is the decoder state just after the range's first sample (its
	// t and vb are that sample), valid if n > 0; last the state just after
	// the last sample decoded, which is the range's last sample if n > 0.
	first, last           xorState
	firstChunk, lastChunk int64 // the cursors' chunks, by first timestamp
	// Addresses of the chunk bytes at the last and the first cursor when
	// last set, for Prefetch only: they may be stale and are never
	// dereferenced.
	next, head uintptr
	// n counts the samples in the range and stale the stale markers among
	// them; resets and changes count over adjacent pairs of non-stale
	// samples. A range of more than maxTally samples is not summarised.
	n, stale, resets, changes uint16
	firstK, lastK             int16   // the cursors' chunk indices when last set, for chunkAtHint
	set                       bool    // the fields above describe r
	_                         [3]byte // to 128 bytes: TestTallySize
}

// maxTally is the most samples a Tally summarises: 10 minutes of samples
// every 10 ms, far more than any scrape produces.
const maxTally = math.MaxUint16 - 1

// Exact reports whether t summarises its range. It is false when the
// series has no samples; the caller must then read the range's samples
// (DB.ReadRanges).
func (t *Tally) Exact() bool { return t.set }

// Len returns the number of samples in the range, stale markers included.
func (t *Tally) Len() int { return int(t.n) }

// Stale returns the number of stale markers in the range.
func (t *Tally) Stale() int { return int(t.stale) }

// Resets returns the number of adjacent pairs of non-stale samples in the
// range whose second value is lower than the first (a counter reset).
func (t *Tally) Resets() int { return int(t.resets) }

// Changes returns the number of adjacent pairs of non-stale samples in the
// range whose values differ (two NaNs do not).
func (t *Tally) Changes() int { return int(t.changes) }

// First returns the range's first sample; Len must be positive.
func (t *Tally) First() (int64, float64) { return t.first.t, math.Float64frombits(t.first.vb) }

// Last returns the range's last sample; Len must be positive.
func (t *Tally) Last() (int64, float64) { return t.last.t, math.Float64frombits(t.last.vb) }

// Reset empties t; the next Slide reads its range afresh.
func (t *Tally) Reset() { *t = Tally{} }

// Prefetch asks the CPU to start loading the chunk bytes the next Slide of
// t reads first. It reads t: see PrefetchTallies.
func (t *Tally) Prefetch() {
	prefetch4(t.next, t.next+64, t.head, t.head+64)
}

// PrefetchTallies asks the CPU to start loading ts without reading them,
// so that a Prefetch of each, a little later, finds them cached.
func PrefetchTallies(ts []Tally) {
	if len(ts) == 0 {
		return
	}
	a := uintptr(unsafe.Pointer(unsafe.SliceData(ts)))
	end := a + uintptr(len(ts))*unsafe.Sizeof(ts[0])
	for ; a < end; a += 256 {
		prefetch4(a, a+64, a+128, a+192)
	}
}

// slide moves t to r. Callers hold s.mu.
func (t *Tally) slide(s *memSeries, r Range) error {
	if !t.set || r.Mint < t.r.Mint || r.Maxt < t.r.Maxt || r.Mint > t.r.Maxt {
		return t.read(s, r)
	}
	t.r = r
	if t.n > 0 && t.first.t < r.Mint {
		ok, err := t.dropBefore(s, r.Mint)
		if err != nil {
			return err
		}
		if !ok {
			return t.read(s, r)
		}
	}
	k, ok := s.chunkAtHint(t.lastChunk, int(t.lastK))
	if !ok {
		return t.read(s, r)
	}
	return t.extend(s, k)
}

// read sets t to r from scratch: from the checkpoint nearest before r.Mint
// in the first chunk that reaches it (else the open chunk).
func (t *Tally) read(s *memSeries, r Range) error {
	*t = Tally{r: r}
	if r.Mint > r.Maxt {
		return nil // t stays unset; the next Slide reads afresh
	}
	k := 0
	for k < len(s.chunks) && s.chunks[k].maxt < r.Mint {
		k++
	}
	_, total, mint := s.chunkData(k)
	if total == 0 {
		return nil // no samples at all: t stays unset (not Exact)
	}
	st := s.startState(k, total, mint, r.Mint)
	t.last, t.set = st, true
	t.lastChunk = mint
	return t.extend(s, k)
}

// extend decodes the samples after the last cursor, in chunk k and later
// ones, up to t.r.Maxt, adding those at or after t.r.Mint to the summary.
func (t *Tally) extend(s *memSeries, k int) error {
	data, total, _ := s.chunkData(k)
	maxt := t.r.Maxt
	for {
		prev := t.last.vb
		if int(t.last.i) < total {
			if nt, ok := peekT(data, &t.last); ok && nt > maxt {
				break // the next sample is after the range: not worth decoding
			}
			saved := t.last
			if err := decodeNext(data, &t.last); err != nil {
				return err
			}
			if t.last.t > maxt {
				t.last = saved
				break
			}
		} else {
			// The end of chunk k: go on in the next one, if any.
			if k >= len(s.chunks) {
				break // the open chunk: wait for more
			}
			next, n, mint := s.chunkData(k + 1)
			if n == 0 {
				break
			}
			var st xorState
			if err := decodeOne(next, &st); err != nil {
				return err
			}
			if st.t > maxt {
				break
			}
			k, data, total = k+1, next, n
			t.last, t.lastChunk = st, mint
		}
		if t.last.t >= t.r.Mint { // else before the range, which is empty
			if !t.add(prev) {
				return nil // too many samples: t is reset (not Exact)
			}
			if t.n == 1 {
				t.firstK = int16(min(k, math.MaxInt16))
			}
		}
	}
	t.next = byteAddr(data, uint(t.last.pos))
	t.lastK = int16(min(k, math.MaxInt16))
	return nil
}

// chunkAtHint is chunkAt trying chunk k first: a tally's cursors stay in
// the same chunk for many moves, and the index changes only when retention
// drops older chunks.
func (s *memSeries) chunkAtHint(mint int64, k int) (int, bool) {
	if k < len(s.chunks) && s.chunks[k].mint == mint {
		return k, true
	}
	return s.chunkAt(mint)
}

// byteAddr returns the address of the byte holding bit pos of data, or 0.
func byteAddr(data []byte, pos uint) uintptr {
	if p := int(pos >> 3); p < len(data) {
		return uintptr(unsafe.Pointer(&data[p]))
	}
	return 0
}

// add counts the sample just decoded (now t.last), whose predecessor had
// value bits prev. It reports false, having reset t, if the range holds more
// than maxTally samples.
func (t *Tally) add(prev uint64) bool {
	if value.IsStaleNaN(math.Float64frombits(t.last.vb)) {
		t.stale++
	}
	if t.n == 0 {
		t.first, t.firstChunk = t.last, t.lastChunk
		t.n = 1
		return true
	}
	if t.n == maxTally {
		t.Reset()
		return false
	}
	t.n++
	t.pair(prev, t.last.vb, 1)
	return true
}

// pair adds d (1, or MaxUint16 for -1) to the reset and change counts for
// adjacent samples with value bits a then b, unless one is a stale marker.
func (t *Tally) pair(a, b uint64, d uint16) {
	va, vb := math.Float64frombits(a), math.Float64frombits(b)
	if value.IsStaleNaN(va) || value.IsStaleNaN(vb) {
		return
	}
	if vb < va {
		t.resets += d
	}
	if vb != va && !(math.IsNaN(va) && math.IsNaN(vb)) {
		t.changes += d
	}
}

// dropBefore removes the samples before mint from the front of the range,
// decoding each next one at the first cursor. It reports false if the first
// cursor's chunk is gone (dropped by retention).
func (t *Tally) dropBefore(s *memSeries, mint int64) (bool, error) {
	k, ok := s.chunkAtHint(t.firstChunk, int(t.firstK))
	if !ok {
		return false, nil
	}
	data, total, _ := s.chunkData(k)
	for t.n > 0 && t.first.t < mint {
		gone := t.first.vb
		t.n--
		if value.IsStaleNaN(math.Float64frombits(gone)) {
			t.stale--
		}
		if t.n == 0 {
			t.first = xorState{}
			t.resets, t.changes = 0, 0 // no pairs are left
			break
		}
		// The next sample exists: the last cursor has decoded it.
		if int(t.first.i) >= total {
			k++
			data, total, t.firstChunk = s.chunkData(k)
			t.first = xorState{}
		}
		if err := decodeNext(data, &t.first); err != nil {
			return false, err
		}
		t.pair(gone, t.first.vb, math.MaxUint16) // -1
	}
	t.head = byteAddr(data, uint(t.first.pos))
	t.firstK = int16(min(k, math.MaxInt16))
	return true, nil
}

// peekT returns the timestamp of the sample after state st of chunk data
// (which holds more than st.i samples) if it can be known without decoding
// the sample: when its delta of delta is 0, a single '0' bit, as for most
// samples scraped at a fixed interval.
func peekT(data []byte, st *xorState) (int64, bool) {
	if p := st.pos >> 3; st.i >= 2 && int(p) < len(data) && data[p]&(0x80>>(st.pos&7)) == 0 {
		return st.t + st.delta, true
	}
	return 0, false
}

// decodeOne decodes the sample after state st of chunk data (which holds
// more than st.i samples) and leaves in st the state after it, whose t and
// vb are that sample.
func decodeOne(data []byte, st *xorState) error {
	_, _, _, err := decodeFrom(data, int(st.i)+1, st, math.MaxInt64, math.MaxInt64, nil, nil)
	return err
}
