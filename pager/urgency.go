package pager

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/prometheus/model/labels"
)

// Urgencies of an incident, as in PagerDuty. High urgency pages at once
// with the user's notification_rules and escalates; low urgency never
// calls or texts, waits for the person's waking hours, and does not
// escalate unless its policy sets escalate_low_urgency.
const (
	UrgencyHigh = "high"
	UrgencyLow  = "low"
)

// DefaultWakingHours are the waking hours of a user who sets none: low
// urgency notifications that fall outside them wait for the next start.
const DefaultWakingHours = "08:00-22:00"

// UrgencyRule maps alerts to an urgency by their labels: the first rule
// whose matchers all match an incident's first alert decides, unless the
// incident's route sets urgency itself. Default high.
type UrgencyRule struct {
	// Matchers in Alertmanager syntax, e.g. severity=~"ticket|info".
	Matchers []string `yaml:"matchers"`
	// Urgency is "high" or "low".
	Urgency string `yaml:"urgency"`
}

type urgencyRule struct {
	matchers []*labels.Matcher
	urgency  string
}

// userTime is what Step needs of a user's clock: the time zone and the
// waking hours as minutes since local midnight.
type userTime struct {
	loc        *time.Location
	start, end int
}

// isUrgency reports whether s is a valid urgency (empty means unset).
func isUrgency(s string) bool { return s == "" || s == UrgencyHigh || s == UrgencyLow }

// parseWakingHours parses "HH:MM-HH:MM" into minutes since midnight. The
// end may be before the start (a window across midnight); both equal is
// refused (no waking hours at all would hold low urgency forever).
func parseWakingHours(s string) (start, end int, err error) {
	a, b, ok := strings.Cut(s, "-")
	if !ok {
		return 0, 0, fmt.Errorf("%q must be HH:MM-HH:MM", s)
	}
	if start, err = parseClock(strings.TrimSpace(a)); err == nil {
		end, err = parseClock(strings.TrimSpace(b))
	}
	if err != nil {
		return 0, 0, fmt.Errorf("%q: %w", s, err)
	}
	if start == end {
		return 0, 0, fmt.Errorf("%q: start and end are equal", s)
	}
	return start, end, nil
}

func parseClock(s string) (int, error) {
	h, m, ok := strings.Cut(s, ":")
	hh, err1 := strconv.Atoi(h)
	mm, err2 := strconv.Atoi(m)
	if !ok || len(h) != 2 || len(m) != 2 || err1 != nil || err2 != nil || hh < 0 || hh > 24 || mm < 0 || mm > 59 || hh == 24 && mm != 0 {
		return 0, fmt.Errorf("bad time of day %q (want HH:MM)", s)
	}
	return hh*60 + mm, nil
}

// validateUrgency checks and compiles urgency_rules and the users' urgency
// settings into cc.
func (c *Config) validateUrgency(p *problems, cc *compiled, prefix string) {
	for i, r := range c.UrgencyRules {
		path := fmt.Sprintf("%s.urgency_rules[%d]", prefix, i)
		if r == nil {
			p.add(path, "empty rule")
			continue
		}
		if r.Urgency == "" || !isUrgency(r.Urgency) {
			p.add(path+".urgency", "must be high or low, not %q", r.Urgency)
		}
		cc.urgencyRules = append(cc.urgencyRules, urgencyRule{matchers: compileMatchers(p, path+".matchers", r.Matchers), urgency: r.Urgency})
	}
	cc.userTimes = map[string]userTime{}
	for i, u := range c.Users {
		if u == nil || u.Name == "" {
			continue
		}
		path := fmt.Sprintf("%s.users[%d]", prefix, i)
		ut := userTime{loc: time.UTC}
		if u.TimeZone != "" {
			if loc, err := time.LoadLocation(u.TimeZone); err == nil {
				ut.loc = loc
			}
		}
		wh := u.WakingHours
		if wh == "" {
			wh = DefaultWakingHours
		}
		start, end, err := parseWakingHours(wh)
		if err != nil {
			p.add(path+".waking_hours", "%v", err)
		}
		ut.start, ut.end = start, end
		cc.userTimes[u.Name] = ut
		for j, r := range u.LowUrgencyRules {
			rp := fmt.Sprintf("%s.low_urgency_notification_rules[%d]", path, j)
			switch {
			case r.Method == MethodSMS || r.Method == MethodVoice:
				p.add(rp+".method", "low urgency never calls or texts: use push, email or slack")
			case !isMethod(r.Method):
				p.add(rp+".method", "unknown method %q (push, email, slack)", r.Method)
			case u.Contact.Address(r.Method) == "":
				p.add(rp+".method", "user %q has no %s contact", u.Name, r.Method)
			}
			if r.After < 0 {
				p.add(rp+".after", "negative")
			}
			if j > 0 && r.After < u.LowUrgencyRules[j-1].After {
				p.add(rp+".after", "steps must be in order of after")
			}
		}
	}
}

