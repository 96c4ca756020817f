package bench

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/watchdog-sre/watchdog/config"
	"github.com/watchdog-sre/watchdog/probe"
	"github.com/watchdog-sre/watchdog/tsdb"
)

// probeServerEnv makes TestProbeServerProcess serve: the benchmark runs the
// probed servers in a child process so that their CPU is not counted.
const probeServerEnv = "WATCHDOG_BENCH_PROBE_SERVER"

// probeServers is how many listeners the child serves on (several, so that
// 10,000 probes' connections per cycle do not exhaust one address pair's
// ephemeral ports while the closed ones sit in TIME_WAIT).
const probeServers = 8

// TestProbeServerProcess is the child process of BenchmarkProbes: it serves
// a small JSON page on probeServers ports, prints their addresses, and exits
// when its stdin closes. Without the environment variable it does nothing.
func TestProbeServerProcess(t *testing.T) {
	if os.Getenv(probeServerEnv) == "" {
		t.Skip("only the child process of BenchmarkProbes")
	}
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"status":"ok","items":[{"sku":"SKU-42","qty":1}]}`)
	})
	var addrs []string
	for range probeServers {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		go (&http.Server{Handler: handler, ReadHeaderTimeout: 5 * time.Second}).Serve(ln)
		addrs = append(addrs, ln.Addr().String())
	}
	fmt.Println("ADDRS " + strings.Join(addrs, " "))
	io.Copy(io.Discard, os.Stdin)
}

func startProbeServers(b *testing.B) []string {
	b.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestProbeServerProcess$", "-test.v")
	cmd.Env = append(os.Environ(), probeServerEnv+"=1")
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { stdin.Close(); cmd.Wait() })
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "ADDRS "); ok {
			go io.Copy(io.Discard, stdout)
			return strings.Fields(rest)
		}
	}
	b.Fatal("the server process printed no addresses")
	return nil
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

func heapInuse() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse
}

// BenchmarkProbes runs N HTTP probes (default 10,000;
// WATCHDOG_BENCH_PROBES) at a 15 s interval against local servers in a
// child process, writing their series to a store, for a warm-up interval
// and then WATCHDOG_BENCH_PROBE_CYCLES intervals (default 4), and reports
// CPU per probe run, heap per probe (store included) and schedule misses.
// Run with -benchtime=1x.
func BenchmarkProbes(b *testing.B) {
	n := envInt("WATCHDOG_BENCH_PROBES", 10_000)
	cycles := envInt("WATCHDOG_BENCH_PROBE_CYCLES", 4)
	const interval = 15 * time.Second
	addrs := startProbeServers(b)
	var sb strings.Builder
	sb.WriteString("probe_modules:\n  json:\n    prober: http\n    timeout: 5s\n    http:\n      preferred_ip_protocol: ip4\n" +
		"      fail_if_json_not_matches: [{path: items.0.sku, equals: SKU-42}]\nprobes:\n")
	for i := range n {
		fmt.Fprintf(&sb, "  - {name: p%d, module: json, interval: 15s, target: 'http://%s/item/%d'}\n", i, addrs[i%len(addrs)], i)
	}
	cfg, err := config.Parse([]byte(sb.String()), "bench.yml")
	if err != nil {
		b.Fatal(err)
	}
	for range b.N {
		db, err := tsdb.Open(tsdb.Options{})
		if err != nil {
			b.Fatal(err)
		}
		set := metrics.NewSet()
		heap0 := heapInuse()
		m := probe.New(probe.Options{Appender: func() probe.Appender { return db.Appender() }, Metrics: set})
		m.Apply(cfg)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { m.Run(ctx); close(done) }()
		time.Sleep(interval + time.Second) // every probe has run once
		heap1 := heapInuse()
		runs0, misses0, fails0 := counter(set, "watchdog_probe_runs_total"), counter(set, "watchdog_probe_schedule_misses_total"),
			counter(set, "watchdog_probe_failures_total")
		cpu0, wall0 := cpuTime(), time.Now()
		goroutines := runtime.NumGoroutine()
		time.Sleep(time.Duration(cycles) * interval)
		cpu, wall := cpuTime()-cpu0, time.Since(wall0)
		runs := counter(set, "watchdog_probe_runs_total") - runs0
		misses := counter(set, "watchdog_probe_schedule_misses_total") - misses0
		fails := counter(set, "watchdog_probe_failures_total") - fails0
		cancel()
		<-done
		expected := float64(n) * wall.Seconds() / interval.Seconds()
		b.ReportMetric(float64(cpu.Microseconds())/runs, "cpu-µs/run")
		b.ReportMetric(cpu.Seconds()/wall.Seconds()*100, "%cpu")
		b.ReportMetric(float64(heap1-heap0)/float64(n), "heap-B/probe")
		b.ReportMetric(runs, "runs")
		b.ReportMetric(expected, "runs-due")
		b.ReportMetric(misses, "misses")
		b.ReportMetric(fails, "failures")
		b.Logf("%d probes, %d goroutines, %.0f runs in %v (%.0f due), %.0f misses, %.0f failed, CPU %v (%.1f%% of one core), heap +%d MiB",
			n, goroutines, runs, wall.Round(time.Second), expected, misses, fails, cpu.Round(time.Millisecond),
			cpu.Seconds()/wall.Seconds()*100, (heap1-heap0)>>20)
	}
}

func counter(set *metrics.Set, name string) float64 {
	var sb strings.Builder
	set.WritePrometheus(&sb)
	for _, l := range strings.Split(sb.String(), "\n") {
		if v, ok := strings.CutPrefix(l, name+" "); ok {
			f, _ := strconv.ParseFloat(v, 64)
			return f
		}
	}
	return 0
}
