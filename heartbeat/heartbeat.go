// Package heartbeat is the watchdog's dead man's switch: one goroutine that
// calls an outside URL every interval (a healthchecks.io check, an Opsgenie
// heartbeat, any service that pages when the calls stop) while the process
// reports itself healthy, and withholds the call while it does not, so that
// the outside service pages when the whole watchdog goes quiet or stops
// doing its job.
//
// The package knows nothing of rules or the pager: what "healthy" means is
// the Healthy function the caller passes in.
package heartbeat

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/VictoriaMetrics/metrics"
)

// Defaults of Options.
const (
	DefaultInterval = time.Minute
	DefaultTimeout  = 10 * time.Second
	// DefaultRetryBackoff is the first wait between attempts of one beat;
	// it doubles up to the end of the interval.
	DefaultRetryBackoff = time.Second
	userAgent           = "Watchdog-Heartbeat/1"
	maxErrorBody        = 256
)

// ErrStatus is wrapped by the error of an attempt answered with a non-2xx
// status.
var ErrStatus = errors.New("heartbeat endpoint answered an error status")

// HealthFunc reports why the watchdog is unhealthy at now, or nil when it
// is healthy and the heartbeat may be sent.
type HealthFunc func(now time.Time) error

// Endpoint is the request of one heartbeat call. Its URL and headers may
// hold secrets: they never appear in logs or errors (only the URL's host
// does).
type Endpoint struct {
	URL    string
	Method string // GET when ""
	Header http.Header
	Body   []byte
}

// Options configure a Sender. The zero value is safe but sends nothing
// (no URL).
type Options struct {
	Endpoint Endpoint
	// Interval between beats (DefaultInterval when 0).
	Interval time.Duration
	// Timeout bounds each attempt (DefaultTimeout when 0; at most
	// Interval).
	Timeout time.Duration
	// RetryBackoff is the first wait before retrying a failed attempt
	// (DefaultRetryBackoff when 0). Attempts stop when the next beat is due.
	RetryBackoff time.Duration
	// Healthy gates every beat; nil means always healthy.
	Healthy HealthFunc
	// Now is the clock (time.Now when nil).
	Now func() time.Time
	// Client sends the requests (a client that does not follow redirects
	// when nil).
	Client *http.Client
	// Logger receives a WARN line when the watchdog turns unhealthy or
	// the endpoint starts failing, and an INFO line when either recovers.
	Logger *slog.Logger
	// Metrics receives the watchdog_heartbeat_* series; nil disables them.
	Metrics *metrics.Set
}

// Sender sends heartbeats; create it with New and run it with Run.
type Sender struct {
	o    Options
	host string // for logs: the URL without path, query or credentials

	sent, failures, withheld *metrics.Counter

	mu          sync.Mutex
	lastSuccess time.Time
	unhealthy   bool // the last beat was withheld
	failing     bool // the last beat sent failed
}

