package provimport

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"
)

// escalation maps an Opsgenie escalation to an escalation policy.
func (c *ogConv) escalation(e *ogEscalation) {
	path := fmt.Sprintf("escalations[%s]", e.Name)
	if _, dup := c.policies[e.Name]; dup || e.Name == "" {
		c.o.note(e.file, path, "duplicate or missing escalation name: skipped")
		return
	}
	if len(e.Rules) > maxItems {
		c.o.note(e.file, path, "too many rules: skipped")
		return
	}
	type lvl struct {
		delay   time.Duration
		targets []string
	}
	var lvls []lvl
	idx := make([]int, len(e.Rules))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int {
		da, _ := ogDuration(e.Rules[a].Delay)
		db, _ := ogDuration(e.Rules[b].Delay)
		return int(da - db)
	})
	for _, i := range idx {
		r := e.Rules[i]
		rp := fmt.Sprintf("%s.rules[%d]", path, i)
		d, ok := ogDuration(r.Delay)
		if !ok {
			c.o.note(e.file, rp+".delay", "unusable delay: rule skipped")
			continue
		}
		if r.Condition == "if-not-closed" {
			c.o.note(e.file, rp+".condition", "if-not-closed: the watchdog stops escalating when the incident is acknowledged")
		}
		var targets []string
		switch r.Recipient.Type {
		case "user":
			if n, ok := c.userRef(r.Recipient); ok {
				targets = append(targets, "user:"+n)
			}
		case "schedule":
			if r.NotifyType != "" && r.NotifyType != "default" {
				c.o.note(e.file, rp+".notifyType", "%s: the watchdog pages who is on call now", r.NotifyType)
			}
			for _, key := range []string{r.Recipient.ID, r.Recipient.Name} {
				if ns, ok := c.scheds[key]; ok && key != "" {
					for _, n := range ns {
						targets = append(targets, "schedule:"+n)
					}
					break
				}
			}
		}
		if len(targets) == 0 {
			c.o.note(e.file, rp+".recipient", "%s %s%s%s: not imported (a team recipient goes through the team's routing; or unknown)", r.Recipient.Type, r.Recipient.Name, r.Recipient.Username, r.Recipient.ID)
			continue
		}
		if n := len(lvls); n > 0 && lvls[n-1].delay == d {
			lvls[n-1].targets = append(lvls[n-1].targets, targets...)
			continue
		}
		lvls = append(lvls, lvl{d, targets})
	}
	if len(lvls) == 0 {
		c.o.note(e.file, path, "no rule left: escalation skipped")
		return
	}
	if lvls[0].delay > 0 {
		c.o.note(e.file, path+".rules", "the first rule waits %s; the watchdog pages the first level at once", dur(lvls[0].delay))
	}
	op := &outPolicy{Name: c.o.name("policy", e.Name, e.ID)}
	last := 5 * time.Minute
	if rp := e.Repeat; rp != nil && rp.Count > 0 {
		op.Repeat = min(rp.Count, 100)
		if rp.WaitInterval > 0 {
			last = time.Duration(rp.WaitInterval) * time.Minute
		}
		if rp.CloseAlertAfterAll {
			c.o.note(e.file, path+".repeat.closeAlertAfterAll", "the watchdog never closes an incident by itself")
		}
	}
	for i, l := range lvls {
		after := last
		if i+1 < len(lvls) {
			after = lvls[i+1].delay - l.delay
		}
		op.Levels = append(op.Levels, outLevel{Targets: slices.Compact(l.targets), EscalateAfter: dur(after)})
	}
	c.policies[e.Name] = op.Name
	if e.ID != "" {
		c.policies[e.ID] = op.Name
	}
	c.o.policies = append(c.o.policies, op)
}

var labelNameRE = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)

// amQuote quotes a matcher value for Alertmanager's matcher syntax.
func amQuote(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(s) + `"`
}

// ogMatcher maps one condition to a matcher, or says why not.
func ogMatcher(field, key, op, val string, not bool) (string, string) {
	if field != "extra-properties" {
		return "", fmt.Sprintf("condition on %s: only extra-properties (alert labels) map to matchers", field)
	}
	if !labelNameRE.MatchString(key) {
		return "", fmt.Sprintf("extra property %q is not a label name", key)
	}
	eq, re := "=", "=~"
	if not {
		eq, re = "!=", "!~"
	}
	q := regexp.QuoteMeta(val)
	switch op {
	case "equals":
		return key + eq + amQuote(val), ""
	case "is-empty":
		return key + eq + `""`, ""
	case "contains":
		return key + re + amQuote(".*"+q+".*"), ""
	case "starts-with":
		return key + re + amQuote(q+".*"), ""
	case "ends-with":
		return key + re + amQuote(".*"+q), ""
	case "matches":
		if _, err := regexp.Compile(val); err != nil {
			return "", fmt.Sprintf("regular expression %q: %v", val, err)
		}
		return key + re + amQuote(val), ""
	}
	return "", fmt.Sprintf("operation %s: no matcher equivalent", op)
}

