package web

import (
	"encoding/json"
	"math"
	"strconv"

	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/promql/parser"
)

// queryData is the data of a query or query_range answer. It encodes itself
// by hand so that sample values and timestamps come out exactly as
// Prometheus writes them.
type queryData struct {
	value parser.Value
	stats []byte // the encoded "stats" object, nil for none
}

// MarshalJSON implements json.Marshaler.
func (q queryData) MarshalJSON() ([]byte, error) {
	b := make([]byte, 0, 256)
	b = append(b, `{"resultType":`...)
	b = strconv.AppendQuote(b, string(q.value.Type()))
	b = append(b, `,"result":`...)
	b = appendValue(b, q.value)
	if q.stats != nil {
		b = append(b, `,"stats":`...)
		b = append(b, q.stats...)
	}
	return append(b, '}'), nil
}

func appendValue(b []byte, v parser.Value) []byte {
	switch v := v.(type) {
	case promql.Vector:
		b = append(b, '[')
		for i, s := range v {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendSample(b, s)
		}
		return append(b, ']')
	case promql.Matrix:
		b = append(b, '[')
		for i, s := range v {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendSeries(b, s)
		}
		return append(b, ']')
	case promql.Scalar:
		// Prometheus writes scalars with plain 'f' formatting.
		b = append(b, '[')
		b = appendTimestamp(b, v.T)
		b = append(b, `,"`...)
		b = strconv.AppendFloat(b, v.V, 'f', -1, 64)
		return append(b, `"]`...)
	case promql.String:
		b = append(b, '[')
		b = appendTimestamp(b, v.T)
		b = append(b, ',')
		b = appendJSONString(b, v.V)
		return append(b, ']')
	}
	return append(b, "null"...)
}

func appendSample(b []byte, s promql.Sample) []byte {
	b = append(b, `{"metric":`...)
	b = appendLabels(b, s.Metric)
	if s.H == nil {
		b = append(b, `,"value":[`...)
		b = appendTimestamp(b, s.T)
		b = append(b, ',')
		b = appendFloat(b, s.F)
	} else {
		b = append(b, `,"histogram":[`...)
		b = appendTimestamp(b, s.T)
		b = append(b, ',')
		b = appendHistogram(b, s.H)
	}
	return append(b, "]}"...)
}

func appendSeries(b []byte, s promql.Series) []byte {
	b = append(b, `{"metric":`...)
	b = appendLabels(b, s.Metric)
	if len(s.Floats) > 0 {
		b = append(b, `,"values":[`...)
		for i, p := range s.Floats {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, '[')
			b = appendTimestamp(b, p.T)
			b = append(b, ',')
			b = appendFloat(b, p.F)
			b = append(b, ']')
		}
		b = append(b, ']')
	}
	if len(s.Histograms) > 0 {
		b = append(b, `,"histograms":[`...)
		for i, p := range s.Histograms {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, '[')
			b = appendTimestamp(b, p.T)
			b = append(b, ',')
			b = appendHistogram(b, p.H)
			b = append(b, ']')
		}
		b = append(b, ']')
	}
	return append(b, '}')
}

func appendLabels(b []byte, ls labels.Labels) []byte {
	b = append(b, '{')
	first := true
	ls.Range(func(l labels.Label) {
		if !first {
			b = append(b, ',')
		}
		first = false
		b = appendJSONString(b, l.Name)
		b = append(b, ':')
		b = appendJSONString(b, l.Value)
	})
	return append(b, '}')
}

// appendTimestamp writes milliseconds as seconds without going through a
// float: no decimals for whole seconds, otherwise exactly three, as
// Prometheus writes them.
func appendTimestamp(b []byte, ms int64) []byte {
	if ms < 0 {
		b = append(b, '-')
		if ms == math.MinInt64 {
			// -ms overflows; the value is far outside any real query.
			return append(b, "9223372036854775.808"...)
		}
		ms = -ms
	}
	b = strconv.AppendInt(b, ms/1000, 10)
	frac := ms % 1000
	if frac != 0 {
		b = append(b, '.')
		if frac < 100 {
			b = append(b, '0')
		}
		if frac < 10 {
			b = append(b, '0')
		}
		b = strconv.AppendInt(b, frac, 10)
	}
	return b
}

// appendFloat writes a sample value as a JSON string, switching to exponent
// notation for very small and very large magnitudes as Prometheus does.
func appendFloat(b []byte, f float64) []byte {
	b = append(b, '"')
	b = append(b, FormatValue(f)...)
	return append(b, '"')
}

// FormatValue formats a sample value the way the Prometheus API does:
// shortest decimal, exponent notation below 1e-6 and from 1e21 on, and
// "+Inf", "-Inf" and "NaN" for the special values.
func FormatValue(f float64) string {
	format := byte('f')
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	return strconv.FormatFloat(f, format, -1, 64)
}

func appendHistogram(b []byte, h *histogram.FloatHistogram) []byte {
	b = append(b, `{"count":`...)
	b = appendFloat(b, h.Count)
	b = append(b, `,"sum":`...)
	b = appendFloat(b, h.Sum)
	found := false
	it := h.AllBucketIterator()
	for it.Next() {
		bk := it.At()
		if bk.Count == 0 {
			continue
		}
		if found {
			b = append(b, ',')
		} else {
			b = append(b, `,"buckets":[`...)
			found = true
		}
		// 0: (lower, upper], 1: [lower, upper), 2: (lower, upper), 3: [lower, upper].
		bounds := 2
		switch {
		case bk.LowerInclusive && bk.UpperInclusive:
			bounds = 3
		case bk.LowerInclusive:
			bounds = 1
		case bk.UpperInclusive:
			bounds = 0
		}
		b = append(b, '[')
		b = strconv.AppendInt(b, int64(bounds), 10)
		b = append(b, ',')
		b = appendFloat(b, bk.Lower)
		b = append(b, ',')
		b = appendFloat(b, bk.Upper)
		b = append(b, ',')
		b = appendFloat(b, bk.Count)
		b = append(b, ']')
	}
	if found {
		b = append(b, ']')
	}
	return append(b, '}')
}

func appendJSONString(b []byte, s string) []byte {
	enc, err := json.Marshal(s)
	if err != nil {
		// Marshaling a string cannot fail.
		panic("BUG: marshal string: " + err.Error())
	}
	return append(b, enc...)
}
