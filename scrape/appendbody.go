package scrape

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/relabel"
	"github.com/prometheus/prometheus/model/textparse"
	"github.com/prometheus/prometheus/model/value"

	"github.com/watchdog-sre/watchdog/config"
	"github.com/watchdog-sre/watchdog/scrape/promtext"
)

// appendResult counts what one scrape body produced.
type appendResult struct {
	total       int // samples parsed (scrape_samples_scraped)
	added       int // samples left after metric relabeling
	seriesAdded int // series new to the cache (scrape_series_added)
	rejected    int // samples the store refused (soft errors) or duplicates in the body
	// rejects counts rejected by reason, in order of first appearance;
	// firstReject is the first of them, with its series.
	rejects     []rejectCount
	firstReject error
}

// rejectCount is how many samples of a scrape were refused for reason.
type rejectCount struct {
	reason string
	n      int
}

// reject counts one refused sample; describe tells what it was, and is
// called for the first refusal only (a body of 200,000 refused samples must
// not format 200,000 errors).
func (r *appendResult) reject(reason string, describe func() error) {
	r.rejected++
	if r.firstReject == nil {
		r.firstReject = describe()
	}
	for i := range r.rejects {
		if r.rejects[i].reason == reason {
			r.rejects[i].n++
			return
		}
	}
	r.rejects = append(r.rejects, rejectCount{reason, 1})
}

// reasonCounts renders rejects as "reason=n, reason=n".
func (r *appendResult) reasonCounts() string {
	var b strings.Builder
	for i, rc := range r.rejects {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s=%d", rc.reason, rc.n)
	}
	return b.String()
}

// rejectSummary is the target's lastError after a scrape that worked but
// had samples refused.
func (r *appendResult) rejectSummary() error {
	return fmt.Errorf("%d samples refused (%s), first: %w", r.rejected, r.reasonCounts(), r.firstReject)
}

// errAbandoned is returned by appendBody when ctx ended mid-body.
var errAbandoned = errors.New("scrape abandoned")

// ctxCheckEvery is how many samples appendBody appends between two looks
// at its context.
const ctxCheckEvery = 256

// reasonDuplicate is the reject reason of a series exposed twice in one
// body without timestamps.
const reasonDuplicate = "duplicate"

