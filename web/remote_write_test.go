package web

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/VictoriaMetrics/metrics"
	"github.com/klauspost/compress/snappy"
	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/prompb"
	writev2 "github.com/prometheus/prometheus/prompb/io/prometheus/write/v2"
)

const (
	ctV1 = "application/x-protobuf;proto=prometheus.WriteRequest"
	ctV2 = "application/x-protobuf;proto=io.prometheus.write.v2.Request"
)

var (
	errFakeTooOld = errors.New("sample out of bounds: older than retention")
	errFakeBroken = errors.New("disk on fire")
)

// rwFakeStore records committed samples. A sample with value 666 is refused
// as too old, one with value 999 fails the store.
type rwFakeStore struct {
	mu        sync.Mutex
	committed []string
	rollbacks int
	block     chan struct{} // when set, Append waits on it
	entered   chan struct{} // when set, Append signals it first
}

type rwFakeAppender struct {
	s       *rwFakeStore
	pending []string
}

func (s *rwFakeStore) appender() WriteAppender { return &rwFakeAppender{s: s} }

func (a *rwFakeAppender) Append(ref uint64, l labels.Labels, t int64, v float64) (uint64, error) {
	if a.s.entered != nil {
		a.s.entered <- struct{}{}
	}
	if a.s.block != nil {
		<-a.s.block
	}
	switch v {
	case 666:
		return ref, errFakeTooOld
	case 999:
		return 0, errFakeBroken
	}
	a.pending = append(a.pending, l.String()+" "+rwFormatSample(t, v))
	return 1, nil
}

// AppendHistogram records the histogram; one with a count of 666 is refused
// as too old.
func (a *rwFakeAppender) AppendHistogram(ref uint64, l labels.Labels, t int64, h *histogram.Histogram, fh *histogram.FloatHistogram) (uint64, error) {
	var s string
	switch {
	case h != nil && fh == nil:
		if h.Count == 666 {
			return ref, errFakeTooOld
		}
		s = "int " + h.String()
	case fh != nil && h == nil:
		s = "float " + fh.String()
	default:
		return 0, errFakeBroken
	}
	a.pending = append(a.pending, l.String()+" "+s+"@"+strconv.FormatInt(t, 10))
	return 1, nil
}

func rwFormatSample(t int64, v float64) string {
	return strconv.FormatFloat(v, 'g', -1, 64) + "@" + strconv.FormatInt(t, 10)
}

func (a *rwFakeAppender) Commit() error {
	a.s.mu.Lock()
	defer a.s.mu.Unlock()
	a.s.committed = append(a.s.committed, a.pending...)
	return nil
}

func (a *rwFakeAppender) Rollback() error {
	a.s.mu.Lock()
	defer a.s.mu.Unlock()
	a.s.rollbacks++
	return nil
}

func (s *rwFakeStore) samples() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.committed...)
}

func rwRejectFake(err error) string {
	if errors.Is(err, errFakeTooOld) {
		return "too_old"
	}
	return ""
}

func rwV1Body(t *testing.T, series ...prompb.TimeSeries) []byte {
	t.Helper()
	data, err := (&prompb.WriteRequest{Timeseries: series}).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return snappy.Encode(nil, data)
}

func rwV1Series(name string, samples ...float64) prompb.TimeSeries {
	ts := prompb.TimeSeries{Labels: []prompb.Label{{Name: "__name__", Value: name}, {Name: "job", Value: "a"}}}
	for i, v := range samples {
		ts.Samples = append(ts.Samples, prompb.Sample{Timestamp: int64(1000 * (i + 1)), Value: v})
	}
	return ts
}

// rwV2Body builds a 2.0 request of series given as label pairs and samples;
// histograms adds one native histogram sample to the first series.
func rwV2Body(t *testing.T, histograms bool, series ...[]string) []byte {
	t.Helper()
	st := writev2.NewSymbolTable()
	var req writev2.Request
	for _, s := range series {
		lset := labels.FromStrings(s...)
		ts := writev2.TimeSeries{LabelsRefs: st.SymbolizeLabels(lset, nil),
			Samples:   []writev2.Sample{{Timestamp: 1000, Value: 1}, {Timestamp: 2000, Value: 2}},
			Exemplars: []writev2.Exemplar{{Value: 1, Timestamp: 1000}}}
		req.Timeseries = append(req.Timeseries, ts)
	}
	if histograms {
		req.Timeseries[0].Histograms = []writev2.Histogram{
			writev2.FromIntHistogram(0, 3000, &histogram.Histogram{Count: 3, Sum: 4, Schema: 0,
				PositiveSpans: []histogram.Span{{Offset: 0, Length: 2}}, PositiveBuckets: []int64{1, 1}}),
			writev2.FromFloatHistogram(0, 4000, &histogram.FloatHistogram{Count: 1.5, Sum: 2, Schema: -53,
				CustomValues: []float64{0.5}, PositiveSpans: []histogram.Span{{Offset: 0, Length: 1}}, PositiveBuckets: []float64{1.5}}),
		}
	}
	req.Symbols = st.Symbols()
	data, err := req.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return snappy.Encode(nil, data)
}

