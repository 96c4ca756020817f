package promtext

import (
	"bytes"
	"io"
	"unicode/utf8"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/textparse"
)

// Character classes, as bit flags in charClass.
const (
	cMetric      = 1 << iota // [a-zA-Z0-9_:]
	cMetricStart             // [a-zA-Z_:]
	cLabel                   // [a-zA-Z0-9_]
	cLabelStart              // [a-zA-Z_]
	cValueEnd                // ends a value token: '{', ' ', '\t', '\n', NUL
)

var charClass = func() (t [256]uint8) {
	for c := 0; c < 256; c++ {
		alpha := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_'
		digit := c >= '0' && c <= '9'
		if alpha || digit || c == ':' {
			t[c] |= cMetric
		}
		if alpha || c == ':' {
			t[c] |= cMetricStart
		}
		if alpha || digit {
			t[c] |= cLabel
		}
		if alpha {
			t[c] |= cLabelStart
		}
	}
	for _, c := range []byte{'{', ' ', '\t', '\n', 0} {
		t[c] |= cValueEnd
	}
	return t
}()

// at returns b[i], or '\n' past the end: a body without a final newline
// reads as if it had one.
func (p *Parser) at(i int) byte {
	if i < len(p.b) {
		return p.b[i]
	}
	return '\n'
}

// scanName returns the index of the first byte at or after i that is not a
// metric name character.
func (p *Parser) scanName(i int) int {
	b := p.b
	for i+4 <= len(b) {
		w := b[i : i+4 : i+4]
		if charClass[w[0]]&charClass[w[1]]&charClass[w[2]]&charClass[w[3]]&cMetric == 0 {
			break
		}
		i += 4
	}
	for i < len(b) && charClass[b[i]]&cMetric != 0 {
		i++
	}
	return i
}

// skipBlank returns the index of the first byte at or after i that is not a
// space or tab.
func (p *Parser) skipBlank(i int) int {
	b := p.b
	for i < len(b) && (b[i] == ' ' || b[i] == '\t') {
		i++
	}
	return i
}

// eol returns the index of the first '\n' at or after i, or len(b).
func (p *Parser) eol(i int) int {
	if i >= len(p.b) {
		return len(p.b)
	}
	if j := bytes.IndexByte(p.b[i:], '\n'); j >= 0 {
		return i + j
	}
	return len(p.b)
}

// Next advances to the next entry. It returns (textparse.EntryInvalid,
// io.EOF) at the end of the body and (textparse.EntryInvalid, err) for bad
// input; after an error it keeps returning that error.
func (p *Parser) Next() (textparse.Entry, error) {
	if p.err != nil {
		return textparse.EntryInvalid, p.err
	}
	b := p.b
	for {
		if p.pos >= len(b) {
			return textparse.EntryInvalid, io.EOF
		}
		p.lineStart = p.pos
		i := p.skipBlank(p.pos)
		c := p.at(i)
		switch {
		case c == '\n':
			p.pos = i + 1
			continue
		case charClass[c]&cMetricStart != 0 || c == '{':
			if p.expected != nil {
				// Series text that was valid before parses to the same
				// name and labels and ends at the same place if it ends
				// with a label set's '}', whatever follows, or if it is a
				// bare name followed by a blank and no label set: the
				// name and labels are then parsed only if Labels asks.
				if n := p.expected.ExpectedLen(); n > 0 && len(b)-p.lineStart >= n &&
					(b[p.lineStart+n-1] == '}' || p.bareNameEnds(p.lineStart+n)) &&
					p.expected.MatchExpected(b[p.lineStart:p.lineStart+n]) {
					p.lazy, p.hit = true, true
					return p.parseSample(p.lineStart + n)
				}
			}
			p.lazy, p.hit = false, false
			return p.parseSeries(i)
		case c == '#':
			if p.skipMeta && p.memoRun() {
				continue
			}
			e, err := p.parseComment(i)
			if err != nil || !p.skipMeta {
				return e, err
			}
			continue
		case c == 0:
			return p.eof()
		default:
			return p.fail(ErrSyntax, i, "expected metric name, '{' or '#'")
		}
	}
}

// bareNameEnds reports whether a metric name without labels that ends at j
// ends there: a blank follows, and after the blanks no label set.
func (p *Parser) bareNameEnds(j int) bool {
	return j < len(p.b) && (p.b[j] == ' ' || p.b[j] == '\t') && p.at(p.skipBlank(j)) != '{'
}

