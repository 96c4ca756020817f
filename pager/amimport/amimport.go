// Package amimport turns an Alertmanager configuration (alertmanager.yml)
// into the watchdog's `pager:` section: the routing tree becomes routes,
// receivers become channels, inhibit rules stay inhibit rules. What the
// pager has no equivalent for (time intervals, templates, most receiver
// types, HTTP client details) is listed in Result.NotImported, never
// dropped silently; inline secrets are never copied: the output refers to
// files the operator provides (Result.Secrets).
//
// It backs `watchdog pager import-alertmanager`.
package amimport

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/alertmanager/matcher/compat"
	amlabels "github.com/prometheus/alertmanager/pkg/labels"
	"github.com/prometheus/common/model"
	"gopkg.in/yaml.v3"

	"github.com/watchdog-sre/watchdog/internal/yamlnode"
	"github.com/watchdog-sre/watchdog/pager"
)

// ErrInvalid is wrapped by every *Error: the input is not a usable
// Alertmanager configuration.
var ErrInvalid = errors.New("invalid alertmanager config")

type kind struct{}

// Sentinel returns ErrInvalid.
func (kind) Sentinel() error { return ErrInvalid }

// Error is one problem of the input, formatted "file:line: path: message".
type Error = yamlnode.Error[kind]

// Limits on the input, so that a hostile file cannot exhaust memory or CPU.
const (
	MaxInputBytes = 4 << 20
	maxVisits     = 200_000
	maxDepth      = 64
)

// Note is one thing of the input that was not imported (or imported with
// a difference in behaviour), at its line.
type Note struct {
	Line int
	Path string
	Msg  string
}

func (n Note) format(file string) string {
	return fmt.Sprintf("%s:%d: %s: %s", file, n.Line, n.Path, n.Msg)
}

// Secret is a secret the imported config reads from a file the operator
// must provide.
type Secret struct {
	// File is the path written in the output (relative to the watchdog's
	// configuration file unless absolute).
	File string
	// From says where the value was in the input ("inline at
	// alertmanager.yml:12 receivers[ops].pagerduty_configs[0].routing_key"
	// or "file /etc/am/key, as before").
	From string
}

// Result is an imported configuration.
type Result struct {
	// YAML is the output: a comment block (secrets to provide, what was
	// not imported) and a top-level `pager:` section.
	YAML        []byte
	Secrets     []Secret
	NotImported []Note
	// RouteReceivers maps each generated route name to the receiver of
	// the Alertmanager route it came from (inherited or its own).
	RouteReceivers map[string]string
	// ReceiverChannels maps each receiver to the channels it became.
	ReceiverChannels map[string][]string
}

// Report is the human-readable summary for stderr: secrets to provide and
// every note, one a line.
func (r *Result) Report(file string) string {
	var b strings.Builder
	if len(r.Secrets) > 0 {
		fmt.Fprintf(&b, "secrets to provide (%d):\n", len(r.Secrets))
		for _, s := range r.Secrets {
			fmt.Fprintf(&b, "  %s  <- %s\n", s.File, s.From)
		}
	}
	if len(r.NotImported) > 0 {
		fmt.Fprintf(&b, "not imported (%d):\n", len(r.NotImported))
		for _, n := range r.NotImported {
			fmt.Fprintf(&b, "  %s\n", n.format(file))
		}
	}
	return b.String()
}

// Convert imports the Alertmanager configuration data read from file
// (the name is used in messages and notes only). Every problem of the
// input is returned at once, each an *Error with its line.
func Convert(file string, data []byte) (*Result, error) {
	rep := &yamlnode.Report[kind]{File: file}
	if len(data) > MaxInputBytes {
		rep.Add(0, "", "file larger than %d bytes", MaxInputBytes)
		return nil, rep.Err()
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		rep.AddYAMLError(err)
		return nil, rep.Err()
	}
	c := &conv{
		file: file,
		w:    &yamlnode.Walker[kind]{R: rep, MaxVisits: maxVisits, RejectMerge: true},
		res: &Result{
			RouteReceivers:   map[string]string{},
			ReceiverChannels: map[string][]string{},
		},
		receivers:   map[string]*receiver{},
		secretFiles: map[string]bool{},
		channelUsed: map[string]bool{},
		parse:       compat.FallbackMatchersParser(slog.New(slog.NewTextHandler(io.Discard, nil))),
	}
	root := &doc
	if root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
		root = c.w.Enter(root.Content[0])
	}
	if root == nil || root.Kind != yaml.MappingNode {
		rep.Add(1, "", "expected a mapping with route: and receivers:")
		return nil, rep.Err()
	}
	out := c.convert(root)
	if err := rep.Err(); err != nil {
		return nil, err
	}
	c.res.YAML = c.render(out)
	return c.res, nil
}

