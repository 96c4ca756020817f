package pager

import (
	"fmt"
	"strings"
	"time"
)

// Incidents returns the incidents f selects, newest first.
func (p *Pager) Incidents(f IncidentFilter) ([]IncidentState, error) {
	var out []IncidentState
	err := p.store.View(func(tx ReadTx) error {
		var err error
		out, err = tx.Incidents(f)
		return err
	})
	return out, err
}

// Incident returns one incident and its timeline, or ErrNotFound.
func (p *Pager) Incident(id string) (IncidentState, []TimelineEntry, error) {
	var st IncidentState
	var tl []TimelineEntry
	err := p.store.View(func(tx ReadTx) error {
		var err error
		if st, err = tx.Incident(id); err != nil {
			return err
		}
		tl, err = tx.Timeline(id)
		return err
	})
	return st, tl, err
}

// Deliveries returns an incident's notification log.
func (p *Pager) Deliveries(incidentID string) ([]Delivery, error) {
	var out []Delivery
	err := p.store.View(func(tx ReadTx) error {
		var err error
		out, err = tx.Deliveries(DeliveryFilter{IncidentID: incidentID})
		return err
	})
	return out, err
}

// act loads the incident, checks it with ok, and applies ev.
func (p *Pager) act(id string, ev Event, ok func(st *IncidentState) error) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	var st IncidentState
	if err := p.store.View(func(tx ReadTx) error {
		var err error
		st, err = tx.Incident(id)
		return err
	}); err != nil {
		return fmt.Errorf("incident %s: %w", id, err)
	}
	if ok != nil {
		if err := ok(&st); err != nil {
			return fmt.Errorf("incident %s: %w", id, err)
		}
	}
	return p.apply(st, ev, nil)
}

func open(st *IncidentState) error {
	if !st.Open() {
		return ErrResolved
	}
	return nil
}

// Ack acknowledges a triggered incident: escalation stops (until the
// policy's ack_timeout). ErrNotTriggered if it is not triggered. From an
// added responder with a pending request it acknowledges only their part
// (see AddResponders), whatever the incident's status.
func (p *Pager) Ack(id string, by Actor) error {
	return p.act(id, Ack{By: by.User, Via: by.Via}, func(st *IncidentState) error {
		if st.Status != StatusTriggered && !st.Requested(by.User) {
			return ErrNotTriggered
		}
		return nil
	})
}

// Resolve resolves an open incident.
func (p *Pager) Resolve(id string, by Actor) error {
	return p.act(id, Resolve{By: by.User, Via: by.Via}, open)
}

// Snooze acknowledges until until, then re-triggers. ErrBadSnooze if
// until is not in the future or more than Options.MaxSnooze away.
func (p *Pager) Snooze(id string, by Actor, until time.Time) error {
	return p.act(id, Snooze{By: by.User, Via: by.Via, Until: until}, func(st *IncidentState) error {
		if err := open(st); err != nil {
			return err
		}
		return checkSnooze(until, p.now(), p.o.MaxSnooze)
	})
}

// checkSnooze refuses a snooze end that is not in the future or more than
// max after now.
func checkSnooze(until, now time.Time, max time.Duration) error {
	switch {
	case !until.After(now):
		return fmt.Errorf("%w: %s is not in the future", ErrBadSnooze, fmtDue(until))
	case until.Sub(now) > max:
		return fmt.Errorf("%w: %s is more than %s from now", ErrBadSnooze, fmtDue(until), max)
	}
	return nil
}

// Reassign hands the incident to user to, who is notified now.
func (p *Pager) Reassign(id string, by Actor, to string) error {
	return p.act(id, Reassign{By: by.User, Via: by.Via, To: to}, func(st *IncidentState) error {
		if p.config().User(to) == nil {
			return fmt.Errorf("%w %q", ErrUnknownUser, to)
		}
		return open(st)
	})
}

// EscalateNow moves the incident to its next escalation level at once.
func (p *Pager) EscalateNow(id string, by Actor) error {
	return p.act(id, EscalateNow{By: by.User, Via: by.Via}, open)
}

