package tsdb

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"testing"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/tsdb/chunkenc"
)

// TestMatcherSemantics checks the postings index against the definition of
// Prometheus matching: a series matches when every matcher matches the
// series' value for its label, "" if the label is absent.
func TestMatcherSemantics(t *testing.T) {
	sets := []labels.Labels{
		labels.FromStrings("__name__", "up", "job", "api", "env", "prod"),
		labels.FromStrings("__name__", "up", "job", "api", "env", "dev"),
		labels.FromStrings("__name__", "up", "job", "db"),
		labels.FromStrings("__name__", "http_requests_total", "job", "api", "code", "200"),
		labels.FromStrings("__name__", "http_requests_total", "job", "api", "code", "500"),
		labels.FromStrings("__name__", "node_load1", "instance", "a:9100"),
		labels.FromStrings("__name__", "node_load5", "instance", "b:9100", "env", "prod"),
	}
	db := newDB(anyTime(Options{}), nil)
	a := db.Appender()
	for _, ls := range sets {
		mustAppend(t, a, 0, ls, 1, 1)
	}
	a.Commit()
	m := labels.MustNewMatcher
	tests := []struct {
		name string
		ms   []*labels.Matcher
		want int // expected match count, double-checking the brute force
	}{
		{"eq", []*labels.Matcher{m(labels.MatchEqual, "job", "api")}, 4},
		{"eq missing value", []*labels.Matcher{m(labels.MatchEqual, "job", "nope")}, 0},
		{"eq empty = label absent", []*labels.Matcher{m(labels.MatchEqual, "env", "")}, 4},
		{"neq includes absent", []*labels.Matcher{m(labels.MatchNotEqual, "env", "prod")}, 5},
		{"neq empty = label present", []*labels.Matcher{m(labels.MatchNotEqual, "env", "")}, 3},
		{"re", []*labels.Matcher{m(labels.MatchRegexp, "code", "5..")}, 1},
		{"re anchored", []*labels.Matcher{m(labels.MatchRegexp, "job", "ap")}, 0},
		{"re dot-star matches absent", []*labels.Matcher{m(labels.MatchRegexp, "env", ".*")}, 7},
		{"re dot-plus needs label", []*labels.Matcher{m(labels.MatchRegexp, "env", ".+")}, 3},
		{"re alternation with empty", []*labels.Matcher{m(labels.MatchRegexp, "env", "prod|")}, 6},
		{"re set", []*labels.Matcher{m(labels.MatchRegexp, "job", "api|db")}, 5},
		{"nre", []*labels.Matcher{m(labels.MatchNotRegexp, "env", "p.*")}, 5},
		{"nre dot-star matches nothing", []*labels.Matcher{m(labels.MatchNotRegexp, "env", ".*")}, 0},
		{"nre dot-plus = absent", []*labels.Matcher{m(labels.MatchNotRegexp, "env", ".+")}, 4},
		{"regex on name", []*labels.Matcher{m(labels.MatchRegexp, "__name__", "node_.*")}, 2},
		{"combined", []*labels.Matcher{
			m(labels.MatchRegexp, "__name__", ".+"),
			m(labels.MatchNotEqual, "job", "db"),
			m(labels.MatchNotRegexp, "code", "2.."),
			m(labels.MatchEqual, "instance", ""),
		}, 3},
		{"no matchers", nil, 7},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var want []uint64
			for i, ls := range sets {
				ok := true
				for _, m := range tc.ms {
					ok = ok && m.Matches(ls.Get(m.Name))
				}
				if ok {
					want = append(want, uint64(i+1))
				}
			}
			got := db.Postings(nil, tc.ms...)
			if !slices.Equal(got, want) {
				t.Fatalf("postings %v, brute force %v", got, want)
			}
			if len(got) != tc.want {
				t.Fatalf("got %d matches, table says %d", len(got), tc.want)
			}
			if res := query(t, db, 0, 10, tc.ms...); len(res) != len(want) {
				t.Fatalf("Select returned %d series, want %d", len(res), len(want))
			}
		})
	}
}

