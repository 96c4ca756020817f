package pager

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// runUrgency opens an incident for lset at start and runs Step with Tick at
// every time it asks for until until. It returns "UTC-time user method"
// per notification and the final state.
func runUrgency(t *testing.T, c *Config, lset map[string]string, start, until time.Time) ([]string, IncidentState) {
	t.Helper()
	ms := c.Match(lset)
	if len(ms) != 1 {
		t.Fatalf("%v: %d routes", lset, len(ms))
	}
	st := c.NewIncident("inc-1", ms[0], start)
	var ev Event = AlertsChanged{Alerts: []IncidentAlert{{Fingerprint: Fingerprint(lset), Alert: Alert{Labels: lset}}}}
	now := start
	var log []string
	for steps := 0; ; steps++ {
		if steps > 1000 {
			t.Fatal("no progress")
		}
		before := st.Clone()
		next, acts := c.Step(st, now, ev)
		if !reflect.DeepEqual(before, st) {
			t.Fatal("Step modified its input")
		}
		st = next
		for _, a := range acts {
			if n, ok := a.(Notify); ok {
				log = append(log, fmt.Sprintf("%s %s %s", now.UTC().Format("01-02 15:04"), n.User, n.Method))
			}
		}
		if st.Stuck != "" {
			t.Fatalf("stuck at %v: %s", now, st.Stuck)
		}
		due := st.NextDue()
		if due.IsZero() || due.After(until) {
			return log, st
		}
		now, ev = due, Tick{}
	}
}

func utc(s string) time.Time {
	t, err := time.Parse("2006-01-02 15:04", s)
	if err != nil {
		panic(err)
	}
	return t
}

// TestUrgencyAcrossNight runs incidents of both urgencies across nights,
// including the nights of the spring and autumn DST changes in Berlin
// (alice) and New York, and checks who is notified, how and when.
func TestUrgencyAcrossNight(t *testing.T) {
	c := loadConfig(t, "urgency.good.yaml")
	tests := []struct {
		name   string
		labels map[string]string
		start  string // UTC
		want   []string
	}{
		{"high at night pages at once and escalates", map[string]string{"alertname": "Down", "severity": "page"}, "2026-01-05 01:00",
			[]string{"01-05 01:00 alice push", "01-05 01:01 alice sms", "01-05 01:02 alice voice", "01-05 01:05 bob sms"}},
		{"low in the day pushes only and does not escalate", map[string]string{"alertname": "Slow", "severity": "ticket"}, "2026-01-05 10:00",
			[]string{"01-05 10:00 alice push"}},
		// 23:30 CET; the night of 28/29 March 2026 loses an hour: 08:00
		// CEST is 06:00 UTC.
		{"low at night waits for morning across spring DST", map[string]string{"alertname": "Slow", "severity": "info"}, "2026-03-28 22:30",
			[]string{"03-29 06:00 alice push"}},
		// 23:00 CEST; the night of 24/25 October gains an hour: 08:00 CET
		// is 07:00 UTC.
		{"low at night waits for morning across autumn DST", map[string]string{"alertname": "Slow", "severity": "ticket"}, "2026-10-24 21:00",
			[]string{"10-25 07:00 alice push"}},
		{"low just before the end of waking hours", map[string]string{"alertname": "Slow", "severity": "ticket"}, "2026-01-05 20:59",
			[]string{"01-05 20:59 alice push"}},
		{"route urgency low", map[string]string{"alertname": "Batch", "team": "batch", "severity": "page"}, "2026-01-05 22:00",
			[]string{"01-06 07:00 alice push"}},
		{"child route urgency high overrides", map[string]string{"alertname": "Batch", "team": "batch", "severity": "critical"}, "2026-01-05 22:00",
			[]string{"01-05 22:00 alice push", "01-05 22:01 alice sms", "01-05 22:02 alice voice", "01-05 22:05 bob sms"}},
		// escalate_low_urgency: level 2 starts at 22:05 UTC, inside bob's
		// waking hours (07:00-23:00 UTC): his low urgency rules, push now
		// and e-mail after 30m; alice's push waits for her morning.
		{"low escalates when the policy says so", map[string]string{"alertname": "Slow", "team": "night", "severity": "ticket"}, "2026-01-05 22:00",
			[]string{"01-05 22:05 bob push", "01-05 22:35 bob email", "01-06 07:00 alice push"}},
		// Level 2 at 22:45: bob's e-mail after 30m falls at 23:15, after
		// his waking hours, and waits for 07:00.
		{"low escalated steps wait too", map[string]string{"alertname": "Slow", "team": "night", "severity": "ticket"}, "2026-01-05 22:40",
			[]string{"01-05 22:45 bob push", "01-06 07:00 alice push", "01-06 07:00 bob email"}},
		// carol has only a phone: low urgency reaches nobody through her,
		// and the timeline says so.
		{"low never texts a phone-only user", map[string]string{"alertname": "Slow", "team": "phone", "severity": "ticket"}, "2026-01-05 15:00",
			[]string{"01-05 15:00 alice push"}},
		{"high texts a phone-only user", map[string]string{"alertname": "Down", "team": "phone"}, "2026-01-05 15:00",
			[]string{"01-05 15:00 alice push", "01-05 15:00 carol sms", "01-05 15:01 alice sms", "01-05 15:02 alice voice"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start := utc(tt.start)
			got, st := runUrgency(t, c, tt.labels, start, start.Add(36*time.Hour))
			slices.Sort(got)
			if !slices.Equal(got, tt.want) {
				t.Errorf("notifications:\n got %q\nwant %q", got, tt.want)
			}
			low := st.Urgency == UrgencyLow
			for _, n := range got {
				if low && (strings.HasSuffix(n, " sms") || strings.HasSuffix(n, " voice")) {
					t.Errorf("low urgency texted or called: %s", n)
				}
			}
		})
	}
}

