package yamlnode

import (
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/prometheus/common/model"
	"gopkg.in/yaml.v3"
)

// Walker walks a yaml.Node tree, recording problems in R. Its zero value
// (with R set) has no visit budget; set MaxVisits to bound the work a
// document can cause through aliases.
type Walker[K Kind] struct {
	R         *Report[K]
	MaxVisits int
	// RejectMerge makes Key report merge keys (<<) as bad keys.
	RejectMerge bool

	visits int
	broken bool // the visit budget ran out; one error is recorded
}

// Enter resolves aliases and charges the visit budget; nil means stop.
func (w *Walker[K]) Enter(n *yaml.Node) *yaml.Node {
	for hops := 0; n != nil && n.Kind == yaml.AliasNode; hops++ {
		if hops > 64 {
			return nil
		}
		n = n.Alias
	}
	if n == nil || w.broken {
		return nil
	}
	if w.visits++; w.MaxVisits > 0 && w.visits > w.MaxVisits {
		w.broken = true
		w.R.Add(n.Line, "", "document too large (check anchors and aliases)")
		return nil
	}
	return n
}

// IsNull reports whether n is a null scalar (~, null or nothing).
func IsNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.Tag == "!!null"
}

// Describe names what a node holds, for "expected X, got Y" messages.
func Describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a map"
	case yaml.SequenceNode:
		return "a list"
	case yaml.DocumentNode:
		return "a document"
	}
	v := n.Value
	if len(v) > 64 {
		v = v[:61] + "..."
	}
	return strconv.Quote(v)
}

// JoinPath appends key to a key path.
func JoinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// Key checks the (entered) key node k of the mapping at path: it must be a
// scalar that is not null, not repeated and, when keys is not nil, one of
// keys. seen maps the keys met so far to their lines and is updated; what
// names a key in the "expected …" message, such as "a string key". It
// returns the key and whether it passed.
func (w *Walker[K]) Key(k *yaml.Node, path, what string, keys []string, seen map[string]int) (string, bool) {
	if k.Kind != yaml.ScalarNode || IsNull(k) || (w.RejectMerge && k.Tag == "!!merge") {
		w.R.Add(k.Line, path, "expected %s, got %s", what, Describe(k))
		return "", false
	}
	key := k.Value
	if first, dup := seen[key]; dup {
		w.R.Add(k.Line, path, "duplicate key %q (first at line %d)", key, first)
		return "", false
	}
	seen[key] = k.Line
	if keys != nil && !slices.Contains(keys, key) {
		w.R.Add(k.Line, path, "unknown key %q", key)
		return "", false
	}
	return key, true
}

// List calls fn for every entry of sequence n with its index and key
// path; null entries are reported.
func (w *Walker[K]) List(n *yaml.Node, path string, fn func(i int, e *yaml.Node, path string)) {
	if n.Kind != yaml.SequenceNode {
		w.R.Add(n.Line, path, "expected a list, got %s", Describe(n))
		return
	}
	for i, e := range n.Content {
		ep := fmt.Sprintf("%s[%d]", path, i)
		if e = w.Enter(e); e == nil {
			continue
		}
		if IsNull(e) {
			w.R.Add(e.Line, ep, "empty entry")
			continue
		}
		fn(i, e, ep)
	}
}

// Str returns the value of scalar n; anything else is reported.
func (w *Walker[K]) Str(n *yaml.Node, path string) string {
	if n.Kind != yaml.ScalarNode {
		w.R.Add(n.Line, path, "expected a string, got %s", Describe(n))
		return ""
	}
	return n.Value
}

// Duration parses a Prometheus duration such as 1m or 1h30m; examples
// completes "use a duration such as …" when it is malformed. It reports
// whether n held a valid duration.
func (w *Walker[K]) Duration(n *yaml.Node, path, examples string) (time.Duration, bool) {
	if n.Kind != yaml.ScalarNode {
		w.R.Add(n.Line, path, "expected a duration, got %s", Describe(n))
		return 0, false
	}
	v, err := model.ParseDuration(n.Value)
	if err != nil {
		w.R.Add(n.Line, path, "invalid duration %s: use a duration such as %s", Describe(n), examples)
		return 0, false
	}
	return time.Duration(v), true
}
