package web

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/exemplar"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"

	"github.com/watchdog-sre/watchdog/scrape"
)

// MetadataFunc lists the metadata of the active targets' last successful
// scrapes (scrape.Manager.Metadata).
type MetadataFunc func() []scrape.TargetMetadata

// ExemplarQuerier returns the exemplars between start and end (Unix
// milliseconds) of the series matching any of the matcher sets, as
// tsdb.Exemplars does.
type ExemplarQuerier interface {
	Select(start, end int64, matchers ...[]*labels.Matcher) ([]exemplar.QueryResult, error)
}

// metadataEntry is one metadata entry of /api/v1/metadata.
type metadataEntry struct {
	Type model.MetricType `json:"type"`
	Help string           `json:"help"`
	Unit string           `json:"unit"`
}

// signedLimit parses a Prometheus-style limit where a negative value, or
// none, means no limit and 0 means none at all.
func signedLimit(r *http.Request, name string) (int, *apiError) {
	s := r.FormValue(name)
	if s == "" {
		return -1, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0, badData(fmt.Errorf("%s must be a number", name))
	}
	return n, nil
}

// metadata serves /api/v1/metadata: per metric family, the distinct
// metadata the targets expose, as Prometheus does (limit bounds the
// families, limit_per_metric the entries of each; metric selects one).
// Families are taken in name order, so that limit is deterministic.
func (h *Handler) metadata(r *http.Request) apiResult {
	if e := parseForm(r); e != nil {
		return apiResult{err: e}
	}
	limit, e := signedLimit(r, "limit")
	if e != nil {
		return apiResult{err: e}
	}
	perMetric, e := signedLimit(r, "limit_per_metric")
	if e != nil {
		return apiResult{err: e}
	}
	metric := r.FormValue("metric")
	sets := map[string][]metadataEntry{}
	if h.meta != nil {
		for _, t := range h.meta() {
			for name, md := range t.Families {
				if metric != "" && name != metric {
					continue
				}
				m := metadataEntry{Type: md.Type, Help: md.Help, Unit: md.Unit}
				ms := sets[name]
				if slices.Contains(ms, m) || (perMetric > 0 && len(ms) >= perMetric) {
					continue
				}
				sets[name] = append(ms, m)
			}
		}
	}
	names := make([]string, 0, len(sets))
	for name := range sets {
		names = append(names, name)
	}
	slices.Sort(names)
	out := make(map[string][]metadataEntry, len(names))
	for _, name := range names {
		if limit >= 0 && len(out) >= limit {
			break
		}
		out[name] = sets[name]
	}
	return apiResult{data: out}
}

// targetMetadataEntry is one entry of /api/v1/targets/metadata.
type targetMetadataEntry struct {
	Target labels.Labels    `json:"target"`
	Metric string           `json:"metric,omitempty"`
	Type   model.MetricType `json:"type"`
	Help   string           `json:"help"`
	Unit   string           `json:"unit"`
}

// targetMetadata serves /api/v1/targets/metadata: the metadata of the
// targets matching match_target (all without it), of one metric or all,
// at most limit entries when limit is set (counted per target, as
// Prometheus does).
func (h *Handler) targetMetadata(r *http.Request) apiResult {
	if e := parseForm(r); e != nil {
		return apiResult{err: e}
	}
	limit, e := signedLimit(r, "limit")
	if e != nil {
		return apiResult{err: e}
	}
	var matchers []*labels.Matcher
	if mt := r.FormValue("match_target"); mt != "" {
		sets, err := h.parseMatchers([]string{mt})
		if err != nil {
			return apiResult{err: invalidParam("match_target", err)}
		}
		matchers = sets[0]
	}
	metric := r.FormValue("metric")
	out := []targetMetadataEntry{}
	if h.meta == nil {
		return apiResult{data: out}
	}
	for _, t := range h.meta() {
		if limit >= 0 && len(out) >= limit {
			break
		}
		if !matchAll(t.Labels, matchers) {
			continue
		}
		if metric != "" {
			if md, ok := t.Families[metric]; ok {
				out = append(out, targetMetadataEntry{Target: t.Labels, Type: md.Type, Help: md.Help, Unit: md.Unit})
			}
			continue
		}
		names := make([]string, 0, len(t.Families))
		for name := range t.Families {
			names = append(names, name)
		}
		slices.Sort(names)
		for _, name := range names {
			md := t.Families[name]
			out = append(out, targetMetadataEntry{Target: t.Labels, Metric: name, Type: md.Type, Help: md.Help, Unit: md.Unit})
		}
	}
	return apiResult{data: out}
}

func matchAll(lset labels.Labels, ms []*labels.Matcher) bool {
	for _, m := range ms {
		if !m.Matches(lset.Get(m.Name)) {
			return false
		}
	}
	return true
}

// exemplarJSON is one exemplar in Prometheus's JSON shape.
type exemplarJSON struct {
	Labels    labels.Labels `json:"labels"`
	Value     string        `json:"value"`
	Timestamp float64       `json:"timestamp"`
}

// exemplarSeriesJSON is one series of /api/v1/query_exemplars.
type exemplarSeriesJSON struct {
	SeriesLabels labels.Labels  `json:"seriesLabels"`
	Exemplars    []exemplarJSON `json:"exemplars"`
}

// queryExemplars serves /api/v1/query_exemplars: the exemplars between
// start and end of the series the selectors of query select.
func (h *Handler) queryExemplars(r *http.Request) apiResult {
	if e := parseForm(r); e != nil {
		return apiResult{err: e}
	}
	start, e := timeParam(r.FormValue("start"), "start", minTime)
	if e != nil {
		return apiResult{err: e}
	}
	end, e := timeParam(r.FormValue("end"), "end", maxTime)
	if e != nil {
		return apiResult{err: e}
	}
	if end.Before(start) {
		return apiResult{err: badData(errors.New("end timestamp must not be before start timestamp"))}
	}
	q := r.FormValue("query")
	if err := h.CheckQueryText(q); err != nil {
		return apiResult{err: admissionError(err)}
	}
	expr, err := h.parser.ParseExpr(q)
	if err != nil {
		return apiResult{err: badData(err)}
	}
	out := []exemplarSeriesJSON{}
	selectors := parser.ExtractSelectors(expr)
	if len(selectors) == 0 || h.exemplars == nil {
		return apiResult{data: out}
	}
	res, err := h.exemplars.Select(start.UnixMilli(), end.UnixMilli(), selectors...)
	if err != nil {
		return apiResult{err: classify(err)}
	}
	for _, s := range res {
		js := exemplarSeriesJSON{SeriesLabels: s.SeriesLabels, Exemplars: make([]exemplarJSON, len(s.Exemplars))}
		for i, e := range s.Exemplars {
			js.Exemplars[i] = exemplarJSON{Labels: e.Labels, Value: strconv.FormatFloat(e.Value, 'f', -1, 64),
				Timestamp: float64(e.Ts) / 1000}
		}
		out = append(out, js)
	}
	return apiResult{data: out}
}
