// Package tsdb is Watchdog's in-memory time-series store.
//
// Series live in a lock-striped map keyed by the xxhash of their sorted label
// set; each series keeps a short ring of Gorilla-compressed chunks (delta-of-
// delta timestamps, XOR floats) covering the configured retention. A series
// that has native histogram samples or start timestamps also keeps
// Prometheus-encoded histogram chunks and start-timestamp runs beside them
// (histogram.go); the low-level float read APIs (ReadRanges, Slide,
// SeriesIterator) skip those, the Querier returns everything. An inverted
// postings index answers label matchers with Prometheus semantics, and
// [DB.Querier] exposes the data as a [storage.Querier] so the PromQL engine
// can run over it. The store can be snapshotted to a single checksummed file
// and reloaded at start-up.
//
// Appends go through an [Appender]: samples are buffered and become visible on
// [Appender.Commit]. The append path takes only per-stripe and per-series
// locks, so many scrape goroutines can append while queries run.
//
// Time comes from a clock (Options.Now): retention is cut at the clock minus
// Retention, and Append refuses samples before that cutoff (ErrTooOld) or
// more than FutureWindow after the clock (ErrTooFarInFuture), so that no
// sample time, however wrong, can move the cutoff for the others. New series
// beyond MaxSeries are refused (ErrSeriesLimit). Every refusal is counted in
// Stats, which reads counters kept up to date and never walks the series.
package tsdb

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"slices"
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
	// DefaultFutureWindow is how far ahead of the clock a sample may be. A
	// target whose clock runs a few seconds fast is fine; one an hour ahead
	// is refused (ErrTooFarInFuture) instead of being kept for hours.
	DefaultFutureWindow = 5 * time.Minute
	// DefaultMaxSeries is the live series limit: twice the largest store the
	// benchmarks measure (1M series, bench/NATIVE.md), about 3 GiB of memory
	// at the default retention. It stops a cardinality explosion spread over
	// many targets (each under its sample_limit) from exhausting memory.
	DefaultMaxSeries = 2_000_000
	// maxGCInterval is how often Run garbage-collects old chunks and series
	// at most; a retention shorter than ten minutes collects every tenth of
	// it.
	maxGCInterval = time.Minute
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
	// ErrOutOfBounds is wrapped by the errors of samples outside the time
	// range the DB accepts: ErrTooOld and ErrTooFarInFuture.
	ErrOutOfBounds = errors.New("sample out of bounds")
	// ErrTooOld is returned by Append for a sample older than the retention
	// cutoff (the clock minus Retention). It wraps ErrOutOfBounds.
	ErrTooOld = fmt.Errorf("%w: older than retention", ErrOutOfBounds)
	// ErrTooFarInFuture is returned by Append for a sample more than
	// FutureWindow ahead of the clock. It wraps ErrOutOfBounds.
	ErrTooFarInFuture = fmt.Errorf("%w: too far in the future", ErrOutOfBounds)
	// ErrSeriesLimit is returned by Append for a sample of a new series when
	// the DB already holds MaxSeries series.
	ErrSeriesLimit = errors.New("series limit reached")
)

// Options configures a DB. The zero value is valid.
type Options struct {
	// Retention is how much history is kept per series, measured back from
	// the clock (Now), never from the newest sample: a target with a wrong
	// clock cannot push everyone's history out. Default 2h.
	Retention time.Duration
	// Now is the clock retention and the accepted time range are measured
	// from. nil means time.Now.
	Now func() time.Time
	// FutureWindow is how far ahead of Now a sample may be; later samples
	// are refused with ErrTooFarInFuture. 0 means DefaultFutureWindow (5m).
	FutureWindow time.Duration
	// MaxSeries is the most live series the DB holds; a sample that would
	// create one more is refused with ErrSeriesLimit. 0 means
	// DefaultMaxSeries (2M), negative means no limit.
	MaxSeries int
	// SnapshotPath is the snapshot file; "" disables snapshots.
	SnapshotPath string
	// SnapshotInterval is how often Run writes a snapshot. Default 5m.
	SnapshotInterval time.Duration
	// Logger receives warnings; nil discards them.
	Logger *slog.Logger
	// ChunksDir, if set, is a directory (created if missing) where sealed
	// chunks' bytes are kept in memory-mapped files instead of the heap,
	// so that they are resident only while read and the kernel may drop
	// them under memory pressure (chunkfiles.go). The files are scratch:
	// leftovers are removed at Open, all at Close; the snapshot is what
	// persists. "" keeps chunks on the heap. Linux only: elsewhere a
	// warning is logged and chunks stay on the heap.
	ChunksDir string

	// segmentSize overrides the chunk files' segment size (tests).
	segmentSize int
}

