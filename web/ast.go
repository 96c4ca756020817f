package web

import (
	"strconv"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"
)

// astNode is one node of /api/v1/parse_query's tree, in the JSON shape
// Prometheus's API gives its UI's tree view: an object with a "type" and
// the fields of that node type. Keys are written in sorted order.
type astNode = map[string]any

// jsonAST turns a parsed expression into that tree. Its depth is the
// expression's, which the admission bounds before parsing.
func jsonAST(e parser.Expr) any {
	switch n := e.(type) {
	case nil:
		return nil
	case *parser.AggregateExpr:
		return astNode{"type": "aggregation", "op": n.Op.String(), "expr": jsonAST(n.Expr),
			"param": jsonAST(n.Param), "grouping": nonNil(n.Grouping), "without": n.Without}
	case *parser.BinaryExpr:
		return astNode{"type": "binaryExpr", "op": n.Op.String(), "lhs": jsonAST(n.LHS),
			"rhs": jsonAST(n.RHS), "matching": jsonMatching(n.VectorMatching), "bool": n.ReturnBool}
	case *parser.Call:
		args := make([]any, 0, len(n.Args))
		for _, a := range n.Args {
			args = append(args, jsonAST(a))
		}
		return astNode{"type": "call", "args": args, "func": astNode{
			"name": n.Func.Name, "argTypes": n.Func.ArgTypes,
			"variadic": n.Func.Variadic, "returnType": n.Func.ReturnType,
		}}
	case *parser.MatrixSelector:
		vs, _ := n.VectorSelector.(*parser.VectorSelector)
		if vs == nil {
			return nil
		}
		node := selectorNode("matrixSelector", vs)
		node["range"] = n.Range.Milliseconds()
		node["rangeExpr"] = jsonDuration(n.RangeExpr)
		return node
	case *parser.VectorSelector:
		return selectorNode("vectorSelector", n)
	case *parser.SubqueryExpr:
		return astNode{"type": "subquery", "expr": jsonAST(n.Expr),
			"range": n.Range.Milliseconds(), "rangeExpr": jsonDuration(n.RangeExpr),
			"offset": n.OriginalOffset.Milliseconds(), "offsetExpr": jsonDuration(n.OriginalOffsetExpr),
			"step": n.Step.Milliseconds(), "stepExpr": jsonDuration(n.StepExpr),
			"timestamp": n.Timestamp, "startOrEnd": startOrEnd(n.StartOrEnd)}
	case *parser.DurationExpr:
		return jsonDuration(n)
	case *parser.NumberLiteral:
		return astNode{"type": "numberLiteral", "val": strconv.FormatFloat(n.Val, 'f', -1, 64)}
	case *parser.ParenExpr:
		return astNode{"type": "parenExpr", "expr": jsonAST(n.Expr)}
	case *parser.StringLiteral:
		return astNode{"type": "stringLiteral", "val": n.Val}
	case *parser.UnaryExpr:
		return astNode{"type": "unaryExpr", "op": n.Op.String(), "expr": jsonAST(n.Expr)}
	case *parser.StepInvariantExpr:
		return jsonAST(n.Expr)
	}
	return nil
}

// selectorNode is the shape vector and matrix selectors share.
func selectorNode(typ string, vs *parser.VectorSelector) astNode {
	ms := make([]astNode, 0, len(vs.LabelMatchers))
	for _, m := range vs.LabelMatchers {
		ms = append(ms, jsonMatcher(m))
	}
	return astNode{"type": typ, "name": vs.Name, "matchers": ms,
		"offset": vs.OriginalOffset.Milliseconds(), "offsetExpr": jsonDuration(vs.OriginalOffsetExpr),
		"timestamp": vs.Timestamp, "startOrEnd": startOrEnd(vs.StartOrEnd),
		"anchored": vs.Anchored, "smoothed": vs.Smoothed}
}

func jsonMatcher(m *labels.Matcher) astNode {
	return astNode{"name": m.Name, "value": m.Value, "type": m.Type.String()}
}

// jsonMatching is a binary expression's vector matching, nil between scalars.
func jsonMatching(m *parser.VectorMatching) any {
	if m == nil {
		return nil
	}
	return astNode{"card": m.Card.String(), "labels": nonNil(m.MatchingLabels), "on": m.On,
		"include":    nonNil(m.Include),
		"fillValues": map[string]*float64{"lhs": m.FillValues.LHS, "rhs": m.FillValues.RHS}}
}

// jsonDuration is a duration expression (offset, range, step); number
// literals in it say whether they were written as a duration.
func jsonDuration(e parser.Expr) any {
	switch n := e.(type) {
	case nil:
		return nil
	case *parser.DurationExpr:
		if n == nil {
			return nil
		}
		return astNode{"type": "durationExpr", "op": n.Op.String(),
			"lhs": jsonDuration(n.LHS), "rhs": jsonDuration(n.RHS), "wrapped": n.Wrapped}
	case *parser.NumberLiteral:
		if n == nil {
			return nil
		}
		return astNode{"type": "numberLiteral", "val": strconv.FormatFloat(n.Val, 'f', -1, 64), "duration": n.Duration}
	}
	return jsonAST(e)
}

func startOrEnd(t parser.ItemType) any {
	if t == 0 {
		return nil
	}
	return t.String()
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
