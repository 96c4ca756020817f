package ruletest

import (
	"strings"
	"testing"

	"github.com/prometheus/prometheus/model/histogram"
)

func TestSameHistogram(t *testing.T) {
	base := func() *histogram.FloatHistogram {
		return &histogram.FloatHistogram{Count: 3, Sum: 2, PositiveSpans: []histogram.Span{{Offset: 0, Length: 2}},
			PositiveBuckets: []float64{1, 2}}
	}
	tests := []struct {
		name string
		edit func(h *histogram.FloatHistogram)
		same bool
	}{
		{"identical", func(*histogram.FloatHistogram) {}, true},
		{"split spans, empty buckets around", func(h *histogram.FloatHistogram) {
			h.PositiveSpans = []histogram.Span{{Offset: -1, Length: 2}, {Offset: 0, Length: 2}}
			h.PositiveBuckets = []float64{0, 1, 2, 0}
		}, true},
		{"bucket moved", func(h *histogram.FloatHistogram) { h.PositiveSpans[0].Offset = 1 }, false},
		{"count", func(h *histogram.FloatHistogram) { h.Count = 4 }, false},
		{"hint", func(h *histogram.FloatHistogram) { h.CounterResetHint = histogram.GaugeType }, false},
		{"schema", func(h *histogram.FloatHistogram) { h.Schema = 1 }, false},
		{"negative bucket", func(h *histogram.FloatHistogram) {
			h.NegativeSpans, h.NegativeBuckets = []histogram.Span{{Length: 1}}, []float64{1}
		}, false},
		{"zero bucket", func(h *histogram.FloatHistogram) { h.ZeroCount = 1 }, false},
		{"custom bounds", func(h *histogram.FloatHistogram) { h.Schema, h.CustomValues = -53, []float64{1, 2} }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := base()
			tt.edit(h)
			if got := sameHistogram(base(), h); got != tt.same {
				t.Errorf("sameHistogram = %v, want %v", got, tt.same)
			}
			// The test notation agrees, as promtool compares by it.
			if notation := base().TestExpression() == h.TestExpression(); notation != tt.same {
				t.Errorf("test notations equal = %v, want %v", notation, tt.same)
			}
		})
	}
	if sameHistogram(nil, base()) || !sameHistogram(nil, nil) {
		t.Error("nil compares wrong")
	}
}

// A result whose buckets are far apart is printed without filling the gap
// (promtool's notation would be gigabytes of zeros).
func TestHistogramStringFarBuckets(t *testing.T) {
	h := &histogram.FloatHistogram{Count: 2, Sum: 2,
		PositiveSpans:   []histogram.Span{{Offset: -1 << 30, Length: 1}, {Offset: 1 << 30, Length: 1}},
		PositiveBuckets: []float64{1, 1}}
	s := histogramString(h)
	if len(s) > 200 || !strings.Contains(s, "count:2") {
		t.Errorf("histogramString = %.200q", s)
	}
	near := &histogram.FloatHistogram{Count: 2, Sum: 2,
		PositiveSpans: []histogram.Span{{Offset: 0, Length: 1}, {Offset: 2, Length: 1}}, PositiveBuckets: []float64{1, 1}}
	if got, want := histogramString(near), "{{count:2 sum:2 buckets:[1 0 0 1]}}"; got != want {
		t.Errorf("histogramString = %s, want %s", got, want)
	}
}
