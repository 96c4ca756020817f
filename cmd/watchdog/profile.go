package main

import (
	"context"
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
	heap string // heap profile when the shutdown starts, after a GC
}

func profileFlags(fs *flag.FlagSet) *profileOptions {
	o := &profileOptions{}
	fs.StringVar(&o.cpu, "debug.cpu-profile", "", "write a pprof CPU profile of the whole run to this file (written at exit)")
	fs.StringVar(&o.heap, "debug.heap-profile", "", "write a pprof heap profile to this file when SIGTERM or SIGINT arrives (before the shutdown frees anything)")
	return o
}

// start begins the CPU profile and, when ctx ends, writes the heap
// profile (or when stop is called first); stop ends the CPU profile and
// returns the errors of both.
func (o *profileOptions) start(ctx context.Context) (stop func() error, err error) {
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
	ctx, cancel := context.WithCancel(ctx)
	heapErr := make(chan error, 1)
	if o.heap != "" {
		go func() {
			<-ctx.Done()
			runtime.GC()
			f, err := os.Create(o.heap)
			if err == nil {
				err = errors.Join(pprof.Lookup("heap").WriteTo(f, 0), f.Close())
			}
			if err != nil {
				err = fmt.Errorf("--debug.heap-profile: %w", err)
			}
			heapErr <- err
		}()
	} else {
		heapErr <- nil
	}
	return func() error {
		cancel() // the heap profile now, if serve returned for another reason
		var errs []error
		if cpu != nil {
			pprof.StopCPUProfile()
			errs = append(errs, cpu.Close())
		}
		return errors.Join(append(errs, <-heapErr)...)
	}, nil
}
