package yamlnode

import (
	"fmt"
	"reflect"
	"strings"
	"sync"

	"gopkg.in/yaml.v3"
)

// Decoder walks a yaml.Node tree into Go values by reflection, so that
// every problem carries the line and key path it was found at, unknown and
// repeated keys are reported wherever they are (also inside foreign types
// listed in Fieldwise), and decoding goes on after an error to report the
// rest. Struct fields are named by their yaml tags (",inline" followed, "-"
// skipped); maps need string keys.
//
// Types with their own UnmarshalYAML (yaml.v3 or the older func(any) error
// form) are handed to the yaml package, their errors split by
// SplitYAMLError; types in Custom are decoded by their hook.
type Decoder[K Kind] struct {
	Walker[K]
	// Names names custom scalar types in "expected X, got Y" messages; a
	// type named here that has an UnmarshalYAML must be a scalar.
	Names map[reflect.Type]string
	// Custom decodes the values of the types it lists (after the check
	// for Names): see Hook.
	Custom map[reflect.Type]Hook
	// Fields decodes the value of one key of a struct type instead of the
	// decoding of its field: struct type → key → hook, given the struct
	// (see On), so that it may set several fields. A hooked key needs no
	// field of its own. A nil hook marks a key whose value Begin or Done
	// reads: it is not entered.
	Fields map[reflect.Type]map[string]Hook
	// Done is called after a mapping was decoded into a struct of the type
	// it is listed under, with the mapping node, the struct (addressable)
	// and which known keys were present (mapped to whether their value is
	// not null): for lines, defaults, required keys and checks across keys.
	Done map[reflect.Type]func(n *yaml.Node, v reflect.Value, path string, present map[string]bool)
	// KeyWhat, when set, makes struct keys checked as Walker.Key does
	// (aliases followed; null keys, and merge keys when RejectMerge is set,
	// reported as "expected <KeyWhat>, got …"). Empty keeps keys as written
	// and reports only keys that are not scalars ("expected a string key").
	KeyWhat string
	// DropNull leaves null list entries out of the slice (they are
	// reported all the same); by default they stay as zero values, so that
	// indexes match the file.
	DropNull bool
	// Fieldwise lists foreign structs whose UnmarshalYAML is replaced by a
	// field-by-field walk, for unknown-key detection and precise lines.
	Fieldwise map[reflect.Type]Fieldwise
	// UnknownKey returns the message for a key that is not a field of a
	// struct with the given fields (key → index); nil means
	// `unknown key "k"`.
	UnknownKey func(key string, fields map[string][]int) string
	// Lines, when not nil, receives the line of every key path decoded.
	Lines map[string]int
	// KeysFirst checks every key of a mapping decoded into a struct before
	// any of its values is decoded, so that key problems come first, as
	// file types walked that way have always reported them.
	KeysFirst bool
	// Begin is called when a mapping is about to be decoded into a struct
	// of the type it is listed under (after its keys were checked, with
	// KeysFirst), with the mapping node and the addressable struct: for
	// what must be read before the other keys, such as a name that every
	// later message carries.
	Begin map[reflect.Type]func(n *yaml.Node, v reflect.Value, path string)
	// Wording, when set, records the faults the decoder finds itself
	// (wrong kinds of nodes, bad, repeated and unknown keys, empty list
	// entries) in a file type's own words instead of the decoder's. Keys
	// of structs are then entered (aliases followed), and any scalar key
	// is taken as written; UnknownKey is not used.
	Wording func(f Fault)
}

// FaultKind says what is wrong in a Fault.
type FaultKind int

// The faults the decoder finds itself.
const (
	NotMap      FaultKind = iota + 1 // a struct or a map given something else
	NotList                          // a slice given something else
	BadKey                           // a key that is not a scalar
	RepeatedKey                      // a key met before in its mapping
	UnknownKey                       // a key that is not a field of the struct
	EmptyEntry                       // a null list entry
)

