package yamlnode

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

var update = flag.Bool("update", false, "rewrite the golden files of TestDecodeGolden")

var errTest = errors.New("invalid test file")

type testKind struct{}

func (testKind) Sentinel() error { return errTest }

// sample is the format the decoder tests decode into.
type sample struct {
	Name    string            `yaml:"name"`
	Count   int               `yaml:"count"`
	Ratio   float64           `yaml:"ratio"`
	On      bool              `yaml:"on"`
	Wait    time.Duration     `yaml:"wait"`
	Tags    []string          `yaml:"tags"`
	Labels  map[string]string `yaml:"labels"`
	Items   []item            `yaml:"items"`
	Next    *sample           `yaml:"next"`
	Inline  inlined           `yaml:",inline"`
	Skipped string            `yaml:"-"`
}

type item struct {
	ID    string `yaml:"id"`
	Size  int    `yaml:"size"`
	Line  int    `yaml:"-"`
	Extra string `yaml:"-"`
}

type inlined struct {
	Owner string `yaml:"owner"`
}

// newTestDecoder returns the decoder of sample: durations and ids have
// hooks, items a Done check.
func newTestDecoder(r *Report[testKind]) *Decoder[testKind] {
	d := &Decoder[testKind]{Walker: Walker[testKind]{R: r, MaxVisits: 1000, MaxDepth: 16}}
	d.Names = map[reflect.Type]string{reflect.TypeFor[time.Duration](): "a duration"}
	d.Custom = map[reflect.Type]Hook{
		reflect.TypeFor[time.Duration](): func(n *yaml.Node, v reflect.Value, path string) {
			dur, _ := d.Duration(n, path, "1m")
			v.SetInt(int64(dur))
		},
	}
	d.Fields = map[reflect.Type]map[string]Hook{
		reflect.TypeFor[item](): {
			"id": On(func(n *yaml.Node, it *item, path string) {
				it.ID = d.Str(n, path)
				if strings.ContainsRune(it.ID, ' ') {
					r.Add(n.Line, path, "id %q has a space", it.ID)
				}
			}),
			"alias": On(func(n *yaml.Node, it *item, path string) { it.Extra = d.Str(n, path) }),
		},
	}
	d.Done = map[reflect.Type]func(*yaml.Node, reflect.Value, string, map[string]bool){
		reflect.TypeFor[item](): func(n *yaml.Node, v reflect.Value, path string, present map[string]bool) {
			it := v.Addr().Interface().(*item)
			it.Line = n.Line
			if !present["id"] {
				r.Add(n.Line, path, "missing required id")
			}
		},
	}
	return d
}

func decodeSample(t *testing.T, src string, tune func(*Decoder[testKind])) (*sample, error) {
	t.Helper()
	r := &Report[testKind]{File: "f.yml"}
	doc := Parse([]byte(src))
	if doc.Err != nil {
		r.AddYAMLError(doc.Err)
		return nil, r.Err()
	}
	d := newTestDecoder(r)
	if tune != nil {
		tune(d)
	}
	var s sample
	if doc.Root != nil {
		d.Decode(doc.Root, &s, "")
	}
	return &s, r.Err()
}