// appendBody parses b and appends its samples at defTime (or their own
// timestamps when honored), then the stale markers of series that are gone.
// An error means the scrape failed and app must be rolled back: a parse
// error, a limit exceeded (sample_limit, label_limit,
// label_name_length_limit, label_value_length_limit,
// native_histogram_bucket_limit), a series without a name, an Append error
// that is not soft, or errAbandoned when ctx ended. Soft Append errors (the
// store refusing one sample) are counted in the result and the rest of the
// body is appended. The body's metadata goes to sl.meta and its exemplars
// to sl.exemplars, both kept only if the scrape commits.
func (sl *scrapeLoop) appendBody(ctx context.Context, app Appender, b []byte, contentType string, defTime int64) (appendResult, error) {
	var (
		res        appendResult
		honorTS    = sl.s.job.honorTimestamps
		limit      = sl.s.job.cfg.SampleLimit
		appended   int
		limitErr   error
		parseError error
	)
	defer sl.countCollisions()
	if len(b) == 0 {
		sl.meta.begin() // an empty exposition has no metadata
		sl.writeStale(app, defTime)
		return res, nil
	}
	p, tp, res, err := sl.bodyParser(b, contentType)
	if err != nil {
		return res, err
	}
	defer func() { sl.cur = nil }()
	if tp != nil && sl.cache.empty() {
		// A target's first text body: size the cache for it.
		n := sampleLines(b)
		if limit > 0 {
			n = min(n, limit)
		}
		sl.cache.reserve(n)
	}
	// Start timestamps are read from the formats that have them; stMiss
	// is set once a family of the body had none (see startTimestamp).
	readST := sl.deps.parseST() && tp == nil
	_, isProto := p.(*textparse.ProtobufParser)
	stMiss := false
	for {
		et, err := p.Next()
		if err != nil {
			if !errors.Is(err, io.EOF) {
				parseError = fmt.Errorf("parse: %w", err)
			}
			break
		}
		if et != textparse.EntrySeries && et != textparse.EntryHistogram {
			sl.meta.entry(p, et)
			stMiss = false // a new family
			continue
		}
		res.total++
		if res.total%ctxCheckEvery == 0 && ctx.Err() != nil {
			return res, errAbandoned // also while only counting past the limit
		}
		if limitErr != nil {
			continue // keep counting, to report how many samples there were
		}
		isHist := et == textparse.EntryHistogram
		var (
			line []byte
			tsp  *int64
			v    float64
			h    *histogram.Histogram
			fh   *histogram.FloatHistogram
		)
		if isHist {
			line, tsp, h, fh = p.Histogram()
		} else {
			line, tsp, v = p.Series()
		}
		t := defTime
		if honorTS && tsp != nil {
			t = *tsp
		} else {
			tsp = nil
		}
		e, seen := sl.cache.lookup(line, tp != nil && tp.IsExpected())
		if e != nil && e.dropped() {
			continue
		}
		var lset labels.Labels
		sl.cur = p
		if e != nil {
			lset = e.lset // empty once the store gave a ref: see lineLabels
		} else {
			var keep bool
			if lset, keep, err = sl.newSeries(p, line); err != nil {
				return res, err
			} else if !keep {
				continue
			}
		}
		res.added++

		if seen && tsp == nil {
			// The same series twice in one exposition: a duplicate sample.
			res.reject(reasonDuplicate, func() error { return fmt.Errorf("%s: exposed twice", sl.lineLabels(lset)) })
			continue
		}
		if limit > 0 && (isHist || !value.IsStaleNaN(v)) {
			appended++
			if appended > limit {
				limitErr = fmt.Errorf("%w (limit %d)", ErrSampleLimit, limit)
				continue
			}
		}
		var st int64
		if readST && !stMiss {
			// The OpenMetrics parser looks ahead for the series'
			// _created line: in a family without any, every look
			// would read to the family's end (n² for n series). Client
			// libraries write _created for all series of a family or
			// none, so a family whose first series has none is read
			// without. Protobuf carries the timestamp in the sample.
			if st = p.StartTimestamp(); st == 0 && !isProto {
				stMiss = true
			}
		}
		added, err := sl.appendValue(app, e, line, lset, st, t, v, h, fh, tsp == nil, &res)
		if errors.Is(err, ErrBucketLimit) {
			limitErr = err
			continue
		} else if err != nil {
			return res, err
		}
		if added && tp == nil && sl.deps.exemplars != nil {
			sl.collectExemplars(p, lset, t, isHist)
		}
	}
	sl.cur = nil
	if parseError != nil {
		return res, parseError
	}
	if limitErr != nil {
		res.seriesAdded = 0
		return res, limitErr
	}
	if tp != nil && (!sl.meta.repeatable || !tp.MetadataRepeated()) {
		sl.meta.begin()
		sl.meta.scanText(b)
	}
	sl.writeStale(app, defTime)
	return res, nil
}

// countCollisions adds the hash collisions the series cache detected to
// watchdog_scrape_cache_collisions_total.
func (sl *scrapeLoop) countCollisions() {
	if n := sl.cache.takeCollisions(); n > 0 && sl.deps.set != nil {
		sl.deps.set.GetOrCreateCounter(`watchdog_scrape_cache_collisions_total{` + sl.deps.jobLabel + `}`).Add(n)
	}
}

