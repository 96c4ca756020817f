package remote

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/tsdb/chunkenc"
	"github.com/prometheus/prometheus/util/annotations"
)

// Defaults of DatasourceOptions.
const (
	DefaultDatasourceTimeout          = 30 * time.Second
	DefaultDatasourceMaxResponseBytes = 32 << 20
)

// Errors of datasource queries; the returned errors wrap them.
var (
	// ErrDatasource wraps every failure of a datasource query: transport,
	// status, body or result.
	ErrDatasource = errors.New("datasource query failed")
	// ErrDatasourceResult is a result a rule cannot use: a string or a
	// matrix, or a native histogram sample.
	ErrDatasourceResult = errors.New("datasource result is not a float vector or scalar")
	// ErrDatasourceWarnings is a successful answer with warnings (a partial
	// answer of Thanos or Mimir, VictoriaMetrics' isPartial): the rule
	// fails, as Thanos Ruler's default abort strategy does, rather than
	// resolve alerts on part of the data.
	ErrDatasourceWarnings = errors.New("datasource answered with warnings")
	// ErrDatasourceUnsupported is returned by the label look-ups of the
	// Querier, which restoring alert state does not use.
	ErrDatasourceUnsupported = errors.New("not supported by the datasource querier")
)

// DatasourceOptions configures a Datasource. Only URL is required.
type DatasourceOptions struct {
	// URL is the base URL of the Prometheus query API; /api/v1/query is
	// appended.
	URL string
	// Timeout bounds one query (default 30s); it is also sent as the
	// query's timeout parameter.
	Timeout time.Duration
	// Headers are sent with every query.
	Headers map[string]string
	// Authorization returns the Authorization header value, called for
	// every query so that a rotated credentials file is picked up; nil
	// sends none.
	Authorization func() (string, error)
	// Client sends the queries; nil uses a client with no overall
	// timeout (each query has its own).
	Client *http.Client
	// DropLabels are removed from the series the Querier returns (the
	// external labels the remote_write sender added to ALERTS_FOR_STATE),
	// so that restored alerts carry the labels rules compute.
	DropLabels []string
	// MaxResponseBytes bounds an answer's body (default 32 MiB).
	MaxResponseBytes int64
	// Metrics receives watchdog_datasource_*; nil uses a private set.
	Metrics *metrics.Set
	// Logger receives debug lines; nil discards them.
	Logger *slog.Logger
}

// Datasource runs PromQL on a remote Prometheus query API (Prometheus,
// VictoriaMetrics, Mimir, Thanos): Query is a rules.QueryFunc, and the
// Datasource is a storage.Queryable for restoring alert state. It is safe
// for concurrent use.
type Datasource struct {
	opts     DatasourceOptions
	endpoint string
	client   *http.Client
	queries  *metrics.Counter
	duration *metrics.PrometheusHistogram
}

// NewDatasource returns a Datasource for opts; it fails on a URL that is
// not http or https.
func NewDatasource(opts DatasourceOptions) (*Datasource, error) {
	u, err := url.Parse(opts.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("new datasource: %q is not an http or https URL", opts.URL)
	}
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultDatasourceTimeout
	}
	if opts.MaxResponseBytes <= 0 {
		opts.MaxResponseBytes = DefaultDatasourceMaxResponseBytes
	}
	if opts.Metrics == nil {
		opts.Metrics = metrics.NewSet()
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	client := opts.Client
	if client == nil {
		client = &http.Client{}
	}
	return &Datasource{
		opts:     opts,
		endpoint: strings.TrimRight(opts.URL, "/") + "/api/v1/query",
		client:   client,
		queries:  opts.Metrics.GetOrCreateCounter("watchdog_datasource_queries_total"),
		duration: opts.Metrics.GetOrCreatePrometheusHistogram("watchdog_datasource_query_duration_seconds"),
	}, nil
}

