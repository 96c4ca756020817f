package promtext

import (
	"errors"
	"io"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/textparse"

	"github.com/watchdog-sre/watchdog/internal/testcorpus"
)

// readCorpus returns the named file of the shared corpus; it fails tb when
// the file is missing.
func readCorpus(tb testing.TB, name string) []byte {
	tb.Helper()
	return testcorpus.Read(tb, name)
}

func TestCorpusMatchesTextparse(t *testing.T) {
	for _, name := range []string{"node_exporter.prom", "alltypes.prom"} {
		t.Run(name, func(t *testing.T) {
			in := readCorpus(t, name)
			if d := compare(in); d != "" {
				t.Fatal(d)
			}
			got, err := collect(New(in), true)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) < 1000 {
				t.Fatalf("only %d entries", len(got))
			}
		})
	}
}

// edgeCases are inputs whose handling must match textparse. err says whether
// textparse (and so Parser) reports an error; the entries are compared with
// textparse's.
var edgeCases = []struct {
	name string
	in   string
	err  bool
}{
	{"empty", "", false},
	{"blank lines", "\n\n  \n\t\nm 1\n\n", false},
	{"no trailing newline", "m 1", false},
	{"no trailing newline with ts", "m 1 2", false},
	{"no trailing newline comment", "# hello", false},
	{"no trailing newline help", "# HELP m some help", false},
	{"empty label set", "m{} 1\n", false},
	{"trailing comma", "m{a=\"1\",} 1\n", false},
	{"labels without comma", "m{a=\"1\" b=\"2\"} 1\n", false},
	{"labels glued", "m{a=\"1\"b=\"2\"} 1\n", false},
	{"blanks everywhere", "m { a = \"1\" , b=\"2\" , } \t 1 \t 2 \t\n", false},
	{"escapes", `m{a="x\\y",b="say \"hi\"",c="l1\nl2",d="\t\q"} 1` + "\n", false},
	{"escaped backslash before n", `m{a="\\n"} 1` + "\n", false},
	{"utf8 value", "m{a=\"héllo ☃\"} 1\n", false},
	{"timestamp", "m 1 1700000000000\n", false},
	{"timestamp leading zeros", "m 1 000123\n", false},
	{"negative timestamp", "m 1 -5\n", true},
	{"timestamp overflow", "m 1 99999999999999999999\n", true},
	{"two timestamps", "m 1 2 3\n", true},
	{"float forms", "a 1.5\nb -2e-3\nc +3E+4\nd .5\ne 5.\nf 0\ng -0\nh 1e22\ni 1e23\nj 123456789012345678901234\nk 0.1\nl 1e-400\n", false},
	{"nan inf", "a NaN\nb nan\nc +Inf\nd -Inf\ne Inf\nf inf\ng +inf\nh Infinity\ni -infinity\n", false},
	{"signed nan", "a +NaN\n", true},
	{"hex float", "a 0x1p3\n", true},
	{"hex int", "a 0x10\n", true},
	{"underscore", "a 1_000\n", true},
	{"overflow", "a 1e400\n", true},
	{"garbage value", "a abc\n", true},
	{"missing value", "a\n", true},
	{"missing value after labels", "a{b=\"c\"}\n", true},
	{"value glued to labels", "a{b=\"c\"}1\n", false},
	{"value glued to name sign", "a-1 2\n", false},
	{"crlf", "a 1\r\n", true},
	{"crlf comment", "# hi\r\na 1\n", false},
	{"crlf type", "# TYPE a counter\r\na 1\n", true},
	{"comment", "# just a comment\n#nospace\n#\n# \n#\t\tTAB\n", false},
	{"help escapes", "# HELP m a \\\\ b \\n c \\\" d\nm 1\n", false},
	{"help empty", "# HELP m\n# HELP n \n# HELP o  \n# HELP p x\n", false},
	{"help spacing", "# HELP m  two spaces\n# HELP\tn\ttab\n", false},
	{"help keyword only", "# HELP\n# TYPE\n# HELPX m x\n", false},
	{"help bad utf8", "# HELP m \xff\n", true},
	{"type all", "# TYPE a counter\n# TYPE b gauge\n# TYPE c histogram\n# TYPE d summary\n# TYPE e untyped\n", false},
	{"type unknown", "# TYPE a info\n", true},
	{"type trailing blank", "# TYPE a counter \n", true},
	{"histogram le normalised", "# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_bucket{le=\"0.5e1\"} 2\nh_bucket{le=\"+Inf\"} 3\nh_bucket{le=\"x\"} 3\nh_sum 1\n", false},
	{"summary quantile normalised", "# TYPE s summary\ns{quantile=\"0\"} 1\ns{quantile=\"1e-2\"} 1\ns_count 3\n", false},
	{"le on gauge kept", "# TYPE g gauge\ng{le=\"1\"} 1\n", false},
	{"quoted metric name", "{\"my.metric\"} 1\n{\"my.metric\",a=\"b\"} 2\n{a=\"b\",\"my.metric\"} 3\n", false},
	{"quoted label name", "m{\"my.label\"=\"v\",\"a\\\"b\"=\"w\"} 1\n", false},
	{"quoted name escapes", "{\"a\\\\b\\nc\\\"d\"} 1\n", false},
	{"quoted metric and unquoted name", "m{\"x\"} 1\n", true},
	{"quoted metric twice", "{\"x\",\"y\"} 1\n", true},
	{"brace without name", "{a=\"b\"} 1\n", true},
	{"quoted meta name", "# HELP \"my.metric\" help\n# TYPE \"my.metric\" gauge\n{\"my.metric\"} 1\n", false},
	{"quoted name with newline", "{\"a\nb\"} 1\n", false},
	{"indented sample", "  m{a=\"1\"} 1\n\tn 2\n", false},
	{"indented comment", "  # HELP m x\n  # c\n", false},
	{"space before brace", "m {a=\"1\"} 1\n", false},
	{"double braces", "m{a=\"1\"}{b=\"2\"} 1\n", true},
	{"label name with colon", "m{a:b=\"1\"} 1\n", true},
	{"label without value", "m{a} 1\n", true},
	{"label unquoted value", "m{a=1} 1\n", true},
	{"double comma", "m{a=\"1\",,b=\"2\"} 1\n", true},
	{"leading comma", "m{,a=\"1\"} 1\n", true},
	{"unterminated value", "m{a=\"1} 1\n", true},
	{"unterminated value eof", "m{a=\"1", true},
	{"escape newline", "m{a=\"1\\\n\"} 1\n", true},
	{"raw newline in value", "m{a=\"1\n\"} 1\n", false},
	{"bad utf8 value", "m{a=\"\xff\"} 1\n", true},
	{"nul in value", "m{a=\"x\x00y\"} 1\n", false},
	{"nul at line start", "m 1\n\x00n 2\n", false},
	{"nul in help", "# HELP m a\x00b\n", false},
	{"duplicate labels", "m{a=\"1\",a=\"2\"} 1\n", false},
	{"many labels", "m{z=\"1\",y=\"2\",x=\"3\",w=\"4\",v=\"5\",u=\"6\",t=\"7\",s=\"8\",r=\"9\",q=\"10\",p=\"11\",o=\"12\",n=\"13\",m=\"14\"} 1\n", false},
	{"digit start", "1m 1\n", true},
	{"bad start", "-m 1\n", true},
	{"name with colon", "a:b:c 1\n", false},
	{"name glued to text", "m1\n", true},
	{"value then brace", "m 1{\n", true},
	{"timestamp then junk", "m 1 2x\n", true},
	{"empty quoted label name", "m{\"\"=\"v\"} 1\n", false},
	{"error after good lines", "a 1\nb 2\nc{ 3\n", true},
}

