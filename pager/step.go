package pager

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/watchdog-sre/watchdog/pager/channel"
)

// Actors Step writes into the timeline for changes nobody asked for.
const (
	BySystem = "system"
	ByAlerts = "alerts"
)

// Step is the escalation state machine: it applies ev at now to st and
// returns the new state and the actions to take, in order. It is a pure
// function of the (validated, immutable) config, st, now and ev: it reads
// no clock, does no I/O and does not modify st. Schedules are resolved
// with Schedule.OnCall at the time a level starts.
//
// After the event, Step processes everything due at or before now, in time
// order (the start after group_wait, ack timeouts, personal notification
// steps, level escalations, alert expiry, forwards), so calling it late
// (after a restart) catches up deterministically; Notify keys make the
// catch-up safe against a notification log.
//
// The returned actions are Record (timeline entries, to be committed with
// the state), Notify and Forward (to perform after the commit), and
// exactly one Schedule, last: when to call Step again with Tick.
//
// Events that make no sense in the current state (acknowledging a
// resolved incident) change nothing; callers that want an error check
// the state first (see Pager.Ack).
func (c *Config) Step(st IncidentState, now time.Time, ev Event) (IncidentState, []Action) {
	extra := 0
	if ev, ok := ev.(AlertsChanged); ok {
		extra = len(ev.Alerts)
	}
	s := &stepper{c: c, st: st.stepClone(), now: now, extra: extra}
	if s.st.TimelineSeq == 0 {
		text := fmt.Sprintf("opened on route %s, policy %s", st.Route, st.Policy)
		if st.Urgency == UrgencyLow {
			text += ", low urgency"
		}
		if st.Major {
			text += " (major"
			for _, e := range st.Parallel {
				text += ", policy " + e.Policy
			}
			text += ")"
		}
		s.record(TimelineEntry{Kind: EntryOpened, By: ByAlerts, Text: text})
	}
	s.actor, _ = actorOf(ev)
	switch ev := ev.(type) {
	case AlertsChanged:
		s.alerts(ev.Alerts)
	case Tick:
	case Reconfigured:
		s.retime()
	case Ack:
		if s.st.Requested(ev.By) {
			// An added responder acknowledges their part only.
			s.respond(RespondToRequest{By: ev.By, Via: ev.Via})
		} else if s.st.Status == StatusTriggered {
			s.ack(ev.By, EntryAck, "acknowledged", time.Time{})
		}
	case Snooze:
		if s.st.Open() && ev.Until.After(now) {
			s.ack(ev.By, EntrySnooze, "snoozed until "+ev.Until.UTC().Format(time.RFC3339), ev.Until)
		}
	case Resolve:
		if s.st.Open() {
			s.resolve(ev.By, "resolved")
		}
	case Reassign:
		if s.st.Open() && ev.To != "" {
			s.reassign(ev.By, ev.To)
		}
	case EscalateNow:
		if s.st.Open() {
			s.escalateNow(ev.By)
		}
	case DeclareMajor:
		if s.st.Open() && !s.st.Major {
			s.declareMajor(ev.By)
		}
	case Note:
		s.record(TimelineEntry{Kind: EntryNote, By: ev.By, Text: ev.Text})
	case AddResponders:
		if s.st.Open() {
			s.addResponders(ev)
		}
	case RespondToRequest:
		if s.st.Open() {
			s.respond(ev)
		}
	case DeliveryResult:
		e := TimelineEntry{Kind: EntryDelivery, By: BySystem, User: ev.User, Method: ev.Method, Channel: ev.Channel, Key: ev.Key}
		if ev.Err == "" {
			e.Text = fmt.Sprintf("delivered after %d attempt(s)", ev.Attempts)
		} else {
			e.Text = fmt.Sprintf("failed after %d attempt(s): %s", ev.Attempts, ev.Err)
		}
		s.record(e)
		s.delivered(ev)
	default:
		panic(fmt.Sprintf("BUG: pager: unknown event %T", ev))
	}
	s.actor = Actor{}
	s.catchUp()
	if s.st.Open() {
		s.respondersCatchUp()
	}
	s.checkStuck()
	s.acts = append(s.acts, Schedule{At: s.st.NextDue()})
	return s.st, s.acts
}

