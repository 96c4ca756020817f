package ruletest

import (
	"fmt"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/watchdog-sre/watchdog/internal/yamlnode"
)

// The file is decoded by yamlnode.Decoder into File (the yaml tags of
// ruletest.go are the format): every problem gets its line and key path,
// unknown and duplicate keys are reported wherever they are, and decoding
// goes on after an error to report the rest. The hooks below hold what is
// particular to test files.

const (
	// maxVisits bounds the work a document can cause through aliases.
	maxVisits = 1 << 20
	// maxMergeDepth bounds merge keys (<<) nested through aliases.
	maxMergeDepth = 16
	// minStartYear is the earliest year of an RFC 3339 start_timestamp.
	minStartYear = -3000
)

type decoder struct {
	yamlnode.Decoder[invalid]
	r *report
	// valuesLines maps the key path of every input_series values entry to
	// its line, for errors found when the values are expanded.
	valuesLines map[string]int
}

func newDecoder(r *report) *decoder {
	d := &decoder{r: r, valuesLines: map[string]int{}}
	d.Decoder = yamlnode.Decoder[invalid]{
		Walker:  yamlnode.Walker[invalid]{R: r, MaxVisits: maxVisits, MaxMergeDepth: maxMergeDepth},
		KeyWhat: "a string key",
		Names: map[reflect.Type]string{
			reflect.TypeFor[bool]():          "true or false",
			reflect.TypeFor[time.Duration](): "a duration",
		},
		Custom: map[reflect.Type]yamlnode.Hook{
			reflect.TypeFor[string](): func(n *yaml.Node, v reflect.Value, path string) { v.SetString(d.Str(n, path)) },
			reflect.TypeFor[time.Duration](): func(n *yaml.Node, v reflect.Value, path string) {
				dur, _ := d.Duration(n, path, "30s, 5m or 1h30m")
				v.SetInt(int64(dur))
			},
			reflect.TypeFor[map[string]string](): func(n *yaml.Node, v reflect.Value, path string) {
				v.Set(reflect.ValueOf(d.StrMap(n, path, "a string key", nil)))
			},
		},
		Fields: map[reflect.Type]map[string]yamlnode.Hook{
			reflect.TypeFor[File](): {
				"rule_files":       yamlnode.On(d.ruleFiles),
				"group_eval_order": yamlnode.On(d.groupEvalOrder),
			},
			reflect.TypeFor[TestGroup](): {"start_timestamp": yamlnode.On(d.startTimestamp)},
			reflect.TypeFor[InputSeries](): {"values": yamlnode.On(func(n *yaml.Node, s *InputSeries, path string) {
				s.Values = d.Str(n, path)
				d.valuesLines[path] = n.Line
			})},
			reflect.TypeFor[ExpSample](): {"labels": yamlnode.On(d.sampleLabels), "histogram": yamlnode.On(d.sampleHistogram)},
		},
		Done: map[reflect.Type]func(*yaml.Node, reflect.Value, string, map[string]bool){
			reflect.TypeFor[TestGroup](): func(n *yaml.Node, v reflect.Value, _ string, present map[string]bool) {
				g := v.Addr().Interface().(*TestGroup)
				g.Line = n.Line
				if !present["start_timestamp"] {
					g.StartTimestamp = time.Unix(0, 0).UTC()
				}
			},
			reflect.TypeFor[InputSeries](): setLine[InputSeries],
			reflect.TypeFor[ExpAlert]():    setLine[ExpAlert],
			reflect.TypeFor[ExpSample]():   setLine[ExpSample],
			reflect.TypeFor[AlertTestCase](): func(n *yaml.Node, v reflect.Value, path string, _ map[string]bool) {
				a := v.Addr().Interface().(*AlertTestCase)
				a.Line = n.Line
				if a.Alertname == "" {
					d.r.Add(n.Line, path, "missing required alertname")
				}
			},
			reflect.TypeFor[PromQLTestCase](): func(n *yaml.Node, v reflect.Value, path string, _ map[string]bool) {
				tc := v.Addr().Interface().(*PromQLTestCase)
				tc.Line = n.Line
				if strings.TrimSpace(tc.Expr) == "" {
					d.r.Add(n.Line, path, "missing required expr")
				}
			},
		},
	}
	return d
}

// setLine sets the Line field of a decoded struct to its mapping's line.
func setLine[T any](n *yaml.Node, v reflect.Value, _ string, _ map[string]bool) {
	v.FieldByName("Line").SetInt(int64(n.Line))
}

func (d *decoder) ruleFiles(n *yaml.Node, f *File, path string) {
	d.List(n, path, func(_ int, e *yaml.Node, ep string) {
		p := d.Str(e, ep)
		if _, err := filepath.Match(p, ""); err != nil {
			d.r.Add(e.Line, ep, "invalid pattern %q: %v", p, err)
		}
		f.RulePatterns = append(f.RulePatterns, p)
	})
}

func (d *decoder) groupEvalOrder(n *yaml.Node, f *File, path string) {
	seen := map[string]bool{}
	d.List(n, path, func(_ int, e *yaml.Node, ep string) {
		name := d.Str(e, ep)
		if seen[name] {
			d.r.Add(e.Line, ep, "group name repeated in evaluation order: %s", name)
		}
		seen[name] = true
		f.GroupEvalOrder = append(f.GroupEvalOrder, name)
	})
}

func (d *decoder) startTimestamp(n *yaml.Node, g *TestGroup, path string) {
	if s := d.Str(n, path); s != "" {
		t, err := yamlnode.ParseTime(s, "start_timestamp", minStartYear)
		if err != nil {
			d.r.Add(n.Line, path, "%v", err)
		}
		g.StartTimestamp = t
	}
}

func (d *decoder) sampleLabels(n *yaml.Node, s *ExpSample, path string) {
	s.LabelsText = d.Str(n, path)
	lset, err := seriesParser.ParseMetric(s.LabelsText)
	if err != nil {
		d.r.Add(n.Line, path, "invalid labels %q: %s", s.LabelsText, parseErrMsg(err, 0))
	}
	s.Labels = lset
}

func (d *decoder) sampleHistogram(n *yaml.Node, s *ExpSample, path string) {
	if text := d.Str(n, path); text != "" {
		h, err := parseHistogram(text)
		if err != nil {
			d.r.Add(n.Line, path, "%v", err)
		}
		s.Histogram = h
	}
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
	d := newDecoder(r)
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
			d.Decode(doc.Root, f, "")
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
