package yamlnode

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

func TestParse(t *testing.T) {
	tests := []struct {
		src         string
		empty, root bool
		err, extra  bool
		extraErr    bool
		extraLine   int
	}{
		{src: "", empty: true},
		{src: "# only a comment\n", empty: true},
		{src: "a: 1\n", root: true},
		{src: "a: [1\n", err: true},
		{src: "a: 1\n---\nb: 2\n", root: true, extra: true, extraLine: 2},
		{src: "a: 1\n---\nb: [\n", root: true, extraErr: true},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%q", tt.src), func(t *testing.T) {
			d := Parse([]byte(tt.src))
			if d.Empty != tt.empty || (d.Root != nil) != tt.root || (d.Err != nil) != tt.err ||
				(d.Extra != nil) != tt.extra || (d.ExtraErr != nil) != tt.extraErr || d.ExtraLine() != tt.extraLine {
				t.Errorf("got %+v", d)
			}
			if d.HasExtra() != (tt.extra || tt.extraErr) {
				t.Errorf("HasExtra() = %v", d.HasExtra())
			}
		})
	}
}

func TestSplitYAMLError(t *testing.T) {
	var n yaml.Node
	synErr := yaml.Unmarshal([]byte("a: [1\nb: 2"), &n)
	var x struct {
		A int `yaml:"a"`
		B int `yaml:"b"`
	}
	typeErr := yaml.Unmarshal([]byte("a: x\nb: y\n"), &x)
	tests := []struct {
		name string
		err  error
		want []Problem
	}{
		{"syntax", synErr, []Problem{{Line: 1, Msg: "did not find expected ',' or ']'"}}},
		{"type", typeErr, []Problem{{1, "cannot unmarshal !!str `x` into int"}, {2, "cannot unmarshal !!str `y` into int"}}},
		{"joined", errors.Join(typeErr), []Problem{{1, "cannot unmarshal !!str `x` into int"}, {2, "cannot unmarshal !!str `y` into int"}}},
		{"no line", errors.New("yaml: control characters are not allowed"), []Problem{{0, "control characters are not allowed"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := SplitYAMLError(tt.err)
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestReportErr(t *testing.T) {
	r := &Report[testKind]{File: "f.yml"}
	if r.Err() != nil {
		t.Fatal("empty report has an error")
	}
	for i := MaxErrors + 5; i > 0; i-- {
		r.Add(i, "p", "problem %d", i)
	}
	r.Add(1, "", "second at line 1")
	lines := strings.Split(r.Err().Error(), "\n")
	if len(lines) != MaxErrors+1 {
		t.Fatalf("got %d lines", len(lines))
	}
	for i, want := range map[int]string{
		0:         "f.yml:1: p: problem 1",
		1:         "f.yml:1: second at line 1",
		2:         "f.yml:2: p: problem 2",
		MaxErrors: "f.yml: and 6 more errors",
	} {
		if lines[i] != want {
			t.Errorf("line %d: got %q, want %q", i, lines[i], want)
		}
	}
	if !errors.Is(r.Err(), errTest) {
		t.Error("errors do not match the sentinel")
	}
}

func TestParseTime(t *testing.T) {
	tests := []struct {
		s       string
		minYear int
		want    string
	}{
		{"0", 1900, "1970-01-01T00:00:00Z"},
		{"1.5", 1900, "1970-01-01T00:00:01.5Z"},
		{"2024-01-02T03:04:05+02:00", 1900, "2024-01-02T03:04:05+02:00"},
		{"1e12", 1900, `error: start_time "1e12" out of range`},
		{"NaN", 1900, `error: start_time "NaN" out of range`},
		{"1800-01-01T00:00:00Z", 1900, `error: start_time "1800-01-01T00:00:00Z" out of range`},
		{"1800-01-01T00:00:00Z", -3000, "1800-01-01T00:00:00Z"},
		{"6000-01-01T00:00:00Z", -3000, `error: start_time "6000-01-01T00:00:00Z" out of range`},
		{"soon", 1900, `error: cannot parse "soon" as Unix seconds or an RFC 3339 time`},
	}
	for _, tt := range tests {
		t.Run(tt.s, func(t *testing.T) {
			got, err := ParseTime(tt.s, "start_time", tt.minYear)
			s := got.Format(time.RFC3339Nano)
			if err != nil {
				s = "error: " + err.Error()
			}
			if s != tt.want {
				t.Errorf("got %s, want %s", s, tt.want)
			}
		})
	}
}

func TestWalkerHelpers(t *testing.T) {
	r := &Report[testKind]{File: "f.yml"}
	w := &Walker[testKind]{R: r, MaxMergeDepth: 1}
	doc := Parse([]byte(`
labels: {a: x, a: y, "b c": [1], ~: z}
list: [a, ~]
dur: 5x
merge: &m {k: 1}
deep: &d {<<: *m}
deeper: {<<: *d}
`))
	m := doc.Root
	get := func(key string) *yaml.Node {
		for i := 0; i < len(m.Content); i += 2 {
			if m.Content[i].Value == key {
				return w.Enter(m.Content[i+1])
			}
		}
		t.Fatalf("no %s", key)
		return nil
	}
	labels := w.StrMap(get("labels"), "labels", "a label name", nil)
	if len(labels) != 2 || labels["a"] != "x" {
		t.Errorf("labels %v", labels)
	}
	var got []string
	w.List(get("list"), "list", func(_ int, e *yaml.Node, path string) { got = append(got, w.Str(e, path)) })
	if len(got) != 1 {
		t.Errorf("list %v", got)
	}
	if _, ok := w.Duration(get("dur"), "dur", "1m"); ok {
		t.Error("5x is a duration")
	}
	if ps := w.pairs(get("deeper"), "deeper", 0); len(ps) != 0 {
		t.Errorf("merge beyond MaxMergeDepth gave %v", ps)
	}
	want := `f.yml:2: labels: duplicate key "a" (first at line 2)
f.yml:2: labels."b c": expected a string, got a list
f.yml:2: labels: expected a label name, got "~"
f.yml:3: list[1]: empty entry
f.yml:4: dur: invalid duration "5x": use a duration such as 1m
f.yml:5: deeper: merge keys (<<) nested too deeply`
	if err := r.Err(); err == nil || err.Error() != want {
		t.Errorf("got\n%v\nwant\n%s", err, want)
	}
}
