package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/watchdog-sre/watchdog/bench/internal/benchproc"
	"github.com/watchdog-sre/watchdog/internal/proctest"
)

const token = "fleet-bench-token"

// result is what one process did on the fleet.
type result struct {
	kind            string
	up, targets     int
	samples, series float64
	scrapes         float64 // scrapes recorded (count of up samples)
	wantScrapes     float64
	cpu             time.Duration // utime + stime over the run
	rss, hwm        int64         // bytes
	rssAnon         int64         // bytes: RssAnon (the rest is file and shared memory pages)
	seconds         float64
	goMem           string // the Go runtime's memory figures (watchdog only)
	whole, steady   string // the watchdog's figures over the run and after the warm-up
	scrapeTimes     string
	fleetCPU        time.Duration // this program's CPU (the exporters) over the run
	load            string        // the machine's load averages at the end
}

func (r result) cpuPerSample() float64 { return float64(r.cpu.Microseconds()) / max(r.samples, 1) }
func (r result) rssPerSeries() float64 { return float64(r.rss) / max(r.series, 1) }

func (r result) String() string {
	return fmt.Sprintf("%s: targets up %d/%d over %.0fs; scrapes %.0f of %.0f; samples ingested %.0f; series %.0f; "+
		"RSS %.0f MiB (peak %.0f; anonymous %.0f); CPU %.1fs = %.3f µs/sample; RSS per series %.0f B",
		r.kind, r.up, r.targets, r.seconds, r.scrapes, r.wantScrapes, r.samples, r.series,
		float64(r.rss)/(1<<20), float64(r.hwm)/(1<<20), float64(r.rssAnon)/(1<<20), r.cpu.Seconds(), r.cpuPerSample(), r.rssPerSeries()) + r.goMem +
		r.whole + r.steady + r.scrapeTimes +
		fmt.Sprintf("\n  exporters (this program) CPU %.1fs; machine load average %s", r.fleetCPU.Seconds(), r.load)
}

// goMemory summarizes the Go runtime's memory figures from a /metrics page.
func goMemory(base string) string {
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		return ""
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	v := map[string]float64{}
	for _, line := range strings.Split(string(b), "\n") {
		name, val, ok := strings.Cut(line, " ")
		f, _ := strconv.ParseFloat(val, 64)
		switch {
		case ok && (strings.HasPrefix(name, "go_") || strings.HasPrefix(name, "watchdog_tsdb_chunk")):
			v[name] = f
		case ok && strings.HasPrefix(name, "watchdog_scrape_missed_total"):
			v["missed"] += f
		}
	}
	mib := func(name string) float64 { return v[name] / (1 << 20) }
	return fmt.Sprintf("\n  scrape ticks missed (watchdog_scrape_missed_total): %.0f", v["missed"]) + fmt.Sprintf("\n  Go runtime: heap live %.0f MiB, in use %.0f, idle not released %.0f, next GC at %.0f, stacks %.0f, GC sys %.0f; %.0f GCs; GOGC %.0f",
		mib("go_memstats_heap_alloc_bytes"), mib("go_memstats_heap_inuse_bytes"),
		mib("go_memstats_heap_idle_bytes")-mib("go_memstats_heap_released_bytes"), mib("go_memstats_next_gc_bytes"),
		mib("go_memstats_stack_sys_bytes"), mib("go_memstats_gc_sys_bytes"), v["go_gc_duration_seconds_count"], v["go_gc_gogc_percent"]) +
		fmt.Sprintf("\n  store: chunk bytes %.1f MiB, of which in chunk files %.1f MiB (%.0f MiB mapped), %.0f file write fallbacks",
			mib("watchdog_tsdb_chunk_bytes"), mib("watchdog_tsdb_chunk_file_bytes"), mib("watchdog_tsdb_chunk_file_mapped_bytes"),
			v["watchdog_tsdb_chunk_file_fallbacks_total"])
}

