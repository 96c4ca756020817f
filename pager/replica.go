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
	// replicas reporting it firing and until when (zero: until resolved).
	firing map[string]map[string]time.Time
	calls  int
}

// sweepEvery is how many merged alerts pass between sweeps of reports
// whose validity ran out without a resolve (a replica that went away).
const sweepEvery = 4096

// merge returns alerts with the replica labels removed and each resolve
// that another replica's valid firing report overrides turned back into
// that report. Label maps are cloned, never changed in place.
func (r *replicas) merge(replicaLabels []string, alerts []Alert, now time.Time) []Alert {
	if len(replicaLabels) == 0 {
		return alerts
	}
	if r.firing == nil {
		r.firing = map[string]map[string]time.Time{}
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
		out = append(out, r.reconcile(Fingerprint(a.Labels), id.String(), a, now))
	}
	if r.calls += len(alerts); r.calls >= sweepEvery {
		r.calls = 0
		r.sweep(now)
	}
	return out
}

// reconcile records replica's report of the alert with fingerprint fp and
// returns what the pager should see.
func (r *replicas) reconcile(fp, replica string, a Alert, now time.Time) Alert {
	reports := r.firing[fp]
	if !a.Resolved(now) {
		if reports == nil {
			reports = map[string]time.Time{}
			r.firing[fp] = reports
		}
		reports[replica] = a.EndsAt
		return a
	}
	delete(reports, replica)
	held, until := false, time.Time{}
	for other, u := range reports {
		switch {
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
	}
	return a
}

// sweep forgets firing reports whose validity ran out.
func (r *replicas) sweep(now time.Time) {
	for fp, reports := range r.firing {
		for replica, u := range reports {
			if !u.IsZero() && !u.After(now) {
				delete(reports, replica)
			}
		}
		if len(reports) == 0 {
			delete(r.firing, fp)
		}
	}
}
