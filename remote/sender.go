package remote

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/relabel"

	"github.com/watchdog-sre/watchdog/config"
	"github.com/watchdog-sre/watchdog/tsdb"
)

// Store is what a Sender reads: *tsdb.DB.
type Store interface {
	// Postings appends the refs of the series matching ms (all without ms).
	Postings(dst []uint64, ms ...*labels.Matcher) []uint64
	// ReadRanges reads series ref's samples in rs into dst.
	ReadRanges(ref uint64, rs []tsdb.Range, dst *tsdb.Samples) (labels.Labels, bool)
}

// changeSource is a Store that can list the series that changed
// (*tsdb.DB); with one, a scan visits those alone (see tsdb.ChangeFeed).
type changeSource interface {
	NewChangeFeed(limit int) *tsdb.ChangeFeed
}

// Change feed tuning: the most refs a feed holds between two scans (8 MiB;
// beyond, the next scan visits every series), and how often a scan visits
// every series anyway, to forget the ones the store removed.
const (
	feedLimit     = 1 << 20
	fullScanEvery = 300
)

// Snapshots is where a Sender keeps its send positions: *tsdb.DB, whose
// snapshot carries them.
type Snapshots interface {
	SetSnapshotSection(name string, s tsdb.SnapshotSection)
	LoadedSection(name string) []byte
}

// Sentinel errors of New.
var (
	// ErrNoConfig is returned by New without Options.Config.
	ErrNoConfig = errors.New("remote: no remote_write configuration")
	// ErrNoStore is returned by New without Options.Store.
	ErrNoStore = errors.New("remote: no store to read")
)

// DefaultScanInterval is how often the store is scanned for new samples.
const DefaultScanInterval = time.Second

// Options configures a Sender. Config and Store are required; the zero
// value of every other field is safe.
type Options struct {
	// Config is the remote_write entry, validated by package config.
	Config *config.RemoteWriteConfig
	// ExternalLabels are added to every series that has no label of the
	// same name (global.external_labels).
	ExternalLabels labels.Labels
	// Store is read for the samples to send.
	Store Store
	// Snapshots keeps the send positions in the store's snapshot; nil
	// keeps them in memory only (a restart sends the store again).
	Snapshots Snapshots
	// Positions, when not nil, are the send positions to start from (what
	// AppendSnapshot of the Sender this one replaces returned), instead of
	// the ones loaded from Snapshots.
	Positions []byte
	// Retention is the store's retention, used to count the samples cut
	// by it before they were sent; 0 counts none.
	Retention time.Duration
	// ScanInterval is how often the store is scanned (DefaultScanInterval).
	ScanInterval time.Duration
	// Client sends the requests (default: a shared client with keep-alive).
	Client *http.Client
	// Metrics receives the sender's metrics (nil: a private set).
	Metrics *metrics.Set
	// Logger receives errors and warnings (nil: discarded).
	Logger *slog.Logger
	// Now is the clock (nil: time.Now).
	Now func() time.Time
	// FlushDeadline bounds the flush at shutdown (DefaultFlushDeadline;
	// negative: none): when Run's context ends, the samples the store
	// holds and the receiver has not taken are sent first, unless a
	// request is already being retried (the receiver is down: they wait
	// in the store for the next start).
	FlushDeadline time.Duration
}

// DefaultFlushDeadline is Options.FlushDeadline's default.
const DefaultFlushDeadline = 10 * time.Second

// series is the send state of one series of the store.
type series struct {
	lset  labels.Labels // as stored: the key of the saved position
	out   labels.Labels // as sent (external labels, relabelling); empty: dropped
	ref   uint64        // in the store: picks the shard
	read  int64         // newest timestamp handed to a shard (reader only)
	acked atomic.Int64  // newest timestamp the receiver took or that was given up
	seen  uint64        // the last full scan that found the series
}

// Sender sends the store's samples to one remote_write receiver. Create it
// with New and run it with Run; it registers its send positions with
// Options.Snapshots at New.
type Sender struct {
	name, url string
	cfg       *config.RemoteWriteConfig
	opts      Options
	client    *client
	m         *senderMetrics
	log       *slog.Logger
	now       func() time.Time

	// mu guards the membership of byRef and restored; the reader
	// goroutine alone changes them, AppendSnapshot reads them.
	mu       sync.Mutex
	byRef    map[uint64]*series
	restored map[string]int64 // saved positions not matched to a series yet

	highestSent atomic.Int64 // Unix ms
	pending     atomic.Int64 // samples read and not acknowledged

	// Reader state.
	feed      *tsdb.ChangeFeed // nil: every scan visits every series
	refs      []uint64
	smp       tsdb.Samples
	mixed     mixedSamples // series with histograms (histograms.go)
	scans     uint64
	fullScans uint64
	lb        *labels.Builder
	keyBuf    []byte
	highest   int64
	cut       int64 // samples countCut found lost in this scan
	shards    []*shard
	blocked   time.Duration // how long the last scan waited on full shard queues
	batchMax  int
	queueLen  int
}

