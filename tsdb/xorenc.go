package tsdb

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"math/bits"
	"slices"
)

// errChunkFull reports an append to a chunk that holds math.MaxUint16 samples.
var errChunkFull = errors.New("chunk capacity exceeded")

// xorChunk is the open chunk of a series. It writes the XOR format that
// xordecode.go reads (chunkenc.EncXOR), byte for byte what chunkenc's
// XORChunk appender writes for the same samples, but it places up to 56 bits
// at a time with one 64-bit store instead of writing bit by bit.
//
// Its method set mirrors the parts of chunkenc.XORChunk the store uses:
// Reset, Bytes, NumSamples, Appender and Append. The zero value is not usable
// until Reset.
type xorChunk struct {
	// b is the 2-byte big-endian sample count, then the bit stream. The bits
	// of b's last byte after the stream's end are zero; bytes between len(b)
	// and cap(b) are scratch space.
	b     []byte
	nbits uint // bits used in b, header included

	t        int64
	tDelta   uint64
	v        uint64 // bits of the last value
	num      uint16
	leading  uint8 // leading zeros of the current XOR window, 0xff if none yet
	trailing uint8
}

// Reset makes c hold data, a chunk as Bytes returns it (at least the 2-byte
// header). Call Appender before appending to a non-empty chunk.
func (c *xorChunk) Reset(data []byte) {
	c.b = data
	c.nbits = uint(len(data)) * 8
	c.num = binary.BigEndian.Uint16(data)
	c.t, c.tDelta, c.v = math.MinInt64, 0, 0
	c.leading, c.trailing = 0xff, 0
}

// Bytes returns the encoded chunk. It is valid until the next Append or Reset.
func (c *xorChunk) Bytes() []byte { return c.b }

// NumSamples returns the number of samples in the chunk.
func (c *xorChunk) NumSamples() int { return int(c.num) }

// Appender returns c ready to append after the samples it holds, restoring
// the encoder state (last timestamp, delta, value and XOR window) by decoding
// them and encoding them again. It fails if the chunk does not decode or is
// not what this encoder writes for its samples.
func (c *xorChunk) Appender() (*xorChunk, error) {
	if c.num == 0 {
		return c, nil
	}
	ts, vs, err := decodeXOR(c.b, nil, nil)
	if err != nil {
		return nil, err
	}
	var re xorChunk
	re.Reset(make([]byte, 2, len(c.b)+8))
	for i := range ts {
		re.Append(0, ts[i], vs[i])
	}
	if !bytes.Equal(re.b, c.b) {
		return nil, errBadChunk
	}
	data := c.b
	*c = re
	c.b = data
	return c, nil
}

// growFor makes the capacity at least need, growing by a quarter at a time
// to the allocator's next size class rather than by doubling: a series' open
// chunk is most of what it holds besides its sealed chunks, and a doubled
// buffer is a quarter empty on average (bench/FLEET.md). The bytes written
// past len(c.b) by the sample being appended are kept: the whole capacity
// is copied.
func (c *xorChunk) growFor(need int) {
	nb := make([]byte, len(c.b), sizeClass(max(need, cap(c.b)+cap(c.b)/4, headChunkAlloc)))
	copy(nb[:cap(c.b)], c.b[:cap(c.b)])
	c.b = nb
}

// byteClasses are the Go allocator's size classes from 48 to 2304 bytes
// (runtime/sizeclasses.go; TestSizeClasses checks them against the
// allocator).
var byteClasses = [...]uint16{48, 64, 80, 96, 112, 128, 144, 160, 176, 192, 208, 224, 240, 256,
	288, 320, 352, 384, 416, 448, 480, 512, 576, 640, 704, 768, 896, 1024, 1152, 1280, 1408, 1536,
	1792, 2048, 2304}

// sizeClass returns n rounded up to the allocator's size class when n is
// at most 2304, so that a buffer of that capacity uses its whole allocation,
// and n itself otherwise.
func sizeClass(n int) int {
	if n > int(byteClasses[len(byteClasses)-1]) {
		return n
	}
	i, _ := slices.BinarySearch(byteClasses[:], uint16(max(n, 0)))
	return int(byteClasses[i])
}

