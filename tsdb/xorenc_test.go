package tsdb

import (
	"bytes"
	"encoding/binary"
	"math"
	"math/rand/v2"
	"strconv"
	"testing"

	"github.com/prometheus/prometheus/tsdb/chunkenc"
)

// encodeBoth encodes the samples with chunkenc's XORChunk and with xorChunk
// and fails unless the bytes are identical after every sample.
func encodeBoth(tb testing.TB, ts []int64, vs []float64) {
	tb.Helper()
	ref := chunkenc.NewXORChunk()
	app, err := ref.Appender()
	if err != nil {
		tb.Fatal(err)
	}
	var c xorChunk
	c.Reset(make([]byte, 2, 3))
	for i := range ts {
		app.Append(0, ts[i], vs[i])
		c.Append(0, ts[i], vs[i])
		if !bytes.Equal(c.Bytes(), ref.Bytes()) {
			tb.Fatalf("after sample %d (t=%d v=%v): got\n%x\nwant\n%x", i, ts[i], vs[i], c.Bytes(), ref.Bytes())
		}
		if c.NumSamples() != ref.NumSamples() {
			tb.Fatalf("after sample %d: %d samples, want %d", i, c.NumSamples(), ref.NumSamples())
		}
	}
	// Resuming from the bytes restores the state: appending more gives
	// the same bytes again.
	if len(ts) == 0 {
		return
	}
	var r xorChunk
	r.Reset(append([]byte(nil), c.Bytes()...))
	ra, err := r.Appender()
	if err != nil {
		tb.Fatalf("appender on encoded chunk: %v", err)
	}
	t, v := ts[len(ts)-1]+15000, vs[0]+1
	ra.Append(0, t, v)
	app.Append(0, t, v)
	if !bytes.Equal(ra.Bytes(), ref.Bytes()) {
		tb.Fatalf("after resume: got\n%x\nwant\n%x", ra.Bytes(), ref.Bytes())
	}
}

func TestXORChunkMatchesChunkenc(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	gens := map[string]func(i int) (int64, float64){
		"counter": func(i int) (int64, float64) { return int64(i) * 15000, float64(i * 7) },
		"gauge jitter": func(i int) (int64, float64) {
			return int64(i)*15000 + rng.Int64N(2000) - 1000, rng.Float64() * 1e6
		},
		"constant": func(i int) (int64, float64) { return 1_700_000_000_000 + int64(i)*1000, 42 },
		"wild": func(i int) (int64, float64) {
			t := int64(i) * (1 + rng.Int64N(1<<uint(rng.IntN(40))))
			var v float64
			switch rng.IntN(6) {
			case 0:
				v = math.NaN()
			case 1:
				v = math.Inf(1 - 2*rng.IntN(2))
			case 2:
				v = math.Float64frombits(rng.Uint64())
			case 3:
				v = float64(rng.IntN(10))
			default:
				v = rng.NormFloat64()
			}
			return t, v
		},
		"negative times": func(i int) (int64, float64) { return -1e12 + int64(i)*int64(i)*977, float64(-i) },
	}
	for name, gen := range gens {
		t.Run(name, func(t *testing.T) {
			for _, n := range []int{1, 2, 3, 120, 500} {
				ts, vs := make([]int64, n), make([]float64, n)
				last := int64(math.MinInt64)
				for i := range ts {
					ts[i], vs[i] = gen(i)
					if ts[i] <= last {
						ts[i] = last + 1
					}
					last = ts[i]
				}
				encodeBoth(t, ts, vs)
			}
		})
	}
}

func TestXORChunkDodBuckets(t *testing.T) {
	// Delta-of-delta values at every bucket edge.
	var ts []int64
	var vs []float64
	tt := int64(1_000_000)
	delta := int64(10)
	ts, vs = append(ts, tt), append(vs, 0)
	for _, d := range []int64{0, 1, -1, 8191, 8192, -8191, -8192, 65535, 65536, -65535, -65536,
		524287, 524288, -524287, -524288, 1 << 40, -(1 << 39)} {
		delta += d
		if delta <= 0 {
			delta = 1
		}
		tt += delta
		ts, vs = append(ts, tt), append(vs, float64(d))
	}
	encodeBoth(t, ts, vs)
}

