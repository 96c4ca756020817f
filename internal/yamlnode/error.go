// Package yamlnode is the one way the project reads YAML files with
// positioned errors (the configuration, the pager section, rule files,
// rule tests and paging tests):
//
//   - Parse reads the first document of a file as a yaml.Node tree and
//     looks for a second one;
//   - Decoder decodes a tree into Go values by reflection over their yaml
//     tags, reporting unknown, repeated and mistyped keys at their line and
//     key path and going on after an error, with hooks for what a file type
//     has of its own (types, keys, checks once a mapping is decoded) and
//     a Wording for file types whose messages predate it (rule files);
//   - Walker holds the node helpers under it (aliases, merge keys, the
//     visit and depth budgets, keys, lists, strings, durations), which
//     hooks use;
//   - Error and Report carry "file:line: path: message", each package's
//     errors matching its own sentinel, and SplitYAMLError is the one
//     place that reads the yaml package's error texts.
package yamlnode

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Kind names the sentinel error an Error wraps. Each package using Error
// defines its own Kind, so that its errors match its own sentinel.
type Kind interface {
	// Sentinel returns the error that every Error of this kind wraps.
	Sentinel() error
}

// Error is one problem found in a file, at a line and key path.
type Error[K Kind] struct {
	File string // file name as given to the parser
	Line int    // 1-based, 0 when unknown
	Path string // key path such as tests[0].input_series[1].values
	Msg  string
}

// Error formats the problem as "file:line: path: message", leaving out the
// parts that are unknown.
func (e *Error[K]) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File)
		b.WriteByte(':')
	}
	if e.Line > 0 {
		b.WriteString(strconv.Itoa(e.Line))
		b.WriteByte(':')
	}
	if b.Len() > 0 {
		b.WriteByte(' ')
	}
	if e.Path != "" {
		b.WriteString(e.Path)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Unwrap returns the sentinel of K, so that every *Error matches it.
func (e *Error[K]) Unwrap() error {
	var k K
	return k.Sentinel()
}

// MaxErrors bounds how many problems of one file Report.Err returns; a
// generated or truncated file could otherwise produce megabytes.
const MaxErrors = 100

// Report collects the problems of one file.
type Report[K Kind] struct {
	File string
	Errs []*Error[K]
}

// Add records a problem at line and path.
func (r *Report[K]) Add(line int, path, format string, args ...any) {
	r.Errs = append(r.Errs, &Error[K]{File: r.File, Line: line, Path: path, Msg: fmt.Sprintf(format, args...)})
}

// Err returns the problems in line order (stable), at most MaxErrors of
// them and a count of the rest, joined with errors.Join; or nil.
func (r *Report[K]) Err() error {
	if len(r.Errs) == 0 {
		return nil
	}
	sort.SliceStable(r.Errs, func(i, j int) bool { return r.Errs[i].Line < r.Errs[j].Line })
	n := min(len(r.Errs), MaxErrors)
	errs := make([]error, 0, n+1)
	for _, e := range r.Errs[:n] {
		errs = append(errs, e)
	}
	if more := len(r.Errs) - n; more > 0 {
		errs = append(errs, &Error[K]{File: r.File, Msg: fmt.Sprintf("and %d more errors", more)})
	}
	return errors.Join(errs...)
}

// AddYAMLError records an error of the yaml package at the document
// level (see AddYAMLErrorAt).
func (r *Report[K]) AddYAMLError(err error) {
	r.AddYAMLErrorAt(0, "", err)
}

// AddYAMLErrorAt records every problem of an error of the yaml package at
// path: a syntax error ("yaml: line 3: found character that cannot start
// any token") or the list of a *yaml.TypeError. Each is recorded at the line
// its message names, or at fallback.
func (r *Report[K]) AddYAMLErrorAt(fallback int, path string, err error) {
	for _, p := range SplitYAMLError(err) {
		line := p.Line
		if line == 0 {
			line = fallback
		}
		r.Add(line, path, "%s", p.Msg)
	}
}

// Problem is one problem of a yaml package error, its line taken out of
// the message (0 when the message names none).
type Problem struct {
	Line int
	Msg  string
}

// SplitYAMLError lists the problems of an error of the yaml package: the
// entries of a *yaml.TypeError (also when joined with others) or of its
// "yaml: unmarshal errors:" text, else the error itself; "yaml: " and
// "line N: " are taken off each message and N becomes its Line. It is the
// one place that reads the yaml package's error texts.
func SplitYAMLError(err error) []Problem {
	var msgs []string
	var te *yaml.TypeError
	var joined interface{ Unwrap() []error }
	switch {
	case errors.As(err, &joined):
		for _, e := range joined.Unwrap() {
			msgs = append(msgs, splitUnmarshalErrors(e.Error())...)
		}
	case errors.As(err, &te):
		msgs = te.Errors
	default:
		msgs = splitUnmarshalErrors(err.Error())
	}
	out := make([]Problem, 0, len(msgs))
	for _, m := range msgs {
		p := Problem{Msg: strings.TrimPrefix(m, "yaml: ")}
		if rest, ok := strings.CutPrefix(p.Msg, "line "); ok {
			if num, tail, ok := strings.Cut(rest, ": "); ok {
				if n, err := strconv.Atoi(num); err == nil {
					p.Line, p.Msg = n, strings.TrimPrefix(tail, "yaml: ")
				}
			}
		}
		out = append(out, p)
	}
	return out
}

// splitUnmarshalErrors splits "yaml: unmarshal errors:\n  line 1: a\n  line 2: b".
func splitUnmarshalErrors(m string) []string {
	const hdr = "yaml: unmarshal errors:\n"
	if !strings.HasPrefix(m, hdr) {
		return []string{m}
	}
	var out []string
	for _, l := range strings.Split(strings.TrimPrefix(m, hdr), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out
}
