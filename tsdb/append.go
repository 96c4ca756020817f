package tsdb

import (
	"errors"
	"fmt"
	"math"
	"unsafe"

	"github.com/prometheus/prometheus/model/labels"
)

// Appender buffers samples for a batch; they become visible on Commit. An
// Appender is not safe for concurrent use, but many Appenders may be used in
// parallel. After Commit or Rollback it can be reused. A series with samples
// buffered in an Appender is never garbage-collected, so always finish a
// batch with Commit or Rollback.
//
// The buffer of pending samples comes from a pool on the first Append and
// goes back on Commit or Rollback: the scrape loop takes a fresh Appender
// per scrape, and growing a new buffer to a few thousand samples every time
// allocated more than everything else on the ingest path (bench/INGEST.md).
type Appender struct {
	db      *DB
	buf     *sampleBuf // from db.bufs while a batch is open; nil otherwise
	samples []pendingSample
	ext     []pendingExt // the values of samples marked extMark
	// minT and maxT are the sample times the batch accepts, read from the
	// clock at its first Append (bounded is then true).
	minT, maxT int64
	bounded    bool
}

// sampleBuf is a pooled pending-sample buffer. It is a struct so that the
// pool holds a pointer and putting it back does not allocate.
type sampleBuf struct {
	samples []pendingSample
	ext     []pendingExt
	touched []uint64 // the refs Commit appended to, for the change feeds
}

type pendingSample struct {
	s *memSeries
	t int64
	v float64
	// The series' tailAddr and headAddr at Append, for Commit to prefetch.
	tailAddr, headAddr uintptr
}

// Appender returns a new appender.
func (db *DB) Appender() *Appender {
	return &Appender{db: db}
}

// Append buffers a float sample and returns the series ref to pass on the
// next call for the same series. With ref != 0 the label set is not looked at
// (it may be empty); an unknown ref returns an error wrapping ErrUnknownRef.
// With ref == 0 the series is found or created by lset; when creating it
// would pass MaxSeries, ErrSeriesLimit is returned. A sample older than the
// retention cutoff returns ErrTooOld, one more than FutureWindow ahead of
// the clock ErrTooFarInFuture (both read from the clock once per batch, at
// its first Append). A sample older than the series' newest (committed or
// buffered here) returns ErrOutOfOrder; one at the same time with a
// different value returns ErrDuplicateSample; an exact duplicate is ignored
// without error. The sentinels are returned unwrapped, so that refusing
// many samples costs no formatting.
func (a *Appender) Append(ref uint64, lset labels.Labels, t int64, v float64) (uint64, error) {
	s, r, err := a.series(ref, lset, t)
	if s == nil {
		return r, err
	}
	vb := math.Float64bits(v)
	s.mu.Lock()
	if s.deleted { // GC won the race after getByRef
		s.mu.Unlock()
		return 0, fmt.Errorf("append ref %d: %w", ref, ErrUnknownRef)
	}
	if s.hasExt {
		err := a.bufferExt(s, t, pendingExt{v: v})
		s.mu.Unlock()
		return s.ref, err
	}
	lastT, lastV := s.lastT, s.lastV
	if s.pendOwner == a {
		p := &a.samples[s.pendIdx]
		lastT, lastV = p.t, math.Float64bits(p.v)
	}
	ignore, err := appendable(lastT, lastV, t, vb)
	if err != nil || ignore {
		s.mu.Unlock()
		a.db.countReject(err)
		return s.ref, err
	}
	s.pendOwner, s.pendIdx = a, int32(len(a.samples))
	tailAddr, headAddr := s.tailAddr(), s.headAddr
	s.mu.Unlock()
	a.samples = append(a.samples, pendingSample{s: s, t: t, v: v, tailAddr: tailAddr, headAddr: headAddr})
	if ref != 0 {
		return ref, nil // s.ref, without touching its cache line
	}
	return s.ref, nil
}

