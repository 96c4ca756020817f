package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"regexp"
	"time"

	"github.com/watchdog-sre/watchdog/config"
	"github.com/watchdog-sre/watchdog/pager/pagertest"
	"github.com/watchdog-sre/watchdog/rules"
	"github.com/watchdog-sre/watchdog/rules/ruletest"
	"github.com/watchdog-sre/watchdog/tsdb"
)

// cmdCheck lints files as promtool does: exit 0 when clean, 1 on problems,
// 2 on bad usage.
func cmdCheck(args []string, stdout, stderr io.Writer) int {
	for _, a := range args[:min(len(args), 2)] {
		if isHelpFlag(a) {
			checkHelp(stdout)
			return 0
		}
	}
	switch {
	case len(args) == 0:
		fmt.Fprint(stderr, "watchdog check: missing what to check (config or rules)\n\n")
		checkHelp(stderr)
		return 2
	case args[0] != "config" && args[0] != "rules":
		fmt.Fprintf(stderr, "watchdog check: unknown check %q: want config or rules (see `watchdog help check`)\n", args[0])
		return 2
	case len(args) < 2:
		fmt.Fprintf(stderr, "watchdog check %s: missing FILE (see `watchdog help check`)\n", args[0])
		return 2
	}
	code := 0
	for _, f := range args[1:] {
		var err error
		what := "configuration"
		switch args[0] {
		case "config":
			var cfg *config.Config
			if cfg, err = config.Load(f); err == nil {
				err = checkConfigRules(cfg)
			}
			if err == nil {
				err = checkConfigPager(cfg, f)
			}
		case "rules":
			what = "rule file"
			_, err = rules.LoadFiles(f)
		}
		if err != nil {
			fmt.Fprintf(stderr, "FAILED: %v\n", err)
			code = 1
			continue
		}
		fmt.Fprintf(stdout, "SUCCESS: %s is a valid %s\n", f, what)
	}
	return code
}

// checkConfigRules loads the rule files a configuration names, as promtool
// check config does.
func checkConfigRules(cfg *config.Config) error {
	files, err := ruleFiles(cfg.RuleFiles)
	if err != nil {
		return err
	}
	if len(files) == 0 {
		return nil
	}
	if _, err = rules.LoadFiles(files...); err != nil || cfg.Datasource == nil {
		return err
	}
	rs, err := rules.Prepare(0, files)
	if err != nil {
		return err
	}
	return checkDatasourceRules(cfg.Datasource, rs)
}

// checkConfigPager validates the pager section and reads its secrets.
func checkConfigPager(cfg *config.Config, file string) error {
	pc, err := parsePager(cfg, file)
	if err != nil || pc == nil {
		return err
	}
	_, err = pc.BuildChannels(secretSource(file))
	return err
}

// testFlags are the flags of `watchdog test`.
func testFlags() (*flag.FlagSet, *string) {
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	run := fs.String("run", "", "run only the test groups (or paging tests) whose name matches this regular expression")
	return fs, run
}

// cmdTest runs unit tests: rule tests in the `promtool test rules` format
// and paging tests (files with a top-level pager_config, see package
// pagertest), each file by its own runner, in the order given.
func cmdTest(args []string, stdout, stderr io.Writer) int {
	fs, run := testFlags()
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			testHelp(stdout)
			return 0
		}
		fmt.Fprintf(stderr, "watchdog: %v\n", flagError("test", err))
		return 2
	}
	if fs.NArg() == 0 {
		fmt.Fprint(stderr, "watchdog test: missing TEST_FILE\n\n")
		testHelp(stderr)
		return 2
	}
	opts := ruletest.Options{Out: stdout, NewStore: newRuleTestStore}
	popts := pagertest.Options{Out: stdout}
	if *run != "" {
		re, err := regexp.Compile(*run)
		if err != nil {
			fmt.Fprintf(stderr, "watchdog test: --run: %v\n", err)
			return 2
		}
		opts.Run, popts.Run = re, re
	}
	code := 0
	for _, f := range fs.Args() {
		// An unreadable file goes to the rule test runner, which reports it.
		if data, err := os.ReadFile(f); err == nil && pagertest.IsTestFile(data) {
			code = max(code, pagertest.Run(popts, f))
			continue
		}
		code = max(code, ruletest.Run(opts, f))
	}
	return code
}

// ruleTestStore is the store `watchdog test` runs rule tests on: the
// watchdog's own, as ruletest.Store (which ruletest declares so that the
// rules know nothing of the store).
type ruleTestStore struct{ *tsdb.DB }

// Appender returns a fresh appender of the store.
func (s ruleTestStore) Appender() rules.Appender { return s.DB.Appender() }

// newRuleTestStore opens an empty store without a retention limit for one
// rule test group.
func newRuleTestStore() (ruletest.Store, error) {
	db, err := tsdb.Open(tsdb.Options{Retention: time.Duration(math.MaxInt64)})
	if err != nil {
		return nil, err
	}
	return ruleTestStore{db}, nil
}
