package scrape

import (
	"errors"

	"github.com/prometheus/prometheus/model/exemplar"
	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"
)

// Appender takes the samples of one scrape. Samples become visible to
// queries only on Commit; Rollback drops them. An Appender is used by one
// goroutine and is not reused after Commit or Rollback.
type Appender interface {
	// Append adds one float sample. ref is 0 or a value an earlier Append
	// returned for the same label set; with a known ref the store skips label
	// hashing and lookup, and lset may be empty. The returned ref stays valid
	// until the series is garbage-collected, after which passing it returns
	// ErrUnknownRef-wrapped errors and the caller must append by labels again.
	// Out-of-order and duplicate samples return errors wrapping the store's
	// sentinels; the scrape loop counts them and goes on. This package does
	// not import the store: Options.IsSoftError tells those errors apart.
	Append(ref uint64, lset labels.Labels, t int64, v float64) (uint64, error)
	// AppendHistogram adds one native histogram sample: exactly one of h
	// and fh is non-nil. ref and errors are as for Append (a float stale
	// marker ends a histogram series too). The Appender may keep h and fh.
	AppendHistogram(ref uint64, lset labels.Labels, t int64, h *histogram.Histogram, fh *histogram.FloatHistogram) (uint64, error)
	// AppendSample adds one sample with its start timestamp st (in
	// milliseconds, the time its counter or histogram started counting;
	// never 0 here): the float v when h and fh are nil, else the histogram.
	// ref and errors are as for Append. Used only with
	// Options.StoreStartTimestamps.
	AppendSample(ref uint64, lset labels.Labels, st, t int64, v float64, h *histogram.Histogram, fh *histogram.FloatHistogram) (uint64, error)
	// AppendSTZeroSample adds, before the sample at t (a histogram when h
	// or fh is set) whose start timestamp is st, a zero sample at st, but
	// only when st is before t and after the series' newest sample;
	// otherwise it adds nothing and returns no error. It returns the
	// series' ref. Used only with Options.STZeroIngestion; its errors are
	// ignored, as Prometheus does.
	AppendSTZeroSample(ref uint64, lset labels.Labels, st, t int64, h *histogram.Histogram, fh *histogram.FloatHistogram) (uint64, error)
	// Commit makes the appended samples visible.
	Commit() error
	// Rollback discards the appended samples.
	Rollback() error
}

// AppenderFunc returns a fresh Appender for one scrape.
type AppenderFunc func() Appender

// ErrSampleLimit is reported when a scrape has more samples than its sample_limit.
var ErrSampleLimit = errors.New("sample limit exceeded")

// ErrBodySizeLimit is reported when a scrape body is larger than its body_size_limit.
var ErrBodySizeLimit = errors.New("body size limit exceeded")

// ExemplarAppender takes the exemplars of committed scrapes, one series'
// exemplars in timestamp order. It returns nil for an exemplar it already
// has (targets repeat their exemplars scrape after scrape) and an error for
// one it refuses (out of order, labels too long); those are counted in
// watchdog_scrape_exemplars_rejected_total.
type ExemplarAppender interface {
	AppendExemplar(lset labels.Labels, e exemplar.Exemplar) error
}