// bomb is a snappy block whose header announces 1 GiB.
func rwBomb() []byte {
	var b []byte
	n := uint64(1 << 30)
	for n >= 0x80 {
		b = append(b, byte(n)|0x80)
		n >>= 7
	}
	return append(b, byte(n), 0x00)
}

func TestRemoteWrite(t *testing.T) {
	const tok = "secret"
	badRefs := func() []byte {
		data, _ := (&writev2.Request{Symbols: []string{"", "__name__"},
			Timeseries: []writev2.TimeSeries{{LabelsRefs: []uint32{1, 7}, Samples: []writev2.Sample{{Value: 1}}}}}).Marshal()
		return snappy.Encode(nil, data)
	}
	tests := []struct {
		name        string
		token       string
		contentType string
		encoding    string
		body        []byte
		code        int
		written     string // X-Prometheus-Remote-Write-Samples-Written; "" for none
		histograms  string // X-Prometheus-Remote-Write-Histograms-Written; "" for 0
		exemplars   string // X-Prometheus-Remote-Write-Exemplars-Written
		stored      []string
		errContains string
		rollback    bool
	}{
		{name: "no token", body: rwV1Body(t, rwV1Series("up", 1)), contentType: ctV1, code: 401},
		{name: "wrong token", token: "nope", body: rwV1Body(t, rwV1Series("up", 1)), contentType: ctV1, code: 401},
		{name: "1.0", token: tok, contentType: ctV1, body: rwV1Body(t, rwV1Series("up", 1, 0)), code: 204,
			stored: []string{`{__name__="up", job="a"} 1@1000`, `{__name__="up", job="a"} 0@2000`}},
		{name: "1.0 without proto parameter", token: tok, contentType: "application/x-protobuf",
			body: rwV1Body(t, rwV1Series("up", 1)), code: 204, stored: []string{`{__name__="up", job="a"} 1@1000`}},
		{name: "1.0 empty label values dropped", token: tok, contentType: ctV1,
			body: rwV1Body(t, prompb.TimeSeries{Labels: []prompb.Label{{Name: "__name__", Value: "x"}, {Name: "e", Value: ""}},
				Samples: []prompb.Sample{{Timestamp: 5, Value: 3}}}),
			code: 204, stored: []string{`{__name__="x"} 3@5`}},
		{name: "2.0", token: tok, contentType: ctV2, body: rwV2Body(t, false, []string{"__name__", "up", "job", "b"}),
			code: 204, written: "2", exemplars: "1", stored: []string{`{__name__="up", job="b"} 1@1000`, `{__name__="up", job="b"} 2@2000`}},
		{name: "2.0 native histograms", token: tok, contentType: ctV2,
			body: rwV2Body(t, true, []string{"__name__", "h", "job", "b"}), code: 204, written: "2", histograms: "2", exemplars: "1",
			stored: []string{`{__name__="h", job="b"} 1@1000`, `{__name__="h", job="b"} 2@2000`,
				`{__name__="h", job="b"} int {count:3, sum:4, (0.5,1]:1, (1,2]:2}@3000`,
				`{__name__="h", job="b"} float {count:1.5, sum:2, [-Inf,0.5]:1.5}@4000`}},
		{name: "1.0 native histograms, one too old", token: tok, contentType: ctV1,
			body: rwV1Body(t, prompb.TimeSeries{Labels: []prompb.Label{{Name: "__name__", Value: "h"}},
				Histograms: []prompb.Histogram{
					prompb.FromIntHistogram(1000, &histogram.Histogram{Count: 666}),
					prompb.FromIntHistogram(2000, &histogram.Histogram{Count: 2, ZeroCount: 2, ZeroThreshold: 0.001}),
					prompb.FromFloatHistogram(3000, &histogram.FloatHistogram{Count: 0.5, Sum: -1,
						NegativeSpans: []histogram.Span{{Offset: 1, Length: 1}}, NegativeBuckets: []float64{0.5}}),
				}}),
			code: 400, errContains: "wrote 0 samples and 2 histograms; refused 1 too_old",
			stored: []string{`{__name__="h"} int {count:2, sum:0, [-0.001,0.001]:2}@2000`,
				`{__name__="h"} float {count:0.5, sum:-1, [-2,-1):0.5}@3000`}},
		{name: "too old refused, rest written", token: tok, contentType: ctV1,
			body: rwV1Body(t, rwV1Series("up", 666, 1)), code: 400,
			stored: []string{`{__name__="up", job="a"} 1@2000`}, errContains: "1 too_old"},
		{name: "2.0 too old partial write", token: tok, contentType: ctV2,
			body: func() []byte {
				st := writev2.NewSymbolTable()
				req := writev2.Request{Timeseries: []writev2.TimeSeries{{LabelsRefs: st.SymbolizeLabels(labels.FromStrings("__name__", "o"), nil),
					Samples: []writev2.Sample{{Timestamp: 1, Value: 666}, {Timestamp: 2, Value: 5}}}}}
				req.Symbols = st.Symbols()
				data, _ := req.Marshal()
				return snappy.Encode(nil, data)
			}(),
			code: 400, written: "1", exemplars: "0", stored: []string{`{__name__="o"} 5@2`}, errContains: "too_old"},
		{name: "store failure rolls back", token: tok, contentType: ctV1,
			body: rwV1Body(t, rwV1Series("up", 1, 999)), code: 500, rollback: true, errContains: "disk on fire"},
		{name: "no metric name", token: tok, contentType: ctV1,
			body: rwV1Body(t, prompb.TimeSeries{Labels: []prompb.Label{{Name: "job", Value: "a"}},
				Samples: []prompb.Sample{{Value: 1}}}, rwV1Series("ok", 7)),
			code: 400, stored: []string{`{__name__="ok", job="a"} 7@1000`}, errContains: "no metric name"},
		{name: "duplicate label", token: tok, contentType: ctV1,
			body: rwV1Body(t, prompb.TimeSeries{Labels: []prompb.Label{{Name: "__name__", Value: "d"}, {Name: "a", Value: "1"}, {Name: "a", Value: "2"}},
				Samples: []prompb.Sample{{Value: 1}}}),
			code: 400, errContains: "twice"},
		{name: "invalid utf-8", token: tok, contentType: ctV1,
			body: rwV1Body(t, prompb.TimeSeries{Labels: []prompb.Label{{Name: "__name__", Value: "d"}, {Name: "a", Value: "\xff"}},
				Samples: []prompb.Sample{{Value: 1}}}),
			code: 400, errContains: "invalid label"},
		{name: "2.0 labels_refs outside symbols", token: tok, contentType: ctV2, body: badRefs(), code: 400,
			written: "0", exemplars: "0", errContains: "symbols table"},
		{name: "bad snappy", token: tok, contentType: ctV1, body: []byte("not snappy at all"), code: 400},
		{name: "snappy bomb", token: tok, contentType: ctV1, body: rwBomb(), code: 413},
		{name: "body too large", token: tok, contentType: ctV1, body: bytes.Repeat([]byte{1}, 2<<10), code: 413},
		{name: "bad protobuf", token: tok, contentType: ctV1, body: snappy.Encode(nil, []byte{0xff, 0xff, 0xff}), code: 400},
		{name: "unknown proto", token: tok, contentType: "application/x-protobuf;proto=io.prometheus.write.v3.Request",
			body: rwV1Body(t, rwV1Series("up", 1)), code: 415},
		{name: "not protobuf", token: tok, contentType: "application/json", body: rwV1Body(t, rwV1Series("up", 1)), code: 415},
		{name: "gzip", token: tok, contentType: ctV1, encoding: "gzip", body: rwV1Body(t, rwV1Series("up", 1)), code: 415},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			store := &rwFakeStore{}
			h := New(Options{Token: tok, Metrics: metrics.NewSet()})
			h.EnableRemoteWrite(RemoteWriteOptions{Appender: store.appender, RejectReason: rwRejectFake, MaxBodyBytes: 1 << 10})
			req := httptest.NewRequest(http.MethodPost, "/api/v1/write", bytes.NewReader(tc.body))
			req.Header.Set("Content-Type", tc.contentType)
			req.Header.Set("Content-Encoding", "snappy")
			if tc.encoding != "" {
				req.Header.Set("Content-Encoding", tc.encoding)
			}
			if tc.token != "" {
				req.Header.Set("Authorization", "Bearer "+tc.token)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			body, _ := io.ReadAll(rec.Body)
			if rec.Code != tc.code {
				t.Fatalf("code %d, want %d; body %s", rec.Code, tc.code, body)
			}
			if got := rec.Header().Get("X-Prometheus-Remote-Write-Samples-Written"); got != tc.written {
				t.Errorf("samples written header %q, want %q", got, tc.written)
			}
			if tc.written != "" {
				want := tc.histograms
				if want == "" {
					want = "0"
				}
				if got := rec.Header().Get("X-Prometheus-Remote-Write-Histograms-Written"); got != want {
					t.Errorf("histograms written %q, want %q", got, want)
				}
				if got := rec.Header().Get("X-Prometheus-Remote-Write-Exemplars-Written"); got != tc.exemplars {
					t.Errorf("exemplars written %q, want %q", got, tc.exemplars)
				}
			}
			if got := store.samples(); strings.Join(got, "\n") != strings.Join(tc.stored, "\n") {
				t.Errorf("stored\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tc.stored, "\n"))
			}
			if !strings.Contains(string(body), tc.errContains) {
				t.Errorf("body %q does not contain %q", body, tc.errContains)
			}
			if (store.rollbacks > 0) != tc.rollback {
				t.Errorf("rollbacks %d, want rollback %v", store.rollbacks, tc.rollback)
			}
		})
	}
}

