package scrape

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/exemplar"
	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/value"
	"github.com/prometheus/prometheus/tsdb/chunkenc"
	"google.golang.org/protobuf/proto"

	"github.com/watchdog-sre/watchdog/config"
	"github.com/watchdog-sre/watchdog/tsdb"
)

const protoType = "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited"

// protoBody encodes the families of g in the delimited protobuf format.
func protoBody(t testing.TB, g prometheus.Gatherer) []byte {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	return encodeFamilies(t, mfs...)
}

func encodeFamilies(t testing.TB, mfs ...*dto.MetricFamily) []byte {
	t.Helper()
	var buf bytes.Buffer
	enc := expfmt.NewEncoder(&buf, expfmt.NewFormat(expfmt.TypeProtoDelim))
	for _, mf := range mfs {
		if err := enc.Encode(mf); err != nil {
			t.Fatal(err)
		}
	}
	return buf.Bytes()
}

// nativeRegistry has one native histogram "latency_seconds" with
// observations 1..n/10 (factor 1.1) and an exemplar on the last one.
func nativeRegistry(t testing.TB, n int) prometheus.Gatherer {
	reg := prometheus.NewRegistry()
	h := prometheus.NewHistogram(prometheus.HistogramOpts{
		Name: "latency_seconds", Help: "Request latency.",
		NativeHistogramBucketFactor: 1.1,
	})
	reg.MustRegister(h)
	for i := 1; i < n; i++ {
		h.Observe(float64(i) / 10)
	}
	h.(prometheus.ExemplarObserver).ObserveWithExemplar(float64(n)/10, prometheus.Labels{"trace_id": "abc"})
	return reg
}

type exemplarRec struct {
	got []pendingExemplar
	err error
}

func (r *exemplarRec) AppendExemplar(lset labels.Labels, e exemplar.Exemplar) error {
	r.got = append(r.got, pendingExemplar{lset, e})
	return r.err
}

func histCfg(mod func(*config.ScrapeConfig)) *config.ScrapeConfig {
	c := scrapeCfg("h", "h:1")
	c.HonorTimestamps = new(bool)
	*c.HonorTimestamps = true
	t, f1, f2 := true, false, false
	c.ScrapeNativeHistograms, c.AlwaysScrapeClassicHistograms, c.ConvertClassicHistogramsToNHCB = &t, &f1, &f2
	if mod != nil {
		mod(c)
	}
	return c
}

func newIngest(t *testing.T, cfg *config.ScrapeConfig, ex ExemplarAppender) (*Ingester, *recorder) {
	t.Helper()
	rec := newRecorder()
	in, err := NewIngester(cfg, "h:1", Options{Appender: rec.appender, IsSoftError: isSoft, Exemplars: ex})
	if err != nil {
		t.Fatal(err)
	}
	return in, rec
}

// histograms returns the committed histogram samples of name.
func (r *recorder) histograms(name string) []sample {
	var out []sample
	for _, s := range r.samples(name) {
		if s.h != nil || s.fh != nil {
			out = append(out, s)
		}
	}
	return out
}

