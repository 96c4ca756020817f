package evaluator

import (
	"math"
	"slices"

	"github.com/prometheus/prometheus/model/value"
	"github.com/prometheus/prometheus/util/kahansum"

	"github.com/watchdog-sre/watchdog/tsdb"
)

// This file holds the window functions over one series' float samples ts/vs
// (ascending, stale markers already removed). Each returns the value PromQL
// computes for the same samples and window, and false where PromQL returns
// no sample. The algorithms follow promql/functions.go in Prometheus
// v0.316.0 (float samples only, no start timestamps).

// extrapolatedRate is rate (isCounter, isRate), increase (isCounter) and
// delta (neither) over the window (rangeStart, rangeEnd].
func extrapolatedRate(ts []int64, vs []float64, rangeStart, rangeEnd int64, isCounter, isRate bool) (float64, bool) {
	if len(ts) < 2 {
		return 0, false
	}
	n1 := len(ts) - 1
	result := vs[n1] - vs[0]
	if isCounter {
		prev := vs[0]
		for _, v := range vs[1:] {
			if v < prev {
				result += prev
			}
			prev = v
		}
	}
	return extrapolate(ts[0], ts[n1], vs[0], result, n1, rangeStart, rangeEnd, isCounter, isRate), true
}

// extrapolate is extrapolatedRate's second half: result is the increase
// (counter resets corrected) from the first sample (firstT, first) to the
// last at lastT, n1+1 samples apart.
func extrapolate(firstT, lastT int64, first, result float64, n1 int, rangeStart, rangeEnd int64, isCounter, isRate bool) float64 {
	durationToStart := float64(firstT-rangeStart) / 1000
	durationToEnd := float64(rangeEnd-lastT) / 1000
	sampledInterval := float64(lastT-firstT) / 1000
	avgBetween := sampledInterval / float64(n1)
	threshold := avgBetween * 1.1
	if durationToStart >= threshold {
		durationToStart = avgBetween / 2
	}
	if isCounter && result > 0 && first >= 0 {
		// Do not extrapolate below zero.
		if durationToZero := sampledInterval * (first / result); durationToZero < durationToStart {
			durationToStart = durationToZero
		}
	}
	if durationToEnd >= threshold {
		durationToEnd = avgBetween / 2
	}
	factor := 1.0
	if sampledInterval != 0 {
		factor = (sampledInterval + durationToStart + durationToEnd) / sampledInterval
	}
	if isRate {
		factor /= float64(rangeEnd-rangeStart) / 1000
	}
	return result * factor
}

// instantRate is irate: the per-second increase between the last two
// samples, the last value itself after a counter reset.
func instantRate(ts []int64, vs []float64) (float64, bool) {
	n := len(ts)
	if n < 2 {
		return 0, false
	}
	t0, t1, v0, v1 := ts[n-2], ts[n-1], vs[n-2], vs[n-1]
	if t1 == t0 {
		return 0, false
	}
	r := v1
	if !(v1 < v0) {
		r = v1 - v0
	}
	return r / (float64(t1-t0) / 1000), true
}

// deriv is the slope of the least-squares regression, x in seconds relative
// to the first sample.
func deriv(ts []int64, vs []float64) (float64, bool) {
	if len(ts) < 2 {
		return 0, false
	}
	var n, sumX, cX, sumY, cY, sumXY, cXY, sumX2, cX2 float64
	initY, constY := vs[0], true
	for i, v := range vs {
		if constY && i > 0 && v != initY {
			constY = false
		}
		n++
		x := float64(ts[i]-ts[0]) / 1e3
		sumX, cX = kahansum.Inc(x, sumX, cX)
		sumY, cY = kahansum.Inc(v, sumY, cY)
		sumXY, cXY = kahansum.Inc(x*v, sumXY, cXY)
		sumX2, cX2 = kahansum.Inc(x*x, sumX2, cX2)
	}
	if constY {
		if math.IsInf(initY, 0) {
			return math.NaN(), true
		}
		return 0, true
	}
	sumX += cX
	sumY += cY
	sumXY += cXY
	sumX2 += cX2
	covXY := sumXY - sumX*sumY/n
	varX := sumX2 - sumX*sumX/n
	return covXY / varX, true
}

// avgOverTime is the Kahan mean, switching to an incremental mean when the
// running sum would overflow.
func avgOverTime(vs []float64) float64 {
	sum, count := vs[0], 1.0
	var mean, c float64
	incremental := false
	for i, v := range vs[1:] {
		count = float64(i + 2)
		if !incremental {
			newSum, newC := kahansum.Inc(v, sum, c)
			if !math.IsInf(newSum, 0) {
				sum, c = newSum, newC
				continue
			}
			incremental = true
			mean = sum / (count - 1)
			c /= count - 1
		}
		q := (count - 1) / count
		mean, c = kahansum.Inc(v/count, q*mean, q*c)
	}
	if incremental {
		return mean + c
	}
	return sum/count + c/count
}

func sumOverTime(vs []float64) float64 {
	var sum, c float64
	for _, v := range vs {
		sum, c = kahansum.Inc(v, sum, c)
	}
	if math.IsInf(sum, 0) {
		return sum
	}
	return sum + c
}