// SectionName is the snapshot section of the sender called name.
func SectionName(name string) string { return "remote_write/" + name }

// New returns a Sender for opts.Config, starting from the positions in
// opts.Positions or else in the loaded snapshot, and registers its
// positions with opts.Snapshots.
func New(opts Options) (*Sender, error) {
	if opts.Config == nil {
		return nil, ErrNoConfig
	}
	if opts.Store == nil {
		return nil, ErrNoStore
	}
	cfg := opts.Config
	if opts.ScanInterval <= 0 {
		opts.ScanInterval = DefaultScanInterval
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if opts.Metrics == nil {
		opts.Metrics = metrics.NewSet()
	}
	hc := opts.Client
	if hc == nil {
		hc = defaultHTTPClient
	}
	log := opts.Logger.With("remote_name", cfg.Name, "url", cfg.URL)
	s := &Sender{
		name: cfg.Name, url: cfg.URL, cfg: cfg, opts: opts, log: log, now: opts.Now,
		m:     newSenderMetrics(opts.Metrics, cfg.Name, cfg.URL),
		byRef: map[uint64]*series{},
		lb:    labels.NewBuilder(labels.EmptyLabels()),
		client: &client{
			url: cfg.URL, hc: hc, v2: cfg.ProtobufMessage == config.RemoteWriteV2, headers: cfg.Headers,
			cfg: cfg, retry429: cfg.QueueConfig.Retry429(), log: log, now: opts.Now,
		},
		batchMax: max(cfg.QueueConfig.MaxSamplesPerSend, 1),
	}
	s.queueLen = max(cfg.QueueConfig.Capacity/s.batchMax, 1)
	saved := opts.Positions
	if saved == nil && opts.Snapshots != nil {
		saved = opts.Snapshots.LoadedSection(SectionName(s.name))
	}
	if saved != nil {
		restored, err := decodePositions(saved)
		if err != nil {
			// Not fatal: the store is sent again from its start.
			log.Error("remote write: saved send positions are unreadable; sending the whole store again", "err", err)
		}
		s.restored = restored
	}
	if opts.Snapshots != nil {
		opts.Snapshots.SetSnapshotSection(SectionName(s.name), s)
	}
	return s, nil
}

// Name returns the sender's remote_name.
func (s *Sender) Name() string { return s.name }

// Run scans the store and sends until ctx is done, then flushes (see
// Options.FlushDeadline). Samples still in flight then are not
// acknowledged, so they are sent again by the next Sender that starts
// from these positions.
func (s *Sender) Run(ctx context.Context) error {
	defer func() {
		// What was in flight stays unacknowledged; the next Sender with
		// these positions counts it again.
		s.m.pending.Add(-float64(s.pending.Swap(0)))
		s.m.shards.Set(0)
	}()
	// The shards outlive ctx for the flush.
	sctx, stopShards := context.WithCancel(context.WithoutCancel(ctx))
	var wg sync.WaitGroup
	defer func() {
		stopShards()
		wg.Wait()
	}()
	if cs, ok := s.opts.Store.(changeSource); ok {
		s.feed = cs.NewChangeFeed(feedLimit)
		defer s.feed.Close()
	}
	s.startShards(sctx, &wg, max(s.cfg.QueueConfig.MinShards, 1))
	t := time.NewTicker(s.opts.ScanInterval)
	defer t.Stop()
	for {
		if err := s.scan(ctx, false); err != nil {
			break // ctx done
		}
		// Grow when the shards kept the reader waiting for half a scan
		// interval or more while the receiver answered: they cannot keep
		// up with the store.
		if s.blocked >= s.opts.ScanInterval/2 && len(s.shards) < s.cfg.QueueConfig.MaxShards && s.healthy() {
			n := min(2*len(s.shards), s.cfg.QueueConfig.MaxShards)
			if err := s.reshard(ctx, sctx, &wg, n); err != nil {
				break
			}
		}
		select {
		case <-ctx.Done():
		case <-t.C:
			continue
		}
		break
	}
	s.flush(&wg, stopShards)
	return nil
}

// flush sends what the store holds beyond the receiver's positions and
// waits for the shards, within Options.FlushDeadline, as Prometheus
// flushes its queues at shutdown. A sender whose receiver is failing does
// not wait: the samples stay in the store, and in the snapshot's
// positions, for the next start.
func (s *Sender) flush(wg *sync.WaitGroup, stopShards context.CancelFunc) {
	d := s.opts.FlushDeadline
	if d == 0 {
		d = DefaultFlushDeadline
	}
	if d < 0 || !s.healthy() || slices.ContainsFunc(s.shards, func(sh *shard) bool { return sh.closed }) {
		return // no flush, a failing receiver, or an interrupted reshard
	}
	fctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	if err := s.scan(fctx, true); err != nil {
		s.log.Warn("remote write: flush at shutdown ran out of time", "deadline", d)
		return
	}
	for _, sh := range s.shards {
		sh.close()
	}
	done := make(chan struct{})
	go func() {
		wg.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-fctx.Done():
		s.log.Warn("remote write: flush at shutdown ran out of time; the rest is sent at the next start", "deadline", d)
		stopShards()
	}
}

// scan reads the new samples of the series that changed (of every series
// without a change feed, when it overflowed, and every fullScanEvery scans)
// into the shards' batches and sends the batches that are full or older
// than batch_send_deadline (every batch, when flush is set).
func (s *Sender) scan(ctx context.Context, flush bool) error {
	s.scans++
	s.blocked = 0
	full := true
	if s.feed != nil {
		var complete bool
		s.refs, complete = s.feed.Drain(s.refs[:0])
		full = !complete || s.scans%fullScanEvery == 0
	}
	if full {
		s.fullScans++
		s.refs = s.opts.Store.Postings(s.refs[:0])
	}
	cutoff := int64(math.MinInt64)
	if s.opts.Retention > 0 {
		cutoff = s.now().Add(-s.opts.Retention).UnixMilli()
	}
	for _, ref := range s.refs {
		if err := s.readSeries(ctx, ref, cutoff); err != nil {
			return err
		}
	}
	if full {
		s.sweep()
	}
	if s.cut > 0 {
		s.log.Warn("remote write: samples fell out of the retention before they could be sent", "samples", s.cut)
		s.cut = 0
	}
	s.m.highestTS.Set(float64(s.highest) / 1000)
	deadline := s.now().Add(-time.Duration(s.cfg.QueueConfig.BatchSendDeadline)).UnixMilli()
	for _, sh := range s.shards {
		if b := sh.pending; b != nil && b.len() > 0 && (flush || b.started <= deadline) {
			if err := s.dispatch(ctx, sh); err != nil {
				return err
			}
		}
	}
	return nil
}

// readSeries hands series ref's samples after its watermark to its shard.
func (s *Sender) readSeries(ctx context.Context, ref uint64, cutoff int64) error {
	st := s.byRef[ref]
	from := int64(math.MinInt64)
	if st != nil {
		from = st.read + 1
	}
	lset, ok := s.opts.Store.ReadRanges(ref, []tsdb.Range{{Mint: from, Maxt: math.MaxInt64}}, &s.smp)
	if !ok {
		return nil // removed meanwhile; sweep forgets it
	}
	if st == nil {
		st = s.newSeries(ref, lset.Copy()) // lset aliases s.smp
	}
	st.seen = s.fullScans
	ts, vs := s.smp.Range(0)
	var hs []hist
	if hstore, ok := s.opts.Store.(histogramStore); ok && hstore.HasHistograms(ref) {
		if err := readMixed(ctx, hstore, lset, st.read, &s.mixed); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			s.log.Warn("remote write: reading a series with native histograms failed; retrying at the next scan", "series", lset.String(), "err", err)
			return nil
		}
		ts, vs, hs = s.mixed.ts, s.mixed.vs, s.mixed.hs
		if !s.mixed.any {
			hs = nil
		}
	}
	i := 0
	for i < len(ts) && ts[i] <= st.read { // a restored position
		i++
	}
	ts, vs = ts[i:], vs[i:]
	if hs != nil {
		hs = hs[i:]
	}
	if len(ts) == 0 {
		return nil
	}
	last := ts[len(ts)-1]
	s.highest = max(s.highest, last)
	s.countCut(st, ts, cutoff)
	if st.out.IsEmpty() { // dropped by write_relabel_configs
		s.m.dropped.Add(len(ts))
		st.read = last
		st.acked.Store(last)
		return nil
	}
	sh := s.shards[shardOf(st.ref, len(s.shards))]
	for len(ts) > 0 {
		b := sh.pending
		if b == nil {
			b = sh.newBatch()
			b.started = s.now().UnixMilli()
		}
		k := min(s.batchMax-b.len(), len(ts))
		if hs != nil {
			b.add(st, ts[:k], vs[:k], hs[:k])
			hs = hs[k:]
		} else {
			b.add(st, ts[:k], vs[:k], nil)
		}
		st.read = ts[k-1]
		s.pending.Add(int64(k))
		s.m.pending.Add(float64(k))
		ts, vs = ts[k:], vs[k:]
		if b.len() >= s.batchMax {
			if err := s.dispatch(ctx, sh); err != nil {
				return err
			}
		}
	}
	return nil
}

