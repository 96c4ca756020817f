package tsdb

import (
	"math"
	"sync/atomic"
	"time"
)

// testClock is a settable Options.Now for tests, safe for concurrent use.
type testClock struct{ ms atomic.Int64 }

// now is the Options.Now of the clock.
func (c *testClock) now() time.Time { return time.UnixMilli(c.ms.Load()) }

// set moves the clock to ms milliseconds since the epoch.
func (c *testClock) set(ms int64) { c.ms.Store(ms) }

// anyTime returns opts with a clock at the epoch and a future window of
// 292 years, so that every sample time from the epoch on is accepted and
// retention never drops anything: for tests that are not about time.
func anyTime(opts Options) Options {
	opts.Now = func() time.Time { return time.UnixMilli(0) }
	opts.FutureWindow = time.Duration(math.MaxInt64)
	return opts
}
