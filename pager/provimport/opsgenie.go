package provimport

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/watchdog-sre/watchdog/pager"
	"github.com/watchdog-sre/watchdog/pager/schedule"
)

// Opsgenie API v2 response shapes (only the fields used).
type (
	ogRef struct {
		Type     string `json:"type"`
		ID       string `json:"id"`
		Name     string `json:"name"`
		Username string `json:"username"`
	}
	ogUser struct {
		ID           string `json:"id"`
		Username     string `json:"username"`
		FullName     string `json:"fullName"`
		TimeZone     string `json:"timeZone"`
		UserContacts []struct {
			ContactMethod string `json:"contactMethod"`
			To            string `json:"to"`
			Enabled       *bool  `json:"enabled"`
		} `json:"userContacts"`
		file  string
		rules []ogNotifRule
		rfile string
	}
	ogNotifRule struct {
		Name            string          `json:"name"`
		ActionType      string          `json:"actionType"`
		Enabled         *bool           `json:"enabled"`
		Criteria        *ogCriteria     `json:"criteria"`
		TimeRestriction json.RawMessage `json:"timeRestriction"`
		Repeat          json.RawMessage `json:"repeat"`
		Steps           []struct {
			SendAfter ogAmount `json:"sendAfter"`
			Contact   struct {
				Method string `json:"method"`
				To     string `json:"to"`
			} `json:"contact"`
			Enabled *bool `json:"enabled"`
		} `json:"steps"`
	}
	ogAmount struct {
		TimeAmount int    `json:"timeAmount"`
		TimeUnit   string `json:"timeUnit"`
	}
	ogSchedule struct {
		ID        string       `json:"id"`
		Name      string       `json:"name"`
		Timezone  string       `json:"timezone"`
		Enabled   *bool        `json:"enabled"`
		Rotations []ogRotation `json:"rotations"`
		file      string
		overrides []ogOverride
		ofile     string
	}
	ogRotation struct {
		ID              string       `json:"id"`
		Name            string       `json:"name"`
		StartDate       time.Time    `json:"startDate"`
		EndDate         *time.Time   `json:"endDate"`
		Type            string       `json:"type"`
		Length          int          `json:"length"`
		Participants    []ogRef      `json:"participants"`
		TimeRestriction *ogTimeRestr `json:"timeRestriction"`
	}
	ogTimeRestr struct {
		Type         string    `json:"type"`
		Restriction  *ogRestr  `json:"restriction"`
		Restrictions []ogRestr `json:"restrictions"`
	}
	ogRestr struct {
		StartDay  string `json:"startDay"`
		EndDay    string `json:"endDay"`
		StartHour int    `json:"startHour"`
		StartMin  int    `json:"startMin"`
		EndHour   int    `json:"endHour"`
		EndMin    int    `json:"endMin"`
	}
	ogOverride struct {
		Alias     string    `json:"alias"`
		User      ogRef     `json:"user"`
		StartDate time.Time `json:"startDate"`
		EndDate   time.Time `json:"endDate"`
		Rotations []ogRef   `json:"rotations"`
	}
	ogEscalation struct {
		ID    string `json:"id"`
		Name  string `json:"name"`
		Rules []struct {
			Condition  string   `json:"condition"`
			NotifyType string   `json:"notifyType"`
			Delay      ogAmount `json:"delay"`
			Recipient  ogRef    `json:"recipient"`
		} `json:"rules"`
		Repeat *struct {
			WaitInterval         int  `json:"waitInterval"`
			Count                int  `json:"count"`
			ResetRecipientStates bool `json:"resetRecipientStates"`
			CloseAlertAfterAll   bool `json:"closeAlertAfterAll"`
		} `json:"repeat"`
		file string
	}
	ogTeam struct {
		ID    string `json:"id"`
		Name  string `json:"name"`
		file  string
		rules []ogRoutingRule
		rfile string
	}
	ogRoutingRule struct {
		Name            string          `json:"name"`
		IsDefault       bool            `json:"isDefault"`
		Order           int             `json:"order"`
		Criteria        *ogCriteria     `json:"criteria"`
		TimeRestriction json.RawMessage `json:"timeRestriction"`
		Notify          ogRef           `json:"notify"`
	}
	ogCriteria struct {
		Type       string `json:"type"`
		Conditions []struct {
			Field         string `json:"field"`
			Key           string `json:"key"`
			Not           bool   `json:"not"`
			Operation     string `json:"operation"`
			ExpectedValue string `json:"expectedValue"`
		} `json:"conditions"`
	}
)

