package pager

import (
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/vm"
	"github.com/prometheus/prometheus/model/labels"

	"github.com/watchdog-sre/watchdog/pager/schedule"
)

// compiled is what Validate derives from the YAML model.
type compiled struct {
	users     map[string]*User
	policies  map[string]*EscalationPolicy
	schedules schedule.Config
	channels  map[string]*ChannelConfig
	limits    map[string]ChannelLimits // by channel name, defaults filled in
	root      *routeNode
	routes    map[string]*routeNode
	inhibits  []inhibitRule
	// resolveTimeout is resolve_timeout, defaulted.
	resolveTimeout time.Duration
	// urgencyRules and userTimes: see urgency.go.
	urgencyRules []urgencyRule
	userTimes    map[string]userTime
	// reminderCadence is action_item_reminders.cadence, defaulted.
	reminderCadence time.Duration
}

// routeNode is a compiled Route with inherited settings filled in.
type routeNode struct {
	name           string
	matchers       []*labels.Matcher
	cond           *vm.Program
	groupBy        []string
	groupAll       bool // group_by: ["..."]
	groupWait      time.Duration
	groupInterval  time.Duration
	repeatInterval time.Duration
	cont           bool
	policy         string
	channels       []string
	major          bool
	majorPolicies  []string
	urgency        string
	children       []*routeNode
}

type inhibitRule struct {
	source, target []*labels.Matcher
	equal          []string
}

// Validate checks the configuration, resolves every reference (users,
// schedules, policies, channels) and compiles matchers and conditions.
// It returns all problems at once, each a *ConfigError with the line of
// the offending key when the Config came from ParseConfig.
func (c *Config) Validate() error { return c.validate("pager") }