// bodyParser returns the parser of b, served as contentType, set up for
// appendBody (tp is it when it is promtext), after the checks that may
// refuse the body before it is parsed: the sample_limit pre-count of a
// text body, the histogram bound of a protobuf one.
func (sl *scrapeLoop) bodyParser(b []byte, contentType string) (p textparse.Parser, tp *promtext.Parser, res appendResult, err error) {
	cfg := sl.s.job.cfg
	f := bodyFormat(contentType, cfg.FallbackScrapeProtocol)
	if f == formatProto {
		if err := checkProtoBody(b, maxDecodedBuckets(cfg.NativeHistogramBucketLimit)); err != nil {
			return nil, nil, res, err
		}
	} else if res, err := sl.overSampleLimit(b, f); err != nil {
		return nil, nil, res, err
	}
	p = sl.parsers.forBody(b, f, &cfg.HistogramSettings, sl.deps.parseST())
	tp, _ = p.(*promtext.Parser)
	if tp != nil {
		tp.SetExpected(sl.cache.expectedForText())
		// Metadata entries are read apart (scanText) when they changed:
		// let the parser pass them.
		tp.SetSkipMetadata(true)
		sl.meta.text = true
	} else {
		sl.meta.begin()
	}
	return p, tp, res, nil
}

// newSeries returns the labels of the current series of p, whose line is
// not in the cache: parsed, with the target's labels, metric relabeling and
// the label limits checked. keep is false when relabeling dropped the line;
// the cache remembers that.
func (sl *scrapeLoop) newSeries(p textparse.Parser, line []byte) (lset labels.Labels, keep bool, err error) {
	merged := false
	if tp, ok := p.(*promtext.Parser); ok && len(sl.s.job.cfg.MetricRelabelConfigs) == 0 {
		// The scraped labels as views: the merged set is the only one
		// built.
		if lset, merged = sl.mergeTargetList(tp.SortedLabels()); merged {
			keep = !lset.IsEmpty()
		}
	}
	if !merged {
		p.Labels(&sl.lset)
		lset, keep = sl.mutate(sl.lset)
	}
	if !keep {
		sl.cache.addDropped(line)
		return lset, false, nil
	}
	if err := checkSeries(lset, &sl.s.job.cfg.ScrapeLimits); err != nil {
		return lset, false, err
	}
	return lset, true, nil
}

// appendValue appends the float v, or the histogram h or fh when one is
// set; see appendSample and appendHistogram. st is the sample's start
// timestamp, 0 if unknown.
func (sl *scrapeLoop) appendValue(app Appender, e *cacheEntry, line []byte, lset labels.Labels, st, t int64, v float64,
	h *histogram.Histogram, fh *histogram.FloatHistogram, track bool, res *appendResult) (bool, error) {
	if h == nil && fh == nil {
		if st != 0 {
			return sl.appendSampleST(app, e, line, lset, st, t, v, track, res)
		}
		return sl.appendSample(app, e, line, lset, t, v, track, res)
	}
	return sl.appendHistogram(app, e, line, lset, st, t, h, fh, track, res)
}

// appendSample appends one sample of line (cache entry e, nil if new) and
// updates the cache; track says whether the series is tracked for
// staleness (it has no explicit timestamp, as in Prometheus). A soft error
// is counted in res (added is false); another one fails the scrape.
func (sl *scrapeLoop) appendSample(app Appender, e *cacheEntry, line []byte, lset labels.Labels, t int64, v float64, track bool, res *appendResult) (added bool, err error) {
	var ref uint64
	if e != nil {
		ref = e.ref
	}
	newRef, err := sl.appendRetry(app, ref, lset, t, v)
	return sl.appended(e, line, lset, t, newRef, err, track, res)
}

// appendSampleST is appendSample for a sample with start timestamp st:
// with Options.STZeroIngestion a zero sample at st goes first, and with
// Options.StoreStartTimestamps st is stored with the sample.
func (sl *scrapeLoop) appendSampleST(app Appender, e *cacheEntry, line []byte, lset labels.Labels, st, t int64, v float64, track bool, res *appendResult) (bool, error) {
	var ref uint64
	if e != nil {
		ref = e.ref
	}
	ref = sl.appendSTZero(app, ref, lset, st, t, nil, nil)
	if !sl.deps.storeST {
		newRef, err := sl.appendRetry(app, ref, lset, t, v)
		return sl.appended(e, line, lset, t, newRef, err, track, res)
	}
	newRef, err := app.AppendSample(ref, lset, st, t, v, nil, nil)
	if err != nil && ref != 0 && !sl.soft(err) {
		newRef, err = app.AppendSample(0, sl.lineLabels(lset), st, t, v, nil, nil)
	}
	return sl.appended(e, line, lset, t, newRef, err, track, res)
}

