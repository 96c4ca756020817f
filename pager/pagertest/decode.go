package pagertest

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/prometheus/common/model"
	"gopkg.in/yaml.v3"

	"github.com/watchdog-sre/watchdog/pager"
)

// ErrInvalid is wrapped by every error ParseFile returns for a malformed
// test file, and by problems Load finds against the pager config.
var ErrInvalid = errors.New("invalid paging test file")

// Error is one problem in a test file. ParseFile returns all of a file's
// problems at once, each an *Error, joined with errors.Join.
type Error struct {
	File string
	Line int    // 1-based, 0 when unknown
	Path string // key path such as tests[0].expect_pages[1].method
	Msg  string
}

// Error formats the problem as "file:line: path: message".
func (e *Error) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File + ":")
	}
	if e.Line > 0 {
		b.WriteString(strconv.Itoa(e.Line) + ":")
	}
	if b.Len() > 0 {
		b.WriteByte(' ')
	}
	if e.Path != "" {
		b.WriteString(e.Path + ": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Unwrap makes every *Error match ErrInvalid.
func (e *Error) Unwrap() error { return ErrInvalid }

const (
	maxErrors = 100     // problems reported per file
	maxVisits = 1 << 18 // nodes visited, bounding alias expansion
	// maxOffset bounds offsets so that start+offset never overflows and a
	// test never simulates for centuries.
	maxOffset = 366 * 24 * time.Hour
)

type report struct {
	file string
	errs []*Error
}

func (r *report) add(line int, path, format string, args ...any) {
	r.errs = append(r.errs, &Error{File: r.file, Line: line, Path: path, Msg: fmt.Sprintf(format, args...)})
}

func (r *report) err() error {
	if len(r.errs) == 0 {
		return nil
	}
	sort.SliceStable(r.errs, func(i, j int) bool { return r.errs[i].Line < r.errs[j].Line })
	n := min(len(r.errs), maxErrors)
	errs := make([]error, 0, n+1)
	for _, e := range r.errs[:n] {
		errs = append(errs, e)
	}
	if more := len(r.errs) - n; more > 0 {
		errs = append(errs, &Error{File: r.file, Msg: fmt.Sprintf("and %d more errors", more)})
	}
	return errors.Join(errs...)
}

// IsTestFile reports whether data looks like a paging test file: a YAML
// mapping with a top-level pager_config key. `watchdog test` uses it to
// tell these files from rule tests.
func IsTestFile(data []byte) bool {
	var doc yaml.Node
	if yaml.Unmarshal(data, &doc) != nil || len(doc.Content) != 1 {
		return false
	}
	n := doc.Content[0]
	if n.Kind != yaml.MappingNode {
		return false
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == "pager_config" {
			return true
		}
	}
	return false
}

// ParseFile parses a test file; filename is used in errors and to resolve
// pager_config. It does not read the pager config. All problems are
// returned at once, each an *Error wrapping ErrInvalid.
func ParseFile(data []byte, filename string) (*File, error) {
	r := &report{file: filename}
	d := &decoder{r: r}
	f := &File{Path: filename}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	switch err := dec.Decode(&doc); {
	case errors.Is(err, io.EOF):
		r.add(0, "", "empty file")
	case err != nil:
		addYAMLError(r, err)
	default:
		var extra yaml.Node
		if err := dec.Decode(&extra); err == nil {
			r.add(extra.Line, "", "a test file holds one YAML document, found another")
		} else if !errors.Is(err, io.EOF) {
			addYAMLError(r, err)
		}
		if len(doc.Content) == 1 {
			d.file(doc.Content[0], f)
		}
	}
	if err := r.err(); err != nil {
		return nil, err
	}
	if !filepath.IsAbs(f.PagerConfig) {
		f.PagerConfig = filepath.Join(filepath.Dir(filename), f.PagerConfig)
	}
	return f, nil
}

// addYAMLError records a yaml syntax error ("yaml: line 3: …") with its line.
func addYAMLError(r *report, err error) {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	line := 0
	if rest, ok := strings.CutPrefix(msg, "line "); ok {
		if num, tail, ok := strings.Cut(rest, ": "); ok {
			if n, err := strconv.Atoi(num); err == nil {
				line, msg = n, tail
			}
		}
	}
	r.add(line, "", "%s", msg)
}

// decoder walks the yaml.Node tree by hand so that every problem gets its
// line and key path and decoding goes on after an error.
type decoder struct {
	r      *report
	visits int
	broken bool
}

// enter resolves aliases and charges the visit budget; nil means stop.
func (d *decoder) enter(n *yaml.Node) *yaml.Node {
	for hops := 0; n != nil && n.Kind == yaml.AliasNode; hops++ {
		if hops > 64 {
			return nil
		}
		n = n.Alias
	}
	if n == nil || d.broken {
		return nil
	}
	if d.visits++; d.visits > maxVisits {
		d.broken = true
		d.r.add(n.Line, "", "document too large (check anchors and aliases)")
		return nil
	}
	return n
}

func isNull(n *yaml.Node) bool { return n.Kind == yaml.ScalarNode && n.Tag == "!!null" }

func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a map"
	case yaml.SequenceNode:
		return "a list"
	}
	v := n.Value
	if len(v) > 64 {
		v = v[:61] + "..."
	}
	return strconv.Quote(v)
}

