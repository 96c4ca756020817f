package pagertest

import (
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/prometheus/common/model"
	"gopkg.in/yaml.v3"

	"github.com/watchdog-sre/watchdog/internal/yamlnode"
	"github.com/watchdog-sre/watchdog/pager"
)

// ErrInvalid is wrapped by every error ParseFile returns for a malformed
// test file, and by problems Load finds against the pager config.
var ErrInvalid = errors.New("invalid paging test file")

// invalid is the yamlnode.Kind of this package's errors.
type invalid struct{}

// Sentinel returns ErrInvalid.
func (invalid) Sentinel() error { return ErrInvalid }

// Error is one problem in a test file. ParseFile returns all of a file's
// problems at once, each an *Error, joined with errors.Join. It formats as
// "file:line: path: message", and every *Error matches ErrInvalid.
type Error = yamlnode.Error[invalid]

const (
	maxVisits = 1 << 18 // nodes visited, bounding alias expansion
	// maxOffset bounds offsets so that start+offset never overflows and a
	// test never simulates for centuries.
	maxOffset = 366 * 24 * time.Hour
)

// report collects the problems of one file.
type report = yamlnode.Report[invalid]

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
	r := &report{File: filename}
	d := &decoder{Walker: yamlnode.Walker[invalid]{R: r, MaxVisits: maxVisits, RejectMerge: true}, r: r}
	f := &File{Path: filename}
	switch doc := yamlnode.Parse(data); {
	case doc.Empty:
		r.Add(0, "", "empty file")
	case doc.Err != nil:
		r.AddYAMLError(doc.Err)
	default:
		if doc.Extra != nil {
			r.Add(doc.Extra.Line, "", "a test file holds one YAML document, found another")
		} else if doc.ExtraErr != nil {
			r.AddYAMLError(doc.ExtraErr)
		}
		if doc.Root != nil {
			d.file(doc.Root, f)
		}
	}
	if err := r.Err(); err != nil {
		return nil, err
	}
	if !filepath.IsAbs(f.PagerConfig) {
		f.PagerConfig = filepath.Join(filepath.Dir(filename), f.PagerConfig)
	}
	return f, nil
}

// decoder walks the yaml.Node tree by hand so that every problem gets its
// line and key path and decoding goes on after an error.
type decoder struct {
	yamlnode.Walker[invalid]
	r *report
}

// mapping calls fn for each key of mapping n, which must be in keys
// (see yamlnode.Walker.Mapping); merge keys are refused.
func (d *decoder) mapping(n *yaml.Node, path string, keys []string, fn func(key string, v *yaml.Node, path string)) map[string]bool {
	return d.Mapping(n, path, "a key name", keys, fn)
}

// name is a non-empty string such as a user or channel name.
func (d *decoder) name(n *yaml.Node, path string) string {
	s := d.Str(n, path)
	if n.Kind == yaml.ScalarNode && strings.TrimSpace(s) == "" {
		d.r.Add(n.Line, path, "must not be empty")
	}
	return s
}

// offset parses a non-negative Prometheus duration of at most maxOffset.
func (d *decoder) offset(n *yaml.Node, path string) time.Duration {
	v, ok := d.Duration(n, path, "0m, 90s or 1h30m")
	if ok && v > maxOffset {
		d.r.Add(n.Line, path, "offset %s is more than a year", n.Value)
		return 0
	}
	return v
}

func (d *decoder) strMap(n *yaml.Node, path string) map[string]string {
	return d.StrMap(n, path, "a label name", func(k *yaml.Node) {
		if k.Value == "" || !utf8.ValidString(k.Value) {
			d.r.Add(k.Line, path, "invalid label name %q", k.Value)
		}
	})
}

// minStartYear is the earliest year of an RFC 3339 start_time.
const minStartYear = 1900

func (d *decoder) startTime(n *yaml.Node, path string) (time.Time, bool) {
	s := d.Str(n, path)
	if n.Kind != yaml.ScalarNode {
		return time.Time{}, false
	}
	t, err := yamlnode.ParseTime(s, "start_time", minStartYear)
	if err != nil {
		d.r.Add(n.Line, path, "%v", err)
		return time.Time{}, false
	}
	return t.UTC(), true
}