func TestRemoteWriteNotEnabled(t *testing.T) {
	h := New(Options{Token: "t"})
	req := httptest.NewRequest(http.MethodPost, "/api/v1/write", bytes.NewReader(rwV1Body(t, rwV1Series("up", 1))))
	req.Header.Set("Authorization", "Bearer t")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusNotFound {
		t.Fatalf("code %d, want 404 when the receiver is not enabled", rec.Code)
	}
}

func TestRemoteWriteCounts(t *testing.T) {
	set := metrics.NewSet()
	store := &rwFakeStore{}
	h := New(Options{Token: "t", Metrics: set})
	h.EnableRemoteWrite(RemoteWriteOptions{Appender: store.appender, RejectReason: rwRejectFake})
	post := func(ct string, body []byte) {
		req := httptest.NewRequest(http.MethodPost, "/api/v1/write", bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer t")
		req.Header.Set("Content-Type", ct)
		h.ServeHTTP(httptest.NewRecorder(), req)
	}
	post(ctV1, rwV1Body(t, rwV1Series("a", 1, 666, 2)))
	post(ctV2, rwV2Body(t, true, []string{"__name__", "b"}))
	post(ctV1, rwBomb())
	var buf bytes.Buffer
	set.WritePrometheus(&buf)
	for _, want := range []string{
		"watchdog_remote_write_received_samples_total 4",
		`watchdog_remote_write_refused_samples_total{reason="too_old"} 1`,
		"watchdog_remote_write_received_histograms_total 2",
		"watchdog_remote_write_dropped_exemplars_total 1",
		`watchdog_remote_write_requests_refused_total{reason="too_large"} 1`,
		`watchdog_http_requests_total{handler="/api/v1/write",code="400"} 1`,
		`watchdog_http_requests_total{handler="/api/v1/write",code="204"} 1`,
	} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("metrics lack %q:\n%s", want, buf.String())
		}
	}
}

