package scrape

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/textparse"
	"github.com/prometheus/prometheus/model/value"
)

// reportNames are the synthetic series written after every scrape.
var reportNames = [...]string{
	"up",
	"scrape_duration_seconds",
	"scrape_samples_scraped",
	"scrape_samples_post_metric_relabeling",
	"scrape_series_added",
}

// reportEntry caches the labels and ref of one synthetic series.
type reportEntry struct {
	ref  uint64
	lset labels.Labels
}

// scrapeLoop is the state of one target's goroutine: settings, series cache,
// HTTP buffers. Nothing else touches it.
type scrapeLoop struct {
	deps    *loopDeps
	s       *loopSettings
	cache   *seriesCache
	fetch   fetcher
	parsers parsers
	lb      *labels.Builder
	reports [len(reportNames)]reportEntry
	lset    labels.Labels // scratch for parsed labels
	// cur is appendBody's parser while it appends a series, for
	// lineLabels; nil otherwise.
	cur textparse.Parser
	// sb builds new series' label sets (mergeTarget) from the target's
	// labels, targetLabels, taken from targetFor.
	sb           labels.ScratchBuilder
	targetLabels []labels.Label
	targetFor    *loopSettings
	// warn is what the last scrape, though successful, has to report: the
	// samples the store refused. nil when there were none.
	warn error
	// dur is the last scrape's scrape_duration_seconds.
	dur time.Duration
	// meta collects the metadata of the scrapes; exemplars and
	// exemplarsDropped are the current scrape's exemplars.
	meta             metaCollector
	exemplars        []pendingExemplar
	exemplarsDropped int
}

func newScrapeLoop(deps *loopDeps, s *loopSettings) *scrapeLoop {
	return &scrapeLoop{
		deps:  deps,
		s:     s,
		cache: newSeriesCache(),
		fetch: fetcher{userAgent: deps.userAgent},
		meta:  metaCollector{shared: deps.meta},
		lb:    labels.NewBuilder(labels.EmptyLabels()),
	}
}

// apply switches to new settings. Cached label sets are dropped when the
// rules that shape them changed; staleness tracking is kept.
func (sl *scrapeLoop) apply(s *loopSettings) {
	if s.job.seriesFingerprint != sl.s.job.seriesFingerprint || !labels.Equal(s.target.public, sl.s.target.public) {
		sl.cache.resetLabels()
		sl.reports = [len(reportNames)]reportEntry{}
	}
	sl.s = s
}

// scrapeAndReport scrapes once with timestamp ts, appends the samples (or
// stale markers, when the scrape failed) and the synthetic series, and
// commits. The target's scrape_timeout covers the fetch only: a body fetched
// in time waits for an ingest slot and is appended and committed however
// long that takes (one body per target at most, bounded by body_size_limit;
// the loop skips and counts the ticks that pass meanwhile), so that a store
// under load is not handed the same new series again and again by scrapes
// rolled back at their deadline. It reports ran=false, and writes nothing,
// when ctx ended during the scrape (shutdown, target removed); otherwise err
// is the scrape's failure reason.
func (sl *scrapeLoop) scrapeAndReport(ctx context.Context, ts time.Time) (ran bool, err error) {
	start := time.Now()
	if err := sl.s.forcedErr; err != nil {
		// The job is over a limit (target_limit): fail without scraping.
		_, err = sl.ingest(ctx, nil, "", err, ts, start, 0)
		return true, err
	}
	body, contentType, scrapeErr := sl.fetchBody(ctx)
	defer func() {
		// The body goes back to the pool: nothing may keep a view into it.
		sl.parsers.release()
		sl.fetch.release()
	}()
	if ctx.Err() != nil {
		return false, nil
	}
	var wait time.Duration
	if scrapeErr == nil && sl.deps.limiter != nil {
		waitStart := time.Now()
		if err := sl.deps.limiter.acquire(ctx, sl.s.job.cfg.JobName); err != nil {
			return false, nil // ctx ended
		}
		defer sl.deps.limiter.release()
		wait = time.Since(waitStart)
		sl.deps.ingestWait.Update(wait.Seconds())
	}
	_, err = sl.ingest(ctx, body, contentType, scrapeErr, ts, start, wait)
	if ctx.Err() != nil {
		return false, nil
	}
	return true, err
}

