//go:build linux

package tsdb

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/tsdb/chunkenc"
)

// chunkValue is the value of series k at t in the chunk file tests, so that
// a reader can check every sample it reads.
func chunkValue(k int, t int64) float64 { return float64(t) + float64(k)/8 }

func chunkSeries(k int) labels.Labels {
	return labels.FromStrings("__name__", "m", "k", strconv.Itoa(k))
}

// appendRound appends one sample at t to each of n series.
func appendRound(t *testing.T, db *DB, n int, ts int64) {
	t.Helper()
	a := db.Appender()
	for k := range n {
		if _, err := a.Append(0, chunkSeries(k), ts, chunkValue(k, ts)); err != nil {
			t.Fatalf("append %d@%d: %v", k, ts, err)
		}
	}
	if err := a.Commit(); err != nil {
		t.Fatal(err)
	}
}

// checkSamples reports an error for a sample of series lset that is not
// chunkValue's, and returns the number checked.
func checkSamples(t *testing.T, lset labels.Labels, ts []int64, vs []float64) int {
	k, _ := strconv.Atoi(lset.Get("k"))
	for i := range ts {
		if want := chunkValue(k, ts[i]); vs[i] != want {
			t.Errorf("%s@%d = %v, want %v", lset, ts[i], vs[i], want)
			return i
		}
	}
	return len(ts)
}

// TestChunkFilesRetentionUnderConcurrentReads drops chunks by retention,
// garbage collection and DeleteSeries while queriers, ReadRanges, Slide,
// SeriesIterator and snapshots read, with segments of 4 KiB so that
// segments are removed all the time: every sample read is the one written
// (no reader crashes or reads a reused file), and at the end every
// segment but the current one is gone. Run with -race.
func TestChunkFilesRetentionUnderConcurrentReads(t *testing.T) {
	const series, rounds, step = 40, 2000, 1000
	var clock testClock
	dir := t.TempDir()
	db, err := Open(Options{Retention: 200 * time.Second, Now: clock.now, ChunksDir: dir, segmentSize: 4 << 10})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var done atomic.Bool
	var readers sync.WaitGroup
	var checked atomic.Int64
	readers.Go(func() { // queriers
		var it chunkenc.Iterator
		for !done.Load() {
			q, _ := db.Querier(math.MinInt64, math.MaxInt64)
			ss := q.Select(context.Background(), false, nil, labels.MustNewMatcher(labels.MatchEqual, "__name__", "m"))
			for ss.Next() {
				it = ss.At().Iterator(it)
				var ts []int64
				var vs []float64
				for it.Next() == chunkenc.ValFloat {
					t, v := it.At()
					ts, vs = append(ts, t), append(vs, v)
				}
				checked.Add(int64(checkSamples(t, ss.At().Labels(), ts, vs)))
			}
			q.Close()
		}
	})
	readers.Go(func() { // the native read paths and snapshots
		var smp Samples
		var it SampleIterator
		var ws [series][2]Window // a Window and a Tally belong to one series
		var tallies [series][1]Tally
		for i := 0; !done.Load(); i++ {
			now := clock.ms.Load()
			for k := range series {
				ref := uint64(k + 1)
				if lset, ok := db.ReadRanges(ref, []Range{{now - 300_000, now}}, &smp); ok {
					ts, vs := smp.Range(0)
					checked.Add(int64(checkSamples(t, lset, ts, vs)))
				}
				rs := []Range{{now - 250_000, now}, {now - 30_000, now}}
				if lset, ok := db.Slide(ref, rs, ws[k][:], []Range{{now - 100_000, now}}, tallies[k][:], nil); ok {
					for _, w := range ws[k] {
						ts, vs := w.Samples()
						checked.Add(int64(checkSamples(t, lset, ts, vs)))
					}
				}
				if lset, ok := db.SeriesIterator(ref, math.MinInt64, math.MaxInt64, &it); ok {
					var ts []int64
					var vs []float64
					for it.Next() == chunkenc.ValFloat {
						t, v := it.At()
						ts, vs = append(ts, t), append(vs, v)
					}
					checked.Add(int64(checkSamples(t, lset, ts, vs)))
				}
			}
			if i%8 == 0 {
				if _, err := db.WriteSnapshot(io.Discard); err != nil {
					t.Error(err)
				}
			}
		}
	})
	for r := range rounds {
		ts := int64(r) * step
		clock.set(ts)
		appendRound(t, db, series, ts)
		if r%20 == 0 {
			db.GC()
		}
		if r%300 == 150 { // series 0 goes and comes back with a new ref
			if _, err := db.DeleteSeries(context.Background(), math.MinInt64, math.MaxInt64, labels.MustNewMatcher(labels.MatchEqual, "k", "0")); err != nil {
				t.Fatal(err)
			}
		}
	}
	done.Store(true)
	readers.Wait()
	if checked.Load() == 0 {
		t.Fatal("the readers checked no sample")
	}
	st := db.Stats()
	if st.ChunkFileBytes == 0 || st.ChunkFileFallbacks != 0 || db.slab.files.segsFreed.Load() < 10 {
		t.Fatalf("chunk files unused or not reclaimed: %+v, freed %d", st, db.slab.files.segsFreed.Load())
	}
	// Everything passes retention: every segment but the current goes.
	clock.set(rounds*step + 1_000_000)
	db.GC()
	if st := db.Stats(); st.Series != 0 || st.ChunkFileBytes != 0 || st.ChunkFileMapped != 4<<10 {
		t.Fatalf("after all passed retention: %+v", st)
	}
	if got := segFiles(t, dir); len(got) != 1 {
		t.Fatalf("segment files left: %v", got)
	}
}