func TestUrgencyTimeline(t *testing.T) {
	c := loadConfig(t, "urgency.good.yaml")
	lset := map[string]string{"alertname": "Slow", "team": "phone", "severity": "ticket"}
	st := c.NewIncident("inc-1", c.Match(lset)[0], utc("2026-03-28 22:30"))
	_, acts := c.Step(st, st.StartAt, AlertsChanged{Alerts: []IncidentAlert{{Fingerprint: "f", Alert: Alert{Labels: lset}}}})
	var texts []string
	for _, a := range acts {
		if r, ok := a.(Record); ok {
			texts = append(texts, r.Entry.Kind+": "+r.Entry.Text)
		}
	}
	want := []string{
		"opened: opened on route phone, policy phone-only, low urgency",
		"alert_fired: Slow",
		"nobody_on_call: not notifying carol: no push, email or slack contact for low urgency",
		"deferred: low urgency: notifying alice in waking hours, from Sun 08:00 CEST",
		"escalated: level 1 (pass 1): carol, alice",
	}
	if !slices.Equal(texts, want) {
		t.Errorf("timeline:\n got %q\nwant %q", texts, want)
	}
}

func TestAwake(t *testing.T) {
	c, err := ParseConfig("x.yaml", []byte(`pager:
  users:
    - {name: b, time_zone: Europe/Berlin, contact: {push: p}}
    - {name: early, time_zone: Europe/Berlin, waking_hours: "02:30-20:00", contact: {push: p}}
    - {name: owl, waking_hours: "20:00-04:00", contact: {push: p}}
`))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct{ user, at, want string }{
		{"b", "2026-01-05 07:00", "2026-01-05 07:00"}, // 08:00 CET: awake
		{"b", "2026-01-05 06:59", "2026-01-05 07:00"},
		{"b", "2026-01-05 21:00", "2026-01-06 07:00"}, // 22:00 CET: asleep
		{"b", "2026-01-05 20:59", "2026-01-05 20:59"},
		{"b", "2026-07-05 05:00", "2026-07-05 06:00"}, // CEST
		// 02:30 does not exist on 29 March in Berlin: the day starts at
		// the normalised 03:30 CEST.
		{"early", "2026-03-28 23:00", "2026-03-29 01:30"},
		{"owl", "2026-01-05 12:00", "2026-01-05 20:00"},
		{"owl", "2026-01-05 03:00", "2026-01-05 03:00"},
		{"owl", "2026-01-05 23:00", "2026-01-05 23:00"},
		{"unknown", "2026-01-05 03:00", "2026-01-05 03:00"},
	}
	for _, tt := range tests {
		t.Run(tt.user+" "+tt.at, func(t *testing.T) {
			if got := c.Awake(tt.user, utc(tt.at)); !got.Equal(utc(tt.want)) {
				t.Errorf("Awake = %v, want %s UTC", got.UTC(), tt.want)
			}
		})
	}
}

// TestUrgencyRaised: a low urgency incident that a high urgency alert
// joins becomes high and pages at once with the high rules, in a new
// round; a route's own urgency is never raised.
func TestUrgencyRaised(t *testing.T) {
	c := loadConfig(t, "urgency.good.yaml")
	tests := []struct {
		name          string
		first, second map[string]string
		want          []string
		high          bool
	}{
		{"raised", map[string]string{"alertname": "Slow", "severity": "ticket"}, map[string]string{"alertname": "Slow", "severity": "page"},
			[]string{"23:00 alice push inc-1/e2/l0/r0/alice/s0", "23:01 alice sms inc-1/e2/l0/r0/alice/s1",
				"23:02 alice voice inc-1/e2/l0/r0/alice/s2", "23:05 bob sms inc-1/e2/l1/r0/bob/s0"}, true},
		{"route urgency stays", map[string]string{"alertname": "Batch", "team": "batch", "severity": "ticket"},
			map[string]string{"alertname": "Batch", "team": "batch", "severity": "page"},
			[]string{"07:00 alice push inc-1/e1/l0/r0/alice/s0"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start := utc("2026-01-05 22:00") // 23:00 in Berlin: alice asleep
			r := &respRun{t: t, c: c, st: c.NewIncident("inc-1", c.Match(tt.first)[0], start), now: start}
			r.step(AlertsChanged{Alerts: []IncidentAlert{{Fingerprint: Fingerprint(tt.first), Alert: Alert{Labels: tt.first}}}})
			r.until(start.Add(time.Hour), AlertsChanged{Alerts: []IncidentAlert{{Fingerprint: Fingerprint(tt.second), Alert: Alert{Labels: tt.second}}}})
			r.until(start.Add(12*time.Hour), nil)
			if !slices.Equal(r.log, tt.want) {
				t.Errorf("notifications:\n got %q\nwant %q", r.log, tt.want)
			}
			if (r.st.Urgency != UrgencyLow) != tt.high {
				t.Errorf("urgency %q", r.st.Urgency)
			}
			raised := r.texts(EntryUrgency)
			if tt.high != (len(raised) == 1) {
				t.Errorf("urgency entries %q", raised)
			}
		})
	}
}
