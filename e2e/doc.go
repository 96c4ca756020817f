// Package e2e holds the watchdog's end-to-end tests. The hostile-input suite
// (hostile_*_test.go, issue #11) runs the real binary against inputs an
// attacker or a careless operator could send and asserts that it stays alive,
// keeps scraping a control target on time and stays under a memory bound.
//
// The remote suite (remote_*_test.go, issue #13) runs watchdogs against
// real VictoriaMetrics and Prometheus servers (internal/vmtest,
// internal/promtest; they skip without the Debian packages): remote_write
// through a receiver outage and a restart, hashmod sharding, rules on a
// datasource, and the receiver. WATCHDOG_E2E_REMOTE_OUTAGE sets the
// VictoriaMetrics outage (20s by default; .ci/run runs it with 60s).
//
// Tests that measure latency or memory run alone, first; the others call
// parallel(t, expected) (main_test.go), which runs six at a time, the
// longest expected first, so that their waits overlap. A new test calls
// it too, never t.Parallel() (TestParallelThroughScheduler checks).
//
// The browser tests build the
// binary, run it (the demo, or a configuration scraping a hostile local
// target), and drive Debian's chromium headless through the Chrome DevTools
// Protocol (github.com/chromedp/chromedp, used by these tests only) as a
// person would: click from the overview to an incident, type the API token,
// acknowledge, watch the status page.
//
//	go test ./e2e                  # needs chromium (apt-get install chromium)
//	WATCHDOG_E2E_BROWSER=/path/to/chrome go test ./e2e
//
// Without a browser the tests skip and say so. Screenshots of the overview,
// an incident, the graph and the status page, at desktop (1280×800) and
// phone (390×844) sizes, are written to e2e/screenshots/ (git-ignored; set
// WATCHDOG_E2E_SCREENSHOTS to write them elsewhere).
package e2e
