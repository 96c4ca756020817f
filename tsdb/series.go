package tsdb

import (
	"encoding/binary"
	"math"
	"strconv"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/prometheus/prometheus/model/labels"
)

// samplesPerChunk is where the open chunk is cut. Measured with
// BenchmarkChunkSize: see BENCH.md.
const samplesPerChunk = 120

// headChunkAlloc is the initial (and least) capacity of an open chunk's
// buffer, room for the header and the first samples (xorChunk.growFor).
const headChunkAlloc = 48

// sealedChunk is an immutable, full XOR chunk. Its bytes are never written
// again, so queries share them without copying. It is 32 bytes: the bytes
// are a pointer and a 32-bit length rather than a slice (BenchmarkMemory).
type sealedChunk struct {
	p          *byte // the chunk's bytes (bytes())
	mint, maxt int64
	size       uint32 // len(bytes())
	n          uint16 // samples, so that a read need not touch the header; 0: unknown
}

// newSealedChunk returns the sealed chunk of data (at least its 2-byte
// header), which must never be written again.
func newSealedChunk(data []byte, mint, maxt int64, n uint16) sealedChunk {
	if len(data) < 2 || len(data) > math.MaxUint32 {
		panic("BUG: sealed chunk of " + strconv.Itoa(len(data)) + " bytes")
	}
	return sealedChunk{p: unsafe.SliceData(data), mint: mint, maxt: maxt, size: uint32(len(data)), n: n}
}

// bytes returns the chunk's bytes, which must not be written.
func (c *sealedChunk) bytes() []byte { return unsafe.Slice(c.p, c.size) }

func (c *sealedChunk) numSamples() int { return int(binary.BigEndian.Uint16(c.bytes())) }

// samples is numSamples without touching the chunk bytes when the count
// is known.
func (c *sealedChunk) samples() int {
	if c.n != 0 {
		return int(c.n)
	}
	return c.numSamples()
}

// memSeries is one series: label set plus a ring of sealed chunks (oldest
// first) and the open head chunk. All mutable fields are guarded by mu.
type memSeries struct {
	// The first 64 bytes are what Append reads and writes and Commit reads
	// and writes first, to share one cache line; the open chunk's state
	// fills the next.
	mu sync.Mutex
	// pendIdx is the index in pendOwner's batch of its newest sample for
	// this series, used for the append-time order check; a non-nil
	// pendOwner also keeps GC away from the series.
	pendIdx int32
	deleted bool // removed by GC; a committer must re-resolve by labels
	// hasExt is ext != nil, kept in this line so that Append and Commit
	// learn whether a series needs the slow path without a second line.
	hasExt bool
	// tailOff is the offset of the open chunk's last byte from headAddr
	// (saturated at 65535: it is only a prefetch hint).
	tailOff   uint16
	pendOwner *Appender

	lastT int64  // newest committed sample time, math.MinInt64 if none
	lastV uint64 // bits of the newest committed value

	// firstMaxt is at most the maxt of chunks[0] (or anything if there are
	// no chunks), so Commit need not look at chunks when it is at or after
	// the retention cutoff.
	firstMaxt int64

	// headAddr is the address of the open chunk's first byte (its header,
	// rewritten by every append) after the newest commit, 0 before, for
	// Commit to prefetch. It is never dereferenced.
	headAddr uintptr
	headMint int64 // time of the open chunk's first sample

	head   xorChunk // open chunk; zero value (b == nil) until the first sample
	chunks []sealedChunk

	ref uint64 // immutable
	// syms is the series' label set as symbol ids (symbols.go), immutable;
	// its symbols are released when the series is removed (deleted).
	syms string

	// ext holds what only some series have: histogram chunks and start
	// timestamps (histogram.go). nil for a series of plain floats, which
	// then pays one pointer for it.
	ext *seriesExt

	// cpc holds the checkpoints of the sealed chunks reads started in
	// last (checkpoint.go), nil until the first such read.
	cpc *cpCache

	// 192 bytes, a multiple of 64 and an allocator size class, so that
	// every series starts on a cache line (TestMemSeriesLayout checks it).
	// A field added here takes the next size class that is a multiple of
	// 64, 256 bytes: pad to it.
}

