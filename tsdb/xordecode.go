package tsdb

import (
	"encoding/binary"
	"errors"
	"math"
	"math/bits"
)

// errBadChunk reports a chunk that does not decode.
var errBadChunk = errors.New("malformed XOR chunk")

// This file decodes Prometheus's XOR chunk format (chunkenc.EncXOR) in bulk
// into timestamp and value slices: a whole chunk (decodeXOR, for the
// iterator, whose Next is then an index increment and Seek a binary
// search), or only the samples of a time range, starting at a mid-chunk
// checkpoint (appendRange, for DB.ReadRanges; see checkpoint.go).
//
// Format: 2-byte big-endian sample count; first sample as varint timestamp
// and 64 raw value bits; second as uvarint timestamp delta and an XOR value;
// then per sample a delta-of-delta timestamp ('0' | '10'+14 bits |
// '110'+17 | '1110'+20 | '1111'+64) and an XOR value ('0' unchanged |
// '10' + bits inside the previous leading/trailing window | '11' + 5-bit
// leading zeros + 6-bit significant bit count (0 means 64) + bits).

// decodeXOR appends the samples of an XOR chunk to ts and vs.
func decodeXOR(data []byte, ts []int64, vs []float64) ([]int64, []float64, error) {
	if len(data) < 2 {
		return ts, vs, errBadChunk
	}
	total := int(binary.BigEndian.Uint16(data))
	ts, vs, _, err := appendRange(data, total, xorState{}, math.MinInt64, math.MaxInt64, ts, vs)
	return ts, vs, err
}

// xorState is the decoder's state before sample i of a chunk (i >= 1): the
// previous sample's timestamp and value bits, the timestamp delta, the XOR
// window and the bit offset of sample i from the start of the chunk (header
// included). For i == 1, pos is just after the first delta's uvarint.
type xorState struct {
	t, delta          int64
	vb                uint64
	pos               uint32 // a chunk holds at most 65535 samples of at most 154 bits
	i                 uint16
	leading, trailing uint8
}

// appendRange appends to ts and vs the samples of chunk data, which holds
// total samples, with lo <= t <= hi, decoding from state st (a checkpoint
// before lo, or the zero state: the chunk start). past reports that
// decoding stopped at a sample after hi, so no later chunk of the series
// has samples in range either.
func appendRange(data []byte, total int, st xorState, lo, hi int64, ts []int64, vs []float64) (_ []int64, _ []float64, past bool, err error) {
	if total == 0 {
		return ts, vs, false, nil
	}
	return decodeFrom(data, total, &st, lo, hi, ts, vs)
}

// decodeHead decodes the first sample of chunk data and returns it with
// the state before sample 1 (with pos 0 if the chunk holds one sample).
func decodeHead(data []byte, total int) (t int64, vb uint64, st xorState, err error) {
	p := data[2:]
	t, n := binary.Varint(p)
	if n <= 0 || len(p) < n+8 {
		return 0, 0, st, errBadChunk
	}
	vb = binary.BigEndian.Uint64(p[n:])
	p = p[n+8:]
	st = xorState{t: t, vb: vb, i: 1}
	if total == 1 {
		return t, vb, st, nil
	}
	d, m := binary.Uvarint(p)
	if m <= 0 {
		return 0, 0, st, errBadChunk
	}
	st.delta, st.pos = int64(d), uint32(len(data)-len(p)+m)*8
	return t, vb, st, nil
}

// decodeFrom decodes samples st.i to total-1 of chunk data (from the chunk
// start if st.i is 0), appending those with lo <= t <= hi to ts and vs. It
// stops at the first sample after hi (past is then true) and leaves in *st
// the state before it, or, having decoded every sample, a state with
// i == total.
//
// It reads by bit position: each sample starts with one unaligned 64-bit
// load (at least 57 valid bits), which usually holds the whole sample, so
// the loop-carried state is just the position. Reads past the end see
// zeros; a sample that ends past the data is an error, as in chunkenc.
func decodeFrom(data []byte, total int, st *xorState, lo, hi int64, ts []int64, vs []float64) (_ []int64, _ []float64, past bool, err error) {
	if int(st.i) >= total {
		return ts, vs, false, nil
	}
	if len(data) < 2 {
		return ts, vs, false, errBadChunk
	}
	if st.i == 1 && st.pos == 0 {
		// The chunk held one sample when decoding stopped after it: its
		// first delta has been written since.
		_, _, next, err := decodeHead(data, total)
		if err != nil {
			return ts, vs, false, err
		}
		*st = next
	}
	if st.i == 0 {
		t, vb, next, err := decodeHead(data, total)
		if err != nil {
			return ts, vs, false, err
		}
		if t > hi {
			return ts, vs, true, nil // *st stays at the chunk start
		}
		if t >= lo {
			ts, vs = append(ts, t), append(vs, math.Float64frombits(vb))
		}
		*st = next // pos 0 if total is 1: see above
		if total == 1 {
			return ts, vs, false, nil
		}
	}
	end := uint(len(data)) * 8
	pos := uint(st.pos)
	if pos >= end {
		return ts, vs, false, errBadChunk
	}
	t, delta, vb := st.t, st.delta, st.vb
	leading, trailing := uint(st.leading), uint(st.trailing)
	for i := int(st.i); i < total; i++ {
		// The state before sample i, kept for a stop after hi.
		pos0, delta0, vb0, lead0, trail0 := pos, delta, vb, leading, trailing
		w := peek(data, pos)
		avail := 64 - pos&7 // valid bits in w
		if i > 1 {
			if w>>63 == 0 { // dod == 0
				w <<= 1
				avail--
				pos++
			} else {
				dod, n := readDod(data, pos, w)
				delta += dod
				pos += n
				w = peek(data, pos)
				avail = 64 - pos&7
			}
		}
		t += delta
		// XOR value: '0' unchanged, '10' reuse window, '11' new window.
		if w>>63 != 0 {
			off := uint(2)
			if w>>62 == 3 {
				var ok bool
				if leading, trailing, ok = newWindow(w); !ok {
					return ts, vs, false, errBadChunk
				}
				off = 13
			}
			sig := 64 - leading - trailing
			if sig == 0 {
				return ts, vs, false, errBadChunk
			}
			var x uint64
			if off+sig <= avail {
				x = w << off >> (64 - sig)
			} else {
				x = readBits(data, pos+off, sig)
			}
			pos += off + sig
			vb ^= x << trailing
		} else {
			pos++
		}
		if pos > end {
			return ts, vs, false, errBadChunk
		}
		if t >= lo {
			if t > hi {
				*st = xorState{t: t - delta, delta: delta0, vb: vb0, pos: uint32(pos0), i: uint16(i), leading: uint8(lead0), trailing: uint8(trail0)}
				return ts, vs, true, nil
			}
			ts, vs = append(ts, t), append(vs, math.Float64frombits(vb))
		}
	}
	*st = xorState{t: t, delta: delta, vb: vb, pos: uint32(pos), i: uint16(total), leading: uint8(leading), trailing: uint8(trailing)}
	return ts, vs, false, nil
}

