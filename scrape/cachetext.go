package scrape

import (
	"bytes"
	"encoding/binary"
)

// restartEvery is how many records of a lineStream share one restart point:
// a record at a restart point is stored whole, the others as the bytes they
// add to the previous record's text.
const restartEvery = 16

// lineStream holds the series texts of one scrape in order, each with the
// index of its cache entry, prefix-compressed: lines of one family share
// most of their text with the line before (node_exporter: 63 bytes a line,
// 27 stored). A record is uvarint(shared prefix) uvarint(suffix length)
// suffix varint(entry index − previous record's entry index); at a restart
// point the prefix and the previous index are 0.
type lineStream struct {
	buf      []byte
	restarts []int // offset in buf of records 0, restartEvery, 2·restartEvery…
	n        int   // records
	last     []byte
	lastIdx  int32
}

// add appends the record of text, the line of entry idx.
func (s *lineStream) add(text []byte, idx int32) {
	shared, prevIdx := 0, int32(0)
	if s.n%restartEvery == 0 {
		s.restarts = append(s.restarts, len(s.buf))
	} else {
		shared, prevIdx = commonPrefix(s.last, text), s.lastIdx
	}
	s.buf = binary.AppendUvarint(s.buf, uint64(shared))
	s.buf = binary.AppendUvarint(s.buf, uint64(len(text)-shared))
	s.buf = append(s.buf, text[shared:]...)
	s.buf = binary.AppendVarint(s.buf, int64(idx)-int64(prevIdx))
	s.last = append(s.last[:0], text...)
	s.lastIdx = idx
	s.n++
}

// reset empties s, dropping its memory.
func (s *lineStream) reset() { *s = lineStream{} }

// clip copies the records of s to buffers of their size when growth left
// much unused room.
func (s *lineStream) clip() {
	if cap(s.buf)-len(s.buf) > len(s.buf)/8+4096 {
		s.buf = bytes.Clone(s.buf)
	}
	if cap(s.restarts)-len(s.restarts) > len(s.restarts)/8+64 {
		s.restarts = append([]int(nil), s.restarts...)
	}
	s.last = nil
}

// commonPrefix returns the length of the longest common prefix of a and b.
func commonPrefix(a, b []byte) int {
	n := min(len(a), len(b))
	i := 0
	for i+8 <= n && binary.LittleEndian.Uint64(a[i:]) == binary.LittleEndian.Uint64(b[i:]) {
		i += 8
	}
	for i < n && a[i] == b[i] {
		i++
	}
	return i
}

// streamReader decodes records of a lineStream, cheaply in order and from
// the nearest restart point otherwise. It must be reset when its stream is
// replaced; appending to the stream keeps it valid.
type streamReader struct {
	s    *lineStream // the stream of the decoded record, nil after reset
	next int         // index of the record after the decoded one
	off  int         // offset of record next
	text []byte      // the decoded record's text
	idx  int32       // and its entry index
}

func (r *streamReader) reset() { r.s = nil }

// at returns the text and entry index of record i of s (i < s.n). The text
// is valid until the reader's next call.
func (r *streamReader) at(s *lineStream, i int) ([]byte, int32) {
	if r.s == s && i == r.next-1 {
		return r.text, r.idx
	}
	if r.s != s || i < r.next || i >= r.next+restartEvery {
		blk := i / restartEvery
		r.s, r.next, r.off = s, blk*restartEvery, s.restarts[blk]
		r.text, r.idx = r.text[:0], 0
	}
	for r.next <= i {
		r.decode()
	}
	return r.text, r.idx
}

// decode reads record r.next.
func (r *streamReader) decode() {
	buf, off := r.s.buf, r.off
	// The usual record: one byte each for the prefix and suffix lengths
	// and the index difference.
	if off+2 < len(buf) && buf[off]|buf[off+1] < 0x80 {
		shared, suffix := int(buf[off]), int(buf[off+1])
		end := off + 2 + suffix
		if end < len(buf) && buf[end] < 0x80 && shared <= len(r.text) {
			r.text = append(r.text[:shared], buf[off+2:end]...)
			d := int32(buf[end]>>1) ^ -int32(buf[end]&1) // zigzag, as binary.Varint
			if r.next%restartEvery == 0 {
				r.idx = d
			} else {
				r.idx += d
			}
			r.off = end + 1
			r.next++
			return
		}
	}
	b := buf[off:]
	shared, n1 := binary.Uvarint(b)
	suffix, n2 := binary.Uvarint(b[n1:])
	k := n1 + n2
	r.text = append(r.text[:shared], b[k:k+int(suffix)]...)
	k += int(suffix)
	d, n3 := binary.Varint(b[k:])
	if r.next%restartEvery == 0 {
		r.idx = int32(d)
	} else {
		r.idx += int32(d)
	}
	r.off += k + n3
	r.next++
}

// offset returns the offset in s.buf of record i (i ≤ s.n).
func (r *streamReader) offset(s *lineStream, i int) int {
	if i == s.n {
		return len(s.buf)
	}
	if i%restartEvery == 0 {
		return s.restarts[i/restartEvery]
	}
	r.at(s, i-1)
	return r.off
}
