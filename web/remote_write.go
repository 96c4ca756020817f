package web

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/VictoriaMetrics/metrics"
	"github.com/klauspost/compress/snappy"
	"github.com/prometheus/client_golang/exp/api/remote"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/prompb"
	writev2 "github.com/prometheus/prometheus/prompb/io/prometheus/write/v2"
)

// Defaults of RemoteWriteOptions.
const (
	// DefaultRemoteWriteMaxBodyBytes bounds the compressed body of a write
	// request. Prometheus sends at most max_samples_per_send (2,000) samples
	// a request, a few hundred KiB; vmagent's blocks are at most 8 MB
	// before compression.
	DefaultRemoteWriteMaxBodyBytes = 8 << 20
	// DefaultRemoteWriteMaxDecodedBytes bounds the body after snappy
	// decoding, read from the snappy header before anything is decoded, so
	// a small compressed bomb costs nothing. Decoded protobuf takes several
	// times its size in memory (one struct and one string per label), so
	// this is half of client_golang's 32 MiB.
	DefaultRemoteWriteMaxDecodedBytes = 16 << 20
	// DefaultRemoteWriteMaxConcurrency is how many write requests are
	// decoded and appended at once; more wait.
	DefaultRemoteWriteMaxConcurrency = 2
	// DefaultRemoteWriteMaxWaiting is how many write requests may wait for
	// a slot; more are refused with 429 and Retry-After.
	DefaultRemoteWriteMaxWaiting = 16
)

// WriteAppender is the store's appender the remote-write receiver writes
// through: samples become visible on Commit. *tsdb.Appender satisfies it.
// AppendHistogram appends a native histogram sample, exactly one of h and
// fh not nil.
type WriteAppender interface {
	Append(ref uint64, l labels.Labels, t int64, v float64) (uint64, error)
	AppendHistogram(ref uint64, l labels.Labels, t int64, h *histogram.Histogram, fh *histogram.FloatHistogram) (uint64, error)
	Commit() error
	Rollback() error
}

// RemoteWriteOptions configures the remote-write receiver. The zero value
// takes the defaults above and discards every sample.
type RemoteWriteOptions struct {
	// Appender returns a fresh appender; one is used per request. Nil
	// discards the samples (and reports them written).
	Appender func() WriteAppender
	// RejectReason names an Append error that refuses one sample only
	// (out of order, too old, series limit...), for the refusal counter
	// and the 400 answer; "" means the store failed, and the request is
	// rolled back and answered 500 so that the sender retries. Nil treats
	// every error as a store failure.
	RejectReason func(error) string
	// MaxBodyBytes, MaxDecodedBytes, MaxConcurrency and MaxWaiting bound
	// what one request and all of them together may cost; zero takes the
	// defaults.
	MaxBodyBytes    int64
	MaxDecodedBytes int64
	MaxConcurrency  int
	MaxWaiting      int
}

func (o RemoteWriteOptions) withDefaults() RemoteWriteOptions {
	if o.Appender == nil {
		o.Appender = func() WriteAppender { return discardWriteAppender{} }
	}
	if o.RejectReason == nil {
		o.RejectReason = func(error) string { return "" }
	}
	if o.MaxBodyBytes <= 0 {
		o.MaxBodyBytes = DefaultRemoteWriteMaxBodyBytes
	}
	if o.MaxDecodedBytes <= 0 {
		o.MaxDecodedBytes = DefaultRemoteWriteMaxDecodedBytes
	}
	if o.MaxConcurrency <= 0 {
		o.MaxConcurrency = DefaultRemoteWriteMaxConcurrency
	}
	if o.MaxWaiting <= 0 {
		o.MaxWaiting = DefaultRemoteWriteMaxWaiting
	}
	return o
}

type discardWriteAppender struct{}

func (discardWriteAppender) Append(uint64, labels.Labels, int64, float64) (uint64, error) {
	return 0, nil
}
func (discardWriteAppender) AppendHistogram(uint64, labels.Labels, int64, *histogram.Histogram, *histogram.FloatHistogram) (uint64, error) {
	return 0, nil
}
func (discardWriteAppender) Commit() error   { return nil }
func (discardWriteAppender) Rollback() error { return nil }