// shardOf picks the shard of series ref: runs of 64 consecutive refs go to
// the same shard. A scrape creates its series in order, so neighbours are
// alike (same metric, other labels) and compress better together than the
// random mix a hash of the labels would give.
func shardOf(ref uint64, n int) int { return int((ref >> 6) % uint64(n)) }

// countCut counts, as dropped, the samples the retention removed between
// st's watermark and ts[0] before they were sent. The store keeps no
// count of what it cut, so it is estimated from the spacing of ts.
func (s *Sender) countCut(st *series, ts []int64, cutoff int64) {
	if st.read == math.MinInt64 || st.read >= cutoff || len(ts) < 2 {
		return
	}
	step := (ts[len(ts)-1] - ts[0]) / int64(len(ts)-1)
	if step <= 0 {
		return
	}
	if lost := (ts[0]-st.read)/step - 1; lost > 0 {
		s.m.dropped.Add(int(lost))
		s.cut += lost
	}
}

// newSeries starts tracking ref, from its saved position if there is one.
func (s *Sender) newSeries(ref uint64, lset labels.Labels) *series {
	st := &series{lset: lset, read: math.MinInt64}
	st.out = s.outLabels(lset)
	st.ref = ref
	if s.restored != nil {
		s.keyBuf = appendLabels(s.keyBuf[:0], lset)
		if p, ok := s.restored[string(s.keyBuf)]; ok {
			st.read = p
			s.mu.Lock()
			delete(s.restored, string(s.keyBuf))
			s.mu.Unlock()
		}
	}
	st.acked.Store(st.read)
	s.mu.Lock()
	s.byRef[ref] = st
	s.mu.Unlock()
	return st
}