func (c *Config) validate(prefix string) error {
	if c.lines == nil {
		c.lines = map[string]int{}
	}
	p := &problems{c: c}
	cc := &compiled{
		users:    map[string]*User{},
		policies: map[string]*EscalationPolicy{},
		channels: map[string]*ChannelConfig{},
		limits:   map[string]ChannelLimits{},
		routes:   map[string]*routeNode{},
	}
	// Users.
	for i, u := range c.Users {
		path := fmt.Sprintf("%s.users[%d]", prefix, i)
		if u == nil || u.Name == "" {
			p.add(path+".name", "missing")
			continue
		}
		if cc.users[u.Name] != nil {
			p.add(path+".name", "duplicate user %q", u.Name)
		}
		cc.users[u.Name] = u
		if u.TimeZone != "" {
			if _, err := time.LoadLocation(u.TimeZone); err != nil || u.TimeZone == "Local" {
				p.add(path+".time_zone", "unknown time zone %q", u.TimeZone)
			}
		}
		for j, r := range u.NotificationRules {
			rp := fmt.Sprintf("%s.notification_rules[%d]", path, j)
			switch {
			case r.Method == "":
				p.add(rp+".method", "missing")
			case !isMethod(r.Method):
				p.add(rp+".method", "unknown method %q (push, sms, voice, email, slack)", r.Method)
			case u.Contact.Address(r.Method) == "":
				p.add(rp+".method", "user %q has no %s contact", u.Name, r.Method)
			}
			if r.After < 0 {
				p.add(rp+".after", "negative")
			}
			if j > 0 && r.After < u.NotificationRules[j-1].After {
				p.add(rp+".after", "steps must be in order of after")
			}
		}
		if len(u.NotificationRules) == 0 && len(u.rules()) == 0 {
			p.add(path+".contact", "user %q has no contact method", u.Name)
		}
	}
	// Schedules: package schedule reports paths like schedules[primary].x.
	cc.schedules = schedule.Config{Schedules: c.Schedules}
	if err := cc.schedules.Validate(); err != nil {
		for _, e := range unjoin(err) {
			var se *schedule.Error
			if errors.As(e, &se) {
				p.add(prefix+"."+se.Path, "%s", se.Msg)
			} else {
				p.add(prefix+".schedules", "%v", e)
			}
		}
	}
	// Channels.
	for i, ch := range c.Channels {
		path := fmt.Sprintf("%s.channels[%d]", prefix, i)
		if ch == nil {
			p.add(path, "empty channel")
			continue
		}
		for _, e := range ch.errs {
			if e.line > 0 {
				p.errs = append(p.errs, &ConfigError{File: c.file, Line: e.line, Path: path, Msg: e.msg})
			} else {
				p.add(path, "%s", e.msg)
			}
		}
		switch {
		case ch.Name == "":
			p.add(path+".name", "missing")
		case cc.channels[ch.Name] != nil:
			p.add(path+".name", "duplicate channel %q", ch.Name)
		}
		if _, ok := channelTypes[ch.Type]; !ok {
			p.add(path+".type", "unknown channel type %q", ch.Type)
		}
		for field, ref := range ch.Secrets {
			if ref.File != "" && ref.Env != "" {
				p.add(path+"."+field+"_file", "set only one of %s_file and %s_env", field, field)
			}
		}
		lim := compileLimits(ch, func(key, format string, a ...any) { p.add(path+"."+key, format, a...) })
		if ch.Name != "" {
			cc.channels[ch.Name] = ch
			cc.limits[ch.Name] = lim
		}
	}
	if n := c.DeliveryWorkers; n < 0 || n > MaxDeliveryWorkers {
		p.add(prefix+".delivery_workers", "must be from 1 to %d", MaxDeliveryWorkers)
	}
	// Escalation policies.
	for i, pol := range c.EscalationPolicies {
		path := fmt.Sprintf("%s.escalation_policies[%d]", prefix, i)
		if pol == nil || pol.Name == "" {
			p.add(path+".name", "missing")
			continue
		}
		if cc.policies[pol.Name] != nil {
			p.add(path+".name", "duplicate escalation policy %q", pol.Name)
		}
		cc.policies[pol.Name] = pol
		if len(pol.Levels) == 0 {
			p.add(path+".levels", "at least one level is required")
		}
		if pol.Repeat < 0 {
			p.add(path+".repeat", "negative")
		}
		if pol.AckTimeout < 0 {
			p.add(path+".ack_timeout", "negative")
		}
		for j, l := range pol.Levels {
			lp := fmt.Sprintf("%s.levels[%d]", path, j)
			if len(l.Targets) == 0 {
				p.add(lp+".targets", "at least one target is required")
			}
			if l.EscalateAfter <= 0 && (j < len(pol.Levels)-1 || pol.Repeat > 0) {
				p.add(lp+".escalate_after", "must be positive")
			}
			for k, t := range l.Targets {
				tp := fmt.Sprintf("%s.targets[%d]", lp, k)
				kind, name, _ := strings.Cut(t, ":")
				switch kind {
				case "user":
					if cc.users[name] == nil {
						p.add(tp, "unknown user %q", name)
					}
				case "schedule":
					if cc.schedules.Get(name) == nil {
						p.add(tp, "unknown schedule %q", name)
					}
				default:
					p.add(tp, "target %q must be user:NAME or schedule:NAME", t)
				}
			}
		}
	}
	c.validateReminders(p, cc, prefix)
	cc.resolveTimeout = DefaultResolveTimeout
	if d := c.ResolveTimeout; d != nil {
		if *d <= 0 || *d > MaxResolveTimeout {
			p.add(prefix+".resolve_timeout", "must be positive and at most %s", MaxResolveTimeout)
		} else {
			cc.resolveTimeout = *d
		}
	}
	// Routes.
	cc.root = &routeNode{
		name: "root", groupBy: []string{"alertname"},
		groupWait: DefaultGroupWait, groupInterval: DefaultGroupInterval, repeatInterval: DefaultRepeatInterval,
	}
	for i, r := range c.Routes {
		cc.root.children = append(cc.root.children, c.compileRoute(p, cc, r, cc.root, fmt.Sprintf("%s.routes[%d]", prefix, i)))
	}
	// Inhibit rules.
	for i, r := range c.InhibitRules {
		path := fmt.Sprintf("%s.inhibit_rules[%d]", prefix, i)
		if r == nil {
			p.add(path, "empty rule")
			continue
		}
		ir := inhibitRule{
			source: compileMatchers(p, path+".source_matchers", r.SourceMatchers),
			target: compileMatchers(p, path+".target_matchers", r.TargetMatchers),
			equal:  r.Equal,
		}
		if len(r.SourceMatchers) == 0 || len(r.TargetMatchers) == 0 {
			p.add(path, "source_matchers and target_matchers are required")
		}
		cc.inhibits = append(cc.inhibits, ir)
	}
	// War room.
	if w := c.WarRoom; w != nil {
		path := prefix + ".war_room"
		switch ch := cc.channels[w.Channel]; {
		case w.Channel == "":
			p.add(path+".channel", "missing")
		case ch == nil:
			p.add(path+".channel", "unknown channel %q", w.Channel)
		case ch.Type != "slack":
			p.add(path+".channel", "channel %q is of type %s, want slack", w.Channel, ch.Type)
		}
		if u, err := url.Parse(w.BridgeURL); w.BridgeURL == "" {
			p.add(path+".bridge_url", "missing")
		} else if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			p.add(path+".bridge_url", "%q is not an http(s) URL", w.BridgeURL)
		}
	}
	for i, l := range c.ReplicaLabels {
		if !validLabelName(l) || l == "alertname" {
			p.add(fmt.Sprintf("%s.replica_labels[%d]", prefix, i), "%q cannot be a replica label", l)
		}
	}
	c.validateUrgency(p, cc, prefix)
	c.validateSubscribers(p, cc, prefix)
	if len(p.errs) > 0 {
		return errors.Join(p.errs...)
	}
	c.c = cc
	return nil
}