type stepper struct {
	c    *Config
	st   IncidentState
	now  time.Time
	acts []Action
	// actor caused the event being applied (a human event), else zero:
	// the entries recorded by actor.User get actor.Via.
	actor Actor
	// ownAlerts is set once st.Alerts is Step's own copy (see ownAlerts);
	// until then it is the given state's. extra is the room to make for
	// alerts to come.
	ownedAlerts bool
	extra       int
}

// ownAlerts copies st.Alerts, with room for s.extra more, before Step's
// first write into it: until then the new state shares the given state's
// alerts (copy on write), so that events that change no alert (delivery
// results, ticks, acks) copy none.
func (s *stepper) ownAlerts() {
	if s.ownedAlerts {
		return
	}
	s.ownedAlerts = true
	s.st.Alerts = append(make([]IncidentAlert, 0, len(s.st.Alerts)+s.extra), s.st.Alerts...)
}

// insertAlert inserts a at index i of st.Alerts. The first write makes
// Step's own copy with a in place, in one pass over the given state's
// alerts instead of a copy and then a shift of the part after i.
func (s *stepper) insertAlert(i int, a IncidentAlert) {
	if s.ownedAlerts {
		s.st.Alerts = slices.Insert(s.st.Alerts, i, a)
		return
	}
	s.ownedAlerts = true
	old := s.st.Alerts
	out := make([]IncidentAlert, 0, len(old)+max(s.extra, 1))
	out = append(out, old[:i]...)
	out = append(out, a)
	s.st.Alerts = append(out, old[i:]...)
}

func (s *stepper) record(e TimelineEntry) {
	s.st.TimelineSeq++
	e.IncidentID, e.Seq = s.st.ID, s.st.TimelineSeq
	if e.Via == "" && s.actor.Via != "" && e.By == s.actor.User {
		e.Via = s.actor.Via
	}
	if e.At.IsZero() {
		e.At = s.now
	}
	s.acts = append(s.acts, Record{Entry: e})
}

// alerts merges changed alerts into the incident.
func (s *stepper) alerts(in []IncidentAlert) {
	for _, a := range in {
		if a.Timeout && a.EndsAt.IsZero() {
			a.EndsAt = s.now.Add(s.c.AlertTimeout())
		}
		i, found := slices.BinarySearchFunc(s.st.Alerts, a.Fingerprint, func(x IncidentAlert, fp string) int { return strings.Compare(x.Fingerprint, fp) })
		if !found {
			if a.Resolved(s.now) {
				continue // an alert we never saw firing
			}
			s.insertAlert(i, a)
			s.record(TimelineEntry{Kind: EntryAlertFired, By: ByAlerts, Text: alertText(a)})
			s.raiseUrgency(a)
			if s.st.Title == "" {
				s.st.Title = alertTitle(a.Alert)
			}
			s.st.ForwardPending = s.st.Forwarded
			continue
		}
		old := s.st.Alerts[i]
		a.Ended = old.Ended
		if a.Timeout && !old.Timeout && !old.Ended && old.EndsAt.After(a.EndsAt) {
			// Alertmanager's merge: a later explicit end outlives a timeout.
			a.EndsAt, a.Timeout = old.EndsAt, false
		}
		if old.Ended && !a.Resolved(s.now) {
			a.Ended = false
			s.record(TimelineEntry{Kind: EntryAlertFired, By: ByAlerts, Text: alertText(a) + " (again)"})
			s.st.ForwardPending = s.st.Forwarded
		}
		if a.StartsAt.IsZero() || (!old.StartsAt.IsZero() && old.StartsAt.Before(a.StartsAt) && !old.Ended) {
			a.StartsAt = old.StartsAt
		}
		s.ownAlerts()
		s.st.Alerts[i] = a
	}
}