// outLabels applies the external labels (only where lset has no label of
// that name, as Prometheus) and then write_relabel_configs.
func (s *Sender) outLabels(lset labels.Labels) labels.Labels {
	s.lb.Reset(lset)
	s.opts.ExternalLabels.Range(func(l labels.Label) {
		if lset.Get(l.Name) == "" {
			s.lb.Set(l.Name, l.Value)
		}
	})
	if len(s.cfg.WriteRelabelConfigs) > 0 {
		if keep := relabel.ProcessBuilder(s.lb, s.cfg.WriteRelabelConfigs...); !keep {
			return labels.EmptyLabels()
		}
	}
	return s.lb.Labels()
}

// sweep forgets the series the last full scan did not find (removed by
// the store's garbage collection), and after the first scan the saved
// positions of series the store no longer has.
func (s *Sender) sweep() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for ref, st := range s.byRef {
		if st.seen != s.fullScans {
			delete(s.byRef, ref)
		}
	}
	s.restored = nil
}

// acked advances the watermarks of b's series and the metrics; a shard
// calls it when b is done with (sent or given up).
func (s *Sender) acked(b *batch, ok bool) {
	for _, r := range b.runs {
		r.st.acked.Store(b.ts[r.hi-1])
	}
	n := b.len()
	s.pending.Add(-int64(n))
	s.m.pending.Add(-float64(n))
	if !ok {
		return
	}
	s.m.samples.Add(n)
	s.m.histograms.Add(b.nHist)
	var newest int64
	for _, t := range b.ts {
		newest = max(newest, t)
	}
	for {
		old := s.highestSent.Load()
		if newest <= old || s.highestSent.CompareAndSwap(old, newest) {
			break
		}
	}
	s.m.highestSentTS.Set(float64(s.highestSent.Load()) / 1000)
}

// String names the sender in messages.
func (s *Sender) String() string { return fmt.Sprintf("remote_write %s (%s)", s.name, s.url) }
