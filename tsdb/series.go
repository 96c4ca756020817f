package tsdb

import (
	"encoding/binary"
	"math"
	"sync"
	"sync/atomic"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/tsdb/chunkenc"
)

// samplesPerChunk is where the open chunk is cut. Measured with
// BenchmarkChunkSize: see BENCH.md.
const samplesPerChunk = 120

// headChunkAlloc is the initial capacity of an open chunk's buffer.
const headChunkAlloc = 64

// sealedChunk is an immutable, full XOR chunk. Its bytes are never written
// again, so queries share them without copying.
type sealedChunk struct {
	data       []byte
	mint, maxt int64
}

func (c *sealedChunk) numSamples() int { return int(binary.BigEndian.Uint16(c.data)) }

// memSeries is one series: label set plus a ring of sealed chunks (oldest
// first) and the open head chunk. All mutable fields are guarded by mu.
type memSeries struct {
	mu sync.Mutex

	ref  uint64
	lset labels.Labels

	chunks   []sealedChunk
	head     chunkenc.XORChunk // open chunk; zero value until the first sample
	app      chunkenc.Appender // appender of head, nil until the first sample
	headMint int64

	lastT int64  // newest committed sample time, math.MinInt64 if none
	lastV uint64 // bits of the newest committed value

	// Newest sample buffered by pendOwner but not yet committed. Used for the
	// append-time order check and to keep GC away from the series.
	pendOwner *Appender
	pendT     int64
	pendV     uint64

	deleted bool // removed by GC; a committer must re-resolve by labels
}