// Fault is a problem the decoder found, for Decoder.Wording.
type Fault struct {
	Kind FaultKind
	// Node is the node at fault (aliases followed): the key for key
	// faults, else the value.
	Node *yaml.Node
	// Line is the line the decoder would report the fault at.
	Line int
	// Path is the key path of the value or, for key faults, of the
	// mapping.
	Path string
	// Type is what the value was to be decoded into (the struct for key
	// faults).
	Type reflect.Type
	// First is the line of the first occurrence of a repeated key.
	First int
}

// fault records f in the Wording of the decoder, or else as msg.
func (d *Decoder[K]) fault(f Fault, format string, args ...any) {
	if d.Wording != nil {
		d.Wording(f)
		return
	}
	d.R.Add(f.Line, f.Path, format, args...)
}

// Hook decodes the entered, non-null node n found at path into v (an
// addressable value of the hooked type or field), recording its problems
// in the Report itself.
type Hook func(n *yaml.Node, v reflect.Value, path string)

// On adapts fn, which decodes into a *T, to a Hook given a T.
func On[T any](fn func(n *yaml.Node, x *T, path string)) Hook {
	return func(n *yaml.Node, v reflect.Value, path string) {
		fn(n, v.Addr().Interface().(*T), path)
	}
}

// Fieldwise is what a foreign UnmarshalYAML does around decoding its
// fields: Before (defaults) and After (normalisation), both given the
// addressable struct value.
type Fieldwise struct{ Before, After func(reflect.Value) }

var (
	unmarshalerV3 = reflect.TypeFor[yaml.Unmarshaler]()
	unmarshalerV2 = reflect.TypeFor[interface {
		UnmarshalYAML(func(any) error) error
	}]()
)

// Decode decodes n into the value v points to, found at path.
func (d *Decoder[K]) Decode(n *yaml.Node, v any, path string) {
	d.decode(n, reflect.ValueOf(v).Elem(), path)
}

// decode decodes n into the addressable value v found at path.
func (d *Decoder[K]) decode(n *yaml.Node, v reflect.Value, path string) {
	if n = d.descend(n, path); n == nil {
		return
	}
	defer d.ascend()
	if IsNull(n) {
		return // an empty value keeps the default
	}
	t := v.Type()
	if hooks, ok := d.Fieldwise[t]; ok {
		hooks.Before(v)
		d.decodeStruct(n, v, path)
		hooks.After(v)
		return
	}
	if t.Kind() != reflect.Pointer {
		if _, ok := d.Custom[t]; ok {
			d.decodeCustom(n, v, path)
			return
		}
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
		panic(fmt.Sprintf("BUG: yamlnode: cannot decode into %s", t))
	}
}

func (d *Decoder[K]) decodeCustom(n *yaml.Node, v reflect.Value, path string) {
	t := v.Type()
	if name, ok := d.Names[t]; ok && n.Kind != yaml.ScalarNode {
		d.R.Add(n.Line, path, "expected %s, got %s", name, Describe(n))
		return
	}
	if hook, ok := d.Custom[t]; ok {
		hook(n, v, path)
		return
	}
	if err := n.Decode(v.Addr().Interface()); err != nil {
		d.R.AddYAMLErrorAt(n.Line, path, err)
	}
}

func (d *Decoder[K]) decodeScalar(n *yaml.Node, v reflect.Value, path string) {
	t := v.Type()
	tmp := reflect.New(t)
	if n.Kind != yaml.ScalarNode || n.Decode(tmp.Interface()) != nil {
		d.R.Add(n.Line, path, "expected %s, got %s", d.kindName(t), Describe(n))
		return
	}
	v.Set(tmp.Elem())
}

func (d *Decoder[K]) line(path string, line int) {
	if d.Lines != nil {
		d.Lines[path] = line
	}
}

