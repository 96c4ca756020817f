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

// loopSettings is what a loop needs to know about its target and job. It is
// immutable; new settings replace it whole.
type loopSettings struct {
	target *target
	job    *jobConfig
}

// loopDeps are the loop's collaborators, fixed for its lifetime.
type loopDeps struct {
	appender  AppenderFunc
	log       *slog.Logger
	isSoft    func(error) bool
	userAgent string

	scrapes  *metrics.Counter
	failures *metrics.Counter
	samples  *metrics.Counter
	rejected *metrics.Counter
}

func (m *Manager) loopDeps(jobName string) *loopDeps {
	app := m.opts.Appender
	if app == nil {
		app = func() Appender { return discardAppender{} }
	}
	set := m.opts.Metrics
	lbl := `{job="` + escapeLabelValue(jobName) + `"}`
	return &loopDeps{
		appender:  app,
		log:       m.log.With("job", jobName),
		isSoft:    m.opts.IsSoftError,
		userAgent: m.opts.UserAgent,
		scrapes:   set.GetOrCreateCounter("watchdog_scrapes_total" + lbl),
		failures:  set.GetOrCreateCounter("watchdog_scrape_failures_total" + lbl),
		samples:   set.GetOrCreateCounter("watchdog_scrape_samples_total" + lbl),
		rejected:  set.GetOrCreateCounter("watchdog_scrape_samples_rejected_total" + lbl),
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
	same := l.shown.job == s.job && l.shown.target.equal(s.target)
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

func (l *loop) report(start time.Time, dur time.Duration, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lastTime, l.lastDur = start, dur
	if err != nil {
		l.health, l.lastErr = "down", err.Error()
	} else {
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

// run is the target's goroutine: wait for the target's offset, then scrape
// every interval until ctx ends. When ctx was cancelled with
// errTargetRemoved it writes stale markers for every series first.
func (l *loop) run(ctx context.Context, deps *loopDeps, s *loopSettings) {
	defer close(l.done)
	sl := newScrapeLoop(deps, s)

	offset := time.NewTimer(scrapeOffset(s.target.hash, s.target.interval, time.Now()))
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
	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	aligned := time.Now()
	for {
		scrapeTime := time.Now()
		for scrapeTime.Sub(aligned) >= interval {
			aligned = aligned.Add(interval)
		}
		if scrapeTime.Sub(aligned) <= min(interval/100, alignTolerance) {
			scrapeTime = aligned
		}
		start := time.Now()
		if ran, err := sl.scrapeAndReport(ctx, scrapeTime); ran {
			l.report(scrapeTime, time.Since(start), err)
		}
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
					ticker.Reset(interval)
					aligned = time.Now()
				}
			case <-ticker.C:
				next = true
			}
		}
	}
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