func (c *Config) compileRoute(p *problems, cc *compiled, r *Route, parent *routeNode, path string) *routeNode {
	if r == nil {
		p.add(path, "empty route")
		return &routeNode{name: path}
	}
	n := &routeNode{
		name: r.Name, groupBy: parent.groupBy, groupAll: parent.groupAll,
		groupWait: parent.groupWait, groupInterval: parent.groupInterval, repeatInterval: parent.repeatInterval,
		cont: r.Continue, policy: parent.policy, channels: parent.channels,
		major: parent.major || r.Major, majorPolicies: parent.majorPolicies, urgency: parent.urgency,
	}
	if r.Urgency != "" {
		n.urgency = r.Urgency
		if !isUrgency(r.Urgency) {
			p.add(path+".urgency", "must be high or low, not %q", r.Urgency)
		}
	}
	if n.name == "" {
		_, n.name, _ = strings.Cut(path, ".") // routes[0].routes[1]
	}
	if cc.routes[n.name] != nil {
		p.add(path+".name", "duplicate route name %q", n.name)
	}
	cc.routes[n.name] = n
	n.matchers = compileMatchers(p, path+".matchers", r.Matchers)
	if r.Condition != "" {
		prog, err := expr.Compile(r.Condition, expr.Env(map[string]any{}), expr.AllowUndefinedVariables(), expr.AsBool())
		if err != nil {
			p.add(path+".condition", "%s", firstLine(err.Error()))
		}
		n.cond = prog
	}
	if r.GroupBy != nil {
		n.groupBy, n.groupAll = r.GroupBy, false
		for j, l := range r.GroupBy {
			if l == "..." {
				n.groupAll = true
				if len(r.GroupBy) > 1 {
					p.add(fmt.Sprintf("%s.group_by[%d]", path, j), `"..." must be the only entry`)
				}
			} else if !validLabelName(l) {
				p.add(fmt.Sprintf("%s.group_by[%d]", path, j), "invalid label name %q", l)
			}
		}
	}
	for _, d := range []struct {
		key string
		v   *time.Duration
		dst *time.Duration
	}{{"group_wait", r.GroupWait, &n.groupWait}, {"group_interval", r.GroupInterval, &n.groupInterval}, {"repeat_interval", r.RepeatInterval, &n.repeatInterval}} {
		if d.v == nil {
			continue
		}
		if *d.v < 0 {
			p.add(path+"."+d.key, "negative")
		}
		*d.dst = *d.v
	}
	if r.EscalationPolicy != "" {
		n.policy = r.EscalationPolicy
		if cc.policies[r.EscalationPolicy] == nil {
			p.add(path+".escalation_policy", "unknown escalation policy %q", r.EscalationPolicy)
		}
	}
	if r.Channels != nil {
		n.channels = r.Channels
		for j, name := range r.Channels {
			if cc.channels[name] == nil {
				p.add(fmt.Sprintf("%s.channels[%d]", path, j), "unknown channel %q", name)
			}
		}
	}
	if r.MajorPolicies != nil {
		n.majorPolicies = nil
		for j, name := range r.MajorPolicies {
			jp := fmt.Sprintf("%s.major_policies[%d]", path, j)
			switch {
			case cc.policies[name] == nil:
				p.add(jp, "unknown escalation policy %q", name)
			case slices.Contains(n.majorPolicies, name):
				p.add(jp, "duplicate escalation policy %q", name)
			default:
				n.majorPolicies = append(n.majorPolicies, name)
			}
		}
	}
	for i, child := range r.Routes {
		n.children = append(n.children, c.compileRoute(p, cc, child, n, fmt.Sprintf("%s.routes[%d]", path, i)))
	}
	return n
}