// tailAddr is the address of the open chunk's last byte after the newest
// commit (see headAddr), for Commit to prefetch.
func (s *memSeries) tailAddr() uintptr { return s.headAddr + uintptr(s.tailOff) }

// setAddrs records where the open chunk's first and last bytes are.
func (s *memSeries) setAddrs() {
	s.headAddr = uintptr(unsafe.Pointer(unsafe.SliceData(s.head.b)))
	s.tailOff = uint16(min(len(s.head.b)-1, math.MaxUint16))
}

func newMemSeries(ref uint64, syms string) *memSeries {
	return &memSeries{ref: ref, syms: syms, lastT: math.MinInt64, firstMaxt: math.MinInt64}
}

// appendable reports whether a sample at t with value bits vb may follow
// (lastT, lastV). ignore is true for an exact duplicate.
func appendable(lastT int64, lastV uint64, t int64, vb uint64) (ignore bool, err error) {
	switch {
	case t > lastT:
		return false, nil
	case t < lastT:
		return false, ErrOutOfOrder
	case vb == lastV:
		return true, nil
	default:
		return false, ErrDuplicateSample
	}
}

// appendSample adds a sample that has already passed the order check,
// sealing the open chunk first if it is full. It returns what the sample
// added to the DB's gauges: one sample, the open chunk if it was empty
// (the sealed one stays counted) and the bytes the encoding grew by.
// A sealed chunk's bytes go to slab. Callers hold s.mu.
func (s *memSeries) appendSample(t int64, v float64, slab *chunkSlab) footprint {
	before := 0
	if s.head.b == nil {
		s.head.Reset(make([]byte, 2, headChunkAlloc))
	} else if s.head.NumSamples() >= samplesPerChunk {
		s.seal(slab)
	} else if s.head.NumSamples() > 0 {
		before = len(s.head.b)
	}
	f := footprint{samples: 1}
	if s.head.NumSamples() == 0 {
		s.headMint = t
		f.chunks = 1
	}
	s.head.Append(0, t, v)
	s.lastT = t
	s.lastV = math.Float64bits(v)
	f.bytes = int64(len(s.head.b) - before)
	return f
}

// footprint is what s counts for in the DB's gauges. Callers hold s.mu.
func (s *memSeries) footprint() footprint {
	var f footprint
	for i := range s.chunks {
		f.chunks++
		f.samples += int64(s.chunks[i].samples())
		f.bytes += int64(s.chunks[i].size)
	}
	if n := s.headSamples(); n > 0 {
		f.chunks++
		f.samples += int64(n)
		f.bytes += int64(len(s.head.b))
	}
	if s.ext != nil {
		f = f.plus(s.ext.footprint())
	}
	return f
}

// appendSealed appends c to chunks, growing the slice by a quarter (at
// least two) rather than append's doubling: a series seals a chunk every
// 120 samples, so regrowth is rare, while doubling leaves up to half of
// every series' ring unused once retention holds its length steady
// (about 13 chunks at two hours of 5 s scrapes: capacity 16 by doubling).
func appendSealed(chunks []sealedChunk, c sealedChunk) []sealedChunk {
	if len(chunks) == cap(chunks) {
		grown := make([]sealedChunk, len(chunks), len(chunks)+max(2, len(chunks)/4))
		copy(grown, chunks)
		chunks = grown
	}
	return append(chunks, c)
}

// headSamples is the number of samples in the open chunk.
func (s *memSeries) headSamples() int {
	if s.head.b == nil {
		return 0
	}
	return s.head.NumSamples()
}

