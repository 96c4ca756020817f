package main

import (
	"bufio"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"log/slog"
	"math"
	"os"
	"path"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/watchdog-sre/watchdog/internal/querylimit"
)

// limitOptions are the flags bounding queries and memory.
type limitOptions struct {
	maxConcurrency int
	timeout        time.Duration
	maxSamples     int
	maxLength      int
	maxDepth       int
	memoryLimit    string
	gcPercent      int
}

// defaultGCPercent is the garbage collector's target (GOGC) unless GOGC or
// --memory.gc-percent set one: the heap may grow by half of what is live
// before a collection, not by all of it. Once its series exist, the
// watchdog allocates little per scrape, so collections stay rare; but an
// alert storm allocates per alert, and at 25 the collector took 40% more
// CPU per storm and doubled the first-notification p99 (bench/STORM.md),
// so half of Go's default is the compromise (bench/FLEET.md).
const defaultGCPercent = 50

// maxGCPercent bounds --memory.gc-percent.
const maxGCPercent = 10_000

// memoryFraction is the share of the cgroup's (or the machine's) memory
// given to GOMEMLIMIT by default: the rest is headroom for what the Go
// runtime does not count (stacks, the binary, C libraries).
const memoryFraction = 0.9

func limitFlags(fs *flag.FlagSet) *limitOptions {
	o := &limitOptions{}
	fs.IntVar(&o.maxConcurrency, "query.max-concurrency", querylimit.DefaultMaxConcurrency,
		"maximum PromQL queries (API and console graphs) evaluated at once; as many more may wait, beyond that a query is refused with 503")
	fs.DurationVar(&o.timeout, "query.timeout", querylimit.DefaultTimeout,
		"maximum time a query may take, waiting for a slot and parsing included; also caps the timeout parameter")
	fs.IntVar(&o.maxSamples, "query.max-samples", querylimit.DefaultMaxSamples,
		"maximum samples a single query (or rule) may hold in memory")
	fs.IntVar(&o.maxLength, "query.max-length", querylimit.DefaultMaxLength,
		"maximum length of a PromQL expression in bytes (API, console, format_query); rule files are held to the default")
	fs.IntVar(&o.maxDepth, "query.max-depth", querylimit.DefaultMaxDepth,
		"maximum nesting depth of a PromQL expression: brackets plus chained operators; rule files are held to the default")
	fs.StringVar(&o.memoryLimit, "memory.limit", "",
		`soft memory limit of the Go runtime (GOMEMLIMIT): bytes such as 1GiB or 512MB, a percentage of the cgroup or machine memory such as 80%, or "off"; `+
			`default: GOMEMLIMIT when set, else 90% of the cgroup memory limit or of the machine's memory`)
	fs.IntVar(&o.gcPercent, "memory.gc-percent", 0,
		fmt.Sprintf("garbage collector target: how far the heap may grow, in percent of the live heap other than sample chunks (which the collector does not scan), before a collection; "+
			"lower saves memory for CPU; default: GOGC when set (then applied to the whole heap, as Go does), else %d", defaultGCPercent))
	return o
}

// queryLimits checks the flags and returns the limits they set.
func (o *limitOptions) queryLimits() (querylimit.Limits, error) {
	for _, f := range []struct {
		name   string
		v, max int
	}{
		// The gate sizes its queues by max-concurrency: bound it.
		{"--query.max-concurrency", o.maxConcurrency, 1 << 16},
		{"--query.max-samples", o.maxSamples, math.MaxInt},
		{"--query.max-length", o.maxLength, math.MaxInt},
		{"--query.max-depth", o.maxDepth, math.MaxInt},
	} {
		if f.v <= 0 || f.v > f.max {
			return querylimit.Limits{}, fmt.Errorf("%w: %s must be between 1 and %d, got %d", errUsage, f.name, f.max, f.v)
		}
	}
	if o.timeout <= 0 {
		return querylimit.Limits{}, fmt.Errorf("%w: --query.timeout must be positive, got %s", errUsage, o.timeout)
	}
	return querylimit.Limits{
		MaxLength:      o.maxLength,
		MaxDepth:       o.maxDepth,
		MaxSamples:     o.maxSamples,
		Timeout:        o.timeout,
		MaxConcurrency: o.maxConcurrency,
	}.WithDefaults(), nil
}

