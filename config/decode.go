package config

import (
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"regexp/syntax"
	"strconv"
	"strings"
	"sync"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/relabel"
	"gopkg.in/yaml.v3"
)

// The decoder walks a yaml.Node tree into Go values by reflection, so that
// every problem carries the line and key path it was found at, unknown keys
// are reported wherever they are (also inside foreign types such as
// relabel.Config), and decoding goes on after an error to report the rest.
//
// Types with their own UnmarshalYAML (yaml.v3 or the older func(any) error
// form) are handed to the yaml package, except the foreign structs listed in
// fieldwise, which are walked field by field like ours.

const (
	// maxVisits bounds the work a document can cause through aliases
	// ("billion laughs"); maxDepth bounds recursion through self-referencing
	// anchors and absurd nesting.
	maxVisits = 1 << 20
	maxDepth  = 64
)

var (
	unmarshalerV3 = reflect.TypeFor[yaml.Unmarshaler]()
	unmarshalerV2 = reflect.TypeFor[interface {
		UnmarshalYAML(func(any) error) error
	}]()
)

// scalarNames names the foreign and custom scalar types for error messages.
var scalarNames = map[reflect.Type]string{
	reflect.TypeFor[model.Duration]():         "a duration",
	reflect.TypeFor[ByteSize]():               "a byte size",
	reflect.TypeFor[relabel.Regexp]():         "a regular expression",
	reflect.TypeFor[relabel.Action]():         "a relabel action",
	reflect.TypeFor[model.LabelName]():        "a label name",
	reflect.TypeFor[model.ValidationScheme](): "a validation scheme",
}

// fieldwise lists foreign structs that have an UnmarshalYAML of their own
// which we replace by a field-by-field walk, for unknown-key detection and
// precise lines. before and after do what that UnmarshalYAML does around
// decoding its fields.
var fieldwise = map[reflect.Type]struct{ before, after func(reflect.Value) }{
	reflect.TypeFor[relabel.Config](): {
		before: func(v reflect.Value) { v.Set(reflect.ValueOf(relabel.DefaultRelabelConfig)) },
		after: func(v reflect.Value) {
			c := v.Addr().Interface().(*relabel.Config)
			if c.Regex.Regexp == nil {
				c.Regex = relabel.MustNewRegexp("")
			}
			if len(c.SourceLabels) == 0 {
				c.SourceLabels = nil
			}
		},
	},
}

// inlineSecrets maps keys that would hold a secret inline to the key that
// names the file it must come from.
var inlineSecrets = map[string]string{
	"bearer_token": "bearer_token_file",
	"password":     "password_file",
	"credentials":  "credentials_file",
	"api_key":      "api_key_file",
	"token":        "token_file",
}

type decoder struct {
	r      *report
	visits int
	depth  int
	broken bool // the budget ran out: stop quietly, one error is recorded
}

// decode decodes n into the addressable value v found at path.
func (d *decoder) decode(n *yaml.Node, v reflect.Value, path string) {
	if n = d.enter(n, path); n == nil {
		return
	}
	defer func() { d.depth-- }()
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return // an empty value keeps the default
	}
	t := v.Type()
	if hooks, ok := fieldwise[t]; ok {
		hooks.before(v)
		d.decodeStruct(n, v, path)
		hooks.after(v)
		return
	}
	if t.Kind() != reflect.Pointer {
		if pt := reflect.PointerTo(t); pt.Implements(unmarshalerV3) || pt.Implements(unmarshalerV2) {
			d.decodeCustom(n, v, path)
			return
		}
	}
	switch t.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			v.Set(reflect.New(t.Elem()))
		}
		d.depth-- // a pointer is not a level of the document
		d.decode(n, v.Elem(), path)
		d.depth++
	case reflect.Struct:
		d.decodeStruct(n, v, path)
	case reflect.Map:
		d.decodeMap(n, v, path)
	case reflect.Slice:
		d.decodeSlice(n, v, path)
	case reflect.String, reflect.Bool,
		reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64,
		reflect.Float32, reflect.Float64:
		d.decodeScalar(n, v, path)
	default:
		panic(fmt.Sprintf("BUG: config: cannot decode into %s", t))
	}
}