// Query runs an instant query at t and returns its vector; a scalar
// becomes a one-element vector without labels, as rules.EngineQueryFunc
// does. Every failure wraps ErrDatasource.
func (d *Datasource) Query(ctx context.Context, q string, t time.Time) (promql.Vector, error) {
	res, err := d.query(ctx, q, t)
	if err != nil {
		return nil, err
	}
	switch res.ResultType {
	case "vector":
		var vec []dsSample
		if err := json.Unmarshal(res.Result, &vec); err != nil {
			return nil, d.fail("bad_json", fmt.Errorf("decode vector: %v", err))
		}
		out := make(promql.Vector, 0, len(vec))
		for _, s := range vec {
			if s.Histogram != nil {
				return nil, d.fail("bad_result", fmt.Errorf("%w: native histogram for %s", ErrDatasourceResult, s.Metric))
			}
			v, err := s.Value.float()
			if err != nil {
				return nil, d.fail("bad_json", err)
			}
			// The sample time is the evaluation time, as the local engine
			// gives it (the datasource's own rounding does not matter).
			out = append(out, promql.Sample{Metric: s.Metric.labels(), T: t.UnixMilli(), F: v})
		}
		return out, nil
	case "scalar":
		var p dsPoint
		if err := json.Unmarshal(res.Result, &p); err != nil {
			return nil, d.fail("bad_json", fmt.Errorf("decode scalar: %v", err))
		}
		v, err := p.float()
		if err != nil {
			return nil, d.fail("bad_json", err)
		}
		return promql.Vector{{Metric: labels.EmptyLabels(), T: t.UnixMilli(), F: v}}, nil
	}
	return nil, d.fail("bad_result", fmt.Errorf("%w: %s", ErrDatasourceResult, res.ResultType))
}

// dsResponse is the envelope of the Prometheus API.
type dsResponse struct {
	Status    string   `json:"status"`
	Data      dsData   `json:"data"`
	ErrorType string   `json:"errorType"`
	Error     string   `json:"error"`
	Warnings  []string `json:"warnings"`
	IsPartial *bool    `json:"isPartial"` // VictoriaMetrics cluster
}

type dsData struct {
	ResultType string          `json:"resultType"`
	Result     json.RawMessage `json:"result"`
}

// query sends one instant query and returns its data, checked for status,
// errors and warnings.
func (d *Datasource) query(ctx context.Context, q string, t time.Time) (*dsData, error) {
	start := time.Now()
	d.queries.Inc()
	defer d.duration.UpdateDuration(start)
	ctx, cancel := context.WithTimeout(ctx, d.opts.Timeout)
	defer cancel()
	form := url.Values{
		"query":   {q},
		"time":    {strconv.FormatFloat(float64(t.UnixMilli())/1000, 'f', -1, 64)},
		"timeout": {d.opts.Timeout.String()},
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, d.fail("request", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	for k, v := range d.opts.Headers {
		req.Header.Set(k, v)
	}
	if d.opts.Authorization != nil {
		auth, err := d.opts.Authorization()
		if err != nil {
			return nil, d.fail("auth", fmt.Errorf("authorization: %v", err))
		}
		req.Header.Set("Authorization", auth)
	}
	resp, err := d.client.Do(req)
	if err != nil {
		if ctx.Err() != nil && errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return nil, d.fail("timeout", fmt.Errorf("no answer within %s", d.opts.Timeout))
		}
		return nil, d.fail("transport", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, d.opts.MaxResponseBytes+1))
	if err != nil {
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return nil, d.fail("timeout", fmt.Errorf("answer not read within %s", d.opts.Timeout))
		}
		return nil, d.fail("transport", fmt.Errorf("read answer: %v", err))
	}
	if int64(len(body)) > d.opts.MaxResponseBytes {
		return nil, d.fail("too_large", fmt.Errorf("answer larger than %d bytes", d.opts.MaxResponseBytes))
	}
	var r dsResponse
	jsonErr := json.Unmarshal(body, &r)
	if resp.StatusCode/100 != 2 {
		msg := strings.TrimSpace(string(body))
		if jsonErr == nil && r.Error != "" {
			msg = r.ErrorType + ": " + r.Error
		}
		if len(msg) > 512 {
			msg = msg[:512] + "…"
		}
		return nil, d.fail("status", fmt.Errorf("HTTP %d: %s", resp.StatusCode, msg))
	}
	if jsonErr != nil {
		return nil, d.fail("bad_json", fmt.Errorf("decode answer: %v", jsonErr))
	}
	if r.Status != "success" {
		return nil, d.fail("status", fmt.Errorf("status %q: %s: %s", r.Status, r.ErrorType, r.Error))
	}
	if len(r.Warnings) > 0 || (r.IsPartial != nil && *r.IsPartial) {
		w := r.Warnings
		if len(w) == 0 {
			w = []string{"isPartial: true"}
		}
		return nil, d.fail("warnings", fmt.Errorf("%w: %s", ErrDatasourceWarnings, strings.Join(w, "; ")))
	}
	return &r.Data, nil
}