// applyMemoryLimit sets the Go runtime's soft memory limit from
// --memory.limit (spec), or by default from GOMEMLIMIT or a fraction of the
// memory available (see memoryLimit), and logs what it chose.
func applyMemoryLimit(spec string, logger *slog.Logger) error {
	limit, source, err := memoryLimit(spec, os.Getenv("GOMEMLIMIT"), os.DirFS("/"))
	if err != nil {
		return err
	}
	switch {
	case limit > 0:
		debug.SetMemoryLimit(limit)
		logger.Info("memory limit set", "limit_bytes", limit, "limit", formatBytes(limit), "source", source)
	case source != "":
		logger.Info("memory limit left to the Go runtime", "source", source,
			"limit", formatBytes(debug.SetMemoryLimit(-1)))
	}
	return nil
}

// applyGCPercent sets the garbage collector's target from
// --memory.gc-percent (flag, 0 when not given), else leaves GOGC's (gogc,
// already applied by the runtime) or sets defaultGCPercent, and logs it.
// It returns the percentage set, 0 when GOGC's is left: the base that
// package gctune then applies to the heap other than sample chunks.
func applyGCPercent(flag int, logger *slog.Logger) (int, error) {
	pct, source, err := gcPercent(flag, os.Getenv("GOGC"))
	if err != nil {
		return 0, err
	}
	if pct > 0 {
		debug.SetGCPercent(pct)
		logger.Info("garbage collector target set", "gc_percent", pct, "source", source, "of", "the heap other than sample chunks")
	} else {
		logger.Info("garbage collector target left to the Go runtime", "source", source)
	}
	return pct, nil
}

// gcPercent decides the garbage collector's target: a percentage to set,
// or 0 to leave GOGC's, with where it came from.
func gcPercent(flag int, gogc string) (int, string, error) {
	switch {
	case flag < 0 || flag > maxGCPercent:
		return 0, "", fmt.Errorf("%w: --memory.gc-percent must be between 1 and %d, got %d", errUsage, maxGCPercent, flag)
	case flag > 0:
		return flag, "--memory.gc-percent", nil
	case gogc != "":
		return 0, "GOGC=" + gogc, nil
	}
	return defaultGCPercent, "default", nil
}

// memoryLimit decides the soft memory limit: a positive limit to set, or 0
// to leave the runtime's, with a description of where it came from. spec is
// the flag's value; gomemlimit is the environment variable, which the Go
// runtime has applied already; root is the file system holding /sys and
// /proc.
func memoryLimit(spec, gomemlimit string, root fs.FS) (int64, string, error) {
	spec = strings.TrimSpace(spec)
	switch {
	case spec == "" && gomemlimit != "":
		return 0, "GOMEMLIMIT=" + gomemlimit, nil
	case spec == "off" || spec == "0":
		return 0, "--memory.limit=" + spec + " (no limit)", nil
	case spec == "" || strings.HasSuffix(spec, "%"):
		fraction := memoryFraction
		if spec != "" {
			pct, err := strconv.ParseFloat(strings.TrimSuffix(spec, "%"), 64)
			if err != nil || !(pct > 0 && pct <= 100) {
				return 0, "", fmt.Errorf("%w: --memory.limit %q: want a percentage in (0, 100]", errUsage, spec)
			}
			fraction = pct / 100
		}
		total, source, err := availableMemory(root)
		if err != nil {
			return 0, "", fmt.Errorf("memory limit: %w (set --memory.limit or GOMEMLIMIT)", err)
		}
		return int64(float64(total) * fraction), fmt.Sprintf("%g%% of %s (%s)", fraction*100, source, formatBytes(total)), nil
	}
	n, err := parseBytes(spec)
	if err != nil {
		return 0, "", fmt.Errorf("%w: --memory.limit %q: %v", errUsage, spec, err)
	}
	if n < minMemoryLimit {
		// A limit of a few bytes would keep the collector running
		// without pause; one that rounds to 0 would silently set none.
		return 0, "", fmt.Errorf("%w: --memory.limit %q is below %s (use off for no limit)", errUsage, spec, formatBytes(minMemoryLimit))
	}
	return n, "--memory.limit", nil
}

// minMemoryLimit is the smallest --memory.limit accepted in bytes.
const minMemoryLimit = 32 << 20