func TestEdgeCasesMatchTextparse(t *testing.T) {
	for _, tc := range edgeCases {
		t.Run(tc.name, func(t *testing.T) {
			if d := compare([]byte(tc.in)); d != "" {
				t.Fatal(d)
			}
			_, err := collect(New([]byte(tc.in)), true)
			if (err != nil) != tc.err {
				t.Fatalf("error = %v, want error: %v", err, tc.err)
			}
		})
	}
}

func TestErrorsAreSentinelAndSticky(t *testing.T) {
	tests := []struct {
		in   string
		want error
	}{
		{"m{a=\"1\" 1\n", ErrSyntax},
		{"m abc\n", ErrInvalidNumber},
		{"m 1 99999999999999999999\n", ErrInvalidNumber},
		{"m{a=\"\xff\"} 1\n", ErrInvalidUTF8},
		{"# HELP m \xfe\n", ErrInvalidUTF8},
		{"# TYPE m nope\n", ErrInvalidType},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			p := New([]byte(tc.in))
			_, err := p.Next()
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			if e, err2 := p.Next(); e != textparse.EntryInvalid || err2 != err {
				t.Fatalf("second Next = %v, %v; want the same error", e, err2)
			}
		})
	}
}

func TestSeriesValueAndLabels(t *testing.T) {
	p := New([]byte("# TYPE h histogram\nh_bucket{le=\"1\",path=\"a\\\"b\"} NaN 42\n"))
	if e, err := p.Next(); e != textparse.EntryType || err != nil {
		t.Fatalf("Next = %v, %v", e, err)
	}
	if e, err := p.Next(); e != textparse.EntrySeries || err != nil {
		t.Fatalf("Next = %v, %v", e, err)
	}
	s, ts, v := p.Series()
	if string(s) != `h_bucket{le="1",path="a\"b"}` {
		t.Errorf("series = %q", s)
	}
	if ts == nil || *ts != 42 {
		t.Errorf("ts = %v", ts)
	}
	if !math.IsNaN(v) {
		t.Errorf("value = %v", v)
	}
	var l labels.Labels
	p.Labels(&l)
	want := labels.FromStrings("__name__", "h_bucket", "le", "1.0", "path", `a"b`)
	if !labels.Equal(l, want) {
		t.Errorf("labels = %v, want %v", l, want)
	}
	if _, err := p.Next(); !errors.Is(err, io.EOF) {
		t.Errorf("Next = %v, want EOF", err)
	}
}

