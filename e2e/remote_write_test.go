package e2e

import (
	"fmt"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/watchdog-sre/watchdog/internal/promapi"
	"github.com/watchdog-sre/watchdog/internal/promtest"
	"github.com/watchdog-sre/watchdog/internal/vmtest"
)

// remoteReceiver is what the outage test needs of a receiver.
type remoteReceiver interface {
	WriteURL() string
	Stop(testing.TB)
	Start(testing.TB)
}

// outageRun is one run of the outage scenario.
type outageRun struct {
	receiver remoteReceiver
	// outage is how long the receiver is down; the watchdog restarts in
	// its middle.
	outage time.Duration
	// read returns every sample the receiver holds in (from, to].
	read func(from, to time.Time) map[string][]promapi.Sample
	// dropNaN leaves NaN samples (stale markers) out of the receiver's
	// side: an export shows them, the watchdog's PromQL does not.
	dropNaN bool
}

// runOutage scrapes a fleet of ten targets every second and remote-writes
// to the receiver; stops the receiver for r.outage and restarts the
// watchdog (SIGTERM, same snapshot) in its middle; starts the receiver
// again and checks that it then holds every sample the watchdog stored,
// series by series, once each.
func runOutage(t *testing.T, r outageRun) {
	t.Helper()
	f := newFleet(t, 10)
	config := "global:\n  scrape_interval: 1s\n  scrape_timeout: 900ms\n" +
		"scrape_configs:\n" + f.scrapeConfig("fleet", "") +
		"storage:\n  retention: 2h\n  snapshot_path: snapshot.bin\n  snapshot_interval: 1h\n" +
		"remote_write:\n" + remoteWriteConfig("receiver", r.receiver.WriteURL(), "")
	from := time.Now().Add(-time.Second)
	w := startRemoteWD(t, "outage", config)

	// Samples flow before the outage.
	eventually(t, 30*time.Second, func() error {
		if got := r.read(from, time.Now()); len(got) < 10 {
			return fmt.Errorf("the receiver holds %d series yet", len(got))
		}
		return nil
	})
	r.receiver.Stop(t)
	down := time.Now()
	t.Logf("receiver stopped for %v", r.outage)
	time.Sleep(r.outage / 2)
	w.restart(t)
	restarted := time.Now()
	t.Logf("watchdog restarted during the outage")
	time.Sleep(r.outage / 2)
	r.receiver.Start(t)
	up := time.Now()
	t.Logf("receiver started again")

	// Everything stored up to a few scrapes after the receiver came back.
	time.Sleep(3 * time.Second)
	to := time.Now().Add(-time.Second)
	stored := inWindow(w.stored(t, from, to), from, to, false)
	if len(stored) < 10*5 {
		t.Fatalf("the watchdog stored only %d series in the window: %v", len(stored), slices.Sorted(maps.Keys(stored)))
	}
	gap := checkGap(t, stored, r.outage)
	// The comparison covers the samples of every phase: before the outage,
	// in it before the restart (kept by the snapshot), in it after the
	// restart, and after it.
	phases := []time.Time{from, down, restarted, up, to}
	for i := 1; i < len(phases); i++ {
		if n := len(inWindow(stored, phases[i-1], phases[i], false)); n == 0 {
			t.Fatalf("the watchdog stored no samples between %v and %v (phase %d of the outage)",
				phases[i-1].Format(time.TimeOnly), phases[i].Format(time.TimeOnly), i)
		}
	}
	n := waitSame(t, 90*time.Second, stored, func() map[string][]promapi.Sample {
		return inWindow(r.read(from, to), from, to, r.dropNaN)
	})
	// The sender saw the outage (retries) and lost nothing by its own count.
	lbl := `{remote_name="receiver",url="` + r.receiver.WriteURL() + `"}`
	exp := w.metrics(t)
	for _, c := range []struct {
		name     string
		positive bool
	}{{"samples_retried_total", true}, {"samples_failed_total", false}, {"samples_dropped_total", false}} {
		v, ok := findMetric(exp, "watchdog_remote_storage_"+c.name+lbl)
		if !ok || (v > 0) != c.positive {
			t.Errorf("watchdog_remote_storage_%s%s = %v (present %v), want positive %v", c.name, lbl, v, ok, c.positive)
		}
	}
	t.Logf("the receiver holds all %d samples of %d series the watchdog stored over %v (scrape gap of the restart %v), no duplicates",
		n, len(stored), to.Sub(from).Round(time.Second), gap)
}

// checkGap asserts that the watchdog kept scraping through the outage (the
// receiver's outage must not stop scraping): the longest gap between two
// samples of any up series is the restart only, well
// under the outage. It returns that gap.
func checkGap(t *testing.T, stored map[string][]promapi.Sample, outage time.Duration) time.Duration {
	t.Helper()
	var longest int64
	for k, ss := range stored {
		if parseKey(k)["__name__"] != "up" {
			continue
		}
		for i := 1; i < len(ss); i++ {
			longest = max(longest, ss[i].T-ss[i-1].T)
		}
	}
	gap := time.Duration(longest) * time.Millisecond
	if gap > outage/2+10*time.Second || gap == 0 {
		t.Fatalf("longest gap between two scrapes %v: the watchdog did not scrape through the %v outage", gap, outage)
	}
	return gap
}

// TestRemoteWriteVictoriaMetricsOutage (issue #13, acceptance 1): against
// VictoriaMetrics (no deduplication, /api/v1/export returns raw samples, so
// a sample sent twice would show), a receiver outage of
// WATCHDOG_E2E_REMOTE_OUTAGE (60s in CI, 20s by default) with a watchdog
// restart in its middle loses nothing and duplicates nothing.
func TestRemoteWriteVictoriaMetricsOutage(t *testing.T) {
	parallel(t, 70*time.Second)
	needBinary(t)
	vm := vmtest.Start(t, vmtest.Options{})
	runOutage(t, outageRun{
		receiver: vm,
		outage:   remoteOutage(t),
		read: func(from, to time.Time) map[string][]promapi.Sample {
			return promapi.ByKey(vm.Export(t, `{__name__=~".+"}`, from, to))
		},
		dropNaN: true,
	})
}

// TestRemoteWritePrometheusOutage (issue #13, acceptance 2, Prometheus's
// half): the same against Prometheus's Remote-Write 1.0 receiver, with a
// 10 s outage. (Prometheus drops a repeated identical sample silently, so
// duplicates are VictoriaMetrics' test to find.)
func TestRemoteWritePrometheusOutage(t *testing.T) {
	parallel(t, 20*time.Second)
	needBinary(t)
	p := promtest.Start(t, promtest.Options{})
	runOutage(t, outageRun{
		receiver: p,
		outage:   10 * time.Second,
		read: func(from, to time.Time) map[string][]promapi.Sample {
			raw, err := p.Client().Raw(`{__name__=~".+"}`, to, to.Sub(from))
			if err != nil {
				t.Fatalf("prometheus: %v", err)
			}
			return promapi.ByKey(raw)
		},
	})
}
