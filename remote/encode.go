package remote

import (
	"fmt"

	"github.com/golang/snappy"
	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/prompb"
	writev2 "github.com/prometheus/prometheus/prompb/io/prometheus/write/v2"
)

// batch is what one request carries: runs of samples, each of one series,
// in the order the reader took them. A series has at most one run per
// batch, except when a batch is split at max_samples_per_send. Sample i is
// a native histogram when hs[i] holds one; hs is only as long as its last
// histogram (nil in a batch of floats), so floats cost nothing more.
type batch struct {
	runs    []run
	ts      []int64
	vs      []float64
	hs      []hist
	nHist   int   // histograms in the batch
	started int64 // Unix ms of the first sample added (for batch_send_deadline)
}

// hist is a native histogram sample, integer or float; both nil for a
// float sample.
type hist struct {
	h  *histogram.Histogram
	fh *histogram.FloatHistogram
}

func (h hist) isHist() bool { return h.h != nil || h.fh != nil }

// histAt is sample i's histogram, zero for a float.
func (b *batch) histAt(i int) hist {
	if i < len(b.hs) {
		return b.hs[i]
	}
	return hist{}
}

// run is samples ts[lo:hi] and vs[lo:hi] of series st.
type run struct {
	st     *series
	lo, hi int
}

func (b *batch) len() int { return len(b.ts) }

func (b *batch) reset() {
	clear(b.runs) // drop the series pointers
	clear(b.hs)
	b.runs, b.ts, b.vs, b.hs, b.nHist = b.runs[:0], b.ts[:0], b.vs[:0], b.hs[:0], 0
}

// add appends samples of st, extending st's run if it is the last one.
// hs, when not nil, holds the histograms among them (aligned with ts).
func (b *batch) add(st *series, ts []int64, vs []float64, hs []hist) {
	lo := len(b.ts)
	b.ts = append(b.ts, ts...)
	b.vs = append(b.vs, vs...)
	if hs != nil {
		b.hs = grow(b.hs, lo)[:lo] // floats before: zero
		b.hs = append(b.hs, hs...)
		for _, h := range hs {
			if h.isHist() {
				b.nHist++
			}
		}
	}
	if n := len(b.runs); n > 0 && b.runs[n-1].st == st {
		b.runs[n-1].hi = len(b.ts)
		return
	}
	b.runs = append(b.runs, run{st: st, lo: lo, hi: len(b.ts)})
}

// encoder turns batches into snappy-compressed request bodies, reusing its
// buffers: one per shard.
type encoder struct {
	v2   bool
	req1 prompb.WriteRequest
	req2 writev2.Request
	syms writev2.SymbolsTable
	pb   []byte
	body []byte
}

func newEncoder(v2 bool) *encoder {
	return &encoder{v2: v2, syms: writev2.NewSymbolTable()}
}

// encode returns the compressed body of b, valid until the next call.
func (e *encoder) encode(b *batch) ([]byte, error) {
	var err error
	if e.v2 {
		err = e.marshalV2(b)
	} else {
		err = e.marshalV1(b)
	}
	if err != nil {
		return nil, fmt.Errorf("encode request: %w", err)
	}
	e.body = snappy.Encode(e.body[:cap(e.body)], e.pb)
	return e.body, nil
}

func grow[T any](s []T, n int) []T {
	if cap(s) < n {
		return append(s[:cap(s)], make([]T, n-cap(s))...)[:n]
	}
	return s[:n]
}

func (e *encoder) marshalV1(b *batch) error {
	req := &e.req1
	req.Timeseries = grow(req.Timeseries, len(b.runs))
	for i, r := range b.runs {
		ts := &req.Timeseries[i]
		ts.Labels = ts.Labels[:0]
		r.st.out.Range(func(l labels.Label) {
			ts.Labels = append(ts.Labels, prompb.Label{Name: l.Name, Value: l.Value})
		})
		ts.Samples, ts.Histograms = ts.Samples[:0], ts.Histograms[:0]
		for j := r.lo; j < r.hi; j++ {
			switch h := b.histAt(j); {
			case h.h != nil:
				ts.Histograms = append(ts.Histograms, prompb.FromIntHistogram(b.ts[j], h.h))
			case h.fh != nil:
				ts.Histograms = append(ts.Histograms, prompb.FromFloatHistogram(b.ts[j], h.fh))
			default:
				ts.Samples = append(ts.Samples, prompb.Sample{Timestamp: b.ts[j], Value: b.vs[j]})
			}
		}
	}
	n := req.Size()
	e.pb = grow(e.pb, n)
	_, err := req.MarshalToSizedBuffer(e.pb)
	return err
}

func (e *encoder) marshalV2(b *batch) error {
	req := &e.req2
	e.syms.Reset()
	req.Timeseries = grow(req.Timeseries, len(b.runs))
	for i, r := range b.runs {
		ts := &req.Timeseries[i]
		ts.LabelsRefs = e.syms.SymbolizeLabels(r.st.out, ts.LabelsRefs[:0])
		ts.Samples, ts.Histograms = ts.Samples[:0], ts.Histograms[:0]
		for j := r.lo; j < r.hi; j++ {
			switch h := b.histAt(j); {
			case h.h != nil:
				ts.Histograms = append(ts.Histograms, writev2.FromIntHistogram(0, b.ts[j], h.h))
			case h.fh != nil:
				ts.Histograms = append(ts.Histograms, writev2.FromFloatHistogram(0, b.ts[j], h.fh))
			default:
				ts.Samples = append(ts.Samples, writev2.Sample{Timestamp: b.ts[j], Value: b.vs[j]})
			}
		}
	}
	req.Symbols = e.syms.Symbols()
	n := req.Size()
	e.pb = grow(e.pb, n)
	_, err := req.MarshalToSizedBuffer(e.pb)
	return err
}
