package remote

import "github.com/watchdog-sre/watchdog/internal/selfmetrics"

// The families of the remote-write senders' and the datasource's metrics,
// for /metrics (package selfmetrics).
var _ = selfmetrics.Describe(
	selfmetrics.Family{Name: "watchdog_remote_storage_samples_total", Type: selfmetrics.Counter, Help: "Samples sent to a remote-write receiver, by remote_name and url."},
	selfmetrics.Family{Name: "watchdog_remote_storage_samples_failed_total", Type: selfmetrics.Counter, Help: "Samples a remote-write receiver refused for good, by remote_name and url."},
	selfmetrics.Family{Name: "watchdog_remote_storage_samples_retried_total", Type: selfmetrics.Counter, Help: "Samples sent again after a recoverable error, by remote_name and url."},
	selfmetrics.Family{Name: "watchdog_remote_storage_samples_dropped_total", Type: selfmetrics.Counter, Help: "Samples dropped before sending (relabelled away or out of retention), by remote_name and url."},
	selfmetrics.Family{Name: "watchdog_remote_storage_samples_unconfirmed_total", Type: selfmetrics.Counter, Help: "Samples whose request got no answer and may or may not be stored, by remote_name and url."},
	selfmetrics.Family{Name: "watchdog_remote_storage_bytes_total", Type: selfmetrics.Counter, Help: "Compressed request bytes sent to a remote-write receiver, by remote_name and url."},
	selfmetrics.Family{Name: "watchdog_remote_storage_requests_total", Type: selfmetrics.Counter, Help: "Requests sent to a remote-write receiver, by remote_name and url."},
	selfmetrics.Family{Name: "watchdog_remote_storage_samples_pending", Type: selfmetrics.Gauge, Help: "Samples in the store not yet sent, by remote_name and url."},
	selfmetrics.Family{Name: "watchdog_remote_storage_highest_timestamp_in_seconds", Type: selfmetrics.Gauge, Help: "Newest sample time in the store a sender reads, as a Unix time, by remote_name and url."},
	selfmetrics.Family{Name: "watchdog_remote_storage_queue_highest_sent_timestamp_seconds", Type: selfmetrics.Gauge, Help: "Newest sample time sent successfully, as a Unix time, by remote_name and url."},
	selfmetrics.Family{Name: "watchdog_remote_storage_shards", Type: selfmetrics.Gauge, Help: "Shards sending in parallel, by remote_name and url."},
	selfmetrics.Family{Name: "watchdog_datasource_queries_total", Type: selfmetrics.Counter, Help: "Rule queries sent to the datasource."},
	selfmetrics.Family{Name: "watchdog_datasource_query_failures_total", Type: selfmetrics.Counter, Help: "Rule queries to the datasource that failed, by reason."},
	selfmetrics.Family{Name: "watchdog_datasource_query_duration_seconds", Type: selfmetrics.Histogram, Help: "Time to answer rule queries sent to the datasource, in seconds."},
)
