package promtext

import (
	"bytes"
	"hash/maphash"
	"math"
	"runtime"
	"slices"
	"sync"
	"unsafe"
	"weak"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/textparse"
)

// metricTypes are the types a TYPE line sets, indexed by metaMemo.mtype and
// metaMemo.runType (0: none).
var metricTypes = [...]model.MetricType{"", model.MetricTypeCounter, model.MetricTypeGauge,
	model.MetricTypeHistogram, model.MetricTypeSummary, model.MetricTypeUnknown}

// typeIndex returns the index of t in metricTypes.
func typeIndex(t model.MetricType) uint8 {
	for i := 1; i < len(metricTypes); i++ {
		if metricTypes[i] == t {
			return uint8(i)
		}
	}
	return 0
}

// metaMemo is what the Parser remembers of one comment, HELP or TYPE line
// of the previous body. Exporters repeat these lines verbatim in the same
// order on every scrape, so a line equal to the one expected next (newline
// included) yields the remembered entry without being parsed: the result of
// parsing a line depends on its bytes alone. Offsets are relative to the
// line start; lines of 64 KiB or more are not remembered.
//
// A run is a remembered line and the remembered lines that followed it
// directly in the previous body. When metadata is skipped (SetSkipMetadata),
// a run equal to the body's next bytes is passed in one comparison: those
// bytes are then the same whole lines.
type metaMemo struct {
	off                                int32  // the line's bytes in the memo buffer
	n                                  uint16 // the line's length, newline included
	nameOff, nameLen, textOff, textLen uint16
	entry                              uint8 // a textparse.Entry
	mtype                              uint8 // index in metricTypes of a TYPE line's type
	// joined is set when the line started right where the previous
	// remembered line ended. runLen, runBytes and runType describe the
	// run from this line on: its lines, its bytes (contiguous in the memo
	// buffer too) and the type its last TYPE line sets (0 if none).
	joined   bool
	runLen   uint16
	runType  uint8
	runBytes int32
}

// memo holds the memos of the previous body (prev, in prevBuf); k is the
// index in prev of the line expected next. While a body repeats the previous
// one, nothing is written. At the first difference (dirty), the memos of
// this body so far are copied to cur and curBuf, which then take every line
// and replace prev at the next Reset.
type memo struct {
	prev, cur       []metaMemo
	prevBuf, curBuf []byte
	// prevLines holds prevBuf, shared with the parsers of other bodies
	// with the same lines (internLines); it keeps them alive.
	prevLines *lineSet
	k         int
	dirty     bool
	// lastEnd is where the last line matched or recorded ended in the
	// body, to tell whether the next recorded line joins its run.
	lastEnd int
	// prevValid is set when prev was recorded from the previous body (the
	// first body is not recorded).
	prevValid bool
	// bodies counts Resets. Recording starts with the second body, so that
	// a Parser used for one body only (New) pays nothing for the memo.
	bodies int
	// hintLines and hintBytes size the first recording: the comment, HELP
	// and TYPE lines the previous body had.
	hintLines, hintBytes int
}

// memoReset starts a new body.
func (p *Parser) memoReset() {
	m := &p.memo
	m.hintLines, m.hintBytes = p.metaParsed, p.metaBytes
	if m.dirty {
		m.prev, m.cur = m.cur, nil
		m.linkRuns()
		// The lines and their memos are interned: targets exposing the
		// same metadata lines (a fleet of one exporter version) hold one
		// copy. prevBuf and prev may now be shared, so they are never
		// written again (memoDirty copies them).
		m.prevLines = internLines(m.curBuf, m.prev)
		m.prevBuf, m.prev, m.curBuf = m.prevLines.b, m.prevLines.memos, nil
		m.dirty = false
	} else {
		// The body repeated the previous one: cur's space is not needed
		// until the metadata changes, which exporters seldom do. A fleet
		// of targets would otherwise hold two copies of its comment, HELP
		// and TYPE lines per target.
		m.cur, m.curBuf = nil, nil
	}
	m.k, m.lastEnd = 0, -1
	m.prevValid = m.bodies >= 2
	if m.bodies < 2 {
		m.bodies++
	}
}

// MetadataRepeated reports, once Next has returned io.EOF, whether the
// comment, HELP and TYPE lines of this body were exactly those of the
// previous body, byte for byte and in the same order, so that a caller
// that skipped metadata (SetSkipMetadata) knows it has not changed. It is
// false for the first two bodies after New and whenever a line had to be
// parsed in full.
func (p *Parser) MetadataRepeated() bool {
	m := &p.memo
	return m.prevValid && !m.dirty && m.k == len(m.prev) && p.metaParsed == 0
}

// linkRuns computes the runs of prev, from the last line back.
func (m *memo) linkRuns() {
	for k := len(m.prev) - 1; k >= 0; k-- {
		e := &m.prev[k]
		e.runLen, e.runBytes, e.runType = 1, int32(e.n), 0
		if textparse.Entry(e.entry) == textparse.EntryType {
			e.runType = e.mtype
		}
		if k+1 < len(m.prev) && m.prev[k+1].joined && e.runLen < math.MaxUint16 {
			next := &m.prev[k+1]
			if next.runLen < math.MaxUint16 && int64(e.runBytes)+int64(next.runBytes) <= math.MaxInt32 {
				e.runLen += next.runLen
				e.runBytes += next.runBytes
				if next.runType != 0 {
					e.runType = next.runType
				}
			}
		}
	}
}

