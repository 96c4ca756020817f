package tsdb

import (
	"errors"
	"math"

	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/tsdb/chunkenc"
)

// This file is the optional part of a series: native histogram samples and
// start timestamps. A series of plain floats without start timestamps never
// has one (memSeries.ext is nil) and takes the fast paths of append.go; the
// first histogram or non-zero start timestamp gives the series a seriesExt,
// and from then on its samples go through the slower, general paths here.
//
// Histogram samples live in chunks of their own, encoded by Prometheus's
// chunkenc (HistogramChunk for integer histograms, FloatHistogramChunk for
// float ones) beside the series' float chunks. Sample times are strictly
// increasing across both kinds, so a reader merges the two sequences by
// time (querier.go). The chunks are cut as Prometheus's head cuts them: on
// a change of encoding, after a float sample (the next histogram chunk then
// starts with an unknown counter reset), on a counter reset or schema change
// (chunkenc decides and sets the chunk's counter-reset header) and when
// full. A float stale marker after a histogram is stored as a histogram
// stale marker, as Prometheus does.
//
// Start timestamps ("created" times, 0 meaning unknown) are kept as runs:
// a cumulative counter's start stays the same sample after sample and a
// delta's start is its previous sample time, a constant offset, so either
// kind costs one run until it changes.

// ErrInvalidHistogram is wrapped by the error AppendHistogram returns for a
// histogram that fails validation (see histogram.Histogram.Validate), or
// when not exactly one of h and fh is given.
var ErrInvalidHistogram = errors.New("invalid histogram")

// stRunBytes is what one start-timestamp run counts for in the chunk bytes
// gauge.
const stRunBytes = 24

// histChunk is a histogram chunk of a series. Once sealed it is never
// written again, so queries share it.
type histChunk struct {
	c          chunkenc.Chunk
	mint, maxt int64
}

// stRun gives the start timestamp of the samples from time t until the
// next run: v itself, or the sample time plus v if rel.
type stRun struct {
	t, v int64
	rel  bool
}

func (r *stRun) at(t int64) int64 {
	if r.rel {
		return t + r.v
	}
	return r.v
}

// seriesExt is a series' histogram chunks and start timestamps. Guarded by
// the series' mu.
type seriesExt struct {
	hchunks []histChunk // sealed, oldest first
	hhead   histChunk   // open chunk; hhead.c is nil if none
	happ    chunkenc.Appender
	lastHT  int64 // newest committed histogram time, math.MinInt64 if none
	// The newest committed histogram (one of them is set if lastHT is).
	lastH  *histogram.Histogram
	lastFH *histogram.FloatHistogram

	sts    []stRun // start timestamps, by time
	stPrev int64   // time of the newest sample addST saw
}

func newSeriesExt() *seriesExt {
	return &seriesExt{lastHT: math.MinInt64, stPrev: math.MinInt64}
}

// ensureExt gives s its optional part. Callers hold s.mu.
func (s *memSeries) ensureExt() *seriesExt {
	if s.ext == nil {
		s.ext = newSeriesExt()
		s.hasExt = true
	}
	return s.ext
}

// newestT is the time of the series' newest committed sample of either
// kind, math.MinInt64 if none. Callers hold s.mu.
func (s *memSeries) newestT() int64 {
	if s.ext != nil {
		return max(s.lastT, s.ext.lastHT)
	}
	return s.lastT
}

// lastSample is a series' newest sample, for the order and duplicate
// checks: a float unless h or fh is set.
type lastSample struct {
	t  int64
	v  float64
	h  *histogram.Histogram
	fh *histogram.FloatHistogram
}

// lastCommitted returns the series' newest committed sample. Callers hold
// s.mu.
func (s *memSeries) lastCommitted() lastSample {
	if x := s.ext; x != nil && x.lastHT > s.lastT {
		return lastSample{t: x.lastHT, h: x.lastH, fh: x.lastFH}
	}
	return lastSample{t: s.lastT, v: math.Float64frombits(s.lastV)}
}

