package ui

import (
	"math"
	"strings"
	"time"

	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/promql/parser"
)

// Chart geometry, in SVG user units (the SVG scales to its container).
const (
	chartW, chartH       = 800, 260
	padL, padR           = 64, 12
	padT, padB           = 12, 28
	maxChartSeries       = 12
	chartPalette         = 8
	graphPoints          = 240
	minGraphStep         = time.Second
	defaultGraphRange    = time.Hour
	maxGraphRange        = 7 * 24 * time.Hour
	incidentGraphRange   = time.Hour
	maxIncidentGraphExpr = 6
)

// chart is an SVG line chart built from numbers only: Path strings hold
// "M x y L x y" commands and numbers, never text from the data, so they
// are safe in an attribute whatever the data was. Labels are text nodes
// and go through html/template's escaping like any other text.
type chart struct {
	W, H      int
	PlotX     int // left edge of the plot area
	PlotR     int // right edge
	PlotB     int // bottom edge
	PlotW     int
	PlotH     int
	CenterX   int
	CenterY   int
	Series    []chartSeries
	Threshold *chartLine
	YTicks    []chartTick
	XTicks    []chartTick
	Omitted   int // series beyond maxChartSeries
	Empty     bool
}

type chartSeries struct {
	Path   string
	Class  string // "s0" … "s7": the colour, from the stylesheet
	Label  string
	Last   string
	Points int
}

type chartLine struct {
	Y     string
	Label string
}

type chartTick struct {
	Pos   string
	Label string
}

// buildChart draws m over [start, end] with an optional threshold line.
func buildChart(m promql.Matrix, start, end time.Time, step time.Duration, threshold *float64) *chart {
	c := &chart{W: chartW, H: chartH, PlotX: padL, PlotR: chartW - padR, PlotB: chartH - padB,
		PlotW: chartW - padR - padL, PlotH: chartH - padB - padT,
		CenterX: (padL + chartW - padR) / 2, CenterY: (padT + chartH - padB) / 2}
	if len(m) > maxChartSeries {
		c.Omitted = len(m) - maxChartSeries
		m = m[:maxChartSeries]
	}
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, s := range m {
		for _, p := range s.Floats {
			if math.IsNaN(p.F) || math.IsInf(p.F, 0) {
				continue
			}
			lo, hi = min(lo, p.F), max(hi, p.F)
		}
	}
	if threshold != nil && !math.IsNaN(*threshold) && !math.IsInf(*threshold, 0) {
		lo, hi = min(lo, *threshold), max(hi, *threshold)
	}
	if math.IsInf(lo, 1) {
		c.Empty = true
		lo, hi = 0, 1
	}
	if lo == hi {
		pad := math.Abs(lo) * 0.1
		if pad == 0 {
			pad = 1
		}
		lo, hi = lo-pad, hi+pad
	} else {
		pad := (hi - lo) * 0.05
		hi += pad
		if lo < 0 || lo-pad >= 0 {
			lo -= pad
		} else {
			lo = 0
		}
	}
	plotW := float64(c.PlotR - c.PlotX)
	plotH := float64(c.PlotB - padT)
	t0, span := start.UnixMilli(), float64(end.Sub(start).Milliseconds())
	if span <= 0 {
		span = 1
	}
	x := func(ms int64) float64 { return float64(c.PlotX) + float64(ms-t0)/span*plotW }
	y := func(v float64) float64 { return float64(padT) + (hi-v)/(hi-lo)*plotH }
	gap := 2 * step.Milliseconds()

	for i, s := range m {
		var b strings.Builder
		prev := int64(math.MinInt64)
		n, run := 0, 0
		for _, p := range s.Floats {
			if math.IsNaN(p.F) || math.IsInf(p.F, 0) {
				prev = math.MinInt64
				continue
			}
			cmd := " L"
			if prev == math.MinInt64 || p.T-prev > gap {
				cmd = " M"
				if run == 1 {
					b.WriteString(" h0.1") // a lone point: a dot with round caps
				}
				run = 0
			}
			run++
			b.WriteString(cmd)
			b.WriteString(formatFloat(x(p.T), 1))
			b.WriteByte(' ')
			b.WriteString(formatFloat(y(p.F), 1))
			prev = p.T
			n++
		}
		if run == 1 {
			b.WriteString(" h0.1")
		}
		cs := chartSeries{Path: strings.TrimSpace(b.String()), Class: "s" + itoa(i%chartPalette),
			Label: s.Metric.String(), Points: n}
		if k := len(s.Floats); k > 0 {
			cs.Last = formatValue(s.Floats[k-1].F)
		}
		c.Series = append(c.Series, cs)
	}
	if threshold != nil && !math.IsNaN(*threshold) && !math.IsInf(*threshold, 0) {
		c.Threshold = &chartLine{Y: formatFloat(y(*threshold), 1), Label: formatValue(*threshold)}
	}
	for i := range 5 {
		v := lo + (hi-lo)*float64(i)/4
		c.YTicks = append(c.YTicks, chartTick{Pos: formatFloat(y(v), 1), Label: formatValue(v)})
	}
	layout := "15:04"
	if end.Sub(start) > 24*time.Hour {
		layout = "01-02 15:04"
	}
	for i := range 5 {
		ms := t0 + int64(span*float64(i)/4)
		c.XTicks = append(c.XTicks, chartTick{Pos: formatFloat(x(ms), 1),
			Label: time.UnixMilli(ms).UTC().Format(layout)})
	}
	return c
}

// formatValue is a sample value for axis labels and legends.
func formatValue(v float64) string {
	a := math.Abs(v)
	switch {
	case math.IsNaN(v) || math.IsInf(v, 0):
		return formatFloat(v, -1)
	case a != 0 && (a < 0.001 || a >= 1e9):
		return strconvE(v)
	case a < 10:
		return formatFloat(v, 4)
	default:
		return formatFloat(v, 2)
	}
}

// splitThreshold splits an alerting expression "lhs OP number" (or
// "number OP rhs") into the expression to graph and the threshold to draw.
// Anything else is graphed whole, without a threshold.
func splitThreshold(p parser.Parser, expr string) (graph string, threshold *float64) {
	e, err := p.ParseExpr(expr)
	if err != nil {
		return expr, nil
	}
	for {
		pe, ok := e.(*parser.ParenExpr)
		if !ok {
			break
		}
		e = pe.Expr
	}
	be, ok := e.(*parser.BinaryExpr)
	if !ok || !be.Op.IsComparisonOperator() || be.ReturnBool {
		return expr, nil
	}
	if n, ok := unparen(be.RHS).(*parser.NumberLiteral); ok {
		v := n.Val
		return be.LHS.String(), &v
	}
	if n, ok := unparen(be.LHS).(*parser.NumberLiteral); ok {
		v := n.Val
		return be.RHS.String(), &v
	}
	return expr, nil
}

func unparen(e parser.Expr) parser.Expr {
	for {
		pe, ok := e.(*parser.ParenExpr)
		if !ok {
			return e
		}
		e = pe.Expr
	}
}

// graphStep is the step that draws about graphPoints points over d.
func graphStep(d time.Duration) time.Duration {
	return max((d / graphPoints).Round(time.Second), minGraphStep)
}
