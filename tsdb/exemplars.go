package tsdb

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"unicode/utf8"

	"github.com/prometheus/prometheus/model/exemplar"
	"github.com/prometheus/prometheus/model/labels"
)

// ErrOutOfOrderExemplar is returned for an exemplar older than the newest
// one kept for its series (or as old, with a smaller value).
var ErrOutOfOrderExemplar = errors.New("out of order exemplar")

// ErrExemplarLabelLength is returned for an exemplar whose label names and
// values together are longer than exemplar.ExemplarMaxLabelSetLength runes,
// the OpenMetrics limit.
var ErrExemplarLabelLength = errors.New("exemplar label set is too long")

// ErrInvalidExemplar is returned for an exemplar with a duplicate label name.
var ErrInvalidExemplar = errors.New("invalid exemplar")

// noExemplar ends a series' chain of exemplars.
const noExemplar = -1

// Exemplars keeps the newest exemplars of all series together in a circular
// buffer of fixed size, as Prometheus's in-memory exemplar storage does: a
// new exemplar overwrites the oldest one of any series. Each series chains
// its exemplars oldest to newest, so that a query walks only the exemplars
// of the series it matches. Memory is bounded by the buffer size: at most
// one index entry per buffered exemplar, and an exemplar's labels are at
// most ExemplarMaxLabelSetLength runes. It is safe for concurrent use; the
// zero value, and a nil *Exemplars, keep nothing.
type Exemplars struct {
	mu    sync.RWMutex
	max   int
	buf   []exemplarEntry            // grows to max, then wraps
	next  int                        // slot written next
	index map[string]*exemplarSeries // by series labels (labels.Labels.Bytes)
	key   []byte                     // scratch for index lookups
	ekey  []byte                     // scratch for evictions
}

type exemplarEntry struct {
	e      exemplar.Exemplar
	series *exemplarSeries // nil: slot never written
	next   int             // next exemplar of the same series, or noExemplar
}

type exemplarSeries struct {
	lset           labels.Labels
	oldest, newest int
}

// NewExemplars returns a storage keeping at most max exemplars (0 or less:
// none). The buffer grows as exemplars come, so an unused storage costs
// nothing.
func NewExemplars(max int) *Exemplars {
	if max <= 0 {
		return &Exemplars{}
	}
	return &Exemplars{max: max, index: map[string]*exemplarSeries{}}
}

// Capacity returns the most exemplars the storage keeps.
func (s *Exemplars) Capacity() int {
	if s == nil {
		return 0
	}
	return s.max
}

// Len returns how many series have exemplars.
func (s *Exemplars) Len() int {
	if s == nil {
		return 0
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	return len(s.index)
}

// AppendExemplar keeps e for the series lset. An exemplar equal to the
// newest one of the series is a no-op (targets expose the same exemplar
// scrape after scrape); an older one returns ErrOutOfOrderExemplar. A
// storage of size 0 drops every exemplar without error.
func (s *Exemplars) AppendExemplar(lset labels.Labels, e exemplar.Exemplar) error {
	if s == nil || s.max == 0 {
		return nil
	}
	if err := checkExemplarLabels(e.Labels); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.key = lset.Bytes(s.key[:0])
	ser := s.index[string(s.key)]
	if ser != nil {
		newest := s.buf[ser.newest].e
		if newest.Equals(e) {
			return nil
		}
		if e.Ts < newest.Ts || (e.Ts == newest.Ts && e.Value < newest.Value) ||
			(e.Ts == newest.Ts && e.Value == newest.Value && e.Labels.Hash() < newest.Labels.Hash()) {
			return fmt.Errorf("%w (series %s, %d before %d)", ErrOutOfOrderExemplar, lset, e.Ts, newest.Ts)
		}
	}
	var slot int
	if len(s.buf) < s.max {
		slot = len(s.buf)
		s.buf = append(s.buf, exemplarEntry{})
	} else {
		slot = s.next
		s.evict(slot)
		s.next = (slot + 1) % s.max
	}
	if ser == nil || ser.oldest == noExemplar {
		// A new series, or one whose only exemplar was just evicted (and
		// the series with it).
		if ser == nil {
			ser = &exemplarSeries{lset: lset}
		}
		s.index[string(s.key)] = ser
		ser.oldest = slot
	} else {
		s.buf[ser.newest].next = slot
	}
	ser.newest = slot
	s.buf[slot] = exemplarEntry{e: e, series: ser, next: noExemplar}
	return nil
}

// evict drops the exemplar in slot, the oldest of its series, and the
// series from the index when it was its last one.
func (s *Exemplars) evict(slot int) {
	old := &s.buf[slot]
	ser := old.series
	if ser == nil {
		return
	}
	ser.oldest = old.next
	if ser.oldest == noExemplar {
		s.ekey = ser.lset.Bytes(s.ekey[:0])
		delete(s.index, string(s.ekey))
	}
	*old = exemplarEntry{}
}

func checkExemplarLabels(ls labels.Labels) error {
	if name, dup := ls.HasDuplicateLabelNames(); dup {
		return fmt.Errorf("%w: label name %q is not unique", ErrInvalidExemplar, name)
	}
	n := 0
	var err error
	ls.Range(func(l labels.Label) {
		n += utf8.RuneCountInString(l.Name) + utf8.RuneCountInString(l.Value)
		if n > exemplar.ExemplarMaxLabelSetLength && err == nil {
			err = fmt.Errorf("%w (over %d runes)", ErrExemplarLabelLength, exemplar.ExemplarMaxLabelSetLength)
		}
	})
	return err
}

// Select returns the exemplars between start and end (milliseconds,
// inclusive) of the series matching any of the matcher sets, oldest first,
// series sorted by labels.
func (s *Exemplars) Select(start, end int64, matchers ...[]*labels.Matcher) ([]exemplar.QueryResult, error) {
	out := []exemplar.QueryResult{}
	if s == nil || s.max == 0 {
		return out, nil
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	for _, ser := range s.index {
		if s.buf[ser.oldest].e.Ts > end || s.buf[ser.newest].e.Ts < start || !matchesAny(ser.lset, matchers) {
			continue
		}
		var es []exemplar.Exemplar
		for i := ser.oldest; i != noExemplar; i = s.buf[i].next {
			e := s.buf[i].e
			if e.Ts > end {
				break
			}
			if e.Ts >= start {
				es = append(es, e)
			}
		}
		if len(es) > 0 {
			out = append(out, exemplar.QueryResult{SeriesLabels: ser.lset, Exemplars: es})
		}
	}
	slices.SortFunc(out, func(a, b exemplar.QueryResult) int { return labels.Compare(a.SeriesLabels, b.SeriesLabels) })
	return out, nil
}

// matchesAny reports whether lset matches every matcher of one of the sets.
func matchesAny(lset labels.Labels, sets [][]*labels.Matcher) bool {
next:
	for _, ms := range sets {
		for _, m := range ms {
			if !m.Matches(lset.Get(m.Name)) {
				continue next
			}
		}
		return true
	}
	return false
}