// parseComment reads a comment, HELP or TYPE line whose '#' is at i. A line
// equal, newline included, to the one expected from the previous body is
// taken from the memo; see metaMemo.
func (p *Parser) parseComment(i int) (textparse.Entry, error) {
	if e, ok := p.memoLookup(); ok {
		return e, nil
	}
	ls := p.lineStart
	p.metaParsed++
	e, err := p.parseCommentLine(i)
	if err == nil {
		p.metaBytes += p.pos - ls
	}
	if err == nil && p.pos <= len(p.b) && p.b[p.pos-1] == '\n' {
		p.memoAdd(e, ls)
	}
	return e, err
}

// parseCommentLine parses a comment, HELP or TYPE line in full.
func (p *Parser) parseCommentLine(i int) (textparse.Entry, error) {
	j := i + 1
	if k := p.skipBlank(j); k > j {
		b := p.b
		var help bool
		switch {
		case len(b)-k >= 4 && string(b[k:k+4]) == "HELP":
			help = true
		case len(b)-k >= 4 && string(b[k:k+4]) == "TYPE":
		default:
			goto comment
		}
		if m := p.skipBlank(k + 4); m > k+4 {
			return p.parseMeta(m, help)
		}
	}
comment:
	e := p.eol(j)
	p.text = p.b[i:e]
	p.pos = e + 1
	return textparse.EntryComment, nil
}

// parseMeta reads the metric name and text of a HELP or TYPE line; i is the
// first byte after the keyword and its blanks.
func (p *Parser) parseMeta(i int, help bool) (textparse.Entry, error) {
	b := p.b
	var end int
	switch c := p.at(i); {
	case c == '"':
		q, ok := p.scanQuoted(i, false)
		if !ok {
			return p.fail(ErrSyntax, i, "unterminated metric name")
		}
		p.metaName = b[i+1 : q-1]
		end = q
	case charClass[c]&cMetricStart != 0:
		end = p.scanName(i + 1)
		p.metaName = b[i:end]
	default:
		return p.fail(ErrSyntax, i, "expected metric name after HELP or TYPE")
	}
	e := p.eol(end)
	rest := b[end:e]
	// The text starts one byte after the name, whatever that byte is; text
	// made of blanks only is empty.
	if len(rest) < 2 || p.skipBlank(end) >= e {
		rest = rest[:0]
	} else {
		rest = rest[1:]
	}
	p.text = rest
	p.pos = e + 1
	if help {
		if !utf8.Valid(rest) {
			return p.fail(ErrInvalidUTF8, end, "help text")
		}
		return textparse.EntryHelp, nil
	}
	switch string(rest) {
	case "counter":
		p.mtype = model.MetricTypeCounter
	case "gauge":
		p.mtype = model.MetricTypeGauge
	case "histogram":
		p.mtype = model.MetricTypeHistogram
	case "summary":
		p.mtype = model.MetricTypeSummary
	case "untyped":
		p.mtype = model.MetricTypeUnknown
	default:
		return p.fail(ErrInvalidType, end, "unknown type")
	}
	return textparse.EntryType, nil
}

// scanQuoted scans the quoted string whose opening quote is at i and returns
// the index after its closing quote. A backslash escapes any byte but '\n'
// and NUL; raw newlines are allowed. NUL is an ordinary byte only if nul is
// set.
func (p *Parser) scanQuoted(i int, nul bool) (int, bool) {
	b := p.b
	for i++; i < len(b); i++ {
		switch b[i] {
		case '"':
			return i + 1, true
		case '\\':
			i++
			if i >= len(b) || b[i] == '\n' || b[i] == 0 {
				return 0, false
			}
		case 0:
			if !nul {
				return 0, false
			}
		}
	}
	return 0, false
}

// parseSeries reads a sample line whose first non-blank byte, a metric name
// or '{', is at i.
func (p *Parser) parseSeries(i int) (textparse.Entry, error) {
	end, err := p.parseHead(i)
	if err != nil {
		return textparse.EntryInvalid, err
	}
	return p.parseSample(end)
}

