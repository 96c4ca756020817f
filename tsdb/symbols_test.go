package tsdb

import (
	"context"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"
)

// TestSymbolsRoundTrip: label sets come back from their compact form as
// they went in, equal compares without allocating, and a label set that
// differs anywhere (or is a prefix) is not equal.
func TestSymbolsRoundTrip(t *testing.T) {
	long := string(make([]byte, 300)) // a length that takes 3 bytes in stringlabels
	sets := []labels.Labels{
		labels.FromStrings("__name__", "up"),
		labels.FromStrings("__name__", "node_cpu_seconds_total", "cpu", "0", "instance", "127.0.0.1:40001", "job", "node", "mode", "idle"),
		labels.FromStrings("__name__", "m", "empty", "", "long", long),
		labels.FromStrings("a", "b", "b", "a"),
	}
	tab := newSymbolTable()
	for _, ls := range sets {
		syms := tab.encode(ls)
		if got := tab.labels(syms); !labels.Equal(got, ls) {
			t.Fatalf("labels(encode(%s)) = %s", ls, got)
		}
		var lb LabelsBuf
		if got := tab.labelsInto(syms, &lb); !labels.Equal(got, ls) {
			t.Fatalf("labelsInto(encode(%s)) = %s", ls, got)
		}
		if got := plainLabels(string(appendPlain(nil, ls))); !labels.Equal(got, ls) {
			t.Fatalf("plainLabels(appendPlain(%s)) = %s", ls, got)
		}
		for _, other := range sets {
			if got, want := tab.equal(syms, other), labels.Equal(ls, other); got != want {
				t.Fatalf("equal(%s, %s) = %v, want %v", ls, other, got, want)
			}
		}
		if tab.equal(syms, labels.FromStrings("__name__", "up", "zz", "1")) {
			t.Fatalf("%s equals a longer label set", ls)
		}
		if n := testing.AllocsPerRun(10, func() { tab.equal(syms, ls) }); n != 0 {
			t.Fatalf("equal allocates %v times", n)
		}
		if n := testing.AllocsPerRun(10, func() { tab.labelsInto(syms, &lb) }); n != 0 {
			t.Fatalf("labelsInto allocates %v times once grown", n)
		}
	}
}

// TestSymbolsReleasedWithSeries: series whose label values churn (a new
// pod name every round) and are garbage-collected leave no symbols behind,
// and the ids of released symbols are reused.
func TestSymbolsReleasedWithSeries(t *testing.T) {
	var clock testClock
	db := newDB(Options{Retention: time.Minute, Now: clock.now}, nil)
	keep := labels.FromStrings("__name__", "keep", "job", "node")
	const rounds, pods = 50, 20
	for r := range rounds {
		now := int64(r) * 3600_000
		clock.set(now)
		a := db.Appender()
		mustAppend(t, a, 0, keep, now, 1)
		for i := range pods {
			mustAppend(t, a, 0, labels.FromStrings("__name__", "m", "job", "node", "pod", fmt.Sprintf("pod-%d-%d", r, i)), now, 1)
		}
		if err := a.Commit(); err != nil {
			t.Fatal(err)
		}
		db.GC() // drops the previous round's pods
	}
	// __name__, keep, job, node, m, pod and this round's pod names.
	if got, want := db.series.syms.len(), 6+pods; got != want {
		t.Fatalf("%d symbols after %d rounds of %d churning pods, want %d", got, rounds, pods, want)
	}
	if got := db.series.syms.idCount(); got > 6+2*pods {
		t.Fatalf("symbol table grew to %d ids: released ids not reused", got)
	}
	got := query(t, db, math.MinInt64, math.MaxInt64, labels.MustNewMatcher(labels.MatchEqual, "job", "node"))
	if _, ok := got[keep.String()]; !ok || len(got) != 1+pods {
		t.Fatalf("series after churn: %d, want keep and %d pods", len(got), pods)
	}
	want := labels.FromStrings("__name__", "m", "job", "node", "pod", fmt.Sprintf("pod-%d-%d", rounds-1, 3))
	if _, ok := got[want.String()]; !ok {
		t.Fatalf("%s missing after churn", want)
	}
}

// TestSymbolsDeletedSeriesKeepLabels: a series removed while an appender
// still holds a sample for it is recreated by its labels at Commit, and a
// reader that found it before the removal still reads its labels.
func TestSymbolsDeletedSeriesKeepLabels(t *testing.T) {
	db := newDB(anyTime(Options{}), nil)
	lset := labels.FromStrings("__name__", "m", "pod", "a")
	a := db.Appender()
	ref := mustAppend(t, a, 0, lset, 1000, 1)
	if err := a.Commit(); err != nil {
		t.Fatal(err)
	}
	s := db.series.getByRef(ref)
	a = db.Appender()
	mustAppend(t, a, ref, labels.EmptyLabels(), 2000, 2) // buffered
	n, err := db.DeleteSeries(context.Background(), math.MinInt64, math.MaxInt64, labels.MustNewMatcher(labels.MatchEqual, "pod", "a"))
	if n != 1 || err != nil {
		t.Fatalf("delete: %d, %v", n, err)
	}
	if got := db.series.labelsOf(s); !labels.Equal(got, lset) {
		t.Fatalf("labels of the removed series: %s, want %s", got, lset)
	}
	if got := db.series.syms.len(); got != 0 {
		t.Fatalf("%d symbols left after removing the only series", got)
	}
	if err := a.Commit(); err != nil {
		t.Fatal(err)
	}
	if got := query(t, db, 0, 3000)[lset.String()]; len(got) != 1 {
		t.Fatalf("recreated series: %v, want the buffered sample", got)
	}
}

// TestSymbolsLookupAllocs: finding an existing series by its labels
// allocates nothing.
func TestSymbolsLookupAllocs(t *testing.T) {
	db := newDB(anyTime(Options{}), nil)
	lset := labels.FromStrings("__name__", "m", "instance", "127.0.0.1:40001", "job", "node")
	a := db.Appender()
	mustAppend(t, a, 0, lset, 1000, 1)
	if err := a.Commit(); err != nil {
		t.Fatal(err)
	}
	if n := testing.AllocsPerRun(20, func() {
		if db.series.get(lset) == nil {
			t.Fatal("series not found")
		}
	}); n != 0 {
		t.Fatalf("lookup allocates %v times", n)
	}
}
