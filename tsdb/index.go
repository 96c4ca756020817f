package tsdb

import (
	"math/bits"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/prometheus/prometheus/model/labels"
)

// postingsIndex is the inverted index: label name -> value -> ascending
// series refs. Series creation and GC take the write lock; the append hot
// path never touches it.
type postingsIndex struct {
	mu sync.RWMutex
	m  map[string]map[string][]uint64
	// all appends every ref, ascending, to dst: the series store's ref
	// table, which lists them already, so that the index does not keep a
	// list of all refs (8–16 bytes a series) for the rare query with no
	// positive matcher.
	all func(dst []uint64) []uint64
	// canonical returns the series store's copy of a label name or value
	// (symbols.go), which the index keys share instead of pinning the
	// label string of the series that brought them.
	canonical func(string) string
	version   atomic.Uint64 // bumped by every add and remove, under mu
}

func newPostingsIndex(all func(dst []uint64) []uint64, canonical func(string) string) *postingsIndex {
	if canonical == nil {
		canonical = func(s string) string { return s }
	}
	return &postingsIndex{m: map[string]map[string][]uint64{}, all: all, canonical: canonical}
}

// insertSorted adds ref to an ascending list. Refs are allocated in
// increasing order, so this is nearly always an append.
func insertSorted(list []uint64, ref uint64) []uint64 {
	list = append(list, ref)
	for i := len(list) - 1; i > 0 && list[i-1] > list[i]; i-- {
		list[i-1], list[i] = list[i], list[i-1]
	}
	return list
}

func removeSorted(list []uint64, ref uint64) []uint64 {
	i, ok := slices.BinarySearch(list, ref)
	if !ok {
		return list
	}
	return append(list[:i], list[i+1:]...)
}

func (ix *postingsIndex) add(ref uint64, lset labels.Labels) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	ix.version.Add(1)
	lset.Range(func(l labels.Label) {
		vals := ix.m[l.Name]
		if vals == nil {
			vals = map[string][]uint64{}
			ix.m[ix.canonical(l.Name)] = vals
		}
		if list, ok := vals[l.Value]; ok {
			vals[l.Value] = insertSorted(list, ref)
		} else {
			vals[ix.canonical(l.Value)] = []uint64{ref}
		}
	})
}

func (ix *postingsIndex) remove(ref uint64, lset labels.Labels) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	ix.version.Add(1)
	lset.Range(func(l labels.Label) {
		vals := ix.m[l.Name]
		if vals == nil {
			return
		}
		list := removeSorted(vals[l.Value], ref)
		if len(list) == 0 {
			delete(vals, l.Value)
			if len(vals) == 0 {
				delete(ix.m, l.Name)
			}
			return
		}
		vals[l.Value] = list
	})
}

// removeAll removes the series refs (ascending), whose label sets are
// lsets, in one pass over each posting list they are in. Removing them one
// by one (remove) moves the tail of every list once per series: in a store
// of millions of series, where a label such as job is on every series, a GC
// of many series took quadratic time holding the write lock that series
// creation waits for.
func (ix *postingsIndex) removeAll(refs []uint64, lsets []labels.Labels) {
	if len(refs) == 0 {
		return
	}
	touched := map[string]map[string]bool{}
	for _, lset := range lsets {
		lset.Range(func(l labels.Label) {
			vs := touched[l.Name]
			if vs == nil {
				vs = map[string]bool{}
				touched[l.Name] = vs
			}
			vs[l.Value] = true
		})
	}
	ix.mu.Lock()
	defer ix.mu.Unlock()
	ix.version.Add(1)
	for name, vs := range touched {
		vals := ix.m[name]
		if vals == nil {
			continue
		}
		for v := range vs {
			if list := dropSorted(vals[v], refs); len(list) > 0 {
				vals[v] = list
			} else {
				delete(vals, v)
			}
		}
		if len(vals) == 0 {
			delete(ix.m, name)
		}
	}
}

// dropSorted removes from the ascending list every ref of the ascending
// refs, in place, in one pass.
func dropSorted(list, refs []uint64) []uint64 {
	out, j := list[:0], 0
	for _, r := range list {
		for j < len(refs) && refs[j] < r {
			j++
		}
		if j < len(refs) && refs[j] == r {
			continue
		}
		out = append(out, r)
	}
	clear(list[len(out):])
	return out
}

