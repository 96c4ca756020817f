package rules

import (
	"context"
	"errors"
	"fmt"
	"os"
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
	Name string
	// Interval is the group's evaluation interval; 0 means the default the
	// manager is given.
	Interval time.Duration
	// QueryOffset shifts every query of the group into the past.
	QueryOffset time.Duration
	// Limit caps the alerts (alerting rules) or series (recording rules) a
	// rule may produce; 0 means no limit.
	Limit int
	// Labels are added to every rule of the group; rule labels win.
	Labels map[string]string
	Rules  []RuleSpec
	Line   int // line of the group in its file
}

// RuleSpec is one alerting (Alert set) or recording (Record set) rule. Its
// condition is either Expr (PromQL) or a native condition: Series and When,
// optionally By and Value (see package evaluator), never both. It is plain
// data: a group compiles the condition when it is built (once per load or
// reload), whether the spec was parsed or built in code.
type RuleSpec struct {
	Alert, Record string
	// Expr is the condition, a PromQL expression.
	Expr string
	// Series, When, By and Value are the native condition: a PromQL series
	// selector, an expr-lang condition over each matched series (or each
	// By group), and an optional $value expression. A native recording
	// rule records $value for every series (or group) for which When holds.
	Series string   `json:",omitempty"`
	When   string   `json:",omitempty"`
	By     []string `json:",omitempty"`
	Value  string   `json:",omitempty"`
	// SeriesLine, WhenLine, ByLine and ValueLine are the lines of those
	// keys, 0 when absent.
	SeriesLine, WhenLine, ByLine, ValueLine int `json:",omitempty"`

	For           time.Duration
	KeepFiringFor time.Duration
	Labels        map[string]string
	Annotations   map[string]string
	Line          int // line of the rule in its file
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

// fileParser collects the errors of one file.
type fileParser struct {
	w      yamlnode.Walker[invalid]
	promql parser.Parser
	limits querylimit.Limits

	gname   string
	rule    int
	rname   string
	inGroup bool
}

func (p *fileParser) errorf(line int, format string, args ...any) {
	path := ""
	if p.inGroup && (p.gname != "" || p.rule > 0) {
		path = fmt.Sprintf("group %q", p.gname)
		if p.rule > 0 {
			path += fmt.Sprintf(", rule %d (%q)", p.rule, p.rname)
		}
	}
	p.w.R.Add(line, path, format, args...)
}

// resolve follows aliases and counts visits; nil when the budget is spent.
func (p *fileParser) resolve(n *yaml.Node) *yaml.Node { return p.w.Enter(n) }

type pair struct{ key, val *yaml.Node }

// mapping returns the key/value pairs of a mapping node, reporting
// duplicates, unknown keys (when known is not nil) and non-scalar keys.
func (p *fileParser) mapping(n *yaml.Node, what string, known map[string]bool) []pair {
	if n = p.resolve(n); n == nil {
		return nil
	}
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return nil
	}
	if n.Kind != yaml.MappingNode {
		p.errorf(n.Line, "%s: expected a mapping", what)
		return nil
	}
	seen := map[string]bool{}
	var out []pair
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := p.resolve(n.Content[i]), n.Content[i+1]
		if k == nil {
			return out
		}
		if k.Kind != yaml.ScalarNode {
			p.errorf(k.Line, "%s: keys must be strings", what)
			continue
		}
		if k.Value == "<<" {
			p.errorf(k.Line, "%s: merge keys are not supported", what)
			continue
		}
		if seen[k.Value] {
			p.errorf(k.Line, "%s: key %q repeated", what, k.Value)
			continue
		}
		seen[k.Value] = true
		if known != nil && !known[k.Value] {
			p.errorf(k.Line, "%s: unknown key %q", what, k.Value)
			continue
		}
		out = append(out, pair{k, v})
	}
	return out
}

func (p *fileParser) scalar(n *yaml.Node, what string) (string, bool) {
	if n = p.resolve(n); n == nil {
		return "", false
	}
	if n.Kind != yaml.ScalarNode {
		p.errorf(n.Line, "%s: expected a scalar", what)
		return "", false
	}
	if n.Tag == "!!null" {
		return "", true
	}
	return n.Value, true
}