// catchUp processes everything due at or before now.
func (s *stepper) catchUp() {
	st := &s.st
	for st.Open() {
		// Alerts that ended.
		for i := range st.Alerts {
			if a := &st.Alerts[i]; !a.Ended && a.Resolved(s.now) {
				s.ownAlerts() // st.Alerts may now be another array
				a = &st.Alerts[i]
				a.Ended = true
				s.record(TimelineEntry{At: a.EndsAt, Kind: EntryAlertEnded, By: ByAlerts, Text: alertText(*a)})
			}
		}
		if len(st.Alerts) > 0 && !slices.ContainsFunc(st.Alerts, func(a IncidentAlert) bool { return !a.Ended }) {
			s.resolve(ByAlerts, "all alerts resolved")
			return
		}
		s.suppression()
		if !st.Started && !st.StartAt.After(s.now) {
			st.Started = true
		}
		if !st.Started {
			return
		}
		if st.Status == StatusAcknowledged && !st.RetriggerAt.IsZero() && !st.RetriggerAt.After(s.now) {
			at := st.RetriggerAt
			st.Status, st.RetriggerAt, st.SnoozedUntil, st.AckedBy, st.AckedAt = StatusTriggered, time.Time{}, time.Time{}, "", time.Time{}
			s.record(TimelineEntry{At: at, Kind: EntryRetrigger, By: BySystem, Text: "acknowledgement expired"})
		}
		if st.Status == StatusTriggered && !st.Suppressed {
			s.each(func(e *PolicyEscalation, primary bool) {
				if !e.Escalating {
					s.startEscalation(e, primary, s.now)
				}
			})
		}
		s.warRoom()
		s.forward()
		if !s.escalateDue() {
			return
		}
	}
}

// suppression pauses paging while every firing alert is muted, and
// resumes it (from the first level) when one is not.
func (s *stepper) suppression() {
	st := &s.st
	muted, firing, by := true, false, ""
	for _, a := range st.Alerts {
		if a.Ended {
			continue
		}
		firing = true
		if a.SuppressedBy == "" {
			muted = false
		} else if by == "" {
			by = a.SuppressedBy
		}
	}
	muted = muted && firing
	switch {
	case muted && !st.Suppressed:
		st.Suppressed = true
		s.record(TimelineEntry{Kind: EntrySuppressed, By: BySystem, Text: "paging suppressed by " + by})
		s.stopAll()
	case !muted && st.Suppressed:
		st.Suppressed = false
		s.record(TimelineEntry{Kind: EntryUnsuppressed, By: BySystem, Text: "suppression lifted"})
	}
}

// primary returns the position of the incident's own policy, which
// IncidentState keeps in fields of its own; setPrimary writes it back.
func (s *stepper) primary() PolicyEscalation { return primaryOf(&s.st) }

func (s *stepper) setPrimary(e PolicyEscalation) {
	st := &s.st
	st.Escalating, st.Epoch, st.Level, st.Repeat = e.Escalating, e.Epoch, e.Level, e.Repeat
	st.LevelAt, st.EscalateAt, st.Exhausted, st.Planned = e.LevelAt, e.EscalateAt, e.Exhausted, e.Planned
	st.Notified, st.Failed = e.Notified, e.Failed
}

// each calls f for every escalation: the incident's own policy first,
// then the parallel ones of a major incident in order.
func (s *stepper) each(f func(e *PolicyEscalation, primary bool)) {
	e := s.primary()
	f(&e, true)
	s.setPrimary(e)
	for i := range s.st.Parallel {
		f(&s.st.Parallel[i], false)
	}
}

// due returns when e's next personal step or level change is due and
// whether it is a step (which goes first when both fall at one time).
func (e *PolicyEscalation) due() (at time.Time, step bool) {
	if !e.Escalating {
		return time.Time{}, false
	}
	if len(e.Planned) > 0 && (e.EscalateAt.IsZero() || !e.Planned[0].At.After(e.EscalateAt)) {
		return e.Planned[0].At, true
	}
	return e.EscalateAt, false
}

// escalateDue performs the earliest due personal step or level change of
// any escalation (ties: the incident's own policy first) and reports
// whether it did anything.
func (s *stepper) escalateDue() bool {
	best, bestAt := -2, time.Time{}
	i := -1
	s.each(func(e *PolicyEscalation, _ bool) {
		if at, _ := e.due(); !at.IsZero() && !at.After(s.now) && (best == -2 || at.Before(bestAt)) {
			best, bestAt = i, at
		}
		i++
	})
	if best == -2 {
		return false
	}
	do := func(e *PolicyEscalation, primary bool) {
		if _, step := e.due(); step {
			p := e.Planned[0]
			e.Planned = e.Planned[1:]
			s.notify(e, primary, p)
			return
		}
		s.nextLevel(e, primary, e.EscalateAt, BySystem)
	}
	if best == -1 {
		e := s.primary()
		do(&e, true)
		s.setPrimary(e)
	} else {
		do(&s.st.Parallel[best], false)
	}
	return true
}