// conv holds the state of one conversion.
type conv struct {
	file        string
	w           *yamlnode.Walker[kind]
	res         *Result
	global      global
	receivers   map[string]*receiver
	recvOrder   []string
	channels    []*yaml.Node
	channelUsed map[string]bool
	secretFiles map[string]bool
	parse       compat.ParseMatchers
}

// receiver is one receiver of the input with the channels it became.
type receiver struct {
	name     string
	line     int
	channels []string
	used     bool
}

func (c *conv) errf(n *yaml.Node, path, format string, args ...any) {
	c.w.R.Add(n.Line, path, format, args...)
}

func (c *conv) note(n *yaml.Node, path, format string, args ...any) {
	c.res.NotImported = append(c.res.NotImported, Note{Line: n.Line, Path: path, Msg: fmt.Sprintf(format, args...)})
}

// mapping calls fn for every key of mapping n (entered values); it
// reports anything else and duplicate keys.
func (c *conv) mapping(n *yaml.Node, path string, fn func(key string, k, v *yaml.Node, kp string)) {
	if n.Kind != yaml.MappingNode {
		if !yamlnode.IsNull(n) {
			c.errf(n, path, "expected a mapping, got %s", yamlnode.Describe(n))
		}
		return
	}
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := c.w.Enter(n.Content[i])
		v := c.w.Enter(n.Content[i+1])
		if k == nil || v == nil {
			return
		}
		key, ok := c.w.Key(k, path, "a string key", nil, seen)
		if !ok {
			continue
		}
		fn(key, k, v, yamlnode.JoinPath(path, key))
	}
}

func (c *conv) convert(root *yaml.Node) *yaml.Node {
	var routeN, recvN, inhibitN *yaml.Node
	var routeLine int
	c.mapping(root, "", func(key string, k, v *yaml.Node, kp string) {
		switch key {
		case "global":
			c.readGlobal(v, kp)
		case "route":
			routeN, routeLine = v, k.Line
		case "receivers":
			recvN = v
		case "inhibit_rules":
			inhibitN = v
		case "templates":
			c.note(k, kp, "notification templates: the watchdog formats its own messages")
		case "time_intervals", "mute_time_intervals":
			var names []string
			c.w.List(v, kp, func(_ int, e *yaml.Node, ep string) {
				if n := e; n.Kind == yaml.MappingNode {
					for i := 0; i+1 < len(n.Content); i += 2 {
						if n.Content[i].Value == "name" {
							names = append(names, n.Content[i+1].Value)
						}
					}
				}
			})
			c.note(k, kp, "time intervals [%s]: the pager has no time-based muting (use silences or schedules)", strings.Join(names, ", "))
		case "tracing":
			c.note(k, kp, "tracing settings")
		default:
			c.errf(k, "", "unknown key %q", key)
		}
	})
	if recvN == nil {
		c.errf(root, "receivers", "missing")
	} else {
		c.readReceivers(recvN, "receivers")
	}
	out := &yaml.Node{Kind: yaml.MappingNode}
	var routes *yaml.Node
	if routeN == nil {
		c.errf(root, "route", "missing")
	} else {
		routes = c.readRootRoute(routeN, routeLine)
	}
	var inhibits *yaml.Node
	if inhibitN != nil {
		inhibits = c.readInhibits(inhibitN, "inhibit_rules")
	}
	for _, name := range c.recvOrder {
		if r := c.receivers[name]; !r.used {
			c.res.NotImported = append(c.res.NotImported, Note{Line: r.line, Path: "receivers[" + name + "]",
				Msg: "not used by any route (its channels are still defined)"})
		}
	}
	if len(c.channels) > 0 {
		set(out, "channels", &yaml.Node{Kind: yaml.SequenceNode, Content: c.channels})
	}
	if routes != nil {
		set(out, "routes", routes)
	}
	if inhibits != nil && len(inhibits.Content) > 0 {
		set(out, "inhibit_rules", inhibits)
	}
	slices.SortStableFunc(c.res.NotImported, func(a, b Note) int { return a.Line - b.Line })
	return out
}

