package evaluator

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/expr-lang/expr/vm"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/value"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/util/kahansum"

	"github.com/watchdog-sre/watchdog/tsdb"
)

var nan = math.NaN()

// batchSize is how many series a worker takes at a time.
const batchSize = 512

// cluster is a maximal set of overlapping windows, read from the iterator
// in one pass: samples in (start, end] relative to the evaluation time.
type cluster struct {
	start, end  int64
	first, last int // windows[first:last], sorted by start
}

// bounds returns window w's (start, end] relative to the evaluation time.
func (c *Condition) bounds(w window) (start, end int64) {
	end = -w.off
	if w.instant {
		return end - c.lookback, end
	}
	return end - w.rng, end
}

// planWindows sorts the windows by start and merges overlapping ones into
// clusters. Short windows whose functions need only a running summary of
// their samples (tallyFuncs) are not merged: each is a cluster of its own,
// summarised by a tsdb.Tally between evaluations (slide.go), and sorted
// after the others.
func (c *Condition) planWindows() {
	tally := make([]bool, len(c.windows))
	for i, w := range c.windows {
		s, e := c.bounds(w)
		tally[i] = !c.opts.NoSlide && e-s <= MaxSlideSpan.Milliseconds()
	}
	for _, s := range c.slots {
		tally[s.win] = tally[s.win] && tallyFuncs[s.fn]
	}
	order := make([]int, len(c.windows))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int {
		if tally[a] != tally[b] {
			if tally[b] {
				return -1
			}
			return 1
		}
		sa, _ := c.bounds(c.windows[a])
		sb, _ := c.bounds(c.windows[b])
		return cmp.Compare(sa, sb)
	})
	remap := make([]int, len(order))
	sorted := make([]window, len(order))
	sortedTally := make([]bool, len(order))
	for newI, oldI := range order {
		remap[oldI] = newI
		sorted[newI] = c.windows[oldI]
		sortedTally[newI] = tally[oldI]
	}
	c.windows, tally = sorted, sortedTally
	c.resetsIn = make([]bool, len(c.windows))
	for i := range c.slots {
		s := &c.slots[i]
		s.win = remap[s.win]
		c.resetsIn[s.win] = c.resetsIn[s.win] || s.fn == fnRate || s.fn == fnIncrease
	}
	c.clusters = nil
	c.slid, c.unslid, c.tallied = nil, nil, nil
	for i, w := range c.windows {
		s, e := c.bounds(w)
		if n := len(c.clusters); n > 0 && !tally[i] && s < c.clusters[n-1].end {
			cl := &c.clusters[n-1]
			cl.end = max(cl.end, e)
			cl.last = i + 1
			continue
		}
		if tally[i] {
			c.tallied = append(c.tallied, len(c.clusters))
		}
		c.clusters = append(c.clusters, cluster{start: s, end: e, first: i, last: i + 1})
	}
	for i, cl := range c.clusters {
		switch {
		case tally[cl.first]:
		case !c.opts.NoSlide && cl.end-cl.start <= MaxSlideSpan.Milliseconds():
			// Short clusters are kept decoded between evaluations (slide.go).
			c.slid = append(c.slid, i)
		default:
			c.unslid = append(c.unslid, i)
		}
	}
	c.slides = nil
	if len(c.slid)+len(c.tallied) > 0 {
		c.slides = &slideCache{n: len(c.slid), m: len(c.tallied)}
	}
}

// group is one `by` group's per-slot sums. Groups are told apart by the
// hash of their labels, as the PromQL engine's aggregations do.
type group struct {
	lset labels.Labels
	hash uint64
	sum  []float64 // Kahan sums per slot
	comp []float64 // compensation per slot
	has  []bool    // a series contributed to the slot
}

// worker is one goroutine's evaluation state; workers are pooled per
// Condition and reused across Eval calls.
type worker struct {
	c   *Condition
	env env
	vm  vm.VM

	rs   []tsdb.Range   // per cluster: its absolute time range at this Eval
	srs  []tsdb.Range   // rs of the slid clusters (c.slid)
	urs  []tsdb.Range   // rs of the clusters read afresh (c.unslid)
	trs  []tsdb.Range   // rs of the tallied clusters (c.tallied)
	smp  tsdb.Samples   // samples read by ReadRanges, per cluster in rs or urs
	lb   tsdb.LabelsBuf // the labels Slide returns
	tl   []*tsdb.Tally  // per window: its tally if the slots are computed from it
	nrs  []tsdb.Range   // tallied clusters whose samples are needed after all,
	nci  []int          // and their indices
	nsmp tsdb.Samples   // their samples
	cts  [][]int64      // per cluster: the current series' samples, stale markers included
	cvs  [][]float64    //
	fts  []int64        // stale-filtered window copies
	fvs  []float64      //
	wts  [][]int64      // per window: its samples
	wvs  [][]float64    //
	has  []bool         // per slot: the function has a result
	qbuf []float64      // quantile sort buffer

	out      promql.Vector
	batches  []batchOut        // where each batch's results are in out (no By)
	groups   map[uint64]*group // by hash
	last     *group            // the previous series' group: consecutive series often share it
	hbuf     []byte
	failures int
	first    string
}

