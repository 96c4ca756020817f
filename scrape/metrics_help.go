package scrape

import "github.com/watchdog-sre/watchdog/internal/selfmetrics"

// The families of the scrape loops' metrics, for /metrics (package selfmetrics).
var _ = selfmetrics.Describe(
	selfmetrics.Family{Name: "watchdog_scrapes_total", Type: selfmetrics.Counter, Help: "Scrapes run, by job."},
	selfmetrics.Family{Name: "watchdog_scrape_failures_total", Type: selfmetrics.Counter, Help: "Scrapes that failed (target down, bad body, limit exceeded), by job."},
	selfmetrics.Family{Name: "watchdog_scrape_samples_total", Type: selfmetrics.Counter, Help: "Samples scraped and stored, by job."},
	selfmetrics.Family{Name: "watchdog_scrape_missed_total", Type: selfmetrics.Counter, Help: "Scrape ticks skipped because the previous scrape still ran, by job."},
	selfmetrics.Family{Name: "watchdog_scrape_samples_rejected_total", Type: selfmetrics.Counter, Help: "Scraped samples the store refused, by job and reason."},
	selfmetrics.Family{Name: "watchdog_scrape_exemplars_rejected_total", Type: selfmetrics.Counter, Help: "Scraped exemplars the exemplar storage refused (out of order, labels too long), by job."},
	selfmetrics.Family{Name: "watchdog_scrape_ingest_wait_seconds", Type: selfmetrics.Histogram, Help: "How long fetched scrapes waited for an ingest slot (not part of scrape_timeout or scrape_duration_seconds), by job."},
	selfmetrics.Family{Name: "watchdog_scrape_limit_exceeded_total", Type: selfmetrics.Counter, Help: "Scrapes failed by a limit (sample_limit, label_limit...), by job and limit."},
	selfmetrics.Family{Name: "watchdog_scrape_cache_collisions_total", Type: selfmetrics.Counter, Help: "Series lines whose hash in the per-target series cache another line of the target already had (detected when their lengths differ), by job."},
)
