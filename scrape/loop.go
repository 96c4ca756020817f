package scrape

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/VictoriaMetrics/metrics"
)

var (
	// errTargetRemoved is the cancel cause of a loop whose target is gone: it
	// writes stale markers for all its series before it exits.
	errTargetRemoved = errors.New("target removed")
	// errShutdown is the cancel cause of a loop stopped by Run's end: it exits
	// without stale markers.
	errShutdown = errors.New("scrape manager stopped")
)

// alignTolerance is the most a scrape timestamp is moved to stay on the
// target's grid (at most 1% of the interval), as Prometheus's
// ScrapeTimestampTolerance: it keeps timestamps regular so that the store's
// delta encoding stays compact despite timer jitter.
const alignTolerance = 2 * time.Millisecond

// ingestWaitBuckets are the upper bounds of
// watchdog_scrape_ingest_wait_seconds: from an idle store (well under a
// millisecond) to one so overloaded that scrapes wait for minutes.
var ingestWaitBuckets = []float64{0.001, 0.01, 0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300}

// loopSettings is what a loop needs to know about its target and job. It is
// immutable; new settings replace it whole.
type loopSettings struct {
	target *target
	job    *jobConfig
	// forcedErr, when set, fails every scrape without fetching: the job is
	// over its target_limit.
	forcedErr error
}