// Stats is a point-in-time view of the DB. Series, Samples, Chunks and
// ChunkBytes are gauges; the rest are monotonic counters. All are kept up
// to date as the DB changes, so Stats costs the same at any size.
type Stats struct {
	Series     int // live series
	Samples    int // samples held in chunks
	Chunks     int // chunks, including each series' open chunk
	ChunkBytes int // encoded bytes in chunks
	MaxSeries  int // the series limit, 0 if none

	AppendedSamples   uint64 // samples committed
	OutOfOrder        uint64 // samples rejected or dropped as out of order
	Duplicates        uint64 // samples rejected or dropped as duplicate timestamp with a different value
	IgnoredDuplicates uint64 // samples silently ignored as exact duplicates (same timestamp and value bits)
	CreatedSeries     uint64 // series ever created
	GCedSeries        uint64 // series removed by garbage collection
	DroppedChunks     uint64 // chunks dropped by retention
	Snapshots         uint64 // snapshots written successfully
	SnapshotFailures  uint64 // snapshots that could not be written
	LastSnapshot      int64  // Unix time of the last successful snapshot, 0 if none
	TooOld            uint64 // samples refused as older than the retention cutoff
	TooFarInFuture    uint64 // samples refused as more than FutureWindow ahead of the clock
	SeriesLimit       uint64 // samples refused because their series would pass MaxSeries
	InvalidHistograms uint64 // histogram samples refused as invalid (ErrInvalidHistogram)
	GCRuns            uint64 // garbage collections run

	// With Options.ChunksDir: the bytes of sealed chunks in chunk files,
	// the bytes of the files' mappings (gauges), and the chunks kept on
	// the heap because their file write failed (a counter).
	ChunkFileBytes     int64
	ChunkFileMapped    int64
	ChunkFileFallbacks uint64
}

type counters struct {
	appended, outOfOrder, duplicates, ignoredDups atomic.Uint64
	created, gcedSeries, droppedChunks, snapshots atomic.Uint64
	snapshotFailures                              atomic.Uint64
	lastSnapshot                                  atomic.Int64
	tooOld, tooFarInFuture, seriesLimit, gcRuns   atomic.Uint64
	invalidHistograms                             atomic.Uint64

	// Gauges, changed by the deltas of each commit, truncation, removal
	// and snapshot load.
	series, samples, chunks, chunkBytes atomic.Int64
}

// footprint is what a series adds to the gauges of counters.
type footprint struct{ samples, chunks, bytes int64 }

func (f footprint) plus(g footprint) footprint {
	return footprint{f.samples + g.samples, f.chunks + g.chunks, f.bytes + g.bytes}
}

// add adds f to the gauges (subtracts with neg).
func (c *counters) add(f footprint, neg bool) {
	if neg {
		f = footprint{-f.samples, -f.chunks, -f.bytes}
	}
	if f.samples != 0 {
		c.samples.Add(f.samples)
	}
	if f.chunks != 0 {
		c.chunks.Add(f.chunks)
	}
	if f.bytes != 0 {
		c.chunkBytes.Add(f.bytes)
	}
}

// DB is the in-memory store. It is safe for concurrent use and implements
// [storage.Queryable].
type DB struct {
	opts      Options
	retention int64 // milliseconds
	future    int64 // milliseconds
	maxSeries int64 // 0: no limit
	now       func() time.Time
	logger    *slog.Logger

	series *seriesStore
	index  *postingsIndex

	snapMu   sync.Mutex // serialises Snapshot
	sections sections   // extra snapshot sections (sections.go)
	feeds    feeds      // change feeds (changes.go)
	stats    counters

	bufs sync.Pool // *sampleBuf: Appender batch buffers
	slab chunkSlab // sealed chunks' bytes (slab.go)
}

