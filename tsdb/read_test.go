package tsdb

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/value"
	"github.com/prometheus/prometheus/tsdb/chunkenc"
)

// readTestDB fills a DB with series of different shapes: regular and
// jittered intervals, gaps wider than the checkpoints' 32-bit fields,
// counters, gauges, constants and stale markers.
func readTestDB(t *testing.T, rng *rand.Rand) *DB {
	t.Helper()
	db := newDB(anyTime(Options{}), nil)
	stale := math.Float64frombits(value.StaleNaN)
	shapes := []struct {
		name string
		step func(i int) int64
		val  func(i int, prev float64) float64
	}{
		{"regular-counter", func(int) int64 { return 15_000 }, func(_ int, p float64) float64 { return p + float64(rng.IntN(50)) }},
		{"jitter-gauge", func(int) int64 { return 15_000 + rng.Int64N(2000) - 1000 }, func(int, float64) float64 { return rng.NormFloat64() * 1e6 }},
		{"constant", func(int) int64 { return 10_000 }, func(int, float64) float64 { return 7 }},
		{"stale", func(int) int64 { return 15_000 }, func(i int, p float64) float64 {
			if i%37 == 5 {
				return stale
			}
			return float64(i)
		}},
		{"huge-gaps", func(i int) int64 {
			if i%45 == 44 {
				return 60 * 24 * 3600 * 1000 // 60 days: past uint32 milliseconds
			}
			return 1000 + rng.Int64N(100)
		}, func(i int, p float64) float64 { return math.Round(p*1.01) + 1 }},
	}
	a := db.Appender()
	for _, sh := range shapes {
		for k := range 3 {
			ls := labels.FromStrings("__name__", "m", "shape", sh.name, "k", fmt.Sprint(k))
			n := 10 + rng.IntN(500)
			ts, v := int64(1_000_000), 0.0
			var ref uint64
			for i := range n {
				v = sh.val(i, v)
				ref = mustAppend(t, a, ref, ls, ts, v)
				ts += sh.step(i)
			}
		}
	}
	if err := a.Commit(); err != nil {
		t.Fatal(err)
	}
	return db
}

// iterSamples reads a series' samples in [mint, maxt] with SeriesIterator.
func iterSamples(db *DB, ref uint64, mint, maxt int64) ([]int64, []float64) {
	var it SampleIterator
	db.SeriesIterator(ref, mint, maxt, &it)
	var ts []int64
	var vs []float64
	for it.Next() == chunkenc.ValFloat {
		t, v := it.At()
		ts, vs = append(ts, t), append(vs, v)
	}
	return ts, vs
}

func checkReadRanges(t *testing.T, db *DB, rng *rand.Rand) {
	t.Helper()
	var smp Samples
	for _, ref := range db.Postings(nil) {
		all, _ := iterSamples(db, ref, math.MinInt64, math.MaxInt64)
		lo, hi := all[0]-100_000, all[len(all)-1]+100_000
		for range 40 {
			rs := make([]Range, 1+rng.IntN(3))
			for i := range rs {
				a, b := lo+rng.Int64N(hi-lo), lo+rng.Int64N(hi-lo)
				if rng.IntN(4) == 0 { // exact sample bounds
					a = all[rng.IntN(len(all))]
				}
				if rng.IntN(3) == 0 { // short windows, as rules read
					b = a + rng.Int64N(600_000)
				}
				rs[i] = Range{Mint: min(a, b), Maxt: max(a, b)}
			}
			lset, ok := db.ReadRanges(ref, rs, &smp)
			if !ok || smp.Len() != len(rs) {
				t.Fatalf("ref %d: ok %v, %d ranges", ref, ok, smp.Len())
			}
			for i, r := range rs {
				gotT, gotV := smp.Range(i)
				wantT, wantV := iterSamples(db, ref, r.Mint, r.Maxt)
				if !slices.Equal(gotT, wantT) || len(gotV) != len(wantV) {
					t.Fatalf("%s %+v: got %v, want %v", lset, r, gotT, wantT)
				}
				for j := range wantV {
					if math.Float64bits(gotV[j]) != math.Float64bits(wantV[j]) {
						t.Fatalf("%s %+v: sample %d: got %v, want %v", lset, r, j, gotV[j], wantV[j])
					}
				}
			}
		}
	}
	if _, ok := db.ReadRanges(1<<40, []Range{{0, 1}}, &smp); ok {
		t.Fatal("unknown ref: ok")
	}
}