func FuzzXORChunkMatchesChunkenc(f *testing.F) {
	f.Add([]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16})
	f.Add(bytes.Repeat([]byte{0x40, 0, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0}, 9))
	f.Fuzz(func(t *testing.T, data []byte) {
		var ts []int64
		var vs []float64
		last := int64(math.MinInt64 / 2)
		for len(data) >= 16 && len(ts) < 300 {
			d := int64(binary.LittleEndian.Uint64(data) >> (data[0] % 64))
			v := math.Float64frombits(binary.LittleEndian.Uint64(data[8:]))
			data = data[16:]
			if d <= 0 {
				d = 1
			}
			if last > math.MaxInt64/4-d {
				break
			}
			last += d
			ts, vs = append(ts, last), append(vs, v)
		}
		encodeBoth(t, ts, vs)
	})
}

func BenchmarkXORChunkAppend(b *testing.B) {
	vs := make([]float64, samplesPerChunk)
	for i := range vs {
		vs[i] = 1000 * (1 + 0.05*math.Sin(float64(i)))
	}
	b.Run("chunkenc", func(b *testing.B) {
		for b.Loop() {
			c := chunkenc.NewXORChunk()
			app, _ := c.Appender()
			for i, v := range vs {
				app.Append(0, int64(i)*15000, v)
			}
		}
	})
	b.Run("xorChunk", func(b *testing.B) {
		for b.Loop() {
			var c xorChunk
			c.Reset(make([]byte, 2, headChunkAlloc))
			for i, v := range vs {
				c.Append(0, int64(i)*15000, v)
			}
		}
	})
}

// TestSizeClasses checks byteClasses against the allocator: appending n
// bytes to a nil slice gives capacity sizeClass(n) for every n up to the
// last class, so an open chunk's buffer uses its whole allocation.
func TestSizeClasses(t *testing.T) {
	for n := 33; n <= int(byteClasses[len(byteClasses)-1]); n++ {
		got := sizeClass(n)
		if want := cap(append([]byte(nil), make([]byte, n)...)); got != want {
			t.Fatalf("sizeClass(%d) = %d, the allocator gives %d", n, got, want)
		}
	}
}

// TestOpenChunkGrowth checks that an open chunk grows by at most a quarter
// (or to what one 64-bit store needs) at a time and that the chunk's bytes
// stay what chunkenc writes whatever the starting capacity.
func TestOpenChunkGrowth(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	ts := make([]int64, 300)
	vs := make([]float64, len(ts))
	for i := range ts {
		ts[i] = int64(i)*15000 + rng.Int64N(100)
		vs[i] = rng.Float64()
	}
	var c xorChunk
	c.Reset(make([]byte, 2, headChunkAlloc))
	prev := cap(c.b)
	for i := range ts {
		c.Append(0, ts[i], vs[i])
		if cap(c.b) != prev {
			if limit := sizeClass(max(prev+prev/4, len(c.b)+8)); cap(c.b) > limit {
				t.Fatalf("sample %d: capacity %d grew to %d, more than %d", i, prev, cap(c.b), limit)
			}
			prev = cap(c.b)
		}
	}
	for _, start := range []int{2, 3, 9, 10, 17, 48} {
		t.Run(strconv.Itoa(start), func(t *testing.T) {
			var c xorChunk
			c.Reset(make([]byte, 2, start))
			ref := chunkenc.NewXORChunk()
			app, _ := ref.Appender()
			for i := range ts {
				c.Append(0, ts[i], vs[i])
				app.Append(0, ts[i], vs[i])
			}
			if !bytes.Equal(c.Bytes(), ref.Bytes()) {
				t.Fatalf("got\n%x\nwant\n%x", c.Bytes(), ref.Bytes())
			}
		})
	}
}