// fail counts a failed query under reason and wraps err in ErrDatasource.
func (d *Datasource) fail(reason string, err error) error {
	d.opts.Metrics.GetOrCreateCounter(`watchdog_datasource_query_failures_total{reason="` + reason + `"}`).Inc()
	return fmt.Errorf("%w: %w", ErrDatasource, err)
}

// dsMetric is a result's label set.
type dsMetric map[string]string

func (m dsMetric) labels() labels.Labels { return labels.FromMap(m) }

func (m dsMetric) String() string { return m.labels().String() }

// dsPoint is a [<unix seconds>, "<value>"] pair.
type dsPoint [2]json.RawMessage

func (p dsPoint) float() (float64, error) {
	var s string
	if err := json.Unmarshal(p[1], &s); err != nil {
		return 0, fmt.Errorf("decode value %s: %v", p[1], err)
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, fmt.Errorf("decode value %q: %v", s, err)
	}
	return v, nil
}

// millis returns the point's time in Unix milliseconds.
func (p dsPoint) millis() (int64, error) {
	var f float64
	if err := json.Unmarshal(p[0], &f); err != nil {
		return 0, fmt.Errorf("decode timestamp %s: %v", p[0], err)
	}
	return int64(math.Round(f * 1000)), nil
}

type dsSample struct {
	Metric    dsMetric        `json:"metric"`
	Value     dsPoint         `json:"value"`
	Histogram json.RawMessage `json:"histogram"`
}

type dsSeriesJSON struct {
	Metric     dsMetric          `json:"metric"`
	Values     []dsPoint         `json:"values"`
	Histograms []json.RawMessage `json:"histograms"`
}

// Querier returns a storage.Querier over [mint, maxt]: its Select runs
// the instant query `{matchers}[<maxt-mint>]` at maxt, which returns the
// raw samples in Prometheus and VictoriaMetrics alike. Restoring alert
// state reads ALERTS_FOR_STATE through it.
func (d *Datasource) Querier(mint, maxt int64) (storage.Querier, error) {
	return &dsQuerier{d: d, mint: mint, maxt: maxt}, nil
}

type dsQuerier struct {
	d          *Datasource
	mint, maxt int64
}

// Select implements storage.Querier. The series are sorted; those without
// samples in range are left out.
func (q *dsQuerier) Select(ctx context.Context, _ bool, _ *storage.SelectHints, ms ...*labels.Matcher) storage.SeriesSet {
	parts := make([]string, len(ms))
	for i, m := range ms {
		parts[i] = m.String()
	}
	window := max((q.maxt-q.mint+999)/1000, 1)
	expr := "{" + strings.Join(parts, ",") + "}[" + strconv.FormatInt(window, 10) + "s]"
	res, err := q.d.query(ctx, expr, time.UnixMilli(q.maxt))
	if err != nil {
		return storage.ErrSeriesSet(err)
	}
	var raw []dsSeriesJSON
	switch res.ResultType {
	case "matrix":
		err = json.Unmarshal(res.Result, &raw)
	case "vector": // a datasource that answers a range selector with its last sample
		var vec []dsSample
		if err = json.Unmarshal(res.Result, &vec); err == nil {
			for _, s := range vec {
				raw = append(raw, dsSeriesJSON{Metric: s.Metric, Values: []dsPoint{s.Value}})
			}
		}
	default:
		err = fmt.Errorf("%w: %s for %s", ErrDatasourceResult, res.ResultType, expr)
	}
	if err != nil {
		return storage.ErrSeriesSet(q.d.fail("bad_result", err))
	}
	set := &dsSeriesSet{i: -1}
	for _, r := range raw {
		s := dsSeries{lset: q.dropLabels(r.Metric.labels())}
		for _, p := range r.Values {
			t, err := p.millis()
			if err != nil {
				return storage.ErrSeriesSet(q.d.fail("bad_json", err))
			}
			v, err := p.float()
			if err != nil {
				return storage.ErrSeriesSet(q.d.fail("bad_json", err))
			}
			if t < q.mint || t > q.maxt {
				continue
			}
			s.ts, s.vs = append(s.ts, t), append(s.vs, v)
		}
		if len(s.ts) > 0 {
			set.series = append(set.series, s)
		}
	}
	slices.SortFunc(set.series, func(a, b dsSeries) int { return labels.Compare(a.lset, b.lset) })
	return set
}

