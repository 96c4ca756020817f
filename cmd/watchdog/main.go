// Command watchdog scrapes Prometheus targets into an in-memory store, answers
// PromQL over HTTP, and (as later subcommands land) evaluates rules and pages
// people. With no arguments it runs the embedded demo: a built-in shop target,
// scraped together with the watchdog's own /metrics.
//
//	watchdog                      run the demo
//	watchdog run --config FILE    run a configuration
//	watchdog check config FILE    validate a configuration file
//	watchdog check rules FILE     validate rule files
//	watchdog test FILE...         run rule tests (promtool format) and paging tests
//	watchdog pager COMMAND        incidents, ack, oncall, silences… over the API; import-alertmanager, import-pagerduty, import-opsgenie
//	watchdog version              print the version
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
)

// Set by -ldflags "-X main.version=...".
var (
	version  = "0.1.0-dev"
	revision = "unknown"
	branch   = "main"
)

// errUsage marks a command-line mistake; main exits 2 for it.
var errUsage = errors.New("usage")

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run dispatches a subcommand and returns the process exit code:
// 0 success, 1 failure (a problem found), 2 bad usage or unreadable input.
func run(args []string, stdout, stderr io.Writer) int {
	cmd := "demo"
	if len(args) > 0 && len(args[0]) > 0 && args[0][0] != '-' {
		cmd, args = args[0], args[1:]
	}
	var err error
	switch cmd {
	case "demo":
		err = cmdServe(args, true, stdout, stderr)
	case "run":
		err = cmdServe(args, false, stdout, stderr)
	case "check":
		return cmdCheck(args, stdout, stderr)
	case "test":
		return cmdTest(args, stdout, stderr)
	case "pager":
		return cmdPager(args, stdout, stderr)
	case "version":
		fmt.Fprintf(stdout, "watchdog %s (revision %s, branch %s, %s)\n", version, revision, branch, runtime.Version())
		return 0
	case "help", "-h", "--help":
		usage(stdout)
		return 0
	default:
		fmt.Fprintf(stderr, "watchdog: unknown command %q\n\n", cmd)
		usage(stderr)
		return 2
	}
	if err != nil {
		fmt.Fprintf(stderr, "watchdog: %v\n", err)
		if errors.Is(err, errUsage) || errors.Is(err, flag.ErrHelp) {
			return 2
		}
		return 1
	}
	return 0
}

func usage(w io.Writer) {
	fmt.Fprint(w, `Usage:
  watchdog [demo] [flags]            run the embedded demo (a built-in shop, scraped and queryable)
  watchdog run --config FILE [flags] run a configuration file
  watchdog check config FILE...      validate configuration files and their rule files (exit 0 clean, 1 on problems)
  watchdog check rules FILE...       validate rule files
  watchdog test [--run RE] FILE...   run rule tests (promtool test rules format) and paging tests (files with pager_config);
                                     exit 0 pass, 1 fail, 2 bad input
  watchdog pager COMMAND [ARGS]      talk to a running watchdog's pager, or import-alertmanager/-pagerduty/-opsgenie (watchdog pager --help)
  watchdog version                   print the version

Flags of demo and run:
`)
	fs, _ := serveFlags(false)
	fs.SetOutput(w)
	fs.PrintDefaults()
}
