package evaluator

import (
	"errors"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strings"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/checker"
	"github.com/expr-lang/expr/compiler"
	"github.com/expr-lang/expr/conf"
	"github.com/expr-lang/expr/file"
	"github.com/expr-lang/expr/parser"
	"github.com/expr-lang/expr/vm"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	promparser "github.com/prometheus/prometheus/promql/parser"
)

// fnKind is a window function.
type fnKind uint8

const (
	fnValue fnKind = iota
	fnAbsent
	fnRate
	fnIrate
	fnIncrease
	fnDelta
	fnDeriv
	fnAvg
	fnMin
	fnMax
	fnSum
	fnCount
	fnStddev
	fnStdvar
	fnLast
	fnQuantile
	fnChanges
	fnResets
)

// rangeFuncs are the functions taking (range[, offset]).
var rangeFuncs = map[string]fnKind{
	"rate": fnRate, "irate": fnIrate, "increase": fnIncrease, "delta": fnDelta, "deriv": fnDeriv,
	"avg_over_time": fnAvg, "min_over_time": fnMin, "max_over_time": fnMax, "sum_over_time": fnSum,
	"count_over_time": fnCount, "stddev_over_time": fnStddev, "stdvar_over_time": fnStdvar,
	"last_over_time": fnLast, "changes": fnChanges, "resets": fnResets,
}

// labelsIdent is the identifier through which conditions read labels.
const labelsIdent = "labels"

// slot is one distinct function call of a condition; its value is computed
// per series (or summed per group) before the condition runs.
type slot struct {
	fn  fnKind
	win int     // index into Condition.windows
	q   float64 // quantile_over_time's q
}

// window is a time window relative to the evaluation time: (end-rng, end]
// with end = ts-off, or for instant selectors (value, absent()) the lookback
// (end-lookback, end].
type window struct {
	rng, off int64 // milliseconds
	instant  bool
}

// program is one compiled expression: a Go closure when the fast path
// applies, else expr bytecode.
type program struct {
	prog  *vm.Program
	fastB func(*env) bool
	fastF func(*env) float64
}

// env is the per-series (or per-group) environment passed to the VM as
// $env and to fast-path closures. It is owned by one worker.
type env struct {
	vals []float64     // slot values, NaN when the function has no result
	lset labels.Labels // series labels, or group labels with By
}

// checkEnv declares the user-visible variables for type checking.
type checkEnv struct {
	Labels map[string]string `expr:"labels"`
}

var promParser = promparser.NewParser(promparser.Options{})

// parseSelector parses a PromQL series selector.
func parseSelector(s string) ([]*labels.Matcher, error) {
	if strings.TrimSpace(s) == "" {
		return nil, &CompileError{Field: "series", Msg: "empty series selector"}
	}
	ms, err := promParser.ParseMetricSelector(s)
	if err != nil {
		var perrs promparser.ParseErrors
		if errors.As(err, &perrs) && len(perrs) > 0 {
			line, col := lineCol(s, int(perrs[0].PositionRange.Start))
			return nil, &CompileError{Field: "series", Line: line, Column: col, Msg: perrs[0].Err.Error()}
		}
		return nil, &CompileError{Field: "series", Msg: err.Error()}
	}
	return ms, nil
}

// lineCol converts a byte offset into 1-based line and column (in runes).
func lineCol(s string, off int) (line, col int) {
	line, col = 1, 1
	for i, r := range s {
		if i >= off {
			break
		}
		if r == '\n' {
			line, col = line+1, 1
		} else {
			col++
		}
	}
	return line, col
}

// compiler state shared by the when and value expressions.
type slotTable struct {
	c       *Condition
	slotIdx map[slot]int
	winIdx  map[window]int
}

