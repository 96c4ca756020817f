package tsdb

import (
	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"
)

// AppendSTZeroSample buffers the zero sample that marks the start of a
// counter or histogram whose sample at t has the start timestamp st, as
// Prometheus's head does with its created-timestamp-zero-ingestion
// feature: a float 0 at st, or, when h or fh (the sample at t) is set, an
// empty histogram of the same schema, zero threshold and custom bounds
// with the counter-reset hint. Call it before appending the sample at t.
//
// It appends nothing, and returns no error, when st is not before t, is
// older than the batch accepts, or is not after the series' newest sample
// (the usual case: the counter started long ago and its zero sample is
// stored already); such calls are not counted as refused samples. The
// errors are those of finding or creating the series (ErrUnknownRef,
// ErrSeriesLimit, ErrEmptyLabels) and, if another appender got there
// first, the order errors of Append.
func (a *Appender) AppendSTZeroSample(ref uint64, lset labels.Labels, st, t int64, h *histogram.Histogram, fh *histogram.FloatHistogram) (uint64, error) {
	if st >= t {
		return ref, nil
	}
	if !a.bounded {
		a.minT, a.maxT = a.db.bounds()
		a.bounded = true
	}
	if st < a.minT || st > a.maxT {
		return ref, nil
	}
	s, r, err := a.series(ref, lset, st)
	if s == nil {
		return r, err
	}
	s.mu.Lock()
	last := s.lastCommitted().t
	if s.pendOwner == a {
		last = a.samples[s.pendIdx].t
	}
	deleted := s.deleted
	s.mu.Unlock()
	if deleted {
		return ref, nil
	}
	if st <= last {
		return s.ref, nil
	}
	switch {
	case h != nil:
		return a.AppendSample(s.ref, lset, 0, st, 0, &histogram.Histogram{
			CounterResetHint: histogram.CounterReset,
			Schema:           h.Schema,
			ZeroThreshold:    h.ZeroThreshold,
			CustomValues:     h.CustomValues,
		}, nil)
	case fh != nil:
		return a.AppendSample(s.ref, lset, 0, st, 0, nil, &histogram.FloatHistogram{
			CounterResetHint: histogram.CounterReset,
			Schema:           fh.Schema,
			ZeroThreshold:    fh.ZeroThreshold,
			CustomValues:     fh.CustomValues,
		})
	}
	return a.Append(s.ref, lset, st, 0)
}