// policyPrefix prefixes the timeline texts of parallel escalations.
func policyPrefix(e *PolicyEscalation, primary bool) string {
	if primary {
		return ""
	}
	return "policy " + e.Policy + ": "
}

func (s *stepper) notify(e *PolicyEscalation, primary bool, p PlannedNotify) {
	key := fmt.Sprintf("%s%s/s%d", s.levelKey(e, primary, p.Level, p.Repeat), p.User, p.Step)
	u := s.c.User(p.User)
	if u == nil {
		// Planned before a reload or restart removed the user.
		s.record(TimelineEntry{At: p.At, Kind: EntrySkipped, By: BySystem, User: p.User, Method: p.Method, Level: p.Level,
			Text: fmt.Sprintf("%snot notifying %s via %s: no longer in the configuration", policyPrefix(e, primary), p.User, p.Method)})
		return
	}
	contact := u.Contact.Address(p.Method)
	if p.Level == e.Level && p.Repeat == e.Repeat {
		e.Notified++
	}
	s.record(TimelineEntry{At: p.At, Kind: EntryNotify, By: BySystem, User: p.User, Method: p.Method, Key: key, Level: p.Level,
		Text: fmt.Sprintf("%snotifying %s via %s (level %d, step %d)", policyPrefix(e, primary), p.User, p.Method, p.Level+1, p.Step+1)})
	s.acts = append(s.acts, Notify{Key: key, User: p.User, Method: p.Method, Contact: contact, Level: p.Level, Repeat: p.Repeat, Step: p.Step})
}

// startEscalation begins a new round of e at the first level (or, for the
// incident's own policy after a reassignment, with the assignee).
func (s *stepper) startEscalation(e *PolicyEscalation, primary bool, at time.Time) {
	e.Escalating, e.Exhausted, e.Epoch, e.Repeat = true, false, e.Epoch+1, 0
	if primary && s.st.Assignee != "" {
		s.enter(e, primary, e.Level, at, []string{s.st.Assignee}, BySystem)
		return
	}
	s.enter(e, primary, 0, at, nil, BySystem)
}

func stopEscalation(e *PolicyEscalation) {
	e.Escalating, e.Planned, e.EscalateAt = false, nil, time.Time{}
}

// stopAll stops every escalation (acknowledge, resolve, suppression).
func (s *stepper) stopAll() {
	s.each(func(e *PolicyEscalation, _ bool) { stopEscalation(e) })
}

// nextLevel escalates e to the next level, repeating the policy or
// declaring it exhausted after the last.
func (s *stepper) nextLevel(e *PolicyEscalation, primary bool, at time.Time, by string) {
	pol := s.c.Policy(e.Policy)
	if pol == nil {
		e.EscalateAt = time.Time{}
		s.record(TimelineEntry{At: at, Kind: EntryNobodyOnCall, By: BySystem, Level: e.Level,
			Text: fmt.Sprintf("%scannot escalate: escalation policy %q not found", policyPrefix(e, primary), e.Policy)})
		return
	}
	next := e.Level + 1
	if next >= len(pol.Levels) {
		if e.Repeat >= pol.Repeat {
			e.EscalateAt, e.Exhausted = time.Time{}, true
			s.record(TimelineEntry{At: at, Kind: EntryExhausted, By: by, Level: e.Level,
				Text: fmt.Sprintf("escalation policy %s exhausted after %d pass(es)", pol.Name, e.Repeat+1)})
			return
		}
		e.Repeat++
		next = 0
	}
	if primary {
		s.st.Assignee = ""
	}
	s.enter(e, primary, next, at, nil, by)
}