// TestProtobufNativeHistogram: a client_golang native histogram served as
// protobuf becomes one histogram sample with the observations' count and
// sum and the exemplar; without scrape_native_histograms, the classic
// series are ingested instead.
func TestProtobufNativeHistogram(t *testing.T) {
	body := protoBody(t, nativeRegistry(t, 100))
	t.Run("native", func(t *testing.T) {
		ex := &exemplarRec{}
		in, rec := newIngest(t, histCfg(nil), ex)
		n, err := in.Ingest(body, protoType, time.UnixMilli(1000))
		if err != nil || n != 1 {
			t.Fatalf("Ingest = %d, %v; want 1 sample", n, err)
		}
		hs := rec.histograms("latency_seconds")
		if len(hs) != 1 || hs[0].h == nil {
			t.Fatalf("histograms = %v", hs)
		}
		h := hs[0].h
		if h.Count != 100 || h.Sum < 504.9 || h.Sum > 505.1 || h.Schema != 3 {
			t.Errorf("histogram count %d sum %v schema %d, want 100, 505, 3", h.Count, h.Sum, h.Schema)
		}
		if len(rec.samples("latency_seconds_count")) != 0 {
			t.Error("classic series ingested next to the native histogram")
		}
		if len(ex.got) != 1 || ex.got[0].e.Labels.Get("trace_id") != "abc" || ex.got[0].e.Value != 10 ||
			ex.got[0].lset.Get(model.MetricNameLabel) != "latency_seconds" {
			t.Errorf("exemplars = %+v", ex.got)
		}
		md := in.Metadata()["latency_seconds"]
		if md.Type != model.MetricTypeHistogram || md.Help != "Request latency." {
			t.Errorf("metadata = %+v", md)
		}
	})
	t.Run("native off", func(t *testing.T) {
		in, rec := newIngest(t, histCfg(func(c *config.ScrapeConfig) { *c.ScrapeNativeHistograms = false }), nil)
		if _, err := in.Ingest(body, protoType, time.UnixMilli(1000)); err != nil {
			t.Fatal(err)
		}
		if hs := rec.histograms("latency_seconds"); len(hs) != 0 {
			t.Errorf("native histogram ingested with scrape_native_histograms off: %v", hs)
		}
		if c := rec.samples("latency_seconds_count"); len(c) != 1 || c[0].v != 100 {
			t.Errorf("latency_seconds_count = %v, want 100", c)
		}
	})
}

// TestHistogramBucketLimit: a histogram over native_histogram_bucket_limit
// is reduced in resolution until it fits; one whose buckets cannot be
// merged enough fails the scrape as Prometheus does.
func TestHistogramBucketLimit(t *testing.T) {
	body := protoBody(t, nativeRegistry(t, 100))
	tests := []struct {
		limit   int
		factor  float64
		wantErr error
		check   func(*histogram.Histogram) bool
	}{
		{limit: 10, check: func(h *histogram.Histogram) bool {
			return len(h.PositiveBuckets) <= 10 && h.Schema < 3 && h.Count == 100
		}},
		{limit: 4096, factor: 1.5, check: func(h *histogram.Histogram) bool { return h.Schema == 0 && h.Count == 100 }},
		{limit: 1, wantErr: ErrBucketLimit},
	}
	for _, tt := range tests {
		in, rec := newIngest(t, histCfg(func(c *config.ScrapeConfig) {
			c.NativeHistogramBucketLimit = tt.limit
			c.NativeHistogramMinBucketFactor = tt.factor
		}), nil)
		_, err := in.Ingest(body, protoType, time.UnixMilli(1000))
		if !errors.Is(err, tt.wantErr) {
			t.Fatalf("limit %d: err = %v, want %v", tt.limit, err, tt.wantErr)
		}
		hs := rec.histograms("latency_seconds")
		if tt.wantErr != nil {
			if len(hs) != 0 {
				t.Errorf("limit %d: failed scrape stored %v", tt.limit, hs)
			}
			continue
		}
		if len(hs) != 1 || !tt.check(hs[0].h) {
			t.Errorf("limit %d factor %v: got %v", tt.limit, tt.factor, hs)
		}
	}
}

// TestNHCBConversion: with convert_classic_histograms_to_nhcb, a classic
// text histogram becomes one custom-bucket histogram (schema -53); with
// always_scrape_classic_histograms the classic series stay as well.
func TestNHCBConversion(t *testing.T) {
	body := []byte(`# TYPE rpc_seconds histogram
rpc_seconds_bucket{le="0.1"} 2
rpc_seconds_bucket{le="1"} 5
rpc_seconds_bucket{le="+Inf"} 6
rpc_seconds_sum 4.5
rpc_seconds_count 6
`)
	for _, keep := range []bool{false, true} {
		in, rec := newIngest(t, histCfg(func(c *config.ScrapeConfig) {
			*c.ConvertClassicHistogramsToNHCB = true
			*c.AlwaysScrapeClassicHistograms = keep
		}), nil)
		if _, err := in.Ingest(body, "text/plain; version=0.0.4", time.UnixMilli(1000)); err != nil {
			t.Fatal(err)
		}
		hs := rec.histograms("rpc_seconds")
		if len(hs) != 1 {
			t.Fatalf("keep %v: histograms %v", keep, hs)
		}
		h := hs[0].h
		if h == nil || h.Schema != histogram.CustomBucketsSchema || h.Count != 6 || h.Sum != 4.5 ||
			len(h.CustomValues) != 2 || h.CustomValues[0] != 0.1 || h.CustomValues[1] != 1 {
			t.Errorf("keep %v: NHCB = %v", keep, hs[0])
		}
		if got := len(rec.samples("rpc_seconds_bucket")); (got == 3) != keep {
			t.Errorf("keep %v: %d classic bucket samples", keep, got)
		}
	}
}