// appendableExt is appendable for any kind of sample: ignore is true for an
// exact duplicate (same time, kind and value).
func appendableExt(last lastSample, t int64, v float64, h *histogram.Histogram, fh *histogram.FloatHistogram) (ignore bool, err error) {
	switch {
	case t > last.t:
		return false, nil
	case t < last.t:
		return false, ErrOutOfOrder
	}
	switch {
	case h != nil:
		ignore = last.h != nil && last.h.Equals(h)
	case fh != nil:
		ignore = last.fh != nil && last.fh.Equals(fh)
	default:
		ignore = last.h == nil && last.fh == nil && math.Float64bits(last.v) == math.Float64bits(v)
	}
	if ignore {
		return true, nil
	}
	return false, ErrDuplicateSample
}

// histChunkFull reports whether the open histogram chunk is to be cut
// before the next sample: at chunkenc's target size once it holds its
// minimum of samples, or at samplesPerChunk samples whatever its size.
func histChunkFull(c chunkenc.Chunk) bool {
	n := c.NumSamples()
	return n >= samplesPerChunk || (n >= chunkenc.MinSamplesPerHistogramChunk && len(c.Bytes()) >= chunkenc.TargetBytesPerHistogramChunk)
}

// appendHist adds a histogram sample (exactly one of h, fh) that has passed
// the order check and returns what it added to the gauges. The series owns
// h or fh from now on. Callers hold s.mu.
func (s *memSeries) appendHist(t int64, h *histogram.Histogram, fh *histogram.FloatHistogram) footprint {
	x := s.ensureExt()
	enc := chunkenc.EncHistogram
	if fh != nil {
		enc = chunkenc.EncFloatHistogram
	}
	// The previous appender tells a new chunk whether it starts with a
	// counter reset; after a float sample there is none to compare with.
	prev := x.happ
	afterFloat := s.lastT > x.lastHT
	if afterFloat {
		prev = nil
	}
	var f footprint
	before := 0
	if x.hhead.c == nil || afterFloat || x.hhead.c.Encoding() != enc || histChunkFull(x.hhead.c) {
		s.sealHist()
		c, err := chunkenc.NewEmptyChunk(enc)
		if err != nil {
			panic("BUG: histogram chunk: " + err.Error())
		}
		app, err := c.Appender()
		if err != nil {
			panic("BUG: appender on empty chunk: " + err.Error())
		}
		x.hhead, x.happ = histChunk{c: c, mint: t}, app
		f.chunks++
	} else {
		prev = nil // continuing the open chunk
		before = len(x.hhead.c.Bytes())
	}
	var (
		nc      chunkenc.Chunk
		recoded bool
		app     chunkenc.Appender
		err     error
	)
	if h != nil {
		nc, recoded, app, err = x.happ.AppendHistogram(prev, 0, t, h, false)
	} else {
		nc, recoded, app, err = x.happ.AppendFloatHistogram(prev, 0, t, fh, false)
	}
	if err != nil {
		panic("BUG: histogram append: " + err.Error()) // only with appendOnly
	}
	switch {
	case nc == nil:
	case recoded:
		x.hhead.c = nc
	default: // a new chunk, cut by chunkenc (counter reset, schema change)
		after := len(x.hhead.c.Bytes())
		f.bytes += int64(after - before)
		s.sealHist()
		x.hhead, before = histChunk{c: nc, mint: t}, 0
		f.chunks++
	}
	x.happ = app
	x.hhead.maxt = t
	f.bytes += int64(len(x.hhead.c.Bytes()) - before)
	f.samples = 1
	x.lastHT, x.lastH, x.lastFH = t, h, fh
	return f
}

// sealHist moves the open histogram chunk, if it has samples, to the
// sealed list, where it keeps counting in the gauges. Callers hold s.mu.
func (s *memSeries) sealHist() {
	x := s.ext
	if x.hhead.c == nil {
		return
	}
	if x.hhead.c.NumSamples() > 0 {
		x.hhead.c.Compact()
		x.hchunks = append(x.hchunks, x.hhead)
		s.firstMaxt = min(s.firstMaxt, x.hhead.maxt)
	}
	x.hhead, x.happ = histChunk{}, nil
}

// addST records the start timestamp st of the sample at t, the series'
// newest, and returns the bytes it added to the gauge.
func (x *seriesExt) addST(t, st int64) int64 {
	prev := x.stPrev
	x.stPrev = t
	n := len(x.sts)
	if n == 0 {
		if st == 0 {
			return 0
		}
		x.sts = append(x.sts, stRun{t: t, v: st})
		return stRunBytes
	}
	r := &x.sts[n-1]
	if r.at(t) == st {
		return 0
	}
	if !r.rel && r.t == prev && st-t == r.v-r.t {
		// The run held one sample, whose start is at the same offset:
		// make it a run of that offset.
		r.v, r.rel = r.v-r.t, true
		return 0
	}
	x.sts = append(x.sts, stRun{t: t, v: st})
	return stRunBytes
}