func (p *fileParser) duration(n *yaml.Node, what string) time.Duration {
	s, ok := p.scalar(n, what)
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

// stringMap decodes a mapping of strings, with the line of each key.
func (p *fileParser) stringMap(n *yaml.Node, what string) (map[string]string, map[string]int) {
	pairs := p.mapping(n, what, nil)
	if len(pairs) == 0 {
		return nil, nil
	}
	m := make(map[string]string, len(pairs))
	lines := make(map[string]int, len(pairs))
	for _, kv := range pairs {
		v, ok := p.scalar(kv.val, what+" "+strconv.Quote(kv.key.Value))
		if ok {
			m[kv.key.Value] = v
			lines[kv.key.Value] = kv.key.Line
		}
	}
	return m, lines
}

var (
	groupKeys = map[string]bool{"name": true, "interval": true, "query_offset": true, "limit": true, "labels": true, "rules": true}
	ruleKeys  = map[string]bool{"alert": true, "record": true, "expr": true, "for": true, "keep_firing_for": true, "labels": true, "annotations": true,
		"series": true, "when": true, "by": true, "value": true}
)

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
	p := &fileParser{
		w:      yamlnode.Walker[invalid]{R: r, MaxVisits: maxNodes, TooLarge: "too many YAML nodes after alias expansion"},
		promql: parser.NewParser(parser.Options{}),
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
	root := doc.Root
	if root == nil {
		return f, nil
	}
	seen := map[string]int{}
	for _, kv := range p.mapping(root, "rule file", map[string]bool{"groups": true}) {
		seq := p.resolve(kv.val)
		if seq == nil {
			break
		}
		if seq.Kind == yaml.ScalarNode && seq.Tag == "!!null" {
			continue
		}
		if seq.Kind != yaml.SequenceNode {
			p.errorf(seq.Line, "groups: expected a list")
			continue
		}
		for _, gn := range seq.Content {
			g, ok := p.group(gn)
			if !ok {
				continue
			}
			if g.Name != "" {
				if first, dup := seen[g.Name]; dup {
					p.errorf(g.Line, "group name %q is repeated in the same file (first on line %d)", g.Name, first)
				} else {
					seen[g.Name] = g.Line
				}
			}
			f.Groups = append(f.Groups, g)
		}
	}
	if err := r.Err(); err != nil {
		return nil, err
	}
	return f, nil
}

func (p *fileParser) group(n *yaml.Node) (GroupSpec, bool) {
	n = p.resolve(n)
	if n == nil {
		return GroupSpec{}, false
	}
	g := GroupSpec{Line: n.Line}
	if yamlnode.IsNull(n) { // mapping takes null for empty, an entry may not be
		p.errorf(n.Line, "group: expected a mapping")
		return g, false
	}
	pairs := p.mapping(n, "group", groupKeys)
	if n.Kind != yaml.MappingNode {
		return g, false
	}
	var hasName bool
	for _, kv := range pairs {
		if kv.key.Value == "name" {
			g.Name, _ = p.scalar(kv.val, "name")
			hasName = true
		}
	}
	p.gname, p.rule, p.rname, p.inGroup = g.Name, 0, "", true
	defer func() { p.inGroup = false }()
	if !hasName || g.Name == "" {
		p.errorf(n.Line, "group name must not be empty")
	}
	var rulesNode *yaml.Node
	for _, kv := range pairs {
		switch kv.key.Value {
		case "interval":
			g.Interval = p.duration(kv.val, "interval")
		case "query_offset":
			g.QueryOffset = p.duration(kv.val, "query_offset")
		case "limit":
			if s, ok := p.scalar(kv.val, "limit"); ok && s != "" {
				l, err := strconv.Atoi(s)
				if err != nil || l < 0 {
					p.errorf(kv.val.Line, "limit: expected a non-negative integer, got %q", s)
				}
				g.Limit = l
			}
		case "labels":
			var lines map[string]int
			g.Labels, lines = p.stringMap(kv.val, "labels")
			p.checkLabels(g.Labels, lines)
		case "rules":
			rulesNode = kv.val
		}
	}
	if rulesNode = p.resolve(rulesNode); rulesNode != nil && !(rulesNode.Kind == yaml.ScalarNode && rulesNode.Tag == "!!null") {
		if rulesNode.Kind != yaml.SequenceNode {
			p.errorf(rulesNode.Line, "rules: expected a list")
		} else {
			for i, rn := range rulesNode.Content {
				g.Rules = append(g.Rules, p.ruleSpec(rn, i+1))
			}
		}
	}
	return g, true
}

func (p *fileParser) ruleSpec(n *yaml.Node, idx int) RuleSpec {
	p.rule, p.rname = idx, ""
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
	pairs := p.mapping(n, "rule", ruleKeys)
	var recordNode, exprNode *yaml.Node
	var nat nativeNodes
	var labelLines, annotationLines map[string]int
	var hasAlert, hasRecord bool
	for _, kv := range pairs {
		switch kv.key.Value {
		case "alert":
			r.Alert, _ = p.scalar(kv.val, "alert")
			hasAlert = true
		case "record":
			r.Record, _ = p.scalar(kv.val, "record")
			hasRecord, recordNode = true, kv.val
		case "expr":
			r.Expr, _ = p.scalar(kv.val, "expr")
			exprNode = kv.val
		case "series":
			r.Series, _ = p.scalar(kv.val, "series")
			r.SeriesLine, nat.series = kv.key.Line, kv.val
		case "when":
			r.When, _ = p.scalar(kv.val, "when")
			r.WhenLine, nat.when = kv.key.Line, kv.val
		case "by":
			r.By = p.stringList(kv.val, "by")
			r.ByLine = kv.key.Line
		case "value":
			r.Value, _ = p.scalar(kv.val, "value")
			r.ValueLine, nat.value = kv.key.Line, kv.val
		case "for":
			r.For = p.duration(kv.val, "for")
		case "keep_firing_for":
			r.KeepFiringFor = p.duration(kv.val, "keep_firing_for")
		case "labels":
			r.Labels, labelLines = p.stringMap(kv.val, "labels")
			p.checkLabels(r.Labels, labelLines)
		case "annotations":
			r.Annotations, annotationLines = p.stringMap(kv.val, "annotations")
			for _, k := range sortedKeys(r.Annotations) {
				if !model.LegacyValidation.IsValidLabelName(k) {
					p.errorf(annotationLines[k], "invalid annotation name %q", k)
				}
			}
		}
	}
	if n.Kind != yaml.MappingNode {
		return r
	}
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
		p.native(&r, exprNode != nil, nat)
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
		p.checkTemplates(r, labelLines, annotationLines)
	}
	return r
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

// stringList decodes a sequence of strings (a single scalar is a list of
// one).
func (p *fileParser) stringList(n *yaml.Node, what string) []string {
	if n = p.resolve(n); n == nil {
		return nil
	}
	switch {
	case n.Kind == yaml.ScalarNode && n.Tag == "!!null":
		return nil
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