func newWorker(c *Condition) any {
	return &worker{
		c:      c,
		env:    env{vals: make([]float64, len(c.slots))},
		wts:    make([][]int64, len(c.windows)),
		wvs:    make([][]float64, len(c.windows)),
		has:    make([]bool, len(c.slots)),
		rs:     make([]tsdb.Range, len(c.clusters)),
		srs:    make([]tsdb.Range, len(c.slid)),
		urs:    make([]tsdb.Range, len(c.unslid)),
		trs:    make([]tsdb.Range, len(c.tallied)),
		tl:     make([]*tsdb.Tally, len(c.windows)),
		cts:    make([][]int64, len(c.clusters)),
		cvs:    make([][]float64, len(c.clusters)),
		groups: map[uint64]*group{},
	}
}

func (w *worker) reset() {
	w.out, w.batches = w.out[:0], w.batches[:0]
	clear(w.tl) // set per series only when the Eval has the slide cache
	clear(w.groups)
	w.last = nil
	w.failures, w.first = 0, ""
}

// Eval evaluates the condition at ts over the series of r matching the
// selector and returns one sample per series (or group) for which it holds:
// labels are the series labels without __name__ (with By, the group labels),
// T is ts and F is $value. Samples are in the order of the series' refs
// (the store's creation order; with By, sorted by group labels: sorting
// every series' labels cost a fifth of an evaluation). If the condition
// failed on some series, the others are still returned together with a
// *RuntimeError wrapping ErrRuntime. A ctx error stops the evaluation.
func (c *Condition) Eval(ctx context.Context, r Reader, ts time.Time) (promql.Vector, error) {
	t := ts.UnixMilli()
	// The slide cache, if this Eval gets it (slide.go).
	var sc *slideCache
	sl, _ := r.(slider)
	if c.slides != nil && sl != nil && c.slides.mu.TryLock() {
		sc = c.slides
		defer sc.mu.Unlock()
	}
	var refs []uint64
	if sc != nil {
		refs = sc.postings(r, c.matchers)
	} else {
		refs = r.Postings(nil, c.matchers...)
	}
	nw := min(c.opts.Workers, (len(refs)+batchSize-1)/batchSize)
	nw = max(nw, 1)
	workers := make([]*worker, nw)
	for i := range workers {
		workers[i] = c.pool.Get().(*worker)
		workers[i].reset()
	}
	defer func() {
		for _, w := range workers {
			c.pool.Put(w)
		}
	}()
	rd := reader{r: r, sl: sl, sc: sc}
	if sc != nil {
		rd.pf, _ = r.(prefetcher)
	}
	var next atomic.Int64
	run := func(w *worker) {
		for ctx.Err() == nil {
			lo := int(next.Add(batchSize)) - batchSize
			if lo >= len(refs) {
				return
			}
			from := len(w.out)
			w.runBatch(rd, refs, lo, min(lo+batchSize, len(refs)), t)
			if len(c.by) == 0 {
				w.batches = append(w.batches, batchOut{lo: lo, from: from, to: len(w.out)})
			}
		}
	}
	if nw == 1 {
		run(workers[0])
	} else {
		var wg sync.WaitGroup
		for _, w := range workers {
			wg.Go(func() { run(w) })
		}
		wg.Wait()
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	c.evaluated.Add(uint64(len(refs)))
	var out promql.Vector
	if len(c.by) > 0 {
		out = workers[0].evalGroups(workers, t)
		slices.SortFunc(out, func(a, b promql.Sample) int { return labels.Compare(a.Metric, b.Metric) })
	} else {
		out = mergeBatches(workers)
	}
	var rerr *RuntimeError
	for _, w := range workers {
		if w.failures > 0 {
			if rerr == nil {
				rerr = &RuntimeError{First: w.first}
			}
			rerr.Failures += w.failures
		}
	}
	if rerr != nil {
		c.failures.Add(uint64(rerr.Failures))
		return out, rerr
	}
	return out, nil
}

// batchOut is where one batch's results are in its worker's out.
type batchOut struct {
	lo       int // the batch's first index in the Eval's refs
	from, to int // w.out[from:to]
}

// mergeBatches concatenates the workers' results in the order of their
// batches, which is the order of the refs.
func mergeBatches(workers []*worker) promql.Vector {
	if len(workers) == 1 {
		return slices.Clone(workers[0].out)
	}
	type part struct {
		batchOut
		w *worker
	}
	var parts []part
	n := 0
	for _, w := range workers {
		for _, b := range w.batches {
			parts = append(parts, part{b, w})
			n += b.to - b.from
		}
	}
	slices.SortFunc(parts, func(a, b part) int { return a.lo - b.lo })
	out := make(promql.Vector, 0, n)
	for _, p := range parts {
		out = append(out, p.w.out[p.from:p.to]...)
	}
	return out
}

// reader is how one Eval reads series: with the slide cache sc (then sl
// is r's Slide) or, if sc is nil, with ReadRanges only.
type reader struct {
	r  Reader
	sl slider
	sc *slideCache
	pf prefetcher // with sc only
}

// setTime sets the clusters' absolute ranges for evaluation time ts.
func (w *worker) setTime(ts int64) {
	for i, cl := range w.c.clusters {
		w.rs[i] = tsdb.Range{Mint: ts + cl.start + 1, Maxt: ts + cl.end}
	}
	for k, i := range w.c.slid {
		w.srs[k] = w.rs[i]
	}
	for k, i := range w.c.unslid {
		w.urs[k] = w.rs[i]
	}
	for k, i := range w.c.tallied {
		w.trs[k] = w.rs[i]
	}
}

// runBatch evaluates refs[lo:hi]; a panic skips the series that caused it.
func (w *worker) runBatch(rd reader, refs []uint64, lo, hi int, ts int64) {
	w.setTime(ts)
	for i := lo; i < hi; {
		i = w.runFrom(rd, refs, i, hi, ts)
	}
}

func (w *worker) runFrom(rd reader, refs []uint64, i, hi int, ts int64) (next int) {
	defer func() {
		if p := recover(); p != nil {
			w.fail(fmt.Sprintf("panic: %v", p))
			next = i + 1
		}
	}()
	if rd.pf == nil {
		for ; i < hi; i++ {
			w.evalSeries(rd, refs[i], i, ts)
		}
		return i
	}
	for ; i < hi; i++ {
		// Start loading what the series a few places ahead will read, so
		// that its cache misses overlap with this series' work.
		if j := i + prefetchAhead; j < hi {
			rd.pf.Prefetch(refs[j])
			tsdb.PrefetchTallies(rd.sc.tallies(j))
		}
		if j := i + prefetchAhead/2; j < hi {
			ws, tls := rd.sc.windows(j), rd.sc.tallies(j)
			for k := range ws {
				ws[k].Prefetch()
			}
			for k := range tls {
				tls[k].Prefetch()
			}
		}
		w.evalSeries(rd, refs[i], i, ts)
	}
	return i
}

// prefetchAhead is how many series ahead runFrom prefetches a series'
// header (half as far for its windows' samples).
const prefetchAhead = 16

// prefetcher is implemented by Readers that can start loading a series
// before it is read (*tsdb.DB).
type prefetcher interface {
	Prefetch(ref uint64)
}

// read loads series ref (at index i of the Eval's refs) into w.cts and
// w.cvs and returns its labels, or false if it is gone.
func (w *worker) read(rd reader, ref uint64, i int) (labels.Labels, bool) {
	c := w.c
	if rd.sc == nil {
		lset, ok := rd.r.ReadRanges(ref, w.rs, &w.smp)
		if ok {
			for k := range c.clusters {
				w.cts[k], w.cvs[k] = w.smp.Range(k)
			}
		}
		return lset, ok
	}
	ws, tls := rd.sc.windows(i), rd.sc.tallies(i)
	lset, ok := rd.sl.Slide(ref, w.srs, ws, w.trs, tls, &w.lb)
	if !ok {
		return lset, false
	}
	for k, ci := range c.slid {
		w.cts[ci], w.cvs[ci] = ws[k].Samples()
	}
	if len(c.unslid) > 0 {
		if _, ok = rd.r.ReadRanges(ref, w.urs, &w.smp); !ok {
			return lset, false
		}
		for k, ci := range c.unslid {
			w.cts[ci], w.cvs[ci] = w.smp.Range(k)
		}
	}
	if len(c.tallied) > 0 {
		return lset, w.useTallies(rd, ref, tls)
	}
	return lset, true
}

// useTallies points w.tl at the tallies from which the slots can be
// computed and reads the samples of the other tallied clusters (a stale
// marker or, for rate and increase, a counter reset in the window). It
// returns false if the series is gone.
func (w *worker) useTallies(rd reader, ref uint64, tls []tsdb.Tally) bool {
	c := w.c
	w.nrs, w.nci = w.nrs[:0], w.nci[:0]
	for k, ci := range c.tallied {
		tl, wi := &tls[k], c.clusters[ci].first
		if tl.Exact() && (c.windows[wi].instant || tl.Stale() == 0) && (tl.Resets() == 0 || !c.resetsIn[wi]) {
			w.tl[wi] = tl
			continue
		}
		w.tl[wi] = nil
		w.nrs, w.nci = append(w.nrs, w.rs[ci]), append(w.nci, ci)
	}
	if len(w.nrs) == 0 {
		return true
	}
	if _, ok := rd.r.ReadRanges(ref, w.nrs, &w.nsmp); !ok {
		return false
	}
	for k, ci := range w.nci {
		w.cts[ci], w.cvs[ci] = w.nsmp.Range(k)
	}
	return true
}

func (w *worker) fail(msg string) {
	if w.failures == 0 {
		w.first = msg
	}
	w.failures++
}

// evalSeries loads one series' slots and runs the condition on it, or adds
// it to its group. w's ranges must be set for ts.
func (w *worker) evalSeries(rd reader, ref uint64, i int, ts int64) {
	c := w.c
	lset, ok := w.read(rd, ref, i)
	if !ok {
		return
	}
	w.loadSlots(ts)
	if len(c.by) > 0 {
		var hp *uint64
		if rd.sc != nil {
			hp = rd.sc.groupHash(i)
		}
		w.accumulate(lset, hp)
		return
	}
	w.env.lset = lset
	holds, v, ok := w.run()
	if ok && holds {
		// lset aliases the read buffers (tsdb.LabelsBuf): copy what is kept.
		w.out = append(w.out, promql.Sample{Metric: lset.DropMetricName().Copy(), T: ts, F: v})
	}
}

// run evaluates the condition and, if it holds, $value on w.env.
func (w *worker) run() (holds bool, v float64, ok bool) {
	c := w.c
	if c.when.fastB != nil {
		holds = c.when.fastB(&w.env)
	} else {
		res, err := w.vm.Run(c.when.prog, &w.env)
		if err != nil {
			w.fail(err.Error())
			return false, 0, false
		}
		holds, _ = res.(bool)
	}
	if !holds {
		return false, 0, true
	}
	if c.value.fastF != nil {
		return true, c.value.fastF(&w.env), true
	}
	res, err := w.vm.Run(c.value.prog, &w.env)
	if err != nil {
		w.fail(err.Error())
		return false, 0, false
	}
	return true, toFloat(res), true
}

// loadSlots cuts the series' windows out of w.cts and w.cvs, its samples
// per cluster, and computes every slot.
func (w *worker) loadSlots(ts int64) {
	c := w.c
	w.fts, w.fvs = w.fts[:0], w.fvs[:0]
	for i, cl := range c.clusters {
		if w.tl[cl.first] != nil {
			continue // computed from its tally
		}
		cts, cvs := w.cts[i], w.cvs[i]
		stale := false
		for _, v := range cvs {
			stale = stale || value.IsStaleNaN(v)
		}
		for wi := cl.first; wi < cl.last; wi++ {
			w.window(wi, ts, cts, cvs, stale, cl.last-cl.first == 1)
		}
	}
	for k, s := range c.slots {
		win := c.windows[s.win]
		tsw, vsw := w.wts[s.win], w.wvs[s.win]
		var v float64
		var ok bool
		if tl := w.tl[s.win]; tl != nil {
			start, end := c.bounds(win)
			v, ok = tallyFunc(s, win.instant, tl, ts+start, ts+end)
		} else if win.instant {
			switch {
			case s.fn == fnAbsent:
				v, ok = 0, true
				if len(tsw) == 0 {
					v = 1
				}
			case len(tsw) > 0:
				v, ok = vsw[0], true
			}
		} else {
			start, end := c.bounds(win)
			v, ok = rangeFunc(s, tsw, vsw, ts+start, ts+end, &w.qbuf)
		}
		if !ok {
			v = nan
		}
		w.env.vals[k], w.has[k] = v, ok
	}
}

// window cuts window wi out of its cluster's samples cts/cvs (all of them
// if whole: the window is the cluster): for a range, its samples without
// stale markers; for an instant window, the latest sample unless it is a
// stale marker.
func (w *worker) window(wi int, ts int64, cts []int64, cvs []float64, stale, whole bool) {
	c := w.c
	win := c.windows[wi]
	tsw, vsw := cts, cvs
	if !whole {
		start, end := c.bounds(win)
		start, end = ts+start, ts+end
		lo, _ := slices.BinarySearch(cts, start+1)
		hi, found := slices.BinarySearch(cts, end)
		if found {
			hi++
		}
		tsw, vsw = cts[lo:hi], cvs[lo:hi]
	}
	switch {
	case win.instant:
		if n := len(tsw); n > 0 && !value.IsStaleNaN(vsw[n-1]) {
			tsw, vsw = tsw[n-1:], vsw[n-1:]
		} else {
			tsw, vsw = nil, nil
		}
	case stale:
		f := len(w.fts)
		for i, v := range vsw {
			if !value.IsStaleNaN(v) {
				w.fts, w.fvs = append(w.fts, tsw[i]), append(w.fvs, v)
			}
		}
		tsw, vsw = w.fts[f:], w.fvs[f:]
	}
	w.wts[wi], w.wvs[wi] = tsw, vsw
}

// accumulate adds the series' slot values to its group's sums. hp, if not
// nil, caches the hash of the series' group labels between evaluations (0:
// not known yet), so that a known series' labels are not read.
func (w *worker) accumulate(lset labels.Labels, hp *uint64) {
	c := w.c
	var h uint64
	if hp != nil {
		h = *hp
	}
	if h == 0 {
		h, w.hbuf = lset.HashForLabels(w.hbuf[:0], c.by...)
		if hp != nil {
			*hp = h
		}
	}
	g := w.last
	if g == nil || g.hash != h {
		if g = w.groups[h]; g == nil {
			// Copy: the builder returns lset itself when it keeps every
			// label, and lset aliases the read buffers (tsdb.LabelsBuf).
			g = newGroup(labels.NewBuilder(lset).Keep(c.by...).Labels().Copy(), h, len(c.slots))
			w.groups[h] = g
		}
		w.last = g
	}
	for k, s := range c.slots {
		if !w.has[k] {
			continue
		}
		if s.fn == fnAbsent {
			// Holds for the group only if it holds for every series.
			if !g.has[k] {
				g.sum[k] = 1
			}
			g.sum[k] = min(g.sum[k], w.env.vals[k])
		} else {
			g.sum[k], g.comp[k] = kahansum.Inc(w.env.vals[k], g.sum[k], g.comp[k])
		}
		g.has[k] = true
	}
}

func newGroup(lset labels.Labels, hash uint64, n int) *group {
	return &group{lset: lset, hash: hash, sum: make([]float64, n), comp: make([]float64, n), has: make([]bool, n)}
}

// evalGroups merges the workers' groups and runs the condition per group
// on w.
func (w *worker) evalGroups(workers []*worker, ts int64) promql.Vector {
	c := w.c
	merged := map[uint64]*group{}
	var all []*group
	for _, wk := range workers {
		for h, g := range wk.groups {
			m := merged[h]
			if m == nil {
				m = newGroup(g.lset, h, len(c.slots))
				merged[h] = m
				all = append(all, m)
			}
			for k, s := range c.slots {
				if !g.has[k] {
					continue
				}
				switch {
				case s.fn == fnAbsent && m.has[k]:
					m.sum[k] = min(m.sum[k], g.sum[k])
				case s.fn == fnAbsent:
					m.sum[k] = g.sum[k]
				default:
					m.sum[k], m.comp[k] = kahansum.Inc(g.sum[k], m.sum[k], m.comp[k])
					m.comp[k] += g.comp[k]
				}
				m.has[k] = true
			}
		}
	}
	var out promql.Vector
	for _, g := range all {
		for k := range c.slots {
			switch {
			case !g.has[k]:
				w.env.vals[k] = nan
			case math.IsInf(g.sum[k], 0):
				w.env.vals[k] = g.sum[k]
			default:
				w.env.vals[k] = g.sum[k] + g.comp[k]
			}
		}
		w.env.lset = g.lset
		if holds, v, ok := w.runGroup(); ok && holds {
			out = append(out, promql.Sample{Metric: g.lset, T: ts, F: v})
		}
	}
	return out
}

// runGroup is run with panics turned into failures.
func (w *worker) runGroup() (holds bool, v float64, ok bool) {
	defer func() {
		if p := recover(); p != nil {
			w.fail(fmt.Sprintf("panic: %v", p))
			holds, ok = false, false
		}
	}()
	return w.run()
}