// parseHead reads the metric name and label set of a sample line starting
// at i and returns the index after them.
func (p *Parser) parseHead(i int) (int, error) {
	b := p.b
	p.lbls = p.lbls[:0]
	p.nameStart, p.nameEnd = -1, -1
	end := i
	if b[i] != '{' {
		end = p.scanName(i + 1)
		// As in textparse, the name starts at the line start, so an
		// indented line has a name with leading blanks.
		p.nameStart, p.nameEnd = p.lineStart, end
		i = p.skipBlank(end)
	}
	if p.at(i) == '{' {
		var err error
		if end, err = p.parseLabels(i + 1); err != nil {
			return 0, err
		}
		if p.nameStart < 0 {
			_, err := p.fail(ErrSyntax, i, "metric name not set")
			return 0, err
		}
	}
	return end, nil
}

// parseSample reads the value, optional timestamp and end of a sample line
// whose series text ends at end.
func (p *Parser) parseSample(end int) (textparse.Entry, error) {
	b := p.b
	p.series = b[p.lineStart:end]
	i := p.skipBlank(end)

	// Value: everything up to a blank, '{', newline or NUL. Plain decimals
	// are parsed while scanning, integers of up to 7 digits in one go.
	v := i
	f, n, ok := shortInt(b, v)
	if !ok {
		f, n, ok = decimalPrefix(b[v:])
	}
	if ok && n > 0 && (v+n == len(b) || charClass[b[v+n]]&cValueEnd != 0) {
		i = v + n
	} else {
		for i < len(b) && charClass[b[i]]&cValueEnd == 0 {
			i++
		}
		if i == v {
			return p.fail(ErrSyntax, i, "expected value")
		}
		if f, ok = parseValue(b[v:i]); !ok {
			return p.fail(ErrInvalidNumber, v, "value")
		}
	}
	p.val = f

	// Optional timestamp, then end of line.
	p.hasTS = false
	i = p.skipBlank(i)
	if c := p.at(i); c >= '0' && c <= '9' {
		t := i
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
		if p.ts, ok = parseTimestamp(b[t:i]); !ok {
			return p.fail(ErrInvalidNumber, t, "timestamp")
		}
		p.hasTS = true
		i = p.skipBlank(i)
	}
	if p.at(i) != '\n' {
		return p.fail(ErrSyntax, i, "expected timestamp or end of line")
	}
	p.pos = i + 1
	return textparse.EntrySeries, nil
}

// parseLabels reads the label set after the '{' at i-1 and returns the index
// after its '}'. A quoted string followed by ',' or '}' is the metric name.
func (p *Parser) parseLabels(i int) (int, error) {
	b := p.b
	for {
		i = p.skipBlank(i)
		var ns, ne int // name start and end
		quoted := false
		switch c := p.at(i); {
		case c == '}':
			return i + 1, nil
		case c == '"':
			q, ok := p.scanQuoted(i, false)
			if !ok {
				_, err := p.fail(ErrSyntax, i, "unterminated quoted name")
				return 0, err
			}
			ns, ne, i, quoted = i+1, q-1, q, true
		case charClass[c]&cLabelStart != 0:
			ns = i
			for i++; i < len(b) && charClass[b[i]]&cLabel != 0; i++ {
			}
			ne = i
		default:
			_, err := p.fail(ErrSyntax, i, "expected label name")
			return 0, err
		}
		i = p.skipBlank(i)
		c := p.at(i)
		if quoted && (c == ',' || c == '}') {
			if p.nameStart >= 0 {
				_, err := p.fail(ErrSyntax, ns, "metric name set twice")
				return 0, err
			}
			p.nameStart, p.nameEnd = ns, ne
			if c == '}' {
				return i + 1, nil
			}
			i++
			continue
		}
		if c != '=' {
			_, err := p.fail(ErrSyntax, i, "expected '='")
			return 0, err
		}
		i = p.skipBlank(i + 1)
		if p.at(i) != '"' {
			_, err := p.fail(ErrSyntax, i, "expected label value")
			return 0, err
		}
		q, ok := p.scanQuoted(i, true)
		if !ok {
			_, err := p.fail(ErrSyntax, i, "unterminated label value")
			return 0, err
		}
		if !utf8.Valid(b[i+1 : q-1]) {
			_, err := p.fail(ErrInvalidUTF8, i, "label value")
			return 0, err
		}
		p.lbls = append(p.lbls, ns, ne, i+1, q-1)
		i = p.skipBlank(q)
		if p.at(i) == ',' {
			i++
		}
	}
}
