package web

import "github.com/watchdog-sre/watchdog/internal/selfmetrics"

// The families of the handler's own metrics, for /metrics (package selfmetrics).
var _ = selfmetrics.Describe(
	selfmetrics.Family{Name: "watchdog_http_requests_total", Type: selfmetrics.Counter, Help: "HTTP requests answered, by handler and status code."},
	selfmetrics.Family{Name: "watchdog_http_request_duration_seconds", Type: selfmetrics.Histogram, Help: "Time to answer HTTP requests, by handler, in seconds."},
	selfmetrics.Family{Name: "watchdog_query_duration_seconds", Type: selfmetrics.Histogram, Help: "Time to run PromQL queries of the API, by endpoint, in seconds."},
	selfmetrics.Family{Name: "watchdog_queries_running", Type: selfmetrics.Gauge, Help: "PromQL queries of the API running now."},
	selfmetrics.Family{Name: "watchdog_queries_waiting", Type: selfmetrics.Gauge, Help: "PromQL queries of the API waiting for a slot to run."},
	selfmetrics.Family{Name: "watchdog_query_max_concurrency", Type: selfmetrics.Gauge, Help: "Most PromQL queries of the API run at once."},
	selfmetrics.Family{Name: "watchdog_query_refused_total", Type: selfmetrics.Counter, Help: "PromQL queries refused before running, by reason."},
	selfmetrics.Family{Name: "watchdog_remote_write_requests_in_flight", Type: selfmetrics.Gauge, Help: "Remote-write requests being received now."},
	selfmetrics.Family{Name: "watchdog_remote_write_requests_waiting", Type: selfmetrics.Gauge, Help: "Remote-write requests waiting for a slot."},
	selfmetrics.Family{Name: "watchdog_remote_write_received_samples_total", Type: selfmetrics.Counter, Help: "Samples received by remote write and stored."},
	selfmetrics.Family{Name: "watchdog_remote_write_received_histograms_total", Type: selfmetrics.Counter, Help: "Native histogram samples received by remote write and stored."},
	selfmetrics.Family{Name: "watchdog_remote_write_dropped_exemplars_total", Type: selfmetrics.Counter, Help: "Exemplars received by remote write and not kept."},
	selfmetrics.Family{Name: "watchdog_remote_write_requests_refused_total", Type: selfmetrics.Counter, Help: "Remote-write requests refused, by reason."},
	selfmetrics.Family{Name: "watchdog_remote_write_refused_samples_total", Type: selfmetrics.Counter, Help: "Samples received by remote write and refused by the store, by reason."},
)
