package examples

import (
	"bytes"
	"math"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/watchdog-sre/watchdog/pager/pagertest"
	"github.com/watchdog-sre/watchdog/rules"
	"github.com/watchdog-sre/watchdog/rules/ruletest"
	"github.com/watchdog-sre/watchdog/tsdb"
)

// TestRuleFilesPass runs every example's unit tests through `watchdog test`'s
// runners (rule tests, and escalation tests such as demo-paging_test.yml):
// the examples must stay green.
func TestRuleFilesPass(t *testing.T) {
	tests, err := filepath.Glob("rules/*_test.yml")
	if err != nil || len(tests) == 0 {
		t.Fatalf("no example tests found: %v", err)
	}
	for _, f := range tests {
		t.Run(filepath.Base(f), func(t *testing.T) {
			var out bytes.Buffer
			run := func() int { return ruletest.Run(ruletest.Options{Out: &out, NewStore: newRuleTestStore}, f) }
			if data, err := os.ReadFile(f); err == nil && pagertest.IsTestFile(data) {
				run = func() int { return pagertest.Run(pagertest.Options{Out: &out}, f) }
			}
			if code := run(); code != 0 {
				t.Fatalf("watchdog test %s: exit %d\n%s", f, code, out.String())
			}
		})
	}
}

// TestDemoPolicyHasEscalationTest: the demo's paging policy is tested in
// examples/rules (run by CI's `watchdog test examples/rules/*_test.yml`).
func TestDemoPolicyHasEscalationTest(t *testing.T) {
	data, err := os.ReadFile("rules/demo-paging_test.yml")
	if err != nil {
		t.Fatal(err)
	}
	if !pagertest.IsTestFile(data) || !bytes.Contains(data, []byte("pager_config: ../../cmd/watchdog/demo.yml")) {
		t.Fatal("rules/demo-paging_test.yml is not an escalation test of cmd/watchdog/demo.yml")
	}
}

// TestRuleFilesLoad checks that the embedded rule files are valid.
func TestRuleFilesLoad(t *testing.T) {
	files, _ := filepath.Glob("rules/*.yml")
	var ruleFiles []string
	for _, f := range files {
		if filepath.Ext(f) == ".yml" && !bytes.HasSuffix([]byte(f), []byte("_test.yml")) {
			ruleFiles = append(ruleFiles, f)
		}
	}
	if len(ruleFiles) == 0 {
		t.Fatal("no example rule files")
	}
	if _, err := rules.LoadFiles(ruleFiles...); err != nil {
		t.Fatal(err)
	}
	entries, err := Rules.ReadDir("rules")
	if err != nil || len(entries) != len(files) {
		t.Fatalf("embedded %d files, %d on disk (%v)", len(entries), len(files), err)
	}
}

// TestPagerFilesPass runs the example pager tests (pager/*.test.yml)
// through `watchdog test`'s pager runner: they must stay green.
func TestPagerFilesPass(t *testing.T) {
	tests, err := filepath.Glob("pager/*.test.yml")
	if err != nil || len(tests) == 0 {
		t.Fatalf("no example pager tests found: %v", err)
	}
	for _, f := range tests {
		t.Run(filepath.Base(f), func(t *testing.T) {
			var out bytes.Buffer
			if code := pagertest.Run(pagertest.Options{Out: &out}, f); code != 0 {
				t.Fatalf("watchdog test %s: exit %d\n%s", f, code, out.String())
			}
		})
	}
}

// ruleTestStore is the store the rule tests run on, as `watchdog test`
// gives it (cmd/watchdog).
type ruleTestStore struct{ *tsdb.DB }

func (s ruleTestStore) Appender() rules.Appender { return s.DB.Appender() }

func newRuleTestStore() (ruletest.Store, error) {
	db, err := tsdb.Open(tsdb.Options{Retention: time.Duration(math.MaxInt64)})
	if err != nil {
		return nil, err
	}
	return ruleTestStore{db}, nil
}
