package tsdb

import (
	"slices"
	"sync"
	"sync/atomic"
)

// ChangeFeed lists the series that got new samples since the last Drain, so
// that a reader that follows the store (package remote) visits those alone
// instead of every series. Commit pushes the refs of the series it
// appended to after the samples are visible; a feed holding more than its
// limit drops its list and reports itself incomplete, and the reader must
// then look at every series once.
type ChangeFeed struct {
	db       *DB
	mu       sync.Mutex
	refs     []uint64
	limit    int
	overflow bool
}

// feeds is the DB's list of change feeds, copied on write.
type feeds struct {
	mu   sync.Mutex
	list atomic.Pointer[[]*ChangeFeed]
}

// NewChangeFeed registers a feed that holds at most limit refs between two
// Drains (at least 1,024). It starts incomplete: the first Drain tells the
// reader to look at every series. Close it when done.
func (db *DB) NewChangeFeed(limit int) *ChangeFeed {
	f := &ChangeFeed{db: db, limit: max(limit, 1024), overflow: true}
	db.feeds.mu.Lock()
	defer db.feeds.mu.Unlock()
	var next []*ChangeFeed
	if cur := db.feeds.list.Load(); cur != nil {
		next = slices.Clone(*cur)
	}
	next = append(next, f)
	db.feeds.list.Store(&next)
	return f
}

// Close unregisters the feed.
func (f *ChangeFeed) Close() {
	db := f.db
	db.feeds.mu.Lock()
	defer db.feeds.mu.Unlock()
	cur := db.feeds.list.Load()
	if cur == nil {
		return
	}
	next := slices.DeleteFunc(slices.Clone(*cur), func(g *ChangeFeed) bool { return g == f })
	if len(next) == 0 {
		db.feeds.list.Store(nil)
		return
	}
	db.feeds.list.Store(&next)
}

// Drain appends to dst the refs of the series committed to since the last
// Drain (a ref may repeat) and empties the feed. complete is false when the
// feed overflowed (or this is the first Drain): then other series may have
// changed too, and the reader must look at all of them.
func (f *ChangeFeed) Drain(dst []uint64) (_ []uint64, complete bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	complete = !f.overflow
	if complete {
		dst = append(dst, f.refs...)
	}
	f.refs, f.overflow = f.refs[:0], false
	return dst, complete
}

func (f *ChangeFeed) push(refs []uint64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.overflow {
		return
	}
	if len(f.refs)+len(refs) > f.limit {
		f.overflow = true
		f.refs = f.refs[:0]
		return
	}
	f.refs = append(f.refs, refs...)
}

// publish hands the refs a Commit appended to to every feed.
func (db *DB) publish(refs []uint64) {
	if len(refs) == 0 {
		return
	}
	if list := db.feeds.list.Load(); list != nil {
		for _, f := range *list {
			f.push(refs)
		}
	}
}
