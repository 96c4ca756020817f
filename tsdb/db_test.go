package tsdb

import (
	"context"
	"errors"
	"io"
	"math"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/value"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/tsdb/chunkenc"
)

type sample struct {
	t int64
	v float64
}

// query returns all samples of all series matching ms in [mint, maxt],
// keyed by the series' label string.
func query(t *testing.T, q storage.Queryable, mint, maxt int64, ms ...*labels.Matcher) map[string][]sample {
	t.Helper()
	qr, err := q.Querier(mint, maxt)
	if err != nil {
		t.Fatal(err)
	}
	defer qr.Close()
	ss := qr.Select(context.Background(), true, nil, ms...)
	out := map[string][]sample{}
	var it chunkenc.Iterator
	for ss.Next() {
		s := ss.At()
		it = s.Iterator(it)
		var got []sample
		for it.Next() == chunkenc.ValFloat {
			ts, v := it.At()
			got = append(got, sample{ts, v})
		}
		if err := it.Err(); err != nil {
			t.Fatal(err)
		}
		out[s.Labels().String()] = got
	}
	if err := ss.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func mustAppend(t *testing.T, a *Appender, ref uint64, lset labels.Labels, ts int64, v float64) uint64 {
	t.Helper()
	r, err := a.Append(ref, lset, ts, v)
	if err != nil {
		t.Fatalf("append %s@%d: %v", lset, ts, err)
	}
	return r
}

func TestAppendCommitRollback(t *testing.T) {
	db := newDB(anyTime(Options{}), nil)
	ls := labels.FromStrings("__name__", "up", "job", "a")
	app := db.Appender()
	mustAppend(t, app, 0, ls, 1000, 1)
	if got := query(t, db, math.MinInt64, math.MaxInt64); len(got) != 0 {
		t.Fatalf("uncommitted samples visible: %v", got)
	}
	if err := app.Commit(); err != nil {
		t.Fatal(err)
	}
	mustAppend(t, app, 0, ls, 2000, 2) // appender reusable after Commit
	if err := app.Rollback(); err != nil {
		t.Fatal(err)
	}
	mustAppend(t, app, 0, ls, 3000, 3)
	if err := app.Commit(); err != nil {
		t.Fatal(err)
	}
	got := query(t, db, math.MinInt64, math.MaxInt64)
	want := []sample{{1000, 1}, {3000, 3}}
	if s := got[ls.String()]; len(s) != 2 || s[0] != want[0] || s[1] != want[1] {
		t.Fatalf("got %v, want %v", got, want)
	}
	st := db.Stats()
	if st.Series != 1 || st.Samples != 2 || st.AppendedSamples != 2 || st.Chunks != 1 {
		t.Fatalf("stats %+v", st)
	}
}

func TestOrderChecks(t *testing.T) {
	ls := labels.FromStrings("__name__", "x")
	tests := []struct {
		name      string
		committed []sample // committed first
		buffered  []sample // appended in the same appender before the probe
		probe     sample
		wantErr   error
		wantStats Stats
	}{
		{"newer", []sample{{10, 1}}, nil, sample{11, 1}, nil, Stats{}},
		{"older than committed", []sample{{10, 1}}, nil, sample{9, 1}, ErrOutOfOrder, Stats{OutOfOrder: 1}},
		{"older than buffered", nil, []sample{{10, 1}}, sample{9, 1}, ErrOutOfOrder, Stats{OutOfOrder: 1}},
		{"same t different value", []sample{{10, 1}}, nil, sample{10, 2}, ErrDuplicateSample, Stats{Duplicates: 1}},
		{"same t different value buffered", nil, []sample{{10, 1}}, sample{10, 2}, ErrDuplicateSample, Stats{Duplicates: 1}},
		{"exact duplicate ignored", []sample{{10, 1}}, nil, sample{10, 1}, nil, Stats{IgnoredDuplicates: 1}},
		{"stale after value is duplicate", []sample{{10, 1}}, nil, sample{10, math.Float64frombits(value.StaleNaN)}, ErrDuplicateSample, Stats{Duplicates: 1}},
		{"NaN same bits ignored", []sample{{10, math.NaN()}}, nil, sample{10, math.NaN()}, nil, Stats{IgnoredDuplicates: 1}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			db := newDB(anyTime(Options{}), nil)
			a := db.Appender()
			for _, s := range tc.committed {
				mustAppend(t, a, 0, ls, s.t, s.v)
			}
			a.Commit()
			for _, s := range tc.buffered {
				mustAppend(t, a, 0, ls, s.t, s.v)
			}
			_, err := a.Append(0, ls, tc.probe.t, tc.probe.v)
			if !errors.Is(err, tc.wantErr) || (err == nil) != (tc.wantErr == nil) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			st := db.Stats()
			if st.OutOfOrder != tc.wantStats.OutOfOrder || st.Duplicates != tc.wantStats.Duplicates || st.IgnoredDuplicates != tc.wantStats.IgnoredDuplicates {
				t.Fatalf("stats %+v, want %+v", st, tc.wantStats)
			}
		})
	}
}

