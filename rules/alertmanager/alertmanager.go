// Package alertmanager delivers alerts to Prometheus Alertmanagers over
// their API v2 (POST /api/v2/alerts), and prints them on a console for
// setups without one.
//
// A Sender keeps one bounded queue and one goroutine per Alertmanager, so a
// slow or unreachable Alertmanager delays only its own deliveries. Send
// never blocks: when a queue is full its oldest alerts are dropped and
// counted. The package does not know about rule evaluation; the caller
// converts its alerts to Alert.
package alertmanager

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/watchdog-sre/watchdog/internal/alert"
)

// Defaults applied by New to zero Options fields.
const (
	DefaultTimeout       = 10 * time.Second
	DefaultMaxRetries    = 3
	DefaultQueueCapacity = 10000
	DefaultBatchSize     = 64
)

// ErrInvalidURL is returned by Run when an Alertmanager URL is not an
// absolute http or https URL.
var ErrInvalidURL = errors.New("invalid alertmanager url")

// Alert is one alert: the value every source hands to every sink (see
// package internal/alert); Sender renders it in the Alertmanager API v2
// wire format only when it posts it. An alert with EndsAt in the past is
// resolved; a firing alert has EndsAt zero or in the future (Prometheus
// sends now plus a few evaluation intervals, so that a lost sender lets the
// alert expire).
type Alert = alert.Alert

// Options configures a Sender. The zero value is usable: no Alertmanagers
// (Send discards), the defaults above, a private metrics set and no logs.
type Options struct {
	// URLs are the Alertmanager base URLs, such as http://am:9093 or
	// https://host/prefix; alerts go to URL + "/api/v2/alerts".
	URLs []string
	// Client sends the requests; nil uses a client over a clone of
	// http.DefaultTransport. Its own Timeout, if any, also applies.
	Client *http.Client
	// Timeout bounds each attempt (DefaultTimeout when 0).
	Timeout time.Duration
	// MaxRetries is how many times a batch is retried after a retryable
	// failure (429, 5xx, network error): DefaultMaxRetries when 0, none
	// when negative.
	MaxRetries int
	// Backoff is the wait before retry attempt n (1-based); nil uses
	// DefaultBackoff.
	Backoff func(attempt int) time.Duration
	// Metrics receives, per Alertmanager (label alertmanager="<url>"),
	// watchdog_alertmanager_alerts_sent_total, _failed_total (given up:
	// permanent error or retries exhausted), _dropped_total (queue full)
	// and watchdog_alertmanager_retries_total, plus the gauge
	// watchdog_alertmanager_queue_length. nil uses a private set.
	Metrics *metrics.Set
	// Logger receives delivery failures; nil discards.
	Logger *slog.Logger
	// QueueCapacity bounds each Alertmanager's queue
	// (DefaultQueueCapacity when 0); when full the oldest alerts are dropped.
	QueueCapacity int
	// BatchSize is the most alerts sent in one request (DefaultBatchSize
	// when 0).
	BatchSize int
	// Authorization returns the Authorization header value for the
	// Alertmanager at base URL ("" for none); it is called at every
	// attempt, so rotated credentials apply. nil sends none.
	Authorization func(base string) (string, error)
}

// Sender queues alerts and delivers them to every configured Alertmanager.
// Create it with New, call Send from anywhere, and run Run once.
type Sender struct {
	opts   Options
	log    *slog.Logger
	client *http.Client
	ams    []*target
}

// target is one Alertmanager: its queue and counters.
type target struct {
	base     string // as configured, the metrics label
	endpoint string // base + /api/v2/alerts
	queue

	sent, failed, retries *metrics.Counter
}

// New returns a Sender for opts. It does not validate the URLs (Run does)
// and sends nothing until Run is called.
func New(opts Options) *Sender {
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	switch {
	case opts.MaxRetries == 0:
		opts.MaxRetries = DefaultMaxRetries
	case opts.MaxRetries < 0:
		opts.MaxRetries = 0
	}
	if opts.Backoff == nil {
		opts.Backoff = DefaultBackoff
	}
	if opts.Metrics == nil {
		opts.Metrics = metrics.NewSet()
	}
	if opts.QueueCapacity <= 0 {
		opts.QueueCapacity = DefaultQueueCapacity
	}
	if opts.BatchSize <= 0 {
		opts.BatchSize = DefaultBatchSize
	}
	s := &Sender{opts: opts, log: opts.Logger, client: opts.Client}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.client == nil {
		tr := http.DefaultTransport
		if t, ok := tr.(*http.Transport); ok {
			tr = t.Clone()
		}
		s.client = &http.Client{Transport: tr}
	}
	for _, u := range opts.URLs {
		lbl := `{alertmanager="` + escapeLabelValue(u) + `"}`
		t := &target{
			base:     u,
			endpoint: strings.TrimRight(u, "/") + "/api/v2/alerts",
			queue:    newQueue(opts.QueueCapacity, opts.Metrics.GetOrCreateCounter("watchdog_alertmanager_alerts_dropped_total"+lbl)),
			sent:     opts.Metrics.GetOrCreateCounter("watchdog_alertmanager_alerts_sent_total" + lbl),
			failed:   opts.Metrics.GetOrCreateCounter("watchdog_alertmanager_alerts_failed_total" + lbl),
			retries:  opts.Metrics.GetOrCreateCounter("watchdog_alertmanager_retries_total" + lbl),
		}
		opts.Metrics.GetOrCreateGauge("watchdog_alertmanager_queue_length"+lbl, t.length)
		s.ams = append(s.ams, t)
	}
	return s
}

func escapeLabelValue(v string) string {
	return strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(v)
}

// Send queues alerts for every Alertmanager and returns at once; it never
// blocks on delivery. A full queue drops its oldest alerts, counted.
func (s *Sender) Send(alerts ...Alert) {
	if len(alerts) == 0 {
		return
	}
	for _, t := range s.ams {
		t.push(alerts)
	}
}

// Run delivers queued alerts until ctx is done, with one goroutine per
// Alertmanager, and then returns nil; alerts still queued are dropped
// uncounted. It returns ErrInvalidURL, wrapped, at once if a URL is not an
// absolute http or https URL. Call it once.
func (s *Sender) Run(ctx context.Context) error {
	for _, t := range s.ams {
		u, err := url.Parse(t.base)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("%w: %q", ErrInvalidURL, t.base)
		}
	}
	var wg sync.WaitGroup
	for _, t := range s.ams {
		wg.Go(func() { s.loop(ctx, t) })
	}
	<-ctx.Done()
	wg.Wait()
	return nil
}

// loop drains one Alertmanager's queue in batches.
func (s *Sender) loop(ctx context.Context, t *target) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.wake:
		}
		for ctx.Err() == nil {
			batch := t.pop(s.opts.BatchSize)
			if len(batch) == 0 {
				break
			}
			s.deliver(ctx, t, batch)
		}
	}
}
