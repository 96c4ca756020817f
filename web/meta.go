package web

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/util/annotations"
)

// emptyQueryable is the storage of a Handler built without one.
type emptyQueryable struct{}

func (emptyQueryable) Querier(int64, int64) (storage.Querier, error) {
	return storage.NoopQuerier(), nil
}

// rangeParams holds the start, end and match[] parameters the metadata
// endpoints share.
type rangeParams struct {
	start, end time.Time
	matchers   [][]*labels.Matcher
	limit      int
}

func (h *Handler) parseRangeParams(r *http.Request) (rangeParams, *apiError) {
	var p rangeParams
	if e := parseForm(r); e != nil {
		return p, e
	}
	var err error
	if p.limit, err = parseLimit(r.FormValue("limit")); err != nil {
		return p, invalidParam("limit", err)
	}
	var e *apiError
	if p.start, e = timeParam(r.FormValue("start"), "start", minTime); e != nil {
		return p, e
	}
	if p.end, e = timeParam(r.FormValue("end"), "end", maxTime); e != nil {
		return p, e
	}
	if p.end.Before(p.start) {
		return p, invalidParam("end", errors.New("end timestamp must not be before start time"))
	}
	if p.matchers, err = h.parseMatchers(r.Form["match[]"]); err != nil {
		return p, invalidParam("match[]", err)
	}
	return p, nil
}

func (h *Handler) querier(p rangeParams) (storage.Querier, *apiError) {
	q, err := h.queryable.Querier(p.start.UnixMilli(), p.end.UnixMilli())
	if err != nil {
		return nil, classify(err)
	}
	return q, nil
}

// labelHintLimit asks storage for one more than the limit so that
// truncation can be reported.
func labelHintLimit(limit int) int {
	if limit > 0 {
		return limit + 1
	}
	return 0
}

func (h *Handler) series(r *http.Request) apiResult {
	if e := parseForm(r); e != nil {
		return apiResult{err: e}
	}
	if len(r.Form["match[]"]) == 0 {
		return apiResult{err: badData(errors.New("no match[] parameter provided"))}
	}
	p, e := h.parseRangeParams(r)
	if e != nil {
		return apiResult{err: e}
	}
	q, e := h.querier(p)
	if e != nil {
		return apiResult{err: e}
	}
	defer q.Close()

	ctx := r.Context()
	hints := &storage.SelectHints{
		Start: p.start.UnixMilli(),
		End:   p.end.UnixMilli(),
		Func:  "series",
		Limit: labelHintLimit(p.limit),
	}
	// Sorted selects give a stable order, which also makes limit
	// deterministic.
	var set storage.SeriesSet
	if len(p.matchers) == 1 {
		set = q.Select(ctx, true, hints, p.matchers[0]...)
	} else {
		sets := make([]storage.SeriesSet, 0, len(p.matchers))
		for _, ms := range p.matchers {
			sets = append(sets, q.Select(ctx, true, hints, ms...))
		}
		set = storage.NewMergeSeriesSet(sets, 0, storage.ChainedSeriesMerge)
	}
	out := []labels.Labels{}
	var warnings annotations.Annotations
	for set.Next() {
		if len(out)%128 == 0 {
			if err := ctx.Err(); err != nil {
				return apiResult{err: classify(err)}
			}
		}
		if p.limit > 0 && len(out) == p.limit {
			warnings = warnings.Add(errors.New("results truncated due to limit"))
			break
		}
		out = append(out, set.At().Labels())
	}
	if err := set.Err(); err != nil {
		return apiResult{err: classify(err)}
	}
	warnings.Merge(set.Warnings())
	return apiResult{data: out, warnings: warnings}
}

func (h *Handler) labelNames(r *http.Request) apiResult {
	p, e := h.parseRangeParams(r)
	if e != nil {
		return apiResult{err: e}
	}
	q, e := h.querier(p)
	if e != nil {
		return apiResult{err: e}
	}
	defer q.Close()
	hints := &storage.LabelHints{Limit: labelHintLimit(p.limit)}
	names, warnings, err := collectStrings(r.Context(), p.matchers,
		func(ctx context.Context, ms ...*labels.Matcher) ([]string, annotations.Annotations, error) {
			return q.LabelNames(ctx, hints, ms...)
		})
	if err != nil {
		return apiResult{err: classify(err), warnings: warnings}
	}
	names, warnings = limitStrings(names, p.limit, warnings)
	return apiResult{data: names, warnings: warnings}
}

func (h *Handler) labelValues(r *http.Request) apiResult {
	name := r.PathValue("name")
	if strings.HasPrefix(name, "U__") {
		name = model.UnescapeName(name, model.ValueEncodingEscaping)
	}
	if !model.UTF8Validation.IsValidLabelName(name) {
		return apiResult{err: badData(fmt.Errorf("invalid label name: %q", name))}
	}
	p, e := h.parseRangeParams(r)
	if e != nil {
		return apiResult{err: e}
	}
	q, e := h.querier(p)
	if e != nil {
		return apiResult{err: e}
	}
	defer q.Close()
	hints := &storage.LabelHints{Limit: labelHintLimit(p.limit)}
	vals, warnings, err := collectStrings(r.Context(), p.matchers,
		func(ctx context.Context, ms ...*labels.Matcher) ([]string, annotations.Annotations, error) {
			return q.LabelValues(ctx, name, hints, ms...)
		})
	if err != nil {
		return apiResult{err: classify(err), warnings: warnings}
	}
	vals, warnings = limitStrings(vals, p.limit, warnings)
	return apiResult{data: vals, warnings: warnings}
}

// collectStrings calls get once per matcher set (or once with none) and
// returns the sorted union of the answers, never nil.
func collectStrings(ctx context.Context, sets [][]*labels.Matcher,
	get func(context.Context, ...*labels.Matcher) ([]string, annotations.Annotations, error),
) ([]string, annotations.Annotations, error) {
	if len(sets) == 0 {
		sets = [][]*labels.Matcher{nil}
	}
	var (
		out      []string
		warnings annotations.Annotations
	)
	for _, ms := range sets {
		vals, w, err := get(ctx, ms...)
		warnings.Merge(w)
		if err != nil {
			return nil, warnings, err
		}
		out = append(out, vals...)
	}
	slices.Sort(out)
	out = slices.Compact(out)
	if out == nil {
		out = []string{}
	}
	return out, warnings, nil
}

func limitStrings(s []string, limit int, w annotations.Annotations) ([]string, annotations.Annotations) {
	if limit > 0 && len(s) > limit {
		return s[:limit], w.Add(errors.New("results truncated due to limit"))
	}
	return s, w
}

func (h *Handler) serveBuildInfo(*http.Request) apiResult {
	return apiResult{data: h.buildInfo}
}