func (c *Condition) compileExprs() error {
	st := &slotTable{c: c, slotIdx: map[slot]int{}, winIdx: map[window]int{}}
	when, err := st.compile("when", c.spec.When, true)
	if err != nil {
		return err
	}
	if c.when.prog, err = compileTree(when); err != nil {
		return &CompileError{Field: "when", Msg: err.Error()}
	}
	var valueTree *parser.Tree
	if strings.TrimSpace(c.spec.Value) != "" {
		if valueTree, err = st.compile("value", c.spec.Value, false); err != nil {
			return err
		}
	} else if n := firstComparisonLeft(when.Node); n != nil {
		valueTree = &parser.Tree{Node: n, Source: when.Source}
	}
	if valueTree != nil {
		c.promql, _ = c.promQLOf(valueTree.Node)
	}
	if valueTree == nil {
		c.value.fastF = func(*env) float64 { return 1 }
	} else if c.value.prog, err = compileTree(valueTree); err != nil {
		return &CompileError{Field: "value", Msg: err.Error()}
	}
	if !c.opts.NoFastPath {
		c.when.fastB = fastBool(when.Node)
		if valueTree != nil {
			c.value.fastF = fastFloat(valueTree.Node)
		}
	}
	return nil
}

// compile parses, type-checks and patches one expression: calls of window
// functions become __slot/__absent calls, label reads become __label calls.
func (st *slotTable) compile(field, src string, isBool bool) (*parser.Tree, error) {
	if strings.TrimSpace(src) == "" {
		return nil, &CompileError{Field: field, Msg: "empty expression"}
	}
	cfg := checkConfig()
	tree, err := parser.ParseWithConfig(src, cfg)
	if err != nil {
		return nil, exprError(field, err)
	}
	typ, err := checker.Check(tree, cfg)
	if err != nil {
		return nil, exprError(field, err)
	}
	p := &patcher{st: st, field: field, tree: tree}
	ast.Walk(&tree.Node, p)
	if p.err == nil {
		ast.Walk(&tree.Node, &leftover{p: p})
	}
	if p.err != nil {
		return nil, p.err
	}
	if typ, err = checker.Check(tree, runConfig()); err != nil {
		return nil, exprError(field, err)
	}
	switch {
	case isBool && (typ == nil || typ.Kind() != reflect.Bool):
		return nil, &CompileError{Field: field, Line: 1, Column: 1, Msg: fmt.Sprintf("condition must be boolean, got %v", typ)}
	case !isBool && !isNumber(typ):
		return nil, &CompileError{Field: field, Line: 1, Column: 1, Msg: fmt.Sprintf("value must be a number, got %v", typ)}
	}
	return tree, nil
}

func compileTree(tree *parser.Tree) (*vm.Program, error) {
	return compiler.Compile(tree, runConfig())
}

func isNumber(t reflect.Type) bool {
	if t == nil {
		return false
	}
	switch t.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64,
		reflect.Float32, reflect.Float64:
		return true
	}
	return false
}

// exprError converts an expr parse or check error.
func exprError(field string, err error) *CompileError {
	var fe *file.Error
	if errors.As(err, &fe) {
		return &CompileError{Field: field, Line: fe.Line, Column: fe.Column + 1, Msg: fe.Message}
	}
	return &CompileError{Field: field, Msg: err.Error()}
}

func (st *slotTable) nodeError(field string, tree *parser.Tree, n ast.Node, msg string) *CompileError {
	fe := (&file.Error{Location: n.Location(), Message: msg}).Bind(tree.Source)
	return &CompileError{Field: field, Line: fe.Line, Column: fe.Column + 1, Msg: msg}
}

// checkConfig declares the user-visible functions with their signatures.
func checkConfig() *conf.Config {
	noop := func(...any) (any, error) { return nil, nil }
	opts := []expr.Option{
		expr.Env(checkEnv{}),
		expr.Function("value", noop, new(func(...string) float64)),
		expr.Function("absent", noop, new(func(...string) bool)),
		expr.Function("quantile_over_time", noop, new(func(float64, string, ...string) float64)),
		pctChangeFunc(),
	}
	for name := range rangeFuncs {
		opts = append(opts, expr.Function(name, noop, new(func(string, ...string) float64)))
	}
	return newConfig(opts)
}

// runConfig declares the functions of patched trees.
func runConfig() *conf.Config {
	return newConfig([]expr.Option{
		expr.Env(struct{}{}),
		expr.Function("__slot", func(p ...any) (any, error) {
			return p[0].(*env).vals[p[1].(int)], nil
		}, new(func(any, int) float64)),
		expr.Function("__absent", func(p ...any) (any, error) {
			return p[0].(*env).vals[p[1].(int)] != 0, nil
		}, new(func(any, int) bool)),
		expr.Function("__label", func(p ...any) (any, error) {
			return p[0].(*env).lset.Get(p[1].(string)), nil
		}, new(func(any, string) string)),
		pctChangeFunc(),
	})
}

