package tsdb

import (
	"math"
)

// Mid-chunk checkpoints let a read of a short time range start decoding
// near the range instead of at the chunk start: a checkpoint is the decoder
// state before every cpEvery-th sample of a chunk. No chunk keeps them from
// the start: the first read that starts inside a chunk computes them by
// decoding it once (cpEntry.extend) and caches them in the series' cpCache,
// which holds the chunks reads started in last; for the open chunk, a later
// read decodes only the samples appended since. A rule reads the same few
// windows again and again, and a sliding window or tally (window.go,
// tally.go) moves without looking at checkpoints at all, so only the chunks
// where reads start pay for them, not the whole history and not every
// series (BENCH.md: recording them for every chunk cost 1.2 bytes per
// sample at 2 h of 15 s samples, a 100-byte array in every series' open
// chunk and a 112-byte object per sealed chunk). A chunk without
// checkpoints (or an entry with pos 0) is decoded from its start, with the
// same result.

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

// cpCacheSize is how many chunks' checkpoints a series keeps: a rule's
// windows start in one or two chunks (the last few minutes, in the open
// chunk or the newest sealed one; a window an hour ago). Two entries are a
// 240-byte object (three would be 352: BenchmarkMemory's read figure).
const cpCacheSize = 2

// cpCache holds the checkpoints of the chunks that reads started in most
// recently, keyed by chunk start time (unique within a series: an open
// chunk keeps its entry when it is sealed). Guarded by the series' mu.
type cpCache struct {
	e    [cpCacheSize]cpEntry
	tick uint16 // advanced by every use, for least-recently-used replacement
}

// cpEntry is one chunk's checkpoints: cps.cp[:done] are computed (those
// with pos 0 do not fit the compact form), the rest not yet.
type cpEntry struct {
	mint int64 // the chunk's first timestamp
	cps  checkpoints
	done uint8
	used bool
	tick uint16 // cpCache.tick at the last use
}

// checkpointsFor returns the checkpoints of chunk k of s (len(s.chunks):
// the open chunk), which holds total samples from mint on and whose bytes
// are data, for a read of samples at or after lo, computing them if needed;
// nil if the read starts at the chunk start anyway. Callers hold s.mu.
func (s *memSeries) checkpointsFor(data []byte, total int, mint, lo int64) *checkpoints {
	if total <= cpEvery || lo <= mint {
		return nil
	}
	if s.cpc == nil {
		s.cpc = new(cpCache)
	}
	var e *cpEntry
	for i := range s.cpc.e {
		if c := &s.cpc.e[i]; c.used && c.mint == mint {
			e = c
			break
		}
	}
	if e == nil {
		e = s.cpc.free()
		*e = cpEntry{mint: mint, used: true}
	}
	s.cpc.tick++
	e.tick = s.cpc.tick
	e.extend(data, total, lo)
	return &e.cps
}

// free returns an unused entry, or else the least recently used one.
func (c *cpCache) free() *cpEntry {
	lru := &c.e[0]
	for i := range c.e {
		e := &c.e[i]
		if !e.used {
			return e
		}
		if c.tick-e.tick > c.tick-lru.tick { // older, across wrap-around
			lru = e
		}
	}
	return lru
}

// dropCheckpoints forgets the cached checkpoints of chunks that are gone,
// and the cache itself once it holds none: a series read once (a rule's
// first evaluation, which then slides its windows without checkpoints)
// pays for them only until those chunks pass the retention cutoff.
// Callers hold s.mu.
func (s *memSeries) dropCheckpoints() {
	if s.cpc == nil {
		return
	}
	oldest := int64(math.MaxInt64)
	if len(s.chunks) > 0 {
		oldest = s.chunks[0].mint
	} else if s.headSamples() > 0 {
		oldest = s.headMint
	}
	live := false
	for i := range s.cpc.e {
		if e := &s.cpc.e[i]; e.used && e.mint < oldest {
			*e = cpEntry{}
		} else if e.used {
			live = true
		}
	}
	if !live {
		s.cpc = nil
	}
}

// startState returns the decoder state from which to read chunk k of s
// (len(s.chunks): the open chunk), which holds total samples from mint on,
// for samples at or after lo: a checkpoint, or the zero state (the chunk
// start). Callers hold s.mu.
func (s *memSeries) startState(k, total int, mint, lo int64) xorState {
	var data []byte
	if k < len(s.chunks) {
		data = s.chunks[k].bytes()
	} else {
		data = s.head.b
	}
	st, _ := s.checkpointsFor(data, total, mint, lo).start(total, mint, lo)
	return st
}

// extend computes the checkpoints of chunk data, which now holds total
// samples, that e lacks, up to the first one at or after lo (a read from lo
// needs none later, and stopping there decodes no more than the read would
// without checkpoints): the states a decoder reaches there, decoding from
// e's last checkpoint (or the chunk start). Entries it cannot reach (a
// chunk that does not decode) stay to be computed.
func (e *cpEntry) extend(data []byte, total int, lo int64) {
	want := min(cpPerChunk, (total-1)/cpEvery) // checkpoints before a sample of the chunk
	if int(e.done) >= want || len(data) < 2 {
		return
	}
	var st xorState
	var err error
	if c := &e.cps.cp[max(int(e.done)-1, 0)]; e.done > 0 && c.pos != 0 {
		st = c.state(int(e.done)-1, e.mint)
		if st.t >= lo {
			return
		}
	} else {
		_, _, st, err = decodeHead(data, total)
	}
	for err == nil && int(st.i) < total {
		if k := int(st.i)/cpEvery - 1; st.i%cpEvery == 0 && k >= int(e.done) {
			e.cps.cp[k] = compactState(st, e.mint)
			e.done = uint8(k + 1)
			if k+1 >= want || st.t >= lo {
				return
			}
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