func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// mapping calls fn for each key of mapping n, which must be in keys;
// unknown, repeated and merge keys are reported, null values skipped. It
// returns the keys present, mapped to whether their value is not null, or
// nil when n is not a mapping.
func (d *decoder) mapping(n *yaml.Node, path string, keys []string, fn func(key string, v *yaml.Node, path string)) map[string]bool {
	if n.Kind != yaml.MappingNode {
		d.r.add(n.Line, path, "expected a map, got %s", describe(n))
		return nil
	}
	seen := map[string]bool{}
	lines := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := d.enter(n.Content[i])
		if k == nil {
			continue
		}
		if k.Kind != yaml.ScalarNode || isNull(k) || k.Tag == "!!merge" {
			d.r.add(k.Line, path, "expected a key name, got %s", describe(k))
			continue
		}
		key := k.Value
		if first, dup := lines[key]; dup {
			d.r.add(k.Line, path, "duplicate key %q (first at line %d)", key, first)
			continue
		}
		lines[key] = k.Line
		if !slices.Contains(keys, key) {
			d.r.add(k.Line, path, "unknown key %q", key)
			continue
		}
		v := d.enter(n.Content[i+1])
		seen[key] = v != nil && !isNull(v)
		if !seen[key] {
			continue
		}
		fn(key, v, joinPath(path, key))
	}
	return seen
}

func (d *decoder) list(n *yaml.Node, path string, fn func(e *yaml.Node, path string)) {
	if n.Kind != yaml.SequenceNode {
		d.r.add(n.Line, path, "expected a list, got %s", describe(n))
		return
	}
	for i, e := range n.Content {
		ep := fmt.Sprintf("%s[%d]", path, i)
		if e = d.enter(e); e == nil {
			continue
		}
		if isNull(e) {
			d.r.add(e.Line, ep, "empty entry")
			continue
		}
		fn(e, ep)
	}
}

func (d *decoder) str(n *yaml.Node, path string) string {
	if n.Kind != yaml.ScalarNode {
		d.r.add(n.Line, path, "expected a string, got %s", describe(n))
		return ""
	}
	return n.Value
}

// name is a non-empty string such as a user or channel name.
func (d *decoder) name(n *yaml.Node, path string) string {
	s := d.str(n, path)
	if n.Kind == yaml.ScalarNode && strings.TrimSpace(s) == "" {
		d.r.add(n.Line, path, "must not be empty")
	}
	return s
}

