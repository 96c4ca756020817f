package ui

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/prometheus/common/model"

	"github.com/watchdog-sre/watchdog/internal/querylimit"
	"github.com/watchdog-sre/watchdog/web"
)

// graphRanges are the choices of the range selector.
var graphRanges = []string{"5m", "15m", "1h", "3h", "6h", "12h", "1d", "2d", "7d"}

type graphData struct {
	Expr    string
	Range   string
	End     string
	Ranges  []string
	Enabled bool
	Err     string
	Chart   *chart
	Start   time.Time
	EndTime time.Time
	Step    time.Duration
}

// maxEchoedExpr is the most of a refused, over-long expression the page
// shows back.
const maxEchoedExpr = 1 << 10

// graphQueryTimeout bounds one graph's query.
const graphQueryTimeout = 30 * time.Second

func (c *console) graph(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	d := graphData{Expr: q.Get("expr"), Range: q.Get("range"), End: q.Get("end"), Ranges: graphRanges,
		Enabled: c.o.RangeQuery != nil}
	if d.Expr == "" {
		d.Expr = q.Get("g0.expr") // the generator URL of alerts
	}
	if d.Range == "" {
		d.Range = "1h"
	}
	code := http.StatusOK
	if d.Expr != "" && d.Enabled {
		if err := c.drawGraph(r.Context(), &d); err != nil {
			d.Err = err.Error()
			code = max(web.StatusOf(err), http.StatusBadRequest)
			if errors.Is(err, querylimit.ErrQueryTooLong) {
				// Echoing it whole would cost tens of times its size.
				d.Expr = truncateUTF8(d.Expr, maxEchoedExpr) + "…"
			}
		}
	}
	c.render(w, code, "graph", pageData{Title: "Graph", Nav: "graph", Data: d})
}

func (c *console) drawGraph(ctx context.Context, d *graphData) error {
	rng, err := model.ParseDuration(d.Range)
	if err != nil || rng <= 0 {
		return fmt.Errorf("range %q: want a duration such as 1h", d.Range)
	}
	if time.Duration(rng) > maxGraphRange {
		return fmt.Errorf("range %s: at most %s", d.Range, model.Duration(maxGraphRange))
	}
	end := c.o.Now()
	if d.End != "" {
		t, err := web.ParseTime(d.End)
		if err != nil {
			return fmt.Errorf("end: %w", err)
		}
		end = t
	}
	d.EndTime, d.Start, d.Step = end, end.Add(-time.Duration(rng)), graphStep(time.Duration(rng))
	if err := c.o.CheckQuery(d.Expr); err != nil {
		return err
	}
	graphExpr, threshold := splitThreshold(c.parser, d.Expr)
	ctx, cancel := context.WithTimeout(ctx, graphQueryTimeout)
	defer cancel()
	m, err := c.o.RangeQuery(ctx, graphExpr, d.Start, d.EndTime, d.Step)
	if err != nil {
		return trimmedError{err}
	}
	d.Chart = buildChart(m, d.Start, d.EndTime, d.Step, threshold)
	return nil
}

// trimmedError shows err without surrounding space, keeping it for
// errors.Is (web.StatusOf).
type trimmedError struct{ err error }

func (e trimmedError) Error() string { return strings.TrimSpace(e.err.Error()) }
func (e trimmedError) Unwrap() error { return e.err }

// truncateUTF8 cuts s to at most n bytes without splitting a character.
func truncateUTF8(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