func writeConfig(o options, kind string, f *fleet, dir string) (string, error) {
	var b strings.Builder
	fmt.Fprintf(&b, "global:\n  scrape_interval: %s\n  scrape_timeout: %s\n", o.interval, o.timeout)
	if o.rules != "" && kind == "watchdog" {
		abs, err := filepath.Abs(o.rules)
		if err != nil {
			return "", err
		}
		fmt.Fprintf(&b, "  evaluation_interval: %s\nrule_files: [%q]\n", o.interval, abs)
	}
	if n := o.targets * o.series; kind == "watchdog" && n > 1_500_000 {
		// The store's default limit is 2,000,000 series: leave room for
		// the fleet, its scrape series and the rules' ALERTS.
		fmt.Fprintf(&b, "storage:\n  max_series: %d\n", n+n/10+100_000)
	}
	b.WriteString("scrape_configs:\n  - job_name: node\n    static_configs:\n      - targets:\n")
	for _, a := range f.addrs {
		fmt.Fprintf(&b, "          - %q\n", a)
	}
	path := filepath.Join(dir, kind+".yml")
	return path, os.WriteFile(path, []byte(b.String()), 0o644)
}

func runOne(ctx context.Context, o options, e *exposition, kind, bin string) (result, error) {
	res := result{kind: kind, targets: o.targets}
	f, err := startFleet(e, o.targets, o.gzip, o.ramp)
	if err != nil {
		return res, err
	}
	defer f.close()
	cfg, err := writeConfig(o, kind, f, o.out)
	if err != nil {
		return res, err
	}
	port, err := proctest.FreePort()
	if err != nil {
		return res, err
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	var cmd *exec.Cmd
	if kind == "prometheus" {
		data, err := os.MkdirTemp("", "fleet-prometheus-*")
		if err != nil {
			return res, err
		}
		defer os.RemoveAll(data)
		cmd = exec.Command(bin, "--config.file="+cfg, "--web.listen-address="+addr, "--storage.tsdb.path="+data)
	} else {
		args := []string{"run", "--config", cfg, "--web.listen-address=" + addr}
		if o.chunkFiles {
			dir, err := os.MkdirTemp("", "fleet-chunks-*")
			if err != nil {
				return res, err
			}
			defer os.RemoveAll(dir)
			args = append(args, "--storage.chunks-dir="+dir)
		}
		args = append(args, strings.Fields(o.wdArgs)...)
		cmd = exec.Command(bin, args...)
		cmd.Env = append(os.Environ(), "WATCHDOG_TOKEN="+token)
		cmd.Env = append(cmd.Env, strings.Fields(o.wdEnv)...)
	}
	logf, err := os.Create(filepath.Join(o.out, kind+".log"))
	if err != nil {
		return res, err
	}
	defer logf.Close()
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	fleetCPU, _ := benchproc.CPU(os.Getpid())
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return res, fmt.Errorf("start: %w", err)
	}
	pid := cmd.Process.Pid
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer func() {
		syscall.Kill(-pid, syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(20 * time.Second):
			syscall.Kill(-pid, syscall.SIGKILL)
			<-exited
		}
	}()
	base := "http://" + addr
	fmt.Fprintf(os.Stderr, "fleet: %s pid %d on %s\n", kind, pid, addr)

	var cpuProf chan error
	var first, warm snapshot
	var activeSeries float64
	if kind == "watchdog" {
		first = snapshot{at: start, m: map[string]float64{}, buckets: map[float64]float64{}}
	}
	end := start.Add(o.duration)
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for time.Now().Before(end) {
		select {
		case <-ctx.Done():
			return res, ctx.Err()
		case err := <-exited:
			exited <- err
			return res, fmt.Errorf("exited early (%v); see %s", err, logf.Name())
		case <-tick.C:
		}
		if rss, _ := benchproc.Status(pid, "VmRSS"); rss > o.maxRSS {
			return res, fmt.Errorf("RSS %d MiB passed -max-rss", rss>>20)
		}
		if avail := memAvailable(); avail > 0 && avail < o.minAvail {
			rss, _ := benchproc.Status(pid, "VmRSS")
			return res, fmt.Errorf("the machine's MemAvailable fell to %d MiB (below -min-available) with RSS %d MiB", avail>>20, rss>>20)
		}
		if kind == "watchdog" && warm.m == nil && time.Since(start) >= o.warmup {
			warm = takeQuietSnapshot(base, pid, o.interval)
			fmt.Fprintf(os.Stderr, "fleet: warm-up ends: %s\n", between(first, warm))
		}
		if kind == "watchdog" && o.cpuProfile > 0 && cpuProf == nil && time.Since(start) >= o.cpuAt {
			cpuProf = make(chan error, 1)
			go func() {
				cpuProf <- fetchProfile(base+"/debug/pprof/profile?seconds="+strconv.Itoa(int(o.cpuProfile.Seconds())),
					filepath.Join(o.out, "watchdog-cpu.pprof"))
			}()
		}
	}
	res.seconds = time.Since(start).Seconds()
	if res.cpu, err = benchproc.CPU(pid); err != nil {
		return res, err
	}
	if res.rss, err = benchproc.Status(pid, "VmRSS"); err != nil {
		return res, err
	}
	res.hwm, _ = benchproc.Status(pid, "VmHWM")
	res.rssAnon, _ = benchproc.Status(pid, "RssAnon")
	if c, err := benchproc.CPU(os.Getpid()); err == nil {
		res.fleetCPU = c - fleetCPU
	}
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		res.load = strings.Join(strings.Fields(string(b))[:3], " ")
	}
	if cpuProf != nil {
		if err := <-cpuProf; err != nil {
			fmt.Fprintln(os.Stderr, "fleet: CPU profile:", err)
		}
	}
	if kind == "watchdog" {
		last := takeQuietSnapshot(base, pid, o.interval)
		activeSeries = last.m["watchdog_tsdb_active_series"]
		res.whole = "\n  whole run " + between(first, last).String()
		if warm.m != nil {
			res.steady = fmt.Sprintf("\n  after the %s warm-up %s", warm.at.Sub(start).Round(time.Second), between(warm, last))
		}
		res.goMem = goMemory(base)
		if err := fetchProfile(base+"/debug/pprof/heap?gc=1", filepath.Join(o.out, "watchdog-heap.pprof")); err != nil {
			fmt.Fprintln(os.Stderr, "fleet: heap profile:", err)
		}
	}
	res.samples, err = query(base, `sum(sum_over_time(scrape_samples_scraped{job="node"}[1d]))`)
	if err != nil {
		return res, err
	}
	if kind == "watchdog" {
		// count() over ten million series would build them all as a
		// vector; the store counts them.
		res.series = activeSeries
	} else if res.series, err = query(base, `count({__name__=~".+"})`); err != nil {
		return res, err
	}
	window := "1d"
	if !warm.at.IsZero() {
		window = strconv.Itoa(int(time.Since(warm.at).Seconds())) + "s"
	}
	avgScrape, err := query(base, `avg(avg_over_time(scrape_duration_seconds{job="node"}[`+window+`]))`)
	if err != nil {
		return res, err
	}
	maxScrape, err := query(base, `max(max_over_time(scrape_duration_seconds{job="node"}[`+window+`]))`)
	if err != nil {
		return res, err
	}
	res.scrapeTimes = fmt.Sprintf("\n  scrape duration over the last %s: mean %.3fs, slowest %.3fs", window, avgScrape, maxScrape)
	up, err := query(base, `count(up{job="node"} == 1)`)
	if err != nil {
		return res, err
	}
	res.up = int(up)
	if res.scrapes, err = query(base, `sum(count_over_time(up{job="node"}[1d]))`); err != nil {
		return res, err
	}
	res.wantScrapes = float64(o.targets) * float64(int(res.seconds/o.interval.Seconds()))
	return res, nil
}

func fetchProfile(u, path string) error {
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return fmt.Errorf("GET %s: %s: %s", u, resp.Status, b)
	}
	out, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, resp.Body); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// query runs an instant PromQL query and returns the first sample's value
// (0 for an empty result).
func query(base, q string) (float64, error) {
	c := http.Client{Timeout: 2 * time.Minute}
	resp, err := c.PostForm(base+"/api/v1/query", url.Values{"query": {q}})
	if err != nil {
		return 0, fmt.Errorf("query %s: %w", q, err)
	}
	defer resp.Body.Close()
	var body struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			Result []struct {
				Value [2]any `json:"value"`
			} `json:"result"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return 0, fmt.Errorf("query %s: %w", q, err)
	}
	if body.Status != "success" {
		return 0, fmt.Errorf("query %s: %s", q, body.Error)
	}
	if len(body.Data.Result) == 0 {
		return 0, nil
	}
	s, _ := body.Data.Result[0].Value[1].(string)
	return strconv.ParseFloat(s, 64)
}
