package rules

import (
	"context"
	"errors"
	"fmt"
	"os"
	"reflect"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/prometheus/prometheus/template"
	"gopkg.in/yaml.v3"

	"github.com/watchdog-sre/watchdog/evaluator"
	"github.com/watchdog-sre/watchdog/internal/querylimit"
	"github.com/watchdog-sre/watchdog/internal/yamlnode"
)

// ErrInvalid is wrapped by every error ParseFile and LoadFiles return for a
// rule file that is malformed or fails validation. Errors reading a file do
// not wrap it.
var ErrInvalid = errors.New("invalid rule file")

// File is one parsed rule file in the Prometheus rule-file format.
type File struct {
	Path   string
	Groups []GroupSpec
}

// GroupSpec is one rule group as written in a file.
type GroupSpec struct {
	Name string `yaml:"name"`
	// Interval is the group's evaluation interval; 0 means the default the
	// manager is given.
	Interval time.Duration `yaml:"interval"`
	// QueryOffset shifts every query of the group into the past.
	QueryOffset time.Duration `yaml:"query_offset"`
	// Limit caps the alerts (alerting rules) or series (recording rules) a
	// rule may produce; 0 means no limit.
	Limit int `yaml:"limit"`
	// Labels are added to every rule of the group; rule labels win.
	Labels map[string]string `yaml:"labels"`
	Rules  []RuleSpec        `yaml:"rules"`
	Line   int               `yaml:"-"` // line of the group in its file
}

// RuleSpec is one alerting (Alert set) or recording (Record set) rule. Its
// condition is either Expr (PromQL) or a native condition: Series and When,
// optionally By and Value (see package evaluator), never both. It is plain
// data: a group compiles the condition when it is built (once per load or
// reload), whether the spec was parsed or built in code.
type RuleSpec struct {
	Alert  string `yaml:"alert"`
	Record string `yaml:"record"`
	// Expr is the condition, a PromQL expression.
	Expr string `yaml:"expr"`
	// Series, When, By and Value are the native condition: a PromQL series
	// selector, an expr-lang condition over each matched series (or each
	// By group), and an optional $value expression. A native recording
	// rule records $value for every series (or group) for which When holds.
	Series string   `json:",omitempty" yaml:"series"`
	When   string   `json:",omitempty" yaml:"when"`
	By     []string `json:",omitempty" yaml:"by"`
	Value  string   `json:",omitempty" yaml:"value"`
	// SeriesLine, WhenLine, ByLine and ValueLine are the lines of those
	// keys, 0 when absent.
	SeriesLine, WhenLine, ByLine, ValueLine int `json:",omitempty" yaml:"-"`

	For           time.Duration     `yaml:"for"`
	KeepFiringFor time.Duration     `yaml:"keep_firing_for"`
	Labels        map[string]string `yaml:"labels"`
	Annotations   map[string]string `yaml:"annotations"`
	Line          int               `yaml:"-"` // line of the rule in its file
}

// IsNative reports whether the rule has a native condition rather than a
// PromQL expression.
func (r *RuleSpec) IsNative() bool {
	return r.Series != "" || r.When != "" || len(r.By) > 0 || r.Value != "" ||
		r.SeriesLine > 0 || r.WhenLine > 0 || r.ByLine > 0 || r.ValueLine > 0
}

// NativeSpec returns the native condition as the evaluator takes it.
func (r *RuleSpec) NativeSpec() evaluator.Spec {
	return evaluator.Spec{Series: r.Series, When: r.When, By: r.By, Value: r.Value}
}

// Name is the alert or record name.
func (r *RuleSpec) Name() string {
	if r.Alert != "" {
		return r.Alert
	}
	return r.Record
}

// invalid is the yamlnode.Kind of this package's errors.
type invalid struct{}

// Sentinel returns ErrInvalid.
func (invalid) Sentinel() error { return ErrInvalid }

// Error is one problem found in a rule file. ParseFile returns all problems
// of a file joined with errors.Join, each as an *Error. It formats as
// `file:line: group "g", rule N ("name"): message` (its Path is the group
// and rule part), leaving out the parts that do not apply, and every
// *Error matches ErrInvalid.
type Error = yamlnode.Error[invalid]

// maxNodes bounds the YAML nodes visited per file, so that alias bombs
// cannot make parsing explode.
const maxNodes = 1 << 20