// extremum is min_over_time (less) or max_over_time: NaN is replaced by any
// later value.
func extremum(vs []float64, less bool) float64 {
	m := vs[0]
	for _, v := range vs {
		if less && v < m || !less && v > m || math.IsNaN(m) {
			m = v
		}
	}
	return m
}

// variance is Welford's algorithm with Kahan-compensated mean and M2.
func variance(vs []float64) float64 {
	var count, mean, cMean, aux, cAux float64
	for _, v := range vs {
		count++
		delta := v - (mean + cMean)
		mean, cMean = kahansum.Inc(delta/count, mean, cMean)
		aux, cAux = kahansum.Inc(delta*(v-(mean+cMean)), aux, cAux)
	}
	return (aux + cAux) / count
}

// quantileOverTime sorts a copy of vs into buf (NaN first, like PromQL)
// and interpolates linearly.
func quantileOverTime(q float64, vs []float64, buf *[]float64) float64 {
	if math.IsNaN(q) {
		return math.NaN()
	}
	if q < 0 {
		return math.Inf(-1)
	}
	if q > 1 {
		return math.Inf(+1)
	}
	s := append((*buf)[:0], vs...)
	*buf = s
	slices.Sort(s)
	n := float64(len(s))
	rank := q * (n - 1)
	lower := math.Max(0, math.Floor(rank))
	upper := math.Min(n-1, lower+1)
	weight := rank - math.Floor(rank)
	if weight == 0 {
		return s[int(lower)]
	}
	return s[int(lower)]*(1-weight) + s[int(upper)]*weight
}

func changes(vs []float64) float64 {
	n := 0
	for i := 1; i < len(vs); i++ {
		cur, prev := vs[i], vs[i-1]
		if cur != prev && !(math.IsNaN(cur) && math.IsNaN(prev)) {
			n++
		}
	}
	return float64(n)
}

func resets(vs []float64) float64 {
	n := 0
	for i := 1; i < len(vs); i++ {
		if vs[i] < vs[i-1] {
			n++
		}
	}
	return float64(n)
}

// rangeFunc computes fn over a range window's samples. It returns false
// where PromQL returns no sample.
func rangeFunc(s slot, ts []int64, vs []float64, start, end int64, buf *[]float64) (float64, bool) {
	if s.fn == fnAbsent {
		if len(ts) == 0 {
			return 1, true
		}
		return 0, true
	}
	if len(ts) == 0 {
		return 0, false
	}
	switch s.fn {
	case fnRate:
		return extrapolatedRate(ts, vs, start, end, true, true)
	case fnIncrease:
		return extrapolatedRate(ts, vs, start, end, true, false)
	case fnDelta:
		return extrapolatedRate(ts, vs, start, end, false, false)
	case fnIrate:
		return instantRate(ts, vs)
	case fnDeriv:
		return deriv(ts, vs)
	case fnAvg:
		return avgOverTime(vs), true
	case fnMin:
		return extremum(vs, true), true
	case fnMax:
		return extremum(vs, false), true
	case fnSum:
		return sumOverTime(vs), true
	case fnCount:
		return float64(len(vs)), true
	case fnStddev:
		return math.Sqrt(variance(vs)), true
	case fnStdvar:
		return variance(vs), true
	case fnLast:
		return vs[len(vs)-1], true
	case fnQuantile:
		return quantileOverTime(s.q, vs, buf), true
	case fnChanges:
		return changes(vs), true
	case fnResets:
		return resets(vs), true
	}
	panic("BUG: unknown range function")
}

// tallyFuncs are the functions computed from a tsdb.Tally, a running
// summary of a window's samples, when the window has no stale markers and,
// for rate and increase, no counter reset (tallyFunc).
var tallyFuncs = map[fnKind]bool{
	fnValue: true, fnAbsent: true, fnRate: true, fnIncrease: true, fnDelta: true,
	fnCount: true, fnLast: true, fnChanges: true, fnResets: true,
}

// tallyFunc is rangeFunc (or, for an instant window, value and absent)
// over the window summarised by tl, which must be exact and, for a range
// window, hold no stale marker and, if fn is rate or increase, no reset.
// Every result is bit-identical to the function over the samples.
func tallyFunc(s slot, instant bool, tl *tsdb.Tally, start, end int64) (float64, bool) {
	n := tl.Len()
	if instant {
		has := false
		var last float64
		if n > 0 {
			_, last = tl.Last()
			has = !value.IsStaleNaN(last)
		}
		switch {
		case s.fn == fnAbsent && has:
			return 0, true
		case s.fn == fnAbsent:
			return 1, true
		}
		return last, has
	}
	if s.fn == fnAbsent {
		if n == 0 {
			return 1, true
		}
		return 0, true
	}
	if n == 0 {
		return 0, false
	}
	switch s.fn {
	case fnRate, fnIncrease, fnDelta:
		if n < 2 {
			return 0, false
		}
		ft, fv := tl.First()
		lt, lv := tl.Last()
		return extrapolate(ft, lt, fv, lv-fv, n-1, start, end, s.fn != fnDelta, s.fn == fnRate), true
	case fnCount:
		return float64(n), true
	case fnLast:
		_, lv := tl.Last()
		return lv, true
	case fnChanges:
		return float64(tl.Changes()), true
	case fnResets:
		return float64(tl.Resets()), true
	}
	panic("BUG: tallyFunc: not a tally function")
}