// ogKind tells what an element of a response's data is, by its keys.
func ogKind(keys map[string]json.RawMessage) string {
	has := func(k string) bool { _, ok := keys[k]; return ok }
	switch {
	case has("username"):
		return "user"
	case has("rules"):
		return "escalation"
	case has("actionType") || has("steps"):
		return "notification rule"
	case has("criteria") || has("notify"):
		return "routing rule"
	case has("alias") || (has("user") && has("startDate")):
		return "override"
	case has("rotations") || has("timezone"):
		return "schedule"
	}
	for k := range keys {
		if !slices.Contains([]string{"id", "name", "description", "members", "links"}, k) {
			return ""
		}
	}
	if has("id") && has("name") {
		return "team"
	}
	return ""
}

// Opsgenie converts Opsgenie API v2 responses: GET /v2/users/{id}?expand=contact
// (one file per user, or a list), GET /v2/users/{id}/notification-rules/{ruleId}
// (a file whose name contains the user's ID or username), GET
// /v2/schedules?expand=rotation, GET /v2/schedules/{id}/overrides (a file
// whose name contains the schedule's ID or name), GET /v2/escalations, GET
// /v2/teams and GET /v2/teams/{id}/routing-rules (a file whose name
// contains the team's ID or name).
func Opsgenie(files []File, opts Options) (*Result, error) {
	if len(files) > MaxFiles {
		return nil, fmt.Errorf("%w: %d files, at most %d", ErrInvalid, len(files), MaxFiles)
	}
	var users []*ogUser
	var scheds []*ogSchedule
	var escs []*ogEscalation
	var teams []*ogTeam
	var owned []ogOwned
	count := 0
	for _, f := range files {
		var resp struct {
			Data json.RawMessage `json:"data"`
		}
		if err := decode(f, &resp); err != nil {
			return nil, err
		}
		var elems []json.RawMessage
		switch d := strings.TrimSpace(string(resp.Data)); {
		case d == "" || d == "null":
			return nil, fmt.Errorf("%w: %s: not an Opsgenie API response (no data)", ErrInvalid, f.Name)
		case d[0] == '[':
			if err := decode(File{f.Name, resp.Data}, &elems); err != nil {
				return nil, err
			}
		default:
			elems = []json.RawMessage{resp.Data}
		}
		if count += len(elems); count > 5*maxItems {
			return nil, fmt.Errorf("%w: more than %d items", ErrInvalid, 5*maxItems)
		}
		kind := ""
		for i, e := range elems {
			var keys map[string]json.RawMessage
			if err := json.Unmarshal(e, &keys); err != nil {
				return nil, fmt.Errorf("%w: %s: data[%d]: not an object", ErrInvalid, f.Name, i)
			}
			k := ogKind(keys)
			if k == "" || (kind != "" && k != kind) {
				return nil, fmt.Errorf("%w: %s: data[%d]: not an Opsgenie user, schedule, override, escalation, team, routing rule or notification rule", ErrInvalid, f.Name, i)
			}
			kind = k
			var err error
			switch k {
			case "user":
				u := &ogUser{file: f.Name}
				err = json.Unmarshal(e, u)
				users = append(users, u)
			case "schedule":
				s := &ogSchedule{file: f.Name}
				err = json.Unmarshal(e, s)
				scheds = append(scheds, s)
			case "escalation":
				x := &ogEscalation{file: f.Name}
				err = json.Unmarshal(e, x)
				escs = append(escs, x)
			case "team":
				x := &ogTeam{file: f.Name}
				err = json.Unmarshal(e, x)
				teams = append(teams, x)
			}
			if err != nil {
				return nil, fmt.Errorf("%w: %s: data[%d]: %v", ErrInvalid, f.Name, i, err)
			}
		}
		switch kind {
		case "routing rule", "notification rule", "override":
			owned = append(owned, ogOwned{f.Name, kind, elems})
		}
	}
	if err := attachOwned(owned, users, scheds, teams); err != nil {
		return nil, err
	}
	c := &ogConv{o: &out{}, opts: opts, users: map[string]string{}, scheds: map[string][]string{}, rotScheds: map[string]string{}, policies: map[string]string{}}
	for _, u := range users {
		c.user(u)
	}
	for _, s := range scheds {
		c.schedule(s)
	}
	for _, e := range escs {
		c.escalation(e)
	}
	for _, t := range teams {
		c.team(t)
	}
	return c.o.render("Opsgenie", "import-opsgenie", files)
}