func TestCommitTimeOrderCheck(t *testing.T) {
	db := newDB(anyTime(Options{}), nil)
	ls := labels.FromStrings("__name__", "x")
	a1, a2 := db.Appender(), db.Appender()
	mustAppend(t, a1, 0, ls, 10, 1)
	mustAppend(t, a2, 0, ls, 20, 1)
	mustAppend(t, a2, 0, ls, 30, 1)
	a2.Commit()
	a1.Commit() // 10 is now out of order: dropped and counted
	got := query(t, db, 0, 100)[ls.String()]
	if len(got) != 2 || got[0].t != 20 {
		t.Fatalf("got %v", got)
	}
	if st := db.Stats(); st.OutOfOrder != 1 || st.AppendedSamples != 2 {
		t.Fatalf("stats %+v", st)
	}
}

func TestRefFastPath(t *testing.T) {
	db := newDB(anyTime(Options{}), nil)
	ls := labels.FromStrings("__name__", "x", "a", "b")
	a := db.Appender()
	ref := mustAppend(t, a, 0, ls, 10, 1)
	if ref == 0 {
		t.Fatal("ref 0 returned")
	}
	if r := mustAppend(t, a, ref, labels.EmptyLabels(), 20, 2); r != ref {
		t.Fatalf("ref changed %d -> %d", ref, r)
	}
	if _, err := a.Append(ref+1000, labels.EmptyLabels(), 30, 3); !errors.Is(err, ErrUnknownRef) {
		t.Fatalf("unknown ref: err = %v", err)
	}
	if _, err := a.Append(0, labels.EmptyLabels(), 30, 3); !errors.Is(err, ErrEmptyLabels) {
		t.Fatalf("empty labels: err = %v", err)
	}
	a.Commit()
	if got := query(t, db, 0, 100)[ls.String()]; len(got) != 2 {
		t.Fatalf("got %v", got)
	}
}

