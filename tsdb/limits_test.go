package tsdb

import (
	"errors"
	"fmt"
	"math"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"
)

// walkStats computes the gauges of Stats by walking every series, as Stats
// did before it kept them up to date: the reference the counters are checked
// against.
func walkStats(db *DB) Stats {
	var st Stats
	db.series.forEach(func(s *memSeries) {
		s.mu.Lock()
		defer s.mu.Unlock()
		st.Series++
		for i := range s.chunks {
			st.Chunks++
			st.Samples += s.chunks[i].numSamples()
			st.ChunkBytes += int(s.chunks[i].size)
		}
		if n := s.headSamples(); n > 0 {
			st.Chunks++
			st.Samples += n
			st.ChunkBytes += len(s.head.Bytes())
		}
		if s.ext != nil {
			f := s.ext.footprint()
			st.Chunks += int(f.chunks)
			st.Samples += int(f.samples)
			st.ChunkBytes += int(f.bytes)
		}
	})
	return st
}

func checkGauges(t *testing.T, db *DB, when string) {
	t.Helper()
	got, want := db.Stats(), walkStats(db)
	if got.Series != want.Series || got.Samples != want.Samples || got.Chunks != want.Chunks || got.ChunkBytes != want.ChunkBytes {
		t.Fatalf("%s: gauges %d series %d samples %d chunks %d bytes, walking finds %d %d %d %d", when,
			got.Series, got.Samples, got.Chunks, got.ChunkBytes, want.Series, want.Samples, want.Chunks, want.ChunkBytes)
	}
}

func TestTimeBounds(t *testing.T) {
	const now = int64(10 * 3600_000)
	ls := labels.FromStrings("__name__", "x")
	tests := []struct {
		name    string
		t       int64
		wantErr error
		want    Stats // only TooOld and TooFarInFuture are compared
	}{
		{"now", now, nil, Stats{}},
		{"at the retention cutoff", now - 3600_000, nil, Stats{}},
		{"before the retention cutoff", now - 3600_000 - 1, ErrTooOld, Stats{TooOld: 1}},
		{"at the end of the future window", now + 5*60_000, nil, Stats{}},
		{"past the future window", now + 5*60_000 + 1, ErrTooFarInFuture, Stats{TooFarInFuture: 1}},
		{"three hours ahead", now + 3*3600_000, ErrTooFarInFuture, Stats{TooFarInFuture: 1}},
		{"epoch", 0, ErrTooOld, Stats{TooOld: 1}},
		{"max int", math.MaxInt64, ErrTooFarInFuture, Stats{TooFarInFuture: 1}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var clock testClock
			clock.set(now)
			db := newDB(Options{Retention: time.Hour, Now: clock.now}, nil)
			a := db.Appender()
			_, err := a.Append(0, ls, tc.t, 1)
			if !errors.Is(err, tc.wantErr) || (err == nil) != (tc.wantErr == nil) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			if err != nil && !errors.Is(err, ErrOutOfBounds) {
				t.Fatalf("%v does not wrap ErrOutOfBounds", err)
			}
			a.Commit()
			st := db.Stats()
			if st.TooOld != tc.want.TooOld || st.TooFarInFuture != tc.want.TooFarInFuture {
				t.Fatalf("stats %+v, want %+v", st, tc.want)
			}
			// A refused sample creates no series.
			if wantSeries := 0; err == nil {
				wantSeries = 1
				if st.Series != wantSeries {
					t.Fatalf("series = %d, want %d", st.Series, wantSeries)
				}
			} else if st.Series != wantSeries || st.CreatedSeries != 0 {
				t.Fatalf("refused sample created a series: %+v", st)
			}
		})
	}
}

// TestSkewedTargetKeepsOthersHistory is reproduction 3 of issue #11: a
// target three hours ahead used to move the retention cutoff with it and
// empty the store. Now its samples are refused and retention follows the
// clock.
func TestSkewedTargetKeepsOthersHistory(t *testing.T) {
	var clock testClock
	db := newDB(Options{Retention: 2 * time.Hour, Now: clock.now}, nil)
	good := labels.FromStrings("__name__", "up", "job", "control")
	skewed := labels.FromStrings("__name__", "skewed_metric", "job", "skewed")
	const start, step = int64(1_700_000_000_000), int64(15_000)
	var refused int
	for i := range 480 { // two hours of scrapes
		ts := start + int64(i)*step
		clock.set(ts)
		a := db.Appender()
		mustAppend(t, a, 0, good, ts, 1)
		if _, err := a.Append(0, skewed, ts+3*3600_000, 1); errors.Is(err, ErrTooFarInFuture) {
			refused++
		} else {
			t.Fatalf("skewed sample: err = %v, want ErrTooFarInFuture", err)
		}
		a.Commit()
		if i%4 == 0 {
			db.GC()
		}
	}
	if got := query(t, db, math.MinInt64, math.MaxInt64)[good.String()]; len(got) != 480 {
		t.Fatalf("control series has %d samples after two hours, want 480", len(got))
	}
	st := db.Stats()
	if st.TooFarInFuture != uint64(refused) || st.Series != 1 || st.GCedSeries != 0 {
		t.Fatalf("stats %+v, want %d refused, 1 series, none collected", st, refused)
	}
	// A sample inside the future window is kept and does not move the
	// cutoff for the others either.
	clock.set(start + 480*step)
	a := db.Appender()
	mustAppend(t, a, 0, skewed, start+480*step+4*60_000, 1)
	a.Commit()
	db.GC()
	if got := query(t, db, math.MinInt64, math.MaxInt64)[good.String()]; len(got) != 480 {
		t.Fatalf("control series has %d samples after a sample 4m ahead, want 480", len(got))
	}
	checkGauges(t, db, "end")
}

