package promtext

import (
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
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

// TestShortIntMatchesDecimalPrefix checks the integer fast path against
// decimalPrefix on every digit count, with every terminator and with
// bytes that must send it to the slow path.
func TestShortIntMatchesDecimalPrefix(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 9))
	ends := []string{"\n", " ", "\t", "{", "\x00", ".5\n", "e3\n", "x", "5\n", "/", ":", "\xb0"}
	taken := 0
	for i := 0; i < 200_000; i++ {
		digits := strconv.FormatUint(rng.Uint64()%uint64(math.Pow10(1+rng.IntN(9))), 10)
		if rng.IntN(5) == 0 {
			digits = strings.Repeat("0", rng.IntN(3)) + digits
		}
		if rng.IntN(20) == 0 {
			digits = string("+-.N/:"[rng.IntN(6)]) + digits
		}
		s := digits + ends[rng.IntN(len(ends))] + "padding"
		f, n, ok := shortInt([]byte(s), 0)
		if !ok {
			continue
		}
		taken++
		want, wn, wok := decimalPrefix([]byte(s))
		if !wok || wn != n || math.Float64bits(f) != math.Float64bits(want) || charClass[s[n]]&cValueEnd == 0 {
			t.Fatalf("%q: shortInt %v %d, decimalPrefix %v %d %v", s, f, n, want, wn, wok)
		}
	}
	if taken == 0 {
		t.Fatal("fast path never taken")
	}
	for _, s := range []string{"1234567", "12345678\n......", "+1\n......", "-1\n......"} {
		if _, _, ok := shortInt([]byte(s), 0); ok {
			t.Errorf("%q: fast path taken", s)
		}
	}
}
