package provimport

import (
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/watchdog-sre/watchdog/pager"
	"github.com/watchdog-sre/watchdog/pager/schedule"
)

// PagerDuty REST API v2 response shapes (only the fields used).
type (
	pdRef struct {
		ID      string `json:"id"`
		Type    string `json:"type"`
		Summary string `json:"summary"`
	}
	pdFile struct {
		Users              []pdUser     `json:"users"`
		User               *pdUser      `json:"user"`
		Schedule           *pdSchedule  `json:"schedule"`
		Schedules          []pdSchedule `json:"schedules"`
		Overrides          []pdOverride `json:"overrides"`
		EscalationPolicies []pdPolicy   `json:"escalation_policies"`
		EscalationPolicy   *pdPolicy    `json:"escalation_policy"`
		Services           []pdService  `json:"services"`
		Service            *pdService   `json:"service"`
	}
	pdUser struct {
		ID                string            `json:"id"`
		Name              string            `json:"name"`
		Email             string            `json:"email"`
		TimeZone          string            `json:"time_zone"`
		ContactMethods    []pdContactMethod `json:"contact_methods"`
		NotificationRules []pdNotifRule     `json:"notification_rules"`
		file              string
	}
	pdContactMethod struct {
		ID          string `json:"id"`
		Type        string `json:"type"`
		Address     string `json:"address"`
		CountryCode int    `json:"country_code"`
	}
	pdNotifRule struct {
		ID                  string          `json:"id"`
		StartDelayInMinutes int             `json:"start_delay_in_minutes"`
		ContactMethod       pdContactMethod `json:"contact_method"`
		Urgency             string          `json:"urgency"`
	}
	pdSchedule struct {
		ID             string    `json:"id"`
		Name           string    `json:"name"`
		TimeZone       string    `json:"time_zone"`
		ScheduleLayers []pdLayer `json:"schedule_layers"`
		file           string
		overrides      []pdOverride
		overrideFile   string
	}
	pdLayer struct {
		ID                        string     `json:"id"`
		Name                      string     `json:"name"`
		Start                     time.Time  `json:"start"`
		End                       *time.Time `json:"end"`
		RotationVirtualStart      time.Time  `json:"rotation_virtual_start"`
		RotationTurnLengthSeconds int64      `json:"rotation_turn_length_seconds"`
		Users                     []struct {
			User pdRef `json:"user"`
		} `json:"users"`
		Restrictions []pdRestriction `json:"restrictions"`
	}
	pdRestriction struct {
		Type            string `json:"type"`
		StartTimeOfDay  string `json:"start_time_of_day"`
		DurationSeconds int    `json:"duration_seconds"`
		StartDayOfWeek  int    `json:"start_day_of_week"`
	}
	pdOverride struct {
		Start time.Time `json:"start"`
		End   time.Time `json:"end"`
		User  pdRef     `json:"user"`
	}
	pdPolicy struct {
		ID              string `json:"id"`
		Name            string `json:"name"`
		NumLoops        int    `json:"num_loops"`
		EscalationRules []struct {
			EscalationDelayInMinutes int     `json:"escalation_delay_in_minutes"`
			Targets                  []pdRef `json:"targets"`
			AssignmentStrategy       *struct {
				Type string `json:"type"`
			} `json:"escalation_rule_assignment_strategy"`
		} `json:"escalation_rules"`
		file string
	}
	pdService struct {
		ID                     string `json:"id"`
		Name                   string `json:"name"`
		Status                 string `json:"status"`
		EscalationPolicy       pdRef  `json:"escalation_policy"`
		AcknowledgementTimeout *int   `json:"acknowledgement_timeout"`
		AutoResolveTimeout     *int   `json:"auto_resolve_timeout"`
		IncidentUrgencyRule    *struct {
			Type    string `json:"type"`
			Urgency string `json:"urgency"`
		} `json:"incident_urgency_rule"`
		SupportHours *struct {
			Type string `json:"type"`
		} `json:"support_hours"`
		Integrations []pdRef `json:"integrations"`
		file         string
	}
)

