package promtext

import (
	"encoding/binary"
	"math"
	"math/big"
	"math/bits"
	"strconv"

	"github.com/prometheus/prometheus/model/value"
)

// pow10 holds the powers of ten that float64 represents exactly.
var pow10 = [...]float64{
	1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
	1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
}

// parseValue parses a sample value as textparse does: Go float syntax
// without hexadecimal mantissas or underscores, and no out-of-range values.
// NaN comes back as the canonical value.NormalNaN.
func parseValue(s []byte) (float64, bool) {
	if f, ok := parseDecimalFast(s); ok {
		return f, true
	}
	for _, c := range s {
		if c == 'p' || c == 'P' || c == '_' {
			return 0, false
		}
	}
	f, err := strconv.ParseFloat(yolo(s), 64)
	if err != nil {
		return 0, false
	}
	if math.IsNaN(f) {
		f = math.Float64frombits(value.NormalNaN)
	}
	return f, true
}

// parseDecimalFast handles the common decimal form [+-]digits[.digits][e[+-]digits]
// when the result is exact by Clinger's fast path: a mantissa below 2^53
// scaled by an exactly representable power of ten, which IEEE arithmetic
// rounds correctly, so the result equals strconv.ParseFloat's. It reports
// false for anything else, letting the caller fall back to strconv.
func parseDecimalFast(s []byte) (float64, bool) {
	f, n, ok := decimalPrefix(s)
	return f, ok && n == len(s)
}

// decimalPrefix is parseDecimalFast for the longest prefix of s that has the
// decimal form: it returns the value and the prefix length n. The result is
// parseDecimalFast(s[:n]) whenever s[n] cannot continue a number.
func decimalPrefix(s []byte) (float64, int, bool) {
	i := 0
	neg := false
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		neg = s[i] == '-'
		i++
	}
	var mant uint64
	digits, exp := 0, 0
	for i+8 <= len(s) && digits <= 19 {
		v, ok := eightDigits(s[i:])
		if !ok {
			break
		}
		mant = mant*1e8 + v
		digits += 8
		i += 8
	}
	for ; i < len(s) && s[i] >= '0' && s[i] <= '9'; i++ {
		mant = mant*10 + uint64(s[i]-'0')
		digits++
	}
	if i < len(s) && s[i] == '.' {
		i++
		for i+8 <= len(s) && digits <= 19 {
			v, ok := eightDigits(s[i:])
			if !ok {
				break
			}
			mant = mant*1e8 + v
			digits += 8
			exp -= 8
			i += 8
		}
		for ; i < len(s) && s[i] >= '0' && s[i] <= '9'; i++ {
			mant = mant*10 + uint64(s[i]-'0')
			digits++
			exp--
			if digits > 19 {
				return 0, 0, false
			}
		}
	}
	if digits == 0 || digits > 19 {
		return 0, 0, false
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		eneg := false
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			eneg = s[i] == '-'
			i++
		}
		e, n := 0, 0
		for ; i < len(s) && s[i] >= '0' && s[i] <= '9'; i++ {
			if e < 1000 {
				e = e*10 + int(s[i]-'0')
			}
			n++
		}
		if n == 0 {
			return 0, 0, false
		}
		if eneg {
			e = -e
		}
		exp += e
	}
	if digits > 15 {
		// Up to 19 digits fit a uint64 exactly.
		f, ok := eiselLemire(mant, exp, neg)
		return f, i, ok
	}
	// 15 digits keep mant below 10^15 < 2^53, so float64(mant) is exact.
	f := float64(mant)
	switch {
	case exp == 0:
	case exp > 0 && exp < len(pow10):
		f *= pow10[exp]
	case exp < 0 && -exp < len(pow10):
		f /= pow10[-exp]
	default:
		return 0, 0, false
	}
	if neg {
		f = -f
	}
	return f, i, true
}

// shortInt parses the run of 1 to 7 ASCII digits at b[i:] when 8 bytes
// are there to read and the run ends before them in a byte that ends a
// value; it returns the value and the run's length. It reports false for
// anything else (a sign, a point, an exponent, 8 or more digits), which
// decimalPrefix then handles.
func shortInt(b []byte, i int) (float64, int, bool) {
	if i+8 > len(b) {
		return 0, 0, false
	}
	x := binary.LittleEndian.Uint64(b[i:])
	// A byte is a digit if its XOR with '0' is below 10: adding 0x76 to
	// the low seven bits sets the high bit exactly for 10 and more.
	d := x ^ 0x3030303030303030
	nonDigit := ((d&0x7F7F7F7F7F7F7F7F + 0x7676767676767676) | d) & 0x8080808080808080
	n := bits.TrailingZeros64(nonDigit) >> 3 // leading digits, 8 if none is not
	if n == 0 || n == 8 || charClass[b[i+n]]&cValueEnd == 0 {
		return 0, 0, false
	}
	// The n digits to the top bytes, zero digits before them, then as in
	// eightDigits.
	d <<= 64 - 8*uint(n)
	d = (d*10 + d>>8) & 0x00FF00FF00FF00FF
	d = (d*100 + d>>16) & 0x0000FFFF0000FFFF
	d = (d*10000 + d>>32) & 0xFFFFFFFF
	return float64(d), n, true
}

