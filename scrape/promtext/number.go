package promtext

import (
	"bytes"
	"math"
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
	if bytes.ContainsAny(s, "pP_") {
		return 0, false
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
	i := 0
	neg := false
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		neg = s[i] == '-'
		i++
	}
	var mant uint64
	digits, exp := 0, 0
	for ; i < len(s) && s[i] >= '0' && s[i] <= '9'; i++ {
		mant = mant*10 + uint64(s[i]-'0')
		digits++
	}
	if i < len(s) && s[i] == '.' {
		for i++; i < len(s) && s[i] >= '0' && s[i] <= '9'; i++ {
			mant = mant*10 + uint64(s[i]-'0')
			digits++
			exp--
		}
	}
	if digits == 0 || digits > 15 {
		return 0, false
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
			return 0, false
		}
		if eneg {
			e = -e
		}
		exp += e
	}
	if i != len(s) {
		return 0, false
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
		return 0, false
	}
	if neg {
		f = -f
	}
	return f, true
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