// TestDecodeGolden decodes every testdata/*.yaml into sample and compares
// the error texts, file by file, with testdata/errors.golden.
func TestDecodeGolden(t *testing.T) {
	files, _ := filepath.Glob("testdata/*.yaml")
	if len(files) == 0 {
		t.Fatal("no fixtures")
	}
	var b strings.Builder
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		b.WriteString("== " + filepath.Base(file) + "\n")
		if _, err := decodeSample(t, string(data), nil); err != nil {
			b.WriteString(err.Error() + "\n")
			if !errors.Is(err, errTest) {
				t.Errorf("%s: %v does not match the sentinel", file, err)
			}
		}
	}
	const golden = "testdata/errors.golden"
	if *update {
		if err := os.WriteFile(golden, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if want, err := os.ReadFile(golden); err != nil || b.String() != string(want) {
		t.Errorf("error texts differ from %s (%v):\n--- got\n%s--- want\n%s", golden, err, b.String(), want)
	}
}

func TestDecodeValues(t *testing.T) {
	src := `
name: top
count: 3
ratio: .5
on: true
wait: 1m30s
owner: me
tags: [a, b]
labels: {x: "1", y: ~}
items:
  - &first {id: one, size: 2}
  - <<: *first
    id: two
next:
  name: inner
`
	s, err := decodeSample(t, src, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := sample{
		Name: "top", Count: 3, Ratio: .5, On: true, Wait: 90 * time.Second,
		Tags: []string{"a", "b"}, Labels: map[string]string{"x": "1", "y": ""},
		Items:  []item{{ID: "one", Size: 2, Line: 11}, {ID: "two", Size: 2, Line: 12}},
		Next:   &sample{Name: "inner"},
		Inline: inlined{Owner: "me"},
	}
	if !reflect.DeepEqual(*s, want) {
		t.Errorf("got %+v\nwant %+v", *s, want)
	}
}

func TestDecodeOptions(t *testing.T) {
	tests := []struct {
		name string
		src  string
		tune func(*Decoder[testKind])
		want string
	}{
		{"plain keys: null key is unknown", "~: 1", nil, `f.yml:1: unknown key "~"`},
		{"KeyWhat: null key refused", "~: 1", func(d *Decoder[testKind]) { d.KeyWhat = "a key name" },
			`f.yml:1: expected a key name, got "~"`},
		{"RejectMerge", "a: &a {name: x}\nnext:\n  <<: *a", func(d *Decoder[testKind]) { d.KeyWhat = "a key name"; d.RejectMerge = true },
			"f.yml:1: unknown key \"a\"\nf.yml:3: next: expected a key name, got \"<<\""},
		{"UnknownKey hook", "nmae: x", func(d *Decoder[testKind]) {
			d.UnknownKey = func(key string, fields map[string][]int) string { return "no " + key }
		}, "f.yml:1: no nmae"},
		{"Names", "wait: [1]", nil, "f.yml:1: wait: expected a duration, got a list"},
		{"hooked key without field", "items: [{id: a, alias: b, size: x}]", nil,
			`f.yml:1: items[0].size: expected an integer, got "x"`},
		{"depth budget", nested(20), nil,
			"f.yml:17: next.next.next.next.next.next.next.next.next.next.next.next.next.next.next.next: document too large (check anchors and aliases)"},
		{"TooLarge text", nested(20), func(d *Decoder[testKind]) { d.TooLarge = "too deep" },
			"f.yml:17: next.next.next.next.next.next.next.next.next.next.next.next.next.next.next.next: too deep"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := decodeSample(t, tt.src, tt.tune)
			if err == nil || err.Error() != tt.want {
				t.Errorf("got %v\nwant %s", err, tt.want)
			}
		})
	}
}

// nested is a sample nested depth times under next.
func nested(depth int) string {
	var b strings.Builder
	for i := range depth {
		b.WriteString(strings.Repeat("  ", i) + "next:\n")
	}
	b.WriteString(strings.Repeat("  ", depth) + "name: x\n")
	return b.String()
}

func TestDecodeDropNull(t *testing.T) {
	for _, drop := range []bool{false, true} {
		s, err := decodeSample(t, "tags: [a, ~, b]", func(d *Decoder[testKind]) { d.DropNull = drop })
		if err == nil || err.Error() != "f.yml:1: tags[1]: empty entry" {
			t.Errorf("drop=%v: got %v", drop, err)
		}
		want := []string{"a", "", "b"}
		if drop {
			want = []string{"a", "b"}
		}
		if !reflect.DeepEqual(s.Tags, want) {
			t.Errorf("drop=%v: got %q, want %q", drop, s.Tags, want)
		}
	}
}

// TestDecodeAliasBomb checks that a billion-laughs document stops at the
// visit budget with one error.
func TestDecodeAliasBomb(t *testing.T) {
	src := "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
	prev := "a"
	for _, n := range []string{"b", "c", "d", "e", "f", "g"} {
		src += n + ": &" + n + " [" + strings.Repeat("*"+prev+", ", 9) + "*" + prev + "]\n"
		prev = n
	}
	src += "tags: *" + prev + "\n"
	r := &Report[testKind]{File: "f.yml"}
	doc := Parse([]byte(src))
	d := newTestDecoder(r)
	var s struct {
		Tags [][][][][][][]string `yaml:"tags"`
	}
	d.UnknownKey = func(string, map[string][]int) string { return "definition" }
	d.Decode(doc.Root, &s, "")
	n := 0
	for _, e := range r.Errs {
		if strings.Contains(e.Msg, "document too large") {
			n++
		}
	}
	// After the budget ran out, loops over what is left only count.
	if n != 1 || d.visits > 2*d.MaxVisits {
		t.Fatalf("%d budget errors after %d visits: %v", n, d.visits, r.Err())
	}
}

func TestUnknownKeys(t *testing.T) {
	var doc yaml.Node
	src := "name: x\nbad: 1\nitems:\n  - id: a\n    worse: 2\nlabels: {a: b}\nwait: {no: 1}\n"
	if err := yaml.Unmarshal([]byte(src), &doc); err != nil {
		t.Fatal(err)
	}
	var got []string
	skip := func(t reflect.Type) bool { return t == reflect.TypeFor[time.Duration]() }
	UnknownKeys(doc.Content[0], reflect.TypeFor[sample](), "top", skip, func(line int, path, key string) {
		got = append(got, strings.Join([]string{path, key}, " "))
	})
	want := []string{"top bad", "top.items[0] worse"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}

// TestDecodeWording decodes testdata/wording/*.yaml with Wording,
// KeysFirst and Begin set, and compares the messages with
// testdata/wording.golden: the faults in the wording's own words, every
// key fault of a mapping before the problems of its values, and Begin
// after the keys and before the values.
func TestDecodeWording(t *testing.T) {
	files, _ := filepath.Glob("testdata/wording/*.yaml")
	if len(files) == 0 {
		t.Fatal("no fixtures")
	}
	kinds := map[FaultKind]string{NotMap: "not a mapping", NotList: "not a list", BadKey: "bad key",
		RepeatedKey: "repeated key", UnknownKey: "unknown key", EmptyEntry: "empty entry"}
	var b strings.Builder
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		b.WriteString("== " + filepath.Base(file) + "\n")
		_, err = decodeSample(t, string(data), func(d *Decoder[testKind]) {
			d.RejectMerge, d.KeysFirst = true, true
			d.Wording = func(f Fault) {
				msg := fmt.Sprintf("%s %s (%s)", kinds[f.Kind], Describe(f.Node), f.Type)
				if f.First > 0 {
					msg += fmt.Sprintf(", first on line %d", f.First)
				}
				d.R.Add(f.Line, "<"+f.Path+">", "%s", msg)
			}
			begin := func(n *yaml.Node, _ reflect.Value, path string) {
				d.R.Add(n.Line, "<"+path+">", "begin")
			}
			d.Begin = map[reflect.Type]func(*yaml.Node, reflect.Value, string){
				reflect.TypeFor[sample](): begin, reflect.TypeFor[item](): begin,
			}
		})
		if err != nil {
			b.WriteString(err.Error() + "\n")
		}
	}
	const golden = "testdata/wording.golden"
	if *update {
		if err := os.WriteFile(golden, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if want, err := os.ReadFile(golden); err != nil || b.String() != string(want) {
		t.Errorf("messages differ from %s (%v):\n--- got\n%s--- want\n%s", golden, err, b.String(), want)
	}
}