// readRootRoute converts the root route into the single top-level route
// "root" that matches every alert, so that alerts no child takes go to
// the root's receiver, as in Alertmanager.
func (c *conv) readRootRoute(n *yaml.Node, line int) *yaml.Node {
	if n.Kind != yaml.MappingNode {
		c.errf(n, "route", "expected a mapping, got %s", yamlnode.Describe(n))
		return nil
	}
	hasRecv, hasGroupBy := false, false
	for i := 0; i+1 < len(n.Content); i += 2 {
		switch n.Content[i].Value {
		case "receiver":
			hasRecv = true
		case "group_by":
			hasGroupBy = true
		case "match", "match_re", "matchers":
			c.errf(n.Content[i], "route."+n.Content[i].Value, "the root route must not have matchers")
		}
	}
	if !hasRecv {
		c.errf(&yaml.Node{Line: line}, "route.receiver", "the root route needs a default receiver")
	}
	r := c.readRoute(n, "route", "root", "", 0)
	if r == nil {
		return nil
	}
	if !hasGroupBy {
		// Alertmanager's root groups by nothing unless told; the pager's
		// implicit root groups by alertname.
		r.Content = slices.Insert(r.Content, 2, str("group_by"), flowSeq())
	}
	return &yaml.Node{Kind: yaml.SequenceNode, Content: []*yaml.Node{r}}
}

// readRoute converts one route and its children; recv is the inherited
// receiver.
func (c *conv) readRoute(n *yaml.Node, path, name, recv string, depth int) *yaml.Node {
	if depth > maxDepth {
		c.errf(n, path, "routes nested deeper than %d", maxDepth)
		return nil
	}
	if n.Kind != yaml.MappingNode {
		c.errf(n, path, "expected a mapping, got %s", yamlnode.Describe(n))
		return nil
	}
	var rt route
	var childN *yaml.Node
	var childPath string
	c.mapping(n, path, func(key string, k, v *yaml.Node, kp string) {
		switch key {
		case "receiver":
			rn := c.w.Str(v, kp)
			if rn == "" {
				return // inherited, as in Alertmanager
			}
			r := c.receivers[rn]
			if r == nil {
				c.errf(v, kp, "undefined receiver %q", rn)
				return
			}
			r.used = true
			recv = rn
			rt.channels = flowSeq(r.channels...)
		case "group_by":
			rt.groupBy = c.readGroupBy(v, kp)
		case "match":
			c.mapping(v, kp, func(ln string, _, lv *yaml.Node, lp string) {
				if m := c.matcher(lv, lp, amlabels.MatchEqual, ln, c.w.Str(lv, lp)); m != nil {
					rt.matchers = append(rt.matchers, m)
				}
			})
		case "match_re":
			c.mapping(v, kp, func(ln string, _, lv *yaml.Node, lp string) {
				if m := c.matcher(lv, lp, amlabels.MatchRegexp, ln, c.w.Str(lv, lp)); m != nil {
					rt.matchers = append(rt.matchers, m)
				}
			})
		case "matchers":
			rt.matchers = append(rt.matchers, c.readMatchers(v, kp)...)
		case "continue":
			if rt.cont = c.readBool(v, kp); rt.cont && depth == 0 {
				c.errf(v, kp, "cannot have continue in the root route")
			}
		case "group_wait", "group_interval", "repeat_interval":
			i := slices.Index([]string{"group_wait", "group_interval", "repeat_interval"}, key)
			if d, ok := c.w.Duration(v, kp, "30s, 5m or 4h"); ok {
				if d == 0 && key != "group_wait" {
					c.errf(v, kp, "%s cannot be zero", key)
					return
				}
				rt.durations[i] = str(formatDuration(d))
			}
		case "mute_time_intervals", "active_time_intervals":
			c.note(k, kp, "time intervals %s: the route is imported without them (it notifies at all times)", flowText(v))
		case "labels":
			c.note(k, kp, "route labels (used by notification templates)")
		case "routes":
			childN, childPath = v, kp
		default:
			c.errf(k, path, "unknown key %q", key)
		}
	})
	if childN != nil {
		c.w.List(childN, childPath, func(i int, e *yaml.Node, ep string) {
			if ch := c.readRoute(e, ep, fmt.Sprintf("%s/%d", name, i), recv, depth+1); ch != nil {
				rt.children = append(rt.children, ch)
			}
		})
	}
	c.res.RouteReceivers[name] = recv
	return c.renderRoute(n, path, name, &rt)
}

