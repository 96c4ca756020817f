// Package pager routes fired alerts to people: it groups alerts into
// incidents, escalates them along escalation policies and on-call schedules
// (push, then SMS, then a phone call, then the next level), stops on
// acknowledge, resolves, and keeps a timeline per incident.
//
// The package has three layers, each usable on its own:
//
//   - Config (this file and validate.go): the `pager:` section of the
//     configuration, parsed from YAML with line numbers and compiled by
//     Validate into an immutable value.
//   - Config.Step (step.go): the escalation state machine, a pure function
//     (incident state, now, event) → (new state, actions).
//   - Pager (pager.go): the runtime around Step: a Store, a clock, a timer
//     heap, and a bounded pool of delivery workers.
//
// Alerts arrive as plain values (Alert, the Alertmanager v2 shape); the
// package knows nothing about rules or metrics storage.
//
// # The watchdog must never fall silent
//
// Reload rule: a reload (Pager.Reload, checked beforehand with
// Pager.CheckReload) that removes or renames an escalation policy, a
// schedule or a user still used by an open incident is refused, with an
// error (wrapping ErrInUse) naming the incidents and what they use.
// Accepted reloads apply to open incidents from their next step: later
// levels resolve their targets in the new config (a removed user is never
// paged again) and timers not fired yet (the next level change, pending
// personal steps of the current level, an ack timeout) are recomputed
// from the new timings, firing at once if already due. A restart with a
// different config is applied the same way, without the refusal.
//
// Invariant: an open, unacknowledged incident always has a next step, or
// its policy is exhausted or waiting at its final level. One that has
// none is "stuck" (IncidentState.Stuck): the gauge
// watchdog_pager_incidents_stuck counts them, an error line names each,
// its timeline says so and the console marks it.
//
// Failures are loud: every failed delivery attempt is logged (channel,
// incident, user, attempt, error) and counted per channel
// (watchdog_pager_channel_{attempts,retries,failures,sent}_total); a
// notification that failed for good brings the user's next method forward
// or, when the whole level failed, escalates at once, on the timeline.
//
// Silences are validated as Alertmanager does (ValidateSilence): one
// matcher at least must not match the empty string, and a silence lasts
// at most Options.MaxSilenceDuration; snoozes end within Options.MaxSnooze.
package pager

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/watchdog-sre/watchdog/internal/yamlnode"
	"github.com/watchdog-sre/watchdog/pager/channel"
	"github.com/watchdog-sre/watchdog/pager/schedule"
)

// ErrConfig is wrapped by every *ConfigError.
var ErrConfig = errors.New("invalid pager config")

// configKind is the yamlnode.Kind of *ConfigError.
type configKind struct{}

// Sentinel returns ErrConfig.
func (configKind) Sentinel() error { return ErrConfig }

// ConfigError is one problem in a configuration file. ParseConfig and
// Validate return all problems at once, joined with errors.Join. It formats
// as "file:line: path: message", and every *ConfigError matches ErrConfig.
type ConfigError = yamlnode.Error[configKind]

