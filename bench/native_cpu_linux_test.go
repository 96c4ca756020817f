package bench

import (
	"context"
	"runtime"
	"syscall"
	"testing"
	"time"
)

// threadCPU returns the CPU time (user and system) of the calling thread.
func threadCPU(tb testing.TB) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_THREAD, &ru); err != nil {
		tb.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkNativeThreadCPU evaluates the per-series login rule with one
// worker, as BenchmarkNativeLoginRule does, and reports the CPU time of the
// evaluating thread per evaluation (sliding, and a fresh evaluation every
// 6th), which other processes on a shared machine do not inflate as they do
// wall time: for before/after comparisons of the store's read path
// (NATIVE.md). The one-worker Eval runs in the calling goroutine, locked to
// its thread here.
func BenchmarkNativeThreadCPU(b *testing.B) {
	f := nativeSetup(b, 100_000)
	c := nativeCondition(b, "per-series", 1, false)
	fresh := nativeCondition(b, "per-series", 1, true)
	ctx := context.Background()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if _, err := c.Eval(ctx, f.db, f.nativeAt(0)); err != nil {
		b.Fatal(err)
	}
	var native, freshCPU, wall time.Duration
	nFresh := 0
	runtime.GC()
	b.ResetTimer()
	for i := 1; b.Loop(); i++ {
		ts := f.nativeAt(i)
		c0, w0 := threadCPU(b), time.Now()
		if _, err := c.Eval(ctx, f.db, ts); err != nil {
			b.Fatal(err)
		}
		native += threadCPU(b) - c0
		wall += time.Since(w0)
		if i%6 != 0 {
			continue
		}
		c0 = threadCPU(b)
		if _, err := fresh.Eval(ctx, f.db, ts); err != nil {
			b.Fatal(err)
		}
		freshCPU += threadCPU(b) - c0
		nFresh++
	}
	b.ReportMetric(float64(native.Nanoseconds())/float64(b.N)/1e6, "native-cpu-ms/eval")
	b.ReportMetric(float64(wall.Nanoseconds())/float64(b.N)/1e6, "native-wall-ms/eval")
	if nFresh > 0 {
		b.ReportMetric(float64(freshCPU.Nanoseconds())/float64(nFresh)/1e6, "fresh-cpu-ms/eval")
	}
}