// loadTime is the evaluation time rule expressions are checked at: a rule
// is an instant query, so only its subqueries' own spans matter, not when.
var loadTime = time.Unix(0, 0)

// isLimit reports whether err is a refusal by the query limits rather than
// a syntax error.
func isLimit(err error) bool {
	return errors.Is(err, querylimit.ErrQueryTooLong) || errors.Is(err, querylimit.ErrQueryTooDeep) ||
		errors.Is(err, querylimit.ErrTooManyPoints)
}

// fileParser collects the errors of one file. The file is decoded by
// yamlnode.Decoder into fileDoc (the yaml tags of GroupSpec and RuleSpec
// name the keys), in the established words of rule files (see word): keys
// checked before values, a group's name read first, its rules last and
// every message carrying the group and rule it is about (see errorf).
type fileParser struct {
	dec    yamlnode.Decoder[invalid]
	promql parser.Parser
	limits querylimit.Limits

	gname   string
	rule    int
	rname   string
	inGroup bool

	groupLines map[string]int // group name → line, for repeated names
	rulesNode  *yaml.Node     // of the group being decoded, as written
	// lines of the labels and annotations of the rule being decoded
	labelLines, annotationLines map[string]int
	ruleDone                    bool // endRule ran for the rule being decoded
}

// fileDoc is the top level of a rule file.
type fileDoc struct {
	Groups []GroupSpec `yaml:"groups"`
}

func (p *fileParser) errorf(line int, format string, args ...any) {
	path := ""
	if p.inGroup && (p.gname != "" || p.rule > 0) {
		path = fmt.Sprintf("group %q", p.gname)
		if p.rule > 0 {
			path += fmt.Sprintf(", rule %d (%q)", p.rule, p.rname)
		}
	}
	p.dec.R.Add(line, path, format, args...)
}

// resolve follows aliases and counts visits; nil when the budget is spent.
func (p *fileParser) resolve(n *yaml.Node) *yaml.Node { return p.dec.Enter(n) }

var (
	fileType  = reflect.TypeFor[fileDoc]()
	groupType = reflect.TypeFor[GroupSpec]()
	ruleType  = reflect.TypeFor[RuleSpec]()
)

// what names the part of a rule file a value of type t is, in messages.
func what(t reflect.Type) string {
	switch t {
	case fileType:
		return "rule file"
	case groupType:
		return "group"
	case ruleType:
		return "rule"
	}
	return t.String() // not met: lists and maps are read by hooks
}

// word records a fault the decoder found in the words of rule files.
func (p *fileParser) word(f yamlnode.Fault) {
	w := what(f.Type)
	switch {
	case f.Kind == yamlnode.NotList:
		p.errorf(f.Node.Line, "%s: expected a list", w)
	case f.Kind == yamlnode.NotMap || f.Kind == yamlnode.EmptyEntry:
		p.errorf(f.Node.Line, "%s: expected a mapping", w)
	case f.Kind == yamlnode.BadKey:
		p.errorf(f.Node.Line, "%s: keys must be strings", w)
	case f.Node.Value == "<<":
		p.errorf(f.Node.Line, "%s: merge keys are not supported", w)
	case f.Kind == yamlnode.RepeatedKey:
		p.errorf(f.Node.Line, "%s: key %q repeated", w, f.Node.Value)
	default:
		p.errorf(f.Node.Line, "%s: unknown key %q", w, f.Node.Value)
	}
}

// lastKey is the last key of a decoder path such as r.expr.
func lastKey(path string) string { return path[strings.LastIndexByte(path, '.')+1:] }

// scalar enters n and returns its text ("" when null).
func (p *fileParser) scalar(n *yaml.Node, what string) (string, bool) {
	if n = p.resolve(n); n == nil {
		return "", false
	}
	return p.text(n, what)
}

// text returns the text of the entered scalar n ("" when null).
func (p *fileParser) text(n *yaml.Node, what string) (string, bool) {
	if n.Kind != yaml.ScalarNode {
		p.errorf(n.Line, "%s: expected a scalar", what)
		return "", false
	}
	if n.Tag == "!!null" {
		return "", true
	}
	return n.Value, true
}

// duration parses the entered node n as a Prometheus duration.
func (p *fileParser) duration(n *yaml.Node, what string) time.Duration {
	s, ok := p.text(n, what)
	if !ok || s == "" {
		return 0
	}
	d, err := model.ParseDuration(s)
	if err != nil {
		p.errorf(n.Line, "%s: invalid duration %q", what, s)
		return 0
	}
	return time.Duration(d)
}

