package pager

import (
	"bytes"
	"fmt"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"gopkg.in/yaml.v3"
)

// RootReceiver is the receiver name of the implicit root route in the
// Alertmanager view of the routing tree (Receivers, AlertmanagerYAML);
// "watchdog-root" when a route is called root.
const RootReceiver = "root"

func (c *Config) rootReceiver() string {
	if c.c != nil && c.c.routes[RootReceiver] != nil {
		return "watchdog-root"
	}
	return RootReceiver
}

// Receivers returns the receiver names of the Alertmanager view of the
// routing tree: every route is a receiver of its own name (its escalation
// policy and channels are what it delivers to), after RootReceiver.
func (c *Config) Receivers() []string {
	out := []string{c.rootReceiver()}
	if c.c == nil {
		return out
	}
	var walk func(n *routeNode)
	walk = func(n *routeNode) {
		for _, ch := range n.children {
			out = append(out, ch.name)
			walk(ch)
		}
	}
	walk(c.c.root)
	return out
}

// amRoute is a route of an Alertmanager configuration.
type amRoute struct {
	Receiver       string     `yaml:"receiver"`
	GroupBy        []string   `yaml:"group_by,omitempty"`
	Continue       bool       `yaml:"continue,omitempty"`
	Matchers       []string   `yaml:"matchers,omitempty"`
	GroupWait      string     `yaml:"group_wait,omitempty"`
	GroupInterval  string     `yaml:"group_interval,omitempty"`
	RepeatInterval string     `yaml:"repeat_interval,omitempty"`
	Routes         []*amRoute `yaml:"routes,omitempty"`
}

type amInhibit struct {
	SourceMatchers []string `yaml:"source_matchers"`
	TargetMatchers []string `yaml:"target_matchers"`
	Equal          []string `yaml:"equal,omitempty"`
}

type amConfig struct {
	Global       map[string]string   `yaml:"global"`
	Route        *amRoute            `yaml:"route"`
	InhibitRules []amInhibit         `yaml:"inhibit_rules,omitempty"`
	Receivers    []map[string]string `yaml:"receivers"`
}

// AlertmanagerYAML renders the routing tree, receivers and inhibit rules
// as an Alertmanager configuration (what GET /api/v2/status reports as
// config.original and `amtool config routes` draws). Receivers carry
// names only (see Receivers); route conditions, which Alertmanager has no
// equivalent of, are listed in a comment and left out.
func (c *Config) AlertmanagerYAML() string {
	cfg := amConfig{Global: map[string]string{"resolve_timeout": fmtDuration(c.AlertTimeout())}}
	for _, r := range c.Receivers() {
		cfg.Receivers = append(cfg.Receivers, map[string]string{"name": r})
	}
	var conds []string
	if c.c != nil {
		var conv func(n *routeNode, parent *routeNode) *amRoute
		conv = func(n, parent *routeNode) *amRoute {
			r := &amRoute{Receiver: n.name, Continue: n.cont, Matchers: formatMatchers(n.matchers)}
			if n == c.c.root {
				r.Receiver = c.rootReceiver()
			}
			if n.cond != nil {
				conds = append(conds, n.name)
			}
			if parent == nil || n.groupAll != parent.groupAll || fmt.Sprint(n.groupBy) != fmt.Sprint(parent.groupBy) {
				r.GroupBy = n.groupBy
				if n.groupAll {
					r.GroupBy = []string{"..."}
				}
			}
			r.GroupWait, r.GroupInterval = fmtDuration(n.groupWait), fmtDuration(n.groupInterval)
			r.RepeatInterval = fmtDuration(n.repeatInterval)
			for _, ch := range n.children {
				r.Routes = append(r.Routes, conv(ch, n))
			}
			return r
		}
		cfg.Route = conv(c.c.root, nil)
		for _, ir := range c.c.inhibits {
			cfg.InhibitRules = append(cfg.InhibitRules, amInhibit{SourceMatchers: formatMatchers(ir.source),
				TargetMatchers: formatMatchers(ir.target), Equal: ir.equal})
		}
	} else {
		cfg.Route = &amRoute{Receiver: c.rootReceiver()}
	}
	var b bytes.Buffer
	b.WriteString("# The watchdog's pager routing tree in Alertmanager's terms: every route is a\n# receiver of its own name.\n")
	for _, n := range conds {
		fmt.Fprintf(&b, "# Route %s also has a condition, which Alertmanager cannot express.\n", n)
	}
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(cfg); err != nil {
		panic("BUG: pager: encode Alertmanager config: " + err.Error())
	}
	return b.String()
}

func formatMatchers(ms []*labels.Matcher) []string {
	out := make([]string, 0, len(ms))
	for _, m := range ms {
		out = append(out, FormatMatcher(m))
	}
	return out
}

func fmtDuration(d time.Duration) string { return model.Duration(d).String() }
