package scrape

import (
	"github.com/prometheus/prometheus/model/labels"
)

// A cache entry keeps no labels once the store has given its series a ref:
// appends by ref need none, and the store keeps them (compactly, as symbol
// ids), so the entry would otherwise be the only holder of a ~100-byte label
// string per series. They are parsed again from the line being appended
// when they are needed after all: when the ref fails (the store removed the
// series) and the append is retried by labels, for the message of a
// refused sample, and for exemplars. A stale marker for an entry whose ref
// failed is not written: its series is gone from the store.

// cachedLabels returns what a cache entry keeps of lset when the store
// gave its series ref.
func cachedLabels(ref uint64, lset labels.Labels) labels.Labels {
	if ref != 0 {
		return labels.EmptyLabels()
	}
	return lset
}

// lineLabels returns lset or, when it is empty (the entry keeps none), the
// labels of the series appendBody is appending (sl.cur), parsed and
// relabeled again. Outside appendBody's series loop it returns lset.
func (sl *scrapeLoop) lineLabels(lset labels.Labels) labels.Labels {
	if !lset.IsEmpty() || sl.cur == nil {
		return lset
	}
	sl.cur.Labels(&sl.lset)
	out, _ := sl.mutate(sl.lset)
	return out
}