// EnableRemoteWrite serves POST /api/v1/write, Prometheus's remote-write
// receiver, for Remote-Write 1.0 (prometheus.WriteRequest) and 2.0
// (io.prometheus.write.v2.Request), chosen by the Content-Type's proto
// parameter; others get 415. The request needs the API token like every
// state-changing call.
//
// Samples and native histograms (integer or float, exponential or custom
// buckets) are appended through o.Appender, a series' floats first, then
// its histograms, as Prometheus does. A sample the store refuses
// (o.RejectReason names it: out of order, an invalid histogram...) and a
// series with invalid labels are counted and skipped: the rest of the
// request is written and the answer is 400 naming what was refused, so the
// sender does not retry what can never be written (the spec's partial
// write). The 2.0 answer carries the X-Prometheus-Remote-Write-*-Written
// headers with what was written. Exemplars are accepted and discarded
// (counted in watchdog_remote_write_dropped_exemplars_total) and reported
// written, as Prometheus does with its exemplar storage off. A store failure rolls the request back and answers 500.
// Bodies over MaxBodyBytes, or whose snappy header announces more than
// MaxDecodedBytes, get 413 before anything is decoded; bad snappy or
// protobuf 400; more than MaxWaiting requests waiting for a slot 429.
func (h *Handler) EnableRemoteWrite(o RemoteWriteOptions) {
	o = o.withDefaults()
	rw := &remoteWriter{opts: o, metrics: h.metrics, slots: make(chan struct{}, o.MaxConcurrency)}
	h.remoteWrite = rw
	h.metrics.GetOrCreateGauge("watchdog_remote_write_requests_in_flight", func() float64 { return float64(len(rw.slots)) })
	h.metrics.GetOrCreateGauge("watchdog_remote_write_requests_waiting", func() float64 { return float64(rw.waiting.Load()) })
	rw.written = h.metrics.GetOrCreateCounter("watchdog_remote_write_received_samples_total")
	rw.histograms = h.metrics.GetOrCreateCounter("watchdog_remote_write_received_histograms_total")
	rw.exemplars = h.metrics.GetOrCreateCounter("watchdog_remote_write_dropped_exemplars_total")
	handler := remote.NewWriteHandler(rw, remote.MessageTypes{remote.WriteV1MessageType, remote.WriteV2MessageType},
		remote.WithWriteHandlerLogger(h.logger), remote.WithWriteHandlerMiddlewares(rw.gate, rw.decode))
	h.handle("POST /api/v1/write", o.MaxBodyBytes, handler)
}

// remoteWriter is the receiver: remote.NewWriteHandler's storage.
type remoteWriter struct {
	opts       RemoteWriteOptions
	metrics    *metrics.Set
	slots      chan struct{}
	waiting    atomic.Int64
	written    *metrics.Counter
	histograms *metrics.Counter
	exemplars  *metrics.Counter
}

func (rw *remoteWriter) refusedRequest(reason string) {
	rw.metrics.GetOrCreateCounter(`watchdog_remote_write_requests_refused_total{reason="` + reason + `"}`).Inc()
}

// gate lets MaxConcurrency requests through at once and up to MaxWaiting
// wait; it runs before the body is read, so waiting costs no memory.
func (rw *remoteWriter) gate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case rw.slots <- struct{}{}:
		default:
			if rw.waiting.Add(1) > int64(rw.opts.MaxWaiting) {
				rw.waiting.Add(-1)
				rw.refusedRequest("busy")
				w.Header().Set("Retry-After", "1")
				http.Error(w, "remote write receiver busy: too many requests waiting", http.StatusTooManyRequests)
				return
			}
			select {
			case rw.slots <- struct{}{}:
				rw.waiting.Add(-1)
			case <-r.Context().Done():
				rw.waiting.Add(-1)
				return
			}
		}
		defer func() { <-rw.slots }()
		next.ServeHTTP(w, r)
	})
}

// decodedBody is the request body after decode: the decoded bytes, which
// Store takes without copying.
type decodedBody struct {
	*bytes.Reader
	data []byte
}

func (decodedBody) Close() error { return nil }

// decode reads the snappy body within the limits and replaces it with the
// decoded bytes.
func (rw *remoteWriter) decode(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The media type first (415), as the handler would, before the
		// body is read.
		ct := r.Header.Get("Content-Type")
		if ct == "" {
			ct = "application/x-protobuf"
		}
		if _, err := remote.ParseProtoMsg(ct); err != nil {
			rw.refusedRequest("unsupported_type")
			http.Error(w, err.Error(), http.StatusUnsupportedMediaType)
			return
		}
		if enc := r.Header.Get("Content-Encoding"); enc != "" && !strings.EqualFold(enc, "snappy") {
			rw.refusedRequest("unsupported_encoding")
			http.Error(w, fmt.Sprintf("content encoding %q is not supported: only snappy", enc), http.StatusUnsupportedMediaType)
			return
		}
		body, err := io.ReadAll(r.Body) // bounded by MaxBytesReader (handle)
		if err != nil {
			var tooLarge *http.MaxBytesError
			if errors.As(err, &tooLarge) {
				rw.refusedRequest("too_large")
				http.Error(w, fmt.Sprintf("request body exceeds %d bytes", tooLarge.Limit), http.StatusRequestEntityTooLarge)
				return
			}
			http.Error(w, "read body: "+err.Error(), http.StatusBadRequest)
			return
		}
		n, err := snappy.DecodedLen(body)
		if err != nil {
			rw.refusedRequest("bad_snappy")
			http.Error(w, "decode snappy: "+err.Error(), http.StatusBadRequest)
			return
		}
		if int64(n) > rw.opts.MaxDecodedBytes {
			rw.refusedRequest("too_large")
			http.Error(w, fmt.Sprintf("decoded body of %d bytes exceeds %d bytes", n, rw.opts.MaxDecodedBytes),
				http.StatusRequestEntityTooLarge)
			return
		}
		data, err := snappy.Decode(nil, body)
		if err != nil {
			rw.refusedRequest("bad_snappy")
			http.Error(w, "decode snappy: "+err.Error(), http.StatusBadRequest)
			return
		}
		r.Body = decodedBody{Reader: bytes.NewReader(data), data: data}
		r.Header.Del("Content-Encoding")
		next.ServeHTTP(w, r)
	})
}

