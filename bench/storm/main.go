// Command storm is the end-to-end alert storm benchmark (issue #18): it
// builds and starts the real watchdog binary with a pager that pages one
// user per incident through a webhook channel pointed at a local sink, posts
// an Alertmanager-API-v2 storm (default 100,000 alerts over 1,000 groups,
// 500 per POST, 4 connections) and reports alerts/s accepted, the time from
// a group's first POST to its first notification (p50, p99, max), groups
// never notified, alerts the receiver holds afterwards (GET /api/v2/alerts),
// RSS and CPU. Stores: memory, SQLite and PostgreSQL (a throwaway cluster,
// as internal/pgtest starts for tests). With -alertmanager the same storm
// runs against Alertmanager with a webhook receiver, in the same run.
//
//	go run ./bench/storm -alertmanager /usr/bin/prometheus-alertmanager
//
// bench/STORM.md has the scenario and the figures.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/watchdog-sre/watchdog/bench/internal/benchproc"
	"github.com/watchdog-sre/watchdog/internal/pgtest"
)

func main() {
	var (
		st        storm
		stores    = flag.String("stores", "memory,sqlite,postgres", "comma-separated watchdog pager stores to run: memory, sqlite, postgres")
		wdBin     = flag.String("watchdog", "", "watchdog binary (default: go build ./cmd/watchdog into a temporary directory)")
		amBin     = flag.String("alertmanager", "", "Alertmanager binary to run the same storm against (default: none)")
		profDir   = flag.String("profile", "", "directory for the watchdog's CPU and heap profiles (<store>.cpu.pprof, <store>.heap.pprof)")
		keep      = flag.Bool("keep", false, "keep the temporary directories (configs, logs, databases)")
		settle    = flag.Duration("settle", 5*time.Second, "time after the last notification before RSS is read again")
		extraArgs = flag.String("watchdog.args", "", "extra arguments for `watchdog run`, space-separated")
		chanKeys  = flag.String("channel.keys", "", "extra keys of the watchdog's webhook channel, e.g. 'max_concurrency: 64'")
	)
	flag.IntVar(&st.alerts, "alerts", 100000, "alerts in the storm")
	flag.IntVar(&st.groups, "groups", 1000, "groups (label group=g-<n>): one incident and one notification each")
	flag.IntVar(&st.batch, "batch", 500, "alerts per POST")
	flag.IntVar(&st.posters, "posters", 4, "concurrent POSTs")
	flag.DurationVar(&st.wait, "wait", 30*time.Second, "how long to wait for the last group's first notification")
	flag.BoolVar(&verbose, "v", false, "print the first POSTs' timings and when notifications arrived")
	flag.Parse()
	if st.alerts <= 0 || st.groups <= 0 || st.batch <= 0 || st.posters <= 0 {
		fatalf("-alerts, -groups, -batch and -posters must be positive")
	}
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()

	work, err := os.MkdirTemp("", "watchdog-storm-")
	if err != nil {
		fatalf("%v", err)
	}
	if !*keep {
		defer os.RemoveAll(work)
	} else {
		fmt.Println("# work directory:", work)
	}
	if *wdBin == "" {
		*wdBin = filepath.Join(work, "watchdog")
		root, err := benchproc.RepoRoot()
		if err != nil {
			fatalf("%v", err)
		}
		if err := benchproc.BuildWatchdog(ctx, root, *wdBin); err != nil {
			fatalf("%v", err)
		}
	}
	fmt.Printf("# storm: %d alerts over %d groups, %d per POST, %d connections; CPUs %d\n",
		st.alerts, st.groups, st.batch, st.posters, numCPU())
	fmt.Printf("%-22s %10s %7s %9s %9s %9s %9s %8s %9s %9s %9s %8s %9s\n",
		"target", "alerts/s", "non2xx", "notified", "p50", "p99", "max", "dups", "alerts", "RSS MiB", "peak MiB", "CPU s", "GET MiB")
	var pgStop func()
	defer func() {
		if pgStop != nil {
			pgStop()
		}
	}()
	for _, name := range strings.Split(*stores, ",") {
		if ctx.Err() != nil {
			break
		}
		name = strings.TrimSpace(name)
		dir := filepath.Join(work, name)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			fatalf("%v", err)
		}
		var db string
		switch name {
		case "memory":
		case "sqlite":
			db = filepath.Join(dir, "pager.db")
		case "postgres":
			if pgStop == nil {
				admin, stop, err := pgtest.Standalone()
				if errors.Is(err, pgtest.ErrNoPostgres) {
					fmt.Println("# postgres:", err)
					continue
				} else if err != nil {
					fatalf("postgres: %v", err)
				}
				pgAdmin, pgStop = admin, stop
			}
			if db, err = pgtest.CreateDB(pgAdmin, fmt.Sprintf("storm_%d", time.Now().UnixNano())); err != nil {
				fatalf("postgres: %v", err)
			}
		default:
			fatalf("unknown store %q (memory, sqlite, postgres)", name)
		}
		var args []string
		if *profDir != "" {
			args = append(args, "--debug.cpu-profile", filepath.Join(*profDir, name+".cpu.pprof"),
				"--debug.heap-profile", filepath.Join(*profDir, name+".heap.pprof"))
		}
		args = append(args, strings.Fields(*extraArgs)...)
		keys := ""
		if *chanKeys != "" {
			keys = ", " + *chanKeys
		}
		runTarget(ctx, st, "watchdog/"+name, func(s *sink) (*proc, error) { return startWatchdog(*wdBin, dir, db, s.url, keys, args) }, *settle)
	}
	if *amBin != "" && ctx.Err() == nil {
		dir := filepath.Join(work, "alertmanager")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			fatalf("%v", err)
		}
		runTarget(ctx, st, "alertmanager", func(s *sink) (*proc, error) { return startAlertmanager(*amBin, dir, s.url) }, *settle)
	}
}