// writeBits appends the low n bits of u to the stream, 1 <= n <= 56. It
// writes past len(c.b) with one 64-bit store, growing the buffer only when
// that store would pass its capacity, so that an open chunk keeps no fixed
// slack for the next sample; Append sets the length once the sample is
// written.
func (c *xorChunk) writeBits(u uint64, n uint) {
	pos := c.nbits >> 3
	if pos+8 > uint(cap(c.b)) {
		c.growFor(int(pos) + 8)
	}
	w := c.b[pos : pos+8]
	var cur uint64
	if off := c.nbits & 7; off != 0 {
		cur = uint64(w[0]) << 56
		u = u << (64 - n) >> off
	} else {
		u <<= 64 - n
	}
	binary.BigEndian.PutUint64(w, cur|u)
	c.nbits += n
}

// writeBits64 appends the low n bits of u, 1 <= n <= 64.
func (c *xorChunk) writeBits64(u uint64, n uint) {
	if n > 56 {
		c.writeBits(u>>32, n-32)
		n = 32
	}
	c.writeBits(u, n)
}

// Append adds a sample. The start timestamp st is ignored, as chunkenc's XOR
// appender ignores it. Order is not checked: the caller does that.
func (c *xorChunk) Append(_, t int64, v float64) {
	vb := math.Float64bits(v)
	var tDelta uint64
	switch c.num {
	case 0:
		// The stream is byte-aligned after the header.
		c.b = binary.AppendVarint(c.b, t)
		c.nbits = uint(len(c.b)) * 8
		c.writeBits64(vb, 64)
	case 1:
		// Still byte-aligned: a varint and 64 value bits so far.
		tDelta = uint64(t - c.t)
		c.b = binary.AppendUvarint(c.b, tDelta)
		c.nbits = uint(len(c.b)) * 8
		c.writeValue(vb, 0, 0)
	case math.MaxUint16:
		panic("BUG: " + errChunkFull.Error())
	default:
		tDelta = uint64(t - c.t)
		dod := int64(tDelta - c.tDelta)
		// The timestamp bits go out with the value's when they fit.
		switch {
		case dod == 0:
			c.writeValue(vb, 0, 1)
		case bitRange(dod, 14):
			c.writeValue(vb, 0b10<<14|uint64(dod)&(1<<14-1), 16)
		case bitRange(dod, 17):
			c.writeValue(vb, 0b110<<17|uint64(dod)&(1<<17-1), 20)
		case bitRange(dod, 20):
			c.writeValue(vb, 0b1110<<20|uint64(dod)&(1<<20-1), 24)
		default:
			c.writeBits(0b1111, 4)
			c.writeBits64(uint64(dod), 64)
			c.writeValue(vb, 0, 0)
		}
	}
	c.b = c.b[:(c.nbits+7)>>3]
	c.t = t
	c.v = vb
	c.tDelta = tDelta
	c.num++
	binary.BigEndian.PutUint16(c.b, c.num)
}

// bitRange reports whether x fits the nbits-wide dod bucket, as chunkenc
// defines it.
func bitRange(x int64, nbits uint8) bool {
	return -((1<<(nbits-1))-1) <= x && x <= 1<<(nbits-1)
}

// writeValue writes the low pn bits of prefix (pn <= 24), then the XOR of
// vb with the previous value.
func (c *xorChunk) writeValue(vb, prefix uint64, pn uint) {
	delta := vb ^ c.v
	if delta == 0 {
		c.writeBits(prefix<<1, pn+1)
		return
	}
	leading := uint8(bits.LeadingZeros64(delta))
	trailing := uint8(bits.TrailingZeros64(delta))
	// Leading zeros are stored in 5 bits.
	if leading >= 32 {
		leading = 31
	}
	if c.leading != 0xff && leading >= c.leading && trailing >= c.trailing {
		// '10' and the bits inside the current window.
		sig := 64 - uint(c.leading) - uint(c.trailing)
		head, hn := prefix<<2|0b10, pn+2
		if sig+hn <= 56 {
			c.writeBits(head<<sig|delta>>c.trailing, sig+hn)
			return
		}
		c.writeBits(head, hn)
		c.writeBits64(delta>>c.trailing, sig)
		return
	}
	c.leading, c.trailing = leading, trailing
	sig := 64 - uint(leading) - uint(trailing)
	// '11', 5 bits of leading zeros, 6 bits of significant bit count (64
	// wraps to 0), then the significant bits.
	head, hn := prefix<<13|0b11<<11|uint64(leading)<<6|uint64(sig)&63, pn+13
	if sig+hn <= 56 {
		c.writeBits(head<<sig|delta>>trailing, sig+hn)
		return
	}
	c.writeBits(head, hn)
	c.writeBits64(delta>>trailing, sig)
}