// errNoMemoryInfo is returned when neither a cgroup limit nor the machine's
// memory size can be read.
var errNoMemoryInfo = errors.New("cannot read the cgroup memory limit or /proc/meminfo")

// availableMemory returns the memory limit of the process's cgroup (v2
// memory.max, else v1 memory.limit_in_bytes), or the machine's memory when
// there is no cgroup limit, and where it was read.
func availableMemory(root fs.FS) (int64, string, error) {
	physical, _ := memTotal(root)
	for _, file := range cgroupLimitFiles(root) {
		b, err := fs.ReadFile(root, file)
		if err != nil {
			continue
		}
		s := strings.TrimSpace(string(b))
		if s == "max" {
			break // v2: no limit
		}
		n, err := strconv.ParseInt(s, 10, 64)
		// v1 writes "no limit" as a huge page-aligned number.
		if err != nil || n <= 0 || n >= math.MaxInt64/2 || (physical > 0 && n >= physical) {
			break
		}
		return n, "/" + file, nil
	}
	if physical > 0 {
		return physical, "the machine's memory (/proc/meminfo)", nil
	}
	return 0, "", errNoMemoryInfo
}

// cgroupLimitFiles lists the files that may hold the memory limit, the
// process's own cgroup first, then the root of the mounted hierarchy (a
// container's view).
func cgroupLimitFiles(root fs.FS) []string {
	var v2, v1 string
	if b, err := fs.ReadFile(root, "proc/self/cgroup"); err == nil {
		sc := bufio.NewScanner(bytes.NewReader(b))
		for sc.Scan() {
			// hierarchy-ID:controller-list:cgroup-path
			parts := strings.SplitN(sc.Text(), ":", 3)
			if len(parts) != 3 {
				continue
			}
			switch {
			case parts[0] == "0" && parts[1] == "":
				v2 = parts[2]
			case strings.Contains(","+parts[1]+",", ",memory,"):
				v1 = parts[2]
			}
		}
	}
	var files []string
	if v2 != "" && v2 != "/" {
		files = append(files, path.Join("sys/fs/cgroup", v2, "memory.max"))
	}
	files = append(files, "sys/fs/cgroup/memory.max")
	if v1 != "" && v1 != "/" {
		files = append(files, path.Join("sys/fs/cgroup/memory", v1, "memory.limit_in_bytes"))
	}
	return append(files, "sys/fs/cgroup/memory/memory.limit_in_bytes")
}

// memTotal reads MemTotal from /proc/meminfo, in bytes.
func memTotal(root fs.FS) (int64, error) {
	b, err := fs.ReadFile(root, "proc/meminfo")
	if err != nil {
		return 0, err
	}
	for line := range strings.Lines(string(b)) {
		if rest, ok := strings.CutPrefix(line, "MemTotal:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			if err != nil {
				return 0, fmt.Errorf("parse MemTotal: %w", err)
			}
			return kb * 1024, nil
		}
	}
	return 0, errNoMemoryInfo
}

// byteUnits are the suffixes parseBytes accepts, longest first.
var byteUnits = []struct {
	suffix string
	mult   int64
}{
	{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", 1 << 40},
	{"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"TB", 1e12}, {"B", 1},
}

// parseBytes parses a size such as 1GiB, 512MB or 1073741824.
func parseBytes(s string) (int64, error) {
	mult := int64(1)
	num := s
	for _, u := range byteUnits {
		if n, ok := strings.CutSuffix(s, u.suffix); ok {
			num, mult = strings.TrimSpace(n), u.mult
			break
		}
	}
	f, err := strconv.ParseFloat(num, 64)
	if err != nil || !(f > 0) || f*float64(mult) >= math.MaxInt64 {
		return 0, errors.New("want a positive size such as 1GiB, 512MB or a number of bytes")
	}
	return int64(f * float64(mult)), nil
}

// formatBytes writes n in MiB, or GiB from 10 GiB on.
func formatBytes(n int64) string {
	if n >= 10<<30 && n != math.MaxInt64 {
		return fmt.Sprintf("%.1fGiB", float64(n)/(1<<30))
	}
	if n == math.MaxInt64 {
		return "none"
	}
	return fmt.Sprintf("%.0fMiB", float64(n)/(1<<20))
}
