package sqlstore

import "github.com/watchdog-sre/watchdog/internal/selfmetrics"

// The families of the pager store's metrics, for /metrics (package selfmetrics).
var _ = selfmetrics.Describe(
	selfmetrics.Family{Name: "watchdog_pager_store_corrupt_rows_total", Type: selfmetrics.Counter, Help: "Rows of the pager database that could not be read and are skipped, by table."},
)