var _ storage.Queryable = (*DB)(nil)

// Open creates a DB. If opts.SnapshotPath names an existing file it is
// loaded; a truncated or corrupt snapshot is logged, moved aside to
// PATH.corrupt and the DB starts empty. Other I/O errors are returned.
//
// With opts.ChunksDir set, a directory that cannot be used (not a
// directory, not writable, in use by another process) is an error wrapping
// ErrChunksDir.
func Open(opts Options) (*DB, error) {
	db, err := openDB(opts)
	if err != nil || opts.SnapshotPath == "" {
		return db, err
	}
	if err := db.loadSnapshotFile(opts.SnapshotPath); err != nil {
		db.slab.files.discard()
		if !errors.Is(err, ErrCorruptSnapshot) {
			return nil, err
		}
		db.logger.Warn("tsdb: discarding corrupt snapshot", "file", opts.SnapshotPath, "err", err)
		if rerr := renameFile(opts.SnapshotPath, opts.SnapshotPath+".corrupt"); rerr != nil {
			return nil, fmt.Errorf("move corrupt snapshot aside: %w", rerr)
		}
		// Start empty: drop whatever a partial load may have created.
		return openDB(opts)
	}
	return db, nil
}

// openDB is newDB with the chunk files of opts.ChunksDir, if any.
func openDB(opts Options) (*DB, error) {
	db := newDB(opts, nil)
	if opts.ChunksDir == "" {
		return db, nil
	}
	if !chunkFilesSupported {
		db.logger.Warn("tsdb: chunk files need Linux: sealed chunks stay in memory", "chunks_dir", opts.ChunksDir)
		return db, nil
	}
	cf, err := openChunkFiles(opts.ChunksDir, opts.segmentSize)
	if err != nil {
		return nil, fmt.Errorf("open chunk files: %w", err)
	}
	db.slab.files = cf
	return db, nil
}

// Close removes the chunk files (Options.ChunksDir), if any; their
// mappings stay valid until the process exits, so reads still running
// are safe. Chunks sealed after Close stay on the heap. Close does not
// write a snapshot (Run does when its context ends).
func (db *DB) Close() error {
	if db.slab.files == nil {
		return nil
	}
	return db.slab.files.close(false)
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
	if opts.FutureWindow <= 0 {
		opts.FutureWindow = DefaultFutureWindow
	}
	switch {
	case opts.MaxSeries == 0:
		opts.MaxSeries = DefaultMaxSeries
	case opts.MaxSeries < 0:
		opts.MaxSeries = 0
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if hash == nil {
		hash = labels.Labels.Hash
	}
	series := newSeriesStore(hash)
	db := &DB{
		opts:      opts,
		retention: opts.Retention.Milliseconds(),
		future:    opts.FutureWindow.Milliseconds(),
		maxSeries: int64(opts.MaxSeries),
		now:       opts.Now,
		logger:    logger,
		series:    series,
		index:     newPostingsIndex(series.byRef.appendRefs, series.syms.canonical),
	}
	db.bufs.New = func() any { return new(sampleBuf) }
	return db
}

// gcInterval is how often Run garbage-collects: every minute, or every
// tenth of a retention shorter than ten minutes (at least every second).
func (db *DB) gcInterval() time.Duration {
	return max(min(maxGCInterval, db.opts.Retention/10), time.Second)
}

// Run is the maintenance loop: it garbage-collects every minute (see
// gcInterval) and writes a snapshot every SnapshotInterval (if SnapshotPath
// is set). When ctx is done it writes one last snapshot and returns nil.
func (db *DB) Run(ctx context.Context) error {
	gcTicker := time.NewTicker(db.gcInterval())
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
					db.logger.Error("tsdb: final snapshot failed: the data since the last snapshot is lost at exit", "file", db.opts.SnapshotPath, "err", err)
				}
			}
			return nil
		case <-gcTicker.C:
			db.GC()
		case <-snapC:
			if err := db.Snapshot(); err != nil {
				db.logger.Error("tsdb: snapshot failed: a restart now would lose the data since the last one", "file", db.opts.SnapshotPath,
					"err", err, "failures", db.stats.snapshotFailures.Load())
			}
		}
	}
}

