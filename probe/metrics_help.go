package probe

import "github.com/watchdog-sre/watchdog/internal/selfmetrics"

// The families of the probe manager's metrics, for /metrics (package
// selfmetrics). The probe_* result series are written to the store.
var _ = selfmetrics.Describe(
	selfmetrics.Family{Name: "watchdog_probe_runs_total", Type: selfmetrics.Counter, Help: "Probe runs finished, successful or not."},
	selfmetrics.Family{Name: "watchdog_probe_failures_total", Type: selfmetrics.Counter, Help: "Probe runs that failed (probe_success 0)."},
	selfmetrics.Family{Name: "watchdog_probe_schedule_misses_total", Type: selfmetrics.Counter, Help: "Probe runs skipped because the previous run of the same target was still running or waiting, or the process stalled past them."},
	selfmetrics.Family{Name: "watchdog_probe_tasks", Type: selfmetrics.Gauge, Help: "Probe tasks scheduled (one per probe and target)."},
)
