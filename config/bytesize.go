package config

import (
	"errors"
	"fmt"
	"math"
	"math/big"
	"strings"

	"gopkg.in/yaml.v3"
)

// ErrByteSize is wrapped by errors of ParseByteSize.
var ErrByteSize = errors.New("invalid byte size")

// byteUnits are the accepted suffixes. As with Prometheus's units.Base2Bytes,
// KB and KiB both mean 1024 bytes; "kB" and other spellings are refused.
var byteUnits = []struct {
	name  string
	shift uint
}{
	{"EiB", 60}, {"PiB", 50}, {"TiB", 40}, {"GiB", 30}, {"MiB", 20}, {"KiB", 10},
	{"EB", 60}, {"PB", 50}, {"TB", 40}, {"GB", 30}, {"MB", 20}, {"KB", 10},
	{"B", 0},
}

// ParseByteSize parses "512", "512B", "10KB", "64MiB", "1.5GB": a
// non-negative number, optionally with a fraction, and an optional unit.
// Fractions of a byte are dropped.
func ParseByteSize(s string) (ByteSize, error) {
	num, shift := strings.TrimSpace(s), uint(0)
	for _, u := range byteUnits {
		if rest, ok := strings.CutSuffix(num, u.name); ok {
			num, shift = strings.TrimSpace(rest), u.shift
			break
		}
	}
	if num == "" || strings.Trim(num, "0123456789.") != "" || strings.Count(num, ".") > 1 || num == "." {
		return 0, fmt.Errorf("%w %q (want e.g. 512, 10KB, 64MiB)", ErrByteSize, s)
	}
	r, ok := new(big.Rat).SetString(num)
	if !ok {
		return 0, fmt.Errorf("%w %q (want e.g. 512, 10KB, 64MiB)", ErrByteSize, s)
	}
	r.Mul(r, new(big.Rat).SetInt(new(big.Int).Lsh(big.NewInt(1), shift)))
	n := new(big.Int).Quo(r.Num(), r.Denom())
	if !n.IsInt64() || n.Int64() > math.MaxInt64 {
		return 0, fmt.Errorf("%w %q: too large", ErrByteSize, s)
	}
	return ByteSize(n.Int64()), nil
}

// String formats b with the largest binary unit that divides it exactly,
// such as "64MiB" or "1536B"; 0 is "0".
func (b ByteSize) String() string {
	if b == 0 {
		return "0"
	}
	for _, u := range byteUnits[:6] {
		if b%(1<<u.shift) == 0 {
			return fmt.Sprintf("%d%s", int64(b)>>u.shift, u.name)
		}
	}
	return fmt.Sprintf("%dB", int64(b))
}

// UnmarshalYAML reads a byte size from a YAML scalar (see ParseByteSize).
func (b *ByteSize) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("%w: expected a scalar such as 64MiB", ErrByteSize)
	}
	v, err := ParseByteSize(n.Value)
	if err != nil {
		return err
	}
	*b = v
	return nil
}

// MarshalYAML writes b as String does, which ParseByteSize reads back.
func (b ByteSize) MarshalYAML() (any, error) { return b.String(), nil }