var pgAdmin string

// runTarget starts a sink and the target, runs the storm and prints one
// line.
func runTarget(ctx context.Context, st storm, name string, start func(*sink) (*proc, error), settle time.Duration) {
	s, err := startSink()
	if err != nil {
		fatalf("sink: %v", err)
	}
	defer s.close()
	p, err := start(s)
	if err != nil {
		fmt.Printf("%-22s failed to start: %v\n", name, err)
		return
	}
	defer p.Halt()
	cpu0 := p.cpu()
	r := st.run(ctx, p.alertsURL, p.token, s)
	if settle > 0 {
		time.Sleep(settle)
	}
	rss, peak := p.rss()
	cpu := p.cpu() - cpu0
	held, herr := p.countAlerts(ctx)
	_, getPeak := p.rss() // the peak now includes answering GET /api/v2/alerts
	heldS := fmt.Sprint(held)
	if herr != nil {
		heldS = "err"
		fmt.Fprintf(os.Stderr, "%s: GET /api/v2/alerts: %v\n", name, herr)
	}
	fmt.Printf("%-22s %10.0f %7d %9s %9s %9s %9s %8d %9s %9.0f %9.0f %8.1f %9.0f\n", name,
		float64(st.alerts)/r.elapsed.Seconds(), r.non2xx, fmt.Sprintf("%d/%d", r.notified, st.groups),
		ms(r.p50), ms(r.p99), ms(r.max), r.dups, heldS, rss, peak, cpu.Seconds(), getPeak)
	if r.notified < st.groups || r.non2xx > 0 || held != st.alerts {
		fmt.Printf("#   %s: LOST: %d group(s) never notified, %d non-2xx POSTs, %d of %d alerts held; log: %s\n",
			name, st.groups-r.notified, r.non2xx, held, st.alerts, p.LogPath())
	}
}

func ms(d time.Duration) string { return fmt.Sprintf("%.0fms", float64(d)/float64(time.Millisecond)) }

func fatalf(format string, a ...any) {
	fmt.Fprintf(os.Stderr, "storm: "+format+"\n", a...)
	os.Exit(1)
}
