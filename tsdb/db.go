// Package tsdb is Watchdog's in-memory time-series store.
//
// Series live in a lock-striped map keyed by the xxhash of their sorted label
// set; each series keeps a short ring of Gorilla-compressed chunks (delta-of-
// delta timestamps, XOR floats) covering the configured retention. An inverted
// postings index answers label matchers with Prometheus semantics, and
// [DB.Querier] exposes the data as a [storage.Querier] so the PromQL engine
// can run over it. The store can be snapshotted to a single checksummed file
// and reloaded at start-up.
//
// Appends go through an [Appender]: samples are buffered and become visible on
// [Appender.Commit]. The append path takes only per-stripe and per-series
// locks, so many scrape goroutines can append while queries run.
package tsdb

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/storage"
)

// Defaults applied to zero-valued [Options] fields.
const (
	DefaultRetention        = 2 * time.Hour
	DefaultSnapshotInterval = 5 * time.Minute
	// gcInterval is how often Run garbage-collects old chunks and series.
	gcInterval = time.Minute
)

// Sentinel errors. Returned errors wrap these; test with errors.Is.
var (
	// ErrOutOfOrder is returned for a sample older than the series' newest sample.
	ErrOutOfOrder = errors.New("out of order sample")
	// ErrDuplicateSample is returned for a sample with the timestamp of the
	// series' newest sample but a different value.
	ErrDuplicateSample = errors.New("duplicate sample for timestamp")
	// ErrUnknownRef is returned by Append for a series reference that does not
	// exist (never created, or garbage-collected).
	ErrUnknownRef = errors.New("unknown series reference")
	// ErrCorruptSnapshot is returned when a snapshot file is truncated or fails
	// its checksum or structural checks.
	ErrCorruptSnapshot = errors.New("corrupt snapshot")
	// ErrEmptyLabels is returned by Append for ref 0 and an empty label set.
	ErrEmptyLabels = errors.New("empty label set")
	// ErrBatchFull is returned by Append when an Appender already holds
	// math.MaxInt32 samples; commit them first.
	ErrBatchFull = errors.New("appender batch full")
)

// Options configures a DB. The zero value is valid.
type Options struct {
	// Retention is how much history is kept per series, measured back from
	// the newest sample time in the DB. Default 2h.
	Retention time.Duration
	// SnapshotPath is the snapshot file; "" disables snapshots.
	SnapshotPath string
	// SnapshotInterval is how often Run writes a snapshot. Default 5m.
	SnapshotInterval time.Duration
	// Logger receives warnings; nil discards them.
	Logger *slog.Logger
}

// Stats is a point-in-time view of the DB. Series, Samples, Chunks and
// ChunkBytes are gauges computed by walking the series; the rest are
// monotonic counters.
type Stats struct {
	Series     int // live series
	Samples    int // samples held in chunks
	Chunks     int // chunks, including each series' open chunk
	ChunkBytes int // encoded bytes in chunks

	AppendedSamples   uint64 // samples committed
	OutOfOrder        uint64 // samples rejected or dropped as out of order
	Duplicates        uint64 // samples rejected or dropped as duplicate timestamp with a different value
	IgnoredDuplicates uint64 // samples silently ignored as exact duplicates (same timestamp and value bits)
	CreatedSeries     uint64 // series ever created
	GCedSeries        uint64 // series removed by garbage collection
	DroppedChunks     uint64 // chunks dropped by retention
	Snapshots         uint64 // snapshots written successfully
}

type counters struct {
	appended, outOfOrder, duplicates, ignoredDups atomic.Uint64
	created, gcedSeries, droppedChunks, snapshots atomic.Uint64
}

// DB is the in-memory store. It is safe for concurrent use and implements
// [storage.Queryable].
type DB struct {
	opts      Options
	retention int64 // milliseconds
	logger    *slog.Logger

	series *seriesStore
	index  *postingsIndex

	maxT atomic.Int64 // newest committed sample time, math.MinInt64 if none

	snapMu sync.Mutex // serialises Snapshot
	stats  counters

	bufs sync.Pool // *sampleBuf: Appender batch buffers
}

var _ storage.Queryable = (*DB)(nil)

// Open creates a DB. If opts.SnapshotPath names an existing file it is
// loaded; a truncated or corrupt snapshot is logged, moved aside to
// PATH.corrupt and the DB starts empty. Other I/O errors are returned.
func Open(opts Options) (*DB, error) {
	db := newDB(opts, nil)
	if opts.SnapshotPath == "" {
		return db, nil
	}
	if err := db.loadSnapshotFile(opts.SnapshotPath); err != nil {
		if !errors.Is(err, ErrCorruptSnapshot) {
			return nil, err
		}
		db.logger.Warn("tsdb: discarding corrupt snapshot", "file", opts.SnapshotPath, "err", err)
		// Start empty: drop whatever a partial load may have created.
		db = newDB(opts, nil)
		if rerr := renameFile(opts.SnapshotPath, opts.SnapshotPath+".corrupt"); rerr != nil {
			return nil, fmt.Errorf("move corrupt snapshot aside: %w", rerr)
		}
	}
	return db, nil
}