// stringMap decodes a mapping of strings (labels, annotations), with the
// line of each key, from the entered, non-null node n: every key problem
// first, then the values.
func (p *fileParser) stringMap(n *yaml.Node, what string) (map[string]string, map[string]int) {
	if n.Kind != yaml.MappingNode {
		p.errorf(n.Line, "%s: expected a mapping", what)
		return nil, nil
	}
	type kv struct{ key, val *yaml.Node }
	var pairs []kv
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := p.resolve(n.Content[i])
		switch {
		case k == nil:
			i = len(n.Content)
			continue
		case k.Kind != yaml.ScalarNode:
			p.errorf(k.Line, "%s: keys must be strings", what)
		case k.Value == "<<":
			p.errorf(k.Line, "%s: merge keys are not supported", what)
		case seen[k.Value]:
			p.errorf(k.Line, "%s: key %q repeated", what, k.Value)
		default:
			seen[k.Value] = true
			pairs = append(pairs, kv{k, n.Content[i+1]})
		}
	}
	if len(pairs) == 0 {
		return nil, nil
	}
	m := make(map[string]string, len(pairs))
	lines := make(map[string]int, len(pairs))
	for _, kv := range pairs {
		if v, ok := p.scalar(kv.val, what+" "+strconv.Quote(kv.key.Value)); ok {
			m[kv.key.Value] = v
			lines[kv.key.Value] = kv.key.Line
		}
	}
	return m, lines
}

// ParseFile parses a rule file. It reports every problem of the file at
// once, joined with errors.Join, each an *Error wrapping ErrInvalid:
// malformed YAML, unknown or repeated keys, bad durations, repeated or empty
// group names, rules with both or neither of alert and record, invalid
// record names, label and annotation names, unparsable PromQL, PromQL
// beyond the default query limits of package querylimit (the same length,
// nesting and points-per-series limits the HTTP API applies: a subquery
// such as x[100y:1ms] is refused here, not found out by running out of
// memory at its first evaluation), templates that do not parse, rules with both or neither of expr and a native
// condition, and native conditions that do not compile (compiled here,
// once, with evaluator.Compile). An empty file has no groups.
func ParseFile(data []byte, filename string) (*File, error) {
	r := &yamlnode.Report[invalid]{File: filename}
	p := &fileParser{promql: parser.NewParser(parser.Options{}), groupLines: map[string]int{}}
	p.dec = yamlnode.Decoder[invalid]{
		Walker: yamlnode.Walker[invalid]{R: r, MaxVisits: maxNodes, TooLarge: tooLarge,
			RejectMerge: true},
		KeysFirst: true,
		Wording:   p.word,
		Custom: map[reflect.Type]yamlnode.Hook{
			reflect.TypeFor[string](): yamlnode.On(func(n *yaml.Node, s *string, path string) {
				*s, _ = p.text(n, lastKey(path))
			}),
			reflect.TypeFor[time.Duration](): yamlnode.On(func(n *yaml.Node, d *time.Duration, path string) {
				*d = p.duration(n, lastKey(path))
			}),
		},
		Fields: map[reflect.Type]map[string]yamlnode.Hook{
			fileType:  {"groups": yamlnode.On(p.groups)},
			groupType: p.groupFields(),
			ruleType:  p.ruleFields(),
		},
		Begin: map[reflect.Type]func(*yaml.Node, reflect.Value, string){groupType: p.beginGroup},
		Done: map[reflect.Type]func(*yaml.Node, reflect.Value, string, map[string]bool){
			groupType: p.endGroup,
			ruleType:  p.endRule,
		},
	}
	f := &File{Path: filename}
	doc := yamlnode.Parse(data)
	switch {
	case doc.Empty:
		return f, nil
	case doc.Err != nil:
		r.AddYAMLError(doc.Err)
		return nil, r.Err()
	case doc.HasExtra():
		p.errorf(doc.ExtraLine(), "multiple YAML documents are not supported")
	}
	if doc.Root == nil {
		return f, nil
	}
	var fd fileDoc
	p.dec.Decode(doc.Root, &fd, "")
	for _, e := range r.Errs {
		if e.Msg == tooLarge {
			e.Path = "" // found wherever the budget ran out
		}
	}
	if err := r.Err(); err != nil {
		return nil, err
	}
	f.Groups = fd.Groups
	return f, nil
}