// PagerDuty converts PagerDuty REST API v2 responses: GET /users (with
// include[]=contact_methods and include[]=notification_rules), GET
// /schedules/{id}, GET /schedules/{id}/overrides (a file whose name
// contains the schedule's ID), GET /escalation_policies and GET /services.
// Each file is one response body; list responses may be split over
// several files (pages).
func PagerDuty(files []File, opts Options) (*Result, error) {
	var users []pdUser
	var scheds []*pdSchedule
	var policies []pdPolicy
	var services []pdService
	type ovFile struct {
		file string
		ovs  []pdOverride
	}
	var ovFiles []ovFile
	if len(files) > MaxFiles {
		return nil, fmt.Errorf("%w: %d files, at most %d", ErrInvalid, len(files), MaxFiles)
	}
	for _, f := range files {
		var pf pdFile
		if err := decode(f, &pf); err != nil {
			return nil, err
		}
		known := false
		add := func(n int) { known = known || n > 0 }
		if pf.User != nil {
			pf.Users = append(pf.Users, *pf.User)
		}
		for _, u := range pf.Users {
			u.file = f.Name
			users = append(users, u)
		}
		add(len(pf.Users))
		if pf.Schedule != nil {
			pf.Schedules = append(pf.Schedules, *pf.Schedule)
		}
		for _, s := range pf.Schedules {
			s.file = f.Name
			scheds = append(scheds, &s)
		}
		add(len(pf.Schedules))
		if len(pf.Overrides) > maxItems {
			return nil, fmt.Errorf("%w: %s: more than %d overrides", ErrInvalid, f.Name, maxItems)
		}
		if pf.Overrides != nil {
			ovFiles = append(ovFiles, ovFile{f.Name, pf.Overrides})
			known = true
		}
		if pf.EscalationPolicy != nil {
			pf.EscalationPolicies = append(pf.EscalationPolicies, *pf.EscalationPolicy)
		}
		for _, p := range pf.EscalationPolicies {
			p.file = f.Name
			policies = append(policies, p)
		}
		add(len(pf.EscalationPolicies))
		if pf.Service != nil {
			pf.Services = append(pf.Services, *pf.Service)
		}
		for _, s := range pf.Services {
			s.file = f.Name
			services = append(services, s)
		}
		add(len(pf.Services))
		if !known && pf.Users == nil && pf.Schedules == nil && pf.EscalationPolicies == nil && pf.Services == nil {
			return nil, fmt.Errorf("%w: %s: not a PagerDuty API v2 response (no users, schedule, overrides, escalation_policies or services)", ErrInvalid, f.Name)
		}
		if len(users) > maxItems || len(scheds) > maxItems || len(policies) > maxItems || len(services) > maxItems {
			return nil, fmt.Errorf("%w: more than %d items of one kind", ErrInvalid, maxItems)
		}
	}
	// Overrides belong to the schedule whose ID the file name contains.
	for _, of := range ovFiles {
		base := filepath.Base(of.file)
		var match *pdSchedule
		for _, s := range scheds {
			if s.ID != "" && strings.Contains(base, s.ID) {
				if match != nil && match.ID != s.ID {
					return nil, fmt.Errorf("%w: %s: overrides: the file name contains the IDs of schedules %s and %s", ErrInvalid, of.file, match.ID, s.ID)
				}
				match = s
			}
		}
		if match == nil {
			return nil, fmt.Errorf("%w: %s: overrides: name the file after its schedule's ID (e.g. overrides-PXXXXXX.json); none of the exported schedules' IDs is in it", ErrInvalid, of.file)
		}
		match.overrides = append(match.overrides, of.ovs...)
		match.overrideFile = of.file
	}
	c := &pdConv{o: &out{}, opts: opts, users: map[string]string{}, scheds: map[string]string{}, policies: map[string]string{}}
	for i := range users {
		c.user(&users[i])
	}
	for _, s := range scheds {
		c.schedule(s)
	}
	for i := range policies {
		c.policy(&policies[i])
	}
	for i := range services {
		c.service(&services[i])
	}
	return c.o.render("PagerDuty", "import-pagerduty", files)
}