func TestHashCollisions(t *testing.T) {
	db := newDB(anyTime(Options{}), func(labels.Labels) uint64 { return 42 })
	a := db.Appender()
	var sets []labels.Labels
	for _, v := range []string{"a", "b", "c", "d"} {
		ls := labels.FromStrings("__name__", "m", "x", v)
		sets = append(sets, ls)
		mustAppend(t, a, 0, ls, 10, float64(len(v)))
	}
	a.Commit()
	for i, ls := range sets {
		mustAppend(t, a, 0, ls, 20, float64(i))
	}
	a.Commit()
	got := query(t, db, 0, 100, labels.MustNewMatcher(labels.MatchEqual, "__name__", "m"))
	if len(got) != 4 {
		t.Fatalf("got %d series, want 4", len(got))
	}
	for i, ls := range sets {
		s := got[ls.String()]
		if len(s) != 2 || s[1].v != float64(i) {
			t.Fatalf("%s: %v", ls, s)
		}
	}
	// GC one colliding series; the others stay reachable.
	db.series.remove(db.series.getByRef(1))
	if s, created := db.series.getOrCreate(sets[2], nil); created || s.ref != 3 {
		t.Fatalf("lost colliding series after removal: created=%v ref=%d", created, s.ref)
	}
	// Remove one from the middle of the collision list, then the rest;
	// every other series stays found, and a removed one is created anew.
	db.series.remove(db.series.getByRef(3))
	for ref, ls := range map[uint64]labels.Labels{2: sets[1], 4: sets[3]} {
		if s := db.series.get(ls); s == nil || s.ref != ref {
			t.Fatalf("%s not found after removing ref 3: %v", ls, s)
		}
	}
	db.series.remove(db.series.getByRef(2))
	db.series.remove(db.series.getByRef(4))
	for _, ls := range sets {
		if s := db.series.get(ls); s != nil {
			t.Fatalf("%s still found after removal (ref %d)", ls, s.ref)
		}
	}
	if s, created := db.series.getOrCreate(sets[0], nil); !created || s.ref != 5 {
		t.Fatalf("re-created series: created=%v ref=%d", created, s.ref)
	}
}

func TestRetentionAndGC(t *testing.T) {
	var clock testClock
	db := newDB(Options{Retention: time.Hour, Now: clock.now}, nil)
	a := db.Appender()
	keep := labels.FromStrings("__name__", "keep")
	gone := labels.FromStrings("__name__", "gone")
	const step = 15_000
	// "gone" stops after 10 minutes; "keep" runs for 3 hours.
	for ts := int64(0); ts <= 3*3600_000; ts += step {
		clock.set(ts)
		mustAppend(t, a, 0, keep, ts, float64(ts))
		if ts <= 600_000 {
			mustAppend(t, a, 0, gone, ts, 1)
		}
		a.Commit()
	}
	cutoff := int64(3*3600_000 - 3600_000)
	s := db.series.getByRef(1)
	for _, c := range s.chunks {
		if c.maxt < cutoff {
			t.Fatalf("chunk [%d,%d] wholly before cutoff %d kept", c.mint, c.maxt, cutoff)
		}
	}
	// At most one chunk straddles the cutoff.
	if s.chunks[0].mint > cutoff {
		t.Fatalf("oldest chunk starts after cutoff: dropped too much")
	}
	if db.Stats().Series != 2 {
		t.Fatal("series GCed before GC ran")
	}
	v := db.PostingsVersion()
	db.GC()
	if db.PostingsVersion() == v {
		t.Fatal("PostingsVersion unchanged by removing a series")
	}
	st := db.Stats()
	if st.Series != 1 || st.GCedSeries != 1 {
		t.Fatalf("stats after GC %+v", st)
	}
	if got := db.Postings(nil, labels.MustNewMatcher(labels.MatchEqual, "__name__", "gone")); len(got) != 0 {
		t.Fatalf("postings still hold GCed series: %v", got)
	}
	if names, _, _ := mustQuerier(t, db).LabelValues(context.Background(), "__name__", nil); len(names) != 1 || names[0] != "keep" {
		t.Fatalf("label values after GC: %v", names)
	}
	clock.set(4 * 3600_000)
	if _, err := a.Append(2, labels.EmptyLabels(), 4*3600_000, 1); !errors.Is(err, ErrUnknownRef) {
		t.Fatalf("append to GCed ref: %v", err)
	}
	v = db.PostingsVersion()
	mustAppend(t, a, 1, keep, 4*3600_000, 1) // an existing series: same postings
	a.Commit()
	if db.PostingsVersion() != v {
		t.Fatal("PostingsVersion changed by a sample of an existing series")
	}
	// Ref 0 recreates it.
	mustAppend(t, a, 0, gone, 4*3600_000, 1)
	a.Commit()
	if db.Stats().Series != 2 {
		t.Fatal("series not recreated")
	}
}

