package remote

import (
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	remoteapi "github.com/prometheus/client_golang/exp/api/remote"
	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/prompb"
	writev2 "github.com/prometheus/prometheus/prompb/io/prometheus/write/v2"
)

// inProcess is an http.RoundTripper that serves requests with a handler in
// the calling goroutine, so that tests run inside a synctest bubble (a real
// listener would keep the bubble from ever being idle).
type inProcess struct{ h http.Handler }

func (p inProcess) RoundTrip(req *http.Request) (*http.Response, error) {
	if err := req.Context().Err(); err != nil {
		return nil, err
	}
	rec := httptest.NewRecorder()
	p.h.ServeHTTP(rec, req)
	if err := req.Context().Err(); err != nil {
		return nil, err // the client gave up waiting (remote_timeout)
	}
	return rec.Result(), nil
}

// sample is one received sample, labels as a string.
type sample struct {
	series string
	t      int64
	v      float64
}

// request is what the receiver saw of one request.
type request struct {
	header  http.Header
	v2      bool
	samples []sample
	hists   []string // native histograms, "labels@t int|float histogram"
	sorted  bool     // every series' labels were sorted and unique
}

// receiver records what a Remote-Write sender sends, through client_golang's
// write handler (1.0 and 2.0). fail, when set, answers a request instead
// of storing it.
type receiver struct {
	mu       sync.Mutex
	requests []request
	attempts int
	fail     func(attempt int, w http.ResponseWriter, r *http.Request) bool
	handler  http.Handler
}

func newReceiver() *receiver {
	rc := &receiver{}
	h := remoteapi.NewWriteHandler(rc, remoteapi.MessageTypes{remoteapi.WriteV1MessageType, remoteapi.WriteV2MessageType})
	rc.handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rc.mu.Lock()
		rc.attempts++
		n, fail := rc.attempts, rc.fail
		rc.mu.Unlock()
		if fail != nil && fail(n, w, r) {
			return
		}
		h.ServeHTTP(w, r)
	})
	return rc
}

// Store implements client_golang's write storage.
func (rc *receiver) Store(r *http.Request, mt remoteapi.WriteMessageType) (*remoteapi.WriteResponse, error) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return nil, err
	}
	req := request{header: r.Header.Clone(), v2: mt == remoteapi.WriteV2MessageType, sorted: true}
	resp := remoteapi.NewWriteResponse()
	b := labels.NewScratchBuilder(8)
	if req.v2 {
		var m writev2.Request
		if err := m.Unmarshal(body); err != nil {
			return nil, err
		}
		for _, ts := range m.Timeseries {
			b.Reset()
			for i := 0; i+1 < len(ts.LabelsRefs); i += 2 {
				b.Add(m.Symbols[ts.LabelsRefs[i]], m.Symbols[ts.LabelsRefs[i+1]])
			}
			req.add(b.Labels(), ts.Samples)
			for _, h := range ts.Histograms {
				req.addHist(b.Labels(), h.Timestamp, h)
			}
			resp.Add(remoteapi.WriteResponseStats{Samples: len(ts.Samples), Histograms: len(ts.Histograms)})
		}
	} else {
		var m prompb.WriteRequest
		if err := m.Unmarshal(body); err != nil {
			return nil, err
		}
		for _, ts := range m.Timeseries {
			b.Reset()
			for _, l := range ts.Labels {
				b.Add(l.Name, l.Value)
			}
			req.add(b.Labels(), ts.Samples)
			for _, h := range ts.Histograms {
				req.addHist(b.Labels(), h.Timestamp, h)
			}
		}
	}
	rc.mu.Lock()
	rc.requests = append(rc.requests, req)
	rc.mu.Unlock()
	return resp, nil
}

func addSamples[S any](req *request, lset labels.Labels, ss []S, tv func(S) (int64, float64)) {
	for _, s := range ss {
		t, v := tv(s)
		req.samples = append(req.samples, sample{series: lset.String(), t: t, v: v})
	}
}

// add records the samples of one series, checking its labels were sent
// sorted (labels.Labels built by ScratchBuilder keeps the wire order).
func (req *request) add(lset labels.Labels, ss any) {
	var prev string
	first := true
	lset.Range(func(l labels.Label) {
		if !first && l.Name <= prev {
			req.sorted = false
		}
		prev, first = l.Name, false
	})
	switch ss := ss.(type) {
	case []prompb.Sample:
		addSamples(req, lset, ss, func(s prompb.Sample) (int64, float64) { return s.Timestamp, s.Value })
	case []writev2.Sample:
		addSamples(req, lset, ss, func(s writev2.Sample) (int64, float64) { return s.Timestamp, s.Value })
	}
}

// wireHistogram is a native histogram of either protocol version.
type wireHistogram interface {
	IsFloatHistogram() bool
	ToIntHistogram() *histogram.Histogram
	ToFloatHistogram() *histogram.FloatHistogram
}

func (req *request) addHist(lset labels.Labels, t int64, h wireHistogram) {
	s := lset.String() + "@" + strconv.FormatInt(t, 10)
	if h.IsFloatHistogram() {
		s += " float " + h.ToFloatHistogram().String()
	} else {
		s += " int " + h.ToIntHistogram().String()
	}
	req.hists = append(req.hists, s)
}

// receivedHists returns every histogram received, in arrival order.
func (rc *receiver) receivedHists() []string {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	var out []string
	for _, r := range rc.requests {
		out = append(out, r.hists...)
	}
	return out
}

// received returns every sample received, in arrival order.
func (rc *receiver) received() []sample {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	var out []sample
	for _, r := range rc.requests {
		out = append(out, r.samples...)
	}
	return out
}

func (rc *receiver) reqs() []request {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return slices.Clone(rc.requests)
}

func (rc *receiver) attemptCount() int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return rc.attempts
}

func (rc *receiver) setFail(f func(attempt int, w http.ResponseWriter, r *http.Request) bool) {
	rc.mu.Lock()
	rc.fail = f
	rc.mu.Unlock()
}

// client returns an http.Client that serves requests with rc in process.
func (rc *receiver) client() *http.Client { return &http.Client{Transport: inProcess{rc.handler}} }

// checkExactlyOnce fails unless got holds every sample of want once and
// nothing else. NaN values (stale markers) compare by bits.
func checkExactlyOnce(t *testing.T, got, want []sample) {
	t.Helper()
	key := func(s sample) string { return fmt.Sprintf("%s@%d=%x", s.series, s.t, math.Float64bits(s.v)) }
	seen := map[string]int{}
	for _, s := range got {
		seen[key(s)]++
	}
	var dup, missing []string
	for k, n := range seen {
		if n > 1 {
			dup = append(dup, k)
		}
	}
	for _, s := range want {
		k := key(s)
		if seen[k] == 0 {
			missing = append(missing, k)
		}
		delete(seen, k)
	}
	var extra []string
	for k := range seen {
		extra = append(extra, k)
	}
	if len(dup)+len(missing)+len(extra) > 0 {
		t.Fatalf("delivery not exactly once: %d duplicated, %d missing, %d unexpected of %d\n dup: %s\n missing: %s\n extra: %s",
			len(dup), len(missing), len(extra), len(want), head(dup), head(missing), head(extra))
	}
}

func head(s []string) string {
	slices.Sort(s)
	if len(s) > 5 {
		s = s[:5]
	}
	return strings.Join(s, " ")
}
