package ruletest

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"
)

const (
	// maxSeriesSamples bounds the values one input series may expand to,
	// and maxFileSamples those of a whole file: "1x1000000000" would
	// otherwise exhaust memory before anything could be reported.
	maxSeriesSamples = 1 << 20
	maxFileSamples   = 1 << 22
)

// seriesParser parses series descriptions and expected labels. Its options
// do not matter for those; rule expressions are parsed by the rules package.
var seriesParser = parser.NewParser(parser.Options{})

// valuesPrefix is put before a values string so that ParseSeriesDesc, which
// wants a series first, parses it alone.
const valuesPrefix = "{} "

// parseErrMsg shortens a PromQL parse error to its message, with the
// position made relative to the text as written (offset characters of
// prefix removed).
func parseErrMsg(err error, offset int) string {
	var errs parser.ParseErrors
	if errors.As(err, &errs) && len(errs) > 0 {
		pe := errs[0]
		pos := int(pe.PositionRange.Start) - offset + 1
		if pos < 1 {
			pos = 1
		}
		return fmt.Sprintf("at character %d: %v", pos, pe.Err)
	}
	var pe *parser.ParseErr
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

// expansionBound is an upper bound of how many values a values string
// expands to: every "xN" counts N+1, every other character at most one.
// It is computed without parsing, to refuse a huge expansion before the
// parser allocates it.
func expansionBound(s string) uint64 {
	var n uint64 = 1
	for i := 0; i < len(s); i++ {
		if s[i] != 'x' {
			if s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r' {
				n++
			}
			continue
		}
		j := i + 1
		for j < len(s) && s[j] >= '0' && s[j] <= '9' {
			j++
		}
		if j == i+1 {
			continue
		}
		r, err := strconv.ParseUint(s[i+1:j], 10, 64)
		if err != nil || r >= math.MaxUint32 {
			return math.MaxUint64
		}
		n += r + 1
		if n >= math.MaxUint32 {
			return math.MaxUint64
		}
		i = j - 1
	}
	return n
}

// expandAll parses the labels and expands the values of every input series.
func (d *decoder) expandAll(f *File) {
	var total uint64
	for gi := range f.Tests {
		g := &f.Tests[gi]
		seen := map[uint64]int{}
		for si := range g.InputSeries {
			s := &g.InputSeries[si]
			path := fmt.Sprintf("tests[%d].input_series[%d]", gi, si)
			lset, err := seriesParser.ParseMetric(s.Series)
			switch {
			case s.Series == "":
				d.r.Add(s.Line, path, "missing required series")
				continue
			case err != nil:
				d.r.Add(s.Line, path+".series", "invalid series %q: %s", s.Series, parseErrMsg(err, 0))
				continue
			case lset.IsEmpty():
				d.r.Add(s.Line, path+".series", "series %q has no labels", s.Series)
				continue
			}
			s.Labels = lset
			h := lset.Hash()
			if first, dup := seen[h]; dup && labels.Equal(g.InputSeries[first].Labels, lset) {
				d.r.Add(s.Line, path+".series", "series %s repeated (first at line %d)", lset, g.InputSeries[first].Line)
				continue
			}
			seen[h] = si

			vpath := path + ".values"
			vline := d.valuesLines[vpath]
			if vline == 0 {
				vline = s.Line
			}
			bound := expansionBound(s.Values)
			if bound > maxSeriesSamples || total+bound > maxFileSamples {
				d.r.Add(vline, vpath, "values expand to too many samples (at most %d per series, %d per file)",
					maxSeriesSamples, maxFileSamples)
				continue
			}
			total += bound
			samples, hist, err := expand(s.Values, g.StartTimestamp, g.Interval)
			switch {
			case err != nil:
				d.r.Add(vline, vpath, "%v", err)
			case hist:
				g.Unsupported = append(g.Unsupported,
					fmt.Sprintf("line %d: %s: native histogram values are not supported", vline, vpath))
			default:
				s.Samples = samples
			}
		}
	}
}

// expand parses a values string and places its values interval apart from
// start. hist reports native histogram values, which are not expanded.
func expand(values string, start time.Time, interval time.Duration) (samples []Sample, hist bool, err error) {
	_, seq, err := seriesParser.ParseSeriesDesc(valuesPrefix + values)
	if err != nil {
		return nil, false, fmt.Errorf("invalid values: %s", parseErrMsg(err, len(valuesPrefix)))
	}
	if len(seq) > 1 && interval > 0 && int64(len(seq)-1) > math.MaxInt64/int64(interval) {
		return nil, false, fmt.Errorf("values span more time than can be represented")
	}
	samples = make([]Sample, 0, len(seq))
	for i, v := range seq {
		if v.Histogram != nil {
			return nil, true, nil
		}
		if v.Omitted {
			continue
		}
		t := start.Add(time.Duration(i) * interval)
		samples = append(samples, Sample{T: t.UnixMilli(), V: v.Value})
	}
	return samples, false, nil
}
