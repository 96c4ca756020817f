package promtext

import (
	"bytes"
	"fmt"
	"reflect"
	"testing"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/textparse"
)

// seriesOf returns the series text of every sample line of in, in order,
// up to the first error.
func seriesOf(in []byte) []string {
	var out []string
	p := New(in)
	for {
		e, err := p.Next()
		if err != nil {
			return out
		}
		if e == textparse.EntrySeries {
			s, _, _ := p.Series()
			out = append(out, string(s))
		}
	}
}

// compareExpected parses warm, then in with the same Parser and an expected
// function that walks the series of warm in order (shifted by skew), and
// describes how the result differs from parsing in with a new Parser ("" if
// it does not).
func compareExpected(warm, in []byte, skew int) string {
	seq := seriesOf(warm)
	want, wantErr := collect(New(in), true)
	// The same Parser parses warm first, so that what it remembers of the
	// previous body (metaMemo) is exercised too.
	p := New(warm)
	warmUp(p, warm)
	k := skew
	p.SetExpected(&funcExpecter{next: func() string {
		k++
		if k-1 >= 0 && k-1 < len(seq) {
			return seq[k-1]
		}
		return ""
	}})
	return diffAfter(p, in, want, wantErr)
}

// funcExpecter is an Expecter comparing texts byte for byte; next returns
// the text expected on each sample line in turn.
type funcExpecter struct {
	next func() string
	cur  string
}

func (e *funcExpecter) ExpectedLen() int {
	e.cur = e.next()
	return len(e.cur)
}

func (e *funcExpecter) MatchExpected(text []byte) bool { return string(text) == e.cur }

func TestExpectedSeriesSameResult(t *testing.T) {
	for _, tc := range edgeCases {
		for _, skew := range []int{0, 1, -1} {
			if d := compareExpected([]byte(tc.in), []byte(tc.in), skew); d != "" {
				t.Errorf("%q (skew %d): %s", tc.in, skew, d)
			}
		}
	}
	in := readCorpus(t, "node_exporter.prom")
	if d := compareExpected(in, in, 0); d != "" {
		t.Fatal(d)
	}
	// The corpus with comment, HELP and TYPE lines changed, removed, added
	// and moved.
	lines := bytes.SplitAfter(in, []byte("\n"))
	var edited []byte
	for i, l := range lines {
		switch {
		case len(l) > 0 && l[0] == '#' && i%7 == 0:
			continue
		case len(l) > 8 && l[0] == '#' && i%11 == 0:
			edited = append(edited, l[:len(l)-2]...)
			edited = append(edited, '\n')
		case i%13 == 0:
			edited = append(edited, "# HELP extra_metric Added.\n# TYPE extra_metric gauge\n"...)
		}
		edited = append(edited, l...)
	}
	if d := compareExpected(in, edited, 0); d != "" {
		t.Fatal(d)
	}
	if d := compareExpected(edited, in, 0); d != "" {
		t.Fatal(d)
	}
	// Text expected from one body that is a prefix of a different line in
	// the next.
	for _, tc := range []struct{ warm, in string }{
		{`a{b="c"} 1` + "\n", `a{b="c"},d="}"} 2` + "\n"},
		{`a{b="c"} 1` + "\n", `a{b="c"}} 2` + "\n"},
		{`a{b="c"} 1` + "\n", `a{b="c"}{} 2` + "\n"},
		{`a{b="c"} 1` + "\n", `a{b="c"}` + "\n"},
		{`a{b="c"} 1` + "\n", `a{b="c"}`},
		{`a{b="c"} 1` + "\n", `a{b="c"}1` + "\n"},
		{`a{b="c"} 1` + "\n", `a{b="c"} 1 2 3` + "\n"},
		{`a 1` + "\n", `a {} 1` + "\n"},
		{`a 1` + "\n", `a  {b="c"} 1` + "\n"},
		{`a 1` + "\n", `a\t1` + "\n"},
		{`a 1` + "\n", `ab 1` + "\n"},
		{`a 1` + "\n", `a:b 1` + "\n"},
		{`a 1` + "\n", `a{} 1` + "\n"},
		{`a 1` + "\n", `a ` + "\n"},
		{`a 1` + "\n", `a `},
		{`a 1` + "\n", `a`},
		{`a 1` + "\n", `a 1 2` + "\n"},
		{`  a 1` + "\n", `  a 1` + "\n"},
		{"# TYPE a histogram\na 1\n", "# TYPE a histogram\na 1\n"},
		{`{"a"} 1` + "\n", `{"a"} 1` + "\n"},
		{`  a{} 1` + "\n", `  a{} 1` + "\n"},
		{"# HELP a x\n# TYPE a summary\n", "# HELP a x\n# TYPE a summary\na{quantile=\"1\"} 1\n"},
		{"# TYPE a summary\n# TYPE a gauge\n", "# TYPE a gauge\na{quantile=\"1\"} 1\n"},
		{"# HELP a x\n", "# HELP a x"},
		{"# HELP a x\n", "# HELP a x\\n\n"},
		{"# HELP a \xff\n", "# HELP a \xff\n"},
	} {
		if d := compareExpected([]byte(tc.warm), []byte(tc.in), 0); d != "" {
			t.Errorf("%q then %q: %s", tc.warm, tc.in, d)
		}
	}
}

