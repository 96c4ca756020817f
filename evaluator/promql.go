package evaluator

import (
	"strconv"
	"strings"

	"github.com/expr-lang/expr/ast"
	"github.com/prometheus/common/model"
)

// PromQL returns a PromQL expression whose result, per series (with By, per
// group), is the condition's $value: the way to graph a native rule and the
// expression behind its generator URL. It is "" when $value uses something
// PromQL cannot express this way (labels, comparisons, expr built-ins). pct_change(new, old) becomes (new - old) / old * 100,
// which PromQL answers with ±Inf or NaN where old is 0 instead of if_zero.
func (c *Condition) PromQL() string { return c.promql }

// promQLOf renders n, a patched value expression, or returns false.
func (c *Condition) promQLOf(n ast.Node) (string, bool) {
	switch n := n.(type) {
	case *ast.IntegerNode:
		return strconv.Itoa(n.Value), true
	case *ast.FloatNode:
		return strconv.FormatFloat(n.Value, 'g', -1, 64), true
	case *ast.UnaryNode:
		x, ok := c.promQLOf(n.Node)
		if !ok || (n.Operator != "-" && n.Operator != "+") {
			return "", false
		}
		return n.Operator + x, true
	case *ast.BinaryNode:
		switch n.Operator {
		case "+", "-", "*", "/":
		default:
			return "", false
		}
		l, ok1 := c.promQLOf(n.Left)
		r, ok2 := c.promQLOf(n.Right)
		if !ok1 || !ok2 {
			return "", false
		}
		return "(" + l + " " + n.Operator + " " + r + ")", true
	case *ast.CallNode:
		id, ok := n.Callee.(*ast.IdentifierNode)
		if !ok {
			return "", false
		}
		if len(n.Arguments) < 2 {
			return "", false
		}
		switch id.Value {
		case "__slot": // absent() is boolean: never part of a numeric $value
			k, ok := n.Arguments[1].(*ast.IntegerNode)
			if !ok {
				return "", false
			}
			return c.promQLSlot(c.slots[k.Value])
		case "pct_change":
			nw, ok1 := c.promQLOf(n.Arguments[0])
			old, ok2 := c.promQLOf(n.Arguments[1])
			if !ok1 || !ok2 {
				return "", false
			}
			return "((" + nw + " - " + old + ") / " + old + " * 100)", true
		}
	}
	return "", false
}

// promQLSlot renders one window function call over the selector, summed
// by the By labels.
func (c *Condition) promQLSlot(s slot) (string, bool) {
	w := c.windows[s.win]
	sel := c.spec.Series
	off := ""
	if w.off != 0 {
		off = " offset " + model.Duration(w.off*1e6).String()
	}
	var call string
	switch {
	case w.instant:
		call = sel + off
	default:
		name := promQLNames[s.fn]
		if name == "" {
			return "", false
		}
		arg := sel + "[" + model.Duration(w.rng*1e6).String() + "]" + off
		if s.fn == fnQuantile {
			arg = strconv.FormatFloat(s.q, 'g', -1, 64) + ", " + arg
		}
		call = name + "(" + arg + ")"
	}
	if len(c.by) == 0 {
		return call, true
	}
	return "sum by (" + strings.Join(c.by, ", ") + ") (" + call + ")", true
}

// promQLNames are the PromQL names of the range functions.
var promQLNames = func() map[fnKind]string {
	m := map[fnKind]string{fnQuantile: "quantile_over_time"}
	for name, fn := range rangeFuncs {
		m[fn] = name
	}
	return m
}()
