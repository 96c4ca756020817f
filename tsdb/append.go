package tsdb

import (
	"errors"
	"fmt"
	"math"

	"github.com/prometheus/prometheus/model/labels"
)

// Appender buffers samples for a batch; they become visible on Commit. An
// Appender is not safe for concurrent use, but many Appenders may be used in
// parallel. After Commit or Rollback it can be reused; its buffers are kept.
// A series with samples buffered in an Appender is never garbage-collected,
// so always finish a batch with Commit or Rollback.
type Appender struct {
	db      *DB
	samples []pendingSample
}

type pendingSample struct {
	s *memSeries
	t int64
	v float64
}

// Appender returns a new appender.
func (db *DB) Appender() *Appender {
	return &Appender{db: db}
}

// Append buffers a float sample and returns the series ref to pass on the
// next call for the same series. With ref != 0 the label set is not looked at
// (it may be empty); an unknown ref returns an error wrapping ErrUnknownRef.
// With ref == 0 the series is found or created by lset. A sample older than
// the series' newest (committed or buffered here) returns ErrOutOfOrder; one
// at the same time with a different value returns ErrDuplicateSample; an
// exact duplicate is ignored without error.
func (a *Appender) Append(ref uint64, lset labels.Labels, t int64, v float64) (uint64, error) {
	var s *memSeries
	if ref != 0 {
		if s = a.db.series.getByRef(ref); s == nil {
			return 0, fmt.Errorf("append ref %d: %w", ref, ErrUnknownRef)
		}
	} else {
		if lset.IsEmpty() {
			return 0, ErrEmptyLabels
		}
		s = a.db.getOrCreate(lset)
	}
	vb := math.Float64bits(v)
	s.mu.Lock()
	if s.deleted { // GC won the race after getByRef
		s.mu.Unlock()
		return 0, fmt.Errorf("append ref %d: %w", ref, ErrUnknownRef)
	}
	lastT, lastV := s.lastT, s.lastV
	if s.pendOwner == a {
		lastT, lastV = s.pendT, s.pendV
	}
	ignore, err := appendable(lastT, lastV, t, vb)
	if err != nil || ignore {
		s.mu.Unlock()
		a.db.countReject(err)
		return s.ref, err
	}
	s.pendOwner, s.pendT, s.pendV = a, t, vb
	s.mu.Unlock()
	a.samples = append(a.samples, pendingSample{s: s, t: t, v: v})
	if ref != 0 {
		return ref, nil // s.ref, without touching its cache line
	}
	return s.ref, nil
}

func (db *DB) getOrCreate(lset labels.Labels) *memSeries {
	s, created := db.series.getOrCreate(lset, func(s *memSeries) { db.index.add(s.ref, s.lset) })
	if created {
		db.stats.created.Add(1)
	}
	return s
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

// Commit makes the buffered samples visible. Samples that became out of
// order or duplicate since Append (another appender got there first) are
// dropped and counted. Commit never fails.
func (a *Appender) Commit() error {
	db := a.db
	// Retention is measured from the newest sample, including this batch.
	maxT := int64(math.MinInt64)
	for i := range a.samples {
		maxT = max(maxT, a.samples[i].t)
	}
	cutoff := db.cutoffAt(max(maxT, db.maxT.Load()))
	var (
		appended int
		locked   *memSeries
	)
	for i := range a.samples {
		p := &a.samples[i]
		if p.s != locked {
			if locked != nil {
				a.finish(locked)
			}
			locked = p.s
			locked.mu.Lock()
			if locked.deleted {
				// GC removed the series after Append: recreate by labels.
				locked.mu.Unlock()
				fresh := db.getOrCreate(locked.lset)
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
		ignore, err := appendable(s.lastT, s.lastV, p.t, math.Float64bits(p.v))
		if err != nil || ignore {
			db.countReject(err)
			continue
		}
		s.appendSample(p.t, p.v)
		if s.firstMaxt < cutoff {
			if n := s.truncate(cutoff); n > 0 {
				db.stats.droppedChunks.Add(uint64(n))
			}
		}
		appended++
	}
	if locked != nil {
		a.finish(locked)
	}
	db.stats.appended.Add(uint64(appended))
	if appended > 0 {
		db.bumpMaxT(maxT)
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

func (a *Appender) reset() {
	clear(a.samples) // drop series pointers so GC'd series can be freed
	a.samples = a.samples[:0]
}