func (d *Decoder[K]) decodeStruct(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.MappingNode {
		d.fault(Fault{Kind: NotMap, Node: n, Line: n.Line, Path: path, Type: v.Type()},
			"expected a map, got %s", Describe(n))
		return
	}
	t := v.Type()
	fields, hooks, done := fieldsOf(t), d.Fields[t], d.Done[t]
	seen := map[string]int{}
	var present map[string]bool
	if done != nil {
		present = map[string]bool{}
	}
	var accepted []entry
	for _, p := range d.pairs(n, path, 0) {
		k, key, ok := d.structKey(p.Key, path, t, seen)
		if !ok {
			continue
		}
		_, ok = fields[key]
		if _, hooked := hooks[key]; !ok && !hooked {
			d.unknownKey(k, key, path, t, fields)
			continue
		}
		e := entry{key, k.Line, p.Val}
		if !d.KeysFirst {
			d.structValue(e, v, path, present)
			continue
		}
		accepted = append(accepted, e)
	}
	if begin := d.Begin[t]; begin != nil {
		begin(n, v, path)
	}
	for _, e := range accepted {
		d.structValue(e, v, path, present)
	}
	if done != nil {
		done(n, v, path, present)
	}
}

func (d *Decoder[K]) unknownKey(k *yaml.Node, key, path string, t reflect.Type, fields map[string][]int) {
	msg := fmt.Sprintf("unknown key %q", key)
	if d.UnknownKey != nil {
		msg = d.UnknownKey(key, fields)
	}
	d.fault(Fault{Kind: UnknownKey, Node: k, Line: k.Line, Path: path, Type: t}, "%s", msg)
}

// entry is an accepted key of a struct's mapping, with its value.
type entry struct {
	key  string
	line int
	val  *yaml.Node
}

// structValue decodes the value of the accepted key e into struct v.
func (d *Decoder[K]) structValue(e entry, v reflect.Value, path string, present map[string]bool) {
	key := e.key
	fp := JoinKey(path, key)
	d.line(fp, e.line)
	if present != nil {
		r := Resolve(e.val)
		present[key] = r != nil && !IsNull(r)
	}
	if hook, hooked := d.Fields[v.Type()][key]; hooked {
		if hook == nil {
			return
		}
		if val := d.descend(e.val, fp); val != nil {
			if !IsNull(val) {
				hook(val, v, fp)
			}
			d.ascend()
		}
		return
	}
	d.decode(e.val, v.FieldByIndex(fieldsOf(v.Type())[key]), fp)
}

// structKey checks the key node k of a mapping decoded into a struct and
// returns the node to report it at (entered, with Wording), and the key.
func (d *Decoder[K]) structKey(k *yaml.Node, path string, t reflect.Type, seen map[string]int) (*yaml.Node, string, bool) {
	if d.Wording != nil {
		if k = d.Enter(k); k == nil {
			return nil, "", false
		}
		if k.Kind != yaml.ScalarNode {
			d.Wording(Fault{Kind: BadKey, Node: k, Line: k.Line, Path: path, Type: t})
			return nil, "", false
		}
		if first, dup := seen[k.Value]; dup {
			d.Wording(Fault{Kind: RepeatedKey, Node: k, Line: k.Line, Path: path, Type: t, First: first})
			return nil, "", false
		}
		seen[k.Value] = k.Line
		return k, k.Value, true
	}
	if d.KeyWhat != "" {
		entered := d.Enter(k)
		if entered == nil {
			return nil, "", false
		}
		key, ok := d.Key(entered, path, d.KeyWhat, nil, seen)
		return k, key, ok
	}
	if k.Kind != yaml.ScalarNode {
		d.R.Add(k.Line, path, "expected a string key, got %s", Describe(k))
		return nil, "", false
	}
	if d.duplicate(k, path, seen) {
		return nil, "", false
	}
	return k, k.Value, true
}

