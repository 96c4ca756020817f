package tsdb

import (
	"cmp"
	"container/heap"
	"context"
	"errors"
	"fmt"
	"math"
	"slices"

	"github.com/prometheus/prometheus/model/labels"
)

// MaxCardinalityLimit is the largest top-N CardinalityStats computes.
const MaxCardinalityLimit = 10000

// Stat is one entry of a cardinality top list: a metric name, a label name
// or a "name=value" pair, and its count.
type Stat struct {
	Name  string
	Count uint64
}

// CardinalityStats is what Prometheus's /api/v1/status/tsdb reports of its
// head block, computed from the postings index.
type CardinalityStats struct {
	NumSeries     uint64
	NumLabelPairs int   // distinct name=value pairs
	ChunkCount    int64 // chunks, including each series' open chunk
	// MinTime and MaxTime bound the samples held, in milliseconds;
	// math.MaxInt64 and math.MinInt64 when the store is empty.
	MinTime, MaxTime int64
	// The top lists, largest first, at most limit entries each.
	SeriesCountByMetricName     []Stat // series per __name__ value
	LabelValueCountByLabelName  []Stat // distinct values per label name
	MemoryInBytesByLabelName    []Stat // bytes of values per label name, each value once per series
	SeriesCountByLabelValuePair []Stat // series per name=value pair
}

// CardinalityStats returns the store's cardinality: counts and the limit
// (1 to MaxCardinalityLimit; other values are clamped) largest entries of
// each top list. It reads the postings index under its read lock, once,
// keeping only limit entries per list (no copy of the series or the index),
// then reads each series' time bounds under its own lock.
func (db *DB) CardinalityStats(limit int) CardinalityStats {
	limit = min(max(limit, 1), MaxCardinalityLimit)
	var (
		metrics, names, memory = newTopN(limit), newTopN(limit), newTopN(limit)
		pairs                  = newTopN(limit)
		numPairs               int
	)
	ix := db.index
	ix.mu.RLock()
	for name, vals := range ix.m {
		numPairs += len(vals)
		names.offer(name, "", uint64(len(vals)))
		var bytes uint64
		for v, refs := range vals {
			n := uint64(len(refs))
			bytes += uint64(len(v)) * n
			pairs.offer(name, v, n)
			if name == labels.MetricName {
				metrics.offer(v, "", n)
			}
		}
		memory.offer(name, "", bytes)
	}
	ix.mu.RUnlock()

	st := CardinalityStats{
		NumSeries:                   uint64(max(db.stats.series.Load(), 0)),
		NumLabelPairs:               numPairs,
		ChunkCount:                  db.stats.chunks.Load(),
		SeriesCountByMetricName:     metrics.sorted(false),
		LabelValueCountByLabelName:  names.sorted(false),
		MemoryInBytesByLabelName:    memory.sorted(false),
		SeriesCountByLabelValuePair: pairs.sorted(true),
	}
	st.MinTime, st.MaxTime = db.timeBounds()
	return st
}

// timeBounds returns the oldest and the newest sample time held, walking
// the series (each under its own lock, one at a time).
func (db *DB) timeBounds() (minT, maxT int64) {
	minT, maxT = math.MaxInt64, math.MinInt64
	db.series.forEach(func(s *memSeries) {
		s.mu.Lock()
		first, last := seriesBounds(s)
		s.mu.Unlock()
		minT, maxT = min(minT, first), max(maxT, last)
	})
	return minT, maxT
}

// seriesBounds returns the oldest and the newest sample time of s, float
// or histogram; math.MaxInt64 and math.MinInt64 when it holds none.
// Callers hold s.mu.
func seriesBounds(s *memSeries) (first, last int64) {
	return s.oldestT(), s.newestT()
}

// topEntry is a candidate of a top list; value is non-empty only for
// name=value pairs, whose string is built only for the winners.
type topEntry struct {
	name, value string
	count       uint64
}

// less orders entries by count, then (so that the lists are stable) by
// name and value, the larger name losing.
func (a topEntry) less(b topEntry) bool {
	if a.count != b.count {
		return a.count < b.count
	}
	if c := cmp.Compare(a.name, b.name); c != 0 {
		return c > 0
	}
	return a.value > b.value
}

// topN keeps the n largest entries offered in a min-heap.
type topN struct {
	n int
	h topHeap
}

func newTopN(n int) *topN { return &topN{n: n} }

func (t *topN) offer(name, value string, count uint64) {
	e := topEntry{name, value, count}
	if len(t.h) < t.n {
		heap.Push(&t.h, e)
		return
	}
	if t.h[0].less(e) {
		t.h[0] = e
		heap.Fix(&t.h, 0)
	}
}

// sorted returns the entries largest first; pairs names them "name=value".
func (t *topN) sorted(pairs bool) []Stat {
	es := slices.Clone(t.h)
	slices.SortFunc(es, func(a, b topEntry) int {
		switch {
		case b.less(a):
			return -1
		case a.less(b):
			return 1
		}
		return 0
	})
	out := make([]Stat, len(es))
	for i, e := range es {
		out[i] = Stat{Name: e.name, Count: e.count}
		if pairs {
			out[i].Name = e.name + "=" + e.value
		}
	}
	return out
}

type topHeap []topEntry

func (h topHeap) Len() int           { return len(h) }
func (h topHeap) Less(i, j int) bool { return h[i].less(h[j]) }
func (h topHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *topHeap) Push(x any)        { *h = append(*h, x.(topEntry)) }
func (h *topHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	*h = old[:len(old)-1]
	return e
}

// ErrPartialDelete is returned by DeleteSeries for matched series that
// also hold samples outside the time range: the store deletes whole
// series only.
var ErrPartialDelete = errors.New("the in-memory store deletes whole series only")

// DeleteSeries removes the series matching all of ms whose samples all lie
// within [mint, maxt] (milliseconds), and returns how many it removed. A
// matched series with samples outside the range is kept, and the error
// wraps ErrPartialDelete with their count. Samples appended to a series
// after its removal create it anew. The removal is kept by the next
// snapshot.
func (db *DB) DeleteSeries(ctx context.Context, mint, maxt int64, ms ...*labels.Matcher) (int, error) {
	refs := db.index.postings(nil, ms...)
	deleted, partial := 0, 0
	// The index drops the deleted series at once, in one pass per list
	// (postingsIndex.removeAll), also when ctx ends the loop; refs come
	// ascending from the postings, so gone is ascending too.
	var gone []uint64
	var goneSets []labels.Labels
	defer func() { db.index.removeAll(gone, goneSets) }()
	for i, ref := range refs {
		if i%1024 == 0 {
			if err := ctx.Err(); err != nil {
				return deleted, fmt.Errorf("delete series: %w", err)
			}
		}
		s := db.series.getByRef(ref)
		if s == nil {
			continue
		}
		var left footprint
		inside, seen := false, false
		if lset, ok := db.series.removeIf(s, func(s *memSeries) bool {
			seen = true
			first, last := seriesBounds(s)
			inside = first > last || (first >= mint && last <= maxt)
			if inside {
				left = s.footprint()
				s.dropSealed(&db.slab)
			}
			return inside
		}); ok {
			gone, goneSets = append(gone, s.ref), append(goneSets, lset)
			db.stats.series.Add(-1)
			db.stats.add(left, true)
			deleted++
		} else if seen && !inside {
			partial++
		}
	}
	if partial > 0 {
		return deleted, fmt.Errorf("delete series: %w: %d matching series have samples outside the time range (widen it, or leave start and end out)",
			ErrPartialDelete, partial)
	}
	return deleted, nil
}
