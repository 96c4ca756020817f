package pager

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// This file holds the parts of Step that keep an incident from falling
// silent: timers recomputed after a reload (retime), failed notifications
// moving on (delivered) and the check that an open, unacknowledged
// incident always has a next step (checkStuck).

// levelKey is the prefix of the Notify keys of e's level at pass repeat.
func (s *stepper) levelKey(e *PolicyEscalation, primary bool, level, repeat int) string {
	if primary {
		return fmt.Sprintf("%s/e%d/l%d/r%d/", s.st.ID, e.Epoch, level, repeat)
	}
	return fmt.Sprintf("%s/p:%s/e%d/l%d/r%d/", s.st.ID, e.Policy, e.Epoch, level, repeat)
}

func fmtDue(t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return t.UTC().Format(time.RFC3339)
}

// retime recomputes, from the current config, the timers that have not
// fired yet: each escalation's next level change and the pending personal
// steps of its current level, and an acknowledgement's timeout. catchUp
// then fires whatever the new times make due.
func (s *stepper) retime() {
	st := &s.st
	var changes []string
	s.each(func(e *PolicyEscalation, primary bool) {
		pol := s.c.Policy(e.Policy)
		if !e.Escalating || e.Exhausted || pol == nil || e.Level >= len(pol.Levels) {
			return
		}
		var at time.Time
		if d := pol.Levels[e.Level].EscalateAfter; d > 0 && st.escalates(pol) {
			at = e.LevelAt.Add(d)
		}
		if !at.Equal(e.EscalateAt) {
			changes = append(changes, fmt.Sprintf("%snext level change %s (was %s)", policyPrefix(e, primary), fmtDue(at), fmtDue(e.EscalateAt)))
			e.EscalateAt = at
		}
		moved := 0
		for i := range e.Planned {
			p := &e.Planned[i]
			u := s.c.User(p.User)
			if p.Level != e.Level || p.Repeat != e.Repeat || u == nil {
				continue
			}
			rules := u.rulesFor(st.Urgency)
			if p.Step >= len(rules) || rules[p.Step].Method != p.Method {
				continue
			}
			if at := s.stepAt(p.User, e.LevelAt, rules[p.Step].After); !at.Equal(p.At) {
				p.At = at
				moved++
			}
		}
		if moved > 0 {
			slices.SortStableFunc(e.Planned, func(a, b PlannedNotify) int { return a.At.Compare(b.At) })
			changes = append(changes, fmt.Sprintf("%s%d pending notification(s) retimed", policyPrefix(e, primary), moved))
		}
	})
	if st.Status == StatusAcknowledged && st.SnoozedUntil.IsZero() {
		var at time.Time
		if pol := s.c.Policy(st.Policy); pol != nil && pol.AckTimeout > 0 {
			at = st.AckedAt.Add(pol.AckTimeout)
		}
		if !at.Equal(st.RetriggerAt) {
			changes = append(changes, fmt.Sprintf("acknowledgement expires %s (was %s)", fmtDue(at), fmtDue(st.RetriggerAt)))
			st.RetriggerAt = at
		}
	}
	if len(changes) > 0 {
		s.record(TimelineEntry{Kind: EntryReconfigured, By: BySystem, Text: "configuration reloaded: " + strings.Join(changes, "; ")})
	}
}