func TestCommitAfterGCRecreates(t *testing.T) {
	var clock testClock
	db := newDB(Options{Retention: time.Minute, Now: clock.now}, nil)
	a, b := db.Appender(), db.Appender()
	old := labels.FromStrings("__name__", "old")
	mustAppend(t, a, 0, old, 0, 1)
	a.Commit()
	mustAppend(t, a, 0, old, 1000, 2) // buffered
	clock.set(3600_000)
	mustAppend(t, b, 0, labels.FromStrings("__name__", "new"), 3600_000, 1)
	b.Commit()
	db.GC() // pending sample protects "old"
	if db.Stats().Series != 2 {
		t.Fatal("series with pending sample was GCed")
	}
	a.Commit()
	if got := query(t, db, 0, 2000)[old.String()]; len(got) != 2 {
		t.Fatalf("got %v", got)
	}
}

func mustQuerier(t *testing.T, db *DB) storage.Querier {
	t.Helper()
	q, err := db.Querier(math.MinInt64, math.MaxInt64)
	if err != nil {
		t.Fatal(err)
	}
	return q
}

func TestStaleMarkerRoundTrip(t *testing.T) {
	db := newDB(anyTime(Options{}), nil)
	a := db.Appender()
	ls := labels.FromStrings("__name__", "x")
	stale := math.Float64frombits(value.StaleNaN)
	for i := range 300 {
		v := float64(i)
		if i%7 == 0 {
			v = stale
		}
		mustAppend(t, a, 0, ls, int64(i)*1000, v)
	}
	a.Commit()
	got := query(t, db, 0, math.MaxInt64)[ls.String()]
	if len(got) != 300 {
		t.Fatalf("got %d samples", len(got))
	}
	for i, s := range got {
		if (i%7 == 0) != value.IsStaleNaN(s.v) {
			t.Fatalf("sample %d: stale=%v", i, value.IsStaleNaN(s.v))
		}
	}
}

func TestIteratorSeekNext(t *testing.T) {
	db := newDB(anyTime(Options{}), nil)
	a := db.Appender()
	ls := labels.FromStrings("__name__", "x")
	// 500 samples at t = 0, 10, 20, ... spanning several chunks.
	for i := range 500 {
		mustAppend(t, a, 0, ls, int64(i)*10, float64(i))
	}
	a.Commit()
	q, _ := db.Querier(100, 4000) // samples 10..400
	ss := q.Select(context.Background(), false, nil, labels.MustNewMatcher(labels.MatchEqual, "__name__", "x"))
	if !ss.Next() {
		t.Fatal("no series")
	}
	series := ss.At()
	type step struct {
		op    string // "next" or "seek"
		arg   int64
		want  chunkenc.ValueType
		wantT int64
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{"next from start", []step{{"next", 0, chunkenc.ValFloat, 100}, {"next", 0, chunkenc.ValFloat, 110}}},
		{"seek before mint", []step{{"seek", 0, chunkenc.ValFloat, 100}}},
		{"seek exact", []step{{"seek", 1200, chunkenc.ValFloat, 1200}, {"next", 0, chunkenc.ValFloat, 1210}}},
		{"seek between", []step{{"seek", 1205, chunkenc.ValFloat, 1210}}},
		{"seek backwards is no-op", []step{{"seek", 2000, chunkenc.ValFloat, 2000}, {"seek", 500, chunkenc.ValFloat, 2000}}},
		{"seek across chunks", []step{{"next", 0, chunkenc.ValFloat, 100}, {"seek", 3500, chunkenc.ValFloat, 3500}}},
		{"seek to maxt", []step{{"seek", 4000, chunkenc.ValFloat, 4000}, {"next", 0, chunkenc.ValNone, 0}}},
		{"seek past maxt", []step{{"seek", 4001, chunkenc.ValNone, 0}, {"next", 0, chunkenc.ValNone, 0}, {"seek", 0, chunkenc.ValNone, 0}}},
	}
	var it chunkenc.Iterator
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			it = series.Iterator(it) // reuse
			for i, s := range tc.steps {
				var got chunkenc.ValueType
				if s.op == "next" {
					got = it.Next()
				} else {
					got = it.Seek(s.arg)
				}
				if got != s.want {
					t.Fatalf("step %d %s(%d) = %v, want %v", i, s.op, s.arg, got, s.want)
				}
				if got == chunkenc.ValFloat {
					if ts, v := it.At(); ts != s.wantT || v != float64(ts/10) || it.AtT() != ts {
						t.Fatalf("step %d: At = %d,%v want %d", i, ts, v, s.wantT)
					}
				}
			}
			_, _ = it.AtHistogram(nil) // must not crash
			_, _ = it.AtFloatHistogram(nil)
		})
	}
	// Full count in range.
	it = series.Iterator(it)
	n := 0
	for it.Next() == chunkenc.ValFloat {
		n++
	}
	if n != 391 {
		t.Fatalf("got %d samples in [100,4000], want 391", n)
	}
}