var defaultClient = &http.Client{
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

// New returns a Sender for o, with defaults filled in.
func New(o Options) *Sender {
	if o.Interval <= 0 {
		o.Interval = DefaultInterval
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	o.Timeout = min(o.Timeout, o.Interval)
	if o.RetryBackoff <= 0 {
		o.RetryBackoff = DefaultRetryBackoff
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Client == nil {
		o.Client = defaultClient
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Endpoint.Method == "" {
		o.Endpoint.Method = http.MethodGet
	}
	s := &Sender{o: o, host: redact(o.Endpoint.URL)}
	set := o.Metrics
	if set == nil {
		set = metrics.NewSet() // counted, never exposed
	}
	s.sent = set.NewCounter("watchdog_heartbeat_sent_total")
	s.failures = set.NewCounter("watchdog_heartbeat_failures_total")
	s.withheld = set.NewCounter("watchdog_heartbeat_withheld_total")
	set.NewGauge("watchdog_heartbeat_last_success_timestamp_seconds", func() float64 {
		t := s.LastSuccess()
		if t.IsZero() {
			return 0
		}
		return float64(t.UnixNano()) / 1e9
	})
	return s
}

// LastSuccess is when a heartbeat was last accepted (zero before the first).
func (s *Sender) LastSuccess() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lastSuccess
}

// Run beats at once and then every Interval until ctx is done.
func (s *Sender) Run(ctx context.Context) {
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		start := s.o.Now()
		s.beat(ctx, start.Add(s.o.Interval))
		t.Reset(max(0, start.Add(s.o.Interval).Sub(s.o.Now())))
	}
}

// beat sends one heartbeat, retrying until it succeeds, fails for good or
// the next beat (due) would begin; it is withheld while unhealthy.
func (s *Sender) beat(ctx context.Context, due time.Time) {
	if !s.healthy(s.o.Now()) {
		return
	}
	backoff := s.o.RetryBackoff
	for {
		retry, err := s.Attempt(ctx)
		if err == nil {
			s.succeeded()
			return
		}
		s.failures.Inc()
		if !retry || ctx.Err() != nil || !s.o.Now().Add(backoff).Before(due) {
			s.failed(err)
			return
		}
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		backoff *= 2
	}
}

// healthy asks Options.Healthy, counts a withheld beat and logs a change
// of state.
func (s *Sender) healthy(now time.Time) bool {
	var err error
	if s.o.Healthy != nil {
		err = s.o.Healthy(now)
	}
	s.mu.Lock()
	was := s.unhealthy
	s.unhealthy = err != nil
	s.mu.Unlock()
	switch {
	case err != nil:
		s.withheld.Inc()
		if !was {
			s.o.Logger.Warn("heartbeat withheld: the watchdog is unhealthy; the outside service will page if this lasts",
				"endpoint", s.host, "reason", err)
		}
		return false
	case was:
		s.o.Logger.Info("heartbeat resumed: the watchdog is healthy again", "endpoint", s.host)
	}
	return true
}

func (s *Sender) succeeded() {
	s.sent.Inc()
	s.mu.Lock()
	was := s.failing
	s.lastSuccess, s.failing = s.o.Now(), false
	s.mu.Unlock()
	if was {
		s.o.Logger.Info("heartbeat accepted again", "endpoint", s.host)
	}
}

func (s *Sender) failed(err error) {
	s.mu.Lock()
	was := s.failing
	s.failing = true
	s.mu.Unlock()
	if !was {
		s.o.Logger.Warn("heartbeat not accepted; the outside service will page if this lasts", "endpoint", s.host, "err", err)
		return
	}
	s.o.Logger.Debug("heartbeat not accepted", "endpoint", s.host, "err", err)
}

// Attempt sends the request once, within Timeout, and reports whether a
// failure is worth retrying (network errors, timeouts, 408, 429 and 5xx
// answers; not other 4xx: a wrong URL or key does not heal itself).
func (s *Sender) Attempt(ctx context.Context) (retry bool, err error) {
	ctx, cancel := context.WithTimeout(ctx, s.o.Timeout)
	defer cancel()
	e := s.o.Endpoint
	var body io.Reader
	if len(e.Body) > 0 {
		body = bytes.NewReader(e.Body)
	}
	req, err := http.NewRequestWithContext(ctx, e.Method, e.URL, body)
	if err != nil {
		return false, fmt.Errorf("heartbeat request: %w", stripURL(err))
	}
	for k, vs := range e.Header {
		req.Header[http.CanonicalHeaderKey(k)] = vs
	}
	req.Header.Set("User-Agent", userAgent)
	resp, err := s.o.Client.Do(req)
	if err != nil {
		return true, fmt.Errorf("send heartbeat to %s: %w", s.host, stripURL(err))
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return false, nil
	}
	code := resp.StatusCode
	retry = code == http.StatusTooManyRequests || code == http.StatusRequestTimeout || code >= 500
	return retry, fmt.Errorf("send heartbeat to %s: %w: %d %s: %s", s.host, ErrStatus, code, http.StatusText(code), bytes.TrimSpace(msg))
}

// redact returns scheme://host of raw, for logs: heartbeat URLs often
// carry their secret in the path (healthchecks.io) or the query.
func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "(invalid URL)"
	}
	return u.Scheme + "://" + u.Host
}

// stripURL removes the URL net/http puts into its errors.
func stripURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return fmt.Errorf("%s: %w", ue.Op, ue.Err)
	}
	return err
}
