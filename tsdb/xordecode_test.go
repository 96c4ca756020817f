package tsdb

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/prometheus/prometheus/model/value"
	"github.com/prometheus/prometheus/tsdb/chunkenc"
)

// decodeRef decodes with chunkenc's own iterator.
func decodeRef(data []byte) (ts []int64, vs []float64, ok bool) {
	if len(data) < 2 {
		return nil, nil, false
	}
	defer func() {
		if recover() != nil { // chunkenc's own robustness is not under test
			ok = false
		}
	}()
	var c chunkenc.XORChunk
	c.Reset(data)
	it := c.Iterator(nil)
	for it.Next() == chunkenc.ValFloat {
		t, v := it.At()
		ts, vs = append(ts, t), append(vs, v)
	}
	return ts, vs, it.Err() == nil && len(ts) == c.NumSamples()
}

func encode(ts []int64, vs []float64) []byte {
	c := chunkenc.NewXORChunk()
	app, _ := c.Appender()
	for i := range ts {
		app.Append(0, ts[i], vs[i])
	}
	return c.Bytes()
}

func sameSamples(t *testing.T, gotT, wantT []int64, gotV, wantV []float64) {
	t.Helper()
	if len(gotT) != len(wantT) || len(gotV) != len(wantV) {
		t.Fatalf("got %d/%d samples, want %d", len(gotT), len(gotV), len(wantT))
	}
	for i := range wantT {
		if gotT[i] != wantT[i] || math.Float64bits(gotV[i]) != math.Float64bits(wantV[i]) {
			t.Fatalf("sample %d: got %d %v, want %d %v", i, gotT[i], gotV[i], wantT[i], wantV[i])
		}
	}
}

func TestDecodeXORMatchesChunkenc(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	stale := math.Float64frombits(value.StaleNaN)
	gens := map[string]func(i int, prev float64) float64{
		"constant": func(int, float64) float64 { return 42 },
		"counter":  func(_ int, p float64) float64 { return p + math.Round(rng.Float64()*100) },
		"gauge":    func(int, float64) float64 { return rng.NormFloat64() * 1e6 },
		// XORs of every width and offset: each bit-window boundary case.
		"bitwise": func(_ int, p float64) float64 {
			x := rng.Uint64() >> rng.IntN(64)
			return math.Float64frombits(math.Float64bits(p) ^ x<<rng.IntN(64))
		},
		"special": func(i int, _ float64) float64 {
			return []float64{math.NaN(), stale, math.Inf(1), math.Inf(-1), 0, math.Copysign(0, -1), math.MaxFloat64, math.SmallestNonzeroFloat64}[i%8]
		},
	}
	jitters := map[string]func() int64{
		"regular":   func() int64 { return 15_000 },
		"jitter":    func() int64 { return 15_000 + rng.Int64N(2000) - 1000 },
		"huge gaps": func() int64 { return 1 + rng.Int64N(1<<40) },
		"mixed":     func() int64 { return []int64{1, 15_000, 8191, 8193, 65537, 1 << 19, 1 << 33}[rng.IntN(7)] },
	}
	for gname, gen := range gens {
		for jname, jit := range jitters {
			for _, n := range []int{1, 2, 3, 120, 1000} {
				t.Run(gname+"/"+jname, func(t *testing.T) {
					ts, vs := make([]int64, n), make([]float64, n)
					cur, v := int64(-5_000_000), 0.0
					for i := range n {
						cur += jit()
						v = gen(i, v)
						ts[i], vs[i] = cur, v
					}
					data := encode(ts, vs)
					gotT, gotV, err := decodeXOR(data, nil, nil)
					if err != nil {
						t.Fatal(err)
					}
					sameSamples(t, gotT, ts, gotV, vs)
					stepT, stepV, err := stepAll(data)
					if err != nil {
						t.Fatal(err)
					}
					sameSamples(t, stepT, ts, stepV, vs)
				})
			}
		}
	}
}

// FuzzDecodeXOR checks the bulk decoder against chunkenc's iterator on
// arbitrary bytes: never panic, and whenever we decode a chunk, chunkenc
// decodes it too, to the same samples. (We are stricter than chunkenc about
// bytes missing at the end, which a real encoder never produces; the
// encoder round trip is covered by TestDecodeXORMatchesChunkenc.)
func FuzzDecodeXOR(f *testing.F) {
	f.Add(encode([]int64{1, 2, 3}, []float64{1, 2, 3}))
	f.Add(encode([]int64{0, 15000, 30000, 45001, 1 << 40}, []float64{math.NaN(), 1, 1, -1e300, 0}))
	f.Add([]byte{0, 0})
	f.Add([]byte{0, 9, 1})
	f.Add([]byte("\x0000000")) // 48 samples claimed in 5 bytes: chunkenc is lenient, we reject
	f.Fuzz(func(t *testing.T, data []byte) {
		gotT, gotV, err := decodeXOR(data, nil, nil)
		if err != nil {
			return
		}
		wantT, wantV, ok := decodeRef(data)
		if !ok {
			t.Fatalf("we decode %d samples, chunkenc fails", len(gotT))
		}
		sameSamples(t, gotT, wantT, gotV, wantV)
		stepT, stepV, err := stepAll(data)
		if err != nil {
			t.Fatalf("decodeNext: %v where decodeFrom decodes", err)
		}
		sameSamples(t, stepT, wantT, stepV, wantV)
	})
}

// stepAll decodes chunk data a sample at a time with decodeNext (a Tally's
// way), checking that each step leaves the state decodeFrom leaves.
func stepAll(data []byte) (ts []int64, vs []float64, err error) {
	total := int(binary.BigEndian.Uint16(data))
	var st, ref xorState
	for int(st.i) < total {
		if err := decodeNext(data, &st); err != nil {
			return ts, vs, err
		}
		if _, _, _, err := decodeFrom(data, int(ref.i)+1, &ref, math.MaxInt64, math.MaxInt64, nil, nil); err != nil {
			return ts, vs, err
		}
		if st != ref && !(st.i == 1 && ref.i == 1) { // after sample 0, pos may be a placeholder
			return ts, vs, fmt.Errorf("state after sample %d: decodeNext %+v, decodeFrom %+v", st.i-1, st, ref)
		}
		ts, vs = append(ts, st.t), append(vs, math.Float64frombits(st.vb))
	}
	return ts, vs, nil
}