// seal moves the open chunk to the sealed ring, its bytes copied into slab,
// and starts a new, small open chunk: not keeping a full-size head buffer
// per series saves more memory than the regrowth costs (BenchmarkMemory).
func (s *memSeries) seal(slab *chunkSlab) {
	b := slab.seal(s.head.Bytes())
	s.chunks = appendSealed(s.chunks, newSealedChunk(b, s.headMint, s.lastT, s.head.num))
	s.firstMaxt = min(s.firstMaxt, s.lastT)
	s.head.Reset(make([]byte, 2, headChunkAlloc))
}

// truncate drops sealed chunks (float and histogram) lying wholly before
// cutoff, their bytes released to slab, and returns what they counted
// for. Callers hold s.mu.
func (s *memSeries) truncate(cutoff int64, slab *chunkSlab) footprint {
	n := 0
	var f footprint
	for n < len(s.chunks) && s.chunks[n].maxt < cutoff {
		f.samples += int64(s.chunks[n].samples())
		f.bytes += int64(s.chunks[n].size)
		n++
	}
	f.chunks = int64(n)
	if n < len(s.chunks) {
		s.firstMaxt = s.chunks[n].maxt
	} else {
		s.firstMaxt = math.MaxInt64
	}
	if n > 0 {
		slab.drop(s.chunks[:n])
		copy(s.chunks, s.chunks[n:])
		for i := len(s.chunks) - n; i < len(s.chunks); i++ {
			s.chunks[i] = sealedChunk{}
		}
		s.chunks = s.chunks[:len(s.chunks)-n]
		if len(s.chunks) == 0 {
			s.chunks = nil
		}
		s.dropCheckpoints()
	}
	if s.ext != nil {
		f = f.plus(s.truncateExt(cutoff))
	}
	return f
}

// seriesStripes is the lock-stripe count of the series hash map. A modest
// power of two (prometheus#17100: 16384 is far too many).
const seriesStripes = 256

type hashStripe struct {
	mu sync.RWMutex
	// m maps a label hash to the first series with that hash; coll holds
	// the others, if any (a 64-bit hash collision, which practically never
	// happens), so that the common case costs one pointer per series, not
	// a slice and its allocation.
	m    map[uint64]*memSeries
	coll map[uint64][]*memSeries
}

// find returns the series with hash h and labels lset, or nil.
func (st *hashStripe) find(syms *symbolTable, h uint64, lset labels.Labels) *memSeries {
	ms := st.m[h]
	if ms == nil || syms.equal(ms.syms, lset) {
		return ms
	}
	return findEqual(syms, st.coll[h], lset)
}

// insert adds ms, whose labels hash to h and are not in the stripe.
func (st *hashStripe) insert(h uint64, ms *memSeries) {
	if st.m == nil {
		st.m = map[uint64]*memSeries{}
	}
	if _, ok := st.m[h]; !ok {
		st.m[h] = ms
		return
	}
	if st.coll == nil {
		st.coll = map[uint64][]*memSeries{}
	}
	st.coll[h] = append(st.coll[h], ms)
}

// delete removes ms, whose labels hash to h, if it is in the stripe.
func (st *hashStripe) delete(h uint64, ms *memSeries) {
	list := st.coll[h]
	if st.m[h] == ms {
		if len(list) == 0 {
			delete(st.m, h)
			return
		}
		st.m[h], list = list[0], list[1:]
	} else {
		for i, x := range list {
			if x == ms {
				list = append(list[:i:i], list[i+1:]...)
				break
			}
		}
	}
	if len(list) == 0 {
		delete(st.coll, h)
	} else {
		st.coll[h] = list
	}
}

// Refs are handed out in sequence, so the ref index is a two-level table:
// pages of refPageSize series pointers under a page directory. Readers load
// the directory and the entry atomically and take no lock; writers hold
// refTable.mu and replace the directory when it grows. A page whose series
// are all removed is released.
const (
	refPageBits = 10
	refPageSize = 1 << refPageBits
)