type pdConv struct {
	o        *out
	opts     Options
	users    map[string]string // PagerDuty ID → user name
	scheds   map[string]string
	policies map[string]string
}

func (c *pdConv) user(u *pdUser) {
	path := fmt.Sprintf("users[%s]", u.ID)
	if _, dup := c.users[u.ID]; dup || u.ID == "" {
		c.o.note(u.file, path, "duplicate or missing user ID: skipped")
		return
	}
	local, _, _ := strings.Cut(u.Email, "@")
	ou := &outUser{Name: c.o.name("user", local, u.Name, u.ID)}
	if u.TimeZone != "" {
		if _, err := time.LoadLocation(u.TimeZone); err == nil && u.TimeZone != "Local" {
			ou.TimeZone = u.TimeZone
		} else {
			c.o.note(u.file, path+".time_zone", "unknown time zone %q: left out", u.TimeZone)
		}
	}
	methodOf := map[string]string{} // contact method ID → method
	for i, cm := range u.ContactMethods {
		cp := fmt.Sprintf("%s.contact_methods[%d]", path, i)
		m, addr := pdContact(cm)
		if m == "" {
			c.o.note(u.file, cp, "%s: no watchdog equivalent (push goes through ntfy: add contact.push by hand)", cm.Type)
			continue
		}
		methodOf[cm.ID] = m
		if !ou.Contact.set(m, addr) && ou.Contact.get(m) != addr {
			c.o.note(u.file, cp, "second %s contact %s: only the first is kept", m, addr)
		}
	}
	if ou.Contact.Email == "" && u.Email != "" {
		ou.Contact.Email = u.Email
	}
	for i, r := range u.NotificationRules {
		rp := fmt.Sprintf("%s.notification_rules[%d]", path, i)
		m := methodOf[r.ContactMethod.ID]
		if m == "" {
			m, _ = pdContact(pdContactMethod{Type: strings.TrimSuffix(r.ContactMethod.Type, "_reference")})
		}
		switch {
		case r.Urgency == "low":
			c.o.note(u.file, rp, "low-urgency rule (%s after %dm): the watchdog has no urgencies yet", r.ContactMethod.Type, r.StartDelayInMinutes)
		case m == "" || ou.Contact.get(m) == "":
			c.o.note(u.file, rp, "rule by %s: no usable contact", r.ContactMethod.Type)
		case r.StartDelayInMinutes < 0:
			c.o.note(u.file, rp, "negative start_delay_in_minutes: skipped")
		default:
			d := time.Duration(r.StartDelayInMinutes) * time.Minute
			ou.NotificationRules = append(ou.NotificationRules, outRule{After: dur(d), Method: m, after: d})
		}
	}
	ou.NotificationRules = sortRules(ou.NotificationRules)
	if ou.Contact == (outContact{}) {
		c.o.note(u.file, path, "user %q has no usable contact: skipped", u.Name)
		return
	}
	c.users[u.ID] = ou.Name
	c.o.users = append(c.o.users, ou)
}

// pdContact maps a contact method to the watchdog method and address.
func pdContact(cm pdContactMethod) (method, addr string) {
	phone := func() string {
		digits := strings.Map(func(r rune) rune {
			if r >= '0' && r <= '9' {
				return r
			}
			return -1
		}, cm.Address)
		if cm.CountryCode > 0 {
			return "+" + strconv.Itoa(cm.CountryCode) + digits
		}
		return "+" + digits
	}
	switch cm.Type {
	case "email_contact_method":
		return pager.MethodEmail, cm.Address
	case "sms_contact_method":
		return pager.MethodSMS, phone()
	case "phone_contact_method":
		return pager.MethodVoice, phone()
	}
	return "", ""
}

