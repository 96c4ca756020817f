package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
)

// profileOptions are the --debug.* profiling flags: files the process
// writes its own pprof profiles to (bench/storm profiles the real binary
// with them). Empty: no profile.
type profileOptions struct {
	cpu  string // CPU profile from start to exit
	heap string // heap profile (in-use and allocated) at exit, after a GC
}

func profileFlags(fs *flag.FlagSet) *profileOptions {
	o := &profileOptions{}
	fs.StringVar(&o.cpu, "debug.cpu-profile", "", "write a pprof CPU profile of the whole run to this file (written at exit)")
	fs.StringVar(&o.heap, "debug.heap-profile", "", "write a pprof heap profile to this file at exit")
	return o
}

// start begins the CPU profile; the returned function ends it and writes
// the heap profile. Errors of the latter are returned by it.
func (o *profileOptions) start() (stop func() error, err error) {
	var cpu *os.File
	if o.cpu != "" {
		if cpu, err = os.Create(o.cpu); err != nil {
			return nil, fmt.Errorf("--debug.cpu-profile: %w", err)
		}
		if err := pprof.StartCPUProfile(cpu); err != nil {
			cpu.Close()
			return nil, fmt.Errorf("--debug.cpu-profile: %w", err)
		}
	}
	return func() error {
		var errs []error
		if cpu != nil {
			pprof.StopCPUProfile()
			errs = append(errs, cpu.Close())
		}
		if o.heap != "" {
			runtime.GC()
			f, err := os.Create(o.heap)
			if err == nil {
				err = errors.Join(pprof.Lookup("heap").WriteTo(f, 0), f.Close())
			}
			if err != nil {
				errs = append(errs, fmt.Errorf("--debug.heap-profile: %w", err))
			}
		}
		return errors.Join(errs...)
	}, nil
}