// Config is the `pager:` section. Its exported fields are the YAML model;
// Validate checks and compiles it. A validated Config must not be modified
// and may be shared by any number of goroutines.
type Config struct {
	Users              []*User              `yaml:"users"`
	Schedules          []*schedule.Schedule `yaml:"schedules"`
	EscalationPolicies []*EscalationPolicy  `yaml:"escalation_policies"`
	Channels           []*ChannelConfig     `yaml:"channels"`
	// Routes are the children of an implicit root route that matches every
	// alert and carries the defaults (see DefaultGroupWait and friends).
	Routes       []*Route       `yaml:"routes"`
	InhibitRules []*InhibitRule `yaml:"inhibit_rules"`
	// WarRoom is where major incidents are announced; nil for nowhere.
	WarRoom *WarRoom `yaml:"war_room"`
	// ReplicaLabels are the labels that tell the replicas of an HA pair of
	// rule evaluators apart (e.g. external_labels: {replica: a}). They are
	// removed from every received alert before it is routed, grouped and
	// fingerprinted, so both replicas' copies of an alert are one alert of
	// one incident; and while any replica still reports it firing, another
	// replica's resolve does not end it (see Pager.Receive).
	ReplicaLabels []string `yaml:"replica_labels"`
	// DeliveryWorkers bounds the deliveries in flight over all channels
	// (1 to MaxDeliveryWorkers; 0: DefaultDeliveryWorkers); each channel
	// is bounded further by its max_concurrency. Read when the pager
	// starts (a reload does not change it).
	DeliveryWorkers int `yaml:"delivery_workers"`
	// ResolveTimeout is Alertmanager's global.resolve_timeout: an alert
	// received without endsAt (Alert.Timeout) resolves this long after it
	// was last received unless it is sent again. Default
	// DefaultResolveTimeout.
	ResolveTimeout *time.Duration `yaml:"resolve_timeout"`
	// UrgencyRules map alerts to high or low urgency by their labels (see
	// UrgencyRule); a route's urgency takes precedence. Default high.
	UrgencyRules []*UrgencyRule `yaml:"urgency_rules"`
	// ActionItemReminders sets how often the owners of overdue action
	// items are reminded (see ActionItemReminders); nil is the default.
	ActionItemReminders *ActionItemReminders `yaml:"action_item_reminders"`
	// StatusSubscribers configures the status page's subscribers (e-mail
	// sending and limits); nil takes the defaults, without e-mail.
	StatusSubscribers *StatusSubscribers `yaml:"status_subscribers"`

	file  string
	lines map[string]int // key path → line, filled by ParseConfig
	c     *compiled      // set by Validate
}

// Methods a user can be notified by. Each is delivered through the channel
// of the same name (Options.Channels or the config's channels section).
const (
	MethodPush  = "push"
	MethodSMS   = "sms"
	MethodVoice = "voice"
	MethodEmail = "email"
	MethodSlack = "slack"
)

// User is a person who can be paged.
type User struct {
	Name string `yaml:"name"`
	// TimeZone is the user's IANA time zone (optional): e-mails to the user
	// give alert times in it as well as in UTC.
	TimeZone string `yaml:"time_zone"`
	// Contact holds one address per method: an ntfy topic for push, E.164
	// numbers for sms and voice, an e-mail address, a Slack member or
	// channel ID.
	Contact Contact `yaml:"contact"`
	// NotificationRules are the user's personal steps, relative to the
	// moment an escalation level reaches them. Empty means one step at 0
	// by the first method with a contact, in the order of Contact's fields.
	NotificationRules []NotificationRule `yaml:"notification_rules"`
	// LowUrgencyRules are the steps of low urgency incidents (push, email
	// or slack only). Empty means the quiet steps of NotificationRules.
	LowUrgencyRules []NotificationRule `yaml:"low_urgency_notification_rules"`
	// WakingHours ("08:00-22:00", the default) in TimeZone (default UTC):
	// low urgency notifications outside them wait for the next start.
	WakingHours string `yaml:"waking_hours"`
}

// Contact is a user's contact methods.
type Contact struct {
	Push  string `yaml:"push"`
	SMS   string `yaml:"sms"`
	Voice string `yaml:"voice"`
	Email string `yaml:"email"`
	Slack string `yaml:"slack"`
	// SlackUserID is the user's Slack member ID (U…): clicks on the
	// buttons of interactive Slack messages act as this user. Not a
	// method: Slack is notified at Slack.
	SlackUserID string `yaml:"slack_user_id"`
}

// Address returns the contact for method, or "".
func (c Contact) Address(method string) string {
	switch method {
	case MethodPush:
		return c.Push
	case MethodSMS:
		return c.SMS
	case MethodVoice:
		return c.Voice
	case MethodEmail:
		return c.Email
	case MethodSlack:
		return c.Slack
	}
	return ""
}

// NotificationRule is one personal step: notify by Method After the level
// started.
type NotificationRule struct {
	After  time.Duration `yaml:"after"`
	Method string        `yaml:"method"`
}

