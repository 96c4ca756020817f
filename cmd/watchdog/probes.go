package main

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/prometheus/common/model"

	"github.com/watchdog-sre/watchdog/probe"
	"github.com/watchdog-sre/watchdog/tsdb"
	"github.com/watchdog-sre/watchdog/web"
)

// newProbes builds the probe manager writing to db.
func newProbes(db *tsdb.DB, set *metrics.Set, logger *slog.Logger) *probe.Manager {
	return probe.New(probe.Options{
		Appender: func() probe.Appender { return db.Appender() },
		Metrics:  set,
		Logger:   logger,
	})
}

// webProbes converts the manager's statuses to the API's.
func webProbes(ss []probe.Status) []web.Probe {
	out := make([]web.Probe, 0, len(ss))
	for _, s := range ss {
		p := web.Probe{Probe: s.Probe, Target: s.Target, Prober: s.Prober, Module: s.Module, Labels: s.Labels,
			Interval: model.Duration(s.Interval).String(), Timeout: model.Duration(s.Timeout).String(),
			Health: s.Health, LastRun: s.LastRun, LastDuration: s.LastDuration.Seconds(), Missed: s.Missed}
		if p.Labels == nil {
			p.Labels = map[string]string{}
		}
		for _, st := range s.Steps {
			p.Steps = append(p.Steps, web.ProbeStep{Name: st.Name, Success: st.Success, Status: st.Status, Duration: st.Duration.Seconds()})
		}
		if f := s.LastFailure; f != nil {
			p.LastFailure = &web.ProbeFailure{Time: s.LastFailureAt, Step: f.Step, Reason: f.Reason, Status: f.Status, Body: f.Body}
		}
		out = append(out, p)
	}
	return out
}

// probeRun serves /probe with the manager's modules.
func probeRun(m *probe.Manager) web.ProbeRunFunc {
	return func(ctx context.Context, module, target string, timeout time.Duration) (web.ProbeResult, error) {
		res, err := m.ProbeModule(ctx, module, target, timeout)
		if errors.Is(err, probe.ErrUnknownModule) {
			return web.ProbeResult{}, web.ErrUnknownProbeModule
		}
		if err != nil {
			return web.ProbeResult{}, err
		}
		var buf bytes.Buffer
		if err := probe.WriteText(&buf, res.Samples); err != nil {
			return web.ProbeResult{}, err
		}
		out := web.ProbeResult{Text: buf.Bytes(), Success: res.Success}
		if res.Failure != nil {
			out.Failure = res.Failure.Reason
		}
		return out, nil
	}
}
