package pager

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/expr-lang/expr/vm"
	amparse "github.com/prometheus/alertmanager/matcher/parse"
	amlabels "github.com/prometheus/alertmanager/pkg/labels"
	"github.com/prometheus/prometheus/model/labels"
)

// ErrMatcher is wrapped by every ParseMatcher error.
var ErrMatcher = errors.New("bad matcher")

// maxMatcherBytes bounds one matcher's text (its regular expression is
// compiled).
const maxMatcherBytes = 16 << 10

// ParseMatcher parses one matcher as Alertmanager does by default (its
// "fallback" mode, matcher/compat): the UTF-8 matcher grammar of
// matcher/parse (`foo="bar"`, `foo=bar`, quoted UTF-8 label names, the
// operators = != =~ !~), falling back to the classic pkg/labels parser
// for input only that one accepts or when the two disagree. Braces are
// refused (one matcher, not a set). Regular expressions are anchored, as
// in Prometheus.
func ParseMatcher(s string) (*labels.Matcher, error) {
	if len(s) > maxMatcherBytes {
		return nil, fmt.Errorf("%w: %d bytes, at most %d", ErrMatcher, len(s), maxMatcherBytes)
	}
	if strings.HasPrefix(s, "{") || strings.HasSuffix(s, "}") {
		return nil, fmt.Errorf("%w %q: unexpected open or close brace", ErrMatcher, s)
	}
	m, err := amparse.Matcher(s)
	cm, cerr := amlabels.ParseMatcher(s)
	switch {
	case err != nil && cerr != nil:
		return nil, fmt.Errorf("%w %q: %v", ErrMatcher, s, cerr)
	case err != nil, !sameMatcher(m, cm):
		m = cm
	}
	var typ labels.MatchType
	switch m.Type {
	case amlabels.MatchEqual:
		typ = labels.MatchEqual
	case amlabels.MatchNotEqual:
		typ = labels.MatchNotEqual
	case amlabels.MatchRegexp:
		typ = labels.MatchRegexp
	case amlabels.MatchNotRegexp:
		typ = labels.MatchNotRegexp
	default:
		return nil, fmt.Errorf("%w %q: unknown match type %v", ErrMatcher, s, m.Type)
	}
	lm, err := labels.NewMatcher(typ, m.Name, m.Value)
	if err != nil {
		return nil, fmt.Errorf("%w %q: %v", ErrMatcher, s, err)
	}
	return lm, nil
}

// FormatMatcher prints m so that ParseMatcher (and Alertmanager, with either
// of its parsers) reads it back unchanged: a label name that is not a
// classic one is quoted, the value is quoted with OpenMetrics escapes
// (\\, \", \n), which both of Alertmanager's parsers read alike.
func FormatMatcher(m *labels.Matcher) string {
	name := m.Name
	if !validLabelName(name) {
		name = strconv.Quote(name)
	}
	return name + m.Type.String() + `"` + omEscaper.Replace(m.Value) + `"`
}

