package tsdb

import (
	"encoding/binary"
	"errors"
	"math"
)

// errBadChunk reports a chunk that does not decode.
var errBadChunk = errors.New("malformed XOR chunk")

// This file decodes Prometheus's XOR chunk format (chunkenc.EncXOR) in bulk:
// a whole chunk at once into timestamp and value slices. Appends still use
// chunkenc's encoder; reads decode a chunk into reusable buffers so the
// iterator's Next is an index increment and Seek a binary search.
//
// Format: 2-byte big-endian sample count; first sample as varint timestamp
// and 64 raw value bits; second as uvarint timestamp delta and an XOR value;
// then per sample a delta-of-delta timestamp ('0' | '10'+14 bits |
// '110'+17 | '1110'+20 | '1111'+64) and an XOR value ('0' unchanged |
// '10' + bits inside the previous leading/trailing window | '11' + 5-bit
// leading zeros + 6-bit significant bit count (0 means 64) + bits).

// bitReader reads MSB-first bits from a byte slice.
type bitReader struct {
	b   []byte
	buf uint64 // next bits, left-aligned
	n   uint   // valid bits in buf
}

// refill tops buf up to at least 57 valid bits when the input allows.
// Bits of buf beyond n are either zero or already the true next stream bits,
// so OR-ing whole words in is idempotent.
func (r *bitReader) refill() {
	if len(r.b) >= 8 {
		k := (64 - r.n) / 8 // whole bytes that fit
		r.buf |= binary.BigEndian.Uint64(r.b) >> r.n
		r.b = r.b[k:]
		r.n += k * 8
		return
	}
	for r.n <= 56 && len(r.b) > 0 {
		r.buf |= uint64(r.b[0]) << (56 - r.n)
		r.b = r.b[1:]
		r.n += 8
	}
}

// bits reads k bits, 1 <= k <= 56.
func (r *bitReader) bits(k uint) (uint64, bool) {
	if r.n < k {
		r.refill()
		if r.n < k {
			return 0, false
		}
	}
	v := r.buf >> (64 - k)
	r.buf <<= k
	r.n -= k
	return v, true
}

// bits64 reads k bits, 1 <= k <= 64.
func (r *bitReader) bits64(k uint) (uint64, bool) {
	if k <= 56 {
		return r.bits(k)
	}
	hi, ok1 := r.bits(k - 32)
	lo, ok2 := r.bits(32)
	return hi<<32 | lo, ok1 && ok2
}

// decodeXOR appends the samples of an XOR chunk to ts and vs.
func decodeXOR(data []byte, ts []int64, vs []float64) ([]int64, []float64, error) {
	if len(data) < 2 {
		return ts, vs, errBadChunk
	}
	total := int(binary.BigEndian.Uint16(data))
	if total == 0 {
		return ts, vs, nil
	}
	p := data[2:]
	t, n := binary.Varint(p)
	if n <= 0 || len(p) < n+8 {
		return ts, vs, errBadChunk
	}
	vb := binary.BigEndian.Uint64(p[n:])
	p = p[n+8:]
	ts, vs = append(ts, t), append(vs, math.Float64frombits(vb))
	if total == 1 {
		return ts, vs, nil
	}
	d, n := binary.Uvarint(p)
	if n <= 0 {
		return ts, vs, errBadChunk
	}
	delta := int64(d)
	r := bitReader{b: p[n:]}
	var leading, trailing uint
	for i := 1; i < total; i++ {
		if r.n < 2 {
			r.refill()
		}
		// Fast path: regular interval and unchanged value, "0" "0".
		if i > 1 && r.n >= 2 && r.buf>>62 == 0 {
			r.buf <<= 2
			r.n -= 2
			t += delta
			ts, vs = append(ts, t), append(vs, math.Float64frombits(vb))
			continue
		}
		if i > 1 && r.n >= 1 && r.buf>>63 == 0 {
			r.buf <<= 1 // dod == 0
			r.n--
		} else if i > 1 {
			// Delta of delta: count up to four leading one bits.
			ones := uint(0)
			for ones < 4 {
				b, ok := r.bits(1)
				if !ok {
					return ts, vs, errBadChunk
				}
				if b == 0 {
					break
				}
				ones++
			}
			var sz uint
			switch ones {
			case 1:
				sz = 14
			case 2:
				sz = 17
			case 3:
				sz = 20
			case 4:
				sz = 64
			}
			if sz > 0 {
				b, ok := r.bits64(sz)
				if !ok {
					return ts, vs, errBadChunk
				}
				dod := int64(b)
				if sz < 64 && b > 1<<(sz-1) {
					dod = int64(b) - 1<<sz
				}
				delta += dod
			}
		}
		t += delta
		// XOR value: '0' unchanged, '10' reuse window, '11' new window.
		if r.n < 13 {
			r.refill()
		}
		var ctl uint64
		if r.n >= 13 {
			ctl = r.buf >> 62
			if ctl < 2 {
				ctl = 0
			}
		} else {
			b, ok := r.bits(1)
			if !ok {
				return ts, vs, errBadChunk
			}
			if b == 1 {
				if r.n < 1 {
					return ts, vs, errBadChunk
				}
				ctl = 2 | r.buf>>63
			}
			// Put the bit back: both paths below consume the full prefix.
			r.buf = r.buf>>1 | b<<63
			r.n++
		}
		switch ctl {
		case 0:
			r.buf <<= 1
			r.n--
		case 2:
			r.buf <<= 2
			r.n -= 2
		case 3:
			if r.n < 13 {
				return ts, vs, errBadChunk
			}
			hdr := (r.buf >> 51) & 0x7ff
			r.buf <<= 13
			r.n -= 13
			leading = uint(hdr >> 6)
			sig := uint(hdr & 63)
			if sig == 0 {
				sig = 64
			}
			if leading+sig > 64 {
				return ts, vs, errBadChunk
			}
			trailing = 64 - leading - sig
		}
		if ctl != 0 {
			sig := 64 - leading - trailing
			if sig == 0 {
				return ts, vs, errBadChunk
			}
			x, ok := r.bits64(sig)
			if !ok {
				return ts, vs, errBadChunk
			}
			vb ^= x << trailing
		}
		ts, vs = append(ts, t), append(vs, math.Float64frombits(vb))
	}
	return ts, vs, nil
}