// equal reports whether s and o would scrape the same way.
func (s *loopSettings) equal(o *loopSettings) bool {
	return s.job == o.job && s.target.equal(o.target) && errText(s.forcedErr) == errText(o.forcedErr)
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// loopDeps are the loop's collaborators, fixed for its lifetime.
type loopDeps struct {
	appender  AppenderFunc
	log       *slog.Logger
	isSoft    func(error) bool
	reasonOf  func(error) string
	userAgent string
	limiter   *limiter // nil: no ingest limit
	set       *metrics.Set
	jobLabel  string // job="<name>", escaped

	scrapes  *metrics.Counter
	failures *metrics.Counter
	samples  *metrics.Counter
	missed   *metrics.Counter
	// ingestWait is the job's histogram of the scrapes' waits for an
	// ingest slot.
	ingestWait *metrics.PrometheusHistogram

	meta              *sharedMeta      // shares equal metadata between targets
	exemplars         ExemplarAppender // nil: exemplars are not read
	exemplarsRejected *metrics.Counter

	storeST bool // Options.StoreStartTimestamps
	stZero  bool // Options.STZeroIngestion
}

// parseST reports whether start timestamps are read from scrapes.
func (d *loopDeps) parseST() bool { return d.storeST || d.stZero }

// reason names the reject reason of a soft Append error.
func (d *loopDeps) reason(err error) string {
	if d.reasonOf != nil {
		if r := d.reasonOf(err); r != "" {
			return r
		}
	}
	return "rejected"
}

// rejectedBy is the job's counter of samples refused for reason.
func (d *loopDeps) rejectedBy(reason string) *metrics.Counter {
	return d.set.GetOrCreateCounter(`watchdog_scrape_samples_rejected_total{` + d.jobLabel + `,reason="` + escapeLabelValue(reason) + `"}`)
}

// limitExceeded is the job's counter of scrapes failed by the named limit.
func (d *loopDeps) limitExceeded(limit string) *metrics.Counter {
	return d.set.GetOrCreateCounter(`watchdog_scrape_limit_exceeded_total{` + d.jobLabel + `,limit="` + limit + `"}`)
}

// limitName names the limit a scrape failure is about ("" if none).
func limitName(err error) string {
	for _, l := range []struct {
		err  error
		name string
	}{
		{ErrSampleLimit, "sample_limit"},
		{ErrBodySizeLimit, "body_size_limit"},
		{ErrLabelLimit, "label_limit"},
		{ErrLabelNameLengthLimit, "label_name_length_limit"},
		{ErrLabelValueLengthLimit, "label_value_length_limit"},
		{ErrTargetLimit, "target_limit"},
		{ErrBucketLimit, "native_histogram_bucket_limit"},
		{ErrHistogramTooLarge, "native_histogram_bucket_limit"},
		{errScrapeTimeout, "scrape_timeout"},
	} {
		if errors.Is(err, l.err) {
			return l.name
		}
	}
	return ""
}

func (m *Manager) loopDeps(jobName string) *loopDeps {
	app := m.opts.Appender
	if app == nil {
		app = func() Appender { return discardAppender{} }
	}
	set := m.opts.Metrics
	jl := `job="` + escapeLabelValue(jobName) + `"`
	lbl := `{` + jl + `}`
	return &loopDeps{
		appender:  app,
		log:       m.log.With("job", jobName),
		isSoft:    m.opts.IsSoftError,
		reasonOf:  m.opts.RejectReason,
		userAgent: m.opts.UserAgent,
		limiter:   m.limiter,
		meta:      m.meta,
		set:       set,
		jobLabel:  jl,
		scrapes:   set.GetOrCreateCounter("watchdog_scrapes_total" + lbl),
		failures:  set.GetOrCreateCounter("watchdog_scrape_failures_total" + lbl),
		samples:   set.GetOrCreateCounter("watchdog_scrape_samples_total" + lbl),
		missed:    set.GetOrCreateCounter("watchdog_scrape_missed_total" + lbl),

		ingestWait: set.GetOrCreatePrometheusHistogramExt("watchdog_scrape_ingest_wait_seconds"+lbl, ingestWaitBuckets),

		exemplars:         m.opts.Exemplars,
		exemplarsRejected: set.GetOrCreateCounter("watchdog_scrape_exemplars_rejected_total" + lbl),

		storeST: m.opts.StoreStartTimestamps,
		stZero:  m.opts.STZeroIngestion,
	}
}

// loop is the Manager's handle on one target's goroutine.
type loop struct {
	cancel context.CancelCauseFunc
	done   chan struct{} // closed when the goroutine has exited
	updCh  chan struct{} // one-slot wake-up: pending settings are waiting

	mu       sync.Mutex
	pending  *loopSettings // newest settings not yet taken by the goroutine
	shown    *loopSettings // newest settings, for status
	health   string
	lastErr  string
	lastTime time.Time
	lastDur  time.Duration
	meta     *metaSet // of the last successful scrape; never modified
}

// newLoop returns a loop for s and the context its goroutine must run with.
func newLoop(parent context.Context, s *loopSettings) (*loop, context.Context) {
	ctx, cancel := context.WithCancelCause(parent)
	return &loop{
		cancel: cancel,
		done:   make(chan struct{}),
		updCh:  make(chan struct{}, 1),
		shown:  s,
		health: "unknown",
	}, ctx
}

// stop asks the goroutine to exit; cause tells it whether to write stale
// markers. Wait on l.done for it to finish.
func (l *loop) stop(cause error) { l.cancel(cause) }

// update hands new settings to the goroutine; settings that are not yet taken
// are replaced.
func (l *loop) update(s *loopSettings) {
	l.mu.Lock()
	same := l.shown.equal(s)
	if !same {
		l.pending = s
		l.shown = s
	}
	l.mu.Unlock()
	if same {
		return
	}
	select {
	case l.updCh <- struct{}{}:
	default:
	}
}

func (l *loop) takePending() *loopSettings {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := l.pending
	l.pending = nil
	return s
}

// report records a scrape's outcome: down with err, or up, with warn (the
// samples the store refused) as the last error if there is one.
func (l *loop) report(start time.Time, dur time.Duration, err, warn error, meta *metaSet) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lastTime, l.lastDur, l.meta = start, dur, meta
	switch {
	case err != nil:
		l.health, l.lastErr = "down", err.Error()
	case warn != nil:
		l.health, l.lastErr = "up", warn.Error()
	default:
		l.health, l.lastErr = "up", ""
	}
}

