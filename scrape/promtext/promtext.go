// Package promtext parses the Prometheus text exposition format 0.0.4 without
// allocating.
//
// [Parser] implements [textparse.Parser] and yields the same entries, byte
// views, values, timestamps and label sets as
// textparse.NewPromParser(b, labels.NewSymbolTable(), false), so the scrape
// loop can use either. Next and Series do not allocate, except that a reused
// Parser copies the comment, HELP and TYPE lines of a body that differ from
// the previous body's into buffers it keeps (see [Parser.Reset]); Labels
// allocates only the returned label set. Returned byte slices are views into
// the input and stay valid until the next call to Next.
//
// Scraping one target again and again is the case made fast: a reused Parser
// does not parse again the comment lines the previous body had in the same
// place, and with [Parser.SetExpected] a series line the caller already knows
// is not validated again.
//
// Known divergences from textparse, all on input that no real exporter
// produces, are listed on [Parser].
package promtext

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"unsafe"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/exemplar"
	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/textparse"
)

// Sentinel errors. Errors returned by Next wrap exactly one of these.
var (
	// ErrSyntax reports input that does not follow the exposition grammar.
	ErrSyntax = errors.New("syntax error")
	// ErrInvalidNumber reports a sample value or timestamp that does not parse.
	ErrInvalidNumber = errors.New("invalid number")
	// ErrInvalidUTF8 reports a label value or help text that is not UTF-8.
	ErrInvalidUTF8 = errors.New("invalid utf-8")
	// ErrInvalidType reports a TYPE line with an unknown metric type.
	ErrInvalidType = errors.New("invalid metric type")
)

var _ textparse.Parser = (*Parser)(nil)

// Parser reads entries from one exposition body. The zero value is an empty
// body; use [New] or [Reset] to give it input. A Parser is not safe for
// concurrent use.
//
// Divergences from textparse.PromParser, accepted on purpose:
//   - NUL bytes are ordinary bytes inside quoted label values, HELP text and
//     comments, and a NUL where a line should start ends the body (io.EOF),
//     as in textparse. Elsewhere a NUL is a syntax error, while textparse
//     skips some of them, treats some as the end of the body and, right after
//     a label value's closing quote, reports a label value that includes the
//     quote. Nothing is compared on input containing NUL.
//   - After an error, Next keeps returning that error; textparse resumes
//     lexing wherever it stopped.
//   - Error messages differ; only error-or-not is kept.
type Parser struct {
	b   []byte
	pos int   // start of the next unread line
	err error // sticky error

	// Series entry. Offsets are absolute indexes into b.
	series    []byte
	lineStart int
	nameStart int
	nameEnd   int
	lbls      []int // per label: name start, name end, value start, value end
	val       float64
	ts        int64
	hasTS     bool

	// Metadata and comment entries.
	metaName []byte
	text     []byte
	mtype    model.MetricType

	// expected knows the series text expected next; see SetExpected.
	// lazy is set when the current series skipped parsing its name and
	// labels, which Labels then parses.
	expected Expecter
	lazy     bool
	hit      bool // the current series is the expected text
	skipMeta bool // see SetSkipMetadata

	memo       memo // comment, HELP and TYPE lines of the previous body
	metaParsed int  // comment, HELP and TYPE lines of this body parsed in full
	metaBytes  int  // and their bytes

	builder labels.ScratchBuilder
	list    []labels.Label // SortedLabels' result, views into b and scratch
	// built is the most labels builder has held since Release: its
	// backing array keeps views into the body until they are overwritten.
	built   int
	scratch []byte // unescaped label text, reused by Labels
	helpBuf []byte // unescaped help text, reused by Help
}

// New returns a Parser over b. b must not change while the Parser or any
// view it returned is in use.
func New(b []byte) *Parser {
	p := &Parser{builder: labels.NewScratchBuilder(16)}
	p.Reset(b)
	return p
}

// Reset makes p parse b from the start, keeping its buffers. From the
// second body on, p remembers the comment, HELP and TYPE lines of the body it
// parsed last (a copy of them, about the size of that body's metadata), so
// that lines repeated in the same order are not parsed again.
func (p *Parser) Reset(b []byte) {
	p.b = b
	p.pos = 0
	p.err = nil
	p.series = nil
	p.nameStart, p.nameEnd = 0, 0
	p.lbls = p.lbls[:0]
	p.hasTS = false
	p.lazy, p.hit = false, false
	p.memoReset()
	p.metaParsed, p.metaBytes = 0, 0
	p.metaName = nil
	p.text = nil
	p.mtype = ""
}