func (c *pdConv) schedule(s *pdSchedule) {
	path := fmt.Sprintf("schedules[%s]", s.ID)
	if _, dup := c.scheds[s.ID]; dup || s.ID == "" {
		c.o.note(s.file, path, "duplicate or missing schedule ID: skipped")
		return
	}
	loc, err := time.LoadLocation(s.TimeZone)
	if err != nil || s.TimeZone == "" || s.TimeZone == "Local" {
		c.o.note(s.file, path+".time_zone", "unknown time zone %q: schedule skipped", s.TimeZone)
		return
	}
	if s.ScheduleLayers == nil {
		c.o.note(s.file, path, "no schedule_layers (export GET /schedules/{id}, not the list): schedule skipped")
		return
	}
	os := &schedule.Schedule{Name: c.o.name("schedule", s.Name, s.ID), TimeZone: s.TimeZone}
	lnames := map[string]bool{}
	// The API lists layers highest first; the watchdog lowest first.
	for i := len(s.ScheduleLayers) - 1; i >= 0; i-- {
		if l, ok := c.layer(s, i, loc, lnames); ok {
			os.Layers = append(os.Layers, l)
		}
	}
	if len(os.Layers) == 0 {
		c.o.note(s.file, path, "no layer could be imported: schedule skipped")
		return
	}
	for i, ov := range s.overrides {
		op := fmt.Sprintf("schedules[%s].overrides[%d]", s.ID, i)
		name, ok := c.users[ov.User.ID]
		switch {
		case !ok:
			c.o.note(s.overrideFile, op+".user", "unknown user %s (%s): override skipped", ov.User.ID, ov.User.Summary)
		case !ov.End.After(ov.Start):
			c.o.note(s.overrideFile, op, "end not after start: skipped")
		case !c.opts.Now.IsZero() && !ov.End.After(c.opts.Now):
		default:
			os.Overrides = append(os.Overrides, schedule.Override{User: name, Start: ov.Start.In(loc).Format(time.RFC3339), End: ov.End.In(loc).Format(time.RFC3339)})
		}
	}
	if !c.o.addSchedule(s.file, path, os) {
		return
	}
	c.scheds[s.ID] = os.Name
}

func (c *pdConv) layer(s *pdSchedule, i int, loc *time.Location, names map[string]bool) (schedule.Layer, bool) {
	l := s.ScheduleLayers[i]
	lp := fmt.Sprintf("schedules[%s].schedule_layers[%d]", s.ID, i)
	if l.End != nil {
		if c.opts.Now.IsZero() || l.End.After(c.opts.Now) {
			c.o.note(s.file, lp+".end", "the layer ends at %s; the watchdog's layers do not end: remove it then", l.End.Format(time.RFC3339))
		} else {
			return schedule.Layer{}, false // ended: history only
		}
	}
	if len(l.Users) > maxMembers || len(l.Restrictions) > maxRestrictions {
		c.o.note(s.file, lp, "more than %d users or %d restrictions: layer skipped", maxMembers, maxRestrictions)
		return schedule.Layer{}, false
	}
	r := rotation{anchor: l.RotationVirtualStart, start: l.Start}
	var gaps []int
	for j, u := range l.Users {
		name, ok := c.users[u.User.ID]
		if !ok {
			gaps = append(gaps, j)
		}
		r.members = append(r.members, name)
	}
	var ok bool
	if r.members, ok = fillGaps(r.members); !ok {
		c.o.note(s.file, lp+".users", "no imported user: layer skipped")
		return schedule.Layer{}, false
	}
	for _, j := range gaps {
		u := l.Users[j].User
		c.o.note(s.file, fmt.Sprintf("%s.users[%d]", lp, j), "unknown user %s (%s): their turns are covered by %s", u.ID, u.Summary, r.members[j])
	}
	switch t := l.RotationTurnLengthSeconds; {
	case t <= 0 || t > 366*86400:
		c.o.note(s.file, lp+".rotation_turn_length_seconds", "%d is not a usable turn length: layer skipped", t)
		return schedule.Layer{}, false
	case t%86400 == 0:
		r.days = int(t / 86400)
	default:
		r.length = time.Duration(t) * time.Second
	}
	lname := slug(l.Name)
	if lname == "" || names[lname] {
		lname = fmt.Sprintf("layer-%d", len(s.ScheduleLayers)-i)
	}
	names[lname] = true
	out, why, ok := r.layer(lname, loc)
	if !ok {
		c.o.note(s.file, lp, "%s: layer skipped", why)
		return out, false
	}
	if !c.opts.Now.IsZero() && l.Start.After(c.opts.Now) && !l.Start.Equal(r.startInstant(out, loc)) {
		c.o.note(s.file, lp+".start", "the layer starts at %s, between handoffs; imported from the handoff before it (%s)", l.Start.Format(time.RFC3339), out.Start)
	}
	var ws []window
	daily := true
	for j, x := range l.Restrictions {
		xp := fmt.Sprintf("%s.restrictions[%d]", lp, j)
		w, isDaily, err := pdWindow(x)
		if err != nil {
			c.o.note(s.file, xp, "%v: layer skipped", err)
			return out, false
		}
		if j > 0 && isDaily != daily {
			// Mixed kinds: express daily ones as seven weekly windows.
			daily = false
		}
		daily = daily && isDaily
		ws = append(ws, w)
	}
	if !daily {
		var wk []window
		for j, w := range ws {
			if x := l.Restrictions[j]; x.Type == "daily_restriction" {
				for d := range 7 {
					wk = append(wk, window{start: d*1440 + w.start, length: w.length})
				}
				continue
			}
			wk = append(wk, w)
		}
		ws = wk
	}
	out.Restrictions = restrictions(ws, daily)
	return out, true
}