// ogOwned is a response whose elements belong to a user, schedule or team
// that only the file's name tells.
type ogOwned struct {
	file  string
	kind  string
	elems []json.RawMessage
}

// attachOwned gives overrides, notification rules and routing rules to
// the schedule, user or team their file is named after.
func attachOwned(files []ogOwned, users []*ogUser, scheds []*ogSchedule, teams []*ogTeam) error {
	// Rules and overrides belong to what their file is named after.
	for _, of := range files {
		base := strings.ToLower(filepath.Base(of.file))
		named := func(id, name string) bool {
			return id != "" && strings.Contains(base, strings.ToLower(id)) || slug(name) != "" && strings.Contains(base, slug(name))
		}
		var err error
		found := 0
		switch of.kind {
		case "override":
			for _, s := range scheds {
				if named(s.ID, s.Name) {
					found++
					s.ofile = of.file
					err = decodeAll(of.elems, &s.overrides)
				}
			}
		case "notification rule":
			for _, u := range users {
				local, _, _ := strings.Cut(u.Username, "@")
				if named(u.ID, local) {
					found++
					u.rfile = of.file
					err = decodeAll(of.elems, &u.rules)
				}
			}
		case "routing rule":
			for _, t := range teams {
				if named(t.ID, t.Name) {
					found++
					t.rfile = of.file
					err = decodeAll(of.elems, &t.rules)
				}
			}
		}
		if err != nil {
			return fmt.Errorf("%w: %s: %v", ErrInvalid, of.file, err)
		}
		if found != 1 {
			return fmt.Errorf("%w: %s: %ss: the file name must contain the ID or name of exactly one exported %s (it matches %d)", ErrInvalid, of.file, of.kind,
				map[string]string{"override": "schedule", "notification rule": "user", "routing rule": "team"}[of.kind], found)
		}
	}
	return nil
}

func decodeAll[T any](elems []json.RawMessage, dst *[]T) error {
	for i, e := range elems {
		var v T
		if err := json.Unmarshal(e, &v); err != nil {
			return fmt.Errorf("data[%d]: %v", i, err)
		}
		*dst = append(*dst, v)
	}
	return nil
}

type ogConv struct {
	o         *out
	opts      Options
	users     map[string]string   // ID and username → user name
	scheds    map[string][]string // schedule ID and name → schedule names (one per rotation)
	rotScheds map[string]string   // rotation ID → schedule name
	policies  map[string]string   // escalation ID and name → policy name
	schedPols map[string]string   // schedule → generated policy
}

func (c *ogConv) userRef(r ogRef) (string, bool) {
	if n, ok := c.users[r.ID]; ok && r.ID != "" {
		return n, true
	}
	n, ok := c.users[r.Username]
	return n, ok && r.Username != ""
}

// ogPhone turns Opsgenie's "CC-NUMBER" into E.164.
func ogPhone(s string) string {
	return "+" + strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return r
		}
		return -1
	}, s)
}