// series checks t against the batch's time bounds and returns the series
// for ref or lset (see Append), with the batch buffer ready for one more
// sample. When it returns nil, it also returns what Append returns.
func (a *Appender) series(ref uint64, lset labels.Labels, t int64) (*memSeries, uint64, error) {
	if !a.bounded {
		a.minT, a.maxT = a.db.bounds()
		a.bounded = true
	}
	if t < a.minT || t > a.maxT {
		return nil, ref, a.db.refuseOutOfBounds(t < a.minT)
	}
	var s *memSeries
	if ref != 0 {
		if s = a.db.series.getByRef(ref); s == nil {
			return nil, 0, fmt.Errorf("append ref %d: %w", ref, ErrUnknownRef)
		}
		// Refs are handed out in sequence and a target appends its series
		// in the order it created them, so the series appendAhead refs on
		// is likely appended soon: start loading the line this function
		// reads (if the guess is wrong, the prefetch is wasted).
		if n := a.db.series.getByRef(ref + appendAhead); n != nil {
			prefetch(uintptr(unsafe.Pointer(n)))
		}
	} else {
		if lset.IsEmpty() {
			return nil, 0, ErrEmptyLabels
		}
		var err error
		if s, err = a.db.getOrCreateLimited(lset); err != nil {
			return nil, 0, err
		}
	}
	if a.buf == nil {
		a.buf = a.db.bufs.Get().(*sampleBuf)
		a.samples, a.ext = a.buf.samples, a.buf.ext
	}
	if len(a.samples) == math.MaxInt32 {
		return nil, 0, ErrBatchFull
	}
	return s, 0, nil
}

// getOrCreate returns the series for lset, creating it whatever the series
// limit (Commit re-creates a series GC removed after Append).
func (db *DB) getOrCreate(lset labels.Labels) *memSeries {
	s, created := db.series.getOrCreate(lset, func(s *memSeries) { db.index.add(s.ref, lset) })
	if created {
		db.stats.created.Add(1)
		db.stats.series.Add(1)
	}
	return s
}

// getOrCreateLimited is getOrCreate for Append: a new series is refused with
// ErrSeriesLimit when the DB holds MaxSeries series. The slot is reserved
// before the series is created, so concurrent appenders cannot pass the
// limit together.
func (db *DB) getOrCreateLimited(lset labels.Labels) (*memSeries, error) {
	if db.maxSeries == 0 {
		return db.getOrCreate(lset), nil
	}
	// The labels are hashed once: a new series is looked up read-locked
	// here and then created under the write lock.
	h := db.series.hash(lset)
	if s := db.series.getHashed(h, lset); s != nil {
		return s, nil
	}
	for {
		n := db.stats.series.Load()
		if n >= db.maxSeries {
			db.stats.seriesLimit.Add(1)
			return nil, ErrSeriesLimit
		}
		if db.stats.series.CompareAndSwap(n, n+1) {
			break
		}
	}
	s, created := db.series.create(h, lset, func(s *memSeries) { db.index.add(s.ref, lset) })
	if created {
		db.stats.created.Add(1)
	} else { // another appender created it meanwhile: give the slot back
		db.stats.series.Add(-1)
	}
	return s, nil
}

// refuseOutOfBounds counts and returns the error of a sample outside the
// accepted time range.
func (db *DB) refuseOutOfBounds(tooOld bool) error {
	if tooOld {
		db.stats.tooOld.Add(1)
		return ErrTooOld
	}
	db.stats.tooFarInFuture.Add(1)
	return ErrTooFarInFuture
}

// countReject bumps the counter for an order-check outcome; err == nil
// means an ignored exact duplicate.
func (db *DB) countReject(err error) {
	switch {
	case err == nil:
		db.stats.ignoredDups.Add(1)
	case errors.Is(err, ErrOutOfOrder):
		db.stats.outOfOrder.Add(1)
	case errors.Is(err, ErrDuplicateSample):
		db.stats.duplicates.Add(1)
	}
}

// How many samples ahead Append and Commit prefetch the series they will
// need (bench/INGEST.md: without, a scrape whose series were evicted from
// the caches spends most of its time waiting for memory).
const (
	appendAhead = 8
	commitAhead = 16
)