// FuzzExpectedSeries checks that an expected function walking the series of
// an earlier body (the input up to its last newline) changes nothing.
func FuzzExpectedSeries(f *testing.F) {
	addCorpusSeeds(f)
	f.Fuzz(func(t *testing.T, in []byte) {
		warm := in
		if i := bytes.LastIndexByte(in, '\n'); i > 0 && len(in)%3 == 0 {
			warm = in[:i]
		}
		if d := compareExpected(warm, in, len(in)%3-1); d != "" {
			t.Fatalf("%q: %s", in, d)
		}
	})
}

// warmUp parses warm with p twice: the memo records from the second body on.
func warmUp(p *Parser, warm []byte) {
	for range 2 {
		p.Reset(warm)
		for {
			if _, err := p.Next(); err != nil {
				break
			}
		}
	}
}

// diffAfter parses in with p and describes how the result differs from
// want and wantErr ("" if it does not).
func diffAfter(p *Parser, in []byte, want []entry, wantErr error) string {
	p.Reset(in)
	got, gotErr := collect(p, true)
	if (wantErr == nil) != (gotErr == nil) {
		return fmt.Sprintf("error: got %v, want %v", gotErr, wantErr)
	}
	if !reflect.DeepEqual(got, want) {
		return fmt.Sprintf("entries differ:\n got  %v\n want %v", got, want)
	}
	return ""
}

// compareSkip parses warm, then in with the same Parser skipping metadata,
// and describes how the result differs from the sample entries of parsing in
// with a new Parser ("" if it does not).
func compareSkip(warm, in []byte) string {
	all, wantErr := collect(New(in), true)
	var want []entry
	for _, e := range all {
		if e.kind == textparse.EntrySeries {
			want = append(want, e)
		}
	}
	p := New(warm)
	p.SetSkipMetadata(true)
	warmUp(p, warm)
	return diffAfter(p, in, want, wantErr)
}

// TestSkipMetadataSameSamples checks that skipping metadata yields the same
// samples and label sets (histogram and summary labels depend on TYPE lines)
// and the same errors.
func TestSkipMetadataSameSamples(t *testing.T) {
	cases := []string{
		"# TYPE h histogram\nh_bucket{le=\"1\"} 1\n# TYPE s summary\ns{quantile=\"0.50\"} 2\n",
		"# HELP m bad \xff\nm 1\n",
		"# TYPE m nonsense\nm 1\n",
		"# comment\n\n# HELP m text\n# TYPE m gauge\nm 1 2\n# trailing",
	}
	for _, name := range []string{"node_exporter.prom", "alltypes.prom"} {
		cases = append(cases, string(readCorpus(t, name)))
	}
	for i, in := range cases {
		for _, warm := range []string{"", in, cases[(i+1)%len(cases)]} {
			if d := compareSkip([]byte(warm), []byte(in)); d != "" {
				t.Fatalf("case %d: %s", i, d)
			}
		}
	}
	// Runs of metadata lines that the next body breaks up, shortens or
	// changes.
	const run = "# HELP a x\n# TYPE a histogram\n# c\na_bucket{le=\"1\"} 1\n"
	for _, in := range []string{
		"# HELP a x\nb 1\n# TYPE a histogram\n# c\na_bucket{le=\"1\"} 1\n",
		"# HELP a x\n# TYPE a summary\n# c\na_bucket{le=\"1\"} 1\na{quantile=\"1\"} 1\n",
		"# HELP a x\n# TYPE a histogram\na_bucket{le=\"1\"} 1\n",
		"# HELP a x\n# TYPE a histogram\n# c",
		"# HELP a x\n# TYPE a histogram\n# c\n# TYPE a summary\na{quantile=\"1\"} 1\n",
		"# TYPE a histogram\n# c\na_bucket{le=\"1\"} 1\n",
	} {
		if d := compareSkip([]byte(run), []byte(in)); d != "" {
			t.Fatalf("%q then %q: %s", run, in, d)
		}
		if d := compareSkip([]byte(in), []byte(run)); d != "" {
			t.Fatalf("%q then %q: %s", in, run, d)
		}
	}
}

