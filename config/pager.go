package config

import "gopkg.in/yaml.v3"

// PagerSection is the `pager:` section, kept as the YAML node it was read
// from. The config package does not know the pager's model: the caller hands
// Node to pager.ParseConfigNode together with Config.Path, so that the
// pager's errors keep their file:line.
type PagerSection struct {
	// Node is nil when the file has no pager section.
	Node *yaml.Node
}

// UnmarshalYAML keeps the node as it is.
func (p *PagerSection) UnmarshalYAML(n *yaml.Node) error {
	p.Node = n
	return nil
}

// MarshalYAML writes the section back as it was read.
func (p PagerSection) MarshalYAML() (any, error) { return p.Node, nil }

// IsZero reports whether the file has no pager section (for omitempty).
func (p PagerSection) IsZero() bool { return p.Node == nil }