// enter starts level of e at time at, notifying users (or the level's
// targets resolved at that time when users is nil).
func (s *stepper) enter(e *PolicyEscalation, primary bool, level int, at time.Time, users []string, by string) {
	e.Level, e.LevelAt, e.EscalateAt, e.Notified, e.Failed = level, at, time.Time{}, 0, 0
	pol := s.c.Policy(e.Policy)
	if pol == nil {
		if e.Policy != "" {
			s.record(TimelineEntry{At: at, Kind: EntryNobodyOnCall, By: BySystem, Text: fmt.Sprintf("escalation policy %q not found", e.Policy)})
		}
		return
	}
	if level >= len(pol.Levels) {
		level = len(pol.Levels) - 1
		e.Level = level
	}
	lv := pol.Levels[level]
	if users == nil {
		for _, t := range lv.Targets {
			kind, name, _ := strings.Cut(t, ":")
			switch kind {
			case "user":
				users = appendUnique(users, name)
			case "schedule":
				if sch := s.c.Schedule(name); sch != nil {
					if u, ok := sch.OnCall(at); ok {
						users = appendUnique(users, u)
						continue
					}
				}
				s.record(TimelineEntry{At: at, Kind: EntryNobodyOnCall, By: BySystem, Level: level, Text: "nobody on call in schedule " + name})
			}
		}
	}
	for _, name := range users {
		u := s.c.User(name)
		if u == nil {
			s.record(TimelineEntry{At: at, Kind: EntryNobodyOnCall, By: BySystem, Level: level, User: name, Text: "unknown user " + name})
			continue
		}
		s.plan(e, u, level, at)
	}
	slices.SortStableFunc(e.Planned, func(a, b PlannedNotify) int { return a.At.Compare(b.At) })
	if lv.EscalateAfter > 0 && s.st.escalates(pol) {
		e.EscalateAt = at.Add(lv.EscalateAfter)
	}
	s.record(TimelineEntry{At: at, Kind: EntryEscalated, By: by, Level: level,
		Text: fmt.Sprintf("%slevel %d (pass %d): %s", policyPrefix(e, primary), level+1, e.Repeat+1, strings.Join(users, ", "))})
}

// plan adds u's notification steps for the incident's urgency to e's
// level starting at at. At low urgency each step waits for u's waking
// hours, which the timeline says.
func (s *stepper) plan(e *PolicyEscalation, u *User, level int, at time.Time) {
	rules := u.rulesFor(s.st.Urgency)
	if len(rules) == 0 {
		s.record(TimelineEntry{At: at, Kind: EntryNobodyOnCall, By: BySystem, Level: level, User: u.Name,
			Text: fmt.Sprintf("not notifying %s: no push, email or slack contact for low urgency", u.Name)})
		return
	}
	for i, r := range rules {
		when := s.stepAt(u.Name, at, r.After)
		if i == 0 && when.After(at.Add(r.After)) {
			s.record(TimelineEntry{At: at, Kind: EntryDeferred, By: BySystem, Level: level, User: u.Name,
				Text: fmt.Sprintf("low urgency: notifying %s in waking hours, from %s", u.Name, s.c.localClock(u.Name, when))})
		}
		e.Planned = append(e.Planned, PlannedNotify{At: when, User: u.Name, Method: r.Method, Level: level, Repeat: e.Repeat, Step: i})
	}
}

// stepAt returns when a personal step after d of a level started at at is
// due: then at high urgency. At low urgency the steps count from when the
// user is awake (a level that starts at night starts for them in the
// morning) and a step that falls outside their waking hours waits too.
func (s *stepper) stepAt(user string, at time.Time, d time.Duration) time.Time {
	if s.st.Urgency == UrgencyLow {
		return s.c.Awake(user, s.c.Awake(user, at).Add(d))
	}
	return at.Add(d)
}

// declareMajor makes the incident major: the route's major policies join
// in (started by catchUp) and paging begins now.
func (s *stepper) declareMajor(by string) {
	st := &s.st
	st.Major, st.Started = true, true
	policies, wr := s.c.majorSettings(st.Route, st.Policy)
	for _, name := range policies {
		if !slices.ContainsFunc(st.Parallel, func(e PolicyEscalation) bool { return e.Policy == name }) {
			st.Parallel = append(st.Parallel, PolicyEscalation{Policy: name})
		}
	}
	if st.WarRoomChannel == "" {
		st.WarRoomChannel, st.BridgeURL = wr.Channel, wr.BridgeURL
	}
	text := "declared major"
	if len(policies) > 0 {
		text += "; paging " + strings.Join(policies, ", ")
	}
	s.record(TimelineEntry{Kind: EntryMajor, By: by, Text: text})
}

// warRoom posts to the war room once, when a major incident pages.
func (s *stepper) warRoom() {
	st := &s.st
	if !st.Major || st.WarRoomPosted || st.WarRoomChannel == "" || st.Suppressed || !st.Started {
		return
	}
	st.WarRoomPosted = true
	key := fmt.Sprintf("%s/war-room/%s", st.ID, st.WarRoomChannel)
	s.record(TimelineEntry{Kind: EntryWarRoom, By: BySystem, Channel: st.WarRoomChannel, Key: key,
		Text: "war room opened in " + st.WarRoomChannel + ": " + st.BridgeURL})
	s.acts = append(s.acts, WarRoomPost{Key: key, Channel: st.WarRoomChannel, BridgeURL: st.BridgeURL})
}