// offset parses a non-negative Prometheus duration of at most maxOffset.
func (d *decoder) offset(n *yaml.Node, path string) time.Duration {
	if n.Kind != yaml.ScalarNode {
		d.r.add(n.Line, path, "expected a duration, got %s", describe(n))
		return 0
	}
	v, err := model.ParseDuration(n.Value)
	if err != nil {
		d.r.add(n.Line, path, "invalid duration %s: use a duration such as 0m, 90s or 1h30m", describe(n))
		return 0
	}
	if time.Duration(v) > maxOffset {
		d.r.add(n.Line, path, "offset %s is more than a year", n.Value)
		return 0
	}
	return time.Duration(v)
}

func (d *decoder) strMap(n *yaml.Node, path string) map[string]string {
	if n.Kind != yaml.MappingNode {
		d.r.add(n.Line, path, "expected a map, got %s", describe(n))
		return nil
	}
	out := map[string]string{}
	lines := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := d.enter(n.Content[i]), d.enter(n.Content[i+1])
		if k == nil || v == nil {
			continue
		}
		if k.Kind != yaml.ScalarNode || isNull(k) || k.Tag == "!!merge" {
			d.r.add(k.Line, path, "expected a label name, got %s", describe(k))
			continue
		}
		if first, dup := lines[k.Value]; dup {
			d.r.add(k.Line, path, "duplicate key %q (first at line %d)", k.Value, first)
			continue
		}
		lines[k.Value] = k.Line
		if k.Value == "" || !utf8.ValidString(k.Value) {
			d.r.add(k.Line, path, "invalid label name %q", k.Value)
		}
		if isNull(v) {
			out[k.Value] = ""
			continue
		}
		out[k.Value] = d.str(v, joinPath(path, strconv.Quote(k.Value)))
	}
	return out
}

// parseStartTime accepts Unix seconds or an RFC 3339 time, as promtool's
// start_timestamp does.
func parseStartTime(s string) (time.Time, error) {
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		if math.IsNaN(f) || math.Abs(f) > 1e11 {
			return time.Time{}, fmt.Errorf("start_time %q out of range", s)
		}
		sec, frac := math.Modf(f)
		return time.Unix(int64(sec), int64(frac*float64(time.Second))).UTC(), nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("cannot parse %q as Unix seconds or an RFC 3339 time", s)
	}
	if y := t.Year(); y < 1900 || y > 5000 {
		return time.Time{}, fmt.Errorf("start_time %q out of range", s)
	}
	return t.UTC(), nil
}

func (d *decoder) startTime(n *yaml.Node, path string) (time.Time, bool) {
	s := d.str(n, path)
	if n.Kind != yaml.ScalarNode {
		return time.Time{}, false
	}
	t, err := parseStartTime(s)
	if err != nil {
		d.r.add(n.Line, path, "%v", err)
		return time.Time{}, false
	}
	return t, true
}

func (d *decoder) file(n *yaml.Node, f *File) {
	if n = d.enter(n); n == nil {
		return
	}
	start := time.Unix(0, 0).UTC()
	var testNodes []*yaml.Node
	seen := d.mapping(n, "", []string{"pager_config", "start_time", "tests"}, func(key string, v *yaml.Node, path string) {
		switch key {
		case "pager_config":
			f.PagerConfig, f.PagerConfigLine = d.name(v, path), v.Line
		case "start_time":
			if t, ok := d.startTime(v, path); ok {
				start = t
			}
		case "tests":
			testNodes = append(testNodes, v)
		}
	})
	if seen == nil {
		return
	}
	if !seen["pager_config"] {
		d.r.add(n.Line, "", "missing required pager_config")
	}
	for _, v := range testNodes {
		d.list(v, "tests", func(e *yaml.Node, ep string) {
			f.Tests = append(f.Tests, d.test(e, ep, start))
		})
	}
}