// TestHistogramSampleLimit: a native histogram counts as one sample
// towards sample_limit.
func TestHistogramSampleLimit(t *testing.T) {
	reg := prometheus.NewRegistry()
	hv := prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "h", NativeHistogramBucketFactor: 1.1}, []string{"i"})
	reg.MustRegister(hv)
	for _, i := range []string{"a", "b", "c"} {
		hv.WithLabelValues(i).Observe(1)
	}
	body := protoBody(t, reg)
	for _, tt := range []struct {
		limit int
		err   error
	}{{3, nil}, {2, ErrSampleLimit}} {
		in, rec := newIngest(t, histCfg(func(c *config.ScrapeConfig) { c.SampleLimit = tt.limit }), nil)
		n, err := in.Ingest(body, protoType, time.UnixMilli(1000))
		if !errors.Is(err, tt.err) || n != 3 {
			t.Errorf("limit %d: Ingest = %d, %v; want 3, %v", tt.limit, n, err, tt.err)
		}
		if want := map[bool]int{true: 3, false: 0}[tt.err == nil]; len(rec.histograms("h")) != want {
			t.Errorf("limit %d: %d histograms stored, want %d", tt.limit, len(rec.histograms("h")), want)
		}
	}
}

// TestHostileProtobufHistogram: a protobuf body whose histogram claims
// millions of buckets (one byte each on the wire) fails the scrape before
// it is decoded, allocating far less than the decoded form would take.
func TestHostileProtobufHistogram(t *testing.T) {
	const n = 4 << 20
	deltas := make([]int64, n)
	mf := &dto.MetricFamily{
		Name: proto.String("evil"),
		Type: dto.MetricType_HISTOGRAM.Enum(),
		Metric: []*dto.Metric{{Histogram: &dto.Histogram{
			SampleCount:   proto.Uint64(0),
			SampleSum:     proto.Float64(0),
			Schema:        proto.Int32(0),
			PositiveSpan:  []*dto.BucketSpan{{Offset: proto.Int32(0), Length: proto.Uint32(n)}},
			PositiveDelta: deltas,
		}}},
	}
	body := encodeFamilies(t, mf)
	in, rec := newIngest(t, histCfg(nil), nil)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	_, err := in.Ingest(body, protoType, time.UnixMilli(1000))
	runtime.ReadMemStats(&after)
	if !errors.Is(err, ErrHistogramTooLarge) {
		t.Fatalf("err = %v, want ErrHistogramTooLarge", err)
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > uint64(len(body)) {
		t.Errorf("allocated %d bytes for a %d-byte body (decoding would take %d)", alloc, len(body), 16*n)
	}
	if len(rec.histograms("evil")) != 0 {
		t.Error("hostile histogram stored")
	}
	// A broken frame is a parse error, not a panic.
	if _, err := in.Ingest(body[:len(body)/2], protoType, time.UnixMilli(2000)); err == nil {
		t.Error("truncated body accepted")
	}
}

// TestMetadataFromText: TYPE and HELP lines of the text format are kept
// per family, also when the fast path skips repeated metadata, and a
// change is picked up; a failed scrape keeps the last good metadata.
func TestMetadataFromText(t *testing.T) {
	in, _ := newIngest(t, histCfg(nil), nil)
	v1 := "# HELP up_total Ups.\n# TYPE up_total counter\nup_total 1\n# HELP temp Temperature \\\\ in\\ncelsius.\n# TYPE temp gauge\ntemp 3\n"
	v2 := strings.Replace(v1, "Ups.", "Ups, again.", 1)
	steps := []struct {
		body    string
		wantErr bool
		help    string
	}{
		{v1, false, "Ups."}, {v1, false, "Ups."}, {v1, false, "Ups."}, {v1, false, "Ups."},
		{v2, false, "Ups, again."}, {v2, false, "Ups, again."}, {"bad line {{\n", true, "Ups, again."}, {v1, false, "Ups."},
		// A body with new metadata that fails keeps the old metadata; the
		// same body, once it succeeds, brings the new one.
		{v2 + "bad {{\n", true, "Ups."}, {v2, false, "Ups, again."}, {v2, false, "Ups, again."},
	}
	for i, s := range steps {
		_, err := in.Ingest([]byte(s.body), "text/plain; version=0.0.4", time.UnixMilli(int64(i+1)*1000))
		if (err != nil) != s.wantErr {
			t.Fatalf("step %d: err = %v", i, err)
		}
		md := in.Metadata()
		if md["up_total"] != (Metadata{Type: model.MetricTypeCounter, Help: s.help}) ||
			md["temp"] != (Metadata{Type: model.MetricTypeGauge, Help: "Temperature \\ in\ncelsius."}) || len(md) != 2 {
			t.Fatalf("step %d: metadata = %+v", i, md)
		}
	}
}

// TestMetadataOpenMetricsUnit: OpenMetrics UNIT lines are kept, and OpenMetrics
// exemplars without a timestamp take the sample's.
func TestMetadataOpenMetricsUnit(t *testing.T) {
	ex := &exemplarRec{}
	in, _ := newIngest(t, histCfg(nil), ex)
	body := "# TYPE req_seconds counter\n# UNIT req_seconds seconds\n# HELP req_seconds Time.\nreq_seconds_total 3 # {trace_id=\"x\"} 0.5\n# EOF\n"
	if _, err := in.Ingest([]byte(body), "application/openmetrics-text; version=1.0.0", time.UnixMilli(5000)); err != nil {
		t.Fatal(err)
	}
	if md := in.Metadata()["req_seconds"]; md != (Metadata{Type: model.MetricTypeCounter, Help: "Time.", Unit: "seconds"}) {
		t.Errorf("metadata = %+v", md)
	}
	if len(ex.got) != 1 || ex.got[0].e.Ts != 5000 || ex.got[0].e.Value != 0.5 {
		t.Errorf("exemplars = %+v", ex.got)
	}
}

// TestMetadataBounded: a target exposing more families than
// maxMetadataFamilies keeps that many, and HELP texts are cut at
// maxHelpLength.
func TestMetadataBounded(t *testing.T) {
	var b strings.Builder
	b.WriteString("# HELP long " + strings.Repeat("h", maxHelpLength+10) + "\n")
	for i := range maxMetadataFamilies + 100 {
		b.WriteString("# HELP m_" + itoa(i) + " x\n")
	}
	b.WriteString("m 1\n")
	in, _ := newIngest(t, histCfg(nil), nil)
	if _, err := in.Ingest([]byte(b.String()), "text/plain", time.UnixMilli(1000)); err != nil {
		t.Fatal(err)
	}
	md := in.Metadata()
	if len(md) != maxMetadataFamilies {
		t.Errorf("%d families kept, want %d", len(md), maxMetadataFamilies)
	}
	if h := md["long"].Help; len(h) != maxHelpLength {
		t.Errorf("help of %d bytes kept, want %d", len(h), maxHelpLength)
	}
}

func itoa(i int) string { return strconv.Itoa(i) }

// TestAcceptHeader: the Accept header lists the job's protocols in order
// with Prometheus's weights.
func TestAcceptHeader(t *testing.T) {
	tests := []struct {
		ps   []config.ScrapeProtocol
		want string
	}{
		{config.DefaultProtoFirstScrapeProtocols, "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited;q=0.6," +
			"application/openmetrics-text;version=1.0.0;escaping=underscores;q=0.5,application/openmetrics-text;version=0.0.1;q=0.4," +
			"text/plain;version=1.0.0;escaping=underscores;q=0.3,text/plain;version=0.0.4;q=0.2,*/*;q=0.1"},
		{[]config.ScrapeProtocol{config.PrometheusText0_0_4}, "text/plain;version=0.0.4;q=0.6,*/*;q=0.5"},
	}
	for _, tt := range tests {
		if got := acceptHeader(tt.ps); got != tt.want {
			t.Errorf("acceptHeader(%v) =\n%s\nwant\n%s", tt.ps, got, tt.want)
		}
	}
}

// TestHistogramIntoStore: a scraped native histogram goes into the real
// store, comes back through its Querier as a histogram sample, and the
// series goes stale when the target stops exposing it.
func TestHistogramIntoStore(t *testing.T) {
	db, err := tsdb.Open(tsdb.Options{Now: func() time.Time { return time.UnixMilli(10_000) }})
	if err != nil {
		t.Fatal(err)
	}
	in, err := NewIngester(histCfg(nil), "h:1", Options{Appender: func() Appender { return db.Appender() }})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := in.Ingest(protoBody(t, nativeRegistry(t, 100)), protoType, time.UnixMilli(1000)); err != nil {
		t.Fatal(err)
	}
	if _, err := in.Ingest([]byte("other 1\n"), "text/plain", time.UnixMilli(2000)); err != nil {
		t.Fatal(err)
	}
	q, err := db.Querier(0, 10_000)
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	set := q.Select(context.Background(), false, nil, labels.MustNewMatcher(labels.MatchEqual, "__name__", "latency_seconds"))
	if !set.Next() {
		t.Fatalf("no series: %v", set.Err())
	}
	it := set.At().Iterator(nil)
	var got []string
	for vt := it.Next(); vt != chunkenc.ValNone; vt = it.Next() {
		switch vt {
		case chunkenc.ValHistogram:
			ts, h := it.AtHistogram(nil)
			if value.IsStaleNaN(h.Sum) {
				got = append(got, fmt.Sprintf("%d:stale", ts))
			} else {
				got = append(got, fmt.Sprintf("%d:count=%d", ts, h.Count))
			}
		case chunkenc.ValFloatHistogram:
			ts, h := it.AtFloatHistogram(nil)
			got = append(got, fmt.Sprintf("%d:fcount=%v stale=%v", ts, h.Count, value.IsStaleNaN(h.Sum)))
		case chunkenc.ValFloat:
			ts, v := it.At()
			got = append(got, fmt.Sprintf("%d:float stale=%v", ts, value.IsStaleNaN(v)))
		}
	}
	if want := "1000:count=100 2000:stale"; strings.Join(got, " ") != want {
		t.Errorf("stored %q, want %q", strings.Join(got, " "), want)
	}
}

// TestExemplarsPerScrapeBounded: a target attaching an exemplar to every
// one of many samples hands at most maxExemplarsPerScrape of them to the
// storage per scrape; the rest are counted as rejected.
func TestExemplarsPerScrapeBounded(t *testing.T) {
	var b strings.Builder
	b.WriteString("# TYPE c counter\n")
	n := maxExemplarsPerScrape + 100
	for i := range n {
		b.WriteString("c_total{i=\"" + itoa(i) + "\"} 1 # {trace_id=\"t\"} 1 1.5\n")
	}
	b.WriteString("# EOF\n")
	ex := &exemplarRec{}
	in, _ := newIngest(t, histCfg(func(c *config.ScrapeConfig) { c.SampleLimit = n }), ex)
	if _, err := in.Ingest([]byte(b.String()), "application/openmetrics-text; version=1.0.0", time.UnixMilli(2000)); err != nil {
		t.Fatal(err)
	}
	if len(ex.got) != maxExemplarsPerScrape {
		t.Errorf("%d exemplars handed over, want %d", len(ex.got), maxExemplarsPerScrape)
	}
	if got := in.sl.deps.exemplarsRejected.Get(); got != 100 {
		t.Errorf("rejected counter = %d, want 100", got)
	}
}