func (q *dsQuerier) dropLabels(lset labels.Labels) labels.Labels {
	if len(q.d.opts.DropLabels) == 0 {
		return lset
	}
	b := labels.NewBuilder(lset)
	b.Del(q.d.opts.DropLabels...)
	return b.Labels()
}

// LabelValues implements storage.Querier; it is not supported.
func (q *dsQuerier) LabelValues(context.Context, string, *storage.LabelHints, ...*labels.Matcher) ([]string, annotations.Annotations, error) {
	return nil, nil, ErrDatasourceUnsupported
}

// LabelNames implements storage.Querier; it is not supported.
func (q *dsQuerier) LabelNames(context.Context, *storage.LabelHints, ...*labels.Matcher) ([]string, annotations.Annotations, error) {
	return nil, nil, ErrDatasourceUnsupported
}

// Close implements storage.Querier.
func (q *dsQuerier) Close() error { return nil }

type dsSeriesSet struct {
	series []dsSeries
	i      int
}

func (s *dsSeriesSet) Next() bool                        { s.i++; return s.i < len(s.series) }
func (s *dsSeriesSet) At() storage.Series                { return &s.series[s.i] }
func (s *dsSeriesSet) Err() error                        { return nil }
func (s *dsSeriesSet) Warnings() annotations.Annotations { return nil }

// dsSeries is one series of float samples read from the datasource.
type dsSeries struct {
	lset labels.Labels
	ts   []int64
	vs   []float64
}

func (s *dsSeries) Labels() labels.Labels { return s.lset }

func (s *dsSeries) Iterator(chunkenc.Iterator) chunkenc.Iterator {
	return &dsIterator[int64]{s: s, pos: -1}
}

// dsIterator iterates a dsSeries. It is generic only to keep go vet's
// stdmethods check from mistaking Seek(int64) for io.Seeker's (see
// tsdb.SampleIterator).
type dsIterator[T ~int64] struct {
	s   *dsSeries
	pos int
}

func (it *dsIterator[T]) Next() chunkenc.ValueType {
	if it.pos+1 >= len(it.s.ts) {
		it.pos = len(it.s.ts)
		return chunkenc.ValNone
	}
	it.pos++
	return chunkenc.ValFloat
}

func (it *dsIterator[T]) Seek(t T) chunkenc.ValueType {
	if it.pos < 0 {
		it.pos = 0
	}
	for it.pos < len(it.s.ts) && it.s.ts[it.pos] < int64(t) {
		it.pos++
	}
	if it.pos >= len(it.s.ts) {
		return chunkenc.ValNone
	}
	return chunkenc.ValFloat
}

func (it *dsIterator[T]) At() (int64, float64) { return it.s.ts[it.pos], it.s.vs[it.pos] }

func (it *dsIterator[T]) AtHistogram(h *histogram.Histogram) (int64, *histogram.Histogram) {
	return it.AtT(), h
}

func (it *dsIterator[T]) AtFloatHistogram(fh *histogram.FloatHistogram) (int64, *histogram.FloatHistogram) {
	return it.AtT(), fh
}

func (it *dsIterator[T]) AtT() int64 {
	if it.pos < 0 || it.pos >= len(it.s.ts) {
		return math.MinInt64
	}
	return it.s.ts[it.pos]
}

func (it *dsIterator[T]) AtST() int64 { return 0 }

func (it *dsIterator[T]) Err() error { return nil }
