package scrape

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/value"

	"github.com/watchdog-sre/watchdog/config"
)

var (
	errUnknownRef = errors.New("unknown series ref")
	errOOO        = errors.New("out of order sample")
	errDup        = errors.New("duplicate sample for timestamp")
)

func isSoft(err error) bool { return errors.Is(err, errOOO) || errors.Is(err, errDup) }

// rejectReason is the Options.RejectReason of the fake store's errors.
func rejectReason(err error) string {
	switch {
	case errors.Is(err, errOOO):
		return "out_of_order"
	case errors.Is(err, errDup):
		return "duplicate"
	}
	return ""
}

type sample struct {
	lset labels.Labels
	t    int64
	st   int64 // start timestamp (AppendSample), 0 if none
	v    float64
	h    *histogram.Histogram
	fh   *histogram.FloatHistogram
}

func (s sample) String() string {
	v := fmt.Sprint(s.v)
	switch {
	case s.h != nil:
		v = s.h.String()
	case s.fh != nil:
		v = s.fh.String()
	}
	if value.IsStaleNaN(s.v) {
		v = "stale"
	}
	return fmt.Sprintf("%s@%d=%s", s.lset, s.t, v)
}

// recorder is a fake store: it hands out refs per label set, can forget them
// all (gc), rejects out-of-order samples when strict, and records committed
// samples.
type recorder struct {
	mu         sync.Mutex
	strict     bool
	nextRef    uint64
	byKey      map[string]uint64
	byRef      map[uint64]string
	labelsOf   map[uint64]labels.Labels // by ref: appends by ref may leave the labels out
	last       map[string]int64
	committed  []sample
	commits    int
	rollbacks  int
	refMisuses []string // appends whose ref and labels disagree
	byRefCalls int      // appends with a non-zero ref that were accepted
}

func newRecorder() *recorder {
	return &recorder{byKey: map[string]uint64{}, byRef: map[uint64]string{}, labelsOf: map[uint64]labels.Labels{}, last: map[string]int64{}}
}

func (r *recorder) appender() Appender { return &recApp{r: r} }

// gc forgets every ref, as the store does for garbage-collected series.
func (r *recorder) gc() {
	r.mu.Lock()
	defer r.mu.Unlock()
	clear(r.byKey)
	clear(r.byRef)
	clear(r.labelsOf)
}

// resolve returns lset or, when it is empty, the labels of ref, as the store
// does for an append by a known ref. Callers hold r.mu.
func (r *recorder) resolve(ref uint64, lset labels.Labels) labels.Labels {
	if lset.IsEmpty() && ref != 0 {
		if ls, ok := r.labelsOf[ref]; ok {
			return ls
		}
	}
	return lset
}

type recApp struct {
	r       *recorder
	pending []sample
}

func (a *recApp) Append(ref uint64, lset labels.Labels, t int64, v float64) (uint64, error) {
	return a.append(ref, sample{lset: lset, t: t, v: v})
}

func (a *recApp) AppendHistogram(ref uint64, lset labels.Labels, t int64, h *histogram.Histogram, fh *histogram.FloatHistogram) (uint64, error) {
	return a.append(ref, sample{lset: lset, t: t, h: h, fh: fh})
}

func (a *recApp) AppendSample(ref uint64, lset labels.Labels, st, t int64, v float64, h *histogram.Histogram, fh *histogram.FloatHistogram) (uint64, error) {
	return a.append(ref, sample{lset: lset, st: st, t: t, v: v, h: h, fh: fh})
}

// AppendSTZeroSample records a zero sample (a float 0, or an empty
// histogram) at st when st is before t and after the series' newest
// sample, as the store does.
func (a *recApp) AppendSTZeroSample(ref uint64, lset labels.Labels, st, t int64, h *histogram.Histogram, fh *histogram.FloatHistogram) (uint64, error) {
	a.r.mu.Lock()
	lset = a.r.resolve(ref, lset)
	last, ok := a.r.last[lset.String()]
	for _, p := range a.pending {
		if labels.Equal(p.lset, lset) && (!ok || p.t > last) {
			last, ok = p.t, true
		}
	}
	a.r.mu.Unlock()
	if st >= t || (ok && st <= last) {
		return ref, nil
	}
	z := sample{lset: lset, t: st}
	switch {
	case h != nil:
		z.h = &histogram.Histogram{Schema: h.Schema, ZeroThreshold: h.ZeroThreshold, CounterResetHint: histogram.CounterReset}
	case fh != nil:
		z.fh = &histogram.FloatHistogram{Schema: fh.Schema, ZeroThreshold: fh.ZeroThreshold, CounterResetHint: histogram.CounterReset}
	}
	return a.append(ref, z)
}

