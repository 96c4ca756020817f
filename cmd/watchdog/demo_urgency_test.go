package main

import (
	"slices"
	"testing"
	"time"

	"github.com/watchdog-sre/watchdog/pager"
)

// TestDemoUrgency checks the demo's paging: its severity=ticket latency
// alert is low urgency and only pushes, in the on-call person's waking
// hours, while a severity=page alert pushes, texts and calls at once.
func TestDemoUrgency(t *testing.T) {
	c, err := pager.ParseConfig("demo.yml", []byte(demoConfig))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		severity string
		start    time.Time // alice (Europe/Berlin) is on call in primary from 09:00 UTC
		want     []string
	}{
		{"ticket by day", "ticket", time.Date(2026, 1, 5, 12, 0, 0, 0, time.UTC), []string{"12:00:00 alice push"}},
		{"ticket at night waits for 08:00 Berlin", "ticket", time.Date(2026, 1, 5, 22, 0, 0, 0, time.UTC), []string{"07:00:00 alice push"}},
		{"page at night", "page", time.Date(2026, 1, 5, 22, 0, 0, 0, time.UTC),
			[]string{"22:00:00 alice push", "22:00:10 alice sms", "22:00:20 alice voice", "22:00:40 bob push", "22:00:50 bob sms", "22:01:00 bob voice"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lset := map[string]string{"alertname": "HighP99Latency", "handler": "/login", "severity": tt.severity, "env": "demo"}
			ms := c.Match(lset)
			if len(ms) != 1 {
				t.Fatalf("%d routes", len(ms))
			}
			st := c.NewIncident("inc-1", ms[0], tt.start)
			var ev pager.Event = pager.AlertsChanged{Alerts: []pager.IncidentAlert{{Fingerprint: pager.Fingerprint(lset), Alert: pager.Alert{Labels: lset}}}}
			now, until := tt.start, tt.start.Add(24*time.Hour)
			var got []string
			for i := 0; i < 100; i++ {
				var acts []pager.Action
				st, acts = c.Step(st, now, ev)
				for _, a := range acts {
					if n, ok := a.(pager.Notify); ok {
						got = append(got, now.UTC().Format("15:04:05")+" "+n.User+" "+n.Method)
					}
				}
				now, ev = st.NextDue(), pager.Tick{}
				if now.IsZero() || now.After(until) {
					break
				}
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("pages:\n got %q\nwant %q", got, tt.want)
			}
		})
	}
}