// fetchBody fetches the target's body within its scrape_timeout. The body
// stays valid until sl.fetch.release.
func (sl *scrapeLoop) fetchBody(ctx context.Context) ([]byte, string, error) {
	sctx, cancel := context.WithTimeout(ctx, sl.s.target.timeout)
	defer cancel()
	body, contentType, err := sl.fetch.fetch(sctx, sl.s)
	if err != nil && errors.Is(sctx.Err(), context.DeadlineExceeded) {
		err = fmt.Errorf("%w: %w", errScrapeTimeout, err)
	}
	return body, contentType, err
}

// errScrapeTimeout is the failure of a scrape whose scrape_timeout passed
// during the fetch.
var errScrapeTimeout = errors.New("scrape timeout")

// ingest writes the outcome of one scrape with timestamp ts that started at
// start and waited wait for its ingest slot: body's samples (or, when
// scrapeErr is set or the body fails, stale markers for every series of the
// last successful scrape), then the synthetic series, and commits. It
// returns the number of samples in body and the scrape's failure reason.
// When ctx ends while the body is appended (shutdown, target removed), the
// samples are rolled back and nothing is written; the cache still holds the
// last scrape's series for the stale markers of a removed target.
func (sl *scrapeLoop) ingest(ctx context.Context, body []byte, contentType string, scrapeErr error, ts, start time.Time, wait time.Duration) (int, error) {
	defTime := ts.UnixMilli()

	app := sl.deps.appender()
	var res appendResult
	if scrapeErr == nil {
		res, scrapeErr = sl.appendBody(ctx, app, body, contentType, defTime)
		if scrapeErr != nil {
			sl.rollback(app)
			if errors.Is(scrapeErr, errAbandoned) {
				return res.total, scrapeErr
			}
			app = sl.deps.appender()
		}
	}
	if scrapeErr != nil {
		// A failed scrape is an empty scrape: every series of the last
		// successful scrape goes stale.
		sl.cache.forgetCurrent()
		sl.writeStale(app, defTime)
	}
	sl.cache.iterDone(scrapeErr == nil)
	// scrape_duration_seconds is the scrape's own work (fetch, parse,
	// append), not its wait for a slot: watchdog_scrape_ingest_wait_seconds.
	sl.dur = time.Since(start) - wait
	sl.writeReport(app, defTime, sl.dur, res, scrapeErr)
	committed := true
	if err := app.Commit(); err != nil {
		committed = false
		sl.deps.log.Error("commit scrape", "target", sl.s.target.url, "err", err)
	}
	sl.meta.end(scrapeErr == nil && committed)
	sl.flushExemplars(scrapeErr == nil && committed)
	sl.count(&res, scrapeErr)
	return res.total, scrapeErr
}

// count counts one scrape in the job's metrics and sets sl.warn.
func (sl *scrapeLoop) count(res *appendResult, scrapeErr error) {
	sl.deps.scrapes.Inc()
	sl.deps.samples.Add(res.total)
	sl.countRejects(res)
	if scrapeErr != nil {
		sl.deps.failures.Inc()
		if name := limitName(scrapeErr); name != "" {
			sl.deps.limitExceeded(name).Inc()
		}
		sl.deps.log.Debug("scrape failed", "target", sl.s.target.url, "err", scrapeErr)
	}
	sl.warn = nil
	if scrapeErr == nil && res.firstReject != nil {
		// The scrape worked but some samples were refused: say so on the
		// target (/api/v1/targets lastError) while it stays up.
		sl.warn = res.rejectSummary()
	}
}

// countRejects counts the samples of one scrape the store refused, per
// reason, and logs them in one line.
func (sl *scrapeLoop) countRejects(res *appendResult) {
	if res.rejected == 0 {
		return
	}
	for _, r := range res.rejects {
		sl.deps.rejectedBy(r.reason).Add(r.n)
	}
	sl.deps.log.Warn("samples refused", "target", sl.s.target.url, "count", res.rejected,
		"reasons", res.reasonCounts(), "first", res.firstReject)
}

func (sl *scrapeLoop) rollback(app Appender) {
	if err := app.Rollback(); err != nil {
		sl.deps.log.Warn("rollback scrape", "target", sl.s.target.url, "err", err)
	}
}

