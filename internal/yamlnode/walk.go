package yamlnode

import (
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"
	"time"

	"github.com/prometheus/common/model"
	"gopkg.in/yaml.v3"
)

// Walker walks a yaml.Node tree, recording problems in R. Its zero value
// (with R set) has no budget; set MaxVisits and MaxDepth to bound the work
// a document can cause through aliases ("billion laughs") and nesting.
type Walker[K Kind] struct {
	R         *Report[K]
	MaxVisits int
	// MaxDepth bounds the levels entered with descend (0: no bound).
	MaxDepth int
	// MaxMergeDepth bounds merge keys (<<) nested through aliases (0: no
	// bound besides MaxDepth).
	MaxMergeDepth int
	// RejectMerge makes Key report merge keys (<<) as bad keys; Pairs then
	// does not expand them.
	RejectMerge bool
	// TooLarge is the message recorded when a budget runs out; empty means
	// "document too large (check anchors and aliases)".
	TooLarge string

	visits int
	depth  int
	broken bool // a budget ran out; one error is recorded
}

// maxAliasHops bounds alias chains.
const maxAliasHops = 64

// Enter resolves aliases and charges the visit budget; nil means stop.
func (w *Walker[K]) Enter(n *yaml.Node) *yaml.Node { return w.enter(n, "") }

// descend is Enter one level deeper, recording a spent budget at path; a
// node it returns must be left with ascend.
func (w *Walker[K]) descend(n *yaml.Node, path string) *yaml.Node {
	w.depth++
	if n = w.enter(n, path); n == nil {
		w.depth--
	}
	return n
}

// ascend leaves a level entered with descend.
func (w *Walker[K]) ascend() { w.depth-- }

func (w *Walker[K]) enter(n *yaml.Node, path string) *yaml.Node {
	for hops := 0; n != nil && n.Kind == yaml.AliasNode; hops++ {
		if hops > maxAliasHops {
			return nil
		}
		n = n.Alias
	}
	w.visits++
	if n == nil || w.broken {
		return nil
	}
	if (w.MaxVisits > 0 && w.visits > w.MaxVisits) || (w.MaxDepth > 0 && w.depth > w.MaxDepth) {
		w.broken = true
		msg := w.TooLarge
		if msg == "" {
			msg = "document too large (check anchors and aliases)"
		}
		w.R.Add(n.Line, path, "%s", msg)
		return nil
	}
	return n
}

// Resolve follows aliases without charging any budget.
func Resolve(n *yaml.Node) *yaml.Node {
	for hops := 0; n != nil && n.Kind == yaml.AliasNode && hops <= maxAliasHops; hops++ {
		n = n.Alias
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
	case yaml.AliasNode:
		return "an alias"
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

var plainKeyRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// JoinKey appends a key of any spelling to a path: a.b for plain keys,
// a["odd key"] for the others.
func JoinKey(path, key string) string {
	if !plainKeyRE.MatchString(key) {
		return path + "[" + strconv.Quote(key) + "]"
	}
	return JoinPath(path, key)
}

// pair is one entry of a mapping.
type pair struct{ Key, Val *yaml.Node }

// pairs lists the entries of mapping n, merge keys ("<<: *base") expanded
// unless RejectMerge is set: explicit keys win over merged ones, earlier
// merged maps over later ones. Keys are not entered. depth counts the
// merges it is nested in.
func (w *Walker[K]) pairs(n *yaml.Node, path string, depth int) []pair {
	var explicit, merged []pair
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if !w.RejectMerge && k.Kind == yaml.ScalarNode && k.Tag == "!!merge" {
			merged = append(merged, w.mergePairs(v, path, depth+1)...)
			continue
		}
		explicit = append(explicit, pair{k, v})
	}
	if len(merged) == 0 {
		return explicit
	}
	seen := map[string]bool{}
	for _, p := range explicit {
		seen[p.Key.Value] = true
	}
	out := explicit
	for _, p := range merged {
		if !seen[p.Key.Value] {
			seen[p.Key.Value] = true
			out = append(out, p)
		}
	}
	return out
}

func (w *Walker[K]) mergePairs(v *yaml.Node, path string, depth int) []pair {
	if v = w.descend(v, path); v == nil {
		return nil
	}
	defer w.ascend()
	if w.MaxMergeDepth > 0 && depth > w.MaxMergeDepth {
		w.R.Add(v.Line, path, "merge keys (<<) nested too deeply")
		return nil
	}
	switch v.Kind {
	case yaml.MappingNode:
		return w.pairs(v, path, depth)
	case yaml.SequenceNode:
		var out []pair
		for _, m := range v.Content {
			if m = w.descend(m, path); m == nil {
				continue
			}
			if m.Kind != yaml.MappingNode {
				w.R.Add(m.Line, path, "merge (<<) needs a map or a list of maps, got %s", Describe(m))
			} else {
				out = append(out, w.pairs(m, path, depth)...)
			}
			w.ascend()
		}
		return out
	default:
		w.R.Add(v.Line, path, "merge (<<) needs a map or a list of maps, got %s", Describe(v))
		return nil
	}
}

// duplicate reports (and records) whether key node k repeats a key of its
// mapping; seen maps the keys met so far to their lines and is updated.
func (w *Walker[K]) duplicate(k *yaml.Node, path string, seen map[string]int) bool {
	if first, dup := seen[k.Value]; dup {
		w.R.Add(k.Line, path, "duplicate key %q (first at line %d)", k.Value, first)
		return true
	}
	seen[k.Value] = k.Line
	return false
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
	if w.duplicate(k, path, seen) {
		return "", false
	}
	if keys != nil && !slices.Contains(keys, k.Value) {
		w.R.Add(k.Line, path, "unknown key %q", k.Value)
		return "", false
	}
	return k.Value, true
}

// StrMap decodes a mapping of strings such as labels; a null value is "".
// what names a key in "expected …" messages; check, when not nil, is
// called with every key node that passed Key.
func (w *Walker[K]) StrMap(n *yaml.Node, path, what string, check func(k *yaml.Node)) map[string]string {
	if n.Kind != yaml.MappingNode {
		w.R.Add(n.Line, path, "expected a map, got %s", Describe(n))
		return nil
	}
	out := map[string]string{}
	seen := map[string]int{}
	for _, p := range w.pairs(n, path, 0) {
		k := w.Enter(p.Key)
		if k == nil {
			continue
		}
		if _, ok := w.Key(k, path, what, nil, seen); !ok {
			continue
		}
		if check != nil {
			check(k)
		}
		v := w.Enter(p.Val)
		if v == nil {
			continue
		}
		if IsNull(v) {
			out[k.Value] = ""
			continue
		}
		out[k.Value] = w.Str(v, JoinPath(path, strconv.Quote(k.Value)))
	}
	return out
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

// ParseTime accepts what promtool's start_timestamp does: Unix seconds
// (fractions allowed) or an RFC 3339 time, the latter from the year
// minYear to 5000. Unix seconds are bounded so that the milliseconds of
// any sample fit an int64. key names the field in "out of range" errors.
func ParseTime(s, key string, minYear int) (time.Time, error) {
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		if math.IsNaN(f) || math.Abs(f) > 1e11 {
			return time.Time{}, fmt.Errorf("%s %q out of range", key, s)
		}
		sec, frac := math.Modf(f)
		return time.Unix(int64(sec), int64(frac*float64(time.Second))).UTC(), nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("cannot parse %q as Unix seconds or an RFC 3339 time", s)
	}
	if y := t.Year(); y < minYear || y > 5000 {
		return time.Time{}, fmt.Errorf("%s %q out of range", key, s)
	}
	return t, nil
}