// Store decodes and appends one request (remote.NewWriteHandler's storage).
func (rw *remoteWriter) Store(r *http.Request, msgType remote.WriteMessageType) (*remote.WriteResponse, error) {
	resp := remote.NewWriteResponse()
	data, ok := r.Body.(decodedBody)
	if !ok { // decode always runs first
		resp.SetStatusCode(http.StatusInternalServerError)
		return resp, errors.New("BUG: remote write body was not decoded")
	}
	b := &writeBatch{rw: rw, app: rw.opts.Appender()}
	var err error
	if msgType == remote.WriteV2MessageType {
		err = b.v2(data.data)
	} else {
		err = b.v1(data.data)
	}
	if err != nil {
		if !errors.Is(err, errStore) {
			rw.refusedRequest("bad_protobuf")
			resp.SetStatusCode(http.StatusBadRequest)
		}
		return resp, err
	}
	if err := b.app.Commit(); err != nil {
		return resp, fmt.Errorf("%w: commit: %v", errStore, err)
	}
	rw.written.Add(b.written)
	rw.histograms.Add(b.histograms)
	rw.exemplars.Add(b.exemplars)
	resp.Samples = b.written
	resp.Histograms = b.histograms
	resp.Exemplars = b.exemplars
	if refusal := b.refusal(); refusal != nil {
		resp.SetStatusCode(http.StatusBadRequest)
		return resp, refusal
	}
	return resp, nil
}

// errStore marks a failure of the store (answered 500, the request rolled
// back) from one of the request (400).
var errStore = errors.New("store failed")

// writeBatch appends one request and keeps its tallies.
type writeBatch struct {
	rw         *remoteWriter
	app        WriteAppender
	sb         labels.ScratchBuilder
	written    int // float samples
	histograms int
	exemplars  int
	refused    map[string]int    // samples per reason
	first      map[string]string // first refusal per reason, for the answer
	order      []string          // reasons in order of first refusal
}