// bounds returns the oldest and the newest sample time the DB accepts now:
// the retention cutoff and the clock plus FutureWindow.
func (db *DB) bounds() (minT, maxT int64) {
	now := db.now().UnixMilli()
	maxT = now + db.future
	if maxT < now { // overflow
		maxT = math.MaxInt64
	}
	return db.cutoffAt(now), maxT
}

// cutoffAt returns the retention cutoff at clock time now (milliseconds):
// the oldest timestamp still inside retention.
func (db *DB) cutoffAt(now int64) int64 {
	if now < math.MinInt64+db.retention {
		return math.MinInt64
	}
	return now - db.retention
}

// GC drops chunks that lie wholly before the retention cutoff (the clock
// minus Retention) and removes series that have no sample inside retention.
// Run calls it every minute.
func (db *DB) GC() {
	db.stats.gcRuns.Add(1)
	db.slab.logFallbacks(db.logger)
	cutoff := db.cutoffAt(db.now().UnixMilli())
	if cutoff == math.MinInt64 {
		return
	}
	var (
		candidates []*memSeries
		dropped    footprint
	)
	db.series.forEach(func(s *memSeries) {
		s.mu.Lock()
		f := s.truncate(cutoff, &db.slab)
		dropped.samples += f.samples
		dropped.chunks += f.chunks
		dropped.bytes += f.bytes
		if gcable(s, cutoff) {
			candidates = append(candidates, s)
		}
		s.mu.Unlock()
	})
	db.stats.droppedChunks.Add(uint64(dropped.chunks))
	db.stats.add(dropped, true)
	var (
		refs  []uint64
		lsets []labels.Labels
	)
	for _, s := range candidates {
		var left footprint
		if lset, ok := db.series.removeIf(s, func(s *memSeries) bool {
			if !gcable(s, cutoff) {
				return false
			}
			left = s.footprint()
			s.dropSealed(&db.slab)
			return true
		}); ok {
			refs, lsets = append(refs, s.ref), append(lsets, lset)
			db.stats.gcedSeries.Add(1)
			db.stats.series.Add(-1)
			db.stats.add(left, true)
		}
	}
	// The index drops them all at once (candidates come in forEach's
	// order; the label sets only name the lists to filter).
	slices.Sort(refs)
	db.index.removeAll(refs, lsets)
}

// gcable reports whether s has nothing inside retention and nothing pending.
// Callers hold s.mu.
func gcable(s *memSeries, cutoff int64) bool {
	return s.newestT() < cutoff && s.pendOwner == nil
}

// Stats returns current gauges and counters. It reads a few atomic
// counters and does not walk the series.
func (db *DB) Stats() Stats {
	st := Stats{
		Series:            int(db.stats.series.Load()),
		Samples:           int(db.stats.samples.Load()),
		Chunks:            int(db.stats.chunks.Load()),
		ChunkBytes:        int(db.stats.chunkBytes.Load()),
		MaxSeries:         int(db.maxSeries),
		AppendedSamples:   db.stats.appended.Load(),
		OutOfOrder:        db.stats.outOfOrder.Load(),
		Duplicates:        db.stats.duplicates.Load(),
		IgnoredDuplicates: db.stats.ignoredDups.Load(),
		CreatedSeries:     db.stats.created.Load(),
		GCedSeries:        db.stats.gcedSeries.Load(),
		DroppedChunks:     db.stats.droppedChunks.Load(),
		Snapshots:         db.stats.snapshots.Load(),
		SnapshotFailures:  db.stats.snapshotFailures.Load(),
		LastSnapshot:      db.stats.lastSnapshot.Load(),
		TooOld:            db.stats.tooOld.Load(),
		TooFarInFuture:    db.stats.tooFarInFuture.Load(),
		SeriesLimit:       db.stats.seriesLimit.Load(),
		InvalidHistograms: db.stats.invalidHistograms.Load(),
		GCRuns:            db.stats.gcRuns.Load(),
	}
	if cf := db.slab.files; cf != nil {
		st.ChunkFileBytes = cf.liveBytes.Load()
		st.ChunkFileMapped = cf.mapped.Load()
		st.ChunkFileFallbacks = cf.fallbacks.Load()
	}
	return st
}
