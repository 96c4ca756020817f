package remote

import (
	"fmt"

	"github.com/golang/snappy"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/prompb"
	writev2 "github.com/prometheus/prometheus/prompb/io/prometheus/write/v2"
)

// batch is what one request carries: runs of samples, each of one series,
// in the order the reader took them. A series has at most one run per
// batch, except when a batch is split at max_samples_per_send.
type batch struct {
	runs    []run
	ts      []int64
	vs      []float64
	started int64 // Unix ms of the first sample added (for batch_send_deadline)
}

// run is samples ts[lo:hi] and vs[lo:hi] of series st.
type run struct {
	st     *series
	lo, hi int
}

func (b *batch) len() int { return len(b.ts) }

func (b *batch) reset() {
	clear(b.runs) // drop the series pointers
	b.runs, b.ts, b.vs = b.runs[:0], b.ts[:0], b.vs[:0]
}

// add appends samples of st, extending st's run if it is the last one.
func (b *batch) add(st *series, ts []int64, vs []float64) {
	lo := len(b.ts)
	b.ts = append(b.ts, ts...)
	b.vs = append(b.vs, vs...)
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
		ts.Samples = grow(ts.Samples, r.hi-r.lo)
		for j := r.lo; j < r.hi; j++ {
			ts.Samples[j-r.lo] = prompb.Sample{Timestamp: b.ts[j], Value: b.vs[j]}
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
		ts.Samples = grow(ts.Samples, r.hi-r.lo)
		for j := r.lo; j < r.hi; j++ {
			ts.Samples[j-r.lo] = writev2.Sample{Timestamp: b.ts[j], Value: b.vs[j]}
		}
	}
	req.Symbols = e.syms.Symbols()
	n := req.Size()
	e.pb = grow(e.pb, n)
	_, err := req.MarshalToSizedBuffer(e.pb)
	return err
}