// EscalationPolicy is an ordered list of levels.
type EscalationPolicy struct {
	Name   string            `yaml:"name"`
	Levels []EscalationLevel `yaml:"levels"`
	// Repeat is how many more times the whole policy runs after the last
	// level when nobody acknowledges (0: once).
	Repeat int `yaml:"repeat"`
	// AckTimeout re-triggers an acknowledged incident after this long
	// (0: never), as PagerDuty does.
	AckTimeout time.Duration `yaml:"ack_timeout"`
	// Major marks incidents of this policy as major, as Route.Major does.
	Major bool `yaml:"major"`
	// EscalateLowUrgency lets low urgency incidents escalate through the
	// levels; by default (as in PagerDuty) they stay at the first level.
	EscalateLowUrgency bool `yaml:"escalate_low_urgency"`
}

// WarRoom is the `war_room:` section: a major incident posts one message
// with BridgeURL to Channel (a slack channel of the channels section) when
// its paging starts or when it is declared major by hand.
type WarRoom struct {
	Channel   string `yaml:"channel"`
	BridgeURL string `yaml:"bridge_url"`
}

// EscalationLevel notifies its targets and escalates to the next level
// after EscalateAfter unless acknowledged.
type EscalationLevel struct {
	// Targets are "user:NAME" or "schedule:NAME".
	Targets       []string      `yaml:"targets"`
	EscalateAfter time.Duration `yaml:"escalate_after"`
}

// Route is a node of the routing tree, as in Alertmanager. Unset fields
// are inherited from the parent.
type Route struct {
	// Name identifies the route in incidents; default its index path.
	Name string `yaml:"name"`
	// Matchers in Alertmanager syntax: severity="page", team=~"shop|web".
	Matchers []string `yaml:"matchers"`
	// Condition is an expr-lang boolean expression over the labels, which
	// are its variables (a missing label is nil, unequal to every string),
	// e.g. `severity == "page" && env != "dev"`. Compiled once by Validate.
	Condition        string         `yaml:"condition"`
	GroupBy          []string       `yaml:"group_by"`
	GroupWait        *time.Duration `yaml:"group_wait"`
	GroupInterval    *time.Duration `yaml:"group_interval"`
	RepeatInterval   *time.Duration `yaml:"repeat_interval"`
	Continue         bool           `yaml:"continue"`
	EscalationPolicy string         `yaml:"escalation_policy"`
	// Channels are names of external channels (channels section) every
	// trigger, acknowledge and resolve is forwarded to.
	Channels []string `yaml:"channels"`
	// Major opens every incident of the route (and its children) as a
	// major incident: MajorPolicies are paged in parallel with
	// EscalationPolicy and the war room is told. The escalation policy's
	// own major flag has the same effect.
	Major bool `yaml:"major"`
	// MajorPolicies are the escalation policies paged in parallel, each
	// with its own levels, when an incident of the route is major (by
	// Major or declared by hand). Inherited when unset.
	MajorPolicies []string `yaml:"major_policies"`
	// Urgency ("high" or "low") of the route's incidents, inherited; it
	// takes precedence over urgency_rules.
	Urgency string   `yaml:"urgency"`
	Routes  []*Route `yaml:"routes"`
}

// InhibitRule mutes alerts matching TargetMatchers while an alert matching
// SourceMatchers fires with the same values of the Equal labels.
type InhibitRule struct {
	SourceMatchers []string `yaml:"source_matchers"`
	TargetMatchers []string `yaml:"target_matchers"`
	Equal          []string `yaml:"equal"`
}

// Defaults of the implicit root route (Alertmanager's).
const (
	DefaultGroupWait      = 30 * time.Second
	DefaultGroupInterval  = 5 * time.Minute
	DefaultRepeatInterval = 4 * time.Hour
	// DefaultResolveTimeout is Alertmanager's default resolve_timeout.
	DefaultResolveTimeout = 5 * time.Minute
	// MaxResolveTimeout bounds resolve_timeout.
	MaxResolveTimeout = 366 * 24 * time.Hour
)