func (d *decoder) test(n *yaml.Node, path string, start time.Time) Test {
	t := Test{Line: n.Line, StartTime: start}
	var untilLine int
	hasUntil := false
	keys := []string{"name", "start_time", "until", "alerts", "actions", "expect_pages", "expect_forwards", "expect_no_pages_after"}
	seen := d.mapping(n, path, keys, func(key string, v *yaml.Node, path string) {
		switch key {
		case "name":
			t.Name = d.str(v, path)
		case "start_time":
			if st, ok := d.startTime(v, path); ok {
				t.StartTime = st
			}
		case "until":
			t.Until, untilLine, hasUntil = d.offset(v, path), v.Line, true
			if t.Until == 0 {
				d.r.add(v.Line, path, "must be more than 0")
			}
		case "alerts":
			d.list(v, path, func(e *yaml.Node, ep string) { t.Alerts = append(t.Alerts, d.alert(e, ep)) })
		case "actions":
			d.list(v, path, func(e *yaml.Node, ep string) { t.Actions = append(t.Actions, d.action(e, ep)) })
		case "expect_pages":
			d.list(v, path, func(e *yaml.Node, ep string) { t.ExpectPages = append(t.ExpectPages, d.page(e, ep)) })
		case "expect_forwards":
			d.list(v, path, func(e *yaml.Node, ep string) { t.ExpectForwards = append(t.ExpectForwards, d.forward(e, ep)) })
		case "expect_no_pages_after":
			t.NoPagesAfter = d.offset(v, path)
		}
	})
	if seen == nil {
		return t
	}
	// A present but empty expect_pages (null or []) still asserts.
	_, t.CheckPages = seen["expect_pages"]
	_, t.CheckForwards = seen["expect_forwards"]
	t.CheckNoPagesAfter = seen["expect_no_pages_after"]
	if len(t.Alerts) == 0 {
		d.r.add(n.Line, path, "no alerts: a paging test needs at least one")
	}
	if hasUntil {
		if t.Until == 0 {
			return t
		}
		for i, p := range t.ExpectPages {
			if p.At > t.Until {
				d.r.add(p.Line, fmt.Sprintf("%s.expect_pages[%d]", path, i), "page at %s is after until (%s, line %d)", model.Duration(p.At), model.Duration(t.Until), untilLine)
			}
		}
		for i, f := range t.ExpectForwards {
			if f.At > t.Until {
				d.r.add(f.Line, fmt.Sprintf("%s.expect_forwards[%d]", path, i), "forward at %s is after until (%s, line %d)", model.Duration(f.At), model.Duration(t.Until), untilLine)
			}
		}
	} else {
		t.Until = t.latest() + DefaultUntilMargin
	}
	return t
}

func (d *decoder) alert(n *yaml.Node, path string) Alert {
	a := Alert{Line: n.Line}
	resolveLine := 0
	seen := d.mapping(n, path, []string{"at", "labels", "annotations", "resolve_at"}, func(key string, v *yaml.Node, path string) {
		switch key {
		case "at":
			a.At = d.offset(v, path)
		case "labels":
			a.Labels = d.strMap(v, path)
		case "annotations":
			a.Annotations = d.strMap(v, path)
		case "resolve_at":
			a.ResolveAt, resolveLine = d.offset(v, path), v.Line
		}
	})
	if seen == nil {
		return a
	}
	if !seen["labels"] {
		d.r.add(n.Line, path, "missing required labels")
	} else if len(a.Labels) == 0 {
		d.r.add(n.Line, path+".labels", "must not be empty")
	}
	if resolveLine > 0 && a.ResolveAt <= a.At {
		d.r.add(resolveLine, path+".resolve_at", "must be after at (%s)", model.Duration(a.At))
	}
	return a
}