// memoDirty starts recording this body's lines: the first m.k lines matched
// prev, so they are copied.
func (m *memo) memoDirty() {
	m.dirty = true
	if m.cur == nil {
		m.cur = make([]metaMemo, 0, max(len(m.prev), m.hintLines))
		m.curBuf = make([]byte, 0, max(len(m.prevBuf), m.hintBytes))
	}
	m.cur, m.curBuf = m.cur[:0], m.curBuf[:0]
	if m.k == 0 {
		return
	}
	m.cur = append(m.cur, m.prev[:m.k]...)
	last := m.prev[m.k-1]
	m.curBuf = append(m.curBuf, m.prevBuf[:last.off+int32(last.n)]...)
}

// memoRun passes the run of lines expected next if the body continues with
// exactly its bytes, setting the metric type as parsing them would. It is
// used when metadata is skipped, and only while the body repeats the
// previous one (not dirty).
func (p *Parser) memoRun() bool {
	m := &p.memo
	if m.dirty || m.k >= len(m.prev) {
		return false
	}
	e := &m.prev[m.k]
	ls := p.lineStart
	n := int(e.runBytes)
	if len(p.b)-ls < n || string(p.b[ls:ls+n]) != unsafe.String(&m.prevBuf[e.off], n) {
		return false
	}
	if e.runType != 0 {
		p.mtype = metricTypes[e.runType]
	}
	m.k += int(e.runLen)
	p.pos = ls + n
	m.lastEnd = p.pos
	return true
}

// memoLookup returns the entry of the line at p.lineStart if it is the line
// expected next or the one after (a line removed since the previous body),
// and sets the parser's state as parsing it would.
func (p *Parser) memoLookup() (textparse.Entry, bool) {
	m := &p.memo
	ls := p.lineStart
	for k := m.k; k < len(m.prev) && k < m.k+2; k++ {
		e := &m.prev[k]
		n := int(e.n)
		if len(p.b)-ls < n || string(p.b[ls:ls+n]) != unsafe.String(&m.prevBuf[e.off], n) {
			continue
		}
		if k != m.k && !m.dirty {
			m.memoDirty()
		}
		m.k = k + 1
		line := p.b[ls : ls+n]
		entry := textparse.Entry(e.entry)
		switch entry {
		case textparse.EntryType:
			p.mtype = metricTypes[e.mtype]
			fallthrough
		case textparse.EntryHelp:
			p.metaName = line[e.nameOff : e.nameOff+e.nameLen]
		}
		p.text = line[e.textOff : e.textOff+e.textLen]
		p.pos = ls + n
		if m.dirty {
			p.memoAdd(entry, ls)
		}
		m.lastEnd = p.pos
		return entry, true
	}
	return textparse.EntryInvalid, false
}

// memoAdd records the line just parsed, which started at ls and whose entry
// is e, for the next body.
func (p *Parser) memoAdd(e textparse.Entry, ls int) {
	m := &p.memo
	if m.bodies < 2 {
		return
	}
	line := p.b[ls:p.pos]
	if len(line) > math.MaxUint16 || len(m.curBuf)+len(line) > math.MaxInt32 {
		return
	}
	if !m.dirty {
		m.memoDirty()
	}
	mm := metaMemo{off: int32(len(m.curBuf)), n: uint16(len(line)), entry: uint8(e), joined: ls == m.lastEnd}
	mm.textOff, mm.textLen = relative(line, p.text)
	if e != textparse.EntryComment {
		mm.nameOff, mm.nameLen = relative(line, p.metaName)
	}
	if e == textparse.EntryType {
		mm.mtype = typeIndex(p.mtype)
	}
	m.curBuf = append(m.curBuf, line...)
	m.cur = append(m.cur, mm)
	m.lastEnd = p.pos
}

// relative returns the offset and length of sub, a view into line (or
// empty), relative to line.
func relative(line, sub []byte) (uint16, uint16) {
	if len(sub) == 0 {
		return 0, 0
	}
	return uint16(uintptr(unsafe.Pointer(unsafe.SliceData(sub))) - uintptr(unsafe.Pointer(unsafe.SliceData(line)))), uint16(len(sub))
}

// lineSet is an interned copy of the metadata lines of a body and of their
// memos, never modified.
type lineSet struct {
	b     []byte
	memos []metaMemo
}

// lineTable interns lineSets by content, holding them weakly: a set no
// parser holds any longer is collected and its entry pruned.
var lineTable = struct {
	seed maphash.Seed
	mu   sync.Mutex
	sets map[uint64][]weak.Pointer[lineSet]
}{seed: maphash.MakeSeed(), sets: map[uint64][]weak.Pointer[lineSet]{}}

// internLines returns the lineSet holding bytes equal to b and memos equal
// to memos, copying both into a new one if there is none. Neither is kept.
func internLines(b []byte, memos []metaMemo) *lineSet {
	h := maphash.Bytes(lineTable.seed, b)
	lineTable.mu.Lock()
	defer lineTable.mu.Unlock()
	for _, w := range lineTable.sets[h] {
		if s := w.Value(); s != nil && bytes.Equal(s.b, b) && slices.Equal(s.memos, memos) {
			return s
		}
	}
	s := &lineSet{b: bytes.Clone(b), memos: slices.Clone(memos)}
	if s.b == nil {
		s.b = []byte{}
	}
	lineTable.sets[h] = append(lineTable.sets[h], weak.Make(s))
	runtime.AddCleanup(s, pruneLines, h)
	return s
}

// pruneLines drops the collected sets under hash h.
func pruneLines(h uint64) {
	lineTable.mu.Lock()
	defer lineTable.mu.Unlock()
	live := lineTable.sets[h][:0]
	for _, w := range lineTable.sets[h] {
		if w.Value() != nil {
			live = append(live, w)
		}
	}
	if len(live) == 0 {
		delete(lineTable.sets, h)
	} else {
		lineTable.sets[h] = live
	}
}