// AlertTimeout returns the configured resolve_timeout.
func (c *Config) AlertTimeout() time.Duration {
	if c.c == nil || c.c.resolveTimeout <= 0 {
		return DefaultResolveTimeout
	}
	return c.c.resolveTimeout
}

// ParseConfig parses a configuration file whose top level has a `pager:`
// key (other top-level keys belong to other sections and are ignored) and
// validates it. All problems are returned at once, each a *ConfigError.
func ParseConfig(file string, data []byte) (*Config, error) {
	// Like yaml.Unmarshal, only the first document counts: the file is
	// either the pager's own or the whole configuration, which refuses more.
	doc := yamlnode.Parse(data)
	if doc.Err != nil {
		return nil, yamlErrors(file, nil, doc.Err)
	}
	var section *yaml.Node
	switch root := doc.Root; {
	case root == nil || yamlnode.IsNull(root):
	case root.Kind == yaml.MappingNode:
		for i := 0; i+1 < len(root.Content); i += 2 {
			if root.Content[i].Value == "pager" {
				section = root.Content[i+1]
			}
		}
	default:
		return nil, &ConfigError{File: file, Line: root.Line, Msg: "top level must be a mapping"}
	}
	if section == nil {
		return nil, &ConfigError{File: file, Line: 1, Path: "pager", Msg: "missing"}
	}
	return ParseConfigNode(file, "pager", section)
}

// ParseConfigNode decodes and validates the pager section given as a YAML
// node, for a loader that has already parsed the whole file. prefix starts
// every error path ("pager").
func ParseConfigNode(file, prefix string, n *yaml.Node) (*Config, error) {
	c := &Config{file: file, lines: map[string]int{}}
	indexLines(n, prefix, c.lines)
	var errs []error
	add := func(line int, path, msg string) {
		errs = append(errs, &ConfigError{File: file, Line: line, Path: path, Msg: msg})
	}
	if n.Kind != yaml.MappingNode && !(n.Kind == yaml.ScalarNode && n.Tag == "!!null") {
		add(n.Line, prefix, "must be a mapping")
		return nil, errors.Join(errs...)
	}
	checkKeys(n, reflect.TypeFor[Config](), prefix, add)
	if err := n.Decode(c); err != nil {
		errs = append(errs, yamlErrors(file, c.lines, err))
	}
	// Validate even after decode errors, so that everything is reported
	// at once; the decoder still fills what it could.
	if err := c.validate(prefix); err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return nil, sortErrors(errs)
	}
	return c, nil
}

// yamlErrors converts an error of the yaml package into ConfigErrors, at
// the line it names and the longest key path on that line.
func yamlErrors(file string, lines map[string]int, err error) error {
	var errs []error
	for _, p := range yamlnode.SplitYAMLError(err) {
		errs = append(errs, &ConfigError{File: file, Line: p.Line, Path: pathAtLine(lines, p.Line), Msg: p.Msg})
	}
	return errors.Join(errs...)
}

// pathAtLine returns the longest key path that starts on line.
func pathAtLine(lines map[string]int, line int) string {
	best := ""
	for p, l := range lines {
		if l == line && (len(p) > len(best) || (len(p) == len(best) && p < best)) {
			best = p
		}
	}
	return best
}

// indexLines records the line of every key path under n. Sequence items
// are indexed by position ("a[0]") and, when they have a scalar name key,
// by name too ("a[primary]"), the form package schedule uses in errors.
func indexLines(n *yaml.Node, path string, lines map[string]int) {
	if _, ok := lines[path]; !ok {
		lines[path] = n.Line
	}
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			p := path + "." + k.Value
			lines[p] = k.Line
			indexLines(v, p, lines)
		}
	case yaml.SequenceNode:
		for i, item := range n.Content {
			indexLines(item, fmt.Sprintf("%s[%d]", path, i), lines)
			if name := mapValue(item, "name"); name != nil && name.Kind == yaml.ScalarNode && name.Value != "" {
				indexLines(item, path+"["+name.Value+"]", lines)
			}
		}
	}
}