// TestReadRangesMatchesIterator compares ReadRanges, which starts at
// checkpoints (the open chunk's, recorded by the encoder, and the sealed
// chunks', computed on first use) and stops at the range end, with
// whole-chunk decoding, before and after a snapshot round trip.
func TestReadRangesMatchesIterator(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	db := readTestDB(t, rng)
	checkReadRanges(t, db, rng)
	used := 0
	db.series.forEach(func(s *memSeries) {
		if s.cpc != nil {
			used++
		}
	})
	if used == 0 {
		t.Fatal("no read started at a sealed chunk's checkpoint")
	}

	db2 := newDB(anyTime(Options{}), nil)
	if err := db2.loadSnapshot(snapshotBytes(t, db)); err != nil {
		t.Fatal(err)
	}
	for _, ref := range db.Postings(nil) {
		s1, s2 := db.series.getByRef(ref), db2.series.getByRef(ref)
		if s2 == nil || len(s1.chunks) != len(s2.chunks) || s2.cpc != nil {
			t.Fatalf("ref %d: restored series differs", ref)
		}
	}
	checkReadRanges(t, db2, rng)
}

// TestCheckpointsAreDecoderStates: every computed checkpoint of every
// chunk of the read test's shapes (gaps and bit offsets past the compact
// fields leave entries unused) and of a chunk written by chunkenc resumes
// decoding at the right sample, and computing them a sample at a time, as
// for an open chunk read while it grows, gives what computing them at once
// does.
func TestCheckpointsAreDecoderStates(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	db := readTestDB(t, rng)
	type chunk struct {
		data  []byte
		total int
		mint  int64
	}
	var chunks []chunk
	db.series.forEach(func(s *memSeries) {
		for _, c := range s.chunks {
			chunks = append(chunks, chunk{c.bytes(), c.samples(), c.mint})
		}
		if n := s.headSamples(); n > 0 {
			chunks = append(chunks, chunk{s.head.b, n, s.headMint})
		}
	})
	var ts []int64
	var vs []float64
	for i := range 100 {
		ts, vs = append(ts, int64(i)*1000+int64(i%3)), append(vs, float64(i*i))
	}
	chunks = append(chunks, chunk{encode(ts, vs), len(ts), ts[0]})
	used := 0
	for i, c := range chunks {
		all, allV, err := decodeXOR(c.data, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		whole := cpEntry{mint: c.mint}
		whole.extend(c.data, c.total, math.MaxInt64)
		step := cpEntry{mint: c.mint}
		for n := 1; n <= c.total; n++ {
			step.extend(c.data, n, math.MaxInt64)
		}
		if whole != step {
			t.Fatalf("chunk %d: computed at once %+v, a sample at a time %+v", i, whole, step)
		}
		// Computed only as far as each read needs, reads moving forward:
		// each read starts where it would with all checkpoints.
		byRead := cpEntry{mint: c.mint}
		for _, lo := range all {
			byRead.extend(c.data, c.total, lo)
			got, _ := byRead.cps.start(c.total, c.mint, lo)
			want, _ := whole.cps.start(c.total, c.mint, lo)
			if got != want {
				t.Fatalf("chunk %d: read from %d starts at %+v, want %+v", i, lo, got, want)
			}
		}
		byRead.extend(c.data, c.total, math.MaxInt64)
		if byRead != whole {
			t.Fatalf("chunk %d: computed read by read %+v, at once %+v", i, byRead, whole)
		}
		if want := min(cpPerChunk, (c.total-1)/cpEvery); int(whole.done) != want {
			t.Fatalf("chunk %d of %d samples: %d checkpoints, want %d", i, c.total, whole.done, want)
		}
		for k, cp := range whole.cps.cp[:whole.done] {
			if cp.pos == 0 {
				continue
			}
			used++
			st := cp.state(k, c.mint)
			got, gotV, _, err := decodeFrom(c.data, c.total, &st, math.MinInt64, math.MaxInt64, nil, nil)
			if err != nil || !slices.Equal(got, all[(k+1)*cpEvery:]) || !sameBits(gotV, allV[(k+1)*cpEvery:]) {
				t.Fatalf("chunk %d checkpoint %d: decodes %v (%v), want %v", i, k, got, err, all[(k+1)*cpEvery:])
			}
		}
	}
	if used == 0 {
		t.Fatal("no checkpoint computed")
	}
}

// TestCheckpointCacheLifecycle: a read starting mid-chunk caches that
// chunk's checkpoints, at most cpCacheSize chunks are kept (reads of more
// still match the iterator), and the cache is released once its chunks pass
// the retention cutoff.
func TestCheckpointCacheLifecycle(t *testing.T) {
	var clock testClock
	db := newDB(Options{Retention: 2 * time.Hour, Now: clock.now}, nil)
	a := db.Appender()
	ls := labels.FromStrings("__name__", "m")
	const step = 15_000
	var ref uint64
	end := int64(0)
	for ; end < 2*3600_000; end += step { // 3 sealed chunks and the open one
		clock.set(end)
		ref = mustAppend(t, a, ref, ls, end, float64(end/1000))
		if err := a.Commit(); err != nil {
			t.Fatal(err)
		}
	}
	s := db.series.getByRef(ref)
	if s.cpc != nil {
		t.Fatal("checkpoints before any read")
	}
	var smp Samples
	if len(s.chunks) <= cpCacheSize-1 {
		t.Fatalf("%d sealed chunks: too few to fill the cache", len(s.chunks))
	}
	chunkMint := func(k int) int64 {
		if k < len(s.chunks) {
			return s.chunks[k].mint
		}
		return s.headMint
	}
	// One window starting in the middle of each chunk, twice round.
	for round := range 2 {
		for k := 0; k <= len(s.chunks); k++ {
			mint := chunkMint(k)
			r := Range{Mint: mint + 50*step, Maxt: mint + 55*step}
			if _, ok := db.ReadRanges(ref, []Range{r}, &smp); !ok {
				t.Fatal("series missing")
			}
			gotT, gotV := smp.Range(0)
			wantT, wantV := iterSamples(db, ref, r.Mint, r.Maxt)
			if !slices.Equal(gotT, wantT) || !sameBits(gotV, wantV) || len(gotT) != 6 {
				t.Fatalf("chunk %d %+v: got %v, want %v (6 samples)", k, r, gotT, wantT)
			}
			used := 0
			for _, e := range s.cpc.e {
				if e.used {
					used++
				}
			}
			if want := min(k+1, cpCacheSize); used != want && (round == 0 || used != cpCacheSize) {
				t.Fatalf("after reading chunk %d: %d cached chunks", k, used)
			}
		}
	}
	// The least recently used chunk makes room: after chunks 3, 2, 0, 2, 1
	// the cache holds 1 and 2.
	for _, k := range []int{3, 2, 0, 2, 1} {
		db.ReadRanges(ref, []Range{{chunkMint(k) + 50*step, chunkMint(k) + 55*step}}, &smp)
	}
	var cached []int64
	for _, e := range s.cpc.e {
		cached = append(cached, e.mint)
	}
	slices.Sort(cached)
	if want := []int64{chunkMint(1), chunkMint(2)}; !slices.Equal(cached, want) {
		t.Fatalf("cached chunks %v, want %v", cached, want)
	}
	// Three more hours of samples, nothing read: every cached chunk goes.
	for ; end < 5*3600_000; end += step {
		clock.set(end)
		mustAppend(t, a, ref, ls, end, float64(end/1000))
		if err := a.Commit(); err != nil {
			t.Fatal(err)
		}
	}
	if s.cpc != nil {
		t.Fatalf("checkpoint cache kept after its chunks were dropped: %+v", s.cpc.e)
	}
}

// sameBits reports whether a and b hold the same float bits.
func sameBits(a, b []float64) bool {
	return slices.EqualFunc(a, b, func(x, y float64) bool { return math.Float64bits(x) == math.Float64bits(y) })
}

func BenchmarkReadRanges(b *testing.B) {
	for _, n := range []int{1000, 100_000} {
		b.Run(fmt.Sprintf("series=%d", n), func(b *testing.B) { benchReadRanges(b, n) })
	}
}

// benchReadRanges reads the login rule's two windows (the last 5m and 5m
// an hour ago) of n series of 2h of 15s samples.
func benchReadRanges(b *testing.B, n int) {
	db := newDB(anyTime(Options{}), nil)
	a := db.Appender()
	refs := make([]uint64, n)
	lsets := make([]labels.Labels, n)
	for i := range n {
		lsets[i] = labels.FromStrings("__name__", "m", "i", fmt.Sprint(i))
	}
	for step := range 481 {
		for i := range n {
			refs[i], _ = a.Append(refs[i], lsets[i], int64(step)*15_000, float64(step*(i%7)))
		}
		if err := a.Commit(); err != nil {
			b.Fatal(err)
		}
	}
	now := int64(480 * 15_000)
	rs := []Range{{now - 3_900_000 + 1, now - 3_600_000}, {now - 300_000 + 1, now}}
	b.Run("ReadRanges", func(b *testing.B) {
		var smp Samples
		for b.Loop() {
			for _, ref := range refs {
				db.ReadRanges(ref, rs, &smp)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/series")
	})
	b.Run("SeriesIterator", func(b *testing.B) {
		var it SampleIterator
		for b.Loop() {
			for _, ref := range refs {
				db.SeriesIterator(ref, rs[0].Mint, rs[1].Maxt, &it)
				for _, r := range rs {
					for vt := it.Seek(r.Mint); vt == chunkenc.ValFloat; vt = it.Next() {
						if t, _ := it.At(); t > r.Maxt {
							break
						}
					}
				}
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/series")
	})
}

// TestReadRangesDuringAppends reads while the same series are appended to
// (run with -race): every read sees an ascending prefix of what was
// written.
func TestReadRangesDuringAppends(t *testing.T) {
	db := newDB(anyTime(Options{}), nil)
	ls := labels.FromStrings("__name__", "m")
	const n = 2000
	done := make(chan struct{})
	go func() {
		defer close(done)
		var ref uint64
		for i := range n {
			a := db.Appender()
			var err error
			if ref, err = a.Append(ref, ls, int64(i)*1000, float64(i)); err != nil {
				panic(err)
			}
			if err := a.Commit(); err != nil {
				panic(err)
			}
		}
	}()
	var smp Samples
	rs := []Range{{Mint: 0, Maxt: n * 1000}, {Mint: 500_000, Maxt: 530_000}}
	for reading := true; reading; {
		select {
		case <-done:
			reading = false
		default:
		}
		for _, ref := range db.Postings(nil) {
			db.ReadRanges(ref, rs, &smp)
			ts, vs := smp.Range(0)
			for i := range ts {
				if ts[i] != int64(i)*1000 || vs[i] != float64(i) {
					t.Fatalf("sample %d: %d %v", i, ts[i], vs[i])
				}
			}
		}
	}
	ts, _ := smp.Range(1)
	if len(ts) != 31 || ts[0] != 500_000 {
		t.Fatalf("second range: %d samples from %v", len(ts), ts[:min(1, len(ts))])
	}
}

// TestReadRangesBadChunkUnlocks: a chunk that does not decode is a broken
// invariant (panic), but the series stays usable.
func TestReadRangesBadChunkUnlocks(t *testing.T) {
	db := newDB(anyTime(Options{}), nil)
	ls := labels.FromStrings("__name__", "m")
	a := db.Appender()
	var ref uint64
	for i := range 200 {
		ref = mustAppend(t, a, ref, ls, int64(i)*1000, float64(i))
	}
	if err := a.Commit(); err != nil {
		t.Fatal(err)
	}
	s := db.series.getByRef(ref)
	s.chunks[0] = newSealedChunk([]byte{0, 120, 1}, s.chunks[0].mint, s.chunks[0].maxt, s.chunks[0].n) // claims 120 samples in one byte
	func() {
		defer func() {
			if p := recover(); p == nil {
				t.Fatal("no panic on a malformed chunk")
			}
		}()
		var smp Samples
		db.ReadRanges(ref, []Range{{Mint: 0, Maxt: 300_000}}, &smp)
	}()
	a = db.Appender()
	mustAppend(t, a, ref, ls, 300_000, 1)
	if err := a.Commit(); err != nil {
		t.Fatal(err)
	}
}