// enter resolves aliases and charges the budgets; nil means stop.
func (d *decoder) enter(n *yaml.Node, path string) *yaml.Node {
	d.depth++
	for hops := 0; n != nil && n.Kind == yaml.AliasNode; hops++ {
		if hops > maxDepth {
			n = nil
			break
		}
		n = n.Alias
	}
	d.visits++
	if n == nil || d.broken || d.visits > maxVisits || d.depth > maxDepth {
		if !d.broken && n != nil {
			d.broken = true
			d.r.add(n.Line, path, "document too deep or too large (check anchors and aliases)")
		}
		d.depth--
		return nil
	}
	return n
}

func (d *decoder) decodeCustom(n *yaml.Node, v reflect.Value, path string) {
	t := v.Type()
	if name, ok := scalarNames[t]; ok && n.Kind != yaml.ScalarNode {
		d.r.add(n.Line, path, fmt.Sprintf("expected %s, got %s", name, describe(n)))
		return
	}
	if t == reflect.TypeFor[relabel.Regexp]() {
		// Decode it here to name the regex as written, not anchored.
		re, err := relabel.NewRegexp(n.Value)
		if err != nil {
			msg := err.Error()
			var se *syntax.Error
			if errors.As(err, &se) {
				msg = string(se.Code)
			}
			d.r.add(n.Line, path, fmt.Sprintf("invalid regex %q: %s", n.Value, msg))
			return
		}
		v.Set(reflect.ValueOf(re))
		return
	}
	if err := n.Decode(v.Addr().Interface()); err != nil {
		d.r.addYAMLError(path, n.Line, err)
	}
}

func (d *decoder) decodeScalar(n *yaml.Node, v reflect.Value, path string) {
	t := v.Type()
	if n.Kind != yaml.ScalarNode {
		d.r.add(n.Line, path, fmt.Sprintf("expected %s, got %s", kindName(t), describe(n)))
		return
	}
	tmp := reflect.New(t)
	if err := n.Decode(tmp.Interface()); err != nil {
		d.r.add(n.Line, path, fmt.Sprintf("expected %s, got %s", kindName(t), describe(n)))
		return
	}
	v.Set(tmp.Elem())
}

type pair struct{ key, val *yaml.Node }

// pairs lists the entries of mapping n, merge keys ("<<: *base") expanded:
// explicit keys win over merged ones, earlier merged maps over later ones.
func (d *decoder) pairs(n *yaml.Node, path string) []pair {
	var explicit, merged []pair
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		if k.Kind == yaml.ScalarNode && k.Tag == "!!merge" {
			merged = append(merged, d.mergePairs(val, path)...)
			continue
		}
		explicit = append(explicit, pair{k, val})
	}
	if len(merged) == 0 {
		return explicit
	}
	seen := map[string]bool{}
	for _, p := range explicit {
		seen[p.key.Value] = true
	}
	out := explicit
	for _, p := range merged {
		if !seen[p.key.Value] {
			seen[p.key.Value] = true
			out = append(out, p)
		}
	}
	return out
}

func (d *decoder) mergePairs(val *yaml.Node, path string) []pair {
	if val = d.enter(val, path); val == nil {
		return nil
	}
	defer func() { d.depth-- }()
	switch val.Kind {
	case yaml.MappingNode:
		return d.pairs(val, path)
	case yaml.SequenceNode:
		var out []pair
		for _, m := range val.Content {
			if m = d.enter(m, path); m == nil {
				continue
			}
			if m.Kind != yaml.MappingNode {
				d.r.add(m.Line, path, "merge (<<) needs a map or a list of maps, got "+describe(m))
			} else {
				out = append(out, d.pairs(m, path)...)
			}
			d.depth--
		}
		return out
	default:
		d.r.add(val.Line, path, "merge (<<) needs a map or a list of maps, got "+describe(val))
		return nil
	}
}

func (d *decoder) decodeStruct(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.MappingNode {
		d.r.add(n.Line, path, "expected a map, got "+describe(n))
		return
	}
	fields := fieldsOf(v.Type())
	seen := map[string]int{}
	for _, p := range d.pairs(n, path) {
		if p.key.Kind != yaml.ScalarNode {
			d.r.add(p.key.Line, path, "expected a string key, got "+describe(p.key))
			continue
		}
		key := p.key.Value
		if first, dup := seen[key]; dup {
			d.r.add(p.key.Line, path, fmt.Sprintf("duplicate key %q (first at line %d)", key, first))
			continue
		}
		seen[key] = p.key.Line
		idx, ok := fields[key]
		if !ok {
			d.r.add(p.key.Line, path, unknownKey(key, fields))
			continue
		}
		fp := joinPath(path, key)
		d.r.lines[fp] = p.key.Line
		d.decode(p.val, v.FieldByIndex(idx), fp)
	}
}

