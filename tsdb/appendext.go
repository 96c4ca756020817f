package tsdb

import (
	"fmt"
	"math"

	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/value"
)

// This file is the append path of samples that are not plain floats:
// histograms and samples with a start timestamp (see histogram.go), and any
// sample of a series that has had one. Such a sample is buffered like a
// float, in the batch's pendingSample list so that Commit applies a batch
// in order, but marked with extMark in headAddr; its value is then the
// index, as float64 bits, of its pendingExt.

// extMark in pendingSample.headAddr marks a sample whose value is in
// Appender.ext. It is never a chunk address.
const extMark = ^uintptr(0)

// pendingExt is the value of a marked pending sample: a float v unless h
// or fh is set, and its start timestamp.
type pendingExt struct {
	st int64
	v  float64
	h  *histogram.Histogram
	fh *histogram.FloatHistogram
}

// AppendHistogram buffers a native histogram sample: exactly one of h (an
// integer histogram) and fh (a float histogram) must be non-nil. The ref,
// label set, time bounds and order checks are those of Append, across the
// series' float and histogram samples (a series may switch between them);
// an exact duplicate (same time and an equal histogram) is ignored. A
// histogram that fails validation, or a call with neither or both of h and
// fh, returns an error wrapping ErrInvalidHistogram. The histogram is
// copied: the caller may reuse it.
func (a *Appender) AppendHistogram(ref uint64, lset labels.Labels, t int64, h *histogram.Histogram, fh *histogram.FloatHistogram) (uint64, error) {
	if h == nil && fh == nil {
		a.db.stats.invalidHistograms.Add(1)
		return ref, fmt.Errorf("%w: no histogram", ErrInvalidHistogram)
	}
	return a.AppendSample(ref, lset, 0, t, 0, h, fh)
}

// AppendSample buffers a sample with its start timestamp st (the time the
// counter or histogram started counting from, as Prometheus's
// AppenderV2.Append takes it; 0 means unknown): a float v if h and fh are
// nil, else the histogram (see AppendHistogram). Queries return st through
// chunkenc.Iterator.AtST. Otherwise it is Append or AppendHistogram.
func (a *Appender) AppendSample(ref uint64, lset labels.Labels, st, t int64, v float64, h *histogram.Histogram, fh *histogram.FloatHistogram) (uint64, error) {
	if st == 0 && h == nil && fh == nil {
		return a.Append(ref, lset, t, v)
	}
	if err := validHistogram(h, fh); err != nil {
		a.db.stats.invalidHistograms.Add(1)
		return ref, err
	}
	s, r, err := a.series(ref, lset, t)
	if s == nil {
		return r, err
	}
	e := pendingExt{st: st, v: v}
	switch {
	case h != nil:
		e.h = h.Copy()
	case fh != nil:
		e.fh = fh.Copy()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.deleted {
		return 0, fmt.Errorf("append ref %d: %w", ref, ErrUnknownRef)
	}
	s.ensureExt()
	return s.ref, a.bufferExt(s, t, e)
}

// MaxHistogramBuckets is the most buckets (positive, negative and custom
// bounds together) a histogram sample may have, so that one sample cannot
// take megabytes. Prometheus's finest schema spans a factor of 2 in 256
// buckets; this leaves room for 64 such factors.
const MaxHistogramBuckets = 1 << 14

// validHistogram checks that at most one of h and fh is set and that it is
// valid and within MaxHistogramBuckets; neither means a float sample.
func validHistogram(h *histogram.Histogram, fh *histogram.FloatHistogram) error {
	var err error
	n := 0
	switch {
	case h != nil && fh != nil:
		return fmt.Errorf("%w: both an integer and a float histogram", ErrInvalidHistogram)
	case h != nil:
		n = len(h.PositiveBuckets) + len(h.NegativeBuckets) + len(h.CustomValues) + len(h.PositiveSpans) + len(h.NegativeSpans)
		if n <= MaxHistogramBuckets {
			err = h.Validate()
		}
	case fh != nil:
		n = len(fh.PositiveBuckets) + len(fh.NegativeBuckets) + len(fh.CustomValues) + len(fh.PositiveSpans) + len(fh.NegativeSpans)
		if n <= MaxHistogramBuckets {
			err = fh.Validate()
		}
	}
	if n > MaxHistogramBuckets {
		return fmt.Errorf("%w: %d buckets and spans, more than %d", ErrInvalidHistogram, n, MaxHistogramBuckets)
	}
	if err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidHistogram, err)
	}
	return nil
}

// bufferExt checks sample e at t against the series' newest sample (this
// batch's, else the committed one) and buffers it, marked. Callers hold
// s.mu.
func (a *Appender) bufferExt(s *memSeries, t int64, e pendingExt) error {
	last := s.lastCommitted()
	if s.pendOwner == a {
		last = a.pendingValue(&a.samples[s.pendIdx])
	}
	ignore, err := appendableExt(last, t, e.v, e.h, e.fh)
	if err != nil || ignore {
		a.db.countReject(err)
		return err
	}
	idx := len(a.ext)
	a.ext = append(a.ext, e)
	s.pendOwner, s.pendIdx = a, int32(len(a.samples))
	a.samples = append(a.samples, pendingSample{s: s, t: t, v: math.Float64frombits(uint64(idx)), tailAddr: s.tailAddr(), headAddr: extMark})
	return nil
}

// pendingValue returns the value of a pending sample.
func (a *Appender) pendingValue(p *pendingSample) lastSample {
	if p.headAddr != extMark {
		return lastSample{t: p.t, v: p.v}
	}
	e := &a.ext[math.Float64bits(p.v)]
	return lastSample{t: p.t, v: e.v, h: e.h, fh: e.fh}
}

// commitExt commits pending sample p (marked, or of a series with an
// optional part) to s, reporting false if it is no longer in order. A
// float stale marker after a histogram becomes a histogram stale marker,
// as in Prometheus's head. Callers hold s.mu.
func (a *Appender) commitExt(s *memSeries, p *pendingSample) (footprint, bool) {
	e := pendingExt{v: p.v}
	if p.headAddr == extMark {
		e = a.ext[math.Float64bits(p.v)]
	}
	x := s.ensureExt() // a series recreated after GC has none yet
	last := s.lastCommitted()
	ignore, err := appendableExt(last, p.t, e.v, e.h, e.fh)
	if err != nil || ignore {
		a.db.countReject(err)
		return footprint{}, false
	}
	if e.h == nil && e.fh == nil && value.IsStaleNaN(e.v) {
		switch {
		case last.h != nil:
			e.h = &histogram.Histogram{Sum: e.v}
		case last.fh != nil:
			e.fh = &histogram.FloatHistogram{Sum: e.v}
		}
	}
	var f footprint
	if e.h == nil && e.fh == nil {
		f = s.appendSample(p.t, e.v, &a.db.slab)
	} else {
		f = s.appendHist(p.t, e.h, e.fh)
	}
	f.bytes += x.addST(p.t, e.st)
	return f, true
}