// startInstant is the instant a mapped layer starts.
func (r rotation) startInstant(l schedule.Layer, loc *time.Location) time.Time {
	if t, err := time.Parse(time.RFC3339, l.Start); err == nil {
		return t
	}
	for _, f := range []string{"2006-01-02T15:04:05", "2006-01-02T15:04"} {
		if t, err := time.ParseInLocation(f, l.Start, loc); err == nil {
			return t
		}
	}
	return time.Time{}
}

// pdWindow parses a restriction into a window (start minute of the day
// or of the week from Monday).
func pdWindow(x pdRestriction) (window, bool, error) {
	tod, err := time.Parse("15:04:05", x.StartTimeOfDay)
	if err != nil {
		if tod, err = time.Parse("15:04", x.StartTimeOfDay); err != nil {
			return window{}, false, fmt.Errorf("start_time_of_day %q is not HH:MM:SS", x.StartTimeOfDay)
		}
	}
	if tod.Second() != 0 || x.DurationSeconds%60 != 0 {
		return window{}, false, fmt.Errorf("restriction not in whole minutes")
	}
	m := tod.Hour()*60 + tod.Minute()
	switch x.Type {
	case "daily_restriction":
		if x.DurationSeconds <= 0 || x.DurationSeconds > 86400 {
			return window{}, false, fmt.Errorf("duration_seconds %d is not within a day", x.DurationSeconds)
		}
		return window{start: m, length: x.DurationSeconds / 60}, true, nil
	case "weekly_restriction":
		if x.StartDayOfWeek < 1 || x.StartDayOfWeek > 7 {
			return window{}, false, fmt.Errorf("start_day_of_week %d is not 1 (Monday) to 7", x.StartDayOfWeek)
		}
		if x.DurationSeconds <= 0 || x.DurationSeconds > 7*86400 {
			return window{}, false, fmt.Errorf("duration_seconds %d is not within a week", x.DurationSeconds)
		}
		return window{start: (x.StartDayOfWeek-1)*1440 + m, length: x.DurationSeconds / 60}, false, nil
	}
	return window{}, false, fmt.Errorf("restriction type %q", x.Type)
}