func unknownKey(key string, fields map[string][]int) string {
	if file, ok := inlineSecrets[key]; ok {
		if _, ok := fields[file]; ok {
			return fmt.Sprintf("inline secret %q is not allowed: secrets come from files, use %s", key, file)
		}
	}
	return fmt.Sprintf("unknown key %q", key)
}

func (d *decoder) decodeMap(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.MappingNode {
		d.r.add(n.Line, path, "expected a map, got "+describe(n))
		return
	}
	t := v.Type()
	if t.Key().Kind() != reflect.String {
		panic(fmt.Sprintf("BUG: config: map key type %s", t.Key()))
	}
	seen := map[string]int{}
	for _, p := range d.pairs(n, path) {
		if p.key.Kind != yaml.ScalarNode || p.key.Tag == "!!null" {
			d.r.add(p.key.Line, path, "expected a string key, got "+describe(p.key))
			continue
		}
		key := p.key.Value
		if first, dup := seen[key]; dup {
			d.r.add(p.key.Line, path, fmt.Sprintf("duplicate key %q (first at line %d)", key, first))
			continue
		}
		seen[key] = p.key.Line
		kp := joinPath(path, key)
		d.r.lines[kp] = p.key.Line
		elem := reflect.New(t.Elem()).Elem()
		d.decode(p.val, elem, kp)
		if v.IsNil() {
			v.Set(reflect.MakeMap(t))
		}
		v.SetMapIndex(reflect.ValueOf(key).Convert(t.Key()), elem)
	}
}

func (d *decoder) decodeSlice(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.SequenceNode {
		d.r.add(n.Line, path, "expected a list, got "+describe(n))
		return
	}
	if len(n.Content) == 0 {
		return
	}
	s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
	for i, e := range n.Content {
		ep := fmt.Sprintf("%s[%d]", path, i)
		d.r.lines[ep] = e.Line
		if r := resolveAlias(e); r != nil && r.Kind == yaml.ScalarNode && r.Tag == "!!null" {
			d.r.add(e.Line, ep, "empty entry")
			continue
		}
		d.decode(e, s.Index(i), ep)
	}
	v.Set(s)
}

func resolveAlias(n *yaml.Node) *yaml.Node {
	for hops := 0; n != nil && n.Kind == yaml.AliasNode && hops <= maxDepth; hops++ {
		n = n.Alias
	}
	return n
}

var fieldCache sync.Map // reflect.Type → map[string][]int

// fieldsOf maps the yaml keys of struct type t to field indexes, following
// ",inline" fields and skipping "-" ones.
func fieldsOf(t reflect.Type) map[string][]int {
	if f, ok := fieldCache.Load(t); ok {
		return f.(map[string][]int)
	}
	out := map[string][]int{}
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		tag := f.Tag.Get("yaml")
		name, opts, _ := strings.Cut(tag, ",")
		if name == "-" {
			continue
		}
		if strings.Contains(","+opts+",", ",inline,") && f.Type.Kind() == reflect.Struct {
			for k, idx := range fieldsOf(f.Type) {
				out[k] = append([]int{i}, idx...)
			}
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		out[name] = []int{i}
	}
	fieldCache.Store(t, out)
	return out
}

var plainKeyRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// joinPath appends a key to a path: a.b for plain keys, a["odd key"] else.
func joinPath(path, key string) string {
	if !plainKeyRE.MatchString(key) {
		return path + "[" + strconv.Quote(key) + "]"
	}
	if path == "" {
		return key
	}
	return path + "." + key
}

// describe names what a node holds, for "expected X, got Y" messages.
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a map"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return "an alias"
	}
	v := n.Value
	if len(v) > 64 {
		v = v[:61] + "..."
	}
	return strconv.Quote(v)
}

func kindName(t reflect.Type) string {
	if name, ok := scalarNames[t]; ok {
		return name
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "a boolean (true or false)"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return "an integer"
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a non-negative integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	}
	return t.String()
}
