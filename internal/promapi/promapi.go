// Package promapi is a small client of the Prometheus HTTP query API for
// tests: it reads raw samples and query results from a watchdog,
// Prometheus or VictoriaMetrics and turns them into one comparable form,
// series keyed by their sorted label set.
package promapi

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// ErrAPI is returned when the server answers with an error status.
var ErrAPI = errors.New("query API error")

// Sample is one raw sample: a timestamp in milliseconds and a value.
type Sample struct {
	T int64
	V float64
}

// Series is one series with its samples in the server's order.
type Series struct {
	Labels  map[string]string
	Samples []Sample
}

// Key renders the label set as {a="1", b="2"} in sorted label order, the
// __name__ first as a plain name, so that series from different servers
// can be compared by key.
func Key(labels map[string]string) string {
	var b strings.Builder
	b.WriteString(labels["__name__"])
	b.WriteByte('{')
	first := true
	for _, k := range slices.Sorted(maps.Keys(labels)) {
		if k == "__name__" {
			continue
		}
		if !first {
			b.WriteString(", ")
		}
		first = false
		b.WriteString(k + "=" + strconv.Quote(labels[k]))
	}
	b.WriteByte('}')
	return b.String()
}

// ByKey indexes series by Key, merging the samples of series that share a
// key (a server may answer one series in several parts) and sorting each
// series' samples by time. Samples with equal timestamps are kept, so
// duplicates stay visible.
func ByKey(series []Series) map[string][]Sample {
	out := make(map[string][]Sample, len(series))
	for _, s := range series {
		k := Key(s.Labels)
		out[k] = append(out[k], s.Samples...)
	}
	for _, ss := range out {
		slices.SortStableFunc(ss, func(a, b Sample) int { return cmp.Compare(a.T, b.T) })
	}
	return out
}

// Client queries one server's API.
type Client struct {
	// URL is the server's base URL, e.g. http://127.0.0.1:8428.
	URL string
	// Header is added to every request (e.g. Authorization).
	Header http.Header
	// Timeout bounds every request (default 30s).
	Timeout time.Duration
}

// Raw returns every raw sample of the series matching selector in the
// window (at-window, at], by the instant query selector[window] at at.
func (c Client) Raw(selector string, at time.Time, window time.Duration) ([]Series, error) {
	return c.Query(fmt.Sprintf("%s[%s]", selector, FormatDuration(window)), at)
}

// Query runs an instant query at at and returns its result as series: a
// vector's samples have one sample each, a matrix's all of theirs.
func (c Client) Query(query string, at time.Time) ([]Series, error) {
	v := url.Values{"query": {query}, "time": {formatTime(at)}}
	return c.get("/api/v1/query", v)
}

// QueryRange runs a range query and returns its matrix.
func (c Client) QueryRange(query string, start, end time.Time, step time.Duration) ([]Series, error) {
	v := url.Values{"query": {query}, "start": {formatTime(start)}, "end": {formatTime(end)},
		"step": {strconv.FormatFloat(step.Seconds(), 'f', -1, 64)}}
	return c.get("/api/v1/query_range", v)
}

// FormatDuration renders d as a PromQL duration in whole milliseconds.
func FormatDuration(d time.Duration) string {
	return strconv.FormatInt(d.Milliseconds(), 10) + "ms"
}

func formatTime(t time.Time) string {
	return strconv.FormatFloat(float64(t.UnixMilli())/1000, 'f', 3, 64)
}

func (c Client) get(path string, v url.Values) ([]Series, error) {
	req, err := http.NewRequest(http.MethodPost, strings.TrimRight(c.URL, "/")+path, strings.NewReader(v.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for k, vs := range c.Header {
		req.Header[k] = vs
	}
	timeout := c.Timeout
	if timeout == 0 {
		timeout = 30 * time.Second
	}
	resp, err := (&http.Client{Timeout: timeout}).Do(req)
	if err != nil {
		return nil, fmt.Errorf("query %s: %w", path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%w: %s %q: %d %s", ErrAPI, path, v.Get("query"), resp.StatusCode, truncate(body))
	}
	return ParseResponse(body)
}

// ParseResponse decodes a query API answer (vector, matrix or scalar).
func ParseResponse(body []byte) ([]Series, error) {
	var r struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			ResultType string          `json:"resultType"`
			Result     json.RawMessage `json:"result"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &r); err != nil {
		return nil, fmt.Errorf("decode answer: %w: %s", err, truncate(body))
	}
	if r.Status != "success" {
		return nil, fmt.Errorf("%w: %s", ErrAPI, r.Error)
	}
	type point [2]json.RawMessage
	var rows []struct {
		Metric map[string]string `json:"metric"`
		Value  *point            `json:"value"`
		Values []point           `json:"values"`
	}
	switch r.Data.ResultType {
	case "vector", "matrix":
		if err := json.Unmarshal(r.Data.Result, &rows); err != nil {
			return nil, fmt.Errorf("decode %s: %w", r.Data.ResultType, err)
		}
	case "scalar":
		var p point
		if err := json.Unmarshal(r.Data.Result, &p); err != nil {
			return nil, fmt.Errorf("decode scalar: %w", err)
		}
		rows = append(rows, struct {
			Metric map[string]string `json:"metric"`
			Value  *point            `json:"value"`
			Values []point           `json:"values"`
		}{Metric: map[string]string{}, Value: &p})
	default:
		return nil, fmt.Errorf("%w: unexpected result type %q", ErrAPI, r.Data.ResultType)
	}
	out := make([]Series, 0, len(rows))
	for _, row := range rows {
		pts := row.Values
		if row.Value != nil {
			pts = append(pts, *row.Value)
		}
		s := Series{Labels: row.Metric, Samples: make([]Sample, 0, len(pts))}
		for _, p := range pts {
			smp, err := parsePoint(p)
			if err != nil {
				return nil, err
			}
			s.Samples = append(s.Samples, smp)
		}
		out = append(out, s)
	}
	return out, nil
}

func parsePoint(p [2]json.RawMessage) (Sample, error) {
	var ts float64
	if err := json.Unmarshal(p[0], &ts); err != nil {
		return Sample{}, fmt.Errorf("decode timestamp %s: %w", p[0], err)
	}
	var vs string
	if err := json.Unmarshal(p[1], &vs); err != nil {
		return Sample{}, fmt.Errorf("decode value %s: %w", p[1], err)
	}
	v, err := strconv.ParseFloat(vs, 64)
	if err != nil {
		return Sample{}, fmt.Errorf("parse value %q: %w", vs, err)
	}
	return Sample{T: int64(math.Round(ts * 1000)), V: v}, nil
}

func truncate(b []byte) string {
	if len(b) > 512 {
		return string(b[:512]) + "…"
	}
	return string(b)
}
