package tsdb

import (
	"encoding/binary"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/prometheus/prometheus/model/labels"
)

// Series label sets are stored compactly: every distinct label name and
// value is kept once, in a store-wide symbol table, and a series keeps its
// labels as a short string of symbol ids (uvarints, name then value, in
// label order): 10–20 bytes for a node_exporter series instead of the ~120
// of its label string. Labels are materialized (one allocation) when read.
//
// Symbols are reference-counted by the series that use them: removing a
// series releases its symbols, and an id whose count drops to zero is
// reused, so churning values (pod names) do not accumulate.
//
// Reads take no lock: a reader only looks up the ids of a series that is
// not removed (under the hash stripe's lock or memSeries.mu), whose symbols
// are in use and so neither freed nor rewritten; the strings are in pages
// under a directory replaced atomically when it grows. Writers (series
// creation and removal) hold symbolTable.mu. Lock order: a hash stripe or
// memSeries.mu, then the postings index, then symbolTable.mu; nothing is
// locked while holding symbolTable.mu.
type symbolTable struct {
	mu    sync.Mutex
	ids   map[string]uint32
	pages atomic.Pointer[[]*symPage] // strings by id; "" for a free id
	n     uint32                     // ids handed out
	refs  []uint32                   // by id: how many uses by series (a label may use one twice)
	free  []uint32
}

// Symbol pages hold symPageSize strings each.
const (
	symPageBits = 10
	symPageSize = 1 << symPageBits
)

type symPage [symPageSize]string

func newSymbolTable() *symbolTable {
	return &symbolTable{ids: map[string]uint32{}}
}

// str returns symbol id, which must be in use.
func (t *symbolTable) str(id uint32) string {
	return symAt(t.dir(), id)
}

// dir returns the page directory (nil before the first symbol).
func (t *symbolTable) dir() []*symPage {
	if d := t.pages.Load(); d != nil {
		return *d
	}
	return nil
}

// setLocked writes symbol id, adding a page if needed. Callers hold t.mu.
func (t *symbolTable) setLocked(id uint32, s string) {
	var dir []*symPage
	if d := t.pages.Load(); d != nil {
		dir = *d
	}
	if i := int(id >> symPageBits); i >= len(dir) {
		nd := append(dir[:len(dir):len(dir)], new(symPage))
		t.pages.Store(&nd)
		dir = nd
	}
	dir[id>>symPageBits][id&(symPageSize-1)] = s
}

// maxStackLabels is how many labels materialize builds without a heap
// allocation besides the label string.
const maxStackLabels = 32

// encode interns the names and values of lset and returns their ids as the
// series' compact label set.
func (t *symbolTable) encode(lset labels.Labels) string {
	var stack [2 * binary.MaxVarintLen32 * 8]byte
	buf := stack[:0]
	t.mu.Lock()
	lset.Range(func(l labels.Label) {
		buf = binary.AppendUvarint(buf, uint64(t.internLocked(l.Name)))
		buf = binary.AppendUvarint(buf, uint64(t.internLocked(l.Value)))
	})
	t.mu.Unlock()
	return string(buf)
}

// internLocked returns the id of s, adding it (a copy, so that it pins no
// larger string) if new, and counts one more use.
func (t *symbolTable) internLocked(s string) uint32 {
	id, ok := t.ids[s]
	if !ok {
		s = strings.Clone(s)
		if n := len(t.free); n > 0 {
			id, t.free = t.free[n-1], t.free[:n-1]
		} else {
			id = t.n
			t.n++
			t.refs = append(t.refs, 0)
		}
		t.setLocked(id, s)
		t.ids[s] = id
	}
	t.refs[id]++
	return id
}

// release drops one use of every symbol of the compact label set syms.
func (t *symbolTable) release(syms string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for i := 0; i < len(syms); {
		id, n := uvarint32(syms, i)
		i += n
		if t.refs[id]--; t.refs[id] == 0 {
			delete(t.ids, t.str(id))
			t.setLocked(id, "")
			t.free = append(t.free, id)
		}
	}
}

// canonical returns the table's copy of s if it has one, else s.
func (t *symbolTable) canonical(s string) string {
	t.mu.Lock()
	defer t.mu.Unlock()
	if id, ok := t.ids[s]; ok {
		return t.str(id)
	}
	return s
}

