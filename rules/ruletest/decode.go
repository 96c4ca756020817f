package ruletest

import (
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/watchdog-sre/watchdog/internal/yamlnode"
)

// The decoder walks the yaml.Node tree by hand: the format is small and
// fixed, and walking it ourselves gives every problem its line and key
// path, reports unknown and duplicate keys wherever they are, and goes on
// after an error to report the rest.

const (
	// maxVisits bounds the work a document can cause through aliases.
	maxVisits = 1 << 20
	// maxMergeDepth bounds merge keys (<<) nested through aliases.
	maxMergeDepth = 16
)

type decoder struct {
	yamlnode.Walker[invalid]
	r *report
	// valuesLines maps the key path of every input_series values entry to
	// its line, for errors found when the values are expanded.
	valuesLines map[string]int
}

// ParseFile parses a test file. filename is used in error messages and to
// resolve relative rule_files patterns, which are then globbed. All of the
// file's problems are returned at once, each an *Error wrapping ErrInvalid,
// joined with errors.Join.
func ParseFile(data []byte, filename string) (*File, error) {
	return parseFile(data, filename, filepath.Glob)
}

// parseFile is ParseFile with the glob function passed in, so that fuzzing
// does not walk the file system.
func parseFile(data []byte, filename string, glob func(string) ([]string, error)) (*File, error) {
	r := &report{File: filename}
	d := &decoder{Walker: yamlnode.Walker[invalid]{R: r, MaxVisits: maxVisits, MaxMergeDepth: maxMergeDepth}, r: r, valuesLines: map[string]int{}}
	f := &File{Path: filename}

	switch doc := yamlnode.Parse(data); {
	case doc.Empty:
		// An empty file has no tests, as in promtool.
	case doc.Err != nil:
		r.AddYAMLError(doc.Err)
		return nil, r.Err()
	default:
		if doc.Extra != nil {
			r.Add(doc.Extra.Line, "", "a test file holds one YAML document, found another")
		} else if doc.ExtraErr != nil {
			r.AddYAMLError(doc.ExtraErr)
		}
		if doc.Root != nil {
			d.file(doc.Root, f)
		}
	}
	if f.EvaluationInterval == 0 {
		f.EvaluationInterval = DefaultEvaluationInterval
	}
	for i := range f.Tests {
		g := &f.Tests[i]
		if g.Interval == 0 {
			g.Interval = f.EvaluationInterval
		}
	}
	if err := r.Err(); err != nil {
		return nil, err
	}
	// Values are expanded once the intervals are known; rule files are
	// globbed once the file is otherwise valid.
	d.expandAll(f)
	resolveRuleFiles(f, glob)
	if err := r.Err(); err != nil {
		return nil, err
	}
	return f, nil
}

// mapping calls fn for every key of mapping n, which must be one of keys
// (see yamlnode.Walker.Mapping). It reports whether n was a mapping.
func (d *decoder) mapping(n *yaml.Node, path string, keys []string, fn func(key string, v *yaml.Node, path string)) bool {
	return d.Mapping(n, path, "a string key", keys, fn) != nil
}

func (d *decoder) boolean(n *yaml.Node, path string) bool {
	var b bool
	if n.Kind != yaml.ScalarNode || n.Decode(&b) != nil {
		d.r.Add(n.Line, path, "expected true or false, got %s", yamlnode.Describe(n))
	}
	return b
}

// duration parses a Prometheus duration such as 1m or 1h30m.
func (d *decoder) duration(n *yaml.Node, path string) time.Duration {
	v, _ := d.Duration(n, path, "30s, 5m or 1h30m")
	return v
}

// float accepts YAML numbers only (.inf, .nan included), as promtool does:
// strings such as Inf, NaN or '1' are rejected, not parsed.
func (d *decoder) float(n *yaml.Node, path string) float64 {
	if n.Kind == yaml.ScalarNode {
		var f float64
		if n.Decode(&f) == nil {
			return f
		}
	}
	d.r.Add(n.Line, path, "expected a number, got %s", yamlnode.Describe(n))
	return 0
}

func (d *decoder) strMap(n *yaml.Node, path string) map[string]string {
	return d.StrMap(n, path, "a string key", nil)
}

// minStartYear is the earliest year of an RFC 3339 start_timestamp.
const minStartYear = -3000

func (d *decoder) file(n *yaml.Node, f *File) {
	if n = d.Enter(n); n == nil || yamlnode.IsNull(n) {
		return
	}
	keys := []string{"rule_files", "evaluation_interval", "group_eval_order", "tests", "fuzzy_compare"}
	d.mapping(n, "", keys, func(key string, v *yaml.Node, path string) {
		switch key {
		case "rule_files":
			d.List(v, path, func(_ int, e *yaml.Node, ep string) {
				p := d.Str(e, ep)
				if _, err := filepath.Match(p, ""); err != nil {
					d.r.Add(e.Line, ep, "invalid pattern %q: %v", p, err)
				}
				f.RulePatterns = append(f.RulePatterns, p)
			})
		case "evaluation_interval":
			f.EvaluationInterval = d.duration(v, path)
		case "group_eval_order":
			seen := map[string]bool{}
			d.List(v, path, func(_ int, e *yaml.Node, ep string) {
				name := d.Str(e, ep)
				if seen[name] {
					d.r.Add(e.Line, ep, "group name repeated in evaluation order: %s", name)
				}
				seen[name] = true
				f.GroupEvalOrder = append(f.GroupEvalOrder, name)
			})
		case "fuzzy_compare":
			f.FuzzyCompare = d.boolean(v, path)
		case "tests":
			d.List(v, path, func(_ int, e *yaml.Node, ep string) {
				f.Tests = append(f.Tests, d.group(e, ep))
			})
		}
	})
}

