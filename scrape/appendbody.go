package scrape

import (
	"errors"
	"fmt"
	"io"
	"slices"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/relabel"
	"github.com/prometheus/prometheus/model/textparse"
	"github.com/prometheus/prometheus/model/value"

	"github.com/watchdog-sre/watchdog/scrape/promtext"
)

// appendResult counts what one scrape body produced.
type appendResult struct {
	total       int // samples parsed (scrape_samples_scraped)
	added       int // samples left after metric relabeling
	seriesAdded int // series new to the cache (scrape_series_added)
	rejected    int // out-of-order or duplicate samples skipped
}

// appendBody parses b and appends its samples at defTime (or their own
// timestamps when honored), then the stale markers of series that are gone.
// An error means the scrape failed and app must be rolled back: a parse
// error, sample_limit or label_limit exceeded, a series without a name, or an
// Append error that is not soft.
func (sl *scrapeLoop) appendBody(app Appender, b []byte, contentType string, defTime int64) (appendResult, error) {
	var (
		res        appendResult
		cfg        = sl.s.job.cfg
		honorTS    = sl.s.job.honorTimestamps
		limit      = cfg.SampleLimit
		appended   int
		limitErr   error
		parseError error
	)
	if len(b) == 0 {
		sl.writeStale(app, defTime)
		return res, nil
	}
	p := sl.parsers.forBody(b, contentType)
	tp, _ := p.(*promtext.Parser)
	if tp != nil {
		tp.SetExpected(sl.cache.expectedForText())
		// Metadata entries are ignored below: let the parser pass them.
		tp.SetSkipMetadata(true)
	}
	for {
		et, err := p.Next()
		if err != nil {
			if !errors.Is(err, io.EOF) {
				parseError = fmt.Errorf("parse: %w", err)
			}
			break
		}
		switch et {
		case textparse.EntrySeries:
		case textparse.EntryHistogram:
			// Native histograms are not stored; skip them.
			continue
		default: // type, help, unit, comment
			continue
		}
		res.total++
		line, tsp, v := p.Series()
		t := defTime
		if honorTS && tsp != nil {
			t = *tsp
		} else {
			tsp = nil
		}
		e, seen := sl.cache.lookup(line, tp != nil && tp.IsExpected())
		if e != nil && e.dropped {
			continue
		}
		var lset labels.Labels
		if e != nil {
			lset = e.lset
		} else {
			p.Labels(&sl.lset)
			var keep bool
			if lset, keep = sl.mutate(sl.lset); !keep {
				sl.cache.addDropped(line)
				continue
			}
			if !lset.Has(model.MetricNameLabel) {
				return res, ErrNameLabelMissing
			}
			if cfg.LabelLimit > 0 && lset.Len() > cfg.LabelLimit {
				return res, fmt.Errorf("%w (metric: %.50s, number of labels: %d, limit: %d)",
					ErrLabelLimit, line, lset.Len(), cfg.LabelLimit)
			}
		}
		res.added++

		if seen && tsp == nil {
			// The same series twice in one exposition: a duplicate sample.
			res.rejected++
			continue
		}
		if limit > 0 && !value.IsStaleNaN(v) {
			appended++
			if appended > limit {
				// Keep parsing to report how many samples there were.
				limitErr = fmt.Errorf("%w (limit %d)", ErrSampleLimit, limit)
				continue
			}
		}
		if limitErr != nil {
			continue // a stale marker after the limit was hit
		}
		var ref uint64
		if e != nil {
			ref = e.ref
		}
		newRef, err := sl.appendRetry(app, ref, lset, t, v)
		if err != nil {
			if sl.soft(err) {
				res.rejected++
				continue
			}
			return res, fmt.Errorf("append %s: %w", lset.String(), err)
		}
		if e != nil {
			if newRef != 0 {
				sl.cache.setRef(e, newRef)
			}
		} else {
			e = sl.cache.add(line, newRef, lset)
			res.seriesAdded++
		}
		if tsp == nil {
			// Samples with explicit timestamps are not tracked for
			// staleness, as in Prometheus.
			sl.cache.track(e)
		}
	}
	if parseError != nil {
		return res, parseError
	}
	if limitErr != nil {
		res.seriesAdded = 0
		return res, limitErr
	}
	sl.writeStale(app, defTime)
	return res, nil
}

// mutate adds the target's labels to a scraped label set and applies
// metric_relabel_configs. With honor_labels the scraped labels win; without,
// the target's labels win and conflicting scraped ones are kept as
// exported_<name>. keep is false when relabeling dropped the series.
func (sl *scrapeLoop) mutate(lset labels.Labels) (out labels.Labels, keep bool) {
	lb := sl.lb
	lb.Reset(lset)
	target := sl.s.target.public
	if sl.s.job.cfg.HonorLabels {
		target.Range(func(l labels.Label) {
			if !lset.Has(l.Name) {
				lb.Set(l.Name, l.Value)
			}
		})
	} else {
		var conflicts []labels.Label
		target.Range(func(l labels.Label) {
			if v := lset.Get(l.Name); v != "" {
				conflicts = append(conflicts, labels.Label{Name: l.Name, Value: v})
			}
			lb.Set(l.Name, l.Value)
		})
		if len(conflicts) > 0 {
			// Shorter names first, so exported_exported_x does not win over
			// exported_x; add prefixes until the name is free.
			slices.SortStableFunc(conflicts, func(a, b labels.Label) int { return len(a.Name) - len(b.Name) })
			for _, c := range conflicts {
				name := c.Name
				for {
					name = model.ExportedLabelPrefix + name
					if lb.Get(name) == "" {
						lb.Set(name, c.Value)
						break
					}
				}
			}
		}
	}
	if !relabel.ProcessBuilder(lb, sl.s.job.cfg.MetricRelabelConfigs...) {
		return labels.EmptyLabels(), false
	}
	out = lb.Labels()
	if out.IsEmpty() {
		return out, false
	}
	return out, true
}