func newConfig(opts []expr.Option) *conf.Config {
	cfg := conf.CreateNew()
	for _, o := range opts {
		o(cfg)
	}
	cfg.Check()
	return cfg
}

func pctChangeFunc() expr.Option {
	return expr.Function("pct_change", func(p ...any) (any, error) {
		z := math.NaN()
		if len(p) == 3 {
			z = toFloat(p[2])
		}
		return pctChange(toFloat(p[0]), toFloat(p[1]), z), nil
	}, new(func(float64, float64) float64), new(func(float64, float64, float64) float64))
}

// pctChange is ((n-o)/o)*100, or ifZero when o == 0.
func pctChange(n, o, ifZero float64) float64 {
	if o == 0 {
		return ifZero
	}
	return (n - o) / o * 100
}

func toFloat(v any) float64 {
	switch x := v.(type) {
	case float64:
		return x
	case int:
		return float64(x)
	case float32:
		return float64(x)
	case int64:
		return float64(x)
	case int32:
		return float64(x)
	case uint:
		return float64(x)
	case uint64:
		return float64(x)
	}
	panic(fmt.Sprintf("not a number: %T", v))
}

// patcher rewrites window-function calls and label reads.
type patcher struct {
	st    *slotTable
	field string
	tree  *parser.Tree
	err   error
}

func (p *patcher) fail(n ast.Node, format string, args ...any) {
	if p.err == nil {
		p.err = p.st.nodeError(p.field, p.tree, n, fmt.Sprintf(format, args...))
	}
}

// Visit implements ast.Visitor.
func (p *patcher) Visit(node *ast.Node) {
	if p.err != nil {
		return
	}
	switch n := (*node).(type) {
	case *ast.CallNode:
		id, ok := n.Callee.(*ast.IdentifierNode)
		if !ok {
			return
		}
		var (
			k      int
			callee = "__slot"
			ok2    bool
		)
		switch fn, isRange := rangeFuncs[id.Value]; {
		case isRange:
			k, ok2 = p.rangeCall(n, fn, n.Arguments, 0)
		case id.Value == "quantile_over_time":
			if q, qok := p.number(n.Arguments[0]); qok {
				k, ok2 = p.rangeCall(n, fnQuantile, n.Arguments[1:], q)
			}
		case id.Value == "value":
			k, ok2 = p.instantCall(n, fnValue)
		case id.Value == "absent":
			callee = "__absent"
			if len(n.Arguments) == 0 {
				k, ok2 = p.instantCall(n, fnAbsent)
			} else {
				k, ok2 = p.rangeCall(n, fnAbsent, n.Arguments, 0)
			}
		default:
			return
		}
		if ok2 {
			ast.Patch(node, &ast.CallNode{
				Callee:    &ast.IdentifierNode{Value: callee},
				Arguments: []ast.Node{&ast.IdentifierNode{Value: "$env"}, &ast.IntegerNode{Value: k}},
			})
		}
	case *ast.MemberNode:
		id, ok := n.Node.(*ast.IdentifierNode)
		if !ok || id.Value != labelsIdent {
			return
		}
		s, ok := n.Property.(*ast.StringNode)
		if !ok {
			p.fail(n.Property, "labels must be indexed by a constant label name")
			return
		}
		if len(p.st.c.by) > 0 && !slices.Contains(p.st.c.by, s.Value) {
			p.fail(n.Property, "label %q is not in by: %v (a by rule sees only the group labels)", s.Value, p.st.c.spec.By)
			return
		}
		ast.Patch(node, &ast.CallNode{
			Callee:    &ast.IdentifierNode{Value: "__label"},
			Arguments: []ast.Node{&ast.IdentifierNode{Value: "$env"}, &ast.StringNode{Value: s.Value}},
		})
	}
}

