package config

import (
	"errors"
	"testing"

	"gopkg.in/yaml.v3"
)

func TestParseByteSize(t *testing.T) {
	tests := []struct {
		in   string
		want ByteSize
		err  bool
	}{
		{"0", 0, false},
		{"512", 512, false},
		{"512B", 512, false},
		{"10KB", 10 << 10, false},
		{"10KiB", 10 << 10, false},
		{"64MiB", 64 << 20, false},
		{"64MB", 64 << 20, false},
		{"1GB", 1 << 30, false},
		{"1.5GiB", 3 << 29, false},
		{"2TB", 2 << 40, false},
		{"1PiB", 1 << 50, false},
		{"7EiB", 7 << 60, false},
		{" 3 MB ", 3 << 20, false},
		{"8EiB", 0, true},
		{"99999999999999999999", 0, true},
		{"10kB", 0, true},
		{"10XB", 0, true},
		{"-1KB", 0, true},
		{"", 0, true},
		{"KB", 0, true},
		{".", 0, true},
		{"1.2.3MB", 0, true},
		{"1e3", 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseByteSize(tt.in)
			if tt.err {
				if !errors.Is(err, ErrByteSize) {
					t.Fatalf("ParseByteSize(%q) = %v, %v; want ErrByteSize", tt.in, got, err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("ParseByteSize(%q) = %v, %v; want %d", tt.in, got, err, tt.want)
			}
		})
	}
}

func TestByteSizeString(t *testing.T) {
	tests := []struct {
		in   ByteSize
		want string
	}{
		{0, "0"}, {1, "1B"}, {1023, "1023B"}, {1024, "1KiB"}, {1536, "1536B"},
		{64 << 20, "64MiB"}, {3 << 30, "3GiB"}, {1 << 62, "4EiB"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			if got := tt.in.String(); got != tt.want {
				t.Errorf("String() = %q, want %q", got, tt.want)
			}
			back, err := ParseByteSize(tt.want)
			if err != nil || back != tt.in {
				t.Errorf("ParseByteSize(%q) = %v, %v; want %d", tt.want, back, err, tt.in)
			}
		})
	}
}

func TestByteSizeYAML(t *testing.T) {
	var v struct {
		A ByteSize `yaml:"a"`
		B ByteSize `yaml:"b"`
	}
	if err := yaml.Unmarshal([]byte("a: 64MiB\nb: 512\n"), &v); err != nil {
		t.Fatal(err)
	}
	if v.A != 64<<20 || v.B != 512 {
		t.Errorf("got %+v", v)
	}
	if err := yaml.Unmarshal([]byte("a: [1]\n"), &v); !errors.Is(err, ErrByteSize) {
		t.Errorf("list: err = %v, want ErrByteSize", err)
	}
	out, err := yaml.Marshal(v)
	if err != nil || string(out) != "a: 64MiB\nb: 512B\n" {
		t.Errorf("Marshal = %q, %v", out, err)
	}
}
