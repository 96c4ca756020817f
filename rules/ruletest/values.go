package ruletest

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/prometheus/model/histogram"
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

// expansionBound is an upper bound of the cost of expanding a values
// string, in float samples: every "xN" counts N+1 values, every other
// character at most one, and when the string holds native histograms
// ({{...}}) each value is weighted by what the largest histogram written
// there can take (histogramWeight). It is computed without parsing, to
// refuse a huge expansion before the parser allocates it.
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
	w := histogramWeight(s)
	if n > math.MaxUint64/w {
		return math.MaxUint64
	}
	return n * w
}

// histogramWeight is what one value of s may cost, in float samples (24
// bytes each): 1 without native histograms, else a histogram's fixed
// size (about 200 bytes) plus 8 bytes for every character of the longest
// {{...}} block, a bound of its buckets and spans (each takes at least one
// character and a separator).
func histogramWeight(s string) uint64 {
	longest := -1
	for rest := s; ; {
		i := strings.Index(rest, "{{")
		if i < 0 {
			break
		}
		rest = rest[i:]
		j := strings.Index(rest, "}}")
		if j < 0 {
			j = len(rest)
		}
		longest = max(longest, j)
		rest = rest[j:]
	}
	if longest < 0 {
		return 1
	}
	return 9 + uint64(longest)/3
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
			samples, err := expand(s.Values, g.StartTimestamp, g.Interval)
			if err != nil {
				d.r.Add(vline, vpath, "%v", err)
				continue
			}
			s.Samples = samples
		}
	}
}

// expand parses a values string and places its values interval apart from
// start. Native histograms ({{...}}) become float histograms, as promtool
// loads them.
func expand(values string, start time.Time, interval time.Duration) ([]Sample, error) {
	_, seq, err := seriesParser.ParseSeriesDesc(valuesPrefix + values)
	if err != nil {
		return nil, fmt.Errorf("invalid values: %s", parseErrMsg(err, len(valuesPrefix)))
	}
	if len(seq) > 1 && interval > 0 && int64(len(seq)-1) > math.MaxInt64/int64(interval) {
		return nil, fmt.Errorf("values span more time than can be represented")
	}
	samples := make([]Sample, 0, len(seq))
	for i, v := range seq {
		if v.Omitted {
			continue
		}
		t := start.Add(time.Duration(i) * interval)
		samples = append(samples, Sample{T: t.UnixMilli(), V: v.Value, H: v.Histogram})
	}
	return samples, nil
}

// parseHistogram parses one native histogram written as promtool's
// exp_samples histogram: a single {{...}} value.
func parseHistogram(text string) (*histogram.FloatHistogram, error) {
	if expansionBound(text) > maxSeriesSamples {
		return nil, fmt.Errorf("invalid histogram %q: expands to too many samples", text)
	}
	_, seq, err := seriesParser.ParseSeriesDesc(valuesPrefix + text)
	switch {
	case err != nil:
		return nil, fmt.Errorf("invalid histogram %q: %s", text, parseErrMsg(err, len(valuesPrefix)))
	case len(seq) != 1 || seq[0].Histogram == nil:
		return nil, fmt.Errorf("invalid histogram %q: expected one {{...}} value", text)
	}
	return seq[0].Histogram, nil
}
