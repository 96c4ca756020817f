package pager

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/synctest"
	"time"
)

// timeoutAlert is page(name, "c1") as received without an end through
// Alertmanager's API.
func timeoutAlert(name string) Alert {
	a := page(name, "c1")
	a.Timeout = true
	return a
}

// TestStepResolveTimeout: the pure step gives an alert without an end
// EndsAt = now + resolve_timeout; sending it again pushes the end; an
// explicit later end outlives a timeout (Alertmanager's merge); an alert
// of the watchdog's own rules (no Timeout) fires until it is ended.
func TestStepResolveTimeout(t *testing.T) {
	c := loadConfig(t, "basic.good.yaml")
	if got := c.AlertTimeout(); got != DefaultResolveTimeout {
		t.Fatalf("default resolve_timeout %s, want %s", got, DefaultResolveTimeout)
	}
	alert := func(a Alert) AlertsChanged {
		return AlertsChanged{Alerts: []IncidentAlert{{Fingerprint: Fingerprint(a.Labels), Alert: a}}}
	}
	explicit := page("HighErrors", "c1")
	explicit.EndsAt = at(t, "10:30")
	tests := []struct {
		name   string
		events []timed
		want   Status // at 12:00
		ended  string // when the alert ended, "" for still firing
	}{
		{"one post resolves after 5m",
			[]timed{{"10:00", alert(timeoutAlert("HighErrors"))}}, StatusResolved, "10:05"},
		{"sent again, resolves 5m after the last",
			[]timed{{"10:00", alert(timeoutAlert("HighErrors"))}, {"10:04", alert(timeoutAlert("HighErrors"))}, {"10:08", alert(timeoutAlert("HighErrors"))}},
			StatusResolved, "10:13"},
		{"explicit later end outlives a timeout",
			[]timed{{"10:00", alert(explicit)}, {"10:01", alert(timeoutAlert("HighErrors"))}}, StatusResolved, "10:30"},
		{"rule alert without end fires on",
			[]timed{{"10:00", alert(page("HighErrors", "c1"))}}, StatusTriggered, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st, _, acts := simulate(t, c, tt.events, at(t, "12:00"))
			if st.Status != tt.want {
				t.Fatalf("status %s, want %s", st.Status, tt.want)
			}
			var ended string
			for _, a := range acts {
				if r, ok := a.(Record); ok && r.Entry.Kind == EntryAlertEnded {
					ended = r.Entry.At.Format("15:04")
				}
			}
			if ended != tt.ended {
				t.Errorf("alert ended at %q, want %q", ended, tt.ended)
			}
		})
	}
}

// TestResolveTimeoutConfig: resolve_timeout is read and bounded.
func TestResolveTimeoutConfig(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "basic.good.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	with := func(v string) string {
		return strings.Replace(string(data), "pager:\n", "pager:\n  resolve_timeout: "+v+"\n", 1)
	}
	c, err := ParseConfig("x.yaml", []byte(with("90s")))
	if err != nil || c.AlertTimeout() != 90*time.Second {
		t.Fatalf("resolve_timeout 90s: %v, %v", c, err)
	}
	for _, bad := range []string{"0s", "-1m", "10000d", "soon"} {
		if _, err := ParseConfig("x.yaml", []byte(with(bad))); err == nil || !strings.Contains(err.Error(), "x.yaml:") {
			t.Errorf("resolve_timeout %s: %v, want an error at its line", bad, err)
		}
	}
}

// TestPagerResolveTimeoutRestart: an alert posted once opens an incident
// that resolves resolve_timeout later, also across a restart (the end is
// stored with the alert); posting it again keeps it open.
func TestPagerResolveTimeoutRestart(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := NewMemStore()
		h := newHarness(t, store, "10:00")
		h.start()
		if err := h.p.Receive(timeoutAlert("HighErrors")); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		h.expect("10:00 ops-webhook trigger inc-1", "10:00 push trigger inc-1 alice@alice-topic")
		h.advance("10:03")
		if err := h.p.Receive(timeoutAlert("HighErrors")); err != nil { // ends 10:08 now
			t.Fatal(err)
		}
		synctest.Wait()
		h.stop()
		h.rec.take()

		h2 := newHarness(t, store, "10:03")
		h2.start()
		defer h2.stop()
		h2.advance("10:07")
		if st, _, err := h2.p.Incident("inc-1"); err != nil || st.Status != StatusTriggered {
			t.Fatalf("10:07: %v, %v; want still triggered", st.Status, err)
		}
		h2.advance("10:09")
		st, _, err := h2.p.Incident("inc-1")
		if err != nil || st.Status != StatusResolved {
			t.Fatalf("10:09: %v, %v; want resolved by the timeout", st.Status, err)
		}
		if got := st.Alerts[0].EndsAt; !got.Equal(at(t, "10:08")) {
			t.Errorf("alert ends %v, want 10:08", got)
		}
	})
}

// TestReplicasResolveTimeout: with replicas of one database, an alert
// without an end received by a follower resolves resolve_timeout later,
// resolved by whichever replica leads then — here a new leader, the one
// that opened the incident being cut off from the database.
func TestReplicasResolveTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarnessWith(t, NewMemStore(), "10:00", reloadConfig(t, "same"))
		rs := newReplicas(t, h, newFakeDB(), "a", "b", "c")
		lead, others := leader(t, rs)
		if err := others[0].p.Receive(timeoutAlert("HighErrors")); err != nil {
			t.Fatal(err)
		}
		time.Sleep(2 * time.Second) // a poll of the leader
		synctest.Wait()
		if got := lead.sent(); len(got) != 1 {
			t.Fatalf("leader %s sent %q, want the trigger", lead.name, got)
		}
		lead.r.partitioned.Store(true)
		h.advance("10:04")
		if st, _, err := others[1].p.Incident("inc-1"); err != nil || st.Status == StatusResolved {
			t.Fatalf("10:04: %v, %v; want open", st.Status, err)
		}
		h.advance("10:06")
		next, _ := leader(t, others)
		st, tl, err := next.p.Incident("inc-1")
		if err != nil || st.Status != StatusResolved {
			t.Fatalf("10:06: %v, %v; want resolved by the timeout", st.Status, err)
		}
		if last := tl[len(tl)-1]; last.Kind != EntryResolved || last.By != ByAlerts {
			t.Errorf("last timeline entry %+v, want resolved by alerts", last)
		}
	})
}