// mapValue returns the value of key in mapping node n, or nil.
func mapValue(n *yaml.Node, key string) *yaml.Node {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

// checkKeys reports every mapping key under n that t (a yaml-tagged
// struct, possibly nested in pointers, slices and maps) does not declare;
// the yaml package decodes the values and reports their types. Types with
// their own UnmarshalYAML check themselves.
func checkKeys(n *yaml.Node, t reflect.Type, path string, add func(line int, path, msg string)) {
	yamlnode.UnknownKeys(n, t, path, isDuration, func(line int, path, key string) {
		add(line, path, fmt.Sprintf("unknown key %q", key))
	})
}

func isDuration(t reflect.Type) bool { return t == reflect.TypeFor[time.Duration]() }

// problems collects ConfigErrors, looking lines up by path.
type problems struct {
	c    *Config
	errs []error
}

func (p *problems) add(path, format string, args ...any) {
	p.errs = append(p.errs, &ConfigError{File: p.c.file, Line: p.c.lineOf(path), Path: path, Msg: fmt.Sprintf(format, args...)})
}

// lineOf returns the line of path or of its closest ancestor with one.
func (c *Config) lineOf(path string) int {
	for p := path; p != ""; {
		if l, ok := c.lines[p]; ok {
			return l
		}
		i := strings.LastIndexAny(p, ".[")
		if i <= 0 {
			break
		}
		p = p[:i]
	}
	return 0
}

// ChannelConfig is one external or method channel. Type selects the
// channel package constructor; the remaining keys are that type's Options
// (channel.WebhookOptions, …). Secret fields may not be written inline:
// they come from FIELD_file (a file read at build time, trailing newline
// trimmed) or FIELD_env (an environment variable).
type ChannelConfig struct {
	Name string
	Type string
	// Retry is the delivery retry policy (key "retry").
	Retry channel.RetryPolicy
	// MaxConcurrency bounds the channel's deliveries in flight, retries
	// included (key "max_concurrency", 1 to MaxChannelConcurrency; 0: the
	// type's default, see ChannelDefaults).
	MaxConcurrency int `yaml:"max_concurrency"`
	// RateLimit bounds how many deliveries of the channel start per unit of
	// time, as "N/s", "N/m" or "N/h" (key "rate_limit"; "": the type's
	// default, see ChannelDefaults; "none": no limit). It is a token
	// bucket holding up to N tokens for "N/s" (one for slower rates):
	// bursts up to that size go out at once.
	RateLimit string `yaml:"rate_limit"`
	// Secrets maps a secret field (e.g. "routing_key") to where it lives.
	Secrets map[string]SecretRef

	node *yaml.Node // the type's option keys, decoded by BuildChannels
	line int
	errs []chanErr // problems found while decoding, reported by Validate
}

// SecretRef says where a secret value is read from.
type SecretRef struct {
	File string
	Env  string
}

// channelTypes maps a channel type to its Options type and secret fields.
var channelTypes = map[string]struct {
	opts    reflect.Type
	secrets []string
}{
	"console":   {reflect.TypeFor[channel.ConsoleOptions](), nil},
	"webhook":   {reflect.TypeFor[channel.WebhookOptions](), []string{"url", "bearer_token"}},
	"slack":     {reflect.TypeFor[channel.SlackOptions](), []string{"webhook_url", "signing_secret"}},
	"pagerduty": {reflect.TypeFor[channel.PagerDutyOptions](), []string{"routing_key"}},
	"opsgenie":  {reflect.TypeFor[channel.OpsgenieOptions](), []string{"api_key"}},
	"email":     {reflect.TypeFor[channel.EmailOptions](), []string{"password"}},
	"twilio":    {reflect.TypeFor[channel.TwilioOptions](), []string{"auth_token", "webhook_auth_token"}},
	"ntfy":      {reflect.TypeFor[channel.NtfyOptions](), []string{"token"}},
}

// notSecretInline are secret fields that may also be written inline
// because they are often not secret (a webhook URL on an internal host).
var notSecretInline = map[string]bool{"webhook.url": true}

// UnmarshalYAML splits the node into the generic keys, secret references
// and the type's options, keeping problems for Validate.
func (cc *ChannelConfig) UnmarshalYAML(n *yaml.Node) error {
	cc.line = n.Line
	if n.Kind != yaml.MappingNode {
		cc.errs = append(cc.errs, chanErr{msg: "must be a mapping"})
		return nil
	}
	cc.Name = scalar(mapValue(n, "name"))
	cc.Type = scalar(mapValue(n, "type"))
	ct, known := channelTypes[cc.Type]
	opts := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Line: n.Line, Column: n.Column}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		switch key := k.Value; {
		case key == "type":
		case key == "max_concurrency":
			if err := v.Decode(&cc.MaxConcurrency); err != nil {
				cc.errAt(k.Line, "max_concurrency: must be an integer")
			}
		case key == "rate_limit":
			if v.Kind != yaml.ScalarNode {
				cc.errAt(k.Line, "rate_limit: must be a string like 10/s")
			}
			cc.RateLimit = v.Value
		case key == "retry":
			if err := v.Decode(&cc.Retry); err != nil {
				cc.errAt(k.Line, "retry: "+err.Error())
			}
			checkKeys(v, reflect.TypeFor[channel.RetryPolicy](), "", func(line int, _, msg string) {
				cc.errAt(line, "retry: "+msg)
			})
		case known && (strings.HasSuffix(key, "_file") || strings.HasSuffix(key, "_env")):
			base, kind, _ := cutLast(key, "_")
			if !slices.Contains(ct.secrets, base) {
				cc.errAt(k.Line, fmt.Sprintf("unknown key %q (%s is not a secret field of %s)", key, base, cc.Type))
				continue
			}
			if cc.Secrets == nil {
				cc.Secrets = map[string]SecretRef{}
			}
			ref := cc.Secrets[base]
			if kind == "file" {
				ref.File = v.Value
			} else {
				ref.Env = v.Value
			}
			cc.Secrets[base] = ref
		case known && slices.Contains(ct.secrets, key) && !notSecretInline[cc.Type+"."+key]:
			cc.errAt(k.Line, fmt.Sprintf("%s is a secret: use %s_file or %s_env", key, key, key))
		default:
			opts.Content = append(opts.Content, k, v)
		}
	}
	if known {
		checkKeys(opts, ct.opts, "", func(line int, _, msg string) {
			cc.errAt(line, msg)
		})
		dst := reflect.New(ct.opts)
		if err := opts.Decode(dst.Interface()); err != nil {
			cc.errs = append(cc.errs, chanErr{msg: err.Error()})
		}
	}
	cc.node = opts
	return nil
}