func newMemSeries(ref uint64, lset labels.Labels) *memSeries {
	return &memSeries{ref: ref, lset: lset, lastT: math.MinInt64}
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
// sealing the open chunk first if it is full. Callers hold s.mu.
func (s *memSeries) appendSample(t int64, v float64) {
	if s.app == nil {
		s.head.Reset(make([]byte, 2, headChunkAlloc))
		s.app = mustAppender(&s.head)
	} else if s.head.NumSamples() >= samplesPerChunk {
		s.seal()
	}
	if s.head.NumSamples() == 0 {
		s.headMint = t
	}
	s.app.Append(0, t, v)
	s.lastT = t
	s.lastV = math.Float64bits(v)
}

// headSamples is the number of samples in the open chunk.
func (s *memSeries) headSamples() int {
	if s.app == nil {
		return 0
	}
	return s.head.NumSamples()
}

func mustAppender(c *chunkenc.XORChunk) chunkenc.Appender {
	app, err := c.Appender()
	if err != nil {
		panic("BUG: appender on empty chunk: " + err.Error())
	}
	return app
}

// seal moves the open chunk to the sealed ring and starts a new, small open
// chunk. The sealed bytes are trimmed to an exact-size copy unless the buffer
// is already tight; not keeping a full-size head buffer per series saves
// more memory than the regrowth costs (BenchmarkMemory).
func (s *memSeries) seal() {
	b := s.head.Bytes()
	if cap(b)-len(b) > len(b)/16 {
		b = append(make([]byte, 0, len(b)), b...)
	}
	s.chunks = append(s.chunks, sealedChunk{data: b[:len(b):len(b)], mint: s.headMint, maxt: s.lastT})
	s.head.Reset(make([]byte, 2, headChunkAlloc))
	s.app = mustAppender(&s.head)
}

// truncate drops sealed chunks lying wholly before cutoff and returns how many
// were dropped. Callers hold s.mu.
func (s *memSeries) truncate(cutoff int64) int {
	n := 0
	for n < len(s.chunks) && s.chunks[n].maxt < cutoff {
		n++
	}
	if n == 0 {
		return 0
	}
	copy(s.chunks, s.chunks[n:])
	for i := len(s.chunks) - n; i < len(s.chunks); i++ {
		s.chunks[i] = sealedChunk{}
	}
	s.chunks = s.chunks[:len(s.chunks)-n]
	if len(s.chunks) == 0 {
		s.chunks = nil
	}
	return n
}

// seriesStripes is the lock-stripe count for both series maps. A modest
// power of two (prometheus#17100: 16384 is far too many).
const seriesStripes = 256

type hashStripe struct {
	mu sync.RWMutex
	m  map[uint64][]*memSeries // hash -> series with that hash (collisions)
}

type refStripe struct {
	mu sync.RWMutex
	m  map[uint64]*memSeries
}

// seriesStore holds all series, findable by label hash and by ref.
type seriesStore struct {
	hash    func(labels.Labels) uint64
	byHash  [seriesStripes]hashStripe
	byRef   [seriesStripes]refStripe
	nextRef atomic.Uint64
}

func newSeriesStore(hash func(labels.Labels) uint64) *seriesStore {
	// Stripe maps are created on first insert; reading a nil map is fine.
	return &seriesStore{hash: hash}
}

// getByRef returns the series with ref, or nil.
func (s *seriesStore) getByRef(ref uint64) *memSeries {
	st := &s.byRef[ref%seriesStripes]
	st.mu.RLock()
	ms := st.m[ref]
	st.mu.RUnlock()
	return ms
}

// getOrCreate returns the series for lset, creating it (and calling onCreate
// under the stripe lock) if needed.
func (s *seriesStore) getOrCreate(lset labels.Labels, onCreate func(*memSeries)) (ms *memSeries, created bool) {
	h := s.hash(lset)
	st := &s.byHash[h%seriesStripes]
	st.mu.RLock()
	ms = findEqual(st.m[h], lset)
	st.mu.RUnlock()
	if ms != nil {
		return ms, false
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	if ms = findEqual(st.m[h], lset); ms != nil {
		return ms, false
	}
	ms = newMemSeries(s.nextRef.Add(1), lset)
	if st.m == nil {
		st.m = map[uint64][]*memSeries{}
	}
	st.m[h] = append(st.m[h], ms)
	rs := &s.byRef[ms.ref%seriesStripes]
	rs.mu.Lock()
	if rs.m == nil {
		rs.m = map[uint64]*memSeries{}
	}
	rs.m[ms.ref] = ms
	rs.mu.Unlock()
	if onCreate != nil {
		onCreate(ms)
	}
	return ms, true
}

func findEqual(list []*memSeries, lset labels.Labels) *memSeries {
	for _, ms := range list {
		if labels.Equal(ms.lset, lset) {
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
// lock and ms.mu, holds; ms is then marked deleted. Doing both under the
// stripe lock guarantees getOrCreate never returns a deleted series.
func (s *seriesStore) removeIf(ms *memSeries, cond func(*memSeries) bool) bool {
	h := s.hash(ms.lset)
	st := &s.byHash[h%seriesStripes]
	st.mu.Lock()
	ms.mu.Lock()
	if ms.deleted || !cond(ms) {
		ms.mu.Unlock()
		st.mu.Unlock()
		return false
	}
	ms.deleted = true
	ms.mu.Unlock()
	list := st.m[h]
	for i, x := range list {
		if x == ms {
			list = append(list[:i:i], list[i+1:]...)
			break
		}
	}
	if len(list) == 0 {
		delete(st.m, h)
	} else {
		st.m[h] = list
	}
	st.mu.Unlock()
	rs := &s.byRef[ms.ref%seriesStripes]
	rs.mu.Lock()
	delete(rs.m, ms.ref)
	rs.mu.Unlock()
	return true
}

// forEach calls fn for every series. fn runs under a stripe read lock and
// must not call back into the store.
func (s *seriesStore) forEach(fn func(*memSeries)) {
	for i := range s.byRef {
		st := &s.byRef[i]
		st.mu.RLock()
		for _, ms := range st.m {
			fn(ms)
		}
		st.mu.RUnlock()
	}
}