// appendSTZero appends, with Options.STZeroIngestion, the zero sample at
// start timestamp st of the sample at t (a histogram when h or fh is set)
// and returns the series' ref to append that sample with. Its errors are
// ignored, as in Prometheus: the zero sample is an experimental extra.
func (sl *scrapeLoop) appendSTZero(app Appender, ref uint64, lset labels.Labels, st, t int64, h *histogram.Histogram, fh *histogram.FloatHistogram) uint64 {
	if !sl.deps.stZero {
		return ref
	}
	r, err := app.AppendSTZeroSample(ref, lset, st, t, h, fh)
	if err != nil && ref != 0 {
		r, err = app.AppendSTZeroSample(0, sl.lineLabels(lset), st, t, h, fh)
	}
	if err != nil || r == 0 {
		return ref
	}
	return r
}

// appended updates the cache after the append of one sample of line
// returned newRef and err.
func (sl *scrapeLoop) appended(e *cacheEntry, line []byte, lset labels.Labels, t int64, newRef uint64, err error, track bool, res *appendResult) (bool, error) {
	if err != nil {
		if sl.soft(err) {
			res.reject(sl.deps.reason(err), func() error { return fmt.Errorf("%s @%d: %w", sl.lineLabels(lset), t, err) })
			return false, nil
		}
		return false, fmt.Errorf("append %s: %w", sl.lineLabels(lset).String(), err)
	}
	if e != nil {
		if newRef != 0 {
			sl.cache.setRef(e, newRef)
		}
	} else {
		e = sl.cache.add(line, newRef, cachedLabels(newRef, lset))
		res.seriesAdded++
	}
	if track {
		sl.cache.track(e)
	}
	return true, nil
}

// minSampleLine is the shortest sample line: a one-letter name, a space, a
// digit and the newline ("a 1\n").
const minSampleLine = 4

// overSampleLimit refuses, before anything is parsed into series, a body
// that certainly has more samples than the job's sample_limit: without
// metric_relabel_configs, every sample line but stale markers counts
// (duplicated lines too). The count only runs for bodies with more lines
// than the limit. It returns the samples counted and ErrSampleLimit, or
// nil when the body is to be appended.
func (sl *scrapeLoop) overSampleLimit(b []byte, f format) (appendResult, error) {
	cfg := sl.s.job.cfg
	limit := cfg.SampleLimit
	// A sample line takes at least minSampleLine bytes, so a shorter body
	// cannot pass the limit: the usual body is not even scanned.
	if limit <= 0 || len(cfg.MetricRelabelConfigs) > 0 || len(b) < limit*minSampleLine ||
		sampleLines(b) <= limit {
		return appendResult{}, nil
	}
	p := sl.parsers.forBody(b, f, &cfg.HistogramSettings, sl.deps.parseST())
	if tp, ok := p.(*promtext.Parser); ok {
		tp.SetExpected(nil)
		tp.SetSkipMetadata(true)
	}
	var total, counted int
	for {
		et, err := p.Next()
		if err != nil {
			break // a parse error is reported by the real pass
		}
		switch et {
		case textparse.EntryHistogram:
			counted++
		case textparse.EntrySeries:
			if _, _, v := p.Series(); !value.IsStaleNaN(v) {
				counted++
			}
		default:
			continue
		}
		total++
	}
	if counted <= limit {
		return appendResult{}, nil
	}
	return appendResult{total: total, added: total},
		fmt.Errorf("%w (%d samples, limit %d)", ErrSampleLimit, counted, limit)
}