// Release drops p's views into the body it was last reset to, so that the
// caller may free or reuse that memory; what p remembers of the body (its
// metadata lines, copied) is kept. Call Reset before parsing again.
func (p *Parser) Release() {
	p.b, p.series, p.metaName, p.text = nil, nil, nil, nil
	p.pos, p.lineStart = 0, 0
	clear(p.list)
	if p.built > 0 {
		// The builder's array still holds the last labels, strings into
		// the body: overwrite them, keeping the array.
		p.builder.Reset()
		for range p.built {
			p.builder.Add("", "")
		}
		p.builder.Reset()
		p.built = 0
	}
}

// Expecter knows which series text a caller expects on the next sample
// line: a target exposes the same series in the same order scrape after
// scrape, and its series cache knows which comes next.
type Expecter interface {
	// ExpectedLen returns the length of the series text (as Series returns
	// it) expected on the next sample line, or 0 for none. It is called
	// once per sample line, before MatchExpected.
	ExpectedLen() int
	// MatchExpected reports whether text, of the length ExpectedLen
	// returned, is the expected series text.
	MatchExpected(text []byte) bool
}

// SetExpected gives p the caller's expectation of the next series text. The
// expected text must be one that Series of a Parser of this package returned
// before, for this or an earlier body (validity depends on the text alone).
// A sample line that starts with text MatchExpected accepts, if that text
// ends with a label set's '}' or is a bare name followed by blanks and no
// label set, is not validated again; its name and labels are parsed only if
// Labels is called. MatchExpected may compare hashes rather than bytes: a
// false match (a hash collision) then passes a line that was not validated,
// whose Labels, should they be asked for, are parsed then (an invalid text
// gives the labels parsed up to the error, never a panic). The entries,
// values and label sets p yields do not change otherwise. See also
// IsExpected. nil (the default) parses every line in full. The Expecter is
// kept across Reset.
func (p *Parser) SetExpected(e Expecter) {
	p.expected = e
}

// SetSkipMetadata makes Next, when skip is set, pass over comment, HELP and
// TYPE lines instead of returning them, for a caller that would ignore
// them: it returns only sample entries, errors and io.EOF. The skipped lines
// are still checked (an invalid one is still an error) and TYPE lines still
// set the metric type that Labels needs. The setting is kept across Reset.
func (p *Parser) SetSkipMetadata(skip bool) {
	p.skipMeta = skip
}

// IsExpected reports whether the current series text is the one the
// Expecter (see SetExpected) matched, so that the caller can skip comparing
// it again. It is false when there is no Expecter or the line was parsed in
// full. Call only after Next returned textparse.EntrySeries.
func (p *Parser) IsExpected() bool {
	return p.hit
}

// Series returns the raw series text (metric name and label set as written,
// including any indentation), the timestamp if one was given, and the value
// of the current sample. Call only after Next returned textparse.EntrySeries.
func (p *Parser) Series() ([]byte, *int64, float64) {
	if p.hasTS {
		return p.series, &p.ts, p.val
	}
	return p.series, nil, p.val
}

// Histogram returns nils: the text format has no native histograms.
func (*Parser) Histogram() ([]byte, *int64, *histogram.Histogram, *histogram.FloatHistogram) {
	return nil, nil, nil, nil
}

// Help returns the metric name and the help text of the current HELP entry,
// with the escapes \\ and \n resolved. Both are valid until the next call to
// Next.
func (p *Parser) Help() ([]byte, []byte) {
	if bytes.IndexByte(p.text, '\\') < 0 {
		return p.metaName, p.text
	}
	p.helpBuf = unescape(p.helpBuf[:0], p.text, false)
	return p.metaName, p.helpBuf
}

// Type returns the metric name and type of the current TYPE entry.
func (p *Parser) Type() ([]byte, model.MetricType) {
	return p.metaName, p.mtype
}

// Unit returns nils: the text format has no units.
func (*Parser) Unit() ([]byte, []byte) {
	return nil, nil
}

// Comment returns the current comment line, starting at its '#'.
func (p *Parser) Comment() []byte {
	return p.text
}

// Exemplar returns false: the text format has no exemplars.
func (*Parser) Exemplar(*exemplar.Exemplar) bool {
	return false
}

// StartTimestamp returns 0: the text format has no start timestamps.
func (*Parser) StartTimestamp() int64 {
	return 0
}

// Labels writes the label set of the current sample, including __name__, to
// l. Escapes in names and values are resolved; "le" of histograms and
// "quantile" of summaries are rewritten in OpenMetrics float form. Labels
// allocates only the returned label set.
func (p *Parser) Labels(l *labels.Labels) {
	p.builder.Reset()
	for _, lb := range p.SortedLabels() {
		p.builder.Add(lb.Name, lb.Value)
	}
	*l = p.builder.Labels()
	p.built = max(p.built, len(p.list))
}