// Commit makes the buffered samples visible. Samples that became out of
// order or duplicate since Append (another appender got there first) are
// dropped and counted. Commit never fails.
func (a *Appender) Commit() error {
	db := a.db
	// Chunks wholly before the retention cutoff are dropped on the way.
	cutoff := db.cutoffAt(db.now().UnixMilli())
	var (
		appended int
		locked   *memSeries
		added    footprint // what the batch adds to the gauges
		dropped  footprint // what truncation removes
		lastRef  uint64    // the last ref added to touched
	)
	var touched []uint64
	feeding := db.feeds.list.Load() != nil && a.buf != nil
	if feeding {
		touched = a.buf.touched[:0]
	}
	for i := range a.samples {
		p := &a.samples[i]
		if j := i + commitAhead; j < len(a.samples) {
			// The lines this sample's series will need: the encoder state,
			// the chunk's end (and the next line if the 8-byte store may
			// reach it) and its header.
			q := &a.samples[j]
			next := q.tailAddr
			if next&63 > 64-8 {
				next += 8
			}
			prefetch4(uintptr(unsafe.Pointer(q.s))+64, q.tailAddr, next, q.headAddr)
		}
		if p.s != locked {
			if locked != nil {
				a.finish(locked)
			}
			locked = p.s
			locked.mu.Lock()
			if locked.deleted {
				// GC removed the series after Append: recreate by labels.
				lset := db.series.labelsLocked(locked)
				locked.mu.Unlock()
				fresh := db.getOrCreate(lset)
				for j := i; j < len(a.samples); j++ {
					if a.samples[j].s == locked {
						a.samples[j].s = fresh
					}
				}
				locked = fresh
				locked.mu.Lock()
			}
		}
		s := locked
		var f footprint
		if p.headAddr != extMark && !s.hasExt {
			ignore, err := appendable(s.lastT, s.lastV, p.t, math.Float64bits(p.v))
			if err != nil || ignore {
				db.countReject(err)
				continue
			}
			f = s.appendSample(p.t, p.v, &db.slab)
			s.setAddrs()
		} else {
			var ok bool
			if f, ok = a.commitExt(s, p); !ok {
				continue
			}
		}
		if feeding && s.ref != lastRef {
			touched = append(touched, s.ref)
			lastRef = s.ref
		}
		added.chunks += f.chunks
		added.bytes += f.bytes
		if s.firstMaxt < cutoff {
			f := s.truncate(cutoff, &db.slab)
			dropped.samples += f.samples
			dropped.chunks += f.chunks
			dropped.bytes += f.bytes
		}
		appended++
	}
	if locked != nil {
		a.finish(locked)
	}
	if feeding {
		db.publish(touched)
		a.buf.touched = touched[:0]
	}
	db.stats.appended.Add(uint64(appended))
	added.samples = int64(appended)
	db.stats.add(added, false)
	if dropped.chunks > 0 {
		db.stats.droppedChunks.Add(uint64(dropped.chunks))
		db.stats.add(dropped, true)
	}
	a.reset()
	return nil
}

// finish releases a series locked by Commit.
func (a *Appender) finish(s *memSeries) {
	if s.pendOwner == a {
		s.pendOwner = nil
	}
	s.mu.Unlock()
}

// Rollback discards the buffered samples.
func (a *Appender) Rollback() error {
	var last *memSeries
	for i := range a.samples {
		s := a.samples[i].s
		if s == last {
			continue
		}
		last = s
		s.mu.Lock()
		if s.pendOwner == a {
			s.pendOwner = nil
		}
		s.mu.Unlock()
	}
	a.reset()
	return nil
}

// reset empties the batch and returns its buffer to the pool.
func (a *Appender) reset() {
	a.bounded = false
	if a.buf == nil {
		return
	}
	clear(a.samples) // drop series pointers so GC'd series can be freed
	a.buf.samples = a.samples[:0]
	if a.ext != nil {
		clear(a.ext) // and histograms
		a.buf.ext = a.ext[:0]
	}
	a.db.bufs.Put(a.buf)
	a.buf, a.samples, a.ext = nil, nil, nil
}
