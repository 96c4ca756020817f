package channel

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/VictoriaMetrics/metrics"
)

// ErrRetriesExhausted is wrapped (together with the last failure) when every
// attempt allowed by a RetryPolicy failed with a retryable error.
var ErrRetriesExhausted = errors.New("retries exhausted")

// RetryPolicy controls SendWithRetry. Zero fields take the defaults noted.
type RetryPolicy struct {
	// MaxAttempts counts the first try too (default 5).
	MaxAttempts int `yaml:"max_attempts"`
	// InitialBackoff is the delay after the first failure (default 1s).
	InitialBackoff time.Duration `yaml:"initial_backoff"`
	// MaxBackoff caps the exponential delay (default 1m).
	MaxBackoff time.Duration `yaml:"max_backoff"`
	// Multiplier grows the delay per attempt (default 2; values < 1 mean 2).
	Multiplier float64 `yaml:"multiplier"`
	// Jitter removes up to this fraction of each delay at random (default
	// 0.2; negative disables jitter; values > 1 are treated as 1).
	Jitter float64 `yaml:"jitter"`
	// AttemptTimeout bounds each attempt (default 30s).
	AttemptTimeout time.Duration `yaml:"attempt_timeout"`
	// MaxRetryAfter caps how long a server's Retry-After can make us wait
	// (default 5m).
	MaxRetryAfter time.Duration `yaml:"max_retry_after"`
}

func (p RetryPolicy) withDefaults() RetryPolicy {
	if p.MaxAttempts <= 0 {
		p.MaxAttempts = 5
	}
	if p.InitialBackoff <= 0 {
		p.InitialBackoff = time.Second
	}
	if p.MaxBackoff <= 0 {
		p.MaxBackoff = time.Minute
	}
	if p.MaxBackoff < p.InitialBackoff {
		p.MaxBackoff = p.InitialBackoff
	}
	if p.Multiplier < 1 {
		p.Multiplier = 2
	}
	switch {
	case p.Jitter == 0:
		p.Jitter = 0.2
	case p.Jitter < 0:
		p.Jitter = 0
	case p.Jitter > 1:
		p.Jitter = 1
	}
	if p.AttemptTimeout <= 0 {
		p.AttemptTimeout = 30 * time.Second
	}
	if p.MaxRetryAfter <= 0 {
		p.MaxRetryAfter = 5 * time.Minute
	}
	return p
}

// backoff returns the jittered delay after failed attempt n (1-based).
// rnd returns a value in [0, 1).
func (p RetryPolicy) backoff(n int, rnd float64) time.Duration {
	d := float64(p.InitialBackoff)
	for i := 1; i < n && d < float64(p.MaxBackoff); i++ {
		d *= p.Multiplier
	}
	d = min(d, float64(p.MaxBackoff))
	d -= d * p.Jitter * rnd
	return time.Duration(d)
}

// RetrierOptions configure a Retrier. The zero value is usable.
type RetrierOptions struct {
	Policy RetryPolicy `yaml:"policy"`
	// Metrics receives per-channel counters
	// watchdog_pager_channel_{attempts,retries,failures,sent}_total{channel="…"}.
	// Nil disables metrics.
	Metrics *metrics.Set `yaml:"-"`
	// Logger gets one warning per failed attempt (channel, incident,
	// recipient, attempt, error), the last one saying the send failed for
	// good; the caller, which gets the error, logs the ERROR line with
	// what it does next. Nil discards. Errors logged here come from channels, which
	// never include secrets.
	Logger *slog.Logger `yaml:"-"`
	// Rand returns values in [0, 1) for jitter; nil uses math/rand/v2.
	Rand func() float64 `yaml:"-"`
}

// Retrier sends through a Channel, retrying retryable failures with capped
// exponential backoff and jitter, honouring Retry-After, and stopping at the
// first permanent error or when the context ends.
type Retrier struct {
	policy RetryPolicy
	set    *metrics.Set
	log    *slog.Logger
	rnd    func() float64
}

