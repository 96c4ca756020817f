package pager

import (
	"strconv"
	"testing"
	"testing/synctest"
	"time"
)

func replicaAlert(replica string, endsAt time.Time) Alert {
	return Alert{Labels: map[string]string{"alertname": "Spike", "severity": "page", "replica": replica}, EndsAt: endsAt}
}

// TestReplicasMerge: copies from the replicas of an HA pair are one alert
// without the replica label; one replica's resolve does not end an alert
// another still reports firing, until that report runs out.
func TestReplicasMerge(t *testing.T) {
	now := time.Date(2026, 1, 5, 10, 0, 0, 0, time.UTC)
	later, past := now.Add(4*time.Minute), now.Add(-time.Second)
	type report struct {
		replica string
		endsAt  time.Time
	}
	tests := []struct {
		name    string
		labels  []string
		reports []report
		// want is the EndsAt the pager sees for the last report; resolved
		// says whether that is in the past.
		wantEnds     time.Time
		wantResolved bool
		wantReplica  bool // the replica label kept
	}{
		{"no replica labels configured", nil, []report{{"a", later}, {"b", past}}, past, true, true},
		{"firing from one", []string{"replica"}, []report{{"a", later}}, later, false, false},
		{"resolve held by the other's firing report", []string{"replica"}, []report{{"a", later}, {"b", later}, {"b", past}}, later, false, false},
		{"resolve held by an open-ended report", []string{"replica"}, []report{{"a", time.Time{}}, {"b", past}}, time.Time{}, false, false},
		{"both resolved", []string{"replica"}, []report{{"a", later}, {"b", later}, {"a", past}, {"b", past}}, past, true, false},
		{"the other's report ran out", []string{"replica"}, []report{{"a", now.Add(-time.Minute)}, {"b", past}}, past, true, false},
		{"a replica's own resolve", []string{"replica"}, []report{{"a", later}, {"a", past}}, past, true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var r replicas
			var got Alert
			for _, rep := range tt.reports {
				in := replicaAlert(rep.replica, rep.endsAt)
				out := r.merge(tt.labels, []Alert{in}, now, DefaultResolveTimeout)
				if in.Labels["replica"] != rep.replica {
					t.Fatal("merge changed the caller's label map")
				}
				got = out[0]
			}
			if _, kept := got.Labels["replica"]; kept != tt.wantReplica {
				t.Errorf("replica label kept = %v, want %v", kept, tt.wantReplica)
			}
			if !got.EndsAt.Equal(tt.wantEnds) || got.Resolved(now) != tt.wantResolved {
				t.Errorf("EndsAt %v (resolved %v), want %v (resolved %v)", got.EndsAt, got.Resolved(now), tt.wantEnds, tt.wantResolved)
			}
		})
	}
}

// TestReplicasSweep: reports that ran out without a resolve are forgotten.
func TestReplicasSweep(t *testing.T) {
	now := time.Date(2026, 1, 5, 10, 0, 0, 0, time.UTC)
	var r replicas
	for i := range sweepEvery {
		a := replicaAlert("a", now.Add(time.Minute))
		a.Labels["n"] = string(rune('a' + i%26))
		r.merge([]string{"replica"}, []Alert{a}, now, DefaultResolveTimeout)
	}
	if len(r.firing) != 26 {
		t.Fatalf("%d fingerprints tracked, want 26", len(r.firing))
	}
	r.merge([]string{"replica"}, make([]Alert, sweepEvery), now.Add(time.Hour), DefaultResolveTimeout)
	if len(r.firing) != 1 { // the empty alerts' own fingerprint, open-ended
		t.Fatalf("%d fingerprints tracked after the sweep, want 1", len(r.firing))
	}
}