// DeclareMajor makes an open incident major: the major_policies of its
// route page in parallel with its own policy and the war room is told
// once. ErrAlreadyMajor if it is major already.
func (p *Pager) DeclareMajor(id string, by Actor) error {
	return p.act(id, DeclareMajor{By: by.User, Via: by.Via}, func(st *IncidentState) error {
		if err := open(st); err != nil {
			return err
		}
		if st.Major {
			return ErrAlreadyMajor
		}
		return nil
	})
}

// Note adds a note to the incident's timeline (resolved ones too).
func (p *Pager) Note(id string, by Actor, text string) error {
	return p.act(id, Note{By: by.User, Via: by.Via, Text: text}, nil)
}

// OnCall is one person on call for a target.
type OnCall struct {
	Level    int    // escalation level (0-based); 0 for a schedule
	User     string // "" when nobody is on call in Schedule
	Schedule string // the schedule that put User on call, if any
}

// WhoIsOnCall answers for "schedule:NAME", "policy:NAME" or "route:NAME"
// (the policy of a route): who would be paged at t, level by level.
func (p *Pager) WhoIsOnCall(target string, t time.Time) ([]OnCall, error) {
	kind, name, _ := strings.Cut(target, ":")
	var ovs []ScheduleOverride
	if err := p.store.View(func(tx ReadTx) error {
		var err error
		ovs, err = tx.Overrides()
		return err
	}); err != nil {
		return nil, fmt.Errorf("on call: %w", err)
	}
	cfg := p.ov.withOverrides(p.config(), ovs)
	switch kind {
	case "schedule":
		s := cfg.Schedule(name)
		if s == nil {
			return nil, fmt.Errorf("%w %q", ErrUnknownTarget, target)
		}
		u, _ := s.OnCall(t)
		return []OnCall{{User: u, Schedule: name}}, nil
	case "route":
		r := cfg.route(name)
		if r == nil {
			return nil, fmt.Errorf("%w %q", ErrUnknownTarget, target)
		}
		name = r.policy
		fallthrough
	case "policy":
		pol := cfg.Policy(name)
		if pol == nil {
			return nil, fmt.Errorf("%w %q", ErrUnknownTarget, target)
		}
		var out []OnCall
		for i, l := range pol.Levels {
			for _, tg := range l.Targets {
				k, n, _ := strings.Cut(tg, ":")
				if k == "user" {
					out = append(out, OnCall{Level: i, User: n})
					continue
				}
				u, _ := cfg.Schedule(n).OnCall(t)
				out = append(out, OnCall{Level: i, User: u, Schedule: n})
			}
		}
		return out, nil
	}
	return nil, fmt.Errorf("%w %q", ErrUnknownTarget, target)
}

// CreateSilence validates s with ValidateSilence (at most
// Options.MaxSilenceDuration long), stores it (assigning an ID when empty;
// a zero StartsAt means now) and applies it to open incidents at once.
func (p *Pager) CreateSilence(s Silence) (string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.now()
	if err := ValidateSilence(s, now, p.o.MaxSilenceDuration); err != nil {
		return "", err
	}
	if s.StartsAt.IsZero() {
		s.StartsAt = now
	}
	err := p.update(func(tx Tx) error {
		if s.ID == "" {
			n, err := tx.NextID("silence")
			if err != nil {
				return err
			}
			s.ID = fmt.Sprintf("sil-%d", n)
		}
		return tx.PutSilence(s)
	})
	if err != nil {
		return "", err
	}
	p.open.putSilence(s)
	p.pushSilence(s, now)
	p.signal()
	return s.ID, p.resuppress(now)
}

// Silences returns every silence, expired ones included.
func (p *Pager) Silences() ([]Silence, error) {
	var out []Silence
	err := p.store.View(func(tx ReadTx) error {
		var err error
		out, err = tx.Silences()
		return err
	})
	return out, err
}

// ExpireSilence ends a silence now; paging of what it muted resumes.
func (p *Pager) ExpireSilence(id string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.now()
	var expired Silence
	err := p.update(func(tx Tx) error {
		sils, err := tx.Silences()
		if err != nil {
			return err
		}
		for _, s := range sils {
			if s.ID == id {
				if s.EndsAt.After(now) {
					s.EndsAt = now
				}
				expired = s
				return tx.PutSilence(s)
			}
		}
		return ErrNotFound
	})
	if err != nil {
		return fmt.Errorf("silence %s: %w", id, err)
	}
	p.open.putSilence(expired)
	return p.resuppress(now)
}
