package pagertest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"strings"

	"github.com/prometheus/common/model"

	"github.com/watchdog-sre/watchdog/pager"
)

// Exit codes of Run, as those of ruletest.Run.
const (
	ExitSuccess    = 0 // every test passed
	ExitFailure    = 1 // a test failed
	ExitUnreadable = 2 // a test file or its pager config could not be read or parsed
)

// Options configures Run; the zero value runs every test and writes to
// os.Stdout.
type Options struct {
	// Run selects the tests whose name it matches; nil runs all.
	Run *regexp.Regexp
	// Out receives the report; nil means os.Stdout.
	Out io.Writer
}

// Load reads a test file and the pager config it names, and checks the
// test's references (expected users and channels, reassign targets)
// against the config. Config errors are *pager.ConfigError values;
// reference problems are *Error values.
func Load(path string) (*File, *pager.Config, error) {
	f, err := LoadFile(path)
	if err != nil {
		return nil, nil, err
	}
	data, err := os.ReadFile(f.PagerConfig)
	if err != nil {
		return nil, nil, &Error{File: path, Line: f.PagerConfigLine, Path: "pager_config", Msg: fmt.Sprintf("read pager config: %v", err)}
	}
	cfg, err := pager.ParseConfig(f.PagerConfig, data)
	if err != nil {
		return nil, nil, err
	}
	if err := checkRefs(f, cfg); err != nil {
		return nil, nil, err
	}
	return f, cfg, nil
}

// checkRefs reports users and channels the test names that cfg lacks.
func checkRefs(f *File, cfg *pager.Config) error {
	r := &report{File: f.Path}
	channels := map[string]bool{}
	for _, c := range cfg.Channels {
		channels[c.Name] = true
	}
	for i, t := range f.Tests {
		for j, p := range t.ExpectPages {
			if cfg.User(p.User) == nil {
				r.Add(p.Line, fmt.Sprintf("tests[%d].expect_pages[%d].user", i, j), "no user %q in %s", p.User, f.PagerConfig)
			}
		}
		for j, fw := range t.ExpectForwards {
			if !channels[fw.Channel] {
				r.Add(fw.Line, fmt.Sprintf("tests[%d].expect_forwards[%d].channel", i, j), "no channel %q in %s", fw.Channel, f.PagerConfig)
			}
		}
		for j, a := range t.Actions {
			if a.Verb == VerbReassign && cfg.User(a.To) == nil {
				r.Add(a.Line, fmt.Sprintf("tests[%d].actions[%d].reassign", i, j), "no user %q in %s", a.To, f.PagerConfig)
			}
		}
	}
	return r.Err()
}

// Run runs the test files and writes a report in the style of promtool
// test rules; it returns the highest exit code of the files.
func Run(opts Options, files ...string) int {
	out := opts.Out
	if out == nil {
		out = os.Stdout
	}
	code := ExitSuccess
	for _, path := range files {
		fmt.Fprintf(out, "Processing test file: %s\n", path)
		c, errs := runFile(path, opts.Run)
		if len(errs) == 0 {
			fmt.Fprintln(out, "  SUCCESS")
		} else {
			fmt.Fprintln(out, "  FAILED:")
			for _, e := range errs {
				fmt.Fprintf(out, "%s\n\n", e)
			}
		}
		fmt.Fprintln(out)
		code = max(code, c)
	}
	return code
}

func runFile(path string, run *regexp.Regexp) (int, []string) {
	f, cfg, err := Load(path)
	if err != nil {
		return ExitUnreadable, []string{err.Error()}
	}
	var errs []string
	for i := range f.Tests {
		t := &f.Tests[i]
		if run != nil && !run.MatchString(t.Name) {
			continue
		}
		o, err := Simulate(context.Background(), cfg, t)
		if err != nil {
			errs = append(errs, fmt.Sprintf("    name: %s,\n    error: %v", t.DisplayName(i), err))
			continue
		}
		if msgs := Check(t, o); len(msgs) > 0 {
			errs = append(errs, fmt.Sprintf("    name: %s,\n%s", t.DisplayName(i), strings.Join(msgs, "\n")))
		}
	}
	if len(errs) > 0 {
		return ExitFailure, errs
	}
	return ExitSuccess, nil
}