func (d *decoder) file(n *yaml.Node, f *File) {
	if n = d.Enter(n); n == nil {
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
		d.r.Add(n.Line, "", "missing required pager_config")
	}
	for _, v := range testNodes {
		d.List(v, "tests", func(_ int, e *yaml.Node, ep string) {
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
			t.Name = d.Str(v, path)
		case "start_time":
			if st, ok := d.startTime(v, path); ok {
				t.StartTime = st
			}
		case "until":
			t.Until, untilLine, hasUntil = d.offset(v, path), v.Line, true
			if t.Until == 0 {
				d.r.Add(v.Line, path, "must be more than 0")
			}
		case "alerts":
			d.List(v, path, func(_ int, e *yaml.Node, ep string) { t.Alerts = append(t.Alerts, d.alert(e, ep)) })
		case "actions":
			d.List(v, path, func(_ int, e *yaml.Node, ep string) { t.Actions = append(t.Actions, d.action(e, ep)) })
		case "expect_pages":
			d.List(v, path, func(_ int, e *yaml.Node, ep string) { t.ExpectPages = append(t.ExpectPages, d.page(e, ep)) })
		case "expect_forwards":
			d.List(v, path, func(_ int, e *yaml.Node, ep string) { t.ExpectForwards = append(t.ExpectForwards, d.forward(e, ep)) })
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
		d.r.Add(n.Line, path, "no alerts: a paging test needs at least one")
	}
	if hasUntil {
		if t.Until == 0 {
			return t
		}
		for i, p := range t.ExpectPages {
			if p.At > t.Until {
				d.r.Add(p.Line, fmt.Sprintf("%s.expect_pages[%d]", path, i), "page at %s is after until (%s, line %d)", model.Duration(p.At), model.Duration(t.Until), untilLine)
			}
		}
		for i, f := range t.ExpectForwards {
			if f.At > t.Until {
				d.r.Add(f.Line, fmt.Sprintf("%s.expect_forwards[%d]", path, i), "forward at %s is after until (%s, line %d)", model.Duration(f.At), model.Duration(t.Until), untilLine)
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
		d.r.Add(n.Line, path, "missing required labels")
	} else if len(a.Labels) == 0 {
		d.r.Add(n.Line, path+".labels", "must not be empty")
	}
	if resolveLine > 0 && a.ResolveAt <= a.At {
		d.r.Add(resolveLine, path+".resolve_at", "must be after at (%s)", model.Duration(a.At))
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
			a.Verb, a.Text = key, d.Str(v, path)
		case VerbReassign:
			verbKeys = append(verbKeys, key)
			a.Verb, a.To = key, d.name(v, path)
		case VerbAddResponder:
			verbKeys = append(verbKeys, key)
			a.Verb, a.To = key, d.Str(v, path)
			if kind, name, ok := strings.Cut(a.To, ":"); v.Kind == yaml.ScalarNode && (a.To == "" || ok && (name == "" || kind != "user" && kind != "schedule" && kind != "policy")) {
				d.r.Add(v.Line, path, "target %q: want NAME, user:NAME, schedule:NAME or policy:NAME", a.To)
			}
		default:
			verbKeys = append(verbKeys, key)
			a.Verb, verbValue = key, d.name(v, path)
		}
	})
	if seen == nil {
		return a
	}
	if !seen["at"] {
		d.r.Add(n.Line, path, "missing required at")
	}
	switch {
	case len(verbKeys) == 0:
		d.r.Add(n.Line, path, "missing the action: one of %s", strings.Join(verbs, ", "))
		return a
	case len(verbKeys) > 1:
		d.r.Add(n.Line, path, "one action per entry, got %s", strings.Join(verbKeys, " and "))
		return a
	}
	switch a.Verb {
	case VerbNote, VerbReassign, VerbAddResponder:
		if a.By == "" {
			a.By = DefaultActor
		}
	default:
		a.By = verbValue
		if byLine > 0 {
			d.r.Add(byLine, path+".by", "not allowed with %s (its value is the user)", a.Verb)
		}
	}
	switch {
	case a.Verb == VerbSnooze && untilLine == 0:
		d.r.Add(n.Line, path, "snooze needs until")
	case a.Verb == VerbSnooze && a.Until <= a.At:
		d.r.Add(untilLine, path+".until", "must be after at (%s)", model.Duration(a.At))
	case a.Verb != VerbSnooze && untilLine > 0:
		d.r.Add(untilLine, path+".until", "only allowed with snooze")
	}
	return a
}

var methods = []string{pager.MethodPush, pager.MethodSMS, pager.MethodVoice, pager.MethodEmail, pager.MethodSlack}

func (d *decoder) page(n *yaml.Node, path string) Page {
	p := Page{Line: n.Line}
	seen := d.mapping(n, path, []string{"at", "user", "method", "urgency"}, func(key string, v *yaml.Node, path string) {
		switch key {
		case "urgency":
			p.Urgency = d.Str(v, path)
			if v.Kind == yaml.ScalarNode && p.Urgency != pager.UrgencyHigh && p.Urgency != pager.UrgencyLow {
				d.r.Add(v.Line, path, "unknown urgency %q: high or low", p.Urgency)
			}
		case "at":
			p.At = d.offset(v, path)
		case "user":
			p.User = d.name(v, path)
		case "method":
			p.Method = d.Str(v, path)
			if v.Kind == yaml.ScalarNode && !slices.Contains(methods, p.Method) {
				d.r.Add(v.Line, path, "unknown method %q: one of %s", p.Method, strings.Join(methods, ", "))
			}
		}
	})
	for _, k := range []string{"at", "user", "method"} {
		if seen != nil && !seen[k] {
			d.r.Add(n.Line, path, "missing required %s", k)
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
			f.Event = d.Str(v, path)
			if v.Kind == yaml.ScalarNode && !slices.Contains(events, f.Event) {
				d.r.Add(v.Line, path, "unknown event %q: one of %s", f.Event, strings.Join(events, ", "))
			}
		}
	})
	for _, k := range []string{"at", "channel", "event"} {
		if seen != nil && !seen[k] {
			d.r.Add(n.Line, path, "missing required %s", k)
		}
	}
	return f
}
