package main

import (
	"errors"
	"flag"
	"io"
	"slices"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/watchdog-sre/watchdog/config"
)

func TestMemoryLimit(t *testing.T) {
	const gib = 1 << 30
	meminfo := &fstest.MapFile{Data: []byte("MemTotal:       16777216 kB\nMemFree: 1 kB\n")} // 16 GiB
	v2 := fstest.MapFS{
		"proc/self/cgroup":                        {Data: []byte("0::/watchdog.slice\n")},
		"sys/fs/cgroup/watchdog.slice/memory.max": {Data: []byte("2147483648\n")},
		"proc/meminfo":                            meminfo,
	}
	v2root := fstest.MapFS{
		"proc/self/cgroup":         {Data: []byte("0::/\n")},
		"sys/fs/cgroup/memory.max": {Data: []byte("1073741824\n")},
		"proc/meminfo":             meminfo,
	}
	v2max := fstest.MapFS{
		"proc/self/cgroup":         {Data: []byte("0::/\n")},
		"sys/fs/cgroup/memory.max": {Data: []byte("max\n")},
		"proc/meminfo":             meminfo,
	}
	v1 := fstest.MapFS{
		"proc/self/cgroup": {Data: []byte("5:devices:/\n4:memory:/docker/abc\n0::/\n")},
		"sys/fs/cgroup/memory/docker/abc/memory.limit_in_bytes": {Data: []byte("4294967296\n")},
		"proc/meminfo": meminfo,
	}
	v1unlimited := fstest.MapFS{
		"proc/self/cgroup":                           {Data: []byte("4:memory:/elsewhere\n")},
		"sys/fs/cgroup/memory/memory.limit_in_bytes": {Data: []byte("9223372036854771712\n")},
		"proc/meminfo":                               meminfo,
	}
	tests := []struct {
		name       string
		spec, env  string
		root       fstest.MapFS
		want       int64
		wantSource string
		wantErr    bool
	}{
		{"cgroup v2 of the process", "", "", v2, 2 * gib * 9 / 10, "/sys/fs/cgroup/watchdog.slice/memory.max", false},
		{"cgroup v2 at the root", "", "", v2root, gib * 9 / 10, "/sys/fs/cgroup/memory.max", false},
		{"cgroup v2 without a limit", "", "", v2max, 16 * gib * 9 / 10, "/proc/meminfo", false},
		{"cgroup v1", "", "", v1, 4 * gib * 9 / 10, "/sys/fs/cgroup/memory/docker/abc/memory.limit_in_bytes", false},
		{"cgroup v1 without a limit", "", "", v1unlimited, 16 * gib * 9 / 10, "/proc/meminfo", false},
		{"a percentage", "50%", "", v2, gib, "50% of", false},
		{"GOMEMLIMIT wins over the default", "", "3GiB", v2, 0, "GOMEMLIMIT=3GiB", false},
		{"the flag wins over GOMEMLIMIT", "512MiB", "3GiB", v2, 512 << 20, "--memory.limit", false},
		{"bytes", "1073741824", "", v2, gib, "--memory.limit", false},
		{"decimal units", "1.5GB", "", v2, 1_500_000_000, "--memory.limit", false},
		{"off", "off", "", v2, 0, "no limit", false},
		{"nothing to read", "", "", fstest.MapFS{}, 0, "", true},
		{"bad size", "lots", "", v2, 0, "", true},
		{"bad percentage", "150%", "", v2, 0, "", true},
		{"too small to be meant", "1KiB", "", v2, 0, "", true},
		{"rounds to nothing", "0.5", "", v2, 0, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, source, err := memoryLimit(tt.spec, tt.env, tt.root)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			if got != tt.want || !strings.Contains(source, tt.wantSource) {
				t.Errorf("memoryLimit = %d %q, want %d and a source naming %q", got, source, tt.want, tt.wantSource)
			}
		})
	}
}

func TestQueryLimitFlags(t *testing.T) {
	tests := []struct {
		args    []string
		wantErr bool
	}{
		{nil, false},
		{[]string{"--query.max-concurrency=2", "--query.timeout=5s", "--query.max-length=100", "--query.max-depth=10", "--query.max-samples=1000"}, false},
		{[]string{"--query.max-concurrency=0"}, true},
		{[]string{"--query.max-concurrency=9223372036854775807"}, true}, // the gate's queues would overflow
		{[]string{"--query.max-length=-1"}, true},
		{[]string{"--query.timeout=0s"}, true},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			fs := flag.NewFlagSet("run", flag.ContinueOnError)
			fs.SetOutput(io.Discard)
			o := limitFlags(fs)
			if err := fs.Parse(tt.args); err != nil {
				t.Fatal(err)
			}
			l, err := o.queryLimits()
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			if err != nil && !errors.Is(err, errUsage) {
				t.Errorf("err %v is not a usage error", err)
			}
			if err == nil && (l.MaxConcurrency <= 0 || l.MaxQueued != l.MaxConcurrency) {
				t.Errorf("limits %+v: want the queue as long as the concurrency", l)
			}
		})
	}
}

// TestStorageChanges: a reload names the storage keys it cannot apply.
func TestStorageChanges(t *testing.T) {
	old := config.StorageConfig{MaxSeries: 10, PagerDB: "a.db"}
	tests := []struct {
		name string
		next config.StorageConfig
		want []string
	}{
		{"same", old, nil},
		{"max_series and pager_db", config.StorageConfig{MaxSeries: 20, PagerDB: "b.db"}, []string{"storage.max_series", "storage.pager_db"}},
		{"lease", config.StorageConfig{MaxSeries: 10, PagerDB: "a.db", PagerLease: 1}, []string{"storage.pager_lease"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := storageChanges(old, tt.next); !slices.Equal(got, tt.want) {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

// TestGCPercent: --memory.gc-percent wins, GOGC is left alone when set,
// otherwise the default applies; out-of-range values are usage errors.
func TestGCPercent(t *testing.T) {
	for _, tt := range []struct {
		flag       int
		gogc       string
		want       int
		wantSource string
		wantErr    bool
	}{
		{0, "", defaultGCPercent, "default", false},
		{0, "200", 0, "GOGC=200", false},
		{0, "off", 0, "GOGC=off", false},
		{50, "200", 50, "--memory.gc-percent", false},
		{maxGCPercent, "", maxGCPercent, "--memory.gc-percent", false},
		{-1, "", 0, "", true},
		{maxGCPercent + 1, "", 0, "", true},
	} {
		got, source, err := gcPercent(tt.flag, tt.gogc)
		if (err != nil) != tt.wantErr || (err != nil && !errors.Is(err, errUsage)) {
			t.Errorf("gcPercent(%d, %q): err = %v, want error %v (a usage error)", tt.flag, tt.gogc, err, tt.wantErr)
		}
		if got != tt.want || source != tt.wantSource {
			t.Errorf("gcPercent(%d, %q) = %d %q, want %d %q", tt.flag, tt.gogc, got, source, tt.want, tt.wantSource)
		}
	}
}