// TestReplicasBounded: open-ended reports from a replica that went away
// are forgotten after openEndedTTL, sweeps run at most every
// sweepInterval, and no more than maxTracked alerts are tracked.
func TestReplicasBounded(t *testing.T) {
	now := time.Date(2026, 1, 5, 10, 0, 0, 0, time.UTC)
	labels := []string{"replica"}
	t.Run("open-ended reports expire", func(t *testing.T) {
		var r replicas
		r.merge(labels, []Alert{replicaAlert("a", time.Time{})}, now, DefaultResolveTimeout)
		r.calls = sweepEvery
		r.merge(labels, nil, now.Add(openEndedTTL-time.Second), DefaultResolveTimeout)
		if len(r.firing) != 1 {
			t.Fatalf("forgotten before the TTL: %d tracked", len(r.firing))
		}
		r.calls = sweepEvery
		r.merge(labels, nil, now.Add(openEndedTTL+time.Minute), DefaultResolveTimeout)
		if len(r.firing) != 0 {
			t.Fatalf("%d tracked after the TTL, want 0", len(r.firing))
		}
	})
	t.Run("sweeps are spaced", func(t *testing.T) {
		var r replicas
		r.merge(labels, []Alert{replicaAlert("a", now.Add(time.Second))}, now, DefaultResolveTimeout)
		r.calls, r.lastSweep = sweepEvery, now
		r.merge(labels, nil, now.Add(30*time.Second), DefaultResolveTimeout)
		if len(r.firing) != 1 {
			t.Fatal("swept twice within sweepInterval")
		}
	})
	t.Run("capped", func(t *testing.T) {
		var r replicas
		batch := make([]Alert, 0, 1000)
		for i := range maxTracked + 10 {
			a := replicaAlert("a", now.Add(time.Hour))
			a.Labels["n"] = strconv.Itoa(i)
			if batch = append(batch, a); len(batch) == cap(batch) || i == maxTracked+9 {
				r.merge(labels, batch, now, DefaultResolveTimeout)
				batch = batch[:0]
			}
		}
		if len(r.firing) != maxTracked {
			t.Fatalf("%d tracked, want the cap %d", len(r.firing), maxTracked)
		}
		// An untracked alert passes through: a replica's resolve ends it.
		a := replicaAlert("b", now.Add(-time.Second))
		a.Labels["n"] = strconv.Itoa(maxTracked + 5)
		if got := r.merge(labels, []Alert{a}, now, DefaultResolveTimeout); !got[0].Resolved(now) {
			t.Error("an untracked alert's resolve was held")
		}
	})
}

// TestPagerHAPair: two replicas report the same alert; the pager opens one
// incident with one alert, and keeps it open when one replica resolves
// while the other still fires.
func TestPagerHAPair(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg, err := ParseConfig("ha.yml", []byte(`
pager:
  replica_labels: [replica]
  users: [{name: alice, contact: {push: alice}}]
  escalation_policies: [{name: p, levels: [{targets: [user:alice], escalate_after: 1h}]}]
  routes: [{name: r, matchers: ['severity="page"'], group_wait: 0s, escalation_policy: p}]
`))
		if err != nil {
			t.Fatal(err)
		}
		p, err := New(Options{Config: cfg})
		if err != nil {
			t.Fatal(err)
		}
		now := time.Now()
		for _, a := range []Alert{replicaAlert("a", now.Add(4*time.Minute)), replicaAlert("b", now.Add(4*time.Minute))} {
			if err := p.Receive(a); err != nil {
				t.Fatal(err)
			}
		}
		time.Sleep(time.Minute)
		if err := p.Receive(replicaAlert("b", time.Now().Add(-time.Second))); err != nil {
			t.Fatal(err)
		}
		incs, err := p.Incidents(IncidentFilter{})
		if err != nil {
			t.Fatal(err)
		}
		if len(incs) != 1 {
			t.Fatalf("%d incidents, want 1", len(incs))
		}
		inc := incs[0]
		if len(inc.Alerts) != 1 || inc.Status == StatusResolved {
			t.Fatalf("incident %s: status %s, %d alerts, want open with 1", inc.ID, inc.Status, len(inc.Alerts))
		}
		if _, ok := inc.Alerts[0].Labels["replica"]; ok || inc.Alerts[0].Resolved(time.Now()) {
			t.Errorf("alert %v resolved=%v: want no replica label, still firing", inc.Alerts[0].Labels, inc.Alerts[0].Resolved(time.Now()))
		}
	})
}

// TestReplicaTimeoutReport: a copy posted without endsAt (Alert.Timeout)
// holds another replica's resolve for resolve_timeout, no longer.
func TestReplicaTimeoutReport(t *testing.T) {
	now := at(t, "10:00")
	labels := []string{"replica"}
	var r replicas
	a := replicaAlert("a", time.Time{})
	a.Timeout = true
	r.merge(labels, []Alert{a}, now, 2*time.Minute)
	got := r.merge(labels, []Alert{replicaAlert("b", now)}, now.Add(time.Minute), 2*time.Minute)[0]
	if !got.EndsAt.Equal(now.Add(2*time.Minute)) || got.Timeout {
		t.Errorf("b's resolve within the timeout: EndsAt %v (timeout %v), want held until 10:02", got.EndsAt, got.Timeout)
	}
	got = r.merge(labels, []Alert{replicaAlert("b", now.Add(3*time.Minute))}, now.Add(3*time.Minute), 2*time.Minute)[0]
	if !got.Resolved(now.Add(3 * time.Minute)) {
		t.Errorf("b's resolve after the timeout: EndsAt %v, want resolved", got.EndsAt)
	}
}
