package ruletest

import (
	"errors"

	"github.com/watchdog-sre/watchdog/internal/yamlnode"
)

// ErrInvalid is wrapped by every error ParseFile and LoadFile return for a
// malformed test file.
var ErrInvalid = errors.New("invalid test file")

// invalid is the yamlnode.Kind of this package's errors.
type invalid struct{}

// Sentinel returns ErrInvalid.
func (invalid) Sentinel() error { return ErrInvalid }

// Error is one problem found in a test file. ParseFile returns all of a
// file's problems at once, each an *Error, joined with errors.Join. It
// formats as "file:line: path: message", leaving out the parts that are
// unknown, and every *Error matches ErrInvalid.
type Error = yamlnode.Error[invalid]

// report collects the problems of one file.
type report = yamlnode.Report[invalid]