// SortedLabels returns the labels Labels would write, sorted by name as it
// sorts them, without building a label set: the strings are views into the
// body and p's buffers, valid until the next call to Next, Labels or
// SortedLabels (and Release clears them). It does not allocate once p's
// buffers have grown.
func (p *Parser) SortedLabels() []labels.Label {
	if p.lazy {
		p.lazy = false
		// The text was valid when first seen, so this cannot fail, unless
		// the Expecter matched another text (a hash collision) or broke
		// its contract: then keep the parser's state.
		pos, err := p.pos, p.err
		if _, perr := p.parseHead(p.skipBlank(p.lineStart)); perr != nil {
			p.lbls = p.lbls[:0]
			p.nameStart, p.nameEnd = p.lineStart, p.lineStart
		}
		p.pos, p.err = pos, err
	}
	b := p.b
	// Unescaped text and rewritten floats go to p.scratch. Strings made from
	// it stay valid if append moves it: the old array is only read after that.
	need := len(p.series) + 32*len(p.lbls)/4
	if cap(p.scratch) < need {
		p.scratch = make([]byte, 0, need)
	}
	p.scratch = p.scratch[:0]
	clear(p.list)
	p.list = append(p.list[:0], labels.Label{Name: labels.MetricName, Value: p.text2string(b[p.nameStart:p.nameEnd])})
	for i := 0; i+3 < len(p.lbls); i += 4 {
		name := p.text2string(b[p.lbls[i]:p.lbls[i+1]])
		value := p.text2string(b[p.lbls[i+2]:p.lbls[i+3]])
		if (p.mtype == model.MetricTypeHistogram && name == model.BucketLabel) ||
			(p.mtype == model.MetricTypeSummary && name == model.QuantileLabel) {
			if f, ok := parseLabelFloat(value); ok {
				start := len(p.scratch)
				p.scratch = labels.AppendOpenMetricsFloat(p.scratch, f)
				value = yolo(p.scratch[start:])
			}
		}
		p.list = append(p.list, labels.Label{Name: name, Value: value})
	}
	// As labels.ScratchBuilder.Sort, so that Labels writes what it wrote.
	slices.SortFunc(p.list, func(a, b labels.Label) int { return strings.Compare(a.Name, b.Name) })
	return p.list
}

// parseLabelFloat parses an "le" or "quantile" value as strconv.ParseFloat
// does, without calling it on strings it would reject on their first byte,
// because its errors allocate.
func parseLabelFloat(s string) (float64, bool) {
	if f, ok := parseDecimalFast(yoloBytes(s)); ok {
		return f, true
	}
	i := 0
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		i++
	}
	if i == len(s) {
		return 0, false
	}
	switch c := s[i]; {
	case c >= '0' && c <= '9', c == '.', c == 'i', c == 'I', c == 'n', c == 'N':
	default:
		return 0, false
	}
	f, err := strconv.ParseFloat(s, 64)
	return f, err == nil
}

// text2string returns s with label escapes resolved, as a string that aliases
// either the input or p.scratch.
func (p *Parser) text2string(s []byte) string {
	if bytes.IndexByte(s, '\\') < 0 {
		return yolo(s)
	}
	start := len(p.scratch)
	p.scratch = unescape(p.scratch, s, true)
	return yolo(p.scratch[start:])
}

// unescape appends s to dst with \\ and \n resolved, and \" too if quote is
// set. Any other backslash is kept as written.
func unescape(dst, s []byte, quote bool) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '\\' && i+1 < len(s) {
			switch s[i+1] {
			case '\\':
				dst = append(dst, '\\')
				i++
				continue
			case 'n':
				dst = append(dst, '\n')
				i++
				continue
			case '"':
				if quote {
					dst = append(dst, '"')
					i++
					continue
				}
			}
		}
		dst = append(dst, c)
	}
	return dst
}

// yolo returns b as a string without copying; b must not change while the
// string is in use.
func yolo(b []byte) string {
	return unsafe.String(unsafe.SliceData(b), len(b))
}

// yoloBytes returns s as a byte slice without copying; it must not be
// modified.
func yoloBytes(s string) []byte {
	return unsafe.Slice(unsafe.StringData(s), len(s))
}

// fail records a sticky error at offset i and returns it.
func (p *Parser) fail(sentinel error, i int, msg string) (textparse.Entry, error) {
	i = min(i, len(p.b))
	line := 1 + bytes.Count(p.b[:i], []byte{'\n'})
	end := bytes.IndexByte(p.b[p.lineStart:], '\n')
	if end < 0 {
		end = len(p.b) - p.lineStart
	}
	end = min(end, 120)
	p.err = fmt.Errorf("line %d: %w: %s in %q", line, sentinel, msg, p.b[p.lineStart:p.lineStart+end])
	p.pos = len(p.b)
	return textparse.EntryInvalid, p.err
}

// eof ends the body: every later Next returns io.EOF.
func (p *Parser) eof() (textparse.Entry, error) {
	p.pos = len(p.b)
	return textparse.EntryInvalid, io.EOF
}
