package pager

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// This file holds help on demand: responders added to an open incident
// (PagerDuty's responder requests) without reassigning it. Each added
// responder is notified by their own rules at the incident's urgency
// (waking hours and all, at low urgency) until they acknowledge or
// decline their part; the incident's own escalation is not touched, and
// acknowledging the incident does not stop them (help is often asked for
// by the person who acknowledged). Resolving the incident does.

// Responder statuses.
const (
	ResponderRequested    = "requested"
	ResponderAcknowledged = "acknowledged"
	ResponderDeclined     = "declined"
)

// MaxResponders bounds the responders of one incident, and the targets
// of one request.
const MaxResponders = 50

// Responder is a person asked to help with an incident.
type Responder struct {
	User   string
	Status string // ResponderRequested, ResponderAcknowledged, ResponderDeclined
	// Seq numbers the request (per incident): the Notify keys of a new
	// request after a decline never collide with the old ones.
	Seq         int
	RequestedBy string
	Via         string // how RequestedBy asked
	RequestedAt time.Time
	// From says why the user was asked: "user", "schedule:NAME" or
	// "policy:NAME".
	From        string
	Message     string
	RespondedAt time.Time
	Planned     []PlannedNotify // pending notifications, sorted by At
}

// AddResponders asks more people to help with an open incident: Users by
// name, whoever is on call now in Schedules, and the first level of each
// of Policies (its users and on-call people). People already asked, and
// not declined, are not asked again.
type AddResponders struct {
	By, Via   string
	Users     []string
	Schedules []string
	Policies  []string
	Message   string
}

// RespondToRequest is an added responder's answer: acknowledge their
// part (Decline false) or decline it. Either stops their notifications;
// neither changes the incident's status.
type RespondToRequest struct {
	By, Via string
	Decline bool
}

func (AddResponders) isEvent()    {}
func (RespondToRequest) isEvent() {}

// Timeline entry kinds of responders.
const (
	EntryResponderAdded   = "responder_added"
	EntryResponderAnswer  = "responder_answered"
	EntryResponderSkipped = "responder_skipped"
)

// responder returns the index of user's entry in st.Responders, or -1.
func (st *IncidentState) responder(user string) int {
	return slices.IndexFunc(st.Responders, func(r Responder) bool { return r.User == user })
}

// Requested reports whether user is an added responder who has not
// answered yet: their Ack answers the request (see RespondToRequest).
func (st IncidentState) Requested(user string) bool {
	i := st.responder(user)
	return i >= 0 && st.Responders[i].Status == ResponderRequested
}

// respondersDue returns the earliest pending responder notification.
func (st *IncidentState) respondersDue() time.Time {
	var due time.Time
	for _, r := range st.Responders {
		if len(r.Planned) > 0 && (due.IsZero() || r.Planned[0].At.Before(due)) {
			due = r.Planned[0].At
		}
	}
	return due
}

func cloneResponders(rs []Responder) []Responder {
	rs = slices.Clone(rs)
	for i := range rs {
		rs[i].Planned = slices.Clone(rs[i].Planned)
	}
	return rs
}

// addResponders resolves the request's targets at now and asks each.
func (s *stepper) addResponders(ev AddResponders) {
	type target struct{ user, from string }
	var targets []target
	add := func(user, from string) {
		if !slices.ContainsFunc(targets, func(t target) bool { return t.user == user }) {
			targets = append(targets, target{user, from})
		}
	}
	skip := func(text string) {
		s.record(TimelineEntry{Kind: EntryResponderSkipped, By: ev.By, Text: text})
	}
	for _, u := range ev.Users {
		add(u, "user")
	}
	for _, name := range ev.Schedules {
		if u, ok := s.onCall(name); ok {
			add(u, "schedule:"+name)
		} else {
			skip("nobody on call in schedule " + name)
		}
	}
	for _, name := range ev.Policies {
		pol := s.c.Policy(name)
		if pol == nil || len(pol.Levels) == 0 {
			skip(fmt.Sprintf("escalation policy %q not found", name))
			continue
		}
		for _, t := range pol.Levels[0].Targets {
			kind, n, _ := strings.Cut(t, ":")
			switch kind {
			case "user":
				add(n, "policy:"+name)
			case "schedule":
				if u, ok := s.onCall(n); ok {
					add(u, "policy:"+name)
				} else {
					skip("nobody on call in schedule " + n + " of policy " + name)
				}
			}
		}
	}
	for _, t := range targets {
		s.askResponder(ev, t.user, t.from)
	}
}