func ogMethod(m string) string {
	switch m {
	case "email":
		return pager.MethodEmail
	case "sms":
		return pager.MethodSMS
	case "voice":
		return pager.MethodVoice
	}
	return ""
}

func (c *ogConv) user(u *ogUser) {
	path := fmt.Sprintf("users[%s]", u.Username)
	if _, dup := c.users[u.Username]; dup || u.Username == "" {
		c.o.note(u.file, path, "duplicate or missing username: skipped")
		return
	}
	local, _, _ := strings.Cut(u.Username, "@")
	ou := &outUser{Name: c.o.name("user", local, u.FullName, u.ID)}
	if u.TimeZone != "" {
		if _, err := time.LoadLocation(u.TimeZone); err == nil && u.TimeZone != "Local" {
			ou.TimeZone = u.TimeZone
		} else {
			c.o.note(u.file, path+".timeZone", "unknown time zone %q: left out", u.TimeZone)
		}
	}
	addr := func(m, to string) string {
		if m == pager.MethodEmail {
			return to
		}
		return ogPhone(to)
	}
	for i, uc := range u.UserContacts {
		cp := fmt.Sprintf("%s.userContacts[%d]", path, i)
		m := ogMethod(uc.ContactMethod)
		switch {
		case m == "":
			c.o.note(u.file, cp, "%s contact: no watchdog equivalent (push goes through ntfy: add contact.push by hand)", uc.ContactMethod)
		case uc.Enabled != nil && !*uc.Enabled:
			c.o.note(u.file, cp, "disabled %s contact %s: skipped", uc.ContactMethod, uc.To)
		case !ou.Contact.set(m, addr(m, uc.To)) && ou.Contact.get(m) != addr(m, uc.To):
			c.o.note(u.file, cp, "second %s contact %s: only the first is kept", m, uc.To)
		}
	}
	if ou.Contact.Email == "" && strings.Contains(u.Username, "@") {
		ou.Contact.Email = u.Username
	}
	for i, r := range u.rules {
		rp := fmt.Sprintf("users[%s].notification_rules[%d]", u.Username, i)
		switch {
		case r.Enabled != nil && !*r.Enabled:
			continue
		case r.ActionType != "create-alert":
			c.o.note(u.rfile, rp, "%s rule %q: not imported", r.ActionType, r.Name)
			continue
		}
		if r.Criteria != nil && r.Criteria.Type != "" && r.Criteria.Type != "match-all" {
			c.o.note(u.rfile, rp+".criteria", "%s: the rule applies to every alert", r.Criteria.Type)
		}
		if len(r.TimeRestriction) > 0 && string(r.TimeRestriction) != "null" {
			c.o.note(u.rfile, rp+".timeRestriction", "the rule applies at all times")
		}
		if len(r.Repeat) > 0 && string(r.Repeat) != "null" && !strings.Contains(string(r.Repeat), `"enabled":false`) {
			c.o.note(u.rfile, rp+".repeat", "repeating notifications: not imported")
		}
		for j, st := range r.Steps {
			sp := fmt.Sprintf("%s.steps[%d]", rp, j)
			if st.Enabled != nil && !*st.Enabled {
				continue
			}
			m := ogMethod(st.Contact.Method)
			if m == "" {
				c.o.note(u.rfile, sp, "%s step: no watchdog equivalent", st.Contact.Method)
				continue
			}
			if ou.Contact.get(m) == "" && st.Contact.To != "" {
				ou.Contact.set(m, addr(m, st.Contact.To))
			}
			d, ok := ogDuration(st.SendAfter)
			if !ok || ou.Contact.get(m) == "" {
				c.o.note(u.rfile, sp, "unusable step: skipped")
				continue
			}
			ou.NotificationRules = append(ou.NotificationRules, outRule{After: dur(d), Method: m, after: d})
		}
	}
	ou.NotificationRules = sortRules(ou.NotificationRules)
	if ou.Contact == (outContact{}) {
		c.o.note(u.file, path, "user has no usable contact: skipped")
		return
	}
	c.users[u.Username] = ou.Name
	if u.ID != "" {
		c.users[u.ID] = ou.Name
	}
	c.o.users = append(c.o.users, ou)
}

