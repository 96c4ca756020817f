package amimport

import (
	"bytes"
	"fmt"
	"strings"

	"gopkg.in/yaml.v3"
)

func set(m *yaml.Node, key string, v *yaml.Node) {
	m.Content = append(m.Content, str(key), v)
}

func str(s string) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s}
}

func flowSeq(items ...string) *yaml.Node {
	n := &yaml.Node{Kind: yaml.SequenceNode, Style: yaml.FlowStyle}
	for _, s := range items {
		n.Content = append(n.Content, str(s))
	}
	return n
}

// flowText renders a small node on one line for notes.
func flowText(n *yaml.Node) string {
	if n.Kind == yaml.ScalarNode {
		return n.Value
	}
	var parts []string
	for _, e := range n.Content {
		parts = append(parts, flowText(e))
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

// render writes the comment block and the pager section.
func (c *conv) render(section *yaml.Node) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "# Imported from %s by `watchdog pager import-alertmanager`.\n", c.file)
	b.WriteString("# Routes forward to channels as Alertmanager's receivers did; add users, schedules and\n")
	b.WriteString("# escalation_policy to routes to page people. Secret files are relative to this file.\n")
	if len(c.res.Secrets) > 0 {
		b.WriteString("#\n# Secrets to provide (one value per file, never inline):\n")
		for _, s := range c.res.Secrets {
			fmt.Fprintf(&b, "#   %s  <- %s\n", s.File, oneLine(s.From))
		}
	}
	if len(c.res.NotImported) > 0 {
		b.WriteString("#\n# not imported:\n")
		for _, n := range c.res.NotImported {
			fmt.Fprintf(&b, "#   %s\n", oneLine(n.format(c.file)))
		}
	}
	doc := &yaml.Node{Kind: yaml.MappingNode}
	set(doc, "pager", section)
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(doc); err != nil {
		panic("BUG: amimport: encode: " + err.Error())
	}
	_ = enc.Close()
	return b.Bytes()
}

func oneLine(s string) string {
	return strings.NewReplacer("\n", " ", "\r", " ").Replace(s)
}
