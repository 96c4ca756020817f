package probe

import (
	"context"
	"net"
	"time"

	"github.com/watchdog-sre/watchdog/config"
)

// Prober runs one probe of a module against a target. It holds no state
// between runs and is safe for concurrent use.
type Prober struct {
	resolver *net.Resolver
}

// NewProber returns a Prober resolving names with the system resolver.
func NewProber() *Prober { return &Prober{resolver: net.DefaultResolver} }

// Run probes target with the module (its Timeout is the caller's: ctx
// carries the deadline) and returns the result with probe_success and
// probe_duration_seconds. steps are a journey's steps (module.Prober
// "journey").
func (p *Prober) Run(ctx context.Context, m *config.ProbeModule, steps []config.JourneyStep, target string) *Result {
	start := time.Now()
	r := &recorder{}
	var ok bool
	var stepResults []StepResult
	switch m.Prober {
	case config.ProberHTTP:
		ok = p.probeHTTP(ctx, r, target, m.HTTP)
	case config.ProberTCP:
		ok = p.probeTCP(ctx, r, target, m.TCP)
	case config.ProberDNS:
		ok = p.probeDNS(ctx, r, target, m.DNS)
	case config.ProberGRPC:
		ok = p.probeGRPC(ctx, r, target, m.GRPC)
	case config.ProberJourney:
		ok, stepResults = p.probeJourney(ctx, r, target, steps)
	default:
		ok = r.fail(0, nil, "unknown prober %q", m.Prober)
	}
	if ctx.Err() != nil && r.failure != nil && ctx.Err() == context.DeadlineExceeded {
		r.failure.Reason = "timeout: " + r.failure.Reason
	}
	d := time.Since(start)
	r.extra = nil
	if ok {
		r.set("probe_success", 1)
		r.failure = nil
	} else {
		r.set("probe_success", 0)
		if r.failure == nil {
			r.failure = &Failure{Reason: "failed"}
		}
	}
	r.set("probe_duration_seconds", d.Seconds())
	sortSamples(r.samples)
	return &Result{Success: ok, Duration: d, Samples: r.samples, Failure: r.failure, Steps: stepResults}
}
