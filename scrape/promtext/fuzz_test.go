package promtext

import (
	"bytes"
	"math"
	"strconv"
	"testing"

	"github.com/watchdog-sre/watchdog/internal/testcorpus"
)

// addCorpusSeeds adds the shared corpus to f, cut into chunks of a few lines
// so that each fuzz run stays fast, plus the edge-case table.
func addCorpusSeeds(f *testing.F) {
	for _, file := range testcorpus.All(f) {
		lines := bytes.SplitAfter(file.Data, []byte("\n"))
		for i := 0; i < len(lines); i += 7 {
			f.Add(bytes.Join(lines[i:min(i+7, len(lines))], nil))
		}
	}
	for _, tc := range edgeCases {
		f.Add([]byte(tc.in))
	}
}

// FuzzParse checks that Parser never panics and, when textparse accepts the
// whole input, yields the same entry stream. Inputs with NUL bytes are only
// checked for panics: textparse's NUL handling is a lexer artefact that
// Parser does not copy (see the Parser doc comment).
func FuzzParse(f *testing.F) {
	addCorpusSeeds(f)
	f.Fuzz(func(t *testing.T, in []byte) {
		orig := string(in)
		_, _ = collect(New(in), true) // must not panic; errors are fine
		if string(in) != orig {
			t.Fatal("input modified")
		}
		if bytes.IndexByte(in, 0) >= 0 {
			return
		}
		if d := compare(in); d != "" {
			t.Fatalf("differs from textparse on %q:\n%s", in, d)
		}
	})
}

// FuzzParseValue checks the fast decimal path against strconv.ParseFloat
// bit for bit.
func FuzzParseValue(f *testing.F) {
	for _, s := range []string{"0", "-0", "1", "1.5", "7.6238e-05", "2.279966416e+09", ".5", "5.", "1e22", "1e-22",
		"123456789012345", "1234567890123456", "NaN", "+Inf", "0.000000000000001", "1e", "+", "-.e1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		fast, ok := parseDecimalFast([]byte(s))
		if !ok {
			return
		}
		want, err := strconv.ParseFloat(s, 64)
		if err != nil {
			t.Fatalf("fast path accepted %q, strconv: %v", s, err)
		}
		if math.Float64bits(fast) != math.Float64bits(want) {
			t.Fatalf("%q: fast %v (%#x), strconv %v (%#x)", s, fast, math.Float64bits(fast), want, math.Float64bits(want))
		}
	})
}
