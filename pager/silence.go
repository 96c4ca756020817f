package pager

import (
	"fmt"
	"slices"
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

// UpdateSilence changes the stored silence s.ID as Alertmanager's
// silences.Set does: when the matchers are unchanged and the silence has
// not expired (an active one keeps its start and cannot end in the past;
// a pending one cannot start in the past) it is updated in place and
// keeps its ID; otherwise the old one is expired (if it is not already)
// and s is created under a new ID, which is returned. ErrNotFound when
// there is no silence s.ID.
func (p *Pager) UpdateSilence(s Silence) (string, error) {
	sils, err := p.Silences()
	if err != nil {
		return "", err
	}
	i := slices.IndexFunc(sils, func(o Silence) bool { return o.ID == s.ID })
	if i < 0 {
		return "", fmt.Errorf("silence %s: %w", s.ID, ErrNotFound)
	}
	old, now := sils[i], p.now()
	if s.StartsAt.IsZero() {
		s.StartsAt = now
	}
	if canUpdateSilence(old, s, now) {
		return p.CreateSilence(s)
	}
	if old.EndsAt.After(now) {
		if err := p.ExpireSilence(old.ID); err != nil {
			return "", err
		}
	}
	s.ID = ""
	return p.CreateSilence(s)
}

// canUpdateSilence reports whether old may become s in place.
func canUpdateSilence(old, s Silence, now time.Time) bool {
	if !slices.EqualFunc(old.Matchers, s.Matchers, func(a, b string) bool {
		ma, errA := ParseMatcher(a)
		mb, errB := ParseMatcher(b)
		return errA == nil && errB == nil && ma.Type == mb.Type && ma.Name == mb.Name && ma.Value == mb.Value
	}) {
		return false
	}
	switch {
	case !now.Before(old.EndsAt): // expired
		return false
	case !now.Before(old.StartsAt): // active
		return s.StartsAt.Equal(old.StartsAt) && !s.EndsAt.Before(now)
	default: // pending
		return !s.StartsAt.Before(now)
	}
}
