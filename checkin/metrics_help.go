package checkin

import "github.com/watchdog-sre/watchdog/internal/selfmetrics"

// The families of the check-in runner's metrics, for /metrics (package
// selfmetrics). The Series* names are written to the store, not /metrics.
var _ = selfmetrics.Describe(
	selfmetrics.Family{Name: "watchdog_checkin_pings_total", Type: selfmetrics.Counter, Help: "Heartbeat check-ins received, by result (accepted or refused)."},
)