// footprint is what the histogram chunks and start timestamps count for.
func (x *seriesExt) footprint() footprint {
	var f footprint
	for _, c := range x.hchunks {
		f.chunks++
		f.samples += int64(c.c.NumSamples())
		f.bytes += int64(len(c.c.Bytes()))
	}
	if c := x.hhead.c; c != nil && c.NumSamples() > 0 {
		f.chunks++
		f.samples += int64(c.NumSamples())
		f.bytes += int64(len(c.Bytes()))
	}
	f.bytes += int64(len(x.sts)) * stRunBytes
	return f
}

// truncateExt drops the histogram chunks lying wholly before cutoff and
// the start-timestamp runs before the oldest sample left, lowers
// s.firstMaxt to the oldest histogram chunk's maxt and returns what was
// dropped. Callers hold s.mu.
func (s *memSeries) truncateExt(cutoff int64) footprint {
	x := s.ext
	var f footprint
	n := 0
	for n < len(x.hchunks) && x.hchunks[n].maxt < cutoff {
		c := x.hchunks[n].c
		f.chunks++
		f.samples += int64(c.NumSamples())
		f.bytes += int64(len(c.Bytes()))
		n++
	}
	if n > 0 {
		rest := make([]histChunk, len(x.hchunks)-n)
		copy(rest, x.hchunks[n:])
		x.hchunks = rest
	}
	if len(x.hchunks) > 0 {
		s.firstMaxt = min(s.firstMaxt, x.hchunks[0].maxt)
	}
	oldest := s.oldestT()
	k := 0
	for k+1 < len(x.sts) && x.sts[k+1].t <= oldest {
		k++
	}
	if k > 0 {
		x.sts = append([]stRun(nil), x.sts[k:]...)
		f.bytes += int64(k) * stRunBytes
	}
	return f
}

// oldestT is the time of the first sample of the series' oldest chunk of
// either kind, math.MaxInt64 if none. Callers hold s.mu.
func (s *memSeries) oldestT() int64 {
	t := int64(math.MaxInt64)
	if len(s.chunks) > 0 {
		t = s.chunks[0].mint
	} else if s.headSamples() > 0 {
		t = s.headMint
	}
	if x := s.ext; x != nil {
		if len(x.hchunks) > 0 {
			t = min(t, x.hchunks[0].mint)
		} else if x.hhead.c != nil && x.hhead.c.NumSamples() > 0 {
			t = min(t, x.hhead.mint)
		}
	}
	return t
}

// extView is what a query sees of a series' optional part.
type extView struct {
	hchunks []histChunk // in range, the open one copied
	sts     []stRun
}

// view returns the histogram chunks overlapping [mint, maxt] and the
// start-timestamp runs, or nil if there are neither. Sealed chunks are
// shared; the open one is copied. Callers hold s.mu.
func (x *seriesExt) view(mint, maxt int64) *extView {
	var v extView
	for _, c := range x.hchunks {
		if c.maxt >= mint && c.mint <= maxt {
			v.hchunks = append(v.hchunks, c)
		}
	}
	if c := x.hhead; c.c != nil && c.c.NumSamples() > 0 && c.maxt >= mint && c.mint <= maxt {
		data := append([]byte(nil), c.c.Bytes()...)
		cc, err := chunkenc.FromData(c.c.Encoding(), data)
		if err != nil {
			panic("BUG: copy of open histogram chunk: " + err.Error())
		}
		v.hchunks = append(v.hchunks, histChunk{c: cc, mint: c.mint, maxt: c.maxt})
	}
	if len(x.sts) > 0 {
		lo := 0
		for lo+1 < len(x.sts) && x.sts[lo+1].t <= mint {
			lo++
		}
		hi := lo
		for hi < len(x.sts) && x.sts[hi].t <= maxt {
			hi++
		}
		v.sts = append([]stRun(nil), x.sts[lo:hi]...)
	}
	if len(v.hchunks) == 0 && len(v.sts) == 0 {
		return nil
	}
	return &v
}