func (d *decoder) group(n *yaml.Node, path string) TestGroup {
	g := TestGroup{Line: n.Line, StartTimestamp: time.Unix(0, 0).UTC()}
	keys := []string{"name", "interval", "input_series", "alert_rule_test", "promql_expr_test",
		"external_labels", "external_url", "start_timestamp"}
	d.mapping(n, path, keys, func(key string, v *yaml.Node, path string) {
		switch key {
		case "name":
			g.Name = d.Str(v, path)
		case "interval":
			g.Interval = d.duration(v, path)
		case "external_url":
			g.ExternalURL = d.Str(v, path)
		case "external_labels":
			g.ExternalLabels = d.strMap(v, path)
		case "start_timestamp":
			if s := d.Str(v, path); s != "" {
				t, err := yamlnode.ParseTime(s, "start_timestamp", minStartYear)
				if err != nil {
					d.r.Add(v.Line, path, "%v", err)
				}
				g.StartTimestamp = t
			}
		case "input_series":
			d.List(v, path, func(_ int, e *yaml.Node, ep string) {
				g.InputSeries = append(g.InputSeries, d.series(e, ep))
			})
		case "alert_rule_test":
			d.List(v, path, func(_ int, e *yaml.Node, ep string) {
				g.AlertRuleTests = append(g.AlertRuleTests, d.alertTest(e, ep))
			})
		case "promql_expr_test":
			d.List(v, path, func(_ int, e *yaml.Node, ep string) {
				g.PromQLExprTests = append(g.PromQLExprTests, d.promqlTest(e, ep))
			})
		}
	})
	return g
}

func (d *decoder) series(n *yaml.Node, path string) InputSeries {
	s := InputSeries{Line: n.Line}
	d.mapping(n, path, []string{"series", "values"}, func(key string, v *yaml.Node, path string) {
		switch key {
		case "series":
			s.Series = d.Str(v, path)
		case "values":
			s.Values = d.Str(v, path)
			d.valuesLines[path] = v.Line
		}
	})
	return s
}

func (d *decoder) alertTest(n *yaml.Node, path string) AlertTestCase {
	a := AlertTestCase{Line: n.Line}
	ok := d.mapping(n, path, []string{"eval_time", "alertname", "exp_alerts"}, func(key string, v *yaml.Node, path string) {
		switch key {
		case "eval_time":
			a.EvalTime = d.duration(v, path)
		case "alertname":
			a.Alertname = d.Str(v, path)
		case "exp_alerts":
			d.List(v, path, func(_ int, e *yaml.Node, ep string) {
				x := ExpAlert{Line: e.Line}
				d.mapping(e, ep, []string{"exp_labels", "exp_annotations"}, func(key string, v *yaml.Node, path string) {
					switch key {
					case "exp_labels":
						x.ExpLabels = d.strMap(v, path)
					case "exp_annotations":
						x.ExpAnnotations = d.strMap(v, path)
					}
				})
				a.ExpAlerts = append(a.ExpAlerts, x)
			})
		}
	})
	if ok && a.Alertname == "" {
		d.r.Add(n.Line, path, "missing required alertname")
	}
	return a
}

func (d *decoder) promqlTest(n *yaml.Node, path string) PromQLTestCase {
	tc := PromQLTestCase{Line: n.Line}
	ok := d.mapping(n, path, []string{"expr", "eval_time", "exp_samples"}, func(key string, v *yaml.Node, path string) {
		switch key {
		case "expr":
			tc.Expr = d.Str(v, path)
		case "eval_time":
			tc.EvalTime = d.duration(v, path)
		case "exp_samples":
			d.List(v, path, func(_ int, e *yaml.Node, ep string) {
				s := ExpSample{Line: e.Line}
				d.mapping(e, ep, []string{"labels", "value", "histogram"}, func(key string, v *yaml.Node, path string) {
					switch key {
					case "labels":
						s.LabelsText = d.Str(v, path)
						lset, err := seriesParser.ParseMetric(s.LabelsText)
						if err != nil {
							d.r.Add(v.Line, path, "invalid labels %q: %s", s.LabelsText, parseErrMsg(err, 0))
						}
						s.Labels = lset
					case "value":
						s.Value = d.float(v, path)
					case "histogram":
						if text := d.Str(v, path); text != "" {
							h, err := parseHistogram(text)
							if err != nil {
								d.r.Add(v.Line, path, "%v", err)
							}
							s.Histogram = h
						}
					}
				})
				tc.ExpSamples = append(tc.ExpSamples, s)
			})
		}
	})
	if ok && strings.TrimSpace(tc.Expr) == "" {
		d.r.Add(n.Line, path, "missing required expr")
	}
	return tc
}

// resolveRuleFiles joins relative rule_files patterns with the test file's
// directory and globs them; a pattern matching nothing is a warning, as in
// promtool.
func resolveRuleFiles(f *File, glob func(string) ([]string, error)) {
	base := filepath.Dir(f.Path)
	for i, p := range f.RulePatterns {
		if p != "" && !filepath.IsAbs(p) {
			f.RulePatterns[i] = filepath.Join(base, p)
		}
	}
	for _, p := range f.RulePatterns {
		m, _ := glob(p) // patterns were checked while decoding
		if len(m) == 0 {
			f.Warnings = append(f.Warnings, fmt.Sprintf("no file matches rule_files pattern %s", p))
		}
		sort.Strings(m)
		f.RuleFiles = append(f.RuleFiles, m...)
	}
}
