package promtext

import (
	"errors"
	"fmt"
	"io"
	"math"
	"strings"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/textparse"
)

// entry is one parsed entry in a form that compares with ==.
type entry struct {
	kind    textparse.Entry
	series  string
	hasTS   bool
	ts      int64
	valBits uint64
	labels  string
	name    string
	text    string
	mtype   string
}

func (e entry) String() string {
	switch e.kind {
	case textparse.EntrySeries:
		ts := "-"
		if e.hasTS {
			ts = fmt.Sprint(e.ts)
		}
		return fmt.Sprintf("series %q %v(%#x) ts=%s labels=%s", e.series, math.Float64frombits(e.valBits), e.valBits, ts, e.labels)
	case textparse.EntryHelp:
		return fmt.Sprintf("help %q %q", e.name, e.text)
	case textparse.EntryType:
		return fmt.Sprintf("type %q %q", e.name, e.mtype)
	case textparse.EntryComment:
		return fmt.Sprintf("comment %q", e.text)
	}
	return fmt.Sprintf("entry %d", e.kind)
}

// collect reads all entries of p. It stops at the first error, returned as
// err (nil at io.EOF).
func collect(p textparse.Parser, withLabels bool) (out []entry, err error) {
	for {
		kind, err := p.Next()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		e := entry{kind: kind}
		switch kind {
		case textparse.EntrySeries:
			s, ts, v := p.Series()
			e.series = string(s)
			if ts != nil {
				e.hasTS, e.ts = true, *ts
			}
			e.valBits = math.Float64bits(v)
			if withLabels {
				var l labels.Labels
				p.Labels(&l)
				e.labels = fmt.Sprintf("%q", labelPairs(l))
			}
		case textparse.EntryHelp:
			n, t := p.Help()
			e.name, e.text = string(n), string(t)
		case textparse.EntryType:
			n, t := p.Type()
			e.name, e.mtype = string(n), string(t)
		case textparse.EntryComment:
			e.text = string(p.Comment())
		}
		out = append(out, e)
	}
}

// labelPairs flattens l so that duplicate names stay visible.
func labelPairs(l labels.Labels) []string {
	var s []string
	l.Range(func(lb labels.Label) { s = append(s, lb.Name, lb.Value) })
	return s
}

// compare parses in with both parsers and describes the first difference,
// or returns "" if there is none. textparse gets its own copy of the input
// because it may append a newline to it.
func compare(in []byte) string {
	ref := append([]byte(nil), in...)
	want, wantErr := collect(textparse.NewPromParser(ref, labels.NewSymbolTable(), false), true)
	got, gotErr := collect(New(in), true)
	var d strings.Builder
	for i := 0; i < max(len(want), len(got)); i++ {
		switch {
		case i >= len(want):
			fmt.Fprintf(&d, "entry %d: extra %v\n", i, got[i])
		case i >= len(got):
			fmt.Fprintf(&d, "entry %d: missing %v\n", i, want[i])
		case want[i] != got[i]:
			fmt.Fprintf(&d, "entry %d:\n got  %v\n want %v\n", i, got[i], want[i])
		}
		if d.Len() > 0 {
			break
		}
	}
	if (wantErr == nil) != (gotErr == nil) {
		fmt.Fprintf(&d, "error: got %v, want %v\n", gotErr, wantErr)
	}
	return d.String()
}
