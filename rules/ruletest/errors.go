package ruletest

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// ErrInvalid is wrapped by every error ParseFile and LoadFile return for a
// malformed test file.
var ErrInvalid = errors.New("invalid test file")

// Error is one problem found in a test file. ParseFile returns all of a
// file's problems at once, each an *Error, joined with errors.Join.
type Error struct {
	File string // file name as given to ParseFile
	Line int    // 1-based, 0 when unknown
	Path string // key path such as tests[0].input_series[1].values
	Msg  string
}

// Error formats the problem as "file:line: path: message", leaving out the
// parts that are unknown.
func (e *Error) Error() string {
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

// Unwrap makes every *Error match ErrInvalid.
func (e *Error) Unwrap() error { return ErrInvalid }

// maxErrors bounds how many problems of one file are reported.
const maxErrors = 100

// report collects the problems of one file.
type report struct {
	file string
	errs []*Error
}

func (r *report) add(line int, path, format string, args ...any) {
	r.errs = append(r.errs, &Error{File: r.file, Line: line, Path: path, Msg: fmt.Sprintf(format, args...)})
}

// err returns the problems in line order, joined, or nil.
func (r *report) err() error {
	if len(r.errs) == 0 {
		return nil
	}
	sort.SliceStable(r.errs, func(i, j int) bool { return r.errs[i].Line < r.errs[j].Line })
	n := min(len(r.errs), maxErrors)
	errs := make([]error, 0, n+1)
	for _, e := range r.errs[:n] {
		errs = append(errs, e)
	}
	if more := len(r.errs) - n; more > 0 {
		errs = append(errs, &Error{File: r.file, Msg: fmt.Sprintf("and %d more errors", more)})
	}
	return errors.Join(errs...)
}