func (d *Decoder[K]) decodeMap(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.MappingNode {
		d.fault(Fault{Kind: NotMap, Node: n, Line: n.Line, Path: path, Type: v.Type()},
			"expected a map, got %s", Describe(n))
		return
	}
	t := v.Type()
	if t.Key().Kind() != reflect.String {
		panic(fmt.Sprintf("BUG: yamlnode: map key type %s", t.Key()))
	}
	seen := map[string]int{}
	for _, p := range d.pairs(n, path, 0) {
		if p.Key.Kind != yaml.ScalarNode || IsNull(p.Key) {
			d.R.Add(p.Key.Line, path, "expected a string key, got %s", Describe(p.Key))
			continue
		}
		if d.duplicate(p.Key, path, seen) {
			continue
		}
		key := p.Key.Value
		kp := JoinKey(path, key)
		d.line(kp, p.Key.Line)
		elem := reflect.New(t.Elem()).Elem()
		d.decode(p.Val, elem, kp)
		if v.IsNil() {
			v.Set(reflect.MakeMap(t))
		}
		v.SetMapIndex(reflect.ValueOf(key).Convert(t.Key()), elem)
	}
}

func (d *Decoder[K]) decodeSlice(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.SequenceNode {
		d.fault(Fault{Kind: NotList, Node: n, Line: n.Line, Path: path, Type: v.Type()},
			"expected a list, got %s", Describe(n))
		return
	}
	if len(n.Content) == 0 {
		return
	}
	s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
	j := 0
	for i, e := range n.Content {
		ep := fmt.Sprintf("%s[%d]", path, i)
		d.line(ep, e.Line)
		if r := Resolve(e); r != nil && IsNull(r) {
			d.fault(Fault{Kind: EmptyEntry, Node: r, Line: e.Line, Path: ep, Type: v.Type().Elem()}, "empty entry")
			if d.DropNull {
				continue
			}
		} else {
			d.decode(e, s.Index(j), ep)
		}
		j++
	}
	v.Set(s.Slice(0, j))
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
		name, opts, _ := strings.Cut(f.Tag.Get("yaml"), ",")
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

// KindName names what a value of type t is written as, for "expected X"
// messages: the name in names, else by kind ("an integer").
func KindName(t reflect.Type, names map[reflect.Type]string) string {
	if name, ok := names[t]; ok {
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

func (d *Decoder[K]) kindName(t reflect.Type) string { return KindName(t, d.Names) }

// UnknownKeys calls fn for every mapping key under n that the type t it
// is to be decoded into (a yaml-tagged struct, possibly within pointers,
// slices and maps) does not declare; path is extended with ".key" and
// "[i]". It is for callers that let the yaml package decode the values:
// types for which skip returns true, or that have their own UnmarshalYAML,
// are not entered, nor are nodes of the wrong kind (the yaml package
// reports those) or aliases.
func UnknownKeys(n *yaml.Node, t reflect.Type, path string, skip func(reflect.Type) bool, fn func(line int, path, key string)) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if skip(t) || reflect.PointerTo(t).Implements(unmarshalerV3) {
		return
	}
	switch t.Kind() {
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			return
		}
		fields := fieldsOf(t)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			idx, ok := fields[k.Value]
			if !ok {
				fn(k.Line, path, k.Value)
				continue
			}
			UnknownKeys(n.Content[i+1], t.FieldByIndex(idx).Type, path+"."+k.Value, skip, fn)
		}
	case reflect.Slice, reflect.Array:
		if n.Kind == yaml.SequenceNode {
			for i, item := range n.Content {
				UnknownKeys(item, t.Elem(), fmt.Sprintf("%s[%d]", path, i), skip, fn)
			}
		}
	case reflect.Map:
		if n.Kind == yaml.MappingNode {
			for i := 0; i+1 < len(n.Content); i += 2 {
				UnknownKeys(n.Content[i+1], t.Elem(), path+"."+n.Content[i].Value, skip, fn)
			}
		}
	}
}