func (s *stepper) ack(by, kind, text string, until time.Time) {
	st := &s.st
	st.Status, st.AckedBy, st.AckedAt = StatusAcknowledged, by, s.now
	s.stopAll()
	st.RetriggerAt, st.SnoozedUntil = time.Time{}, until
	if !until.IsZero() {
		st.RetriggerAt = until
	} else if pol := s.c.Policy(st.Policy); pol != nil && pol.AckTimeout > 0 {
		st.RetriggerAt = s.now.Add(pol.AckTimeout)
	}
	s.record(TimelineEntry{Kind: kind, By: by, Text: text})
	if st.Forwarded {
		s.forwardAll(channel.EventAcknowledge)
	}
}

func (s *stepper) resolve(by, text string) {
	st := &s.st
	st.Status, st.ResolvedBy, st.ResolvedAt = StatusResolved, by, s.now
	s.stopAll()
	s.stopResponders()
	st.RetriggerAt, st.SnoozedUntil, st.ForwardPending = time.Time{}, time.Time{}, false
	s.record(TimelineEntry{Kind: EntryResolved, By: by, Text: text})
	if st.Forwarded {
		s.forwardAll(channel.EventResolve)
	}
}

func (s *stepper) reassign(by, to string) {
	st := &s.st
	st.Status, st.AckedBy, st.AckedAt, st.RetriggerAt, st.SnoozedUntil = StatusTriggered, "", time.Time{}, time.Time{}, time.Time{}
	st.Assignee, st.Started = to, true
	e := s.primary()
	stopEscalation(&e)
	s.record(TimelineEntry{Kind: EntryReassign, By: by, User: to, Text: "reassigned to " + to})
	if !st.Suppressed {
		s.startEscalation(&e, true, s.now)
	}
	s.setPrimary(e)
}

func (s *stepper) escalateNow(by string) {
	st := &s.st
	if st.Status == StatusAcknowledged {
		st.Status, st.AckedBy, st.AckedAt, st.RetriggerAt, st.SnoozedUntil = StatusTriggered, "", time.Time{}, time.Time{}, time.Time{}
	}
	st.Started = true
	e := s.primary()
	if !e.Escalating {
		// Not paging yet (or any more): start at the first level now.
		s.startEscalation(&e, true, s.now)
	} else {
		s.nextLevel(&e, true, s.now, by)
	}
	s.setPrimary(e)
}

// forward sends a trigger to the route's channels when one is due.
func (s *stepper) forward() {
	st := &s.st
	if len(st.Channels) == 0 || st.Suppressed || !st.Started {
		return
	}
	due := !st.Forwarded ||
		st.ForwardPending && !st.LastForwardAt.Add(st.GroupInterval).After(s.now) ||
		st.Status == StatusTriggered && st.RepeatInterval > 0 && !st.LastForwardAt.Add(st.RepeatInterval).After(s.now)
	if due {
		s.forwardAll(channel.EventTrigger)
		st.Forwarded, st.ForwardPending, st.LastForwardAt = true, false, s.now
	}
}

func (s *stepper) forwardAll(event string) {
	s.st.ForwardSeq++
	for _, ch := range s.st.Channels {
		key := fmt.Sprintf("%s/f%d/%s/%s", s.st.ID, s.st.ForwardSeq, ch, event)
		s.record(TimelineEntry{Kind: EntryForward, By: BySystem, Channel: ch, Key: key, Text: event + " to " + ch})
		s.acts = append(s.acts, Forward{Key: key, Channel: ch, Event: event})
	}
}

func appendUnique(s []string, v string) []string {
	if slices.Contains(s, v) {
		return s
	}
	return append(s, v)
}

func alertTitle(a Alert) string {
	t := a.Labels["alertname"]
	if sum := a.Annotations["summary"]; sum != "" {
		if t == "" {
			return sum
		}
		return t + ": " + sum
	}
	return t
}

func alertText(a IncidentAlert) string {
	if t := alertTitle(a.Alert); t != "" {
		return t
	}
	return a.Fingerprint
}