func (b *writeBatch) v1(data []byte) error {
	var req prompb.WriteRequest
	if err := req.Unmarshal(data); err != nil {
		return fmt.Errorf("decode remote write 1.0 request: %w", err)
	}
	for i := range req.Timeseries {
		ts := &req.Timeseries[i]
		b.sb.Reset()
		for _, l := range ts.Labels {
			if l.Value != "" { // an empty value is no label, as in Prometheus
				b.sb.Add(l.Name, l.Value)
			}
		}
		if err := b.series(b.sb, len(ts.Samples), len(ts.Histograms), len(ts.Exemplars), func(ref uint64, lset labels.Labels) error {
			for _, s := range ts.Samples {
				var err error
				if ref, err = b.append(ref, lset, s.Timestamp, s.Value); err != nil {
					return err
				}
			}
			for _, h := range ts.Histograms {
				var err error
				if ref, err = b.appendHistogram(ref, lset, h.Timestamp, h); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			return b.fail(err)
		}
	}
	return nil
}

func (b *writeBatch) v2(data []byte) error {
	var req writev2.Request
	if err := req.Unmarshal(data); err != nil {
		return fmt.Errorf("decode remote write 2.0 request: %w", err)
	}
	for i := range req.Timeseries {
		ts := &req.Timeseries[i]
		b.sb.Reset()
		refs, bad := ts.LabelsRefs, len(ts.LabelsRefs)%2 != 0
		for j := 0; j+1 < len(refs) && !bad; j += 2 {
			if int(refs[j]) >= len(req.Symbols) || int(refs[j+1]) >= len(req.Symbols) {
				bad = true
				break
			}
			if v := req.Symbols[refs[j+1]]; v != "" {
				b.sb.Add(req.Symbols[refs[j]], v)
			}
		}
		if bad {
			b.refuse("invalid_labels", len(ts.Samples)+len(ts.Histograms),
				fmt.Sprintf("series %d: labels_refs outside the symbols table or of odd length", i))
			continue
		}
		if err := b.series(b.sb, len(ts.Samples), len(ts.Histograms), len(ts.Exemplars), func(ref uint64, lset labels.Labels) error {
			for _, s := range ts.Samples {
				var err error
				if ref, err = b.append(ref, lset, s.Timestamp, s.Value); err != nil {
					return err
				}
			}
			for _, h := range ts.Histograms {
				var err error
				if ref, err = b.appendHistogram(ref, lset, h.Timestamp, h); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			return b.fail(err)
		}
	}
	return nil
}

// series checks one series' labels, drops its exemplars and runs appendAll
// over its samples and histograms.
func (b *writeBatch) series(sb labels.ScratchBuilder, samples, histograms, exemplars int,
	appendAll func(ref uint64, lset labels.Labels) error) error {
	sb.Sort()
	lset := sb.Labels()
	if msg := invalidLabels(lset); msg != "" {
		b.refuse("invalid_labels", samples+histograms, msg)
		return nil
	}
	b.exemplars += exemplars
	return appendAll(0, lset)
}

// append appends one sample; a refusal is counted and returns ref, nil.
func (b *writeBatch) append(ref uint64, lset labels.Labels, t int64, v float64) (uint64, error) {
	next, err := b.app.Append(ref, lset, t, v)
	if err == nil {
		b.written++
		return next, nil
	}
	reason := b.rw.opts.RejectReason(err)
	if reason == "" {
		return 0, fmt.Errorf("%w: append: %v", errStore, err)
	}
	b.refuse(reason, 1, fmt.Sprintf("%v for series %s at %d", err, lset, t))
	return next, nil
}

// protoHistogram is a native histogram of either protocol version
// (prompb.Histogram, writev2.Histogram).
type protoHistogram interface {
	IsFloatHistogram() bool
	ToIntHistogram() *histogram.Histogram
	ToFloatHistogram() *histogram.FloatHistogram
}

// appendHistogram appends one native histogram sample; a refusal is
// counted and returns ref, nil.
func (b *writeBatch) appendHistogram(ref uint64, lset labels.Labels, t int64, ph protoHistogram) (uint64, error) {
	var h *histogram.Histogram
	var fh *histogram.FloatHistogram
	if ph.IsFloatHistogram() {
		fh = ph.ToFloatHistogram()
	} else {
		h = ph.ToIntHistogram()
	}
	next, err := b.app.AppendHistogram(ref, lset, t, h, fh)
	if err == nil {
		b.histograms++
		return next, nil
	}
	reason := b.rw.opts.RejectReason(err)
	if reason == "" {
		return 0, fmt.Errorf("%w: append histogram: %v", errStore, err)
	}
	b.refuse(reason, 1, fmt.Sprintf("%v for series %s at %d", err, lset, t))
	return next, nil
}

// fail rolls the batch back after a store failure.
func (b *writeBatch) fail(err error) error {
	_ = b.app.Rollback()
	b.written, b.histograms = 0, 0
	return err
}

func (b *writeBatch) refuse(reason string, n int, msg string) {
	if n == 0 {
		return
	}
	if b.refused == nil {
		b.refused, b.first = map[string]int{}, map[string]string{}
	}
	if _, ok := b.refused[reason]; !ok {
		b.order = append(b.order, reason)
		b.first[reason] = msg
	}
	b.refused[reason] += n
	b.rw.metrics.GetOrCreateCounter(`watchdog_remote_write_refused_samples_total{reason="` + reason + `"}`).Add(n)
}

// refusal is the 400 answer of a partial write, nil when all was written.
func (b *writeBatch) refusal() error {
	if len(b.order) == 0 {
		return nil
	}
	var sb strings.Builder
	sb.WriteString("wrote " + strconv.Itoa(b.written) + " samples")
	if b.histograms > 0 {
		sb.WriteString(" and " + strconv.Itoa(b.histograms) + " histograms")
	}
	sb.WriteString("; refused")
	for i, reason := range b.order {
		if i > 0 {
			sb.WriteString(";")
		}
		fmt.Fprintf(&sb, " %d %s (first: %s)", b.refused[reason], reason, b.first[reason])
	}
	return errors.New(sb.String())
}

// invalidLabels says what is wrong with a series' labels, "" if nothing.
func invalidLabels(lset labels.Labels) string {
	switch {
	case lset.IsEmpty():
		return "a series without labels"
	case !lset.Has(labels.MetricName):
		return "series " + lset.String() + " has no metric name"
	}
	if name, dup := lset.HasDuplicateLabelNames(); dup {
		return "series " + lset.String() + " has label " + strconv.Quote(name) + " twice"
	}
	if !lset.IsValid(model.UTF8Validation) {
		return "series " + lset.String() + " has an invalid label name or value"
	}
	return ""
}