// TestChunkFilesDB: the store with chunk files returns what the heap store
// returns, through snapshots too; Close removes the files; SeriesIterator
// stays valid after its chunks' files are gone.
func TestChunkFilesDB(t *testing.T) {
	const series, rounds = 10, 1000
	dir := t.TempDir()
	open := func(opts Options) *DB {
		opts.Now = func() time.Time { return time.UnixMilli(rounds * 1000) }
		opts.Retention = 24 * time.Hour
		db, err := Open(opts)
		if err != nil {
			t.Fatal(err)
		}
		for r := range rounds {
			appendRound(t, db, series, int64(r)*1000)
		}
		return db
	}
	heap, files := open(Options{}), open(Options{ChunksDir: dir, segmentSize: 8 << 10})
	all := labels.MustNewMatcher(labels.MatchEqual, "__name__", "m")
	want := query(t, heap, math.MinInt64, math.MaxInt64, all)
	if got := query(t, files, math.MinInt64, math.MaxInt64, all); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatal("the store with chunk files returns other samples")
	}
	if st := files.Stats(); st.ChunkFileBytes < int64(st.ChunkBytes)*3/4 || len(segFiles(t, dir)) < 2 {
		t.Fatalf("chunks not in files: %+v, files %v", st, segFiles(t, dir))
	}
	// A snapshot written from files loads into files.
	var snap bytes.Buffer
	if _, err := files.WriteSnapshot(&snap); err != nil {
		t.Fatal(err)
	}
	var hsnap bytes.Buffer
	heap.WriteSnapshot(&hsnap)
	if !bytes.Equal(snap.Bytes(), hsnap.Bytes()) {
		t.Fatal("snapshots of the heap and the file store differ")
	}
	var it SampleIterator
	if _, ok := files.SeriesIterator(1, math.MinInt64, math.MaxInt64, &it); !ok {
		t.Fatal("series 1 not found")
	}
	segs := *files.slab.files.segs.Load()
	if len(segs) < 2 {
		t.Fatalf("%d segments", len(segs))
	}
	if err := files.Close(); err != nil {
		t.Fatal(err)
	}
	if got := segFiles(t, dir); len(got) != 0 {
		t.Fatalf("files left after Close: %v", got)
	}
	// Unmapped: the iterator reads its own copy.
	for _, seg := range segs {
		unmapSegment(seg.mem)
	}
	n := 0
	for it.Next() == chunkenc.ValFloat {
		if ts, v := it.At(); v != chunkValue(0, ts) {
			t.Fatalf("iterator after Close: %v@%d", v, ts)
		}
		n++
	}
	if n != rounds {
		t.Fatalf("iterator read %d samples after Close, want %d", n, rounds)
	}
	reloaded, err := Open(Options{ChunksDir: dir, Now: func() time.Time { return time.UnixMilli(rounds * 1000) }, Retention: 24 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer reloaded.Close()
	if err := reloaded.loadSnapshot(snap.Bytes()); err != nil {
		t.Fatal(err)
	}
	if got := query(t, reloaded, math.MinInt64, math.MaxInt64, all); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatal("a snapshot loaded into chunk files returns other samples")
	}
	if reloaded.Stats().ChunkFileBytes == 0 {
		t.Fatal("snapshot chunks not loaded into files")
	}
}

// TestChunkFilesFallbackLogged: chunks whose file write fails stay on the
// heap, are counted in Stats and logged by the next GC.
func TestChunkFilesFallbackLogged(t *testing.T) {
	var log bytes.Buffer
	db, err := Open(anyTime(Options{ChunksDir: t.TempDir(), Logger: slog.New(slog.NewTextHandler(&log, nil))}))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for r := range 2 * samplesPerChunk {
		appendRound(t, db, 1, int64(r))
	}
	cur := db.slab.files.cur
	ro, err := os.Open(cur.path)
	if err != nil {
		t.Fatal(err)
	}
	rw := cur.f
	defer rw.Close()
	cur.f = ro // writes now fail
	for r := 2 * samplesPerChunk; r < 4*samplesPerChunk+1; r++ {
		appendRound(t, db, 1, int64(r))
	}
	st := db.Stats()
	if st.ChunkFileFallbacks != 3 || st.Chunks != 5 {
		t.Fatalf("stats %+v, want 3 fallbacks of 4 sealed chunks", st)
	}
	got := query(t, db, math.MinInt64, math.MaxInt64)[chunkSeries(0).String()]
	if len(got) != 4*samplesPerChunk+1 {
		t.Fatalf("%d samples, want %d", len(got), 4*samplesPerChunk+1)
	}
	db.GC()
	if !strings.Contains(log.String(), "cannot write chunk files") || !strings.Contains(log.String(), "chunks=3") {
		t.Fatalf("log: %s", log.String())
	}
}