func compileMatchers(p *problems, path string, ms []string) []*labels.Matcher {
	var out []*labels.Matcher
	for i, s := range ms {
		m, err := ParseMatcher(s)
		if err != nil {
			p.add(fmt.Sprintf("%s[%d]", path, i), "%v", err)
			continue
		}
		out = append(out, m)
	}
	return out
}

// rules returns the user's notification rules, or the default: one step at
// 0 by the first method with a contact.
func (u *User) rules() []NotificationRule {
	if len(u.NotificationRules) > 0 {
		return u.NotificationRules
	}
	for _, m := range []string{MethodPush, MethodSMS, MethodVoice, MethodEmail, MethodSlack} {
		if u.Contact.Address(m) != "" {
			return []NotificationRule{{Method: m}}
		}
	}
	return nil
}

func isMethod(m string) bool {
	switch m {
	case MethodPush, MethodSMS, MethodVoice, MethodEmail, MethodSlack:
		return true
	}
	return false
}

func unjoin(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, unjoin(e)...)
		}
		return out
	}
	return []error{err}
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return s
}

// ErrNotValidated is returned (or panicked as a BUG) when a Config that
// did not pass Validate is used.
var ErrNotValidated = errors.New("config not validated")

// User returns the user called name, or nil.
func (c *Config) User(name string) *User {
	if c.c == nil {
		return nil
	}
	return c.c.users[name]
}

// Policy returns the escalation policy called name, or nil.
func (c *Config) Policy(name string) *EscalationPolicy {
	if c.c == nil {
		return nil
	}
	return c.c.policies[name]
}

// Schedule returns the schedule called name, or nil.
func (c *Config) Schedule(name string) *schedule.Schedule {
	if c.c == nil {
		return nil
	}
	return c.c.schedules.Get(name)
}

// majorSettings returns the parallel policies of route (none besides
// primary, which is already paged) and the war room, for an incident that
// becomes major.
func (c *Config) majorSettings(route, primary string) (policies []string, warRoom WarRoom) {
	if c.c == nil {
		return nil, WarRoom{}
	}
	if n := c.c.routes[route]; n != nil {
		for _, name := range n.majorPolicies {
			if name != primary {
				policies = append(policies, name)
			}
		}
	}
	if c.WarRoom != nil {
		warRoom = *c.WarRoom
	}
	return policies, warRoom
}
