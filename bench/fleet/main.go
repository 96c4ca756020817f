// Command fleet is the end-to-end fleet benchmark: it starts N loopback
// exporters serving ../shared/corpus/node_exporter.prom with moving values
// (counters grow, gauges walk) or a generated exposition of many series per
// target, runs the watchdog binary on them and, when given, a prometheus
// binary on a fresh copy of the same fleet right after, and reports per
// process the targets up, samples ingested, series, CPU µs per ingested
// sample, RSS, peak RSS and RSS per series. It saves the watchdog's heap
// profile (and a CPU profile with -cpuprofile) from /debug/pprof.
//
//	go run ./bench/fleet -targets 50 -duration 180s -interval 5s -prometheus ~/.cache/watchdog-gobin/prometheus
//	go run ./bench/fleet -targets 50 -series 20000 -interval 15s -duration 300s   # 1,000,000 series
//	go run ./bench/fleet -targets 10 -duration 10m -interval 1s -chunk-files       # chunks in files
//
// See bench/FLEET.md for the figures.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/watchdog-sre/watchdog/bench/internal/benchproc"
)

type options struct {
	targets    int
	series     int
	duration   time.Duration
	interval   time.Duration
	timeout    time.Duration
	gzip       bool
	corpus     string
	watchdog   string
	prometheus string
	out        string
	cpuProfile time.Duration
	cpuAt      time.Duration
	wdArgs     string
	wdEnv      string
	only       string
	rules      string
	maxRSS     int64
	minAvail   int64
	warmup     time.Duration
	ramp       time.Duration
	chunkFiles bool // -chunk-files: the watchdog keeps sealed chunks in files
}

func main() {
	var o options
	flag.IntVar(&o.targets, "targets", 50, "loopback exporters")
	flag.IntVar(&o.series, "series", 0, "series per target of a generated exposition; 0 serves the node_exporter corpus")
	flag.DurationVar(&o.duration, "duration", 180*time.Second, "how long each process scrapes the fleet")
	flag.DurationVar(&o.interval, "interval", 5*time.Second, "scrape interval")
	flag.DurationVar(&o.timeout, "scrape-timeout", 0, "scrape timeout (default: 80% of the interval)")
	flag.BoolVar(&o.gzip, "gzip", false, "exporters gzip their answers when asked to")
	flag.StringVar(&o.corpus, "corpus", "", "exposition the exporters serve (default: ../shared/corpus/node_exporter.prom beside the repository)")
	flag.StringVar(&o.watchdog, "watchdog", "", "watchdog binary (default: built from ./cmd/watchdog of this repository); \"none\" skips it")
	flag.StringVar(&o.prometheus, "prometheus", "", "prometheus binary run on the same fleet after the watchdog (default: none)")
	flag.StringVar(&o.out, "out", "", "directory for the profiles and the report (default: a new temporary directory)")
	flag.DurationVar(&o.cpuProfile, "cpuprofile", 0, "take a CPU profile of the watchdog over this long at the end of the run")
	flag.DurationVar(&o.cpuAt, "cpuprofile-at", -1, "start the CPU profile this long into the run (default: so that it ends with the run)")
	flag.StringVar(&o.wdArgs, "watchdog-args", "", "extra arguments for `watchdog run`, space separated (such as --memory.limit=200MiB)")
	flag.StringVar(&o.wdEnv, "watchdog-env", "", "extra environment for the watchdog, space separated (such as GOGC=50)")
	flag.StringVar(&o.rules, "rules", "", "rule file for the watchdog (such as native rules over every series)")
	flag.Int64Var(&o.maxRSS, "max-rss", 14<<30, "stop a process whose RSS passes this many bytes")
	flag.Int64Var(&o.minAvail, "min-available", 2<<30, "stop a process when the machine's MemAvailable falls below this many bytes")
	flag.DurationVar(&o.ramp, "ramp", 0, "generated exporters serve a share of their series growing from none to all over this long (default: all from the start)")
	flag.DurationVar(&o.warmup, "warmup", -1, "report the watchdog's steady state (CPU, missed scrapes and rule rounds) from this long into the run (default: half the duration)")
	flag.BoolVar(&o.chunkFiles, "chunk-files", false,
		"run the watchdog with --storage.chunks-dir in a temporary directory (sealed chunks in memory-mapped files, as Prometheus's head chunks)")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, o); err != nil {
		fmt.Fprintln(os.Stderr, "fleet:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, o options) error {
	root, err := benchproc.RepoRoot()
	if err != nil {
		return err
	}
	if o.out == "" {
		if o.out, err = os.MkdirTemp("", "fleet-*"); err != nil {
			return err
		}
	} else if err := os.MkdirAll(o.out, 0o755); err != nil {
		return err
	}
	var e *exposition
	if o.series > 0 {
		e = generated(o.series)
	} else {
		if o.corpus == "" {
			o.corpus = filepath.Join(root, "..", "shared", "corpus", "node_exporter.prom")
		}
		if _, err := os.Stat(o.corpus); err != nil {
			return fmt.Errorf("corpus %s is missing (the shared corpus lives in ../shared/corpus beside the repository; or pass -corpus): %w", o.corpus, err)
		}
		if e, err = loadCorpus(o.corpus); err != nil {
			return err
		}
	}
	if o.warmup < 0 {
		o.warmup = o.duration / 2
	}
	if o.cpuAt < 0 {
		o.cpuAt = max(o.duration-o.cpuProfile, 0)
	}
	if o.timeout == 0 {
		o.timeout = o.interval * 8 / 10
	}
	if o.watchdog == "" {
		o.watchdog = filepath.Join(o.out, "watchdog")
		fmt.Fprintln(os.Stderr, "fleet: building", o.watchdog)
		if err := benchproc.BuildWatchdog(ctx, root, o.watchdog); err != nil {
			return err
		}
	}
	fmt.Printf("fleet: %d targets × %d samples = %d series per scrape, every %s for %s; output in %s\n",
		o.targets, e.samples, o.targets*e.samples, o.interval, o.duration, o.out)
	var results []result
	for _, kind := range []string{"watchdog", "prometheus"} {
		bin := o.watchdog
		if kind == "prometheus" {
			bin = o.prometheus
		}
		if bin == "" || bin == "none" {
			continue
		}
		r, err := runOne(ctx, o, e, kind, bin)
		if err != nil {
			return fmt.Errorf("%s: %w", kind, err)
		}
		fmt.Println(r)
		results = append(results, r)
	}
	report := ""
	for _, r := range results {
		report += r.String() + "\n"
	}
	if len(results) == 2 {
		w, p := results[0], results[1]
		report += fmt.Sprintf("ratio prometheus/watchdog: CPU per sample %.2f×, RSS %.2f×, RSS per series %.2f×\n",
			p.cpuPerSample()/w.cpuPerSample(), float64(p.rss)/float64(w.rss), p.rssPerSeries()/w.rssPerSeries())
		fmt.Print(report[strings.LastIndex(report[:len(report)-1], "\n")+1:])
	}
	return os.WriteFile(filepath.Join(o.out, "report.txt"), []byte(report), 0o644)
}