// newWindow reads the header of a value with a new XOR window, from w
// holding the value's bits from its '11' control bits on: 5 bits of leading
// zeros and 6 of significant bits (0 means 64). It returns false if they do
// not fit in 64.
func newWindow(w uint64) (leading, trailing uint, ok bool) {
	hdr := (w >> 51) & 0x7ff
	leading = uint(hdr >> 6)
	sig := uint(hdr & 63)
	if sig == 0 {
		sig = 64
	}
	if leading+sig > 64 {
		return 0, 0, false
	}
	return leading, 64 - leading - sig, true
}

// peek returns the 64 bits of data from bit p (at least 57 valid: the rest
// are the following bits, or zeros past the end).
func peek(data []byte, p uint) uint64 {
	b := int(p >> 3)
	if b+8 <= len(data) {
		return binary.BigEndian.Uint64(data[b:]) << (p & 7)
	}
	return peekEnd(data, p)
}

// peekEnd is peek within the last 8 bytes of data.
func peekEnd(data []byte, p uint) uint64 {
	b := int(p >> 3)
	var w uint64
	for k := range 8 {
		w <<= 8
		if b+k < len(data) {
			w |= uint64(data[b+k])
		}
	}
	return w << (p & 7)
}

// readBits returns the k bits at bit p, 1 <= k <= 64.
func readBits(data []byte, p, k uint) uint64 {
	if k <= 57 {
		return peek(data, p) >> (64 - k)
	}
	hi := peek(data, p) >> 32
	return hi<<(k-32) | peek(data, p+32)>>(64-(k-32))
}

// readDod decodes a delta of delta at bit p, whose first bit is 1 ('10'+14
// bits, '110'+17, '1110'+20 or '1111'+64); w is peek(p). It returns the
// value and the bits it takes.
func readDod(data []byte, p uint, w uint64) (int64, uint) {
	ones := uint(bits.LeadingZeros64(^w))
	var sz, n uint
	switch {
	case ones == 1:
		sz, n = 14, 2
	case ones == 2:
		sz, n = 17, 3
	case ones == 3:
		sz, n = 20, 4
	default:
		sz, n = 64, 4
	}
	b := readBits(data, p+n, sz)
	dod := int64(b)
	if sz < 64 && b > 1<<(sz-1) {
		dod = int64(b) - 1<<sz
	}
	return dod, n + sz
}

// decodeNext decodes the sample after state st of chunk data (which holds
// more than st.i samples) and leaves in st the state after it: decodeFrom's
// loop body for one sample, without its set-up, for Tally, which steps
// through chunks a sample at a time. TestDecodeNext checks it against
// decodeFrom.
func decodeNext(data []byte, st *xorState) error {
	pos := uint(st.pos)
	if st.i < 2 || int(pos>>3)+16 > len(data) {
		_, _, _, err := decodeFrom(data, int(st.i)+1, st, math.MaxInt64, math.MaxInt64, nil, nil)
		return err
	}
	w := peek(data, pos)
	avail := 64 - pos&7
	delta := st.delta
	if w>>63 == 0 {
		w <<= 1
		avail--
		pos++
	} else {
		dod, n := readDod(data, pos, w)
		delta += dod
		pos += n
		w = peek(data, pos)
		avail = 64 - pos&7
	}
	vb, leading, trailing := st.vb, uint(st.leading), uint(st.trailing)
	if w>>63 != 0 {
		off := uint(2)
		if w>>62 == 3 {
			var ok bool
			if leading, trailing, ok = newWindow(w); !ok {
				return errBadChunk
			}
			off = 13
		}
		sig := 64 - leading - trailing
		if sig == 0 {
			return errBadChunk
		}
		var x uint64
		if off+sig <= avail {
			x = w << off >> (64 - sig)
		} else {
			x = readBits(data, pos+off, sig)
		}
		vb ^= x << trailing
		pos += off + sig
	} else {
		pos++
	}
	st.t += delta
	st.delta, st.vb, st.pos, st.i, st.leading, st.trailing = delta, vb, uint32(pos), st.i+1, uint8(leading), uint8(trailing)
	return nil
}