func (c *pdConv) policy(p *pdPolicy) {
	path := fmt.Sprintf("escalation_policies[%s]", p.ID)
	if _, dup := c.policies[p.ID]; dup || p.ID == "" {
		c.o.note(p.file, path, "duplicate or missing escalation policy ID: skipped")
		return
	}
	op := &outPolicy{Name: c.o.name("policy", p.Name, p.ID), Repeat: max(p.NumLoops, 0)}
	if len(p.EscalationRules) > maxItems {
		c.o.note(p.file, path, "too many rules: skipped")
		return
	}
	for i, r := range p.EscalationRules {
		rp := fmt.Sprintf("%s.escalation_rules[%d]", path, i)
		if r.AssignmentStrategy != nil && r.AssignmentStrategy.Type != "" && r.AssignmentStrategy.Type != "assign_to_everyone" {
			c.o.note(p.file, rp+".escalation_rule_assignment_strategy", "%s: the watchdog notifies every target of a level", r.AssignmentStrategy.Type)
		}
		var lv outLevel
		for j, t := range r.Targets {
			tp := fmt.Sprintf("%s.targets[%d]", rp, j)
			switch strings.TrimSuffix(t.Type, "_reference") {
			case "user":
				if n, ok := c.users[t.ID]; ok {
					lv.Targets = append(lv.Targets, "user:"+n)
					continue
				}
			case "schedule":
				if n, ok := c.scheds[t.ID]; ok {
					lv.Targets = append(lv.Targets, "schedule:"+n)
					continue
				}
			}
			c.o.note(p.file, tp, "%s %s (%s): not imported (unknown or not a user or schedule)", t.Type, t.ID, t.Summary)
		}
		if len(lv.Targets) == 0 {
			c.o.note(p.file, rp, "no target left: rule skipped")
			continue
		}
		lv.EscalateAfter = dur(time.Duration(max(r.EscalationDelayInMinutes, 1)) * time.Minute)
		op.Levels = append(op.Levels, lv)
	}
	if len(op.Levels) == 0 {
		c.o.note(p.file, path, "no rule left: escalation policy skipped")
		return
	}
	c.policies[p.ID] = op.Name
	c.o.policies = append(c.o.policies, op)
}

func (c *pdConv) service(s *pdService) {
	path := fmt.Sprintf("services[%s]", s.ID)
	if s.Status == "disabled" {
		c.o.note(s.file, path, "disabled service: no route")
		return
	}
	pol, ok := c.policies[s.EscalationPolicy.ID]
	if !ok {
		c.o.note(s.file, path+".escalation_policy", "escalation policy %s (%s) not imported: no route", s.EscalationPolicy.ID, s.EscalationPolicy.Summary)
		return
	}
	if u := s.IncidentUrgencyRule; u != nil && !(u.Type == "constant" && u.Urgency == "high") {
		c.o.note(s.file, path+".incident_urgency_rule", "urgency rule %s: the watchdog pages every incident at high urgency", strings.TrimSpace(u.Type+" "+u.Urgency))
	}
	if s.SupportHours != nil && s.SupportHours.Type != "" {
		c.o.note(s.file, path+".support_hours", "support hours: not imported")
	}
	if s.AcknowledgementTimeout != nil && *s.AcknowledgementTimeout > 0 {
		c.o.note(s.file, path+".acknowledgement_timeout", "%ds: set ack_timeout on escalation policy %s if wanted", *s.AcknowledgementTimeout, pol)
	}
	if s.AutoResolveTimeout != nil && *s.AutoResolveTimeout > 0 {
		c.o.note(s.file, path+".auto_resolve_timeout", "%ds: the watchdog resolves when the alert resolves", *s.AutoResolveTimeout)
	}
	if len(s.Integrations) > 0 {
		c.o.note(s.file, path+".integrations", "%d integrations (and their keys) not imported: alerts come from the watchdog's rules", len(s.Integrations))
	}
	c.o.routes = append(c.o.routes, &outRoute{
		Name:             c.o.name("route", s.Name, s.ID),
		Matchers:         []string{"service=" + amQuote(s.Name)},
		EscalationPolicy: pol,
	})
}
