package tsdb

import (
	"slices"
	"testing"

	"github.com/prometheus/prometheus/model/labels"
)

func TestChangeFeed(t *testing.T) {
	db := newDB(anyTime(Options{}), nil)
	f := db.NewChangeFeed(0) // limit raised to 1,024
	if _, complete := f.Drain(nil); complete {
		t.Fatal("a new feed claims to be complete")
	}
	commit := func(ts int64, names ...string) []uint64 {
		t.Helper()
		a := db.Appender()
		var refs []uint64
		for _, n := range names {
			ref, err := a.Append(0, labels.FromStrings("__name__", n), ts, 1)
			if err != nil {
				t.Fatal(err)
			}
			refs = append(refs, ref)
		}
		if err := a.Commit(); err != nil {
			t.Fatal(err)
		}
		return refs
	}
	ab := commit(1000, "a", "b")
	commit(1000, "a") // an exact duplicate appends nothing
	c := commit(2000, "c")
	got, complete := f.Drain(nil)
	if !complete || !slices.Equal(got, append(ab, c...)) {
		t.Fatalf("Drain = %v, %v; want %v, true", got, complete, append(ab, c...))
	}
	if got, complete := f.Drain(nil); !complete || len(got) != 0 {
		t.Fatalf("second Drain = %v, %v; want nothing, complete", got, complete)
	}

	var many []string
	for i := range 1100 {
		many = append(many, "m"+string(rune('a'+i%26))+string(rune('a'+i/26)))
	}
	commit(3000, many...)
	if got, complete := f.Drain(nil); complete || len(got) != 0 {
		t.Fatalf("after overflow: Drain = %d refs, complete %v; want none, incomplete", len(got), complete)
	}
	f.Close()
	commit(4000, "a")
	if got, _ := f.Drain(nil); len(got) != 0 {
		t.Fatalf("a closed feed got %v", got)
	}
	if db.feeds.list.Load() != nil {
		t.Fatal("feed list not empty after Close")
	}
}

// TestChangeFeedHistograms checks that histogram commits reach the feeds.
func TestChangeFeedHistograms(t *testing.T) {
	db := newDB(anyTime(Options{}), nil)
	f := db.NewChangeFeed(0)
	f.Drain(nil)
	a := db.Appender()
	ref, err := a.AppendHistogram(0, labels.FromStrings("__name__", "h"), 1000, testHist(1), nil)
	if err != nil {
		t.Fatal(err)
	}
	a.Commit()
	if got, complete := f.Drain(nil); !complete || !slices.Equal(got, []uint64{ref}) {
		t.Fatalf("Drain = %v, %v; want [%d], true", got, complete, ref)
	}
}
