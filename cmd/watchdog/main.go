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
	if len(args) > 0 && isHelpFlag(args[0]) {
		usage(stdout)
		return 0
	}
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
		if len(args) > 0 && isHelpFlag(args[0]) {
			return cmdHelp([]string{"version"}, stdout, stderr)
		}
		if len(args) > 0 {
			fmt.Fprintf(stderr, "watchdog version: unexpected argument %q\n", args[0])
			return 2
		}
		fmt.Fprintf(stdout, "watchdog %s (revision %s, branch %s, %s)\n", version, revision, branch, runtime.Version())
		return 0
	case "help":
		return cmdHelp(args, stdout, stderr)
	default:
		fmt.Fprintf(stderr, "watchdog: unknown command %q (`watchdog help` lists them)\n", cmd)
		return 2
	}
	if err != nil {
		fmt.Fprintf(stderr, "watchdog: %v\n", err)
		if errors.Is(err, errUsage) {
			return 2
		}
		return 1
	}
	return 0
}
