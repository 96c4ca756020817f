package promtext

import (
	"math"
	"math/rand/v2"
	"strconv"
	"testing"
)

// TestParseDecimalFastMatchesStrconv checks the fast path, Eisel-Lemire
// included, bit for bit against strconv on random shortest-form floats and
// long mantissas, and that it takes most of them.
func TestParseDecimalFastMatchesStrconv(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 9))
	fast, total := 0, 300_000
	for i := 0; i < total; i++ {
		var s string
		switch i % 3 {
		case 0:
			s = strconv.FormatFloat(math.Float64frombits(rng.Uint64()>>1), 'g', -1, 64)
		case 1:
			s = strconv.FormatFloat(rng.Float64()*math.Pow(10, float64(rng.IntN(40)-20)), 'g', -1, 64)
		default:
			s = strconv.FormatUint(rng.Uint64()%10_000_000_000_000_000_000, 10) + "e" + strconv.Itoa(rng.IntN(120)-60)
		}
		f, ok := parseDecimalFast([]byte(s))
		if !ok {
			continue
		}
		fast++
		want, err := strconv.ParseFloat(s, 64)
		if err != nil || math.Float64bits(f) != math.Float64bits(want) {
			t.Fatalf("%q: got %v want %v (%v)", s, f, want, err)
		}
	}
	if fast < total/2 {
		t.Fatalf("fast path took %d of %d inputs", fast, total)
	}
}