func TestSeriesLimit(t *testing.T) {
	tests := []struct {
		name       string
		max        int
		appends    int // distinct new series appended
		wantSeries int
	}{
		{"under", 10, 5, 5},
		{"at", 10, 10, 10},
		{"over", 10, 25, 10},
		{"negative is unlimited", -1, 25, 25},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			db := newDB(anyTime(Options{MaxSeries: tc.max}), nil)
			a := db.Appender()
			refused := 0
			for i := range tc.appends {
				_, err := a.Append(0, labels.FromStrings("__name__", "m", "i", fmt.Sprint(i)), 1000, 1)
				switch {
				case errors.Is(err, ErrSeriesLimit):
					refused++
				case err != nil:
					t.Fatal(err)
				}
			}
			a.Commit()
			st := db.Stats()
			if st.Series != tc.wantSeries || refused != tc.appends-tc.wantSeries || st.SeriesLimit != uint64(refused) {
				t.Fatalf("series %d, refused %d (counted %d); want %d series", st.Series, refused, st.SeriesLimit, tc.wantSeries)
			}
			// Series that exist take samples at the limit.
			mustAppend(t, a, 0, labels.FromStrings("__name__", "m", "i", "0"), 2000, 1)
			a.Commit()
		})
	}
}

func TestSeriesLimitFreedByGC(t *testing.T) {
	var clock testClock
	db := newDB(Options{Retention: time.Minute, MaxSeries: 2, Now: clock.now}, nil)
	a := db.Appender()
	mustAppend(t, a, 0, labels.FromStrings("__name__", "a"), 0, 1)
	mustAppend(t, a, 0, labels.FromStrings("__name__", "b"), 0, 1)
	if _, err := a.Append(0, labels.FromStrings("__name__", "c"), 0, 1); !errors.Is(err, ErrSeriesLimit) {
		t.Fatalf("third series: err = %v, want ErrSeriesLimit", err)
	}
	a.Commit()
	clock.set(120_000)
	db.GC()
	mustAppend(t, a, 0, labels.FromStrings("__name__", "c"), 120_000, 1)
	a.Commit()
	if st := db.Stats(); st.Series != 1 || st.GCedSeries != 2 {
		t.Fatalf("stats %+v", st)
	}
}

func TestSeriesLimitConcurrent(t *testing.T) {
	const max, writers, each = 100, 8, 50
	db := newDB(anyTime(Options{MaxSeries: max}), nil)
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			a := db.Appender()
			for i := range each {
				// Half the label sets are shared between writers.
				id := fmt.Sprint(w, "-", i)
				if i%2 == 0 {
					id = fmt.Sprint(i)
				}
				if _, err := a.Append(0, labels.FromStrings("__name__", "m", "id", id), 1000, 1); err != nil && !errors.Is(err, ErrSeriesLimit) {
					t.Error(err)
				}
			}
			a.Commit()
		})
	}
	wg.Wait()
	if st := db.Stats(); st.Series != max {
		t.Fatalf("series = %d, want exactly the limit %d", st.Series, max)
	}
	checkGauges(t, db, "end")
}

// TestStatsGauges checks the gauges Stats keeps against a walk of the
// series through appends, sealing, truncation on commit, GC and a snapshot
// reload.
func TestStatsGauges(t *testing.T) {
	var clock testClock
	db := newDB(Options{Retention: 30 * time.Minute, Now: clock.now}, nil)
	const step = 15_000
	checkGauges(t, db, "empty")
	for i := range 1000 {
		ts := int64(i) * step
		clock.set(ts)
		a := db.Appender()
		for s := range 20 {
			// Series stop at different times, so that GC removes some.
			if i < 200*(s%5+1) {
				mustAppend(t, a, 0, labels.FromStrings("__name__", "m", "s", fmt.Sprint(s)), ts, float64(i*s))
			}
		}
		a.Commit()
		if i%100 == 0 {
			checkGauges(t, db, fmt.Sprintf("scrape %d", i))
			db.GC()
			checkGauges(t, db, fmt.Sprintf("GC after scrape %d", i))
		}
	}
	if db.Stats().GCedSeries == 0 || db.Stats().DroppedChunks == 0 {
		t.Fatalf("nothing collected: %+v", db.Stats())
	}
	db2 := newDB(anyTime(Options{}), nil)
	if err := db2.loadSnapshot(snapshotBytes(t, db)); err != nil {
		t.Fatal(err)
	}
	checkGauges(t, db2, "reloaded")
	if a, b := db.Stats(), db2.Stats(); a.Samples != b.Samples || a.ChunkBytes != b.ChunkBytes {
		t.Fatalf("reloaded gauges %+v differ from %+v", b, a)
	}
}