const tooLarge = "too many YAML nodes after alias expansion"

// groups decodes the entered, non-null list of groups.
func (p *fileParser) groups(n *yaml.Node, fd *fileDoc, _ string) {
	if n.Kind != yaml.SequenceNode {
		p.errorf(n.Line, "groups: expected a list")
		return
	}
	for _, gn := range n.Content {
		if gn = p.resolve(gn); gn == nil {
			continue
		}
		if yamlnode.IsNull(gn) {
			p.errorf(gn.Line, "group: expected a mapping")
			continue
		}
		var g GroupSpec
		p.dec.Decode(gn, &g, "group")
		switch {
		case g.Line > 0: // a mapping (see beginGroup)
			fd.Groups = append(fd.Groups, g)
		case gn.Kind == yaml.MappingNode: // the budget ran out entering it
			p.errorf(gn.Line, "group name must not be empty")
		}
	}
}

// beginGroup reads the name of a group, which every later message of the
// group carries.
func (p *fileParser) beginGroup(n *yaml.Node, v reflect.Value, _ string) {
	g := v.Addr().Interface().(*GroupSpec)
	g.Line = n.Line
	p.rulesNode = nil
	hasName := false
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := yamlnode.Resolve(n.Content[i])
		if k == nil || k.Kind != yaml.ScalarNode {
			continue
		}
		switch {
		case k.Value == "name" && !hasName:
			g.Name, _ = p.scalar(n.Content[i+1], "name")
			hasName = true
		case k.Value == "rules" && p.rulesNode == nil:
			p.rulesNode = n.Content[i+1]
		}
	}
	p.gname, p.rule, p.rname, p.inGroup = g.Name, 0, "", true
	if !hasName || g.Name == "" {
		p.errorf(n.Line, "group name must not be empty")
	}
}

func (p *fileParser) groupFields() map[string]yamlnode.Hook {
	return map[string]yamlnode.Hook{
		"name":  nil, // see beginGroup
		"rules": nil, // see endGroup
		"limit": yamlnode.On(func(n *yaml.Node, g *GroupSpec, _ string) {
			if s, ok := p.text(n, "limit"); ok && s != "" {
				l, err := strconv.Atoi(s)
				if err != nil || l < 0 {
					p.errorf(n.Line, "limit: expected a non-negative integer, got %q", s)
				}
				g.Limit = l
			}
		}),
		"labels": yamlnode.On(func(n *yaml.Node, g *GroupSpec, _ string) {
			var lines map[string]int
			g.Labels, lines = p.stringMap(n, "labels")
			p.checkLabels(g.Labels, lines)
		}),
	}
}

// endGroup decodes the rules of a group, once its other keys are read.
func (p *fileParser) endGroup(_ *yaml.Node, v reflect.Value, _ string, _ map[string]bool) {
	g := v.Addr().Interface().(*GroupSpec)
	if n := p.resolve(p.rulesNode); n != nil && !yamlnode.IsNull(n) {
		if n.Kind != yaml.SequenceNode {
			p.errorf(n.Line, "rules: expected a list")
		} else {
			for i, rn := range n.Content {
				g.Rules = append(g.Rules, p.ruleSpec(rn, i+1))
			}
		}
	}
	p.inGroup = false
	if g.Name != "" {
		if first, dup := p.groupLines[g.Name]; dup {
			p.errorf(g.Line, "group name %q is repeated in the same file (first on line %d)", g.Name, first)
		} else {
			p.groupLines[g.Name] = g.Line
		}
	}
}

func (p *fileParser) ruleSpec(n *yaml.Node, idx int) RuleSpec {
	p.rule, p.rname = idx, ""
	p.labelLines, p.annotationLines = nil, nil
	n = p.resolve(n)
	if n == nil {
		return RuleSpec{}
	}
	r := RuleSpec{Line: n.Line}
	if yamlnode.IsNull(n) {
		p.errorf(n.Line, "rule: expected a mapping")
		return r
	}
	// The name first, so that every error of the rule carries it.
	if n.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(n.Content); i += 2 {
			if k := n.Content[i]; k.Kind == yaml.ScalarNode && (k.Value == "alert" || k.Value == "record") {
				if v := p.resolve(n.Content[i+1]); v != nil && v.Kind == yaml.ScalarNode && p.rname == "" {
					p.rname = v.Value
				}
			}
		}
	}
	p.ruleDone = false
	p.dec.Decode(n, &r, "rule")
	if !p.ruleDone && n.Kind == yaml.MappingNode { // the budget ran out entering it
		p.endRule(n, reflect.ValueOf(&r).Elem(), "", nil)
	}
	return r
}

