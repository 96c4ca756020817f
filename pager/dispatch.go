package pager

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Delivery concurrency bounds (see Config.DeliveryWorkers and
// ChannelConfig.MaxConcurrency).
const (
	// DefaultDeliveryWorkers is the default of delivery_workers and
	// Options.Workers: deliveries in flight over all channels. Twice a
	// webhook's default max_concurrency, so that a storm of webhook pages
	// leaves half the workers to the other channels.
	DefaultDeliveryWorkers = 128
	// MaxDeliveryWorkers bounds delivery_workers.
	MaxDeliveryWorkers = 1024
	// MaxChannelConcurrency bounds a channel's max_concurrency.
	MaxChannelConcurrency = 1024
	// DefaultChannelConcurrency is the max_concurrency of a channel whose
	// type has no default of its own, and of channels given to the Pager
	// without a config entry.
	DefaultChannelConcurrency = 16
	// maxRate and minRate bound rate_limit (per second).
	maxRate = 1e6
	minRate = 1.0 / 3600
)

// ChannelLimits are a channel's delivery bounds.
type ChannelLimits struct {
	// MaxConcurrency is how many deliveries may be in flight at once.
	MaxConcurrency int
	// Rate is how many deliveries may start per second (0: no limit).
	Rate float64
	// Burst is how many may start at once after a pause (the bucket size).
	Burst int
}

// ChannelDefaults are the limits of each channel type when the channel
// sets neither max_concurrency nor rate_limit. The rates follow the
// providers' documented limits, so that a storm is not answered with 429s
// and dropped pages: Slack incoming webhooks take one message per second
// (short bursts allowed); PagerDuty's Events API v2 120 events a minute
// per routing key; a Twilio long-code number sends about one SMS a second;
// Opsgenie's Alert API allows a few hundred requests a minute on most
// plans. Webhooks and ntfy are unlimited but bounded in concurrency;
// e-mail keeps few SMTP connections. A webhook's pages are HTTP round trips
// of a few milliseconds that wait for the network, not the CPU: 64 in
// flight delivered the first pages of a 1,000-group storm about twice as
// fast as 16 on a loaded machine (bench/STORM.md).
var ChannelDefaults = map[string]ChannelLimits{
	"webhook":   {MaxConcurrency: 64},
	"console":   {MaxConcurrency: 4},
	"ntfy":      {MaxConcurrency: 8},
	"email":     {MaxConcurrency: 4},
	"slack":     {MaxConcurrency: 4, Rate: 1, Burst: 5},
	"pagerduty": {MaxConcurrency: 8, Rate: 2, Burst: 20},
	"opsgenie":  {MaxConcurrency: 8, Rate: 5, Burst: 20},
	"twilio":    {MaxConcurrency: 4, Rate: 1, Burst: 5},
}

// parseRate parses a rate_limit: "N/s", "N/m" or "N/h" with N a positive
// number, or "none" (0).
func parseRate(s string) (rate float64, burst int, err error) {
	if s == "none" {
		return 0, 0, nil
	}
	num, unit, ok := strings.Cut(s, "/")
	n, perr := strconv.ParseFloat(strings.TrimSpace(num), 64)
	var per time.Duration
	switch strings.TrimSpace(unit) {
	case "s":
		per = time.Second
	case "m":
		per = time.Minute
	case "h":
		per = time.Hour
	}
	if !ok || perr != nil || per == 0 || math.IsNaN(n) || n <= 0 {
		return 0, 0, fmt.Errorf("%q is not a rate like 10/s, 120/m or 100/h (or none)", s)
	}
	rate = n / per.Seconds()
	switch {
	case rate > maxRate:
		return 0, 0, fmt.Errorf("%q is more than %g/s", s, float64(maxRate))
	case rate < minRate:
		return 0, 0, fmt.Errorf("%q is less than 1/h", s)
	}
	return rate, max(1, int(math.Min(rate, maxRate))), nil
}

// limits returns the delivery limits of channel name.
func (c *Config) limits(name string) ChannelLimits {
	if c.c != nil {
		if l, ok := c.c.limits[name]; ok {
			return l
		}
	}
	return ChannelLimits{MaxConcurrency: DefaultChannelConcurrency}
}

// compileLimits returns the limits of ch: its keys over its type's
// defaults. add reports a bad key.
func compileLimits(ch *ChannelConfig, add func(key, format string, a ...any)) ChannelLimits {
	l, ok := ChannelDefaults[ch.Type]
	if !ok {
		l = ChannelLimits{MaxConcurrency: DefaultChannelConcurrency}
	}
	switch n := ch.MaxConcurrency; {
	case n < 0 || n > MaxChannelConcurrency:
		add("max_concurrency", "must be from 1 to %d", MaxChannelConcurrency)
	case n > 0:
		l.MaxConcurrency = n
	}
	if ch.RateLimit != "" {
		rate, burst, err := parseRate(ch.RateLimit)
		if err != nil {
			add("rate_limit", "%v", err)
		} else {
			l.Rate, l.Burst = rate, burst
		}
	}
	return l
}

// limiter is one channel's state in the dispatcher: deliveries in flight
// and a token bucket. Guarded by Pager.smu.
type limiter struct {
	inflight int
	tokens   float64
	last     time.Time // of the last refill; zero: the bucket is full
}

// take reports whether a delivery may start now under l, taking its slot
// and token; when only the rate stops it, wait says when a token is due.
func (s *limiter) take(l ChannelLimits, now time.Time) (ok bool, wait time.Duration) {
	if s.inflight >= max(l.MaxConcurrency, 1) {
		return false, 0
	}
	if l.Rate > 0 {
		burst := float64(max(l.Burst, 1))
		if s.last.IsZero() {
			s.tokens = burst
		} else if d := now.Sub(s.last); d > 0 {
			s.tokens = min(burst, s.tokens+d.Seconds()*l.Rate)
		}
		s.last = now
		if s.tokens < 1 {
			return false, time.Duration(min((1-s.tokens)/l.Rate, 3600) * float64(time.Second))
		}
		s.tokens--
	}
	s.inflight++
	return true, 0
}
