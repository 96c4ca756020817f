package tsdb

import (
	"errors"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/prometheus/prometheus/model/exemplar"
	"github.com/prometheus/prometheus/model/labels"
)

func ex(ts int64, v float64, kv ...string) exemplar.Exemplar {
	return exemplar.Exemplar{Labels: labels.FromStrings(kv...), Value: v, Ts: ts, HasTs: true}
}

// TestExemplarsAppendSelect: exemplars come back per series, oldest first,
// within the time range and matchers; duplicates are no-ops and older ones
// are refused, as in Prometheus.
func TestExemplarsAppendSelect(t *testing.T) {
	s := NewExemplars(10)
	a := labels.FromStrings("__name__", "req_total", "job", "a")
	b := labels.FromStrings("__name__", "req_total", "job", "b")
	steps := []struct {
		lset labels.Labels
		e    exemplar.Exemplar
		err  error
	}{
		{a, ex(100, 1, "trace_id", "1"), nil},
		{a, ex(100, 1, "trace_id", "1"), nil}, // duplicate: no-op
		{b, ex(150, 2, "trace_id", "2"), nil},
		{a, ex(200, 3, "trace_id", "3"), nil},
		{a, ex(150, 4, "trace_id", "4"), ErrOutOfOrderExemplar},
		{a, ex(300, 5, "trace_id", strings.Repeat("x", 130)), ErrExemplarLabelLength},
	}
	for i, st := range steps {
		if err := s.AppendExemplar(st.lset, st.e); !errors.Is(err, st.err) {
			t.Fatalf("step %d: err = %v, want %v", i, err, st.err)
		}
	}
	all := []*labels.Matcher{labels.MustNewMatcher(labels.MatchEqual, "__name__", "req_total")}
	tests := []struct {
		name       string
		start, end int64
		ms         [][]*labels.Matcher
		want       string
	}{
		{"all", 0, 1000, [][]*labels.Matcher{all}, "a:100,200 b:150"},
		{"range", 120, 180, [][]*labels.Matcher{all}, "b:150"},
		{"matcher", 0, 1000, [][]*labels.Matcher{{labels.MustNewMatcher(labels.MatchEqual, "job", "a")}}, "a:100,200"},
		{"none", 0, 1000, [][]*labels.Matcher{{labels.MustNewMatcher(labels.MatchEqual, "job", "c")}}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := s.Select(tt.start, tt.end, tt.ms...)
			if err != nil {
				t.Fatal(err)
			}
			if got := renderExemplars(res); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func renderExemplars(res []exemplar.QueryResult) string {
	var parts []string
	for _, r := range res {
		var ts []string
		for _, e := range r.Exemplars {
			ts = append(ts, strconv.FormatInt(e.Ts, 10))
		}
		parts = append(parts, r.SeriesLabels.Get("job")+":"+strings.Join(ts, ","))
	}
	return strings.Join(parts, " ")
}

// TestExemplarsCircular: the buffer keeps the newest exemplars of all
// series together, evicting the oldest, series included once they have
// none left; size 0 keeps nothing.
func TestExemplarsCircular(t *testing.T) {
	s := NewExemplars(3)
	a := labels.FromStrings("job", "a")
	b := labels.FromStrings("job", "b")
	for i, lset := range []labels.Labels{a, a, b, a, a} {
		if err := s.AppendExemplar(lset, ex(int64(i), 0, "i", strconv.Itoa(i))); err != nil {
			t.Fatal(err)
		}
	}
	res, _ := s.Select(0, 100, []*labels.Matcher{labels.MustNewMatcher(labels.MatchRegexp, "job", ".*")})
	if got := renderExemplars(res); got != "a:3,4 b:2" {
		t.Errorf("after 5 appends into 3 slots: %q, want a:3,4 b:2", got)
	}
	// One more evicts b's only exemplar, and b with it.
	if err := s.AppendExemplar(a, ex(5, 0)); err != nil {
		t.Fatal(err)
	}
	if s.Len() != 1 {
		t.Errorf("%d series indexed, want 1", s.Len())
	}
	one := NewExemplars(1)
	for i := range 3 {
		if err := one.AppendExemplar(a, ex(int64(i), 0)); err != nil {
			t.Fatal(err)
		}
	}
	res, _ = one.Select(0, 100, []*labels.Matcher{labels.MustNewMatcher(labels.MatchEqual, "job", "a")})
	if got := renderExemplars(res); got != "a:2" {
		t.Errorf("size 1: %q, want a:2", got)
	}
	off := NewExemplars(0)
	if err := off.AppendExemplar(a, ex(1, 0)); err != nil {
		t.Fatal(err)
	}
	if res, _ := off.Select(0, 100); len(res) != 0 || res == nil {
		t.Errorf("disabled storage returned %v", res)
	}
}

// TestExemplarsMemoryBounded: a hostile target sending 200,000
// exemplars, each of a new series with long labels, leaves the storage
// with at most its capacity of series and a heap that does not grow with
// the number sent.
func TestExemplarsMemoryBounded(t *testing.T) {
	const capacity = 1000
	s := NewExemplars(capacity)
	long := strings.Repeat("v", 60)
	heap := func() uint64 {
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapAlloc
	}
	var base uint64
	for i := range 200_000 {
		if i == 10*capacity {
			base = heap()
		}
		lset := labels.FromStrings("__name__", "evil", "series", strconv.Itoa(i), "pad", long)
		if err := s.AppendExemplar(lset, ex(int64(i), 1, "trace_id", long)); err != nil {
			t.Fatal(err)
		}
	}
	if n := s.Len(); n != capacity {
		t.Errorf("%d series indexed, want %d", n, capacity)
	}
	if grown := int64(heap()) - int64(base); grown > 1<<20 {
		t.Errorf("heap grew by %d bytes between 10k and 200k exemplars", grown)
	}
}
