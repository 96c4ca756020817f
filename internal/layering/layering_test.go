package layering

import (
	"bufio"
	"bytes"
	"fmt"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/watchdog-sre/watchdog"

// layers are the module's components from the top down, as the README's
// Layout section documents them. A component is a directory with every
// package under it (pager covers pager/sqlstore; web covers web/ui). A
// package may import its own component and components of lower rows only:
// never a component of its own row or of a row above.
var layers = [][]string{
	{"cmd/watchdog"},
	{"web"},
	{"pager"},
	{"checkin", "heartbeat"},
	{"rules"},
	{"evaluator", "scrape", "probe", "remote"},
	{"tsdb", "config", "demo", "examples"},
	{"internal"},
}

// consumers are test-only components outside the layers: they may import
// any layer but cmd/watchdog (they run its binary), and nothing imports
// them.
var consumers = []string{"bench", "e2e"}

// testsConsume are components whose tests import like a consumer:
// examples' tests run the example files through `watchdog test`'s runners.
var testsConsume = []string{"examples"}

// knowsNothingOf narrows the rows for non-test imports: components a
// component must not import although they are lower. The pager knows
// nothing of rules, scrape, probes or the store (alerts reach it through
// its own API); the rules reach the store only through the evaluator's
// interfaces. Tests may use lower components as fixtures.
var knowsNothingOf = map[string][]string{
	"pager": {"checkin", "heartbeat", "rules", "evaluator", "scrape", "probe", "remote", "tsdb"},
	"rules": {"scrape", "probe", "remote", "tsdb"},
}

// importedOnlyBy: components only these may import (besides themselves).
var importedOnlyBy = map[string][]string{
	"web":      {"cmd/watchdog"},
	"demo":     {"cmd/watchdog"},
	"examples": {"cmd/watchdog"},
}

// exceptions are known imports against the rules, each with the issue
// that removes it. An entry that no longer occurs fails the test: delete
// it.
var exceptions = map[edge]string{}

// edge is one import, by module-relative path.
type edge struct{ from, to string }

// pkg is one package of the module and its imports of module packages.
type pkg struct {
	path        string // module-relative
	imports     []string
	testImports []string // of its _test.go files, both packages
}

// component returns the component of a module-relative package path.
func component(path string) string {
	if path == "cmd/watchdog" || strings.HasPrefix(path, "cmd/watchdog/") {
		return "cmd/watchdog"
	}
	first, _, _ := strings.Cut(path, "/")
	return first
}

// rank is the row of component c (0 the top), -1 for a consumer, -2 for
// a component in no row.
func rank(c string) int {
	if slices.Contains(consumers, c) {
		return -1
	}
	for i, row := range layers {
		if slices.Contains(row, c) {
			return i
		}
	}
	return -2
}

// checkEdge returns why the import e breaks the layering, or "".
func checkEdge(e edge, test bool) string {
	from, to := component(e.from), component(e.to)
	if from == to {
		return ""
	}
	rf, rt := rank(from), rank(to)
	if test && slices.Contains(testsConsume, from) {
		rf = -1
	}
	switch {
	case rf == -2:
		return fmt.Sprintf("%s is in no layer: add %s to the README's Layout and to layers", e.from, from)
	case rt == -2:
		return fmt.Sprintf("%s is in no layer: add %s to the README's Layout and to layers", e.to, to)
	case rt == -1:
		return fmt.Sprintf("%s imports %s: nothing imports %s", e.from, e.to, to)
	case rf == -1 && to == "cmd/watchdog":
		return fmt.Sprintf("%s imports %s: run its binary instead", e.from, e.to)
	case rf >= 0 && rt <= rf:
		return fmt.Sprintf("%s imports %s: %s is not below %s", e.from, e.to, to, from)
	}
	if only, ok := importedOnlyBy[to]; ok && !slices.Contains(only, from) {
		return fmt.Sprintf("%s imports %s: only %s may", e.from, e.to, strings.Join(only, ", "))
	}
	if !test && slices.Contains(knowsNothingOf[from], to) {
		return fmt.Sprintf("%s imports %s: %s knows nothing of %s", e.from, e.to, from, to)
	}
	return ""
}

// violations checks every import of pkgs; used reports which exceptions
// matched.
func violations(pkgs []pkg) (bad []string, used map[edge]bool) {
	used = map[edge]bool{}
	for _, p := range pkgs {
		for _, set := range []struct {
			imports []string
			test    bool
		}{{p.imports, false}, {p.testImports, true}} {
			for _, to := range set.imports {
				e := edge{p.path, to}
				why := checkEdge(e, set.test)
				if why == "" {
					continue
				}
				if _, ok := exceptions[e]; ok && !set.test {
					used[e] = true
					continue
				}
				if set.test {
					why += " (in its tests)"
				}
				bad = append(bad, why)
			}
		}
	}
	return bad, used
}

func TestCheckEdge(t *testing.T) {
	for _, tc := range []struct {
		from, to string
		test     bool
		bad      bool
	}{
		{"cmd/watchdog", "web/ui", false, false},
		{"web/ui", "web", false, false},
		{"web", "pager", false, false},
		{"web", "scrape", false, false},
		{"pager/sqlstore", "pager", false, false},
		{"pager", "internal/selfmetrics", false, false},
		{"pager", "tsdb", false, true},
		{"pager", "rules", false, true},
		{"pager/pagertest", "scrape", false, true},
		{"pager", "web", false, true},
		{"checkin", "rules/alertmanager", false, false},
		{"rules", "evaluator", false, false},
		{"rules", "tsdb", false, true},
		{"rules", "tsdb", true, false}, // a test fixture
		{"rules/ruletest", "scrape", false, true},
		{"rules", "pager", false, true},
		{"evaluator", "tsdb", false, false},
		{"scrape", "probe", false, true},
		{"remote", "tsdb", false, false},
		{"tsdb", "config", false, true},
		{"config", "scrape", false, true},
		{"config", "internal/secret", false, false},
		{"internal/yamlnode", "config", false, true},
		{"internal/promtest", "internal/proctest", false, false},
		{"demo", "tsdb", false, true},
		{"scrape", "demo", false, true},
		{"bench", "rules", true, false},
		{"examples", "rules/ruletest", true, false},
		{"examples", "rules/ruletest", false, true},
		{"bench", "web", true, true},
		{"e2e", "cmd/watchdog", true, true},
		{"rules", "bench", true, true},
		{"newpkg", "tsdb", false, true},
		{"tsdb", "newpkg", false, true},
	} {
		t.Run(tc.from+"->"+tc.to, func(t *testing.T) {
			why := checkEdge(edge{tc.from, tc.to}, tc.test)
			if (why != "") != tc.bad {
				t.Errorf("checkEdge(%s -> %s, test %v) = %q, want a violation: %v", tc.from, tc.to, tc.test, why, tc.bad)
			}
		})
	}
}

// TestImportGraph checks the module's import graph, from go list.
func TestImportGraph(t *testing.T) {
	out := goList(t, "-f", "{{.ImportPath}} | {{join .Imports \" \"}} | {{join .TestImports \" \"}} {{join .XTestImports \" \"}}", module+"/...")
	var pkgs []pkg
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		parts := strings.Split(sc.Text(), " | ")
		if len(parts) != 3 {
			t.Fatalf("go list line %q", sc.Text())
		}
		p := pkg{path: rel(parts[0])}
		p.imports = own(parts[1])
		p.testImports = own(parts[2])
		pkgs = append(pkgs, p)
	}
	if len(pkgs) < 20 || !slices.ContainsFunc(pkgs, func(p pkg) bool { return p.path == "pager" }) {
		t.Fatalf("go list found %d packages, no pager: %s", len(pkgs), out)
	}
	bad, used := violations(pkgs)
	for _, v := range bad {
		t.Error(v)
	}
	for e, why := range exceptions {
		if !used[e] {
			t.Errorf("%s no longer imports %s: delete its entry from exceptions (%s)", e.from, e.to, why)
		}
	}
}