// TestRemoteWriteBusy fills the one slot and the one waiting place; the
// next request is refused with 429 and Retry-After.
func TestRemoteWriteBusy(t *testing.T) {
	store := &rwFakeStore{block: make(chan struct{}), entered: make(chan struct{})}
	h := New(Options{Token: "t"})
	h.EnableRemoteWrite(RemoteWriteOptions{Appender: store.appender, MaxConcurrency: 1, MaxWaiting: 1})
	srv := httptest.NewServer(h)
	defer srv.Close()
	post := func() *http.Response {
		req, _ := http.NewRequest(http.MethodPost, srv.URL+"/api/v1/write", bytes.NewReader(rwV1Body(t, rwV1Series("up", 1))))
		req.Header.Set("Authorization", "Bearer t")
		req.Header.Set("Content-Type", ctV1)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Error(err)
			return nil
		}
		resp.Body.Close()
		return resp
	}
	codes := make(chan int, 2)
	go func() { codes <- post().StatusCode }()
	<-store.entered // the first holds the slot
	go func() { codes <- post().StatusCode }()
	rw := h.remoteWrite
	for rw.waiting.Load() != 1 { // the second waits (no sleep: spin until it is counted)
		runtime.Gosched()
	}
	resp := post()
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("third request: %d Retry-After %q, want 429 with Retry-After", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	close(store.block)
	go func() {
		for range store.entered {
		}
	}()
	for range 2 {
		if c := <-codes; c != http.StatusNoContent {
			t.Errorf("queued request: %d, want 204", c)
		}
	}
	close(store.entered)
}