func (s *stepper) onCall(schedule string) (string, bool) {
	if sch := s.c.Schedule(schedule); sch != nil {
		return sch.OnCall(s.now)
	}
	return "", false
}

// askResponder adds user as a responder (again, after a decline) and
// plans their notifications.
func (s *stepper) askResponder(ev AddResponders, user, from string) {
	st := &s.st
	u := s.c.User(user)
	i := st.responder(user)
	switch {
	case u == nil:
		s.record(TimelineEntry{Kind: EntryResponderSkipped, By: ev.By, User: user, Text: "unknown user " + user})
		return
	case i >= 0 && st.Responders[i].Status != ResponderDeclined:
		s.record(TimelineEntry{Kind: EntryResponderSkipped, By: ev.By, User: user, Text: fmt.Sprintf("%s is already a responder (%s)", user, st.Responders[i].Status)})
		return
	case i < 0 && len(st.Responders) >= MaxResponders:
		s.record(TimelineEntry{Kind: EntryResponderSkipped, By: ev.By, User: user, Text: fmt.Sprintf("not adding %s: at most %d responders", user, MaxResponders)})
		return
	}
	st.ResponderSeq++
	r := Responder{User: user, Status: ResponderRequested, Seq: st.ResponderSeq, RequestedBy: ev.By, Via: ev.Via,
		RequestedAt: s.now, From: from, Message: ev.Message}
	text := "asked " + user + " to help"
	if from != "user" {
		text += " (" + strings.Replace(from, ":", " ", 1) + ")"
	}
	if ev.Message != "" {
		text += ": " + ev.Message
	}
	s.record(TimelineEntry{Kind: EntryResponderAdded, By: ev.By, User: user, Text: text})
	rules := u.rulesFor(st.Urgency)
	if len(rules) == 0 {
		s.record(TimelineEntry{Kind: EntryNobodyOnCall, By: BySystem, User: user,
			Text: fmt.Sprintf("not notifying %s: no push, email or slack contact for low urgency", user)})
	}
	for k, rule := range rules {
		when := s.stepAt(user, s.now, rule.After)
		if k == 0 && when.After(s.now.Add(rule.After)) {
			s.record(TimelineEntry{Kind: EntryDeferred, By: BySystem, User: user,
				Text: fmt.Sprintf("low urgency: notifying %s in waking hours, from %s", user, s.c.localClock(user, when))})
		}
		r.Planned = append(r.Planned, PlannedNotify{At: when, User: user, Method: rule.Method, Step: k})
	}
	slices.SortStableFunc(r.Planned, func(a, b PlannedNotify) int { return a.At.Compare(b.At) })
	if i >= 0 {
		st.Responders[i] = r
	} else {
		st.Responders = append(st.Responders, r)
	}
}

// respond records a responder's answer and stops their notifications.
func (s *stepper) respond(ev RespondToRequest) {
	i := s.st.responder(ev.By)
	if i < 0 || s.st.Responders[i].Status != ResponderRequested {
		return
	}
	r := &s.st.Responders[i]
	r.Status, r.RespondedAt, r.Planned = ResponderAcknowledged, s.now, nil
	text := ev.By + " acknowledged the request to help"
	if ev.Decline {
		r.Status = ResponderDeclined
		text = ev.By + " declined the request to help"
	}
	s.record(TimelineEntry{Kind: EntryResponderAnswer, By: ev.By, User: ev.By, Text: text})
}

