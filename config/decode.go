package config

import (
	"errors"
	"fmt"
	"reflect"
	"regexp/syntax"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/relabel"
	"gopkg.in/yaml.v3"

	"github.com/watchdog-sre/watchdog/internal/yamlnode"
)

// The configuration is decoded by yamlnode.Decoder (reflection over the
// yaml tags, every problem at its line and key path, unknown keys reported
// also inside relabel.Config); this file holds what is particular to the
// configuration: the names of its scalar types, the foreign structs walked
// field by field, the regex hook and the inline-secret hint.

const (
	// maxVisits bounds the work a document can cause through aliases
	// ("billion laughs"); maxDepth bounds recursion through self-referencing
	// anchors and absurd nesting.
	maxVisits = 1 << 20
	maxDepth  = 64
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

// fieldwise lists foreign structs whose own UnmarshalYAML is replaced by a
// field-by-field walk, with what that UnmarshalYAML does around it.
var fieldwise = map[reflect.Type]yamlnode.Fieldwise{
	reflect.TypeFor[relabel.Config](): {
		Before: func(v reflect.Value) { v.Set(reflect.ValueOf(relabel.DefaultRelabelConfig)) },
		After: func(v reflect.Value) {
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

// custom decodes relabel.Regexp here to name the regex as written, not
// anchored.
func custom(r *report) map[reflect.Type]yamlnode.Hook {
	return map[reflect.Type]yamlnode.Hook{
		reflect.TypeFor[relabel.Regexp](): func(n *yaml.Node, v reflect.Value, path string) {
			re, err := relabel.NewRegexp(n.Value)
			if err != nil {
				msg := err.Error()
				var se *syntax.Error
				if errors.As(err, &se) {
					msg = string(se.Code)
				}
				r.add(n.Line, path, fmt.Sprintf("invalid regex %q: %s", n.Value, msg))
				return
			}
			v.Set(reflect.ValueOf(re))
		},
	}
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

func unknownKey(key string, fields map[string][]int) string {
	if file, ok := inlineSecrets[key]; ok {
		if _, ok := fields[file]; ok {
			return fmt.Sprintf("inline secret %q is not allowed: secrets come from files, use %s", key, file)
		}
	}
	return fmt.Sprintf("unknown key %q", key)
}

// decode decodes n into the value v points to, recording problems and the
// line of every key path in r.
func decode(r *report, n *yaml.Node, v any) {
	d := &yamlnode.Decoder[invalid]{
		Walker: yamlnode.Walker[invalid]{R: &r.Report, MaxVisits: maxVisits, MaxDepth: maxDepth,
			TooLarge: "document too deep or too large (check anchors and aliases)"},
		Names:      scalarNames,
		Custom:     custom(r),
		Fieldwise:  fieldwise,
		UnknownKey: unknownKey,
		Lines:      r.lines,
	}
	d.Decode(n, v, "")
}

// joinPath appends a key to a path: a.b for plain keys, a["odd key"] else.
func joinPath(path, key string) string { return yamlnode.JoinKey(path, key) }

func kindName(t reflect.Type) string { return yamlnode.KindName(t, scalarNames) }
