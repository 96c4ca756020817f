package evaluator

import (
	"slices"
	"sync"
	"time"

	"github.com/prometheus/prometheus/model/labels"

	"github.com/watchdog-sre/watchdog/tsdb"
)

// MaxSlideSpan is the longest cluster of windows (see Options.NoSlide) whose
// samples a Condition keeps decoded between evaluations. Longer windows are
// read afresh at every evaluation, so the cache stays small: at a 15 s
// scrape interval a 10 m cluster holds about 40 samples (640 bytes) per
// series.
const MaxSlideSpan = 10 * time.Minute

// slider is implemented by Readers that can keep a series' windows decoded
// or summarised between evaluations (*tsdb.DB): see tsdb.DB.Slide.
type slider interface {
	Slide(ref uint64, rs []tsdb.Range, ws []tsdb.Window, trs []tsdb.Range, tallies []tsdb.Tally, lb *tsdb.LabelsBuf) (labels.Labels, bool)
}

// slideCache keeps, for every series matched at the previous Eval, the
// decoded samples of the condition's short clusters (one tsdb.Window each)
// and the running summaries of its tallied windows (one tsdb.Tally each),
// so that an Eval a little later than the previous one decodes only the
// samples that arrived in between (and, for a tally, those that left). A
// rule evaluated every 15 s over 15 s scrapes then decodes one or two
// samples per window and series instead of a whole window; windows and
// tallies describe exactly what ReadRanges would return, so results do not
// change.
//
// One Eval at a time uses the cache (mu); a concurrent Eval of the same
// Condition reads without it.
type slideCache struct {
	mu     sync.Mutex
	reader Reader
	refs   []uint64      // series of the last Eval, ascending
	slots  []int32       // refs[i]'s windows are wins[slots[i]*n:][:n]
	wins   []tsdb.Window // n per slot
	tals   []tsdb.Tally  // m per slot
	hashes []uint64      // per slot (one per slot allocated): the hash of the series' by labels, 0 if not known
	free   []int32       // unused slots
	spare  []int32       // the previous slots array, reused by update
	n      int           // windows per series: the slid clusters
	m      int           // tallies per series: the tallied clusters
	// version is the reader's PostingsVersion when refs were looked up
	// (valid if versioned).
	version   uint64
	versioned bool
}

// versioner is implemented by Readers whose postings change only with a
// version number (*tsdb.DB): see tsdb.DB.PostingsVersion.
type versioner interface {
	PostingsVersion() uint64
}

// postings returns the refs of the series matching ms and makes the cache
// hold a slot for each. While r's postings version stays the same, the
// previous Eval's refs are reused without a lookup.
func (sc *slideCache) postings(r Reader, ms []*labels.Matcher) []uint64 {
	vr, ok := r.(versioner)
	if !ok {
		refs := r.Postings(nil, ms...)
		sc.update(r, refs)
		sc.versioned = false
		return refs
	}
	v := vr.PostingsVersion() // before the lookup: a series added meanwhile changes it
	if sc.reader == r && sc.versioned && sc.version == v {
		return sc.refs
	}
	sc.update(r, r.Postings(nil, ms...))
	sc.version, sc.versioned = v, true
	return sc.refs
}

// update makes the cache hold a slot for each of refs (ascending), keeping
// the windows of series already cached and releasing those of series gone
// from the selection. Windows are keyed by series ref, which the store never
// reuses, and belong to one Reader: a new Reader empties the cache.
func (sc *slideCache) update(r Reader, refs []uint64) {
	if sc.reader != r {
		sc.reader, sc.refs, sc.slots, sc.wins, sc.tals, sc.hashes, sc.free = r, nil, nil, nil, nil, nil, nil
		sc.versioned = false
	}
	if slices.Equal(sc.refs, refs) {
		return
	}
	slots := slices.Grow(sc.spare[:0], len(refs))
	i := 0
	for _, ref := range refs {
		for i < len(sc.refs) && sc.refs[i] < ref {
			sc.release(sc.slots[i])
			i++
		}
		if i < len(sc.refs) && sc.refs[i] == ref {
			slots = append(slots, sc.slots[i])
			i++
			continue
		}
		slots = append(slots, sc.alloc())
	}
	for ; i < len(sc.refs); i++ {
		sc.release(sc.slots[i])
	}
	sc.spare, sc.slots = sc.slots, slots
	sc.refs = append(sc.refs[:0], refs...)
}

// windows returns the windows of the series at index i of the refs last
// passed to update.
func (sc *slideCache) windows(i int) []tsdb.Window {
	k := int(sc.slots[i]) * sc.n
	return sc.wins[k : k+sc.n : k+sc.n]
}

// tallies returns the tallies of the series at index i of the refs last
// passed to update.
func (sc *slideCache) tallies(i int) []tsdb.Tally {
	k := int(sc.slots[i]) * sc.m
	return sc.tals[k : k+sc.m : k+sc.m]
}

// groupHash returns where the hash of the by labels of the series at index
// i of the refs last passed to update is cached. Workers write distinct
// entries.
func (sc *slideCache) groupHash(i int) *uint64 {
	return &sc.hashes[sc.slots[i]]
}

func (sc *slideCache) alloc() int32 {
	if n := len(sc.free); n > 0 {
		s := sc.free[n-1]
		sc.free = sc.free[:n-1]
		return s
	}
	s := int32(len(sc.hashes))
	sc.wins = append(sc.wins, make([]tsdb.Window, sc.n)...)
	sc.tals = append(sc.tals, make([]tsdb.Tally, sc.m)...)
	sc.hashes = append(sc.hashes, 0)
	return s
}

// release frees a slot and the memory of its windows.
func (sc *slideCache) release(s int32) {
	clear(sc.wins[int(s)*sc.n:][:sc.n])
	clear(sc.tals[int(s)*sc.m:][:sc.m])
	sc.hashes[s] = 0
	sc.free = append(sc.free, s)
}