func ogDuration(a ogAmount) (time.Duration, bool) {
	unit := map[string]time.Duration{"": time.Minute, "minutes": time.Minute, "hours": time.Hour, "days": 24 * time.Hour}[a.TimeUnit]
	if unit == 0 || a.TimeAmount < 0 || a.TimeAmount > 10000 {
		return 0, false
	}
	return time.Duration(a.TimeAmount) * unit, true
}

var ogDays = map[string]int{"monday": 0, "tuesday": 1, "wednesday": 2, "thursday": 3, "friday": 4, "saturday": 5, "sunday": 6}

func (c *ogConv) schedule(s *ogSchedule) {
	path := fmt.Sprintf("schedules[%s]", s.Name)
	if _, dup := c.scheds[s.Name]; dup || s.Name == "" {
		c.o.note(s.file, path, "duplicate or missing schedule name: skipped")
		return
	}
	loc, err := time.LoadLocation(s.Timezone)
	if err != nil || s.Timezone == "" || s.Timezone == "Local" {
		c.o.note(s.file, path+".timezone", "unknown time zone %q: schedule skipped", s.Timezone)
		return
	}
	if s.Rotations == nil {
		c.o.note(s.file, path, "no rotations (export GET /v2/schedules?expand=rotation): schedule skipped")
		return
	}
	if s.Enabled != nil && !*s.Enabled {
		c.o.note(s.file, path, "disabled schedule: imported; policies using it will page its participants")
	}
	if len(s.Rotations) > maxItems {
		c.o.note(s.file, path, "too many rotations: skipped")
		return
	}
	// Everyone on call in any rotation is on call: one schedule per
	// rotation when there are several.
	var names []string
	for i := range s.Rotations {
		r := &s.Rotations[i]
		rp := fmt.Sprintf("%s.rotations[%d]", path, i)
		l, ok := c.rotation(s, r, rp, loc)
		if !ok {
			continue
		}
		name := s.Name
		if len(s.Rotations) > 1 {
			name = s.Name + " " + r.Name
		}
		os := &schedule.Schedule{Name: c.o.name("schedule", name, s.ID), TimeZone: s.Timezone, Layers: []schedule.Layer{l}}
		for j, ov := range s.overrides {
			op := fmt.Sprintf("%s.overrides[%d]", path, j)
			if len(ov.Rotations) > 0 && !slices.ContainsFunc(ov.Rotations, func(x ogRef) bool { return x.ID == r.ID || x.Name == r.Name }) {
				continue
			}
			u, ok := c.userRef(ov.User)
			switch {
			case !ok:
				if i == 0 || len(ov.Rotations) > 0 {
					c.o.note(s.ofile, op+".user", "%s %s%s: not an imported user: override skipped", ov.User.Type, ov.User.Username, ov.User.Name)
				}
			case !ov.EndDate.After(ov.StartDate):
				c.o.note(s.ofile, op, "endDate not after startDate: skipped")
			case !c.opts.Now.IsZero() && !ov.EndDate.After(c.opts.Now):
			default:
				os.Overrides = append(os.Overrides, schedule.Override{User: u, Start: ov.StartDate.In(loc).Format(time.RFC3339), End: ov.EndDate.In(loc).Format(time.RFC3339)})
			}
		}
		if !c.o.addSchedule(s.file, fmt.Sprintf("%s.rotations[%d]", path, i), os) {
			continue
		}
		names = append(names, os.Name)
		c.rotScheds[r.ID] = os.Name
	}
	if len(names) == 0 {
		c.o.note(s.file, path, "no rotation could be imported: schedule skipped")
		return
	}
	c.scheds[s.Name] = names
	if s.ID != "" {
		c.scheds[s.ID] = names
	}
}