// finish runs when the loop's context ends. A removed target writes stale
// markers for every series it exposed last and for its synthetic series, at
// the stop time; a shutdown writes nothing.
func (sl *scrapeLoop) finish(ctx context.Context) {
	if !errors.Is(context.Cause(ctx), errTargetRemoved) {
		return
	}
	t := time.Now().UnixMilli()
	app := sl.deps.appender()
	stale := math.Float64frombits(value.StaleNaN)
	n := 0
	sl.cache.forEachTracked(func(e *cacheEntry) {
		n++
		sl.appendQuiet(app, &e.ref, e.lset, t, stale)
	})
	for i := range sl.reports {
		if r := &sl.reports[i]; !r.lset.IsEmpty() {
			n++
			sl.appendQuiet(app, &r.ref, r.lset, t, stale)
		}
	}
	if n == 0 {
		sl.rollback(app)
		return
	}
	if err := app.Commit(); err != nil {
		sl.deps.log.Warn("commit stale markers", "target", sl.s.target.url, "err", err)
	}
}

// writeStale appends stale markers for the series the previous scrape
// exposed and this one did not.
func (sl *scrapeLoop) writeStale(app Appender, t int64) {
	stale := math.Float64frombits(value.StaleNaN)
	sl.cache.forEachStale(func(e *cacheEntry) {
		sl.appendQuiet(app, &e.ref, e.lset, t, stale)
	})
}

// writeReport appends the synthetic series, with the target's labels.
func (sl *scrapeLoop) writeReport(app Appender, t int64, dur time.Duration, res appendResult, scrapeErr error) {
	up := 1.0
	if scrapeErr != nil {
		up = 0
	}
	vals := [len(reportNames)]float64{up, dur.Seconds(), float64(res.total), float64(res.added), float64(res.seriesAdded)}
	for i := range sl.reports {
		r := &sl.reports[i]
		if r.lset.IsEmpty() {
			sl.lb.Reset(sl.s.target.public)
			sl.lb.Set(model.MetricNameLabel, reportNames[i])
			r.lset = sl.lb.Labels()
		}
		sl.appendQuiet(app, &r.ref, r.lset, t, vals[i])
	}
}

// appendQuiet appends one sample whose failure must not fail the scrape
// (stale markers, synthetic series), retrying by labels once when the cached
// ref fails, and logging errors that are not soft.
func (sl *scrapeLoop) appendQuiet(app Appender, ref *uint64, lset labels.Labels, t int64, v float64) {
	r, err := sl.appendRetry(app, *ref, lset, t, v)
	if err != nil {
		if !sl.soft(err) && !lset.IsEmpty() { // empty: a cache entry whose series is gone
			sl.deps.log.Warn("append", "series", lset.String(), "err", err)
		}
		return
	}
	if r != 0 {
		*ref = r
	}
}

// appendRetry appends one sample; when it fails with a cached ref and the
// error is not soft, it retries once with ref 0 and the labels (the series
// may have been garbage-collected).
func (sl *scrapeLoop) appendRetry(app Appender, ref uint64, lset labels.Labels, t int64, v float64) (uint64, error) {
	r, err := app.Append(ref, lset, t, v)
	if err != nil && ref != 0 && (sl.deps.isSoft == nil || !sl.deps.isSoft(err)) {
		if lset = sl.lineLabels(lset); !lset.IsEmpty() {
			r, err = app.Append(0, lset, t, v)
		}
	}
	return r, err
}

// soft reports whether err means a single rejected sample.
func (sl *scrapeLoop) soft(err error) bool {
	return sl.deps.isSoft == nil || sl.deps.isSoft(err)
}

// discardAppender is used when Options.Appender is nil.
type discardAppender struct{}

func (discardAppender) Append(uint64, labels.Labels, int64, float64) (uint64, error) { return 0, nil }
func (discardAppender) AppendHistogram(uint64, labels.Labels, int64, *histogram.Histogram, *histogram.FloatHistogram) (uint64, error) {
	return 0, nil
}
func (discardAppender) AppendSample(uint64, labels.Labels, int64, int64, float64, *histogram.Histogram, *histogram.FloatHistogram) (uint64, error) {
	return 0, nil
}
func (discardAppender) AppendSTZeroSample(uint64, labels.Labels, int64, int64, *histogram.Histogram, *histogram.FloatHistogram) (uint64, error) {
	return 0, nil
}
func (discardAppender) Commit() error   { return nil }
func (discardAppender) Rollback() error { return nil }
