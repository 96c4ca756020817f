package rules

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/timestamp"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/template"
)

// templateDefs gives alert templates the variables Prometheus defines.
const templateDefs = "{{$labels := .Labels}}{{$externalLabels := .ExternalLabels}}" +
	"{{$externalURL := .ExternalURL}}{{$value := .Value}}"

// expander expands the label and annotation templates of one alerting rule
// evaluation, with Prometheus's semantics: a template that fails to expand
// yields "<error expanding template: ...>" and a logged warning.
type expander struct {
	alert          string
	ts             time.Time
	query          QueryFunc
	externalLabels map[string]string
	externalURL    string
	parsedURL      *url.URL
	logger         *slog.Logger
}

// expand expands text for one sample.
func (e *expander) expand(ctx context.Context, text string, data any) string {
	q := e.query
	if q == nil {
		q = func(context.Context, string, time.Time) (promql.Vector, error) { return nil, ErrNoQuery }
	}
	tmpl := template.NewTemplateExpander(ctx, templateDefs+text, "__alert_"+e.alert, data,
		model.Time(timestamp.FromTime(e.ts)), template.QueryFunc(q), e.parsedURL, nil)
	res, err := tmpl.Expand()
	if err != nil {
		res = fmt.Sprintf("<error expanding template: %s>", err)
		e.logger.Warn("expanding alert template failed", "alert", e.alert, "err", err)
	}
	return res
}

// alertsFromVector builds one alert candidate per sample: the sample's
// labels without __name__, the rule labels expanded and set over them, and
// alertname; annotations expanded. Only Labels, Annotations and Value are
// set; Step does the rest.
func (e *expander) alertsFromVector(ctx context.Context, vec promql.Vector, ruleLabels, ruleAnnotations labels.Labels) []*Alert {
	out := make([]*Alert, 0, len(vec))
	lb := labels.NewBuilder(labels.EmptyLabels())
	sb := labels.NewScratchBuilder(ruleAnnotations.Len())
	for _, s := range vec {
		data := template.AlertTemplateData(s.Metric.Map(), e.externalLabels, e.externalURL, s)
		lb.Reset(s.Metric)
		lb.Del(labels.MetricName)
		ruleLabels.Range(func(l labels.Label) { lb.Set(l.Name, e.expand(ctx, l.Value, data)) })
		lb.Set(labels.AlertName, e.alert)
		sb.Reset()
		ruleAnnotations.Range(func(a labels.Label) { sb.Add(a.Name, e.expand(ctx, a.Value, data)) })
		sb.Sort()
		out = append(out, &Alert{Labels: lb.Labels(), Annotations: sb.Labels(), Value: s.F})
	}
	return out
}

// annotationsFor re-expands annotations for an alert restored without a
// sample (kept firing across a restart): $labels are the alert's labels and
// $value is 0.
func (e *expander) annotationsFor(ctx context.Context, a *Alert, ruleAnnotations labels.Labels) labels.Labels {
	data := template.AlertTemplateData(a.Labels.Map(), e.externalLabels, e.externalURL, promql.Sample{})
	sb := labels.NewScratchBuilder(ruleAnnotations.Len())
	ruleAnnotations.Range(func(l labels.Label) { sb.Add(l.Name, e.expand(ctx, l.Value, data)) })
	sb.Sort()
	return sb.Labels()
}