// delivered applies the result of a notification of the current level of
// an escalation. A failure (final: the channel's retries are over) brings
// the user's next method forward to now or, when the user has none left
// at this level, every notification of the level failed and no step of
// it is pending, escalates now.
func (s *stepper) delivered(ev DeliveryResult) {
	if ev.User == "" || s.st.Status != StatusTriggered {
		return
	}
	s.each(func(e *PolicyEscalation, primary bool) {
		if !e.Escalating || e.Exhausted || !strings.HasPrefix(ev.Key, s.levelKey(e, primary, e.Level, e.Repeat)) {
			return
		}
		if ev.Err == "" {
			return
		}
		e.Failed++
		pending := false
		for i := range e.Planned {
			p := &e.Planned[i]
			if p.Level != e.Level || p.Repeat != e.Repeat {
				continue
			}
			if p.User != ev.User {
				pending = true
				continue
			}
			if p.At.After(s.now) {
				p.At = s.now
				slices.SortStableFunc(e.Planned, func(a, b PlannedNotify) int { return a.At.Compare(b.At) })
				s.record(TimelineEntry{Kind: EntryFailover, By: BySystem, User: ev.User, Method: p.Method, Level: e.Level,
					Text: fmt.Sprintf("%s%s to %s failed: trying %s now", policyPrefix(e, primary), ev.Method, ev.User, p.Method)})
			}
			return
		}
		if e.Failed < e.Notified || pending || (!e.EscalateAt.IsZero() && !e.EscalateAt.After(s.now)) || !s.st.escalates(s.c.Policy(e.Policy)) {
			return
		}
		e.EscalateAt = s.now
		s.record(TimelineEntry{Kind: EntryFailover, By: BySystem, User: ev.User, Method: ev.Method, Level: e.Level,
			Text: fmt.Sprintf("%snobody reached at level %d (%s to %s failed last): escalating now", policyPrefix(e, primary), e.Level+1, ev.Method, ev.User)})
	})
}

// checkStuck recomputes st.Stuck, recording when it becomes set.
func (s *stepper) checkStuck() {
	reason := s.c.stuckReason(&s.st)
	if reason != "" && reason != s.st.Stuck {
		s.record(TimelineEntry{Kind: EntryStuck, By: BySystem, Text: "no next step (broken invariant): " + reason})
	}
	s.st.Stuck = reason
}

// primaryOf returns the position of the incident's own policy, which
// IncidentState keeps in fields of its own.
func primaryOf(st *IncidentState) PolicyEscalation {
	return PolicyEscalation{Policy: st.Policy, Escalating: st.Escalating, Epoch: st.Epoch, Level: st.Level, Repeat: st.Repeat,
		LevelAt: st.LevelAt, EscalateAt: st.EscalateAt, Exhausted: st.Exhausted, Planned: st.Planned,
		Notified: st.Notified, Failed: st.Failed}
}

// stuckReason says why st, open and unacknowledged, has no next step, or
// returns "". An escalation that is exhausted, or at the last level of a
// policy whose last level never escalates, has reached its end: it waits
// for an acknowledgement, which is not stuck. An incident whose route has
// no escalation policy only forwards.
func (c *Config) stuckReason(st *IncidentState) string {
	if st.Status != StatusTriggered || !st.Started || st.Suppressed {
		return ""
	}
	var reasons []string
	check := func(e *PolicyEscalation) {
		if e.Policy == "" || e.Exhausted {
			return
		}
		pol := c.Policy(e.Policy)
		switch {
		case pol == nil:
			reasons = append(reasons, fmt.Sprintf("escalation policy %q not found", e.Policy))
		case !e.Escalating:
			reasons = append(reasons, fmt.Sprintf("escalation policy %q is not escalating", e.Policy))
		case !e.nextDue().IsZero():
		case len(pol.Levels) == 0:
			reasons = append(reasons, fmt.Sprintf("escalation policy %q has no levels", e.Policy))
		case e.Level >= len(pol.Levels)-1 && pol.Levels[len(pol.Levels)-1].EscalateAfter <= 0:
			// The final level waits for an acknowledgement.
		case !st.escalates(pol):
			// A low urgency incident waits at its level.
		default:
			reasons = append(reasons, fmt.Sprintf("nothing scheduled at level %d of escalation policy %q", e.Level+1, e.Policy))
		}
	}
	e := primaryOf(st)
	check(&e)
	for i := range st.Parallel {
		check(&st.Parallel[i])
	}
	return strings.Join(reasons, "; ")
}
