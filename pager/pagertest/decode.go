package pagertest

import (
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
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
	d := newDecoder(r)
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
		if root := doc.Root; root != nil && root.Kind != yaml.MappingNode {
			r.Add(root.Line, "", "expected a map, got %s", yamlnode.Describe(root))
		} else if root != nil {
			d.Decode(root, f, "")
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

// The file is decoded by yamlnode.Decoder into File (the yaml tags of
// pagertest.go are the format): every problem gets its line and key path
// and decoding goes on after an error. The hooks below hold what is
// particular to paging tests: offsets, names, label maps, the action verbs
// and the checks across keys.
type decoder struct {
	yamlnode.Decoder[invalid]
	r *report
	// start is the file's start_time, the default of every test's.
	start time.Time
	// tests is the file's tests node, decoded once start_time is known.
	tests *yaml.Node
	// What the hooks of a test, alert or action note for its Done hook.
	testState   map[*Test]*testState
	resolveLine map[*Alert]int
	actionState map[*Action]*actionState
}

type testState struct {
	startSet  bool // start_time was given
	untilLine int  // line of until, 0 when absent
}

type actionState struct {
	verbs             []string // the verb keys given, in file order
	verbValue         string   // the value of the last of them
	byLine, untilLine int      // lines of by and until, 0 when absent
}

func (d *decoder) test(t *Test) *testState       { return stateOf(d.testState, t) }
func (d *decoder) action(a *Action) *actionState { return stateOf(d.actionState, a) }

// stateOf returns the state of k in m, added when missing.
func stateOf[K comparable, V any](m map[K]*V, k K) *V {
	v := m[k]
	if v == nil {
		v = new(V)
		m[k] = v
	}
	return v
}

// minStartYear is the earliest year of an RFC 3339 start_time.
const minStartYear = 1900

func newDecoder(r *report) *decoder {
	d := &decoder{r: r, start: time.Unix(0, 0).UTC(), testState: map[*Test]*testState{},
		resolveLine: map[*Alert]int{}, actionState: map[*Action]*actionState{}}
	d.Decoder = yamlnode.Decoder[invalid]{
		Walker:   yamlnode.Walker[invalid]{R: r, MaxVisits: maxVisits, RejectMerge: true},
		KeyWhat:  "a key name",
		DropNull: true,
		Names:    map[reflect.Type]string{reflect.TypeFor[time.Duration](): "a duration"},
		Custom: map[reflect.Type]yamlnode.Hook{
			reflect.TypeFor[string]():        func(n *yaml.Node, v reflect.Value, path string) { v.SetString(d.Str(n, path)) },
			reflect.TypeFor[time.Duration](): func(n *yaml.Node, v reflect.Value, path string) { v.SetInt(int64(d.offset(n, path))) },
			reflect.TypeFor[map[string]string](): func(n *yaml.Node, v reflect.Value, path string) {
				v.Set(reflect.ValueOf(d.strMap(n, path)))
			},
		},
		Fields: d.fieldHooks(),
		Done: map[reflect.Type]func(*yaml.Node, reflect.Value, string, map[string]bool){
			reflect.TypeFor[File]():    done(d.fileDone),
			reflect.TypeFor[Test]():    done(d.testDone),
			reflect.TypeFor[Alert]():   done(d.alertDone),
			reflect.TypeFor[Action]():  done(d.actionDone),
			reflect.TypeFor[Page]():    done(d.pageDone),
			reflect.TypeFor[Forward](): done(d.forwardDone),
		},
	}
	return d
}

// fieldHooks are the keys decoded by hand: names, checked strings, the
// action verbs and what the Done hooks need the line of.
func (d *decoder) fieldHooks() map[reflect.Type]map[string]yamlnode.Hook {
	fields := map[reflect.Type]map[string]yamlnode.Hook{
		reflect.TypeFor[File](): {
			"pager_config": yamlnode.On(func(n *yaml.Node, f *File, path string) {
				f.PagerConfig, f.PagerConfigLine = d.name(n, path), n.Line
			}),
			"start_time": func(n *yaml.Node, _ reflect.Value, path string) {
				if t, ok := d.startTime(n, path); ok {
					d.start = t
				}
			},
			"tests": func(n *yaml.Node, _ reflect.Value, _ string) { d.tests = n },
		},
		reflect.TypeFor[Test](): {
			"start_time": yamlnode.On(func(n *yaml.Node, t *Test, path string) {
				if st, ok := d.startTime(n, path); ok {
					t.StartTime, d.test(t).startSet = st, true
				}
			}),
			"until": yamlnode.On(func(n *yaml.Node, t *Test, path string) {
				t.Until, d.test(t).untilLine = d.offset(n, path), n.Line
				if t.Until == 0 {
					d.r.Add(n.Line, path, "must be more than 0")
				}
			}),
		},
		reflect.TypeFor[Alert](): {
			"resolve_at": yamlnode.On(func(n *yaml.Node, a *Alert, path string) {
				a.ResolveAt, d.resolveLine[a] = d.offset(n, path), n.Line
			}),
		},
		reflect.TypeFor[Action](): {
			"by":       yamlnode.On(func(n *yaml.Node, a *Action, path string) { a.By, d.action(a).byLine = d.name(n, path), n.Line }),
			"until":    yamlnode.On(func(n *yaml.Node, a *Action, path string) { a.Until, d.action(a).untilLine = d.offset(n, path), n.Line }),
			"incident": yamlnode.On(func(n *yaml.Node, a *Action, path string) { a.Incident = d.name(n, path) }),
		},
		reflect.TypeFor[Page](): {
			"user": yamlnode.On(func(n *yaml.Node, p *Page, path string) { p.User = d.name(n, path) }),
			"urgency": yamlnode.On(func(n *yaml.Node, p *Page, path string) {
				p.Urgency = d.Str(n, path)
				if n.Kind == yaml.ScalarNode && p.Urgency != pager.UrgencyHigh && p.Urgency != pager.UrgencyLow {
					d.r.Add(n.Line, path, "unknown urgency %q: high or low", p.Urgency)
				}
			}),
			"method": yamlnode.On(func(n *yaml.Node, p *Page, path string) {
				p.Method = d.oneOf(n, path, "method", methods)
			}),
		},
		reflect.TypeFor[Forward](): {
			"channel": yamlnode.On(func(n *yaml.Node, f *Forward, path string) { f.Channel = d.name(n, path) }),
			"event": yamlnode.On(func(n *yaml.Node, f *Forward, path string) {
				f.Event = d.oneOf(n, path, "event", events)
			}),
		},
	}
	for _, verb := range verbs {
		fields[reflect.TypeFor[Action]()][verb] = yamlnode.On(func(n *yaml.Node, a *Action, path string) { d.verb(n, a, verb, path) })
	}
	return fields
}

// done adapts a typed Done hook.
func done[T any](fn func(n *yaml.Node, x *T, path string, present map[string]bool)) func(*yaml.Node, reflect.Value, string, map[string]bool) {
	return func(n *yaml.Node, v reflect.Value, path string, present map[string]bool) {
		fn(n, v.Addr().Interface().(*T), path, present)
	}
}

// name is a non-empty string such as a user or channel name.
func (d *decoder) name(n *yaml.Node, path string) string {
	s := d.Str(n, path)
	if n.Kind == yaml.ScalarNode && strings.TrimSpace(s) == "" {
		d.r.Add(n.Line, path, "must not be empty")
	}
	return s
}

// oneOf is a string that must be one of allowed; what names it.
func (d *decoder) oneOf(n *yaml.Node, path, what string, allowed []string) string {
	s := d.Str(n, path)
	if n.Kind == yaml.ScalarNode && !slices.Contains(allowed, s) {
		d.r.Add(n.Line, path, "unknown %s %q: one of %s", what, s, strings.Join(allowed, ", "))
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

func (d *decoder) fileDone(n *yaml.Node, f *File, _ string, present map[string]bool) {
	if !present["pager_config"] {
		d.r.Add(n.Line, "", "missing required pager_config")
	}
	if d.tests != nil {
		d.Decode(d.tests, &f.Tests, "tests")
	}
}

func (d *decoder) testDone(n *yaml.Node, t *Test, path string, present map[string]bool) {
	t.Line = n.Line
	st := d.test(t)
	delete(d.testState, t)
	if !st.startSet {
		t.StartTime = d.start
	}
	// A present but empty expect_pages (null or []) still asserts.
	_, t.CheckPages = present["expect_pages"]
	_, t.CheckForwards = present["expect_forwards"]
	t.CheckNoPagesAfter = present["expect_no_pages_after"]
	if len(t.Alerts) == 0 {
		d.r.Add(n.Line, path, "no alerts: a paging test needs at least one")
	}
	if st.untilLine == 0 {
		t.Until = t.latest() + DefaultUntilMargin
		return
	}
	if t.Until == 0 {
		return
	}
	for i, p := range t.ExpectPages {
		if p.At > t.Until {
			d.r.Add(p.Line, fmt.Sprintf("%s.expect_pages[%d]", path, i), "page at %s is after until (%s, line %d)", model.Duration(p.At), model.Duration(t.Until), st.untilLine)
		}
	}
	for i, f := range t.ExpectForwards {
		if f.At > t.Until {
			d.r.Add(f.Line, fmt.Sprintf("%s.expect_forwards[%d]", path, i), "forward at %s is after until (%s, line %d)", model.Duration(f.At), model.Duration(t.Until), st.untilLine)
		}
	}
}

func (d *decoder) alertDone(n *yaml.Node, a *Alert, path string, present map[string]bool) {
	a.Line = n.Line
	resolveLine := d.resolveLine[a]
	delete(d.resolveLine, a)
	if !present["labels"] {
		d.r.Add(n.Line, path, "missing required labels")
	} else if len(a.Labels) == 0 {
		d.r.Add(n.Line, path+".labels", "must not be empty")
	}
	if resolveLine > 0 && a.ResolveAt <= a.At {
		d.r.Add(resolveLine, path+".resolve_at", "must be after at (%s)", model.Duration(a.At))
	}
}

// verb decodes the value of an action's verb key.
func (d *decoder) verb(n *yaml.Node, a *Action, verb, path string) {
	st := d.action(a)
	st.verbs = append(st.verbs, verb)
	a.Verb = verb
	switch verb {
	case VerbNote:
		a.Text = d.Str(n, path)
	case VerbReassign:
		a.To = d.name(n, path)
	case VerbAddResponder:
		a.To = d.Str(n, path)
		if kind, name, ok := strings.Cut(a.To, ":"); n.Kind == yaml.ScalarNode && (a.To == "" || ok && (name == "" || kind != "user" && kind != "schedule" && kind != "policy")) {
			d.r.Add(n.Line, path, "target %q: want NAME, user:NAME, schedule:NAME or policy:NAME", a.To)
		}
	default:
		st.verbValue = d.name(n, path)
	}
}

func (d *decoder) actionDone(n *yaml.Node, a *Action, path string, present map[string]bool) {
	a.Line = n.Line
	st := d.action(a)
	delete(d.actionState, a)
	if !present["at"] {
		d.r.Add(n.Line, path, "missing required at")
	}
	switch {
	case len(st.verbs) == 0:
		d.r.Add(n.Line, path, "missing the action: one of %s", strings.Join(verbs, ", "))
		return
	case len(st.verbs) > 1:
		d.r.Add(n.Line, path, "one action per entry, got %s", strings.Join(st.verbs, " and "))
		return
	}
	switch a.Verb {
	case VerbNote, VerbReassign, VerbAddResponder:
		if a.By == "" {
			a.By = DefaultActor
		}
	default:
		a.By = st.verbValue
		if st.byLine > 0 {
			d.r.Add(st.byLine, path+".by", "not allowed with %s (its value is the user)", a.Verb)
		}
	}
	switch {
	case a.Verb == VerbSnooze && st.untilLine == 0:
		d.r.Add(n.Line, path, "snooze needs until")
	case a.Verb == VerbSnooze && a.Until <= a.At:
		d.r.Add(st.untilLine, path+".until", "must be after at (%s)", model.Duration(a.At))
	case a.Verb != VerbSnooze && st.untilLine > 0:
		d.r.Add(st.untilLine, path+".until", "only allowed with snooze")
	}
}

var methods = []string{pager.MethodPush, pager.MethodSMS, pager.MethodVoice, pager.MethodEmail, pager.MethodSlack}

func (d *decoder) pageDone(n *yaml.Node, p *Page, path string, present map[string]bool) {
	p.Line = n.Line
	d.required(n, path, present, "at", "user", "method")
}

var events = []string{"trigger", "acknowledge", "resolve"}

func (d *decoder) forwardDone(n *yaml.Node, f *Forward, path string, present map[string]bool) {
	f.Line = n.Line
	d.required(n, path, present, "at", "channel", "event")
}

// required reports the keys that are missing or null.
func (d *decoder) required(n *yaml.Node, path string, present map[string]bool, keys ...string) {
	for _, k := range keys {
		if !present[k] {
			d.r.Add(n.Line, path, "missing required %s", k)
		}
	}
}
