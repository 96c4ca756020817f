package main

import (
	"flag"
	"fmt"
	"io"
	"strings"
)

// command is one subcommand as help shows it.
type command struct {
	name    string
	summary string // one line in `watchdog help`
	// help writes the subcommand's own help (`watchdog help NAME`,
	// `watchdog NAME --help`); nil for help itself (usage).
	help func(w io.Writer)
}

// commands are the subcommands, in the order `watchdog help` lists them.
var commands = []command{
	{"demo", "run the embedded demo (a built-in shop, scraped, evaluated and paged); the default", func(w io.Writer) { serveHelp(w, true) }},
	{"run", "run a configuration file: watchdog run --config FILE", func(w io.Writer) { serveHelp(w, false) }},
	{"check", "validate configuration or rule files: watchdog check config|rules FILE...", checkHelp},
	{"test", "run rule tests (promtool format) and escalation tests: watchdog test FILE...", testHelp},
	{"pager", "talk to a running watchdog's pager (incidents, ack, oncall, silences…) or import a pager section", pagerHelp},
	{"version", "print the version", func(w io.Writer) {
		fmt.Fprintln(w, "Usage: watchdog version\n\nPrints the version, revision, branch and Go version.")
	}},
	{"help", "show this help, or a command's: watchdog help COMMAND", nil}, // usage
}

// lookupCommand returns the subcommand called name.
func lookupCommand(name string) (command, bool) {
	for _, c := range commands {
		if c.name == name {
			return c, true
		}
	}
	return command{}, false
}

// isHelpFlag reports whether arg asks for help.
func isHelpFlag(arg string) bool {
	switch arg {
	case "-h", "--h", "-help", "--help":
		return true
	}
	return false
}

// usage writes the top-level help: every subcommand with one line.
func usage(w io.Writer) {
	fmt.Fprint(w, "Watchdog: scrape, store, evaluate rules and page people, in one binary.\n\nUsage: watchdog [COMMAND] [ARGS]\n\nCommands:\n")
	for _, c := range commands {
		fmt.Fprintf(w, "  %-8s %s\n", c.name, c.summary)
	}
	fmt.Fprint(w, "\nRun `watchdog help COMMAND` or `watchdog COMMAND --help` for a command's flags.\n")
}

// cmdHelp is `watchdog help [COMMAND]`.
func cmdHelp(args []string, stdout, stderr io.Writer) int {
	switch {
	case len(args) == 0:
		usage(stdout)
		return 0
	case len(args) > 1:
		fmt.Fprintf(stderr, "watchdog help: takes at most one command, got %q\n", strings.Join(args, " "))
		return 2
	}
	c, ok := lookupCommand(args[0])
	if !ok {
		fmt.Fprintf(stderr, "watchdog help: unknown command %q (`watchdog help` lists them)\n", args[0])
		return 2
	}
	if c.help == nil {
		usage(stdout)
		return 0
	}
	c.help(stdout)
	return 0
}

// hiddenFlags are flags for tests, left out of every help.
var hiddenFlags = map[string]bool{"demo.first-spike": true, "demo.first-cart-outage": true}

// printFlags writes fs's flags as flag.PrintDefaults does, without the
// hidden ones, with the defaults they had before parsing.
func printFlags(w io.Writer, fs *flag.FlagSet) {
	shown := flag.NewFlagSet(fs.Name(), flag.ContinueOnError)
	fs.VisitAll(func(f *flag.Flag) {
		if !hiddenFlags[f.Name] {
			shown.Var(f.Value, f.Name, f.Usage)
			shown.Lookup(f.Name).DefValue = f.DefValue
		}
	})
	shown.SetOutput(w)
	shown.PrintDefaults()
}

// serveHelp is the help of demo and run.
func serveHelp(w io.Writer, demoMode bool) {
	if demoMode {
		fmt.Fprint(w, "Usage: watchdog [demo] [flags]\n\nRuns the embedded demo: a built-in shop, scraped together with the watchdog's own /metrics,\nwith the example rules and a paging policy.\n\nFlags:\n")
	} else {
		fmt.Fprint(w, "Usage: watchdog run --config FILE [flags]\n\nRuns a configuration file until SIGINT or SIGTERM; SIGHUP or POST /-/reload reloads it.\n\nFlags:\n")
	}
	fs, _ := serveFlags(demoMode)
	printFlags(w, fs)
}

// checkHelp is the help of check.
func checkHelp(w io.Writer) {
	fmt.Fprint(w, `Usage:
  watchdog check config FILE...   validate configuration files, their rule files and pager sections
  watchdog check rules FILE...    validate rule files

Exit status: 0 clean, 1 on problems, 2 on bad usage.
`)
}

// testHelp is the help of test.
func testHelp(w io.Writer) {
	fmt.Fprint(w, `Usage: watchdog test [--run REGEX] TEST_FILE...

Runs rule tests (promtool test rules format) and escalation tests (files with pager_config:
expect_pages, actions, expect_forwards). Exit status: 0 pass, 1 fail, 2 bad input.

Flags:
`)
	fs, _ := testFlags()
	printFlags(w, fs)
}

// pagerHelp is the help of pager.
func pagerHelp(w io.Writer) {
	fmt.Fprint(w, pagerUsage)
	fs, _ := pagerFlags()
	printFlags(w, fs)
}

// flagError is the message of a flag parse error: what is wrong and
// where the help is.
func flagError(cmd string, err error) error {
	return fmt.Errorf("%w: %s: %v (see `watchdog help %s`)", errUsage, cmd, err, cmd)
}
