package main

import (
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"time"

	"github.com/prometheus/prometheus/model/labels"

	"github.com/watchdog-sre/watchdog/checkin"
	"github.com/watchdog-sre/watchdog/config"
	"github.com/watchdog-sre/watchdog/rules/alertmanager"
	"github.com/watchdog-sre/watchdog/web/ui"
)

// minCheckinToken is the shortest heartbeat token accepted: a token is the
// only thing between the internet and a heartbeat's state.
const minCheckinToken = 16

// errCheckinToken refuses a heartbeat token that is too short or cannot
// travel in a URL path segment.
var errCheckinToken = errors.New("invalid heartbeat token")

// checkinSpecs builds the runner's specs of the heartbeats section,
// reading every token (from its file, refused when other users can read
// it, or its environment variable).
func checkinSpecs(cs []*config.CheckinConfig, log *slog.Logger) ([]checkin.Spec, error) {
	out := make([]checkin.Spec, 0, len(cs))
	for _, c := range cs {
		tok, err := secretValue("heartbeat "+c.Name+" token", c.TokenFile, c.TokenEnv, log)
		if err != nil {
			return nil, err
		}
		if len(tok) < minCheckinToken {
			return nil, fmt.Errorf("heartbeat %s: %w: shorter than %d characters", c.Name, errCheckinToken, minCheckinToken)
		}
		if strings.ContainsAny(tok, "/?#% \t\r\n") {
			return nil, fmt.Errorf("heartbeat %s: %w: it may not contain '/', '?', '#', '%%' or spaces", c.Name, errCheckinToken)
		}
		out = append(out, checkin.Spec{Name: c.Name, Period: time.Duration(c.Period), Grace: time.Duration(c.Grace),
			Token: tok, Labels: c.Labels, Annotations: c.Annotations})
	}
	return out, nil
}

// checkinStatePath is where the heartbeat states are kept: beside the store
// snapshot ("" without one: in memory only).
func checkinStatePath(snapshot string) string {
	if snapshot == "" {
		return ""
	}
	return strings.TrimSuffix(snapshot, filepath.Ext(snapshot)) + ".heartbeats.json"
}

// checkinNotify hands the heartbeats' alerts, with the external labels
// added as for rule alerts, to every sink: the console, the Alertmanagers
// and the pager, so that routes, silences and escalation apply to them.
func checkinNotify(ext labels.Labels, sinks ...alertSink) checkin.NotifyFunc {
	return func(alerts ...alertmanager.Alert) {
		out := make([]alertmanager.Alert, len(alerts))
		for i, a := range alerts {
			lbls := make(map[string]string, len(a.Labels)+ext.Len())
			for k, v := range a.Labels {
				lbls[k] = v
			}
			ext.Range(func(l labels.Label) {
				if _, ok := lbls[l.Name]; !ok {
					lbls[l.Name] = l.Value
				}
			})
			a.Labels = lbls
			out[i] = a
		}
		for _, s := range sinks {
			s(out...)
		}
	}
}

// uiHeartbeats converts the runner's list for the console (no tokens).
func uiHeartbeats(r *checkin.Runner) ui.HeartbeatsFunc {
	return func() []ui.Heartbeat {
		list := r.List()
		out := make([]ui.Heartbeat, 0, len(list))
		for _, in := range list {
			out = append(out, ui.Heartbeat{
				Name: in.Spec.Name, State: string(in.Status), Period: in.Spec.Period, Grace: in.Spec.Grace,
				Labels: in.Spec.Labels, LastPing: in.State.LastPing, LastSuccess: in.State.LastSuccess,
				LastFailure: in.State.LastFailure, Started: in.State.Started, LastDuration: in.State.LastDuration,
				NextDue: in.NextDue, Alert: string(in.State.Alert), Message: in.State.Message,
			})
		}
		return out
	}
}