func (l *loop) status() TargetStatus {
	l.mu.Lock()
	defer l.mu.Unlock()
	t := l.shown.target
	return TargetStatus{
		Job:                l.shown.job.cfg.JobName,
		DiscoveredLabels:   t.discovered,
		Labels:             t.public,
		ScrapeURL:          t.url,
		Health:             l.health,
		LastError:          l.lastErr,
		LastScrape:         l.lastTime,
		LastScrapeDuration: l.lastDur,
		ScrapeInterval:     t.interval,
		ScrapeTimeout:      t.timeout,
	}
}

// metadata returns the target's metadata.
func (l *loop) metadata() TargetMetadata {
	l.mu.Lock()
	defer l.mu.Unlock()
	return TargetMetadata{Job: l.shown.job.cfg.JobName, Labels: l.shown.target.public, Families: l.meta.get()}
}

// run is the target's goroutine: wait for the target's offset, then scrape
// on every tick of the target's grid (one interval apart) until ctx ends.
// Ticks that pass while a scrape is still running (fetching, waiting for an
// ingest slot or appending) are skipped and counted in
// watchdog_scrape_missed_total, never queued, so that the target keeps its
// phase and has at most one scrape in flight. When ctx
// was cancelled with errTargetRemoved it writes stale markers for every
// series first.
func (l *loop) run(ctx context.Context, deps *loopDeps, s *loopSettings) {
	defer close(l.done)
	sl := newScrapeLoop(deps, s)

	now := time.Now()
	first := now.Add(scrapeOffset(s.target.hash, s.target.interval, now))
	offset := time.NewTimer(first.Sub(now))
	defer offset.Stop()
	for waiting := true; waiting; {
		select {
		case <-ctx.Done():
			sl.finish(ctx)
			return
		case <-l.updCh:
			if p := l.takePending(); p != nil {
				sl.apply(p)
			}
		case <-offset.C:
			waiting = false
		}
	}

	interval := sl.s.target.interval
	tick := first // the target's phase; later ticks are interval apart
	timer := time.NewTimer(interval)
	defer timer.Stop()
	for {
		start := time.Now()
		scrapeTime := start
		if scrapeTime.Sub(tick) <= min(interval/100, alignTolerance) {
			scrapeTime = tick
		}
		if ran, err := sl.scrapeAndReport(ctx, scrapeTime); ran {
			l.report(scrapeTime, sl.dur, err, sl.warn, sl.meta.published)
		}
		var missed int
		tick, missed = nextTick(tick, interval, time.Now())
		if missed > 0 {
			deps.missed.Add(missed)
			deps.log.Debug("scrape took longer than the interval, ticks skipped", "target", sl.s.target.url,
				"missed", missed, "took", time.Since(start))
		}
		timer.Reset(time.Until(tick))
		for next := false; !next; {
			select {
			case <-ctx.Done():
				sl.finish(ctx)
				return
			case <-l.updCh:
				if p := l.takePending(); p != nil {
					sl.apply(p)
				}
				if iv := sl.s.target.interval; iv != interval {
					interval = iv
					tick = time.Now().Add(interval)
					timer.Reset(interval)
				}
			case <-timer.C:
				next = true
			}
		}
	}
}

// nextTick returns the first tick of the grid tick + k·interval (k ≥ 1) that
// is not before now, and how many ticks of the grid came before now: scrapes
// that could not start on their tick because the previous one was still
// running. Like the missed iterations of Prometheus's rule groups they are
// counted; unlike them they are skipped rather than run late, so a target
// keeps its phase and its timestamps stay on its grid.
func nextTick(tick time.Time, interval time.Duration, now time.Time) (next time.Time, missed int) {
	next = tick.Add(interval)
	if !now.After(next) {
		return next, 0
	}
	n := (now.Sub(next) + interval - 1) / interval
	return next.Add(n * interval), int(n)
}

// escapeLabelValue escapes v for a label value in metric text format.
func escapeLabelValue(v string) string {
	var b []byte
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch c {
		case '\\', '"':
			b = append(b, '\\', c)
		case '\n':
			b = append(b, '\\', 'n')
		default:
			b = append(b, c)
		}
	}
	return string(b)
}