func (p *fileParser) ruleFields() map[string]yamlnode.Hook {
	return map[string]yamlnode.Hook{
		"by": yamlnode.On(func(n *yaml.Node, r *RuleSpec, _ string) { r.By = p.stringList(n, "by") }),
		"labels": yamlnode.On(func(n *yaml.Node, r *RuleSpec, _ string) {
			r.Labels, p.labelLines = p.stringMap(n, "labels")
			p.checkLabels(r.Labels, p.labelLines)
		}),
		"annotations": yamlnode.On(func(n *yaml.Node, r *RuleSpec, _ string) {
			r.Annotations, p.annotationLines = p.stringMap(n, "annotations")
			for _, k := range sortedKeys(r.Annotations) {
				if !model.LegacyValidation.IsValidLabelName(k) {
					p.errorf(p.annotationLines[k], "invalid annotation name %q", k)
				}
			}
		}),
	}
}

// endRule checks a rule once its keys are read.
func (p *fileParser) endRule(n *yaml.Node, v reflect.Value, _ string, present map[string]bool) {
	r := v.Addr().Interface().(*RuleSpec)
	p.ruleDone = true
	// The key lines and raw value nodes of the keys read (the first of each).
	keys := map[string][2]*yaml.Node{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := yamlnode.Resolve(n.Content[i])
		if k == nil || k.Kind != yaml.ScalarNode {
			continue
		}
		if _, ok := present[k.Value]; ok && keys[k.Value][0] == nil {
			keys[k.Value] = [2]*yaml.Node{k, n.Content[i+1]}
		}
	}
	line := func(key string) int {
		if k := keys[key][0]; k != nil {
			return k.Line
		}
		return 0
	}
	r.SeriesLine, r.WhenLine, r.ByLine, r.ValueLine = line("series"), line("when"), line("by"), line("value")
	_, hasAlert := present["alert"]
	_, hasRecord := present["record"]
	recordNode, exprNode := keys["record"][1], keys["expr"][1]
	switch {
	case r.Alert != "" && r.Record != "":
		p.errorf(r.Line, "only one of 'record' and 'alert' must be set")
	case r.Alert == "" && r.Record == "":
		if hasAlert || hasRecord {
			p.errorf(r.Line, "'alert' or 'record' must not be empty")
		} else {
			p.errorf(r.Line, "one of 'record' or 'alert' must be set")
		}
	}
	switch {
	case r.IsNative():
		p.native(r, exprNode != nil, nativeNodes{keys["series"][1], keys["when"][1], keys["value"][1]})
	default:
		line := r.Line
		if exprNode != nil {
			line = exprNode.Line
		}
		if strings.TrimSpace(r.Expr) == "" {
			p.errorf(line, "field 'expr' must be set in rule")
		} else if err := p.limits.Admit(p.promql, r.Expr, loadTime, loadTime, 0); err != nil {
			if isLimit(err) {
				p.errorf(line, "expression refused: %s", oneLine(err.Error()))
			} else {
				p.errorf(line, "could not parse expression: %s", oneLine(err.Error()))
			}
		}
	}
	if r.Record != "" {
		rl := recordNode.Line
		if len(r.Annotations) > 0 {
			p.errorf(rl, "invalid field 'annotations' in recording rule")
		}
		if r.For != 0 {
			p.errorf(rl, "invalid field 'for' in recording rule")
		}
		if r.KeepFiringFor != 0 {
			p.errorf(rl, "invalid field 'keep_firing_for' in recording rule")
		}
		if strings.ContainsAny(r.Record, "{}") {
			p.errorf(rl, "braces present in the recording rule name; should it be in expr?: %s", r.Record)
		} else if !model.LegacyValidation.IsValidMetricName(r.Record) {
			p.errorf(rl, "invalid recording rule name: %s", r.Record)
		}
	}
	if r.Alert != "" && !utf8.ValidString(r.Alert) {
		p.errorf(r.Line, "alert name is not valid UTF-8")
	}
	if r.Alert != "" {
		p.checkTemplates(*r, p.labelLines, p.annotationLines)
	}
}

