package tsdb

import (
	"encoding/binary"
	"math"
)

// Mid-chunk checkpoints let a read of a short time range start decoding
// near the range instead of at the chunk start. The open chunk's encoder
// records its state every cpEvery samples as it appends (xorChunk.cps, in
// the series' own lines). A sealed chunk keeps none: the first read that
// starts inside it computes its checkpoints by decoding it once
// (computeCheckpoints) and caches them in the series' cpCache, which holds
// the last few chunks read that way. A rule reads the same few windows
// again and again, and a sliding window or tally (window.go, tally.go)
// moves without looking at checkpoints at all, so only the chunks where
// reads start pay for them, not the whole history (BENCH.md: storing them
// for every sealed chunk cost 0.93 bytes per sample at 2 h of 15 s
// samples). A chunk without checkpoints (or an entry with pos 0) is decoded
// from its start, with the same result.

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

// cpCacheSize is how many sealed chunks' checkpoints a series keeps: a
// rule's windows start in the open chunk (which has its own) and in one or
// two sealed chunks (a window an hour back, a window across the last cut).
const cpCacheSize = 2

// cpCache holds the checkpoints of the sealed chunks that reads started in
// most recently, keyed by chunk start time (unique within a series).
// Guarded by the series' mu.
type cpCache struct {
	e    [cpCacheSize]cpEntry
	next uint8 // the entry to replace next
}

type cpEntry struct {
	mint int64 // chunk start; 0 with an empty cps means unused
	cps  checkpoints
}

// sealedCheckpoints returns the checkpoints of sealed chunk k, computing
// and caching them if needed, or nil if a read from lo need not use any.
// Callers hold s.mu.
func (s *memSeries) sealedCheckpoints(k int, total int, lo int64) *checkpoints {
	c := &s.chunks[k]
	if total <= cpEvery || lo <= c.mint {
		return nil
	}
	if s.cpc == nil {
		s.cpc = new(cpCache)
	}
	for i := range s.cpc.e {
		if e := &s.cpc.e[i]; e.mint == c.mint && e.cps.cp[0].pos != 0 {
			return &e.cps
		}
	}
	e := &s.cpc.e[s.cpc.next]
	s.cpc.next = (s.cpc.next + 1) % cpCacheSize
	e.mint = c.mint
	computeCheckpoints(c.bytes(), total, c.mint, &e.cps)
	return &e.cps
}

// startState returns the decoder state from which to read chunk k of s
// (len(s.chunks): the open chunk, whose first timestamp is mint and which
// holds total samples) for samples at or after lo: a checkpoint, or the
// zero state (the chunk start). Callers hold s.mu.
func (s *memSeries) startState(k, total int, mint, lo int64) xorState {
	var cps *checkpoints
	if k < len(s.chunks) {
		cps = s.sealedCheckpoints(k, total, lo)
	} else {
		cps = &s.head.cps
	}
	st, _ := cps.start(total, mint, lo)
	return st
}

// computeCheckpoints sets *cps to the checkpoints of chunk data, which
// holds total samples from mint on, by decoding it: the states the encoder
// recorded while writing it (TestComputedCheckpointsMatchEncoder). Entries
// it cannot reach (a chunk that does not decode) or that do not fit the
// compact form stay unused.
func computeCheckpoints(data []byte, total int, mint int64, cps *checkpoints) {
	*cps = checkpoints{}
	if total <= cpEvery || len(data) < 2 {
		return
	}
	_, _, st, err := decodeHead(data, total)
	for err == nil && int(st.i) < total {
		if st.i%cpEvery == 0 {
			k := int(st.i)/cpEvery - 1
			if k >= cpPerChunk {
				return
			}
			cps.cp[k] = compactState(st, mint)
		}
		err = decodeNext(data, &st)
	}
}

// compactState is st as a checkpoint of a chunk whose first timestamp is
// mint, or an unused entry if it does not fit.
func compactState(st xorState, mint int64) checkpoint {
	dt := st.t - mint
	if dt < 0 || dt > math.MaxUint32 || st.delta < 0 || st.delta > math.MaxUint32 || st.pos > math.MaxUint16 {
		return checkpoint{}
	}
	return checkpoint{
		dt:       uint32(dt),
		delta:    uint32(st.delta),
		vlo:      uint32(st.vb),
		vhi:      uint32(st.vb >> 32),
		pos:      uint16(st.pos),
		leading:  st.leading,
		trailing: st.trailing,
	}
}
