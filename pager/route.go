package pager

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/expr-lang/expr"
	"github.com/prometheus/prometheus/model/labels"
)

// ErrMatcher is wrapped by every ParseMatcher error.
var ErrMatcher = errors.New("bad matcher")

// ParseMatcher parses one matcher in Alertmanager syntax: a label name,
// one of = != =~ !~, and a value, quoted ("page", Go escapes) or bare.
// Regular expressions are anchored, as in Prometheus.
func ParseMatcher(s string) (*labels.Matcher, error) {
	in := strings.TrimSpace(s)
	i := 0
	for i < len(in) && (in[i] == '_' || in[i] >= 'a' && in[i] <= 'z' || in[i] >= 'A' && in[i] <= 'Z' || i > 0 && in[i] >= '0' && in[i] <= '9') {
		i++
	}
	name := in[:i]
	if name == "" {
		return nil, fmt.Errorf("%w %q: missing label name", ErrMatcher, s)
	}
	rest := strings.TrimLeft(in[i:], " \t")
	var typ labels.MatchType
	switch {
	case strings.HasPrefix(rest, "=~"):
		typ, rest = labels.MatchRegexp, rest[2:]
	case strings.HasPrefix(rest, "!~"):
		typ, rest = labels.MatchNotRegexp, rest[2:]
	case strings.HasPrefix(rest, "!="):
		typ, rest = labels.MatchNotEqual, rest[2:]
	case strings.HasPrefix(rest, "="):
		typ, rest = labels.MatchEqual, rest[1:]
	default:
		return nil, fmt.Errorf("%w %q: expected =, !=, =~ or !~ after %q", ErrMatcher, s, name)
	}
	rest = strings.TrimSpace(rest)
	val := rest
	if strings.HasPrefix(rest, `"`) {
		v, err := strconv.Unquote(rest)
		if err != nil {
			return nil, fmt.Errorf("%w %q: bad quoted value", ErrMatcher, s)
		}
		val = v
	} else if strings.ContainsAny(rest, "\"'`{},") {
		return nil, fmt.Errorf("%w %q: quote the value", ErrMatcher, s)
	}
	m, err := labels.NewMatcher(typ, name, val)
	if err != nil {
		return nil, fmt.Errorf("%w %q: %v", ErrMatcher, s, err)
	}
	return m, nil
}

func validLabelName(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		if !(r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || i > 0 && r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}

func matchAll(ms []*labels.Matcher, lset map[string]string) bool {
	for _, m := range ms {
		if !m.Matches(lset[m.Name]) {
			return false
		}
	}
	return true
}

// RouteMatch is one route an alert was routed to.
type RouteMatch struct {
	Route            string            // route name
	EscalationPolicy string            // "" when the route pages nobody
	Channels         []string          // external channels to forward to
	GroupLabels      map[string]string // values of the route's group_by labels
	GroupKey         string            // route name + group labels: one open incident per key
	GroupWait        time.Duration
	GroupInterval    time.Duration
	RepeatInterval   time.Duration
	Major            bool // the route opens major incidents
}

// Match returns the routes lset is routed to, Alertmanager style: depth
// first, the first matching child wins unless it has continue: true, and a
// node none of whose children match is itself the match. Alerts that match
// no configured route go to the implicit root (which pages nobody unless
// it is given a policy, which it cannot be), so Match returns nil for them.
func (c *Config) Match(lset map[string]string) []RouteMatch {
	if c.c == nil {
		panic("BUG: pager: Match on a config that did not pass Validate")
	}
	var out []RouteMatch
	for _, n := range c.c.root.children {
		found := n.match(lset, &out)
		if found && !n.cont {
			break
		}
	}
	return out
}

// match appends the matches under n and reports whether n matched.
func (n *routeNode) match(lset map[string]string, out *[]RouteMatch) bool {
	if !matchAll(n.matchers, lset) {
		return false
	}
	if n.cond != nil {
		env := make(map[string]any, len(lset))
		for k, v := range lset {
			env[k] = v
		}
		v, err := expr.Run(n.cond, env)
		if b, ok := v.(bool); err != nil || !ok || !b {
			return false
		}
	}
	matched := false
	for _, child := range n.children {
		if child.match(lset, out) {
			matched = true
			if !child.cont {
				break
			}
		}
	}
	if !matched {
		*out = append(*out, n.result(lset))
	}
	return true
}

func (n *routeNode) result(lset map[string]string) RouteMatch {
	g := map[string]string{}
	if n.groupAll {
		for k, v := range lset {
			g[k] = v
		}
	} else {
		for _, k := range n.groupBy {
			if v, ok := lset[k]; ok && v != "" {
				g[k] = v
			}
		}
	}
	return RouteMatch{
		Route: n.name, EscalationPolicy: n.policy, Channels: n.channels,
		GroupLabels: g, GroupKey: n.name + labels.FromMap(g).String(),
		GroupWait: n.groupWait, GroupInterval: n.groupInterval, RepeatInterval: n.repeatInterval,
		Major: n.major,
	}
}

// route returns the compiled route called name, or nil.
func (c *Config) route(name string) *routeNode {
	if c.c == nil {
		return nil
	}
	return c.c.routes[name]
}

// Fingerprint identifies an alert by its label set (the xxhash of the
// sorted labels, as Prometheus computes it), in hex.
func Fingerprint(lset map[string]string) string {
	return fmt.Sprintf("%016x", labels.FromMap(lset).Hash())
}

// Inhibited reports whether target is muted by one of sources under the
// config's inhibit rules, and by which source fingerprint.
func (c *Config) Inhibited(target map[string]string, sources []map[string]string) (string, bool) {
	if c.c == nil {
		return "", false
	}
	tfp := Fingerprint(target)
	for _, r := range c.c.inhibits {
		if !matchAll(r.target, target) {
			continue
		}
		for _, s := range sources {
			if !matchAll(r.source, s) {
				continue
			}
			sfp := Fingerprint(s)
			if sfp == tfp {
				continue
			}
			if !slices.ContainsFunc(r.equal, func(l string) bool { return s[l] != target[l] }) {
				return sfp, true
			}
		}
	}
	return "", false
}