func TestLabelNamesValues(t *testing.T) {
	db := newDB(anyTime(Options{}), nil)
	a := db.Appender()
	mustAppend(t, a, 0, labels.FromStrings("__name__", "a", "job", "x", "inst", "1"), 1, 1)
	mustAppend(t, a, 0, labels.FromStrings("__name__", "a", "job", "y"), 1, 1)
	mustAppend(t, a, 0, labels.FromStrings("__name__", "b", "env", "prod"), 1, 1)
	a.Commit()
	q := mustQuerier(t, db)
	ctx := context.Background()
	eq := func(a, b []string) bool {
		if len(a) != len(b) {
			return false
		}
		for i := range a {
			if a[i] != b[i] {
				return false
			}
		}
		return true
	}
	names, _, _ := q.LabelNames(ctx, nil)
	if !eq(names, []string{"__name__", "env", "inst", "job"}) {
		t.Fatalf("names %v", names)
	}
	names, _, _ = q.LabelNames(ctx, nil, labels.MustNewMatcher(labels.MatchEqual, "__name__", "a"))
	if !eq(names, []string{"__name__", "inst", "job"}) {
		t.Fatalf("names with matcher %v", names)
	}
	vals, _, _ := q.LabelValues(ctx, "job", nil)
	if !eq(vals, []string{"x", "y"}) {
		t.Fatalf("values %v", vals)
	}
	vals, _, _ = q.LabelValues(ctx, "job", &storage.LabelHints{Limit: 1}, labels.MustNewMatcher(labels.MatchRegexp, "inst", ".+"))
	if !eq(vals, []string{"x"}) {
		t.Fatalf("values with matcher %v", vals)
	}
}

