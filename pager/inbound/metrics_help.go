package inbound

import "github.com/watchdog-sre/watchdog/internal/selfmetrics"

// The families of the webhooks' metrics, for /metrics (package selfmetrics).
var _ = selfmetrics.Describe(
	selfmetrics.Family{Name: "watchdog_pager_inbound_total", Type: selfmetrics.Counter,
		Help: "Answers received from paged people (SMS, voice, Slack), by provider and result."},
)