// postings appends to dst the ascending refs of series matching all
// matchers, with Prometheus semantics: a matcher that matches the empty
// string also matches series that lack the label.
func (ix *postingsIndex) postings(dst []uint64, ms ...*labels.Matcher) []uint64 {
	ix.mu.RLock()
	defer ix.mu.RUnlock()

	var include, exclude [][]uint64
	for _, m := range ms {
		vals := ix.m[m.Name]
		if m.Matches("") {
			// Everything except series whose value for the label does not match.
			if m.Type == labels.MatchNotEqual {
				if l := vals[m.Value]; len(l) > 0 {
					exclude = append(exclude, l)
				}
				continue
			}
			var lists [][]uint64
			for v, l := range vals {
				if !m.Matches(v) {
					lists = append(lists, l)
				}
			}
			if u := unionDisjoint(lists); len(u) > 0 {
				exclude = append(exclude, u)
			}
			continue
		}
		var list []uint64
		switch m.Type {
		case labels.MatchEqual:
			list = vals[m.Value]
		default:
			var lists [][]uint64
			if set := m.SetMatches(); len(set) > 0 {
				for _, v := range set {
					if l, ok := vals[v]; ok {
						lists = append(lists, l)
					}
				}
			} else {
				for v, l := range vals {
					if m.Matches(v) {
						lists = append(lists, l)
					}
				}
			}
			list = unionDisjoint(lists)
		}
		if len(list) == 0 {
			return dst
		}
		include = append(include, list)
	}
	start := len(dst)
	if len(include) == 0 {
		dst = ix.all(dst)
	} else {
		// Intersect, smallest list first.
		slices.SortFunc(include, func(a, b []uint64) int { return len(a) - len(b) })
		dst = append(dst, include[0]...)
		for _, l := range include[1:] {
			dst = dst[:start+intersectInPlace(dst[start:], l)]
		}
	}
	for _, l := range exclude {
		dst = dst[:start+subtractInPlace(dst[start:], l)]
	}
	return dst
}

// unionDisjoint merges ascending lists known to share no element (lists of
// different values of one label name): pairwise, in rounds, so k lists of n
// refs in all cost n·log2(k) instead of a sort's n·log2(n).
func unionDisjoint(lists [][]uint64) []uint64 {
	switch len(lists) {
	case 0:
		return nil
	case 1:
		return lists[0]
	}
	n := 0
	for _, l := range lists {
		n += len(l)
	}
	// Each round merges neighbouring lists into the other buffer than the
	// previous round's; the last round writes out.
	rounds := bits.Len(uint(len(lists) - 1))
	out := make([]uint64, n)
	dst, other := out, []uint64(nil)
	if rounds > 1 {
		other = make([]uint64, n)
		if rounds%2 == 0 {
			dst, other = other, dst
		}
	}
	cur := append([][]uint64(nil), lists...)
	for len(cur) > 1 {
		next := make([][]uint64, 0, (len(cur)+1)/2)
		off := 0
		for i := 0; i < len(cur); i += 2 {
			m := copy(dst[off:], cur[i])
			if i+1 < len(cur) {
				m = mergeInto(dst[off:], cur[i], cur[i+1])
			}
			next = append(next, dst[off:off+m])
			off += m
		}
		cur, dst, other = next, other, dst
	}
	return cur[0]
}

// mergeInto merges ascending a and b into dst and returns the count.
func mergeInto(dst, a, b []uint64) int {
	i, j, k := 0, 0, 0
	for i < len(a) && j < len(b) {
		if a[i] < b[j] {
			dst[k] = a[i]
			i++
		} else {
			dst[k] = b[j]
			j++
		}
		k++
	}
	k += copy(dst[k:], a[i:])
	k += copy(dst[k:], b[j:])
	return k
}

// intersectInPlace keeps in a the elements also in b; both ascending.
func intersectInPlace(a, b []uint64) int {
	n, j := 0, 0
	for _, x := range a {
		for j < len(b) && b[j] < x {
			j++
		}
		if j == len(b) {
			break
		}
		if b[j] == x {
			a[n] = x
			n++
		}
	}
	return n
}

// subtractInPlace removes from a the elements in b; both ascending.
func subtractInPlace(a, b []uint64) int {
	n, j := 0, 0
	for _, x := range a {
		for j < len(b) && b[j] < x {
			j++
		}
		if j < len(b) && b[j] == x {
			continue
		}
		a[n] = x
		n++
	}
	return n
}

// labelNames returns all label names, sorted.
func (ix *postingsIndex) labelNames() []string {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	names := make([]string, 0, len(ix.m))
	for n := range ix.m {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// labelValues returns all values of name, sorted.
func (ix *postingsIndex) labelValues(name string) []string {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	vals := make([]string, 0, len(ix.m[name]))
	for v := range ix.m[name] {
		vals = append(vals, v)
	}
	slices.Sort(vals)
	return vals
}