// respondersCatchUp sends the responder notifications due at or before
// now, in time order.
func (s *stepper) respondersCatchUp() {
	st := &s.st
	for {
		due := st.respondersDue()
		if due.IsZero() || due.After(s.now) {
			return
		}
		for i := range st.Responders {
			r := &st.Responders[i]
			if len(r.Planned) == 0 || !r.Planned[0].At.Equal(due) {
				continue
			}
			p := r.Planned[0]
			r.Planned = r.Planned[1:]
			key := fmt.Sprintf("%s/resp%d/%s/s%d", st.ID, r.Seq, r.User, p.Step)
			u := s.c.User(r.User)
			if u == nil {
				s.record(TimelineEntry{At: p.At, Kind: EntrySkipped, By: BySystem, User: r.User, Method: p.Method,
					Text: fmt.Sprintf("not notifying responder %s via %s: no longer in the configuration", r.User, p.Method)})
				break
			}
			s.record(TimelineEntry{At: p.At, Kind: EntryNotify, By: BySystem, User: r.User, Method: p.Method, Key: key,
				Text: fmt.Sprintf("notifying responder %s via %s (step %d)", r.User, p.Method, p.Step+1)})
			s.acts = append(s.acts, Notify{Key: key, User: r.User, Method: p.Method, Contact: u.Contact.Address(p.Method), Step: p.Step})
			break
		}
	}
}

// stopResponders drops every pending responder notification (resolve).
func (s *stepper) stopResponders() {
	for i := range s.st.Responders {
		s.st.Responders[i].Planned = nil
	}
}

// ErrBadResponders is wrapped when a responder request names nobody, too
// many targets or too long a message.
var ErrBadResponders = errors.New("invalid responder request")

// MaxResponderMessage bounds the message of a responder request, in bytes.
const MaxResponderMessage = 1024

// ResponderRequest names who to ask for help: users, schedules (whoever is
// on call now) and escalation policies (their first level now).
type ResponderRequest struct {
	Users     []string `json:"users,omitempty"`
	Schedules []string `json:"schedules,omitempty"`
	Policies  []string `json:"policies,omitempty"`
	Message   string   `json:"message,omitempty"`
}

// check refuses an empty or oversized request and names that c does not
// know (ErrUnknownUser, ErrUnknownTarget).
func (r ResponderRequest) check(c *Config) error {
	n := len(r.Users) + len(r.Schedules) + len(r.Policies)
	switch {
	case n == 0:
		return fmt.Errorf("%w: name a user, a schedule or a policy", ErrBadResponders)
	case n > MaxResponders:
		return fmt.Errorf("%w: %d targets, at most %d", ErrBadResponders, n, MaxResponders)
	case len(r.Message) > MaxResponderMessage:
		return fmt.Errorf("%w: message of %d bytes, at most %d", ErrBadResponders, len(r.Message), MaxResponderMessage)
	}
	for _, u := range r.Users {
		if c.User(u) == nil {
			return fmt.Errorf("%w %q", ErrUnknownUser, u)
		}
	}
	for _, s := range r.Schedules {
		if c.Schedule(s) == nil {
			return fmt.Errorf("%w %q", ErrUnknownTarget, "schedule:"+s)
		}
	}
	for _, p := range r.Policies {
		if c.Policy(p) == nil {
			return fmt.Errorf("%w %q", ErrUnknownTarget, "policy:"+p)
		}
	}
	return nil
}

// AddResponders asks more people to help with an open incident without
// reassigning it; each is notified by their own rules at the incident's
// urgency until they acknowledge (Ack, or RespondToRequest) or decline.
func (p *Pager) AddResponders(id string, by Actor, req ResponderRequest) error {
	if err := req.check(p.config()); err != nil {
		return err
	}
	ev := AddResponders{By: by.User, Via: by.Via, Users: req.Users, Schedules: req.Schedules, Policies: req.Policies, Message: req.Message}
	return p.act(id, ev, open)
}

// ErrNotRequested is returned when someone answers a responder request
// they do not have (pending).
var ErrNotRequested = errors.New("no pending request to help")

// RespondToRequest acknowledges (decline false) or declines by's pending
// request to help with the incident. ErrNotRequested if there is none.
func (p *Pager) RespondToRequest(id string, by Actor, decline bool) error {
	return p.act(id, RespondToRequest{By: by.User, Via: by.Via, Decline: decline}, func(st *IncidentState) error {
		if err := open(st); err != nil {
			return err
		}
		if !st.Requested(by.User) {
			return ErrNotRequested
		}
		return nil
	})
}
