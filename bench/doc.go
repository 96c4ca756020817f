// Package bench holds cross-package benchmarks that compare Watchdog's scrape
// ingestion path with the Prometheus libraries on the same data in the same
// run. It has no non-test code; see INGEST.md for the figures.
package bench