// checkSeries checks a new series' labels against the job's label limits.
func checkSeries(lset labels.Labels, l *config.ScrapeLimits) error {
	if !lset.Has(model.MetricNameLabel) {
		return ErrNameLabelMissing
	}
	if l.LabelLimit > 0 && lset.Len() > l.LabelLimit {
		return fmt.Errorf("%w (metric: %.50s, number of labels: %d, limit: %d)",
			ErrLabelLimit, lset.Get(model.MetricNameLabel), lset.Len(), l.LabelLimit)
	}
	var err error
	lset.Range(func(lb labels.Label) {
		switch {
		case err != nil:
		case l.LabelNameLengthLimit > 0 && len(lb.Name) > l.LabelNameLengthLimit:
			err = fmt.Errorf("%w (metric: %.50s, label name: %.50s…, length: %d, limit: %d)",
				ErrLabelNameLengthLimit, lset.Get(model.MetricNameLabel), lb.Name, len(lb.Name), l.LabelNameLengthLimit)
		case l.LabelValueLengthLimit > 0 && len(lb.Value) > l.LabelValueLengthLimit:
			err = fmt.Errorf("%w (metric: %.50s, label: %.50s, value length: %d, limit: %d)",
				ErrLabelValueLengthLimit, lset.Get(model.MetricNameLabel), lb.Name, len(lb.Value), l.LabelValueLengthLimit)
		}
	})
	return err
}

// mutate adds the target's labels to a scraped label set and applies
// metric_relabel_configs. With honor_labels the scraped labels win; without,
// the target's labels win and conflicting scraped ones are kept as
// exported_<name>. keep is false when relabeling dropped the series.
func (sl *scrapeLoop) mutate(lset labels.Labels) (out labels.Labels, keep bool) {
	if len(sl.s.job.cfg.MetricRelabelConfigs) == 0 {
		if out, ok := sl.mergeTarget(lset); ok {
			return out, !out.IsEmpty()
		}
	}
	return sl.mutateBuilder(lset)
}

// mutateBuilder is mutate through labels.Builder, for every case.
func (sl *scrapeLoop) mutateBuilder(lset labels.Labels) (out labels.Labels, keep bool) {
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

// mergeTarget returns what mutate returns without metric_relabel_configs,
// built in one pass: lset with the target's labels merged in, labels with
// empty values left out (as labels.Builder does). ok is false when a scraped
// label has a target label's name; mutate resolves that conflict.
func (sl *scrapeLoop) mergeTarget(lset labels.Labels) (out labels.Labels, ok bool) {
	var buf [32]labels.Label
	list := buf[:0]
	lset.Range(func(l labels.Label) { list = append(list, l) })
	return sl.mergeTargetList(list)
}

// mergeTargetList is mergeTarget of the label set list, sorted by name.
func (sl *scrapeLoop) mergeTargetList(list []labels.Label) (out labels.Labels, ok bool) {
	if sl.targetFor != sl.s {
		sl.targetLabels = sl.targetLabels[:0]
		sl.s.target.public.Range(func(l labels.Label) { sl.targetLabels = append(sl.targetLabels, l) })
		sl.targetFor = sl.s
	}
	tl, sb := sl.targetLabels, &sl.sb
	sb.Reset()
	i := 0
	for _, l := range list {
		for ; i < len(tl) && tl[i].Name < l.Name; i++ {
			if tl[i].Value != "" {
				sb.Add(tl[i].Name, tl[i].Value)
			}
		}
		if i < len(tl) && tl[i].Name == l.Name {
			return labels.EmptyLabels(), false
		}
		if l.Value != "" {
			sb.Add(l.Name, l.Value)
		}
	}
	for ; i < len(tl); i++ {
		if tl[i].Value != "" {
			sb.Add(tl[i].Name, tl[i].Value)
		}
	}
	return sb.Labels(), true
}

// sampleLines counts the lines of b that can hold a sample: neither empty
// nor comments (# HELP, # TYPE), so that a body with many of those but not
// more samples than the limit is not parsed twice.
func sampleLines(b []byte) int {
	n := 0
	for len(b) > 0 {
		if b[0] != '#' && b[0] != '\n' {
			n++
		}
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			break
		}
		b = b[i+1:]
	}
	return n
}
