package channel

import "github.com/watchdog-sre/watchdog/internal/selfmetrics"

// The families of the channels' metrics, for /metrics (package selfmetrics).
var _ = selfmetrics.Describe(
	selfmetrics.Family{Name: "watchdog_pager_channel_attempts_total", Type: selfmetrics.Counter, Help: "Send attempts through a notification channel, by channel."},
	selfmetrics.Family{Name: "watchdog_pager_channel_retries_total", Type: selfmetrics.Counter, Help: "Send attempts retried after a failure, by channel."},
	selfmetrics.Family{Name: "watchdog_pager_channel_failures_total", Type: selfmetrics.Counter, Help: "Sends given up on after the last attempt, by channel."},
	selfmetrics.Family{Name: "watchdog_pager_channel_sent_total", Type: selfmetrics.Counter, Help: "Notifications a channel accepted, by channel."},
)
