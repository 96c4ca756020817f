package remote

import (
	"encoding/binary"
	"errors"
	"math"

	"github.com/prometheus/prometheus/model/labels"
)

// Send positions, as saved in the snapshot section of a Sender:
//
//	uvarint version (1) | uvarint count | count × (labels | varint acked timestamp)
//	labels: uvarint pair count, then per pair uvarint len + name, uvarint len + value
//
// A series that has had nothing acknowledged is not listed: it starts from
// the beginning of the store, as a series without a position does.

const positionsVersion = 1

// errBadPositions is returned by decodePositions for a damaged section.
var errBadPositions = errors.New("bad send positions")

// AppendSnapshot appends the acknowledged send positions to dst; it is the
// tsdb.SnapshotSection the Sender registers. The store calls it after
// copying the series, so the positions are never older than the data saved
// with them.
func (s *Sender) AppendSnapshot(dst []byte) []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	dst = binary.AppendUvarint(dst, positionsVersion)
	n := len(s.restored)
	for _, st := range s.byRef {
		if st.acked.Load() != math.MinInt64 {
			n++
		}
	}
	dst = binary.AppendUvarint(dst, uint64(n))
	for _, st := range s.byRef {
		if a := st.acked.Load(); a != math.MinInt64 {
			dst = appendLabels(dst, st.lset)
			dst = binary.AppendVarint(dst, a)
		}
	}
	for key, a := range s.restored {
		dst = append(dst, key...)
		dst = binary.AppendVarint(dst, a)
	}
	return dst
}

// appendLabels appends the encoding of lset, which is also the key of a
// restored position.
func appendLabels(dst []byte, lset labels.Labels) []byte {
	dst = binary.AppendUvarint(dst, uint64(lset.Len()))
	lset.Range(func(l labels.Label) {
		dst = binary.AppendUvarint(dst, uint64(len(l.Name)))
		dst = append(dst, l.Name...)
		dst = binary.AppendUvarint(dst, uint64(len(l.Value)))
		dst = append(dst, l.Value...)
	})
	return dst
}

// decodePositions reads a section written by AppendSnapshot into a map
// from encoded labels to the acknowledged timestamp.
func decodePositions(b []byte) (map[string]int64, error) {
	uv := func() (uint64, bool) {
		v, n := binary.Uvarint(b)
		if n <= 0 {
			return 0, false
		}
		b = b[n:]
		return v, true
	}
	if v, ok := uv(); !ok || v != positionsVersion {
		return nil, errBadPositions
	}
	n, ok := uv()
	if !ok || n > uint64(len(b)) {
		return nil, errBadPositions
	}
	out := make(map[string]int64, n)
	for range n {
		start := b
		pairs, ok := uv()
		if !ok || pairs > uint64(len(b)) {
			return nil, errBadPositions
		}
		for range 2 * pairs {
			l, ok := uv()
			if !ok || l > uint64(len(b)) {
				return nil, errBadPositions
			}
			b = b[l:]
		}
		key := string(start[:len(start)-len(b)])
		a, m := binary.Varint(b)
		if m <= 0 {
			return nil, errBadPositions
		}
		b = b[m:]
		out[key] = a
	}
	if len(b) != 0 {
		return nil, errBadPositions
	}
	return out, nil
}