func TestLowLevelReadAPI(t *testing.T) {
	db := newDB(anyTime(Options{}), nil)
	a := db.Appender()
	for i := range 50 {
		for s := range 20 {
			mustAppend(t, a, 0, labels.FromStrings("__name__", "m", "s", string(rune('a'+s))), int64(i)*1000, float64(i))
		}
		a.Commit()
	}
	ms := []*labels.Matcher{labels.MustNewMatcher(labels.MatchEqual, "__name__", "m")}
	var (
		refs []uint64
		it   SampleIterator
		sum  float64
	)
	read := func() {
		refs = db.Postings(refs[:0], ms...)
		for _, ref := range refs {
			if _, ok := db.SeriesIterator(ref, 10_000, 19_000, &it); !ok {
				t.Fatal("series vanished")
			}
			for it.Next() == chunkenc.ValFloat {
				_, v := it.At()
				sum += v
			}
		}
	}
	read()
	if want := 20.0 * (10 + 19) * 10 / 2; sum != want {
		t.Fatalf("sum %v, want %v", sum, want)
	}
	if allocs := testing.AllocsPerRun(20, read); allocs > 1 {
		t.Fatalf("%v allocations per full read, want at most 1 (none per series)", allocs)
	}
	if _, ok := db.SeriesIterator(9999, 0, 1, &it); ok || it.Next() != chunkenc.ValNone {
		t.Fatal("unknown ref must report false and an exhausted iterator")
	}
}

// TestUnionDisjoint merges 0 to 9 disjoint ascending lists (some empty)
// and checks the result against sorting their concatenation.
func TestUnionDisjoint(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for k := range 10 {
		t.Run(fmt.Sprint("lists=", k), func(t *testing.T) {
			for range 20 {
				lists := make([][]uint64, k)
				var want []uint64
				for ref := range uint64(300) {
					if r.IntN(3) == 0 || k == 0 {
						continue
					}
					i := r.IntN(k)
					lists[i] = append(lists[i], ref)
					want = append(want, ref)
				}
				got := unionDisjoint(lists)
				if !slices.Equal(got, want) && !(len(got) == 0 && len(want) == 0) {
					t.Fatalf("unionDisjoint(%v) = %v, want %v", lists, got, want)
				}
			}
		})
	}
}

// TestPostingsAllFromRefTable checks the refs a query with no positive
// matcher starts from (the ref table's, the index keeps no list of them):
// ascending, across ref pages, without deleted series.
func TestPostingsAllFromRefTable(t *testing.T) {
	db := newDB(anyTime(Options{}), nil)
	app := db.Appender()
	const n = refPageSize + 100 // two pages
	for i := range n {
		mustAppend(t, app, 0, labels.FromStrings("__name__", "m", "i", strconv.Itoa(i), "odd", strconv.Itoa(i%2)), 1000, 1)
	}
	if err := app.Commit(); err != nil {
		t.Fatal(err)
	}
	if _, err := db.DeleteSeries(context.Background(), math.MinInt64, math.MaxInt64,
		labels.MustNewMatcher(labels.MatchEqual, "odd", "1")); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		m    *labels.Matcher
		want int
	}{
		{"absent label", labels.MustNewMatcher(labels.MatchEqual, "nope", ""), n / 2},
		{"not equal", labels.MustNewMatcher(labels.MatchNotEqual, "i", "0"), n/2 - 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			refs := db.Postings([]uint64{42}, tc.m)
			if len(refs) != tc.want+1 || refs[0] != 42 {
				t.Fatalf("%d refs after the caller's one, want %d", len(refs)-1, tc.want)
			}
			refs = refs[1:]
			if !slices.IsSorted(refs) {
				t.Fatal("refs not ascending")
			}
			var it SampleIterator
			for _, ref := range refs {
				if lset, ok := db.SeriesIterator(ref, 0, 2000, &it); !ok || lset.Get("odd") != "0" {
					t.Fatalf("ref %d: %v (found %v), want a series with odd=0", ref, lset, ok)
				}
			}
		})
	}
}

// removeAll leaves the index as removing the same series one by one does,
// whatever subset goes: lists emptied, names dropped, the others filtered.
func TestRemoveAllMatchesRemove(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	var lsets []labels.Labels
	for i := range 300 {
		lsets = append(lsets, labels.FromStrings("__name__", fmt.Sprintf("m%d", i%7), "job", "node",
			"shard", fmt.Sprint(i%16), fmt.Sprintf("only%d", i%50), "x"))
	}
	for _, share := range []float64{0, 0.01, 0.3, 0.9, 1} {
		t.Run(fmt.Sprint(share), func(t *testing.T) {
			one, all := newPostingsIndex(nil, nil), newPostingsIndex(nil, nil)
			for i, ls := range lsets {
				one.add(uint64(i+1), ls)
				all.add(uint64(i+1), ls)
			}
			var refs []uint64
			var gone []labels.Labels
			for i, ls := range lsets {
				if rng.Float64() < share || share == 1 {
					refs = append(refs, uint64(i+1))
					gone = append(gone, ls)
					one.remove(uint64(i+1), ls)
				}
			}
			all.removeAll(refs, gone)
			if fmt.Sprint(one.m) != fmt.Sprint(all.m) {
				t.Fatalf("postings: one by one %v\nat once %v", one.m, all.m)
			}
			if share == 1 && len(all.m) != 0 {
				t.Fatalf("every series gone, postings %v left", all.m)
			}
		})
	}
}
