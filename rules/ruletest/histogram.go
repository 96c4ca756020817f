package ruletest

import (
	"math"
	"slices"

	"github.com/prometheus/prometheus/model/histogram"
)

// maxPrintGap is the most empty buckets between two spans of a histogram
// that histogramString prints in promtool's test notation, which fills the
// gaps with zeros: a result summed from far-apart buckets would otherwise
// be printed as gigabytes of zeros.
const maxPrintGap = 1 << 12

// sameHistogram reports whether two histograms print the same in promtool's
// test notation, the comparison promtool makes: same schema, counts, sum,
// zero bucket, custom bounds and counter reset hint, and the same non-empty
// buckets however they are split into spans. Nil equals only nil.
func sameHistogram(a, b *histogram.FloatHistogram) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Schema == b.Schema && sameFloat(a.Count, b.Count) && sameFloat(a.Sum, b.Sum) &&
		sameFloat(a.ZeroCount, b.ZeroCount) && sameFloat(a.ZeroThreshold, b.ZeroThreshold) &&
		a.CounterResetHint == b.CounterResetHint &&
		slices.EqualFunc(a.CustomValues, b.CustomValues, sameFloat) &&
		slices.Equal(nonEmpty(a.PositiveBucketIterator()), nonEmpty(b.PositiveBucketIterator())) &&
		slices.Equal(nonEmpty(a.NegativeBucketIterator()), nonEmpty(b.NegativeBucketIterator()))
}

// sameFloat is equality of floats as their %g forms compare: NaN equals NaN.
func sameFloat(x, y float64) bool { return x == y || math.IsNaN(x) && math.IsNaN(y) }

// bucket is one non-empty bucket: its index and count.
type bucket struct {
	index int32
	count float64
}

func nonEmpty(it histogram.BucketIterator[float64]) []bucket {
	var out []bucket
	for it.Next() {
		if b := it.At(); b.Count != 0 {
			out = append(out, bucket{b.Index, b.Count})
		}
	}
	return out
}

// histogramString prints h in promtool's test notation, or in Prometheus's
// bucket notation when its spans are too far apart for that (maxPrintGap).
func histogramString(h *histogram.FloatHistogram) string {
	if spanGaps(h.PositiveSpans) > maxPrintGap || spanGaps(h.NegativeSpans) > maxPrintGap {
		return h.String()
	}
	return h.TestExpression()
}

// spanGaps is the number of buckets between the first and the last span.
func spanGaps(spans []histogram.Span) int64 {
	var n int64
	for i, s := range spans {
		if i > 0 {
			n += int64(max(s.Offset, 0))
		}
	}
	return n
}