func (d *decoder) action(n *yaml.Node, path string) Action {
	a := Action{Line: n.Line}
	var verbKeys []string
	var verbValue string
	var untilLine, byLine int
	keys := append(slices.Clone(verbs), "at", "by", "until", "incident")
	seen := d.mapping(n, path, keys, func(key string, v *yaml.Node, path string) {
		switch key {
		case "at":
			a.At = d.offset(v, path)
		case "by":
			a.By, byLine = d.name(v, path), v.Line
		case "until":
			a.Until, untilLine = d.offset(v, path), v.Line
		case "incident":
			a.Incident = d.name(v, path)
		case VerbNote:
			verbKeys = append(verbKeys, key)
			a.Verb, a.Text = key, d.str(v, path)
		case VerbReassign:
			verbKeys = append(verbKeys, key)
			a.Verb, a.To = key, d.name(v, path)
		default:
			verbKeys = append(verbKeys, key)
			a.Verb, verbValue = key, d.name(v, path)
		}
	})
	if seen == nil {
		return a
	}
	if !seen["at"] {
		d.r.add(n.Line, path, "missing required at")
	}
	switch {
	case len(verbKeys) == 0:
		d.r.add(n.Line, path, "missing the action: one of %s", strings.Join(verbs, ", "))
		return a
	case len(verbKeys) > 1:
		d.r.add(n.Line, path, "one action per entry, got %s", strings.Join(verbKeys, " and "))
		return a
	}
	switch a.Verb {
	case VerbNote, VerbReassign:
		if a.By == "" {
			a.By = DefaultActor
		}
	default:
		a.By = verbValue
		if byLine > 0 {
			d.r.add(byLine, path+".by", "not allowed with %s (its value is the user)", a.Verb)
		}
	}
	switch {
	case a.Verb == VerbSnooze && untilLine == 0:
		d.r.add(n.Line, path, "snooze needs until")
	case a.Verb == VerbSnooze && a.Until <= a.At:
		d.r.add(untilLine, path+".until", "must be after at (%s)", model.Duration(a.At))
	case a.Verb != VerbSnooze && untilLine > 0:
		d.r.add(untilLine, path+".until", "only allowed with snooze")
	}
	return a
}

var methods = []string{pager.MethodPush, pager.MethodSMS, pager.MethodVoice, pager.MethodEmail, pager.MethodSlack}

func (d *decoder) page(n *yaml.Node, path string) Page {
	p := Page{Line: n.Line}
	seen := d.mapping(n, path, []string{"at", "user", "method"}, func(key string, v *yaml.Node, path string) {
		switch key {
		case "at":
			p.At = d.offset(v, path)
		case "user":
			p.User = d.name(v, path)
		case "method":
			p.Method = d.str(v, path)
			if v.Kind == yaml.ScalarNode && !slices.Contains(methods, p.Method) {
				d.r.add(v.Line, path, "unknown method %q: one of %s", p.Method, strings.Join(methods, ", "))
			}
		}
	})
	for _, k := range []string{"at", "user", "method"} {
		if seen != nil && !seen[k] {
			d.r.add(n.Line, path, "missing required %s", k)
		}
	}
	return p
}

var events = []string{"trigger", "acknowledge", "resolve"}

func (d *decoder) forward(n *yaml.Node, path string) Forward {
	f := Forward{Line: n.Line}
	seen := d.mapping(n, path, []string{"at", "channel", "event"}, func(key string, v *yaml.Node, path string) {
		switch key {
		case "at":
			f.At = d.offset(v, path)
		case "channel":
			f.Channel = d.name(v, path)
		case "event":
			f.Event = d.str(v, path)
			if v.Kind == yaml.ScalarNode && !slices.Contains(events, f.Event) {
				d.r.add(v.Line, path, "unknown event %q: one of %s", f.Event, strings.Join(events, ", "))
			}
		}
	})
	for _, k := range []string{"at", "channel", "event"} {
		if seen != nil && !seen[k] {
			d.r.add(n.Line, path, "missing required %s", k)
		}
	}
	return f
}