// chanErr is a problem of a channel found while decoding: at line, or at
// the channel's own line when line is 0.
type chanErr struct {
	line int
	msg  string
}

// errAt records a problem at line. A message of several lines (the yaml
// package's) is kept whole at the channel's line, its own line in front.
func (cc *ChannelConfig) errAt(line int, msg string) {
	if strings.Contains(msg, "\n") {
		cc.errs = append(cc.errs, chanErr{msg: fmt.Sprintf("line %d: %s", line, msg)})
		return
	}
	cc.errs = append(cc.errs, chanErr{line: line, msg: msg})
}

func scalar(n *yaml.Node) string {
	if n == nil || n.Kind != yaml.ScalarNode {
		return ""
	}
	return n.Value
}

func cutLast(s, sep string) (before, after string, ok bool) {
	i := strings.LastIndex(s, sep)
	if i < 0 {
		return s, "", false
	}
	return s[:i], s[i+len(sep):], true
}

// sortErrors flattens joined errors and orders them by line.
func sortErrors(errs []error) error {
	var flat []error
	for _, e := range errs {
		flat = append(flat, unjoin(e)...)
	}
	line := func(e error) int {
		var ce *ConfigError
		if errors.As(e, &ce) {
			return ce.Line
		}
		return 0
	}
	slices.SortStableFunc(flat, func(a, b error) int { return line(a) - line(b) })
	return errors.Join(flat...)
}
