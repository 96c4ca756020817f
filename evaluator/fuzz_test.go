package evaluator

import (
	"errors"
	"math/rand/v2"
	"testing"
)

// FuzzCompile feeds arbitrary conditions to the compiler: it must return a
// *CompileError or a Condition, never panic; compiled fast paths must agree
// with the VM.
func FuzzCompile(f *testing.F) {
	for _, s := range []string{
		`rate("5m") > 0.5 && pct_change(rate("5m"), rate("5m", "1h")) > 500`,
		`labels.code == "500" || absent("10m")`,
		`quantile_over_time(0.9, "5m", "1m") > deriv("10m")`,
		`!(value() < 1) and labels["job"] != ""`,
		`int(value()) % 2 == 0`,
		`rate("5m" > 1`,
		`rate(5) > 1`,
		`[1,2] | map(# * rate("5m")) | sum() > 1`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, when string) {
		c, err := Compile(Spec{Series: "x", When: when}, Options{Workers: 1})
		if err != nil {
			var ce *CompileError
			if !errors.As(err, &ce) || !errors.Is(err, ErrInvalid) {
				t.Fatalf("%q: error %v is not a *CompileError", when, err)
			}
			return
		}
		if c.FastPath() {
			checkFastVsVM(t, when, rand.New(rand.NewPCG(1, uint64(len(when)))))
		}
	})
}