type refPage struct {
	slots [refPageSize]atomic.Pointer[memSeries]
	live  int // non-nil slots; guarded by refTable.mu
}

type refTable struct {
	mu  sync.Mutex
	dir atomic.Pointer[[]*refPage] // page i holds refs [i*refPageSize, (i+1)*refPageSize)
}

func (t *refTable) get(ref uint64) *memSeries {
	dir := t.dir.Load()
	if dir == nil || ref>>refPageBits >= uint64(len(*dir)) {
		return nil
	}
	pg := (*dir)[ref>>refPageBits]
	if pg == nil {
		return nil
	}
	return pg.slots[ref&(refPageSize-1)].Load()
}

func (t *refTable) set(ref uint64, ms *memSeries) {
	t.mu.Lock()
	defer t.mu.Unlock()
	var dir []*refPage
	if d := t.dir.Load(); d != nil {
		dir = *d
	}
	i := ref >> refPageBits
	if i >= uint64(len(dir)) || dir[i] == nil {
		nd := make([]*refPage, max(uint64(len(dir)), i+1), max(uint64(2*len(dir)), i+1))
		copy(nd, dir)
		nd[i] = &refPage{}
		dir = nd
		t.dir.Store(&dir)
	}
	pg := dir[i]
	if pg.slots[ref&(refPageSize-1)].Swap(ms) == nil {
		pg.live++
	}
}

func (t *refTable) remove(ref uint64, ms *memSeries) {
	t.mu.Lock()
	defer t.mu.Unlock()
	d := t.dir.Load()
	i := ref >> refPageBits
	if d == nil || i >= uint64(len(*d)) || (*d)[i] == nil {
		return
	}
	pg := (*d)[i]
	if !pg.slots[ref&(refPageSize-1)].CompareAndSwap(ms, nil) {
		return
	}
	pg.live--
	if pg.live == 0 {
		nd := append([]*refPage(nil), *d...)
		nd[i] = nil
		t.dir.Store(&nd)
	}
}

// appendRefs appends the refs of all series, ascending, to dst.
func (t *refTable) appendRefs(dst []uint64) []uint64 {
	d := t.dir.Load()
	if d == nil {
		return dst
	}
	for i, pg := range *d {
		if pg == nil {
			continue
		}
		for j := range pg.slots {
			if pg.slots[j].Load() != nil {
				dst = append(dst, uint64(i)<<refPageBits|uint64(j))
			}
		}
	}
	return dst
}

func (t *refTable) forEach(fn func(*memSeries)) {
	d := t.dir.Load()
	if d == nil {
		return
	}
	for _, pg := range *d {
		if pg == nil {
			continue
		}
		for i := range pg.slots {
			if ms := pg.slots[i].Load(); ms != nil {
				fn(ms)
			}
		}
	}
}

// seriesStore holds all series, findable by label hash and by ref.
type seriesStore struct {
	hash    func(labels.Labels) uint64
	syms    *symbolTable // the series' label names and values
	byHash  [seriesStripes]hashStripe
	byRef   refTable
	nextRef atomic.Uint64
}

func newSeriesStore(hash func(labels.Labels) uint64) *seriesStore {
	// Stripe maps are created on first insert; reading a nil map is fine.
	return &seriesStore{hash: hash, syms: newSymbolTable()}
}

// labelsLocked materializes the labels of ms. Callers hold ms.mu.
func (s *seriesStore) labelsLocked(ms *memSeries) labels.Labels {
	if ms.deleted {
		return plainLabels(ms.syms)
	}
	return s.syms.labels(ms.syms)
}

// labelsLockedInto is labelsLocked into lb (see LabelsBuf; nil: a fresh
// allocation). Callers hold ms.mu.
func (s *seriesStore) labelsLockedInto(ms *memSeries, lb *LabelsBuf) labels.Labels {
	if ms.deleted {
		return plainLabels(ms.syms)
	}
	return s.syms.labelsInto(ms.syms, lb)
}