// NewRetrier returns a Retrier for o.
func NewRetrier(o RetrierOptions) *Retrier {
	r := &Retrier{policy: o.Policy.withDefaults(), set: o.Metrics, log: o.Logger, rnd: o.Rand}
	if r.log == nil {
		r.log = slog.New(slog.DiscardHandler)
	}
	if r.rnd == nil {
		r.rnd = rand.Float64
	}
	return r
}

// SendWithRetry sends m through ch under policy without metrics or logging.
// It returns the number of attempts made and the final error, if any.
func SendWithRetry(ctx context.Context, ch Channel, m Message, policy RetryPolicy) (attempts int, err error) {
	return NewRetrier(RetrierOptions{Policy: policy}).Send(ctx, ch, m)
}

// Send delivers m through ch. It returns the number of attempts made and nil,
// the first permanent error, ErrRetriesExhausted wrapping the last error, or
// the context's error joined with the last error.
func (r *Retrier) Send(ctx context.Context, ch Channel, m Message) (attempts int, err error) {
	name := ch.Name()
	c := r.counters(name)
	var last error
	for attempts = 1; ; attempts++ {
		if err := ctx.Err(); err != nil {
			c.failures.Inc()
			return attempts - 1, errors.Join(err, last)
		}
		c.attempts.Inc()
		actx, cancel := context.WithTimeout(ctx, r.policy.AttemptTimeout)
		retry, err := ch.Send(actx, m)
		cancel()
		if err == nil {
			c.sent.Inc()
			return attempts, nil
		}
		last = fmt.Errorf("channel %s: %w", name, err)
		if !retry {
			c.failures.Inc()
			r.log.Warn("page delivery failed permanently", "channel", name, "incident", m.IncidentID, "user", m.Recipient.Name,
				"attempt", attempts, "err", err)
			return attempts, last
		}
		if attempts >= r.policy.MaxAttempts {
			c.failures.Inc()
			r.log.Warn("page delivery gave up", "channel", name, "incident", m.IncidentID, "user", m.Recipient.Name,
				"attempt", attempts, "err", err)
			return attempts, fmt.Errorf("%w after %d attempts: %w", ErrRetriesExhausted, attempts, last)
		}
		delay := r.policy.backoff(attempts, r.rnd())
		if ra, ok := RetryAfter(err); ok {
			delay = max(delay, min(ra, r.policy.MaxRetryAfter))
		}
		r.log.Warn("page delivery attempt failed, will retry", "channel", name, "incident", m.IncidentID, "user", m.Recipient.Name,
			"attempt", attempts, "delay", delay, "err", err)
		c.retries.Inc()
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			c.failures.Inc()
			return attempts, errors.Join(ctx.Err(), last)
		case <-t.C:
		}
	}
}

// Register creates the counters of the channel called name at zero, so
// that they are exported before its first send. It does nothing without
// Metrics.
func (r *Retrier) Register(name string) { r.counters(name) }

type counters struct {
	attempts, retries, failures, sent counter
}

// counter is the subset of *metrics.Counter we use; nopCounter stands in
// when metrics are disabled.
type counter interface{ Inc() }

type nopCounter struct{}

func (nopCounter) Inc() {}

func (r *Retrier) counters(name string) counters {
	if r.set == nil {
		n := nopCounter{}
		return counters{n, n, n, n}
	}
	lbl := `{channel="` + metricLabel(name) + `"}`
	return counters{
		attempts: r.set.GetOrCreateCounter("watchdog_pager_channel_attempts_total" + lbl),
		retries:  r.set.GetOrCreateCounter("watchdog_pager_channel_retries_total" + lbl),
		failures: r.set.GetOrCreateCounter("watchdog_pager_channel_failures_total" + lbl),
		sent:     r.set.GetOrCreateCounter("watchdog_pager_channel_sent_total" + lbl),
	}
}

// metricLabel makes name safe as a label value (metrics.Set panics on
// malformed names): only [A-Za-z0-9_.:-] survive, others become '_'.
func metricLabel(name string) string {
	if name == "" {
		return "unnamed"
	}
	var b strings.Builder
	for _, r := range truncate(name, 128) {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', strings.ContainsRune("_.:-", r):
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	return b.String()
}