func FuzzSkipMetadata(f *testing.F) {
	addCorpusSeeds(f)
	f.Fuzz(func(t *testing.T, in []byte) {
		warm := in
		if i := bytes.LastIndexByte(in, '\n'); i > 0 && len(in)%2 == 0 {
			warm = in[:i]
		}
		if d := compareSkip(warm, in); d != "" {
			t.Fatalf("%q: %s", in, d)
		}
	})
}

// anyExpecter matches any text of its length, as an Expecter comparing
// hashes would on a collision.
type anyExpecter struct{ n int }

func (e anyExpecter) ExpectedLen() int          { return e.n }
func (e anyExpecter) MatchExpected([]byte) bool { return true }

// TestExpectedFalseMatch: when the Expecter matches a text that is not the
// one expected (a hash collision), the line is taken unvalidated, but
// parsing never panics, the values and the following lines are read as
// without an Expecter, and Labels gives what parsing the text finds (an
// empty name and no labels when it does not parse).
func TestExpectedFalseMatch(t *testing.T) {
	for _, tc := range []struct {
		in     string
		n      int
		labels string // of the first line
	}{
		{"a{b=\"c\"} 1\nx 2\n", 8, `{__name__="a", b="c"}`},
		{"a{b=\"\xff\"} 1\nx 2\n", 8, `{__name__=""}`}, // invalid UTF-8: not validated, no labels
		{"a{b=}}}}}} 1\nx 2\n", 10, `{__name__=""}`},   // not a label set: no name
		{"{{{{{{{{} 1\nx 2\n", 9, `{__name__=""}`},
		{"a{b=\"c\",d=\"e\"} 1\nx 2\n", 8, ``}, // no '}' at 8: parsed in full
	} {
		p := New([]byte(tc.in))
		p.SetExpected(anyExpecter{tc.n})
		e, err := p.Next()
		if err != nil || e != textparse.EntrySeries {
			t.Errorf("%q: first entry %v, %v", tc.in, e, err)
			continue
		}
		_, _, v := p.Series()
		var l labels.Labels
		p.Labels(&l)
		if v != 1 || p.IsExpected() != (tc.labels != "") || (tc.labels != "" && l.String() != tc.labels) {
			t.Errorf("%q: value %v, labels %s (matched %v), want %s", tc.in, v, l, p.IsExpected(), tc.labels)
		}
		if e, err := p.Next(); err != nil || e != textparse.EntrySeries {
			t.Errorf("%q: second entry %v, %v", tc.in, e, err)
		} else if s, _, v := p.Series(); string(s) != "x" || v != 2 {
			t.Errorf("%q: second series %s %v", tc.in, s, v)
		}
	}
}

// TestSortedLabelsAsLabels: SortedLabels lists, in order, the labels Labels
// builds, for the corpus and the edge cases, and allocates nothing once
// the parser's buffers have grown.
func TestSortedLabelsAsLabels(t *testing.T) {
	ins := [][]byte{readCorpus(t, "node_exporter.prom")}
	for _, tc := range edgeCases {
		ins = append(ins, []byte(tc.in))
	}
	for _, in := range ins {
		p := New(in)
		for {
			e, err := p.Next()
			if err != nil {
				break
			}
			if e != textparse.EntrySeries {
				continue
			}
			var want labels.Labels
			p.Labels(&want)
			b := labels.NewScratchBuilder(0)
			for _, l := range p.SortedLabels() {
				b.Add(l.Name, l.Value)
			}
			if got := b.Labels(); !labels.Equal(got, want) {
				t.Fatalf("%q: SortedLabels %s, Labels %s", in, got, want)
			}
			if n := testing.AllocsPerRun(3, func() { p.SortedLabels() }); n != 0 {
				t.Fatalf("%q: SortedLabels allocates %v times", in, n)
			}
		}
	}
}