// quiet reports whether method may be used at low urgency: it neither
// calls nor texts.
func quiet(method string) bool { return method != MethodSMS && method != MethodVoice }

// rulesFor returns the user's notification steps at urgency: the
// notification_rules at high urgency; at low urgency the
// low_urgency_notification_rules or, without them, the quiet steps
// (push, email, slack) of notification_rules, or else one step at 0 by the
// first quiet method with a contact. A user reachable only by phone gets
// no low urgency notifications at all.
func (u *User) rulesFor(urgency string) []NotificationRule {
	if urgency != UrgencyLow {
		return u.rules()
	}
	if len(u.LowUrgencyRules) > 0 {
		return u.LowUrgencyRules
	}
	var out []NotificationRule
	for _, r := range u.rules() {
		if quiet(r.Method) {
			out = append(out, r)
		}
	}
	if len(out) > 0 {
		return out
	}
	for _, m := range []string{MethodPush, MethodEmail, MethodSlack} {
		if u.Contact.Address(m) != "" {
			return []NotificationRule{{Method: m}}
		}
	}
	return nil
}

// urgencyOf returns the urgency of an alert with labels lset: the first
// matching urgency rule's, else high.
func (c *Config) urgencyOf(lset map[string]string) string {
	if c.c != nil {
		for _, r := range c.c.urgencyRules {
			if matchAll(r.matchers, lset) {
				return r.urgency
			}
		}
	}
	return UrgencyHigh
}

// Awake returns the first instant at or after t that falls in user's
// waking hours, in the user's time zone (t itself when it does). Unknown
// users are always awake. Days without the start time (a DST gap) start
// at the normalised instant, as time.Date gives.
func (c *Config) Awake(user string, t time.Time) time.Time {
	if c.c == nil {
		return t
	}
	ut, ok := c.c.userTimes[user]
	if !ok {
		return t
	}
	local := t.In(ut.loc)
	min := local.Hour()*60 + local.Minute()
	if ut.start < ut.end && min >= ut.start && min < ut.end || ut.start > ut.end && (min >= ut.start || min < ut.end) {
		return t
	}
	y, m, d := local.Date()
	at := time.Date(y, m, d, ut.start/60, ut.start%60, 0, 0, ut.loc)
	if !at.After(t) {
		at = time.Date(y, m, d+1, ut.start/60, ut.start%60, 0, 0, ut.loc)
	}
	return at
}

// lowEscalates reports whether a low urgency incident of policy pol moves
// on to later levels. As in PagerDuty, by default it does not: only the
// first level is notified (in waking hours) and the incident waits there.
func lowEscalates(pol *EscalationPolicy) bool { return pol != nil && pol.EscalateLowUrgency }

// escalates reports whether the incident's escalations change level by
// time: always at high urgency, at low only when the policy says so.
func (st *IncidentState) escalates(pol *EscalationPolicy) bool {
	return st.Urgency != UrgencyLow || lowEscalates(pol)
}

// localClock formats t in the user's time zone for timeline texts.
func (c *Config) localClock(user string, t time.Time) string {
	if c.c != nil {
		if ut, ok := c.c.userTimes[user]; ok {
			return t.In(ut.loc).Format("Mon 15:04 MST")
		}
	}
	return t.UTC().Format("Mon 15:04 MST")
}

// raiseUrgency makes a low urgency incident high when alert a, new in it,
// is high by the urgency rules and the incident's route sets no urgency
// of its own (PagerDuty upgrades an incident the same way; urgency never
// goes down by itself). A triggered incident's escalations restart, in a
// new round, with the high urgency rules.
func (s *stepper) raiseUrgency(a IncidentAlert) {
	st := &s.st
	if st.Urgency != UrgencyLow || s.c.urgencyOf(a.Labels) != UrgencyHigh {
		return
	}
	if r := s.c.route(st.Route); r == nil || r.urgency != "" {
		return
	}
	st.Urgency = ""
	s.record(TimelineEntry{Kind: EntryUrgency, By: ByAlerts, Text: "urgency raised to high by " + alertText(a)})
	if st.Status == StatusTriggered {
		s.each(func(e *PolicyEscalation, _ bool) { stopEscalation(e) })
	}
}

// EntryUrgency: the incident's urgency changed.
const EntryUrgency = "urgency"
