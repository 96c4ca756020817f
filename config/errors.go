package config

import (
	"errors"
	"fmt"
	"strings"

	"github.com/watchdog-sre/watchdog/internal/yamlnode"
)

// ErrInvalid is wrapped by every error Load, Parse and ParseFileSD return
// for a file that is malformed or fails validation. Errors reading the file
// itself (missing, unreadable) do not wrap it.
var ErrInvalid = errors.New("invalid configuration")

// invalid is the yamlnode.Kind of this package's errors.
type invalid struct{}

// Sentinel returns ErrInvalid.
func (invalid) Sentinel() error { return ErrInvalid }

// Error is one problem found in a configuration file. Load, Parse and
// ParseFileSD return all of a file's problems joined with errors.Join, each
// as an *Error, so that callers can list them or point an editor at them.
// It formats as "file:line: path: message", leaving out the parts that are
// unknown, and every *Error matches ErrInvalid.
type Error = yamlnode.Error[invalid]

// report collects the errors of one file, with the line of every key path
// the decoder saw so that validation can point at the right place.
type report struct {
	yamlnode.Report[invalid]
	lines map[string]int
	// decoded is how many of errs the decoder found; validation, which runs
	// after it, skips a problem at a path where one of those already is.
	decoded int
}

func newReport(file string) *report {
	return &report{Report: yamlnode.Report[invalid]{File: file}, lines: map[string]int{}}
}

// errorf records a problem at path, on the line of path or of its nearest
// ancestor the file spelled out (a defaulted field has no line of its own).
func (r *report) errorf(path, format string, args ...any) {
	for _, e := range r.Errs[:r.decoded] {
		if e.Path == path || strings.HasPrefix(e.Path, path+".") || strings.HasPrefix(e.Path, path+"[") {
			return
		}
	}
	r.add(r.lineOf(path), path, fmt.Sprintf(format, args...))
}

func (r *report) add(line int, path, msg string) {
	r.Add(line, path, "%s", msg)
}

func (r *report) lineOf(path string) int {
	for p := path; ; {
		if l, ok := r.lines[p]; ok {
			return l
		}
		if p == "" {
			return 0
		}
		p = parentPath(p)
	}
}

// parentPath strips the last component of a key path:
// "a[1].b" → "a[1]" → "a" → "".
func parentPath(p string) string {
	if strings.HasSuffix(p, "]") {
		if i := strings.LastIndexByte(p, '['); i >= 0 {
			return p[:i]
		}
	}
	if i := strings.LastIndexAny(p, ".["); i >= 0 {
		return p[:i]
	}
	return ""
}

// maxErrors is how many problems of one file are reported.
const maxErrors = yamlnode.MaxErrors