func (c *ogConv) team(t *ogTeam) {
	if len(t.rules) == 0 {
		return
	}
	path := fmt.Sprintf("teams[%s].routing_rules", t.Name)
	parent := &outRoute{Name: c.o.name("route", "team "+t.Name), Matchers: []string{"team=" + amQuote(t.Name)}}
	rules := slices.Clone(t.rules)
	slices.SortStableFunc(rules, func(a, b ogRoutingRule) int { return a.Order - b.Order })
	for i, r := range rules {
		rp := fmt.Sprintf("%s[%s]", path, r.Name)
		if len(r.TimeRestriction) > 0 && string(r.TimeRestriction) != "null" {
			c.o.note(t.rfile, rp+".timeRestriction", "routes have no time conditions: rule skipped (its alerts go to the next rule)")
			continue
		}
		pol := ""
		switch r.Notify.Type {
		case "escalation":
			p, ok := c.policies[r.Notify.ID]
			if !ok {
				p, ok = c.policies[r.Notify.Name]
			}
			if !ok {
				c.o.note(t.rfile, rp+".notify", "escalation %s not imported: rule skipped", r.Notify.Name)
				continue
			}
			pol = p
		case "schedule":
			p, ok := c.schedulePolicy(r.Notify)
			if !ok {
				c.o.note(t.rfile, rp+".notify", "schedule %s not imported: rule skipped", r.Notify.Name)
				continue
			}
			pol = p
		case "none":
		default:
			c.o.note(t.rfile, rp+".notify", "notify %q: rule skipped", r.Notify.Type)
			continue
		}
		var sets [][]string
		crit := ogCriteria{Type: "match-all"}
		if r.Criteria != nil {
			crit = *r.Criteria
		}
		switch crit.Type {
		case "match-all", "":
			sets = [][]string{nil}
		case "match-all-conditions", "match-any-condition":
			var ms []string
			bad := false
			for j, cd := range crit.Conditions {
				m, why := ogMatcher(cd.Field, cd.Key, cd.Operation, cd.ExpectedValue, cd.Not)
				if why != "" {
					c.o.note(t.rfile, fmt.Sprintf("%s.criteria.conditions[%d]", rp, j), "%s", why)
					bad = true
					continue
				}
				ms = append(ms, m)
			}
			if crit.Type == "match-all-conditions" {
				if bad || len(ms) == 0 {
					c.o.note(t.rfile, rp, "not every condition maps to a matcher: rule skipped (its alerts go to the next rule)")
					continue
				}
				sets = [][]string{ms}
			} else {
				for _, m := range ms {
					sets = append(sets, []string{m})
				}
				if len(sets) == 0 {
					c.o.note(t.rfile, rp, "no condition maps to a matcher: rule skipped")
					continue
				}
			}
		default:
			c.o.note(t.rfile, rp+".criteria", "criteria %q: rule skipped", crit.Type)
			continue
		}
		for _, ms := range sets {
			parent.Routes = append(parent.Routes, &outRoute{Name: c.o.name("route", t.Name+" "+r.Name, fmt.Sprintf("rule-%d", i)), Matchers: ms, EscalationPolicy: pol})
		}
	}
	if len(parent.Routes) > 0 {
		c.o.routes = append(c.o.routes, parent)
	}
}

// schedulePolicy returns a generated policy paging a schedule's on-call
// people, for routing rules that notify a schedule.
func (c *ogConv) schedulePolicy(ref ogRef) (string, bool) {
	names, ok := c.scheds[ref.ID]
	if !ok || ref.ID == "" {
		names, ok = c.scheds[ref.Name]
	}
	if !ok {
		return "", false
	}
	if c.schedPols == nil {
		c.schedPols = map[string]string{}
	}
	if p, ok := c.schedPols[names[0]]; ok {
		return p, true
	}
	var targets []string
	for _, n := range names {
		targets = append(targets, "schedule:"+n)
	}
	p := &outPolicy{Name: c.o.name("policy", ref.Name+" on call"), Levels: []outLevel{{Targets: targets, EscalateAfter: "5m"}}}
	c.o.policies = append(c.o.policies, p)
	c.schedPols[names[0]] = p.Name
	return p.Name, true
}