// number reads a numeric literal (optionally negated).
func (p *patcher) number(n ast.Node) (float64, bool) {
	switch x := n.(type) {
	case *ast.IntegerNode:
		return float64(x.Value), true
	case *ast.FloatNode:
		return x.Value, true
	case *ast.UnaryNode:
		if x.Operator == "-" {
			if v, ok := p.number(x.Node); ok {
				return -v, true
			}
			return 0, false
		}
	}
	p.fail(n, "quantile must be a number literal")
	return 0, false
}

// duration reads a duration string literal.
func (p *patcher) duration(n ast.Node, what string) (int64, bool) {
	s, ok := n.(*ast.StringNode)
	if !ok {
		p.fail(n, "%s must be a string literal such as \"5m\"", what)
		return 0, false
	}
	d, err := model.ParseDuration(s.Value)
	if err != nil {
		p.fail(n, "bad %s %q: %v", what, s.Value, err)
		return 0, false
	}
	ms := int64(d) / 1e6
	if what == "range" && ms <= 0 {
		p.fail(n, "range must be positive, got %q", s.Value)
		return 0, false
	}
	return ms, true
}

func (p *patcher) rangeCall(n ast.Node, fn fnKind, args []ast.Node, q float64) (int, bool) {
	if len(args) == 0 || len(args) > 2 {
		p.fail(n, "want (range[, offset]) arguments")
		return 0, false
	}
	rng, ok := p.duration(args[0], "range")
	if !ok {
		return 0, false
	}
	var off int64
	if len(args) == 2 {
		if off, ok = p.duration(args[1], "offset"); !ok {
			return 0, false
		}
	}
	return p.st.slot(fn, window{rng: rng, off: off}, q), true
}

func (p *patcher) instantCall(n *ast.CallNode, fn fnKind) (int, bool) {
	var off int64
	if len(n.Arguments) > 1 {
		p.fail(n, "want ([offset]) arguments")
		return 0, false
	}
	if len(n.Arguments) == 1 {
		var ok bool
		if off, ok = p.duration(n.Arguments[0], "offset"); !ok {
			return 0, false
		}
	}
	return p.st.slot(fn, window{off: off, instant: true}, 0), true
}

// slot returns the index of the slot for fn over w, adding it if new.
func (st *slotTable) slot(fn fnKind, w window, q float64) int {
	wi, ok := st.winIdx[w]
	if !ok {
		wi = len(st.c.windows)
		st.winIdx[w] = wi
		st.c.windows = append(st.c.windows, w)
	}
	s := slot{fn: fn, win: wi, q: q}
	k, ok := st.slotIdx[s]
	if !ok {
		k = len(st.c.slots)
		st.slotIdx[s] = k
		st.c.slots = append(st.c.slots, s)
	}
	return k
}

// leftover rejects uses of window functions and labels that the patcher did
// not rewrite (a function not called, labels not indexed by a constant).
type leftover struct{ p *patcher }

// Visit implements ast.Visitor.
func (l *leftover) Visit(node *ast.Node) {
	id, ok := (*node).(*ast.IdentifierNode)
	if !ok {
		return
	}
	_, isRange := rangeFuncs[id.Value]
	switch {
	case id.Value == labelsIdent:
		l.p.fail(id, "labels must be indexed by a constant label name, as in labels.code or labels[\"code\"]")
	case isRange || id.Value == "value" || id.Value == "absent" || id.Value == "quantile_over_time":
		l.p.fail(id, "%s must be called", id.Value)
	}
}

// firstComparisonLeft returns the left operand of the first numeric
// comparison in source order, or nil.
func firstComparisonLeft(n ast.Node) ast.Node {
	var found ast.Node
	var best = math.MaxInt
	ast.Walk(&n, visitorFunc(func(node *ast.Node) {
		b, ok := (*node).(*ast.BinaryNode)
		if !ok {
			return
		}
		switch b.Operator {
		case "<", ">", "<=", ">=", "==", "!=":
		default:
			return
		}
		if !isNumber(b.Left.Type()) || !isNumber(b.Right.Type()) {
			return
		}
		if from := b.Left.Location().From; from < best {
			best, found = from, b.Left
		}
	}))
	return found
}

type visitorFunc func(*ast.Node)

func (f visitorFunc) Visit(n *ast.Node) { f(n) }
