package heartbeat

import "github.com/watchdog-sre/watchdog/internal/selfmetrics"

// The families of the heartbeat's metrics, for /metrics (package selfmetrics).
var _ = selfmetrics.Describe(
	selfmetrics.Family{Name: "watchdog_heartbeat_sent_total", Type: selfmetrics.Counter, Help: "Heartbeats sent to the dead man's switch endpoint."},
	selfmetrics.Family{Name: "watchdog_heartbeat_failures_total", Type: selfmetrics.Counter, Help: "Heartbeats the endpoint did not accept."},
	selfmetrics.Family{Name: "watchdog_heartbeat_withheld_total", Type: selfmetrics.Counter, Help: "Heartbeats withheld because the watchdog is not healthy."},
	selfmetrics.Family{Name: "watchdog_heartbeat_last_success_timestamp_seconds", Type: selfmetrics.Gauge, Help: "When the endpoint last accepted a heartbeat, as a Unix time (0: never)."},
)
