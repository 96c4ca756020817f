package web

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
)

// Sentinel errors of parameter parsing.
var (
	// ErrBadTime is returned for a time that is neither a unix timestamp nor
	// RFC 3339.
	ErrBadTime = errors.New("cannot parse to a valid timestamp")
	// ErrBadDuration is returned for a duration that is neither float
	// seconds nor a Prometheus duration string.
	ErrBadDuration = errors.New("cannot parse to a valid duration")
)

// The bounds used for optional start and end parameters, the same instants
// Prometheus uses so that clients sending them back round-trip.
var (
	minTime = time.Unix(math.MinInt64/1000+62135596801, 0).UTC()
	maxTime = time.Unix(math.MaxInt64/1000-62135596801, 999999999).UTC()

	minTimeFormatted = minTime.Format(time.RFC3339Nano)
	maxTimeFormatted = maxTime.Format(time.RFC3339Nano)
)

// ParseTime parses a query time: unix seconds as a float (rounded to the
// millisecond) or an RFC 3339 timestamp.
func ParseTime(s string) (time.Time, error) {
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		// Beyond these bounds the seconds do not fit an int64 of nanoseconds
		// in time.Unix arithmetic, and NaN fails both comparisons.
		if !(f >= float64(minTime.Unix()) && f <= float64(maxTime.Unix())) {
			return time.Time{}, fmt.Errorf("%q: %w: out of range", s, ErrBadTime)
		}
		sec, frac := math.Modf(f)
		frac = math.Round(frac*1000) / 1000
		return time.Unix(int64(sec), int64(frac*float64(time.Second))).UTC(), nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	// time.Parse handles only four-digit years; accept our own bounds.
	switch s {
	case minTimeFormatted:
		return minTime, nil
	case maxTimeFormatted:
		return maxTime, nil
	}
	return time.Time{}, fmt.Errorf("%q: %w", s, ErrBadTime)
}

// ParseDuration parses a duration: float seconds or a Prometheus duration
// string such as "1m30s".
func ParseDuration(s string) (time.Duration, error) {
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		ns := f * float64(time.Second)
		if !(ns < float64(math.MaxInt64) && ns >= float64(math.MinInt64)) {
			return 0, fmt.Errorf("%q: %w: it overflows int64", s, ErrBadDuration)
		}
		return time.Duration(ns), nil
	}
	if d, err := model.ParseDuration(s); err == nil {
		return time.Duration(d), nil
	}
	return 0, fmt.Errorf("%q: %w", s, ErrBadDuration)
}

// timeParam parses the optional time parameter name, returning def when it
// is absent.
func timeParam(v, name string, def time.Time) (time.Time, *apiError) {
	if v == "" {
		return def, nil
	}
	t, err := ParseTime(v)
	if err != nil {
		return time.Time{}, invalidParam(name, err)
	}
	return t, nil
}

// parseLimit parses the limit parameter; 0 means no limit.
func parseLimit(s string) (int, error) {
	if s == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0, fmt.Errorf("%q is not an integer", s)
	}
	if n < 0 {
		return 0, errors.New("limit must be non-negative")
	}
	return n, nil
}

// parseMatchers parses match[] selectors, refusing any that breaks the
// query text limits and any set that would match every series.
func (h *Handler) parseMatchers(in []string) ([][]*labels.Matcher, error) {
	for _, s := range in {
		if err := h.admission.limits.CheckText(s); err != nil {
			return nil, h.admission.refused(err)
		}
	}
	sets, err := h.parser.ParseMetricSelectors(in)
	if err != nil {
		return nil, err
	}
	for _, set := range sets {
		if matchesEverything(set) {
			return nil, errors.New("match[] must contain at least one non-empty matcher")
		}
	}
	return sets, nil
}

func matchesEverything(set []*labels.Matcher) bool {
	for _, m := range set {
		if m != nil && !m.Matches("") {
			return false
		}
	}
	return true
}
