package probe

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/watchdog-sre/watchdog/config"
)

// ErrJSONPath is wrapped by failures to find a JSON path.
var ErrJSONPath = errors.New("json path not found")

// maxJSONDepth bounds the nesting of a body parsed for assertions and
// captures (encoding/json itself allows 10,000 levels).
const maxJSONDepth = 64

func parseJSON(data []byte) (any, error) {
	if depth(data) > maxJSONDepth {
		return nil, fmt.Errorf("nested deeper than %d levels", maxJSONDepth)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	return v, nil
}

// depth is the deepest nesting of brackets outside strings.
func depth(data []byte) int {
	d, maxD, inStr, esc := 0, 0, false, false
	for _, c := range data {
		switch {
		case inStr && esc:
			esc = false
		case inStr && c == '\\':
			esc = true
		case c == '"':
			inStr = !inStr
		case inStr:
		case c == '[' || c == '{':
			d++
			maxD = max(maxD, d)
		case c == ']' || c == '}':
			d--
		}
	}
	return maxD
}

// lookupJSON follows a dot-separated path of keys and list indexes.
func lookupJSON(doc any, path string) (any, error) {
	cur := doc
	for _, part := range strings.Split(path, ".") {
		switch v := cur.(type) {
		case map[string]any:
			next, ok := v[part]
			if !ok {
				return nil, fmt.Errorf("%w: %s (no key %q)", ErrJSONPath, path, part)
			}
			cur = next
		case []any:
			i, err := strconv.Atoi(part)
			if err != nil || i < 0 || i >= len(v) {
				return nil, fmt.Errorf("%w: %s (no index %q in a list of %d)", ErrJSONPath, path, part, len(v))
			}
			cur = v[i]
		default:
			return nil, fmt.Errorf("%w: %s (%q is inside a scalar)", ErrJSONPath, path, part)
		}
	}
	return cur, nil
}

// jsonText is a JSON value as text: a string's contents, a number as
// written, true/false/null, or compact JSON for objects and lists.
func jsonText(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case json.Number:
		return x.String()
	case nil:
		return "null"
	case bool:
		return strconv.FormatBool(x)
	}
	b, _ := json.Marshal(v)
	return string(b)
}

func check(a config.JSONAssertion, doc any) error {
	v, err := lookupJSON(doc, a.Path)
	if err != nil {
		return err
	}
	s := jsonText(v)
	if a.Equals != nil && s != *a.Equals {
		return fmt.Errorf("json %s is %q, want %q", a.Path, trimValue(s), *a.Equals)
	}
	if a.Regexp != nil && !a.Regexp.MatchString(s) {
		return fmt.Errorf("json %s is %q, which does not match %q", a.Path, trimValue(s), a.Regexp.String())
	}
	return nil
}

func trimValue(s string) string {
	if len(s) > 128 {
		return s[:128] + "…"
	}
	return s
}
