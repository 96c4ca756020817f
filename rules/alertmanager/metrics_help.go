package alertmanager

import "github.com/watchdog-sre/watchdog/internal/selfmetrics"

// The families of the alert senders' metrics, for /metrics (package selfmetrics).
var _ = selfmetrics.Describe(
	selfmetrics.Family{Name: "watchdog_alert_queue_length", Type: selfmetrics.Gauge, Help: "Alerts waiting in the queue of an in-process receiver, by sink."},
	selfmetrics.Family{Name: "watchdog_alert_queue_dropped_total", Type: selfmetrics.Counter, Help: "Alerts dropped because the queue of an in-process receiver was full, by sink."},
	selfmetrics.Family{Name: "watchdog_alert_queue_delivered_total", Type: selfmetrics.Counter, Help: "Alerts handed to an in-process receiver, by sink."},
	selfmetrics.Family{Name: "watchdog_alert_queue_delivery_failures_total", Type: selfmetrics.Counter, Help: "Alert deliveries an in-process receiver refused, by sink."},
	selfmetrics.Family{Name: "watchdog_alertmanager_alerts_sent_total", Type: selfmetrics.Counter, Help: "Alerts sent to an Alertmanager, by alertmanager."},
	selfmetrics.Family{Name: "watchdog_alertmanager_alerts_failed_total", Type: selfmetrics.Counter, Help: "Alerts given up on (permanent error or retries exhausted), by alertmanager."},
	selfmetrics.Family{Name: "watchdog_alertmanager_alerts_dropped_total", Type: selfmetrics.Counter, Help: "Alerts dropped because an Alertmanager's queue was full, by alertmanager."},
	selfmetrics.Family{Name: "watchdog_alertmanager_retries_total", Type: selfmetrics.Counter, Help: "Retried sends to an Alertmanager, by alertmanager."},
	selfmetrics.Family{Name: "watchdog_alertmanager_queue_length", Type: selfmetrics.Gauge, Help: "Alerts waiting to be sent to an Alertmanager, by alertmanager."},
)
