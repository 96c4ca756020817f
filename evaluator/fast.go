package evaluator

import (
	"reflect"

	"github.com/expr-lang/expr/ast"
)

// This file compiles patched expression trees made only of window-function
// slots, number and string literals, label reads, pct_change, float
// arithmetic (+ - * /), comparisons and boolean operators into Go closures.
// Each closure computes exactly what the expr VM computes for the same tree
// (same float64 operations, same NaN comparison rules); anything else
// returns nil and the expression runs on the VM. TestFastPathMatchesVM and
// FuzzCompile check the equivalence.

type (
	boolFn   func(*env) bool
	floatFn  func(*env) float64
	stringFn func(*env) string
)

// fastBool compiles a boolean node, or returns nil.
func fastBool(n ast.Node) boolFn {
	switch x := n.(type) {
	case *ast.BoolNode:
		v := x.Value
		return func(*env) bool { return v }
	case *ast.UnaryNode:
		if x.Operator != "!" && x.Operator != "not" {
			return nil
		}
		if a := fastBool(x.Node); a != nil {
			return func(e *env) bool { return !a(e) }
		}
	case *ast.CallNode:
		if k, ok := slotCall(x, "__absent"); ok {
			return func(e *env) bool { return e.vals[k] != 0 }
		}
	case *ast.BinaryNode:
		return fastBinaryBool(x)
	}
	return nil
}

func fastBinaryBool(x *ast.BinaryNode) boolFn {
	switch x.Operator {
	case "&&", "and", "||", "or":
		a, b := fastBool(x.Left), fastBool(x.Right)
		if a == nil || b == nil {
			return nil
		}
		if x.Operator == "&&" || x.Operator == "and" {
			return func(e *env) bool { return a(e) && b(e) }
		}
		return func(e *env) bool { return a(e) || b(e) }
	case "<", ">", "<=", ">=", "==", "!=":
	default:
		return nil
	}
	if isNumber(x.Left.Type()) && isNumber(x.Right.Type()) {
		a, b := fastFloat(x.Left), fastFloat(x.Right)
		if a == nil || b == nil {
			return nil
		}
		switch x.Operator {
		case "<":
			return func(e *env) bool { return a(e) < b(e) }
		case ">":
			return func(e *env) bool { return a(e) > b(e) }
		case "<=":
			return func(e *env) bool { return a(e) <= b(e) }
		case ">=":
			return func(e *env) bool { return a(e) >= b(e) }
		case "==":
			return func(e *env) bool { return a(e) == b(e) }
		default:
			return func(e *env) bool { return a(e) != b(e) }
		}
	}
	if x.Operator != "==" && x.Operator != "!=" {
		return nil
	}
	a, b := fastString(x.Left), fastString(x.Right)
	if a == nil || b == nil {
		return nil
	}
	if x.Operator == "==" {
		return func(e *env) bool { return a(e) == b(e) }
	}
	return func(e *env) bool { return a(e) != b(e) }
}

// fastFloat compiles a numeric node, or returns nil. Integer arithmetic is
// left to the VM (it differs from float arithmetic on overflow); integer
// literals are fine as operands of float operations and comparisons, which
// the VM also converts to float64.
func fastFloat(n ast.Node) floatFn {
	switch x := n.(type) {
	case *ast.IntegerNode:
		v := float64(x.Value)
		return func(*env) float64 { return v }
	case *ast.FloatNode:
		v := x.Value
		return func(*env) float64 { return v }
	case *ast.UnaryNode:
		a := fastFloat(x.Node)
		if a == nil {
			return nil
		}
		switch x.Operator {
		case "-":
			if lit, ok := x.Node.(*ast.IntegerNode); ok {
				v := float64(-lit.Value) // integer negation, as the VM: -(0) is +0
				return func(*env) float64 { return v }
			}
			if !isFloat(x.Type()) {
				return nil
			}
			return func(e *env) float64 { return -a(e) }
		case "+":
			return a
		}
	case *ast.CallNode:
		if k, ok := slotCall(x, "__slot"); ok {
			return func(e *env) float64 { return e.vals[k] }
		}
		if id, ok := x.Callee.(*ast.IdentifierNode); ok && id.Value == "pct_change" {
			return fastPctChange(x.Arguments)
		}
	case *ast.BinaryNode:
		if !isFloat(x.Type()) {
			return nil
		}
		a, b := fastFloat(x.Left), fastFloat(x.Right)
		if a == nil || b == nil {
			return nil
		}
		switch x.Operator {
		case "+":
			return func(e *env) float64 { return a(e) + b(e) }
		case "-":
			return func(e *env) float64 { return a(e) - b(e) }
		case "*":
			return func(e *env) float64 { return a(e) * b(e) }
		case "/":
			return func(e *env) float64 { return a(e) / b(e) }
		}
	}
	return nil
}

func fastPctChange(args []ast.Node) floatFn {
	fs := make([]floatFn, len(args))
	for i, a := range args {
		if fs[i] = fastFloat(a); fs[i] == nil {
			return nil
		}
	}
	nw, old := fs[0], fs[1]
	if len(fs) == 2 {
		return func(e *env) float64 { return pctChange(nw(e), old(e), nan) }
	}
	z := fs[2]
	return func(e *env) float64 { return pctChange(nw(e), old(e), z(e)) }
}

// fastString compiles a string literal or label read, or returns nil.
func fastString(n ast.Node) stringFn {
	switch x := n.(type) {
	case *ast.StringNode:
		v := x.Value
		return func(*env) string { return v }
	case *ast.CallNode:
		if id, ok := x.Callee.(*ast.IdentifierNode); ok && id.Value == "__label" && len(x.Arguments) == 2 {
			if s, ok := x.Arguments[1].(*ast.StringNode); ok {
				name := s.Value
				return func(e *env) string { return e.lset.Get(name) }
			}
		}
	}
	return nil
}

// slotCall matches a patched call name($env, k).
func slotCall(x *ast.CallNode, name string) (int, bool) {
	id, ok := x.Callee.(*ast.IdentifierNode)
	if !ok || id.Value != name || len(x.Arguments) != 2 {
		return 0, false
	}
	k, ok := x.Arguments[1].(*ast.IntegerNode)
	if !ok {
		return 0, false
	}
	return k.Value, true
}

func isFloat(t reflect.Type) bool { return t != nil && t.Kind() == reflect.Float64 }
