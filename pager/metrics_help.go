package pager

import "github.com/watchdog-sre/watchdog/internal/selfmetrics"

// The families of the pager's metrics, for /metrics (package selfmetrics).
var _ = selfmetrics.Describe(
	selfmetrics.Family{Name: "watchdog_pager_alerts_received_total", Type: selfmetrics.Counter, Help: "Alerts the pager received."},
	selfmetrics.Family{Name: "watchdog_pager_alerts_unrouted_total", Type: selfmetrics.Counter, Help: "Alerts the pager received that no route matched."},
	selfmetrics.Family{Name: "watchdog_pager_incidents_opened_total", Type: selfmetrics.Counter, Help: "Incidents opened."},
	selfmetrics.Family{Name: "watchdog_pager_incidents_total", Type: selfmetrics.Counter, Help: "Incident status changes, by the new status."},
	selfmetrics.Family{Name: "watchdog_pager_incidents_stuck", Type: selfmetrics.Gauge, Help: "Open incidents whose escalation cannot reach anyone."},
	selfmetrics.Family{Name: "watchdog_pager_leader", Type: selfmetrics.Gauge, Help: "1 when this replica escalates and sends pages, else 0."},
	selfmetrics.Family{Name: "watchdog_pager_lease_token", Type: selfmetrics.Gauge, Help: "Fencing token of the lease this replica holds (0: none)."},
	selfmetrics.Family{Name: "watchdog_pager_lease_acquired_total", Type: selfmetrics.Counter, Help: "Times this replica took the lease."},
	selfmetrics.Family{Name: "watchdog_pager_lease_lost_total", Type: selfmetrics.Counter, Help: "Times this replica stepped down from the lease."},
	selfmetrics.Family{Name: "watchdog_pager_campaign_errors_total", Type: selfmetrics.Counter, Help: "Failed attempts to take or renew the lease."},
	selfmetrics.Family{Name: "watchdog_pager_reminders_sent_total", Type: selfmetrics.Counter, Help: "Reminders of overdue action items sent to their owners."},
	selfmetrics.Family{Name: "watchdog_pager_reminder_errors_total", Type: selfmetrics.Counter, Help: "Reminders of overdue action items that could not be sent."},
	selfmetrics.Family{Name: "watchdog_pager_claim_errors_total", Type: selfmetrics.Counter, Help: "Failed attempts to claim a delivery before sending it."},
	selfmetrics.Family{Name: "watchdog_pager_deliveries_total", Type: selfmetrics.Counter, Help: "Notification deliveries finished, by channel and result."},
)

// The status page subscribers' metrics (RunSubscribers).
var _ = selfmetrics.Describe(
	selfmetrics.Family{Name: "watchdog_status_subscriber_deliveries_total", Type: selfmetrics.Counter,
		Help: "Attempts to tell status page subscribers, by kind (webhook, email) and result (sent, retry, failed)."},
)
