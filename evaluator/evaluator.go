package evaluator

import (
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/prometheus/model/labels"

	"github.com/watchdog-sre/watchdog/tsdb"
)

// Sentinel errors. Returned errors wrap these; test with errors.Is.
var (
	// ErrInvalid is wrapped by every *CompileError.
	ErrInvalid = errors.New("invalid native condition")
	// ErrRuntime is wrapped by the error Eval returns when the condition
	// failed (expr run-time error or panic) on some series.
	ErrRuntime = errors.New("native condition failed at run time")
)

// DefaultLookbackDelta is the lookback of value() when
// Options.LookbackDelta is zero, as in PromQL.
const DefaultLookbackDelta = 5 * time.Minute

// Reader is the part of the store Eval reads. *tsdb.DB satisfies it.
type Reader interface {
	// Postings appends to dst the refs of the series matching all ms.
	Postings(dst []uint64, ms ...*labels.Matcher) []uint64
	// ReadRanges replaces dst's contents with series ref's samples in each
	// of rs and returns its labels, or false if ref is gone.
	ReadRanges(ref uint64, rs []tsdb.Range, dst *tsdb.Samples) (labels.Labels, bool)
}

// Spec is a native condition as written in a rule file.
type Spec struct {
	// Series is a PromQL series selector, e.g. `http_requests_total{code=~"5.."}`.
	Series string
	// When is the expr-lang condition; it must be of type bool.
	When string
	// By optionally groups the series (sum by) before the condition runs.
	By []string
	// Value optionally gives $value; see the package documentation.
	Value string
}

// Options configures compilation and evaluation. The zero value is valid.
type Options struct {
	// Workers is the number of goroutines Eval uses; 0 means GOMAXPROCS.
	Workers int
	// LookbackDelta is value()'s lookback; 0 means DefaultLookbackDelta.
	LookbackDelta time.Duration
	// NoFastPath forces the expr VM even when the condition could run as
	// a Go closure. For tests and benchmarks.
	NoFastPath bool
	// NoSlide makes every Eval read each series' windows afresh instead of
	// keeping short ones decoded between evaluations (slide.go). For tests
	// and benchmarks.
	NoSlide bool
}

// CompileError is a load-time error in one field of a Spec. Line and Column
// are 1-based positions inside that field's string (0 when not known).
type CompileError struct {
	Field  string // "series", "when", "by" or "value"
	Line   int
	Column int
	Msg    string
}

func (e *CompileError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d:%d: %s", e.Field, e.Line, e.Column, e.Msg)
	}
	return fmt.Sprintf("%s: %s", e.Field, e.Msg)
}

// Unwrap returns ErrInvalid.
func (e *CompileError) Unwrap() error { return ErrInvalid }

// RuntimeError reports the series on which a condition failed during one
// Eval. It wraps ErrRuntime.
type RuntimeError struct {
	Failures int    // series (or groups) on which the condition failed
	First    string // the first failure's message
}

func (e *RuntimeError) Error() string {
	return fmt.Sprintf("%v on %d series, first: %s", ErrRuntime, e.Failures, e.First)
}

// Unwrap returns ErrRuntime.
func (e *RuntimeError) Unwrap() error { return ErrRuntime }

// Condition is a compiled Spec. It is immutable apart from its counters and
// worker pool, and safe for concurrent use.
type Condition struct {
	spec     Spec
	opts     Options
	matchers []*labels.Matcher
	by       []string // sorted
	lookback int64    // ms

	slots    []slot
	windows  []window
	clusters []cluster
	slid     []int       // clusters kept decoded between evaluations
	unslid   []int       // clusters read afresh at every evaluation
	tallied  []int       // single-window clusters summarised by a tsdb.Tally
	resetsIn []bool      // per window: a slot needs its counter resets summed (rate, increase)
	slides   *slideCache // nil if no cluster slides or is tallied

	when   program // the condition
	value  program // $value
	promql string  // $value in PromQL, or "": see PromQL

	failures  atomic.Uint64
	evaluated atomic.Uint64
	pool      sync.Pool // *worker
}

// Failures returns how many series evaluations failed (expr run-time error
// or panic) since the Condition was compiled.
func (c *Condition) Failures() uint64 { return c.failures.Load() }

// Evaluated returns how many series the condition was run over since it was
// compiled: the series its selector matched, summed over the Evals that
// completed (with Spec.By, the series, not the groups).
func (c *Condition) Evaluated() uint64 { return c.evaluated.Load() }

// String returns the spec in rule-file form.
func (c *Condition) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "series: %s when: %s", c.spec.Series, c.spec.When)
	if len(c.spec.By) > 0 {
		fmt.Fprintf(&b, " by: [%s]", strings.Join(c.spec.By, ", "))
	}
	if c.spec.Value != "" {
		fmt.Fprintf(&b, " value: %s", c.spec.Value)
	}
	return b.String()
}

// FastPath reports whether the condition (and $value) run as Go closures
// rather than on the expr VM.
func (c *Condition) FastPath() bool { return c.when.fastB != nil && c.value.fastF != nil }

// Compile parses and type-checks spec. Errors are *CompileError wrapping
// ErrInvalid.
func Compile(spec Spec, opts Options) (*Condition, error) {
	if opts.Workers <= 0 {
		opts.Workers = runtime.GOMAXPROCS(0)
	}
	if opts.LookbackDelta <= 0 {
		opts.LookbackDelta = DefaultLookbackDelta
	}
	c := &Condition{spec: spec, opts: opts, lookback: opts.LookbackDelta.Milliseconds()}
	var err error
	if c.matchers, err = parseSelector(spec.Series); err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	for _, name := range spec.By {
		if !validLabelName(name) {
			return nil, &CompileError{Field: "by", Msg: fmt.Sprintf("invalid label name %q", name)}
		}
		if seen[name] {
			return nil, &CompileError{Field: "by", Msg: fmt.Sprintf("duplicate label name %q", name)}
		}
		seen[name] = true
		c.by = append(c.by, name)
	}
	slices.Sort(c.by)
	if err := c.compileExprs(); err != nil {
		return nil, err
	}
	c.planWindows()
	c.pool.New = func() any { return newWorker(c) }
	return c, nil
}

// validLabelName reports whether name is a legacy Prometheus label name.
func validLabelName(name string) bool {
	if name == "" {
		return false
	}
	for i, r := range name {
		if !(r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || i > 0 && r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}
