package remote

import (
	"context"
	"fmt"
	"math"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/tsdb/chunkenc"
)

// histogramStore is a Store that holds native histograms (*tsdb.DB): its
// low-level reads (ReadRanges) give a series' float samples only, so the
// samples of a series that has histograms are read through its Querier,
// in time order, floats and histograms together.
type histogramStore interface {
	HasHistograms(ref uint64) bool
	Querier(mint, maxt int64) (storage.Querier, error)
}

// mixedSamples is the reusable destination of readMixed: ts and vs as
// ReadRanges gives them (vs is 0 for a histogram), hs aligned with them.
type mixedSamples struct {
	ts  []int64
	vs  []float64
	hs  []hist
	ms  []*labels.Matcher
	it  chunkenc.Iterator
	any bool // a histogram was read
}

// readMixed reads the samples of series lset after from (exclusive), floats
// and histograms, into m. The series is selected by all its labels.
func readMixed(ctx context.Context, hs histogramStore, lset labels.Labels, from int64, m *mixedSamples) error {
	m.ts, m.vs, m.hs, m.any = m.ts[:0], m.vs[:0], m.hs[:0], false
	if from == math.MaxInt64 {
		return nil
	}
	q, err := hs.Querier(from+1, math.MaxInt64)
	if err != nil {
		return fmt.Errorf("read histograms of %s: %w", lset, err)
	}
	defer q.Close()
	m.ms = m.ms[:0]
	lset.Range(func(l labels.Label) {
		m.ms = append(m.ms, labels.MustNewMatcher(labels.MatchEqual, l.Name, l.Value))
	})
	set := q.Select(ctx, false, nil, m.ms...)
	for set.Next() {
		s := set.At()
		if !labels.Equal(s.Labels(), lset) {
			continue
		}
		m.it = s.Iterator(m.it)
		for vt := m.it.Next(); vt != chunkenc.ValNone; vt = m.it.Next() {
			var (
				t int64
				v float64
				h hist
			)
			switch vt {
			case chunkenc.ValFloat:
				t, v = m.it.At()
			case chunkenc.ValHistogram:
				t, h.h = m.it.AtHistogram(nil)
			case chunkenc.ValFloatHistogram:
				t, h.fh = m.it.AtFloatHistogram(nil)
			}
			if t <= from {
				continue
			}
			m.any = m.any || h.isHist()
			m.ts, m.vs, m.hs = append(m.ts, t), append(m.vs, v), append(m.hs, h)
		}
		if err := m.it.Err(); err != nil {
			return fmt.Errorf("read histograms of %s: %w", lset, err)
		}
	}
	if err := set.Err(); err != nil {
		return fmt.Errorf("read histograms of %s: %w", lset, err)
	}
	return nil
}