func (c *ogConv) rotation(s *ogSchedule, r *ogRotation, rp string, loc *time.Location) (schedule.Layer, bool) {
	if r.EndDate != nil {
		if !c.opts.Now.IsZero() && !r.EndDate.After(c.opts.Now) {
			return schedule.Layer{}, false
		}
		c.o.note(s.file, rp+".endDate", "the rotation ends at %s; the watchdog's layers do not end: remove it then", r.EndDate.Format(time.RFC3339))
	}
	if len(r.Participants) > maxMembers {
		c.o.note(s.file, rp, "more than %d participants: skipped", maxMembers)
		return schedule.Layer{}, false
	}
	rot := rotation{anchor: r.StartDate}
	// A turn of a participant that is not a user (none, a team, an
	// escalation) is covered by the user before it, so that every other
	// turn keeps its time: someone is paged where Opsgenie had nobody or a
	// team, instead of everyone's turns shifting.
	var gaps []int
	for j, p := range r.Participants {
		if p.Type == "user" {
			if n, ok := c.userRef(p); ok {
				rot.members = append(rot.members, n)
				continue
			}
		}
		gaps = append(gaps, j)
		rot.members = append(rot.members, "")
	}
	var ok bool
	if rot.members, ok = fillGaps(rot.members); !ok {
		c.o.note(s.file, rp+".participants", "no participant is an imported user: rotation skipped")
		return schedule.Layer{}, false
	}
	for _, j := range gaps {
		p := r.Participants[j]
		c.o.note(s.file, fmt.Sprintf("%s.participants[%d]", rp, j), "%s participant %s%s: only users take turns in the watchdog; this turn is covered by %s",
			p.Type, p.Username, p.Name, rot.members[j])
	}
	length := max(r.Length, 1)
	switch r.Type {
	case "hourly":
		rot.length = time.Duration(length) * time.Hour
	case "daily":
		rot.days = length
	case "weekly":
		rot.days = 7 * length
	default:
		c.o.note(s.file, rp+".type", "rotation type %q: rotation skipped", r.Type)
		return schedule.Layer{}, false
	}
	if r.Length > 1000 {
		c.o.note(s.file, rp+".length", "length %d: rotation skipped", r.Length)
		return schedule.Layer{}, false
	}
	l, why, ok := rot.layer(c.o.name("layer:"+s.Name, r.Name, "rotation"), loc)
	if !ok {
		c.o.note(s.file, rp, "%s: rotation skipped", why)
		return l, false
	}
	if tr := r.TimeRestriction; tr != nil {
		var ws []window
		hm := func(h, m int) int { return (h*60 + m) % 1440 }
		switch tr.Type {
		case "time-of-day":
			if tr.Restriction == nil {
				break
			}
			x := tr.Restriction
			st, en := hm(x.StartHour, x.StartMin), hm(x.EndHour, x.EndMin)
			ws = append(ws, window{start: st, length: int(floorMod64(int64(en-st-1), 1440)) + 1})
			l.Restrictions = restrictions(ws, true)
		case "weekday-and-time-of-day":
			if len(tr.Restrictions) > maxRestrictions {
				c.o.note(s.file, rp+".timeRestriction", "too many restrictions: rotation skipped")
				return l, false
			}
			for _, x := range tr.Restrictions {
				sd, ok1 := ogDays[strings.ToLower(x.StartDay)]
				ed, ok2 := ogDays[strings.ToLower(x.EndDay)]
				if !ok1 || !ok2 {
					c.o.note(s.file, rp+".timeRestriction", "unknown day %q or %q: rotation skipped", x.StartDay, x.EndDay)
					return l, false
				}
				st, en := sd*1440+hm(x.StartHour, x.StartMin), ed*1440+hm(x.EndHour, x.EndMin)
				ws = append(ws, window{start: st, length: int(floorMod64(int64(en-st-1), 7*1440)) + 1})
			}
			l.Restrictions = restrictions(ws, false)
		default:
			c.o.note(s.file, rp+".timeRestriction", "restriction type %q: rotation skipped", tr.Type)
			return l, false
		}
	}
	return l, true
}

func floorMod64(a, b int64) int64 { return ((a % b) + b) % b }