func TestConcurrentAppendQuery(t *testing.T) {
	const writers, series, rounds = 4, 50, 300
	// The clock follows the slowest writer, so that no writer's samples
	// are too old; the others may run ahead of it by up to a day.
	var progress [writers]atomic.Int64
	now := func() time.Time {
		m := int64(math.MaxInt64)
		for i := range progress {
			m = min(m, progress[i].Load())
		}
		return time.UnixMilli(m)
	}
	db := newDB(Options{Retention: 10 * time.Minute, Now: now, FutureWindow: 24 * time.Hour}, nil)
	var wg sync.WaitGroup
	ctx, cancel := context.WithCancel(context.Background())
	for w := range writers {
		wg.Go(func() {
			a := db.Appender()
			refs := make([]uint64, series)
			for r := range rounds {
				progress[w].Store(int64(r) * 15_000)
				for s := range series {
					ls := labels.FromStrings("__name__", "m", "w", string(rune('a'+w)), "s", string(rune('A'+s)))
					ref, err := a.Append(refs[s], ls, int64(r)*15_000, float64(r))
					if errors.Is(err, ErrUnknownRef) {
						ref, err = a.Append(0, ls, int64(r)*15_000, float64(r))
					}
					if err != nil {
						t.Error(err)
						return
					}
					refs[s] = ref
				}
				a.Commit()
				if r%50 == 0 {
					db.GC()
				}
			}
		})
	}
	var readers sync.WaitGroup
	readers.Go(func() {
		for ctx.Err() == nil {
			q, _ := db.Querier(math.MinInt64, math.MaxInt64)
			ss := q.Select(ctx, true, nil, labels.MustNewMatcher(labels.MatchRegexp, "w", "a|b"))
			var it chunkenc.Iterator
			for ss.Next() {
				it = ss.At().Iterator(it)
				last := int64(math.MinInt64)
				for it.Next() == chunkenc.ValFloat {
					if ts := it.AtT(); ts <= last {
						t.Errorf("timestamps not increasing: %d after %d", ts, last)
						return
					} else {
						last = ts
					}
				}
			}
			db.Stats()
			if _, err := db.WriteSnapshot(io.Discard); err != nil {
				t.Error(err)
			}
		}
	})
	wg.Wait()
	cancel()
	readers.Wait()
	db.GC()
	checkGauges(t, db, "end")
	got := query(t, db, math.MinInt64, math.MaxInt64)
	if len(got) != writers*series {
		t.Fatalf("got %d series", len(got))
	}
	for k, s := range got {
		// 10 minutes of retention at 15s plus up to one chunk of slack.
		if n := len(s); n < 41 || n > 41+samplesPerChunk {
			t.Fatalf("%s: %d samples", k, n)
		}
	}
}

func TestRunSnapshotsOnShutdown(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		path := t.TempDir() + "/snap"
		db, err := Open(Options{SnapshotPath: path, SnapshotInterval: time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		a := db.Appender()
		mustAppend(t, a, 0, labels.FromStrings("__name__", "x"), time.Now().UnixMilli(), 1)
		a.Commit()
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error)
		go func() { done <- db.Run(ctx) }()
		<-time.After(150 * time.Second) // fake time inside the bubble: two interval snapshots
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if got := db.Stats().Snapshots; got != 3 {
			t.Fatalf("snapshots = %d, want 3 (two on interval, one at shutdown)", got)
		}
		db2, err := Open(Options{SnapshotPath: path})
		if err != nil {
			t.Fatal(err)
		}
		if db2.Stats().Samples != 1 {
			t.Fatalf("reloaded stats %+v", db2.Stats())
		}
	})
}

func TestRunGarbageCollectsEveryMinute(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		db, err := Open(Options{Retention: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now() // the bubble's fake clock
		a := db.Appender()
		// "old" leaves retention after 30s, "new" after an hour.
		mustAppend(t, a, 0, labels.FromStrings("__name__", "old"), start.Add(-59*time.Minute-30*time.Second).UnixMilli(), 1)
		mustAppend(t, a, 0, labels.FromStrings("__name__", "new"), start.UnixMilli(), 1)
		a.Commit()
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error)
		go func() { done <- db.Run(ctx) }()
		<-time.After(59 * time.Second)
		synctest.Wait()
		if got := db.Stats(); got.GCedSeries != 0 || got.GCRuns != 0 {
			t.Fatalf("GC ran early: %+v", got)
		}
		<-time.After(2 * time.Second)
		synctest.Wait()
		if got := db.Stats(); got.GCedSeries != 1 || got.Series != 1 || got.GCRuns != 1 {
			t.Fatalf("after one minute: %+v", got)
		}
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	})
}

func TestGCInterval(t *testing.T) {
	tests := []struct {
		retention, want time.Duration
	}{
		{0, time.Minute}, // default 2h
		{time.Hour, time.Minute},
		{10 * time.Minute, time.Minute},
		{2 * time.Minute, 12 * time.Second},
		{5 * time.Second, time.Second},
	}
	for _, tc := range tests {
		t.Run(tc.retention.String(), func(t *testing.T) {
			if got := newDB(Options{Retention: tc.retention}, nil).gcInterval(); got != tc.want {
				t.Fatalf("gcInterval = %v, want %v", got, tc.want)
			}
		})
	}
}