// nativeNodes are the value nodes of a rule's native condition keys.
type nativeNodes struct{ series, when, value *yaml.Node }

// native checks a rule's native condition by compiling it (the group that
// runs the rule compiles its own, see newCondition).
func (p *fileParser) native(r *RuleSpec, hasExpr bool, nat nativeNodes) {
	switch {
	case hasExpr:
		p.errorf(r.Line, "only one of 'expr' and a native condition ('series' and 'when') must be set")
		return
	case r.SeriesLine == 0:
		p.errorf(r.Line, "field 'series' must be set in a rule with a native condition")
		return
	case r.WhenLine == 0:
		p.errorf(r.Line, "field 'when' must be set in a rule with a native condition")
		return
	}
	_, err := evaluator.Compile(r.NativeSpec(), evaluator.Options{})
	var ce *evaluator.CompileError
	switch {
	case err == nil:
	case errors.As(err, &ce):
		line, node := r.Line, (*yaml.Node)(nil)
		switch ce.Field {
		case "series":
			line, node = r.SeriesLine, nat.series
		case "when":
			line, node = r.WhenLine, nat.when
		case "by":
			line = r.ByLine
		case "value":
			line, node = r.ValueLine, nat.value
		}
		// In a literal block scalar (|) line L of the text is L lines below
		// the indicator; other styles fold their lines.
		if node != nil && node.Style&yaml.LiteralStyle != 0 && ce.Line > 0 {
			line = node.Line + ce.Line
		}
		if ce.Line > 0 {
			p.errorf(line, "%s: line %d column %d: %s", ce.Field, ce.Line, ce.Column, oneLine(ce.Msg))
		} else {
			p.errorf(line, "%s: %s", ce.Field, oneLine(ce.Msg))
		}
	default:
		p.errorf(r.Line, "native condition: %s", oneLine(err.Error()))
	}
}

// stringList decodes the entered, non-null node n as a sequence of
// strings (a single scalar is a list of one).
func (p *fileParser) stringList(n *yaml.Node, what string) []string {
	switch {
	case n.Kind == yaml.ScalarNode:
		return []string{n.Value}
	case n.Kind != yaml.SequenceNode:
		p.errorf(n.Line, "%s: expected a list of strings", what)
		return nil
	}
	out := make([]string, 0, len(n.Content))
	for _, e := range n.Content {
		if s, ok := p.scalar(e, what); ok {
			out = append(out, s)
		}
	}
	return out
}

func (p *fileParser) checkLabels(m map[string]string, lines map[string]int) {
	for _, k := range sortedKeys(m) {
		if !model.LegacyValidation.IsValidLabelName(k) || k == model.MetricNameLabel {
			p.errorf(lines[k], "invalid label name %q", k)
		}
		if !utf8.ValidString(m[k]) {
			p.errorf(lines[k], "invalid label value for %q: not valid UTF-8", k)
		}
	}
}

func (p *fileParser) checkTemplates(r RuleSpec, labelLines, annotationLines map[string]int) {
	for _, k := range sortedKeys(r.Labels) {
		if err := parseTemplate(r.Alert, r.Labels[k]); err != nil {
			p.errorf(labelLines[k], "label %q: %s", k, oneLine(err.Error()))
		}
	}
	for _, k := range sortedKeys(r.Annotations) {
		if err := parseTemplate(r.Alert, r.Annotations[k]); err != nil {
			p.errorf(annotationLines[k], "annotation %q: %s", k, oneLine(err.Error()))
		}
	}
}

// parseTemplate checks that text parses as an alert template.
func parseTemplate(alert, text string) error {
	tmpl := template.NewTemplateExpander(context.Background(), templateDefs+text, "__alert_"+alert,
		template.AlertTemplateData(nil, nil, "", promql.Sample{}), 0, nil, nil, nil)
	return tmpl.ParseTest()
}

func oneLine(s string) string { return strings.ReplaceAll(s, "\n", "; ") }

// LoadFiles reads and parses rule files in order. It returns the errors of
// all files at once.
func LoadFiles(paths ...string) ([]*File, error) {
	var (
		files []*File
		errs  []error
	)
	for _, path := range paths {
		data, err := os.ReadFile(path)
		if err != nil {
			errs = append(errs, fmt.Errorf("read rule file: %w", err))
			continue
		}
		f, err := ParseFile(data, path)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		files = append(files, f)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return files, nil
}