// newDB builds an empty DB; hash overrides the series hash (tests force
// collisions with it), nil means labels.Labels.Hash.
func newDB(opts Options, hash func(labels.Labels) uint64) *DB {
	if opts.Retention <= 0 {
		opts.Retention = DefaultRetention
	}
	if opts.SnapshotInterval <= 0 {
		opts.SnapshotInterval = DefaultSnapshotInterval
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if hash == nil {
		hash = labels.Labels.Hash
	}
	db := &DB{
		opts:      opts,
		retention: opts.Retention.Milliseconds(),
		logger:    logger,
		series:    newSeriesStore(hash),
		index:     newPostingsIndex(),
	}
	db.maxT.Store(math.MinInt64)
	db.bufs.New = func() any { return new(sampleBuf) }
	return db
}

// Run is the maintenance loop: it garbage-collects every minute and writes a
// snapshot every SnapshotInterval (if SnapshotPath is set). When ctx is done
// it writes one last snapshot and returns nil.
func (db *DB) Run(ctx context.Context) error {
	gcTicker := time.NewTicker(gcInterval)
	defer gcTicker.Stop()
	var snapC <-chan time.Time
	if db.opts.SnapshotPath != "" {
		snapTicker := time.NewTicker(db.opts.SnapshotInterval)
		defer snapTicker.Stop()
		snapC = snapTicker.C
	}
	for {
		select {
		case <-ctx.Done():
			if db.opts.SnapshotPath != "" {
				if err := db.Snapshot(); err != nil {
					db.logger.Warn("tsdb: final snapshot failed", "file", db.opts.SnapshotPath, "err", err)
				}
			}
			return nil
		case <-gcTicker.C:
			db.GC()
		case <-snapC:
			if err := db.Snapshot(); err != nil {
				db.logger.Warn("tsdb: snapshot failed", "file", db.opts.SnapshotPath, "err", err)
			}
		}
	}
}

// cutoff returns the oldest timestamp still inside retention.
func (db *DB) cutoff() int64 { return db.cutoffAt(db.maxT.Load()) }

// cutoffAt returns the retention cutoff for newest sample time maxT.
func (db *DB) cutoffAt(maxT int64) int64 {
	if maxT == math.MinInt64 {
		return math.MinInt64
	}
	if maxT < math.MinInt64+db.retention {
		return math.MinInt64
	}
	return maxT - db.retention
}

// bumpMaxT raises the newest sample time to t if t is newer.
func (db *DB) bumpMaxT(t int64) {
	for {
		cur := db.maxT.Load()
		if t <= cur || db.maxT.CompareAndSwap(cur, t) {
			return
		}
	}
}

// GC drops chunks that lie wholly before the retention cutoff and removes
// series that have no sample inside retention. Run calls it every minute.
func (db *DB) GC() {
	cutoff := db.cutoff()
	if cutoff == math.MinInt64 {
		return
	}
	var candidates []*memSeries
	db.series.forEach(func(s *memSeries) {
		s.mu.Lock()
		db.stats.droppedChunks.Add(uint64(s.truncate(cutoff)))
		if gcable(s, cutoff) {
			candidates = append(candidates, s)
		}
		s.mu.Unlock()
	})
	for _, s := range candidates {
		if db.series.removeIf(s, func(s *memSeries) bool { return gcable(s, cutoff) }) {
			db.index.remove(s.ref, s.lset)
			db.stats.gcedSeries.Add(1)
		}
	}
}

// gcable reports whether s has nothing inside retention and nothing pending.
// Callers hold s.mu.
func gcable(s *memSeries, cutoff int64) bool {
	return s.lastT < cutoff && s.pendOwner == nil
}

// Stats returns current gauges and counters.
func (db *DB) Stats() Stats {
	st := Stats{
		AppendedSamples:   db.stats.appended.Load(),
		OutOfOrder:        db.stats.outOfOrder.Load(),
		Duplicates:        db.stats.duplicates.Load(),
		IgnoredDuplicates: db.stats.ignoredDups.Load(),
		CreatedSeries:     db.stats.created.Load(),
		GCedSeries:        db.stats.gcedSeries.Load(),
		DroppedChunks:     db.stats.droppedChunks.Load(),
		Snapshots:         db.stats.snapshots.Load(),
	}
	db.series.forEach(func(s *memSeries) {
		s.mu.Lock()
		st.Series++
		for i := range s.chunks {
			st.Chunks++
			st.Samples += s.chunks[i].numSamples()
			st.ChunkBytes += len(s.chunks[i].data)
		}
		if n := s.headSamples(); n > 0 {
			st.Chunks++
			st.Samples += n
			st.ChunkBytes += len(s.head.Bytes())
		}
		s.mu.Unlock()
	})
	return st
}
