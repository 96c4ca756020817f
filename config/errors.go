package config

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
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

var yamlLineRE = regexp.MustCompile(`^(?:yaml: )?line (\d+): (.*)$`)

// addYAMLError records an error of the yaml package, taking the line out of
// its message ("yaml: line 3: found character that cannot start any token").
// fallback is the line used when the message has none.
func (r *report) addYAMLError(path string, fallback int, err error) {
	msgs := []string{err.Error()}
	var te interface{ Unwrap() []error }
	if errors.As(err, &te) {
		msgs = msgs[:0]
		for _, e := range te.Unwrap() {
			msgs = append(msgs, e.Error())
		}
	}
	for _, m := range msgs {
		for _, part := range splitYAMLErrors(m) {
			line := fallback
			if sm := yamlLineRE.FindStringSubmatch(part); sm != nil {
				if n, err := strconv.Atoi(sm[1]); err == nil {
					line = n
				}
				part = sm[2]
			}
			part = strings.TrimPrefix(part, "yaml: ")
			r.add(line, path, part)
		}
	}
}

// splitYAMLErrors splits "yaml: unmarshal errors:\n  line 1: a\n  line 2: b".
func splitYAMLErrors(m string) []string {
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