func TestResetReusesParser(t *testing.T) {
	p := New([]byte("# TYPE h histogram\nbad{"))
	for {
		if _, err := p.Next(); err != nil {
			break
		}
	}
	in := []byte("h_bucket{le=\"1\"} 1\n")
	p.Reset(in)
	if d := diffEntries(t, p, in); d != "" {
		t.Fatal(d)
	}
}

// diffEntries compares the entries of p with textparse's over in.
func diffEntries(t *testing.T, p *Parser, in []byte) string {
	t.Helper()
	got, err := collect(p, true)
	if err != nil {
		return err.Error()
	}
	want, err := collect(textparse.NewPromParser(append([]byte(nil), in...), labels.NewSymbolTable(), false), true)
	if err != nil {
		return err.Error()
	}
	if len(got) != len(want) {
		return "different lengths"
	}
	for i := range got {
		if got[i] != want[i] {
			return "got " + got[i].String() + ", want " + want[i].String()
		}
	}
	return ""
}

// TestFixtures parses testdata/*.good.prom, which must parse without error,
// and testdata/*.bad.prom, which must fail; both must match textparse.
func TestFixtures(t *testing.T) {
	files, err := filepath.Glob("testdata/*.prom")
	if err != nil || len(files) == 0 {
		t.Fatalf("no fixtures: %v", err)
	}
	for _, name := range files {
		t.Run(filepath.Base(name), func(t *testing.T) {
			in, err := os.ReadFile(name)
			if err != nil {
				t.Fatal(err)
			}
			if d := compare(in); d != "" {
				t.Fatal(d)
			}
			entries, err := collect(New(in), true)
			bad := filepath.Ext(name[:len(name)-len(".prom")]) == ".bad"
			if bad != (err != nil) {
				t.Fatalf("err = %v, want error: %v", err, bad)
			}
			if len(entries) == 0 {
				t.Fatal("no entries before the end or the error")
			}
		})
	}
}