// route is what readRoute found, rendered by renderRoute.
type route struct {
	matchers          []*amlabels.Matcher
	groupBy, channels *yaml.Node
	cont              bool
	durations         [3]*yaml.Node // group_wait, group_interval, repeat_interval
	children          []*yaml.Node
}

func (c *conv) renderRoute(n *yaml.Node, path, name string, rt *route) *yaml.Node {
	out := &yaml.Node{Kind: yaml.MappingNode}
	set(out, "name", str(name))
	if len(rt.matchers) > 0 {
		slices.SortStableFunc(rt.matchers, func(a, b *amlabels.Matcher) int {
			if a.Name != b.Name {
				return strings.Compare(a.Name, b.Name)
			}
			return strings.Compare(a.String(), b.String())
		})
		ms := make([]string, len(rt.matchers))
		for i, m := range rt.matchers {
			ms[i] = m.String()
		}
		c.checkPagerMatchers(n, path, rt.matchers)
		set(out, "matchers", flowSeq(ms...))
	}
	if rt.groupBy != nil {
		set(out, "group_by", rt.groupBy)
	}
	for i, key := range []string{"group_wait", "group_interval", "repeat_interval"} {
		if rt.durations[i] != nil {
			set(out, key, rt.durations[i])
		}
	}
	if rt.cont {
		set(out, "continue", &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!bool", Value: "true"})
	}
	if rt.channels != nil {
		set(out, "channels", rt.channels)
	}
	if len(rt.children) > 0 {
		set(out, "routes", &yaml.Node{Kind: yaml.SequenceNode, Content: rt.children})
	}
	return out
}

func (c *conv) readGroupBy(v *yaml.Node, path string) *yaml.Node {
	var labels []string
	seen := map[string]bool{}
	c.w.List(v, path, func(_ int, e *yaml.Node, ep string) {
		l := c.w.Str(e, ep)
		switch {
		case l == "...":
		case !model.LegacyValidation.IsValidLabelName(l):
			c.errf(e, ep, "invalid label name %q", l)
			return
		case seen[l]:
			c.errf(e, ep, "duplicated label %q", l)
			return
		}
		seen[l] = true
		labels = append(labels, l)
	})
	if seen["..."] && len(labels) > 1 {
		c.errf(v, path, "cannot have wildcard group_by (`...`) and other labels at the same time")
	}
	return flowSeq(labels...)
}

func (c *conv) matcher(n *yaml.Node, path string, t amlabels.MatchType, name, value string) *amlabels.Matcher {
	if yamlnode.IsNull(n) {
		c.errf(n, path, "missing value")
		return nil
	}
	if !model.LegacyValidation.IsValidLabelName(name) {
		c.errf(n, path, "invalid label name %q", name)
		return nil
	}
	m, err := amlabels.NewMatcher(t, name, value)
	if err != nil {
		c.errf(n, path, "bad regular expression: %v", err)
		return nil
	}
	return m
}

// readMatchers parses a matchers list as Alertmanager does (the UTF-8
// parser, falling back to the classic one); each entry may hold several
// comma-separated matchers.
func (c *conv) readMatchers(v *yaml.Node, path string) []*amlabels.Matcher {
	var out []*amlabels.Matcher
	c.w.List(v, path, func(_ int, e *yaml.Node, ep string) {
		s := c.w.Str(e, ep)
		ms, err := c.parse(s, ep)
		if err != nil {
			c.errf(e, ep, "bad matcher %q: %v", s, err)
			return
		}
		out = append(out, ms...)
	})
	return out
}

func (c *conv) readBool(v *yaml.Node, path string) bool {
	var b bool
	if v.Kind != yaml.ScalarNode || v.Decode(&b) != nil {
		c.errf(v, path, "expected true or false, got %s", yamlnode.Describe(v))
	}
	return b
}

func (c *conv) readInhibits(v *yaml.Node, path string) *yaml.Node {
	out := &yaml.Node{Kind: yaml.SequenceNode}
	c.w.List(v, path, func(_ int, e *yaml.Node, ep string) {
		var src, tgt []*amlabels.Matcher
		var equal *yaml.Node
		c.mapping(e, ep, func(key string, k, v *yaml.Node, kp string) {
			side := &src
			if strings.HasPrefix(key, "target_") {
				side = &tgt
			}
			switch key {
			case "source_match", "target_match":
				c.mapping(v, kp, func(ln string, _, lv *yaml.Node, lp string) {
					if m := c.matcher(lv, lp, amlabels.MatchEqual, ln, c.w.Str(lv, lp)); m != nil {
						*side = append(*side, m)
					}
				})
			case "source_match_re", "target_match_re":
				c.mapping(v, kp, func(ln string, _, lv *yaml.Node, lp string) {
					if m := c.matcher(lv, lp, amlabels.MatchRegexp, ln, c.w.Str(lv, lp)); m != nil {
						*side = append(*side, m)
					}
				})
			case "source_matchers", "target_matchers":
				*side = append(*side, c.readMatchers(v, kp)...)
			case "equal":
				var ls []string
				c.w.List(v, kp, func(_ int, e *yaml.Node, lp string) {
					l := c.w.Str(e, lp)
					if !model.LegacyValidation.IsValidLabelName(l) {
						c.errf(e, lp, "invalid label name %q", l)
					}
					ls = append(ls, l)
				})
				equal = flowSeq(ls...)
			case "name":
				c.note(k, kp, "inhibit rule names")
			default:
				c.errf(k, ep, "unknown key %q", key)
			}
		})
		c.checkPagerMatchers(e, ep, append(slices.Clip(src), tgt...))
		r := &yaml.Node{Kind: yaml.MappingNode}
		set(r, "source_matchers", matcherSeq(src))
		set(r, "target_matchers", matcherSeq(tgt))
		if equal != nil && len(equal.Content) > 0 {
			set(r, "equal", equal)
		}
		out.Content = append(out.Content, r)
	})
	return out
}

// checkPagerMatchers makes sure the pager reads each matcher as written
// back, with the same meaning; the input's line is given otherwise.
func (c *conv) checkPagerMatchers(n *yaml.Node, path string, ms []*amlabels.Matcher) {
	for _, m := range ms {
		pm, err := pager.ParseMatcher(m.String())
		if err != nil {
			c.errf(n, path, "the pager cannot read the matcher %s: %v", m, err)
			continue
		}
		if pm.Name != m.Name || pm.Value != m.Value || pm.Type.String() != m.Type.String() {
			c.errf(n, path, "the pager reads the matcher %s as %s", m, pm)
		}
	}
}

// matcherSeq renders matchers sorted; none (which matches every alert in
// Alertmanager) becomes alertname=~".*", since the pager requires one.
func matcherSeq(ms []*amlabels.Matcher) *yaml.Node {
	if len(ms) == 0 {
		return flowSeq(`alertname=~".*"`)
	}
	s := make([]string, len(ms))
	for i, m := range ms {
		s[i] = m.String()
	}
	slices.Sort(s)
	return flowSeq(s...)
}

// formatDuration writes d in the shortest form time.ParseDuration and
// Prometheus both read: 30s, 5m, 4h, 1h30m, 500ms.
func formatDuration(d time.Duration) string {
	if d == 0 {
		return "0s"
	}
	var b strings.Builder
	for _, u := range []struct {
		d time.Duration
		s string
	}{{time.Hour, "h"}, {time.Minute, "m"}, {time.Second, "s"}, {time.Millisecond, "ms"}} {
		if q := d / u.d; q > 0 {
			fmt.Fprintf(&b, "%d%s", q, u.s)
			d -= q * u.d
		}
	}
	return b.String()
}
