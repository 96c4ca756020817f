package main

import (
	"strings"
	"testing"
)

// TestCmdTestRunsOnTheStore runs `watchdog test` on the examples' rule
// tests (PromQL and native conditions, native histograms): the store comes
// from cmd (newRuleTestStore) through ruletest.Store.
func TestCmdTestRunsOnTheStore(t *testing.T) {
	files := []string{"../../examples/rules/shop_test.yml", "../../examples/rules/shop-native_test.yml",
		"../../examples/rules/shop-histogram_test.yml"}
	var stdout, stderr strings.Builder
	if code := cmdTest(files, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d\n%s%s", code, stdout.String(), stderr.String())
	}
	if n := strings.Count(stdout.String(), "SUCCESS"); n != len(files) {
		t.Fatalf("%d SUCCESS lines, want %d:\n%s", n, len(files), stdout.String())
	}
}
