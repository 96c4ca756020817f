package pager

import (
	"maps"
	"strings"
	"time"
)

// replicas reconciles the copies of one alert that the replicas of an HA
// pair of rule evaluators send (Config.ReplicaLabels). Each replica's copy
// carries its replica label; with those labels removed the copies are one
// alert, and the alert stays firing while any replica's firing report is
// still valid: a resolve from one replica (it saw the condition end a
// moment earlier, or restarted) does not end an alert another replica still
// reports firing — otherwise the incident would resolve and the other
// replica's next report open a second one. The state is in memory: after a
// restart the first reports rebuild it.
type replicas struct {
	// firing maps an alert's fingerprint (replica labels removed) to the
	// replicas reporting it firing.
	firing    map[string]map[string]report
	calls     int
	lastSweep time.Time
}

// report is one replica's firing report: valid until until (zero: until
// resolved), last received at seen.
type report struct {
	until, seen time.Time
}

// Bounds of the replica state, which any client of the alerts API can grow.
const (
	// sweepEvery is how many merged alerts pass between sweeps of reports
	// whose validity ran out without a resolve (a replica that went away),
	// and sweepInterval the least time between two sweeps: a sweep walks
	// every report under the pager's lock.
	sweepEvery    = 4096
	sweepInterval = time.Minute
	// openEndedTTL forgets an open-ended report (no EndsAt) not received
	// again for this long: rule evaluators resend firing alerts every
	// minute or so, so only a replica that went away stops.
	openEndedTTL = time.Hour
	// maxTracked bounds the alerts tracked; beyond it, copies of new alerts
	// pass through unreconciled (each replica's resolve then ends them).
	maxTracked = 200_000
)

// merge returns alerts with the replica labels removed and each resolve
// that another replica's valid firing report overrides turned back into
// that report. Label maps are cloned, never changed in place.
func (r *replicas) merge(replicaLabels []string, alerts []Alert, now time.Time, timeout time.Duration) []Alert {
	if len(replicaLabels) == 0 {
		return alerts
	}
	if r.firing == nil {
		r.firing = map[string]map[string]report{}
	}
	out := make([]Alert, 0, len(alerts))
	var id strings.Builder
	for _, a := range alerts {
		a.Labels = maps.Clone(a.Labels)
		id.Reset()
		for _, l := range replicaLabels {
			id.WriteString(a.Labels[l])
			id.WriteByte(0xff)
			delete(a.Labels, l)
		}
		out = append(out, r.reconcile(Fingerprint(a.Labels), id.String(), a, now, timeout))
	}
	if r.calls += len(alerts); r.calls >= sweepEvery && (now.Sub(r.lastSweep) >= sweepInterval || len(r.firing) >= maxTracked) {
		r.calls = 0
		r.sweep(now)
	}
	return out
}

// reconcile records replica's report of the alert with fingerprint fp and
// returns what the pager should see.
func (r *replicas) reconcile(fp, replica string, a Alert, now time.Time, timeout time.Duration) Alert {
	reports := r.firing[fp]
	if !a.Resolved(now) {
		until := a.EndsAt
		if until.IsZero() && a.Timeout {
			until = now.Add(timeout) // what Step will give it
		}
		if reports == nil {
			if len(r.firing) >= maxTracked {
				return a
			}
			reports = map[string]report{}
			r.firing[fp] = reports
		}
		reports[replica] = report{until: until, seen: now}
		return a
	}
	delete(reports, replica)
	held, until := false, time.Time{}
	for other, rep := range reports {
		switch u := rep.until; {
		case u.IsZero():
			held, until = true, time.Time{}
		case !u.After(now):
			delete(reports, other) // ran out: that replica went away
		case !held || (!until.IsZero() && u.After(until)):
			held, until = true, u
		}
	}
	if len(reports) == 0 {
		delete(r.firing, fp)
	}
	if held {
		a.EndsAt = until // still firing, as the other replica says
		a.Timeout = false
	}
	return a
}

// sweep forgets firing reports whose validity ran out, and open-ended
// ones not received for openEndedTTL.
func (r *replicas) sweep(now time.Time) {
	r.lastSweep = now
	for fp, reports := range r.firing {
		for replica, rep := range reports {
			if !rep.until.IsZero() && !rep.until.After(now) || rep.until.IsZero() && now.Sub(rep.seen) >= openEndedTTL {
				delete(reports, replica)
			}
		}
		if len(reports) == 0 {
			delete(r.firing, fp)
		}
	}
}