// Check compares what happened with what the test expects and returns the
// failures, each formatted for the report; none when the test passes.
func Check(t *Test, o *Outcome) []string {
	var msgs []string
	msgs = append(msgs, o.Problems...)
	if t.CheckPages {
		exp, got := urgencies(t.ExpectPages, o.Pages)
		if m := diff("pages", exp, got, pageKey); m != "" {
			msgs = append(msgs, m)
		}
	}
	if t.CheckForwards {
		exp := slices.Clone(t.ExpectForwards)
		if m := diff("forwards", exp, o.Forwards, forwardKey); m != "" {
			msgs = append(msgs, m)
		}
	}
	if t.CheckNoPagesAfter {
		var late []Page
		for _, p := range o.Pages {
			if p.At > t.NoPagesAfter {
				late = append(late, p)
			}
		}
		if len(late) > 0 {
			msgs = append(msgs, fmt.Sprintf("    no pages after %s, got:%s", model.Duration(t.NoPagesAfter), listString(late)))
		}
	}
	return msgs
}

type key struct {
	at   int64
	a, b string
}

func pageKey(p Page) key { return key{int64(p.At), p.User, p.Method + " " + p.Urgency} }

// urgencies prepares expected and actual pages for comparison: when no
// expected page names an urgency, urgency is not compared; when one does,
// every page's is, and those that omit it expect high.
func urgencies(exp, got []Page) ([]Page, []Page) {
	exp, got = slices.Clone(exp), slices.Clone(got)
	named := slices.ContainsFunc(exp, func(p Page) bool { return p.Urgency != "" })
	for i := range exp {
		if named && exp[i].Urgency == "" {
			exp[i].Urgency = pager.UrgencyHigh
		}
	}
	for i := range got {
		if !named {
			got[i].Urgency = ""
		} else if got[i].Urgency == "" {
			got[i].Urgency = pager.UrgencyHigh
		}
	}
	return exp, got
}
func forwardKey(f Forward) key { return key{int64(f.At), f.Channel, f.Event} }

func cmpKey(x, y key) int {
	if x.at != y.at {
		if x.at < y.at {
			return -1
		}
		return 1
	}
	if c := strings.Compare(x.a, y.a); c != 0 {
		return c
	}
	return strings.Compare(x.b, y.b)
}

// diff compares expected and actual lists as multisets ordered by time;
// "" when they match.
func diff[T fmt.Stringer](what string, exp, got []T, k func(T) key) string {
	by := func(x, y T) int { return cmpKey(k(x), k(y)) }
	slices.SortStableFunc(exp, by)
	slices.SortStableFunc(got, by)
	if slices.EqualFunc(exp, got, func(x, y T) bool { return k(x) == k(y) }) {
		return ""
	}
	var missing, extra []T
	i, j := 0, 0
	for i < len(exp) || j < len(got) {
		switch {
		case j == len(got) || i < len(exp) && cmpKey(k(exp[i]), k(got[j])) < 0:
			missing = append(missing, exp[i])
			i++
		case i == len(exp) || cmpKey(k(exp[i]), k(got[j])) > 0:
			extra = append(extra, got[j])
			j++
		default:
			i++
			j++
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "    %s:\n        exp:%s\n        got:%s", what, listString(exp), listString(got))
	if len(missing) > 0 {
		fmt.Fprintf(&b, "\n        missing:%s", listString(missing))
	}
	if len(extra) > 0 {
		fmt.Fprintf(&b, "\n        unexpected:%s", listString(extra))
	}
	return b.String()
}

// listString prints a list one entry a line, as promtool prints alerts.
func listString[T fmt.Stringer](xs []T) string {
	if len(xs) == 0 {
		return "[]"
	}
	var b strings.Builder
	b.WriteString("[")
	for i, x := range xs {
		fmt.Fprintf(&b, "\n            %d: %s", i, x)
	}
	b.WriteString("\n        ]")
	return b.String()
}

// errNotSettled is returned when the pager stays busy at one instant.
var errNotSettled = errors.New("pager did not settle")
