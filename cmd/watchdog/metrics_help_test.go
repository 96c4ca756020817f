package main

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/watchdog-sre/watchdog/internal/selfmetrics"
)

// notMetrics are watchdog_ names in the source that are not metric
// families.
var notMetrics = map[string]string{
	"watchdog_pager":        "PostgreSQL LISTEN/NOTIFY channel (pager/sqlstore)",
	"watchdog_pager_schema": "PostgreSQL schema version table (pager/sqlstore)",
	"watchdog_session":      "the console session cookie (web.SessionCookie)",
	"watchdog_checkin_last_success_timestamp_seconds": "series written to the store (checkin.SeriesLastSuccess)",
	"watchdog_checkin_last_duration_seconds":          "series written to the store (checkin.SeriesLastDuration)",
	"watchdog_checkin_up":                             "series written to the store (checkin.SeriesUp)",
	"watchdog_checkin_state":                          "series written to the store (checkin.SeriesState)",
}

var metricNameRE = regexp.MustCompile(`^watchdog_[a-zA-Z0-9_]*`)

// TestEveryMetricFamilyHasHelp: every watchdog_* metric name written in
// the program's source (the binary links every package, so every package's
// selfmetrics.Describe has run) is described with a help text and a type,
// so that /metrics never shows a family without HELP. A name built from a
// prefix ("watchdog_remote_storage_" + n) must prefix a described family.
func TestEveryMetricFamilyHasHelp(t *testing.T) {
	described := selfmetrics.Families()
	isDescribed := func(name string) bool {
		for _, f := range described {
			if f.Name == name || strings.HasSuffix(name, "_") && strings.HasPrefix(f.Name, name) ||
				(f.Type == selfmetrics.Histogram || f.Type == selfmetrics.Summary) &&
					(name == f.Name+"_bucket" || name == f.Name+"_sum" || name == f.Name+"_count") {
				return true
			}
		}
		return false
	}
	seen := 0
	root := filepath.Join("..", "..")
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			switch d.Name() {
			case "testdata", "bench", ".git", "node_modules":
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		ast.Inspect(f, func(n ast.Node) bool {
			lit, ok := n.(*ast.BasicLit)
			if !ok || lit.Kind != token.STRING {
				return true
			}
			s, err := strconv.Unquote(lit.Value)
			if err != nil {
				return true
			}
			name := metricNameRE.FindString(s)
			if name == "" || s != name && !strings.HasPrefix(s[len(name):], "{") {
				return true // not a metric name, or one inside prose
			}
			seen++
			if _, ok := notMetrics[name]; !ok && !isDescribed(name) {
				t.Errorf("%s: metric family %q has no help text: describe it with selfmetrics.Describe next to its registration", path, name)
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if seen < 50 {
		t.Fatalf("found only %d metric names in the source: is the walk broken?", seen)
	}
}
