// Package yamlnode holds what the hand-written yaml.v3 node decoders share:
// a positioned Error, a Report that collects a file's errors in line
// order, and a Walker with the node helpers (aliases, keys, lists,
// scalars) that give every problem its line and key path.
package yamlnode

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
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

// AddYAMLError records a syntax error of the yaml package at the document
// level, taking the line out of its message ("yaml: line 3: found
// character that cannot start any token").
func (r *Report[K]) AddYAMLError(err error) {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	line := 0
	if rest, ok := strings.CutPrefix(msg, "line "); ok {
		if num, tail, ok := strings.Cut(rest, ": "); ok {
			if n, err := strconv.Atoi(num); err == nil {
				line, msg = n, tail
			}
		}
	}
	r.Add(line, "", "%s", msg)
}