// labelsOf is labelsLocked for a caller not holding ms.mu.
func (s *seriesStore) labelsOf(ms *memSeries) labels.Labels {
	ms.mu.Lock()
	defer ms.mu.Unlock()
	return s.labelsLocked(ms)
}

// getByRef returns the series with ref, or nil.
func (s *seriesStore) getByRef(ref uint64) *memSeries {
	return s.byRef.get(ref)
}

// get returns the series for lset, or nil.
func (s *seriesStore) get(lset labels.Labels) *memSeries {
	return s.getHashed(s.hash(lset), lset)
}

// getHashed is get for labels whose hash h is known.
func (s *seriesStore) getHashed(h uint64, lset labels.Labels) *memSeries {
	st := &s.byHash[h%seriesStripes]
	st.mu.RLock()
	defer st.mu.RUnlock()
	return st.find(s.syms, h, lset)
}

// getOrCreate returns the series for lset, creating it (and calling onCreate
// under the stripe lock) if needed.
func (s *seriesStore) getOrCreate(lset labels.Labels, onCreate func(*memSeries)) (ms *memSeries, created bool) {
	h := s.hash(lset)
	if ms = s.getHashed(h, lset); ms != nil {
		return ms, false
	}
	return s.create(h, lset, onCreate)
}

// create is getOrCreate for labels with hash h that a read-locked lookup
// has just not found: it takes the stripe's write lock and looks again.
func (s *seriesStore) create(h uint64, lset labels.Labels, onCreate func(*memSeries)) (ms *memSeries, created bool) {
	st := &s.byHash[h%seriesStripes]
	st.mu.Lock()
	defer st.mu.Unlock()
	if ms = st.find(s.syms, h, lset); ms != nil {
		return ms, false
	}
	ms = newMemSeries(s.nextRef.Add(1), s.syms.encode(lset))
	st.insert(h, ms)
	s.byRef.set(ms.ref, ms)
	if onCreate != nil {
		onCreate(ms)
	}
	return ms, true
}

func findEqual(syms *symbolTable, list []*memSeries, lset labels.Labels) *memSeries {
	for _, ms := range list {
		if syms.equal(ms.syms, lset) {
			return ms
		}
	}
	return nil
}

// remove deletes ms from both maps unconditionally.
func (s *seriesStore) remove(ms *memSeries) {
	s.removeIf(ms, func(*memSeries) bool { return true })
}

// removeIf deletes ms from both maps if cond, evaluated under the hash stripe
// lock and ms.mu, holds; ms is then marked deleted and its symbols are
// released. Doing both under the stripe lock guarantees getOrCreate never
// returns a deleted series. It returns the labels ms had when removed.
func (s *seriesStore) removeIf(ms *memSeries, cond func(*memSeries) bool) (labels.Labels, bool) {
	ms.mu.Lock()
	if ms.deleted {
		ms.mu.Unlock()
		return labels.EmptyLabels(), false
	}
	lset := s.syms.labels(ms.syms)
	ms.mu.Unlock()
	plain := appendPlain(nil, lset)
	h := s.hash(lset)
	st := &s.byHash[h%seriesStripes]
	st.mu.Lock()
	ms.mu.Lock()
	if ms.deleted || !cond(ms) {
		ms.mu.Unlock()
		st.mu.Unlock()
		return lset, false
	}
	ms.deleted = true
	// A removed series keeps its labels in plain form, for a committer
	// that must recreate it and for readers that found it before; its
	// symbols may be reused at once (readers look under ms.mu).
	s.syms.release(ms.syms)
	ms.syms = string(plain)
	ms.mu.Unlock()
	st.delete(h, ms)
	st.mu.Unlock()
	s.byRef.remove(ms.ref, ms)
	return lset, true
}

// forEach calls fn for every series. fn must not call back into the store.
func (s *seriesStore) forEach(fn func(*memSeries)) {
	s.byRef.forEach(fn)
}
