package rules

import (
	"context"
	"strings"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/timestamp"
	"github.com/prometheus/prometheus/model/value"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/tsdb/chunkenc"
)

// lastSample is the newest sample of a series within the restore window.
type lastSample struct {
	lset labels.Labels // without __name__
	t    int64
	v    float64
}

// restore rebuilds the alerts of the group's alerting rules from the
// ALERTS_FOR_STATE and ALERTS_KEEP_FIRING_SINCE series written before a
// restart, looking back OutageTolerance from ts. It follows Prometheus's
// RestoreForState for ActiveAt:
//
//   - an alert that had been pending for its whole "for" keeps its ActiveAt
//     (it fires on this evaluation if the condition still holds);
//   - with "for" shorter than ForGracePeriod it is not restored (it starts
//     pending afresh);
//   - with less than ForGracePeriod of "for" left, it fires ForGracePeriod
//     after ts at the earliest;
//   - otherwise ActiveAt moves forward by the downtime, so the time spent
//     pending before the restart still counts.
//
// An alert that was firing only because of keep_firing_for comes back
// firing, with KeepFiringSince moved forward by the downtime: the rest of
// its window runs after the restart. (Its annotations are re-expanded with
// $value 0.)
//
// Restored alerts are pending (or firing, for keep_firing_for): one whose
// condition no longer holds is dropped by the next Step without a
// notification, as in Prometheus.
func (g *Group) restore(ctx context.Context, ts time.Time) map[*Rule]Alerts {
	if g.opts.Queryable == nil {
		return nil
	}
	q, err := g.opts.Queryable.Querier(timestamp.FromTime(ts.Add(-g.opts.OutageTolerance)), timestamp.FromTime(ts))
	if err != nil {
		g.logger.Error("restoring alert state: get querier", "err", err)
		return nil
	}
	defer q.Close()
	out := map[*Rule]Alerts{}
	for _, r := range g.rules {
		if !r.IsAlerting() {
			continue
		}
		forState, err := lastSamples(ctx, q, AlertsForStateMetric, r)
		if err != nil {
			g.logger.Error("restoring alert state", "alert", r.Name(), "err", err)
			continue
		}
		if len(forState) == 0 {
			continue
		}
		var keep map[string]lastSample
		if r.spec.KeepFiringFor > 0 {
			if keep, err = lastSamples(ctx, q, AlertsKeepFiringSinceMetric, r); err != nil {
				g.logger.Error("restoring keep_firing_for state", "alert", r.Name(), "err", err)
			}
		}
		as := Alerts{}
		for key, fs := range forState {
			a, ok := restoreAlert(fs, keep[key], ts, r.spec.For, g.opts.ForGracePeriod)
			if ok {
				as[a.Labels.Hash()] = a
			}
		}
		if len(as) > 0 {
			out[r] = as
		}
	}
	return out
}

// restoreAlert rebuilds one alert from its last ALERTS_FOR_STATE sample fs
// and, if it was held by keep_firing_for, its last
// ALERTS_KEEP_FIRING_SINCE sample kf (zero lset when none).
func restoreAlert(fs, kf lastSample, ts time.Time, hold, grace time.Duration) (*Alert, bool) {
	if value.IsStaleNaN(fs.v) {
		return nil, false
	}
	downAt := time.Unix(fs.t/1000, 0).UTC()
	activeAt := time.Unix(int64(fs.v), 0).UTC()
	a := &Alert{State: StatePending, Labels: fs.lset}
	keepFiring := !kf.lset.IsEmpty() && !value.IsStaleNaN(kf.v)
	remaining := hold - downAt.Sub(activeAt)
	switch {
	case remaining <= 0 || keepFiring:
	case hold < grace:
		return nil, false
	case remaining < grace:
		activeAt = ts.Add(grace).Add(-hold)
	default:
		activeAt = activeAt.Add(ts.Sub(downAt))
	}
	a.ActiveAt = activeAt
	if keepFiring {
		kfDown := time.Unix(kf.t/1000, 0).UTC()
		a.State = StateFiring
		a.FiredAt = ts
		a.KeepFiringSince = time.Unix(int64(kf.v), 0).UTC().Add(ts.Sub(kfDown))
		if ts.Sub(a.ActiveAt) < hold {
			a.ActiveAt = ts.Add(-hold)
		}
	}
	return a, true
}

// lastSamples selects the series metric{alertname=<rule>, <rule labels>}
// (rule labels with templates are left out of the match) and returns each
// one's newest sample, keyed by its labels without __name__.
func lastSamples(ctx context.Context, q storage.Querier, metric string, r *Rule) (map[string]lastSample, error) {
	ms := []*labels.Matcher{
		labels.MustNewMatcher(labels.MatchEqual, labels.MetricName, metric),
		labels.MustNewMatcher(labels.MatchEqual, labels.AlertName, r.spec.Alert),
	}
	r.labels.Range(func(l labels.Label) {
		if l.Name == labels.AlertName || strings.Contains(l.Value, "{{") {
			return
		}
		ms = append(ms, labels.MustNewMatcher(labels.MatchEqual, l.Name, l.Value))
	})
	set := q.Select(ctx, false, nil, ms...)
	out := map[string]lastSample{}
	var it chunkenc.Iterator
	for set.Next() {
		s := set.At()
		it = s.Iterator(it)
		var (
			ls    lastSample
			found bool
		)
		for it.Next() == chunkenc.ValFloat {
			ls.t, ls.v = it.At()
			found = true
		}
		if err := it.Err(); err != nil {
			return nil, err
		}
		if !found {
			continue
		}
		ls.lset = s.Labels().DropMetricName()
		out[ls.lset.String()] = ls
	}
	return out, set.Err()
}