func (a *recApp) append(ref uint64, s sample) (uint64, error) {
	r := a.r
	r.mu.Lock()
	defer r.mu.Unlock()
	s.lset = r.resolve(ref, s.lset)
	lset, t, v := s.lset, s.t, s.v
	key := lset.String()
	if ref != 0 {
		k, ok := r.byRef[ref]
		if !ok {
			return 0, fmt.Errorf("append ref %d: %w", ref, errUnknownRef)
		}
		if k != key {
			r.refMisuses = append(r.refMisuses, fmt.Sprintf("ref %d is %s, got %s", ref, k, key))
		}
		r.byRefCalls++
	} else {
		ref = r.byKey[key]
		if ref == 0 {
			r.nextRef++
			ref = r.nextRef
			r.byKey[key] = ref
			r.byRef[ref] = key
			r.labelsOf[ref] = lset
		}
	}
	if r.strict {
		if last, ok := r.last[key]; ok {
			if t < last {
				return 0, fmt.Errorf("append: %w", errOOO)
			}
			if t == last && (s.h != nil || s.fh != nil || !value.IsStaleNaN(v)) {
				return 0, fmt.Errorf("append: %w", errDup)
			}
		}
		r.last[key] = t
	}
	a.pending = append(a.pending, s)
	return ref, nil
}

func (a *recApp) Commit() error {
	a.r.mu.Lock()
	defer a.r.mu.Unlock()
	a.r.committed = append(a.r.committed, a.pending...)
	a.r.commits++
	a.pending = nil
	return nil
}

func (a *recApp) Rollback() error {
	a.r.mu.Lock()
	defer a.r.mu.Unlock()
	a.r.rollbacks++
	a.pending = nil
	return nil
}

// samples returns the committed samples of the series whose __name__ is
// name and whose labels include match (name=value pairs).
func (r *recorder) samples(name string, match ...string) []sample {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []sample
	for _, s := range r.committed {
		if s.lset.Get(model.MetricNameLabel) != name {
			continue
		}
		ok := true
		for i := 0; i+1 < len(match); i += 2 {
			if s.lset.Get(match[i]) != match[i+1] {
				ok = false
			}
		}
		if ok {
			out = append(out, s)
		}
	}
	return out
}

// values formats samples as "t=v" for compact comparisons.
func values(ss []sample) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		v := fmt.Sprint(s.v)
		if value.IsStaleNaN(s.v) {
			v = "stale"
		} else if math.IsNaN(s.v) {
			v = "NaN"
		}
		out[i] = fmt.Sprintf("%d=%s", s.t, v)
	}
	return out
}

func stales(ss []sample) []int64 {
	var out []int64
	for _, s := range ss {
		if value.IsStaleNaN(s.v) {
			out = append(out, s.t)
		}
	}
	return out
}

func times(ss []sample) []int64 {
	out := make([]int64, len(ss))
	for i, s := range ss {
		out[i] = s.t
	}
	return out
}

// handlerTransport serves requests in-process, so that scrapes stay inside a
// synctest bubble. A request whose context ends before the handler returns
// fails with the context's error, as a real client does.
type handlerTransport struct{ h http.Handler }

func (t handlerTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	rec := httptest.NewRecorder()
	done := make(chan struct{})
	go func() {
		defer close(done)
		t.h.ServeHTTP(rec, req)
	}()
	select {
	case <-done:
	case <-req.Context().Done():
		<-done // handlers in tests honour the request context
		return nil, req.Context().Err()
	}
	res := rec.Result()
	res.Request = req
	return res, nil
}

// switchHandler serves whatever handler was set last, per target host.
type switchHandler struct {
	mu sync.Mutex
	h  map[string]http.HandlerFunc
	// reqs records the requests served, per host.
	reqs map[string][]*http.Request
}

func (s *switchHandler) set(host string, h http.HandlerFunc) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.h == nil {
		s.h = map[string]http.HandlerFunc{}
	}
	s.h[host] = h
}

