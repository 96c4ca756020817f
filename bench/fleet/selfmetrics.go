package main

import (
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/watchdog-sre/watchdog/bench/internal/benchproc"
)

// snapshot is the watchdog's own figures at one moment: its /metrics page
// (every family summed over its labels, histogram buckets kept by le) and
// its CPU time.
type snapshot struct {
	at      time.Time
	cpu     time.Duration
	m       map[string]float64 // family (or family_bucket le) → sum over labels
	buckets map[float64]float64
}

// takeSnapshot reads base/metrics and the CPU time of pid. A failed read
// leaves the map empty.
func takeSnapshot(base string, pid int) snapshot {
	s := snapshot{at: time.Now(), m: map[string]float64{}, buckets: map[float64]float64{}}
	s.cpu, _ = benchproc.CPU(pid)
	c := http.Client{Timeout: time.Minute}
	resp, err := c.Get(base + "/metrics")
	if err != nil {
		return s
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	for line := range strings.SplitSeq(string(b), "\n") {
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			continue
		}
		f, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			continue
		}
		series := line[:i]
		name, lbls, _ := strings.Cut(series, "{")
		s.m[name] += f
		if name == "watchdog_rule_group_duration_seconds_bucket" {
			if _, le, ok := strings.Cut(lbls, `le="`); ok {
				le, _, _ = strings.Cut(le, `"`)
				if v, err := strconv.ParseFloat(le, 64); err == nil {
					s.buckets[v] += f
				}
			}
		}
	}
	return s
}

// quiet reports whether no rule round was running when s was taken: every
// round started (iterations run, missed ones excluded) has recorded its
// duration, so the series its rules evaluated are all counted.
func (s snapshot) quiet() bool {
	return s.m["watchdog_rule_group_iterations_total"]-s.m["watchdog_rule_group_iterations_missed_total"] ==
		s.m["watchdog_rule_group_duration_seconds_count"]
}

// takeQuietSnapshot takes snapshots until one is quiet, for up to wait, so
// that the series evaluated per round are not skewed by a round cut in two.
func takeQuietSnapshot(base string, pid int, wait time.Duration) snapshot {
	deadline := time.Now().Add(wait)
	for {
		s := takeSnapshot(base, pid)
		if s.quiet() || time.Now().After(deadline) {
			return s
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// delta is what the watchdog did between two snapshots.
type delta struct {
	seconds       float64
	cpu           time.Duration
	samples       float64 // watchdog_scrape_samples_total
	scrapes       float64
	scrapesMissed float64
	rounds        float64 // rule group iterations run (missed ones excluded)
	roundsMissed  float64
	evaluated     float64 // series the native conditions ran over
	roundSeconds  float64 // total time of the rounds
	roundMax      float64 // upper bound of the slowest round (histogram bucket)
	failures      float64 // scrapes failed (watchdog_scrape_failures_total)
	limits        float64 // of which over a limit, scrape_timeout included
	seriesGCd     float64 // series the store's GC removed (churn)
	waits         float64 // scrapes that took an ingest slot (watchdog_scrape_ingest_wait_seconds_count)
	waitSeconds   float64 // and their total wait
}

func between(a, b snapshot) delta {
	d := func(name string) float64 { return b.m[name] - a.m[name] }
	r := delta{
		seconds:       b.at.Sub(a.at).Seconds(),
		cpu:           b.cpu - a.cpu,
		samples:       d("watchdog_scrape_samples_total"),
		scrapes:       d("watchdog_scrapes_total"),
		scrapesMissed: d("watchdog_scrape_missed_total"),
		roundsMissed:  d("watchdog_rule_group_iterations_missed_total"),
		evaluated:     d("watchdog_rule_native_series_evaluated_total"),
		roundSeconds:  d("watchdog_rule_group_duration_seconds_sum"),
		failures:      d("watchdog_scrape_failures_total"),
		limits:        d("watchdog_scrape_limit_exceeded_total"),
		seriesGCd:     d("watchdog_tsdb_gc_series_total"),
		waits:         d("watchdog_scrape_ingest_wait_seconds_count"),
		waitSeconds:   d("watchdog_scrape_ingest_wait_seconds_sum"),
	}
	r.rounds = d("watchdog_rule_group_duration_seconds_count")
	les := make([]float64, 0, len(b.buckets))
	for le := range b.buckets {
		les = append(les, le)
	}
	slices.Sort(les)
	for _, le := range les {
		if b.buckets[le]-a.buckets[le] >= r.rounds {
			r.roundMax = le
			break
		}
	}
	return r
}

func (d delta) String() string {
	s := fmt.Sprintf("%.0fs: CPU %.1fs (%.2f cores) = %.3f µs/sample over %.0f samples; scrapes %.0f, missed %.0f",
		d.seconds, d.cpu.Seconds(), d.cpu.Seconds()/max(d.seconds, 1e-9),
		float64(d.cpu.Microseconds())/max(d.samples, 1), d.samples, d.scrapes, d.scrapesMissed)
	s += fmt.Sprintf(", failed %.0f (over a limit or scrape_timeout %.0f); series GC'd %.0f", d.failures, d.limits, d.seriesGCd)
	if d.waits > 0 {
		s += fmt.Sprintf("; ingest slot wait mean %.3fs", d.waitSeconds/d.waits)
	}
	if d.rounds > 0 || d.roundsMissed > 0 {
		maxs := "+Inf"
		if !math.IsInf(d.roundMax, 1) {
			maxs = fmt.Sprintf("%gs", d.roundMax)
		}
		s += fmt.Sprintf("; rule rounds %.0f, missed %.0f, mean %.2fs, slowest ≤ %s, series evaluated per round %.0f",
			d.rounds, d.roundsMissed, d.roundSeconds/d.rounds, maxs, d.evaluated/d.rounds)
	}
	return s
}

// memAvailable returns MemAvailable from /proc/meminfo in bytes (0 if
// unknown).
func memAvailable() int64 {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "MemAvailable:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}