// len returns the number of symbols in use.
func (t *symbolTable) len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.ids)
}

// idCount returns the number of ids handed out, in use or free.
func (t *symbolTable) idCount() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return int(t.n)
}

// labels materializes the compact label set syms, whose symbols must not
// have been released: one allocation (the label string) for up to
// maxStackLabels labels.
func (t *symbolTable) labels(syms string) labels.Labels {
	if syms == "" {
		return labels.EmptyLabels()
	}
	var stack [maxStackLabels]labels.Label
	ls := stack[:0]
	dir := t.dir()
	for i := 0; i < len(syms); {
		nid, n := uvarint32(syms, i)
		i += n
		vid, n := uvarint32(syms, i)
		i += n
		ls = append(ls, labels.Label{Name: symAt(dir, nid), Value: symAt(dir, vid)})
	}
	return labels.New(ls...)
}

// equal reports whether the compact label set syms is lset, without
// allocating.
func (t *symbolTable) equal(syms string, lset labels.Labels) bool {
	dir := t.dir()
	i, eq := 0, true
	lset.Range(func(l labels.Label) {
		if !eq {
			return
		}
		if i >= len(syms) {
			eq = false
			return
		}
		nid, n := uvarint32(syms, i)
		i += n
		vid, n := uvarint32(syms, i)
		i += n
		eq = symAt(dir, nid) == l.Name && symAt(dir, vid) == l.Value
	})
	return eq && i == len(syms)
}

// symAt returns symbol id of the page directory dir.
func symAt(dir []*symPage, id uint32) string {
	return dir[id>>symPageBits][id&(symPageSize-1)]
}

// uvarint32 decodes the id at syms[i:] and returns it and its length.
func uvarint32(syms string, i int) (uint32, int) {
	var x uint32
	var s uint
	for n := 0; ; n++ {
		b := syms[i+n]
		if b < 0x80 {
			return x | uint32(b)<<s, n + 1
		}
		x |= uint32(b&0x7f) << s
		s += 7
	}
}

// appendPlain appends lset to dst in the self-contained form a removed
// series keeps (plainLabels): uvarint length and bytes of each name and
// value.
func appendPlain(dst []byte, lset labels.Labels) []byte {
	lset.Range(func(l labels.Label) {
		dst = binary.AppendUvarint(dst, uint64(len(l.Name)))
		dst = append(dst, l.Name...)
		dst = binary.AppendUvarint(dst, uint64(len(l.Value)))
		dst = append(dst, l.Value...)
	})
	return dst
}

// plainLabels decodes what appendPlain wrote.
func plainLabels(plain string) labels.Labels {
	var stack [maxStackLabels]labels.Label
	ls := stack[:0]
	next := func(i int) (string, int) {
		n, k := binary.Uvarint([]byte(plain[i:min(len(plain), i+binary.MaxVarintLen64)]))
		i += k
		return plain[i : i+int(n)], i + int(n)
	}
	for i := 0; i < len(plain); {
		var name, value string
		name, i = next(i)
		value, i = next(i)
		ls = append(ls, labels.Label{Name: name, Value: value})
	}
	return labels.New(ls...)
}

// LabelsBuf is a reusable destination for the labels of series read with
// the low-level read API (read.go), so that reading them allocates nothing
// once it has grown. Labels read into it alias it: they stay valid only
// until the next read into the same LabelsBuf, and a caller that keeps
// them (or strings taken from them) must Copy them. The zero value is
// ready to use.
type LabelsBuf struct {
	sb labels.ScratchBuilder
}

// labelsInto is labels, built in lb (nil: a fresh allocation).
func (t *symbolTable) labelsInto(syms string, lb *LabelsBuf) labels.Labels {
	if lb == nil {
		return t.labels(syms)
	}
	lb.sb.Reset()
	dir := t.dir()
	for i := 0; i < len(syms); {
		nid, n := uvarint32(syms, i)
		i += n
		vid, n := uvarint32(syms, i)
		i += n
		lb.sb.Add(symAt(dir, nid), symAt(dir, vid))
	}
	var ls labels.Labels
	lb.sb.Overwrite(&ls)
	return ls
}