// eightDigits returns the value of the 8 bytes at the start of s if they are
// all ASCII digits, combining them in a few multiplications (SWAR).
func eightDigits(s []byte) (uint64, bool) {
	x := binary.LittleEndian.Uint64(s)
	// A byte is a digit if its high nibble is 3 and adding 6 keeps it so.
	if x&0xF0F0F0F0F0F0F0F0|(x+0x0606060606060606)&0xF0F0F0F0F0F0F0F0>>4 != 0x3333333333333333 {
		return 0, false
	}
	x -= 0x3030303030303030
	x = (x*10 + x>>8) & 0x00FF00FF00FF00FF      // pairs of digits
	x = (x*100 + x>>16) & 0x0000FFFF0000FFFF    // groups of four
	return (x*10000 + x>>32) & 0xFFFFFFFF, true // all eight
}

// Powers of ten for eiselLemire: pow10Wide[q-pow10WideMin] holds the
// 128-bit mantissa (hi, lo) of 10^q, normalized so that its top bit is set
// and rounded down, as in Lemire's "Number Parsing at a Gigabyte per Second".
const (
	pow10WideMin = -64
	pow10WideMax = 64
)

var pow10Wide = func() (t [pow10WideMax - pow10WideMin + 1][2]uint64) {
	one := big.NewInt(1)
	for q := pow10WideMin; q <= pow10WideMax; q++ {
		var m big.Int
		if q >= 0 {
			m.Exp(big.NewInt(10), big.NewInt(int64(q)), nil)
			if n := m.BitLen(); n > 128 {
				m.Rsh(&m, uint(n-128))
			} else {
				m.Lsh(&m, uint(128-n))
			}
		} else {
			var d big.Int
			d.Exp(big.NewInt(10), big.NewInt(int64(-q)), nil)
			m.Lsh(one, uint(127+d.BitLen()))
			m.Quo(&m, &d)
			if n := m.BitLen(); n > 128 {
				m.Rsh(&m, uint(n-128))
			}
		}
		var lo big.Int
		lo.And(&m, new(big.Int).SetUint64(math.MaxUint64))
		t[q-pow10WideMin] = [2]uint64{new(big.Int).Rsh(&m, 64).Uint64(), lo.Uint64()}
	}
	return t
}()

// eiselLemire returns mant * 10^exp10, correctly rounded, by the
// Eisel-Lemire algorithm, or false when the algorithm cannot decide (the
// caller then falls back to strconv) or the result would be subnormal,
// infinite or need a power of ten outside the table.
func eiselLemire(mant uint64, exp10 int, neg bool) (float64, bool) {
	if mant == 0 {
		if neg {
			return math.Copysign(0, -1), true
		}
		return 0, true
	}
	if exp10 < pow10WideMin || exp10 > pow10WideMax {
		return 0, false
	}
	clz := bits.LeadingZeros64(mant)
	mant <<= uint(clz)
	// 217706/2^16 approximates log2(10).
	exp2 := uint64(217706*exp10>>16+64+1023) - uint64(clz)
	pw := &pow10Wide[exp10-pow10WideMin]
	hi, lo := bits.Mul64(mant, pw[0])
	if hi&0x1FF == 0x1FF && lo+mant < mant {
		// The truncated power may matter: widen with its low half.
		yHi, yLo := bits.Mul64(mant, pw[1])
		mHi, mLo := hi, lo+yHi
		if mLo < lo {
			mHi++
		}
		if mHi&0x1FF == 0x1FF && mLo+1 == 0 && yLo+mant < mant {
			return 0, false
		}
		hi, lo = mHi, mLo
	}
	msb := hi >> 63
	m := hi >> (msb + 9)
	exp2 -= 1 ^ msb
	if lo == 0 && hi&0x1FF == 0 && m&3 == 1 {
		return 0, false // halfway between two floats: undecided
	}
	m += m & 1
	m >>= 1
	if m>>53 > 0 {
		m >>= 1
		exp2++
	}
	if exp2-1 >= 0x7FF-1 {
		return 0, false // subnormal, zero or infinite
	}
	b := exp2<<52 | m&(1<<52-1)
	if neg {
		b |= 1 << 63
	}
	return math.Float64frombits(b), true
}

// parseTimestamp parses a run of ASCII digits as a non-negative int64.
func parseTimestamp(s []byte) (int64, bool) {
	var v int64
	for _, c := range s {
		d := int64(c - '0')
		if v > (math.MaxInt64-d)/10 {
			return 0, false
		}
		v = v*10 + d
	}
	return v, len(s) > 0
}