// TestBinaryDependencies: the watchdog binary links no cloud SDK or
// Kubernetes client, and none of the Prometheus server's packages it
// reimplements (its storage/remote, rules, tsdb itself, notifier, scrape,
// discovery); model/*, textparse, promql and tsdb/chunkenc are fine.
func TestBinaryDependencies(t *testing.T) {
	forbidden := regexp.MustCompile(`aws-sdk|azure|cloud\.google\.com|k8s\.io|` +
		`^github\.com/prometheus/prometheus/(storage/remote|rules|tsdb|notifier|scrape|discovery)(/|$)`)
	allowed := regexp.MustCompile(`^github\.com/prometheus/prometheus/tsdb/(chunkenc|chunks|fileutil)$`)
	out := goList(t, "-deps", module+"/cmd/watchdog")
	n := 0
	for line := range strings.Lines(string(out)) {
		dep := strings.TrimSpace(line)
		n++
		if forbidden.MatchString(dep) && !allowed.MatchString(dep) {
			t.Errorf("the watchdog binary links %s", dep)
		}
	}
	if n < 50 {
		t.Fatalf("go list -deps listed %d packages: %s", n, out)
	}
}

// goList runs go list from the module's root.
func goList(t *testing.T, args ...string) []byte {
	t.Helper()
	cmd := exec.Command("go", append([]string{"list"}, args...)...)
	cmd.Dir = filepath.Join("..", "..")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return out
}

// rel is path relative to the module.
func rel(path string) string { return strings.TrimPrefix(strings.TrimPrefix(path, module), "/") }

// own returns the module's packages among the space-separated imports.
func own(list string) []string {
	var out []string
	for _, f := range strings.Fields(list) {
		if f == module || strings.HasPrefix(f, module+"/") {
			if r := rel(f); !slices.Contains(out, r) {
				out = append(out, r)
			}
		}
	}
	return out
}
