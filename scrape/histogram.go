package scrape

import (
	"errors"
	"fmt"
	"math"
	"slices"

	"github.com/prometheus/prometheus/model/exemplar"
	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/textparse"
)

// ErrBucketLimit is reported when a native histogram has more buckets than
// the job's native_histogram_bucket_limit and its resolution cannot be
// reduced enough (custom buckets, or the lowest schema reached).
var ErrBucketLimit = errors.New("histogram bucket limit exceeded")

// ErrInvalidHistogram is reported for a scraped native histogram that is
// not consistent (spans and buckets disagree, negative counts, ...).
var ErrInvalidHistogram = errors.New("invalid native histogram")

// appendHistogram appends one native histogram sample of line (cache entry
// e, nil if new), first reduced in resolution to the job's
// native_histogram_min_bucket_factor and native_histogram_bucket_limit as
// Prometheus does, with its start timestamp st (0: unknown) as
// appendSampleST does. ErrBucketLimit fails the scrape; so does an invalid
// histogram.
func (sl *scrapeLoop) appendHistogram(app Appender, e *cacheEntry, line []byte, lset labels.Labels, st, t int64,
	h *histogram.Histogram, fh *histogram.FloatHistogram, track bool, res *appendResult) (bool, error) {
	cfg := sl.s.job.cfg
	if err := fitHistogram(h, fh, cfg.NativeHistogramBucketLimit, pickSchema(cfg.NativeHistogramMinBucketFactor)); err != nil {
		return false, fmt.Errorf("%s: %w", sl.lineLabels(lset), err)
	}
	var ref uint64
	if e != nil {
		ref = e.ref
	}
	if st != 0 {
		ref = sl.appendSTZero(app, ref, lset, st, t, h, fh)
		if !sl.deps.storeST {
			st = 0
		}
	}
	var (
		newRef uint64
		err    error
	)
	if st != 0 {
		newRef, err = app.AppendSample(ref, lset, st, t, 0, h, fh)
		if err != nil && ref != 0 && !sl.soft(err) {
			newRef, err = app.AppendSample(0, sl.lineLabels(lset), st, t, 0, h, fh)
		}
	} else {
		newRef, err = app.AppendHistogram(ref, lset, t, h, fh)
		if err != nil && ref != 0 && !sl.soft(err) {
			newRef, err = app.AppendHistogram(0, sl.lineLabels(lset), t, h, fh)
		}
	}
	return sl.appended(e, line, lset, t, newRef, err, track, res)
}

// fitHistogram checks a scraped histogram and reduces its resolution to
// maxSchema, then until it has at most limit buckets (0: no limit).
func fitHistogram(h *histogram.Histogram, fh *histogram.FloatHistogram, limit int, maxSchema int32) error {
	if h != nil {
		if err := h.Validate(); err != nil {
			return fmt.Errorf("%w: %w", ErrInvalidHistogram, err)
		}
		if histogram.IsExponentialSchema(h.Schema) && h.Schema > maxSchema {
			if err := h.ReduceResolution(maxSchema); err != nil {
				return fmt.Errorf("%w: %w", ErrInvalidHistogram, err)
			}
		}
		for limit > 0 && len(h.PositiveBuckets)+len(h.NegativeBuckets) > limit {
			if !histogram.IsExponentialSchema(h.Schema) || h.Schema <= histogram.ExponentialSchemaMin {
				return fmt.Errorf("%w (%d buckets, limit %d)", ErrBucketLimit, len(h.PositiveBuckets)+len(h.NegativeBuckets), limit)
			}
			if err := h.ReduceResolution(h.Schema - 1); err != nil {
				return fmt.Errorf("%w: %w", ErrInvalidHistogram, err)
			}
		}
	}
	if fh != nil {
		if err := fh.Validate(); err != nil {
			return fmt.Errorf("%w: %w", ErrInvalidHistogram, err)
		}
		if histogram.IsExponentialSchema(fh.Schema) && fh.Schema > maxSchema {
			if err := fh.ReduceResolution(maxSchema); err != nil {
				return fmt.Errorf("%w: %w", ErrInvalidHistogram, err)
			}
		}
		for limit > 0 && len(fh.PositiveBuckets)+len(fh.NegativeBuckets) > limit {
			if !histogram.IsExponentialSchema(fh.Schema) || fh.Schema <= histogram.ExponentialSchemaMin {
				return fmt.Errorf("%w (%d buckets, limit %d)", ErrBucketLimit, len(fh.PositiveBuckets)+len(fh.NegativeBuckets), limit)
			}
			if err := fh.ReduceResolution(fh.Schema - 1); err != nil {
				return fmt.Errorf("%w: %w", ErrInvalidHistogram, err)
			}
		}
	}
	return nil
}

// pickSchema returns the largest exponential schema whose bucket growth
// factor is at least bucketFactor, as Prometheus picks it for
// native_histogram_min_bucket_factor (0 or 1 and below: the largest schema).
func pickSchema(bucketFactor float64) int32 {
	if bucketFactor <= 1 {
		return histogram.ExponentialSchemaMax
	}
	floor := math.Floor(-math.Log2(math.Log2(bucketFactor)))
	switch {
	case floor >= float64(histogram.ExponentialSchemaMax):
		return histogram.ExponentialSchemaMax
	case floor <= float64(histogram.ExponentialSchemaMin):
		return histogram.ExponentialSchemaMin
	}
	return int32(floor)
}

// maxExemplarsPerScrape bounds the exemplars one scrape hands to the
// exemplar storage; the others are dropped.
const maxExemplarsPerScrape = 16_384

// pendingExemplar is an exemplar of a scrape not yet committed.
type pendingExemplar struct {
	lset labels.Labels
	e    exemplar.Exemplar
}

// collectExemplars keeps the exemplars p has for the series lset just
// appended at t, as Prometheus does: one without a timestamp takes the
// sample's, except on a native histogram, where it is dropped; they are
// sorted so that the storage sees them in order.
func (sl *scrapeLoop) collectExemplars(p textparse.Parser, lset labels.Labels, t int64, isHist bool) {
	first := len(sl.exemplars)
	var e exemplar.Exemplar
	for p.Exemplar(&e) {
		if !e.HasTs {
			if isHist {
				e = exemplar.Exemplar{}
				continue
			}
			e.Ts = t
		}
		if len(sl.exemplars) >= maxExemplarsPerScrape {
			sl.exemplarsDropped++
		} else {
			lset = sl.lineLabels(lset) // once: then it is not empty
			sl.exemplars = append(sl.exemplars, pendingExemplar{lset: lset, e: e})
		}
		e = exemplar.Exemplar{}
	}
	if added := sl.exemplars[first:]; len(added) > 1 {
		slices.SortFunc(added, func(a, b pendingExemplar) int { return exemplar.Compare(a.e, b.e) })
	}
}

// flushExemplars hands the exemplars of a committed scrape to the
// exemplar storage and counts the ones it refused.
func (sl *scrapeLoop) flushExemplars(ok bool) {
	if ok && sl.deps.exemplars != nil {
		for _, pe := range sl.exemplars {
			if err := sl.deps.exemplars.AppendExemplar(pe.lset, pe.e); err != nil {
				sl.exemplarsDropped++
			}
		}
	}
	if sl.exemplarsDropped > 0 && sl.deps.exemplarsRejected != nil {
		sl.deps.exemplarsRejected.Add(sl.exemplarsDropped)
	}
	clear(sl.exemplars)
	sl.exemplars = sl.exemplars[:0]
	sl.exemplarsDropped = 0
}