func (s *switchHandler) requests(host string) []*http.Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.reqs[host])
}

func (s *switchHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	h := s.h[r.Host]
	if s.reqs == nil {
		s.reqs = map[string][]*http.Request{}
	}
	s.reqs[r.Host] = append(s.reqs[r.Host], r)
	s.mu.Unlock()
	if h == nil {
		http.NotFound(w, r)
		return
	}
	h(w, r)
}

func text(body string) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		_, _ = w.Write([]byte(body))
	}
}

func status(code int) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(code) }
}

// harness runs a Manager inside a synctest bubble.
type harness struct {
	t       *testing.T
	rec     *recorder
	srv     *switchHandler
	set     *metrics.Set
	m       *Manager
	cancel  context.CancelFunc
	runDone chan error
}

func newHarness(t *testing.T, mod func(*Options)) *harness {
	t.Helper()
	h := &harness{t: t, rec: newRecorder(), srv: &switchHandler{}, set: metrics.NewSet()}
	client := &http.Client{Transport: handlerTransport{h.srv}}
	opts := Options{
		Appender:     h.rec.appender,
		HTTPClient:   func(*config.ScrapeConfig) (*http.Client, error) { return client, nil },
		Metrics:      h.set,
		IsSoftError:  isSoft,
		RejectReason: rejectReason,
	}
	if mod != nil {
		mod(&opts)
	}
	h.m = NewManager(opts)
	return h
}

func (h *harness) apply(cfg *config.Config) {
	h.t.Helper()
	if err := h.m.ApplyConfig(cfg); err != nil {
		h.t.Fatalf("ApplyConfig: %v", err)
	}
}

func (h *harness) run() {
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel = cancel
	h.runDone = make(chan error, 1)
	go func() { h.runDone <- h.m.Run(ctx) }()
	synctest.Wait()
}

// stop ends Run and waits for it.
func (h *harness) stop() {
	h.t.Helper()
	h.cancel()
	if err := <-h.runDone; err != nil {
		h.t.Fatalf("Run: %v", err)
	}
}

// advance lets fake time pass and waits until every goroutine is idle again.
func advance(d time.Duration) {
	tm := time.NewTimer(d)
	<-tm.C
	synctest.Wait()
}

func (h *harness) target(job string) TargetStatus {
	h.t.Helper()
	for _, ts := range h.m.Targets() {
		if ts.Job == job {
			return ts
		}
	}
	h.t.Fatalf("no target for job %q in %v", job, h.m.Targets())
	return TargetStatus{}
}

// counter reads name{job="job",extra...}; extra are more label pairs
// written as name="value".
func (h *harness) counter(name, job string, extra ...string) uint64 {
	lbls := `job="` + job + `"`
	for _, e := range extra {
		lbls += "," + e
	}
	return h.set.GetOrCreateCounter(name + `{` + lbls + `}`).Get()
}

// scrapeCfg is a job scraping hosts every 10s with a 5s timeout.
func scrapeCfg(job string, hosts ...string) *config.ScrapeConfig {
	return &config.ScrapeConfig{
		JobName:        job,
		ScrapeInterval: model.Duration(10 * time.Second),
		ScrapeTimeout:  model.Duration(5 * time.Second),
		MetricsPath:    "/metrics",
		Scheme:         "http",
		StaticConfigs:  []config.StaticConfig{{Targets: hosts}},
	}
}

func cfgOf(scs ...*config.ScrapeConfig) *config.Config {
	return &config.Config{ScrapeConfigs: scs}
}

func mustEqual[T comparable](t *testing.T, what string, got, want []T) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Fatalf("%s:\n got %v\nwant %v", what, got, want)
	}
}

func mustContain(t *testing.T, what, got, want string) {
	t.Helper()
	if !strings.Contains(got, want) {
		t.Fatalf("%s: %q does not contain %q", what, got, want)
	}
}

func staleNaN() float64 { return math.Float64frombits(value.StaleNaN) }

// fileSDFile returns a temporary directory and a function that writes a
// file_sd targets.json into it.
func fileSDFile(t *testing.T) (dir string, write func(string)) {
	t.Helper()
	dir = t.TempDir()
	path := filepath.Join(dir, "targets.json")
	return dir, func(s string) {
		t.Helper()
		if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
}
