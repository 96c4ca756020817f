package tsdb

import (
	"bytes"
	"encoding/binary"
	"math"
)

// Mid-chunk checkpoints let a read of a short time range start decoding
// near the range instead of at the chunk start: the encoder records its
// state every cpEvery samples (xorChunk.cps), and sealing keeps that record
// beside the sealed bytes (sealedChunk.cps). A chunk without checkpoints
// (cps nil, or an entry with pos 0) is decoded from its start, with the same
// result.
//
// Cost (BenchmarkMemory, BenchmarkIngest; figures in bench/NATIVE.md): a
// 112-byte object and a pointer per sealed chunk and 100 bytes in each
// series' open chunk, about 1.2 bytes per sample at 2 h of 15 s samples;
// no measurable ingest cost.

// cpEvery is the sample distance between checkpoints. A read of n samples
// decodes n + cpEvery/2 on average; 20 halves the extra of 30 for a 5 m
// window of 15 s samples at 60% more memory (30: 0.65 B/sample, 20: 1.2).
const cpEvery = 20

// cpPerChunk is the number of checkpoints of a full chunk: before samples
// cpEvery, 2*cpEvery, ... (none at sample 0).
const cpPerChunk = samplesPerChunk/cpEvery - 1

// checkpoints holds a chunk's checkpoints: cp[k] is the state before
// sample (k+1)*cpEvery (100 bytes, a 112-byte object).
type checkpoints struct {
	cp [cpPerChunk]checkpoint
}

// checkpoint is a compact xorState (20 bytes): timestamps relative to the
// chunk's first sample. A zero pos marks an unused entry.
type checkpoint struct {
	dt                uint32 // previous sample's timestamp - chunk mint
	delta             uint32 // previous timestamp delta
	vlo, vhi          uint32 // previous value's bits
	pos               uint16 // bit offset of the sample, header included
	leading, trailing uint8
}

// state expands entry k of a chunk whose first timestamp is mint.
func (c *checkpoint) state(k int, mint int64) xorState {
	return xorState{
		t:        mint + int64(c.dt),
		delta:    int64(c.delta),
		vb:       uint64(c.vhi)<<32 | uint64(c.vlo),
		pos:      uint32(c.pos),
		i:        uint16((k + 1) * cpEvery),
		leading:  c.leading,
		trailing: c.trailing,
	}
}

// start returns the latest checkpoint of a chunk with total samples and
// first timestamp mint from which samples at or after lo can be decoded,
// or false if decoding must start at the chunk start. cps may be nil.
func (cps *checkpoints) start(total int, mint, lo int64) (xorState, bool) {
	if cps == nil || lo <= mint {
		return xorState{}, false
	}
	d := lo - mint // > 0
	for k := len(cps.cp) - 1; k >= 0; k-- {
		if c := &cps.cp[k]; c.pos != 0 && int64(c.dt) < d && (k+1)*cpEvery < total {
			return c.state(k, mint), true
		}
	}
	return xorState{}, false
}

// checkpoint records the encoder state before sample c.num if it is a
// checkpoint position and the state fits the compact form. Append calls it.
func (c *xorChunk) checkpoint() {
	k := int(c.num)/cpEvery - 1
	if k < 0 || k >= cpPerChunk || int(c.num)%cpEvery != 0 {
		return
	}
	mint, n := binary.Varint(c.b[2:])
	dt := c.t - mint
	if n <= 0 || dt < 0 || dt > math.MaxUint32 || c.tDelta > math.MaxUint32 || c.nbits > math.MaxUint16 {
		c.cps.cp[k] = checkpoint{}
		return
	}
	lead, trail := c.leading, c.trailing
	if lead == 0xff { // no XOR window yet
		lead, trail = 0, 0
	}
	c.cps.cp[k] = checkpoint{
		dt:       uint32(dt),
		delta:    uint32(c.tDelta),
		vlo:      uint32(c.v),
		vhi:      uint32(c.v >> 32),
		pos:      uint16(c.nbits),
		leading:  lead,
		trailing: trail,
	}
}

// sealedCheckpoints returns a copy of the open chunk's checkpoints for its
// sealed form, or nil if it has none.
func (c *xorChunk) sealedCheckpoints() *checkpoints {
	if c.cps.cp[0].pos == 0 {
		return nil
	}
	cps := new(checkpoints)
	*cps = c.cps
	return cps
}

// checkpointsOf computes the checkpoints of chunk data, whose samples are
// ts and vs, by encoding them again. It returns nil if the chunk is not what
// this encoder writes for them (then the bit offsets would not match).
func checkpointsOf(data []byte, ts []int64, vs []float64) *checkpoints {
	if len(ts) <= cpEvery {
		return nil
	}
	var c xorChunk
	c.Reset(make([]byte, 2, len(data)+maxSampleBytes+8))
	for i := range ts {
		c.Append(0, ts[i], vs[i])
	}
	if !bytes.Equal(c.b, data) {
		return nil
	}
	return c.sealedCheckpoints()
}
