package pager

import (
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/prometheus/prometheus/model/labels"
)

// maxSilenceMatchers bounds the matchers of one silence.
const maxSilenceMatchers = 64

// ValidateSilence checks a silence as Alertmanager does before storing it
// (silence/silence.go validateMatchers and friends): at least one matcher,
// every matcher parses, at least one matcher does not match the empty
// string (so `x=~".*"`, `foo=""` or `foo!~".+"` alone, which match every
// alert, are refused), EndsAt after StartsAt and after now, and EndsAt -
// StartsAt at most maxDuration (0: unbounded). A zero StartsAt means now.
// Every error wraps ErrInvalidSilence.
func ValidateSilence(s Silence, now time.Time, maxDuration time.Duration) error {
	if len(s.Matchers) == 0 {
		return fmt.Errorf("%w: no matchers", ErrInvalidSilence)
	}
	if len(s.Matchers) > maxSilenceMatchers {
		return fmt.Errorf("%w: %d matchers, at most %d", ErrInvalidSilence, len(s.Matchers), maxSilenceMatchers)
	}
	ms := make([]*labels.Matcher, 0, len(s.Matchers))
	for _, m := range s.Matchers {
		lm, err := ParseMatcher(m)
		if err != nil {
			return fmt.Errorf("%w: %w", ErrInvalidSilence, err)
		}
		if !utf8.ValidString(lm.Value) {
			return fmt.Errorf("%w: matcher %q: value is not UTF-8", ErrInvalidSilence, m)
		}
		ms = append(ms, lm)
	}
	if matchesEverything(ms) {
		return fmt.Errorf("%w: at least one matcher must not match the empty string (%q would silence every alert)", ErrInvalidSilence, s.Matchers)
	}
	if s.StartsAt.IsZero() {
		s.StartsAt = now
	}
	switch {
	case !s.EndsAt.After(s.StartsAt):
		return fmt.Errorf("%w: endsAt %s is not after startsAt %s", ErrInvalidSilence, fmtDue(s.EndsAt), fmtDue(s.StartsAt))
	case !s.EndsAt.After(now):
		return fmt.Errorf("%w: endsAt %s is in the past", ErrInvalidSilence, fmtDue(s.EndsAt))
	case maxDuration > 0 && s.EndsAt.Sub(s.StartsAt) > maxDuration:
		return fmt.Errorf("%w: lasts %s, longer than the maximum %s", ErrInvalidSilence, s.EndsAt.Sub(s.StartsAt).Round(time.Second), maxDuration)
	}
	return nil
}

// matchesEverything reports whether every matcher matches the empty
// string, so that the set matches every alert (a missing label is "").
func matchesEverything(ms []*labels.Matcher) bool {
	for _, m := range ms {
		if !m.Matches("") {
			return false
		}
	}
	return true
}