var omEscaper = strings.NewReplacer(`\`, `\\`, "\n", `\n`, `"`, `\"`)

// sameMatcher reports whether the classic parser's result (nil when it
// failed) equals m.
func sameMatcher(m, classic *amlabels.Matcher) bool {
	return classic == nil || m.Type == classic.Type && m.Name == classic.Name && m.Value == classic.Value
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
	// Urgency is the route's urgency or, when it sets none, that of the
	// urgency_rules for the matched labels (UrgencyHigh by default).
	Urgency string
}

// Match returns the routes lset is routed to, Alertmanager style: depth
// first, the first matching child wins unless it has continue: true, and a
// node none of whose children match is itself the match. Alerts that match
// no configured route go to the implicit root (which pages nobody unless
// it is given a policy, which it cannot be), so Match returns nil for them.
// Route conditions run on a reused expression VM; Match is safe for
// concurrent use.
func (c *Config) Match(lset map[string]string) []RouteMatch {
	if c.c == nil {
		panic("BUG: pager: Match on a config that did not pass Validate")
	}
	ev := condEvals.Get().(*condEval)
	defer ev.release()
	var out []RouteMatch
	for _, n := range c.c.root.children {
		found := n.match(ev, lset, &out)
		if found && !n.cont {
			break
		}
	}
	for i := range out {
		if out[i].Urgency == "" {
			out[i].Urgency = c.urgencyOf(lset)
		}
	}
	return out
}

// condEval runs route conditions (programs compiled once by Validate) for
// one goroutine at a time: one expr VM, whose stacks are reused from run to
// run, and one environment map, filled once per alert on the first
// condition met. condEvals hands one to each goroutine in Match.
type condEval struct {
	vm     vm.VM
	env    map[string]any
	filled bool
}

var condEvals = sync.Pool{New: func() any { return &condEval{env: map[string]any{}} }}

// maxPooledEnv bounds the environment map kept in the pool, so one alert
// with very many labels does not pin a large map.
const maxPooledEnv = 256

// run reports whether prog is true for lset.
func (e *condEval) run(prog *vm.Program, lset map[string]string) bool {
	if !e.filled {
		for k, v := range lset {
			e.env[k] = v
		}
		e.filled = true
	}
	v, err := e.vm.Run(prog, e.env)
	b, ok := v.(bool)
	return err == nil && ok && b
}

// release empties e (dropping the alert's strings) and returns it to the pool.
func (e *condEval) release() {
	if len(e.env) > maxPooledEnv {
		e.env = map[string]any{}
	} else {
		clear(e.env)
	}
	e.filled = false
	condEvals.Put(e)
}

// match appends the matches under n and reports whether n matched.
func (n *routeNode) match(ev *condEval, lset map[string]string, out *[]RouteMatch) bool {
	if !matchAll(n.matchers, lset) {
		return false
	}
	if n.cond != nil && !ev.run(n.cond, lset) {
		return false
	}
	matched := false
	for _, child := range n.children {
		if child.match(ev, lset, out) {
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
		Major: n.major, Urgency: n.urgency,
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
// sorted labels, as Prometheus computes it), in hex: 16 digits.
func Fingerprint(lset map[string]string) string {
	var b [16]byte
	h := labels.FromMap(lset).Hash()
	for i := len(b) - 1; i >= 0; i-- {
		b[i] = hexDigits[h&0xf]
		h >>= 4
	}
	return string(b[:])
}

const hexDigits = "0123456789abcdef"

// Inhibited reports whether target is muted by one of sources under the
// config's inhibit rules, and by which source fingerprint. As in
// Alertmanager, when the target also matches a rule's source side, sources
// that also match its target side cannot mute it (two alerts that each match
// both sides never silence each other).
func (c *Config) Inhibited(target map[string]string, sources []map[string]string) (string, bool) {
	src := make([]inhibitSource, len(sources))
	for i, s := range sources {
		src[i].labels = s
	}
	return c.inhibitedBy(target, "", src)
}

// inhibitSource is a firing alert that may inhibit others: its labels and
// its fingerprint, "" until inhibitedBy needs it (then it is kept there).
type inhibitSource struct {
	labels map[string]string
	fp     string
}

// inhibitedBy is Inhibited of target, whose fingerprint is tfp ("": not
// computed yet), computing each fingerprint at most once: sources keeps
// those it computes for the next call.
func (c *Config) inhibitedBy(target map[string]string, tfp string, sources []inhibitSource) (string, bool) {
	if c.c == nil {
		return "", false
	}
	for _, r := range c.c.inhibits {
		if !matchAll(r.target, target) {
			continue
		}
		twoSided := matchAll(r.source, target)
		for i := range sources {
			s := sources[i].labels
			if !matchAll(r.source, s) || twoSided && matchAll(r.target, s) {
				continue
			}
			if sources[i].fp == "" {
				sources[i].fp = Fingerprint(s)
			}
			if tfp == "" {
				tfp = Fingerprint(target)
			}
			sfp := sources[i].fp
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
