package promtext

import (
	"math"
	"unsafe"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/textparse"
)

// metaMemo is what the Parser remembers of one comment, HELP or TYPE line
// of the previous body. Exporters repeat these lines verbatim in the same
// order on every scrape, so a line equal to the one expected next (newline
// included) yields the remembered entry without being parsed: the result of
// parsing a line depends on its bytes alone. Offsets are relative to the
// line start.
type metaMemo struct {
	off, n           int32 // the line's bytes in the memo buffer
	entry            textparse.Entry
	nameOff, nameLen int32
	textOff, textLen int32
	mtype            model.MetricType
}

// memo holds the memos of the previous body (prev, in prevBuf); k is the
// index in prev of the line expected next. While a body repeats the previous
// one, nothing is written. At the first difference (dirty), the memos of
// this body so far are copied to cur and curBuf, which then take every line
// and replace prev at the next Reset.
type memo struct {
	prev, cur       []metaMemo
	prevBuf, curBuf []byte
	k               int
	dirty           bool
	// bodies counts Resets. Recording starts with the second body, so that
	// a Parser used for one body only (New) pays nothing for the memo.
	bodies int
}

// memoReset starts a new body.
func (p *Parser) memoReset() {
	m := &p.memo
	if m.dirty {
		m.prev, m.cur = m.cur, m.prev[:0]
		m.prevBuf, m.curBuf = m.curBuf, m.prevBuf[:0]
		m.dirty = false
	}
	m.k = 0
	if m.bodies < 2 {
		m.bodies++
	}
}

// memoDirty starts recording this body's lines: the first m.k lines matched
// prev, so they are copied.
func (m *memo) memoDirty() {
	m.dirty = true
	m.cur, m.curBuf = m.cur[:0], m.curBuf[:0]
	if m.k == 0 {
		return
	}
	m.cur = append(m.cur, m.prev[:m.k]...)
	last := m.prev[m.k-1]
	m.curBuf = append(m.curBuf, m.prevBuf[:last.off+last.n]...)
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
		switch e.entry {
		case textparse.EntryType:
			p.mtype = e.mtype
			fallthrough
		case textparse.EntryHelp:
			p.metaName = line[e.nameOff : e.nameOff+e.nameLen]
		}
		p.text = line[e.textOff : e.textOff+e.textLen]
		p.pos = ls + n
		if m.dirty {
			p.memoAdd(e.entry, ls)
		}
		return e.entry, true
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
	if !m.dirty {
		m.memoDirty()
	}
	line := p.b[ls:p.pos]
	if len(m.curBuf)+len(line) > math.MaxInt32 {
		return
	}
	mm := metaMemo{off: int32(len(m.curBuf)), n: int32(len(line)), entry: e}
	mm.textOff, mm.textLen = relative(line, p.text)
	if e != textparse.EntryComment {
		mm.nameOff, mm.nameLen = relative(line, p.metaName)
	}
	if e == textparse.EntryType {
		mm.mtype = p.mtype
	}
	m.curBuf = append(m.curBuf, line...)
	m.cur = append(m.cur, mm)
}

// relative returns the offset and length of sub, a view into line (or
// empty), relative to line.
func relative(line, sub []byte) (int32, int32) {
	if len(sub) == 0 {
		return 0, 0
	}
	return int32(uintptr(unsafe.Pointer(unsafe.SliceData(sub))) - uintptr(unsafe.Pointer(unsafe.SliceData(line)))), int32(len(sub))
}
