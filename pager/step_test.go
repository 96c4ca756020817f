package pager

import (
	"fmt"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"
)

// day is the test date: alice is on call in schedule primary from
// 2026-01-05 09:00 UTC to 2026-01-06 09:00, then bob.
var day = time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC)

// at parses "15:04" (or "d2 15:04" for the next day) on the test date.
func at(t testing.TB, s string) time.Time {
	t.Helper()
	d := day
	if rest, ok := strings.CutPrefix(s, "d2 "); ok {
		d, s = d.AddDate(0, 0, 1), rest
	}
	hm, err := time.Parse("15:04", s)
	if err != nil {
		t.Fatal(err)
	}
	return d.Add(time.Duration(hm.Hour())*time.Hour + time.Duration(hm.Minute())*time.Minute)
}

type timed struct {
	at string
	ev Event
}

func pageAlert(name string, ends time.Time, suppressedBy string) AlertsChanged {
	lset := map[string]string{"alertname": name, "severity": "page", "cluster": "c1"}
	return AlertsChanged{Alerts: []IncidentAlert{{
		Fingerprint:  Fingerprint(lset),
		Alert:        Alert{Labels: lset, Annotations: map[string]string{"summary": "it broke"}, EndsAt: ends},
		SuppressedBy: suppressedBy,
	}}}
}

// simulate opens an incident on the route of its first event's alert at
// the first event's time, then applies the events and every Tick the
// state asks for, in time order, until until. It returns the final state
// and a log: notifications, forwards and lifecycle entries.
func simulate(t *testing.T, c *Config, events []timed, until time.Time) (IncidentState, []string, []Action) {
	t.Helper()
	first := events[0].ev.(AlertsChanged).Alerts[0].Labels
	now := at(t, events[0].at)
	st := c.NewIncident("inc-1", c.Match(first)[0], now)
	var log []string
	var all []Action
	for steps := 0; ; steps++ {
		if steps > 1000 {
			t.Fatal("no progress")
		}
		var ev Event = Tick{}
		due := st.NextDue()
		if len(events) > 0 && (due.IsZero() || !at(t, events[0].at).After(due)) {
			now, ev, events = at(t, events[0].at), events[0].ev, events[1:]
		} else if due.IsZero() || due.After(until) {
			break
		} else {
			if due.Before(now) {
				t.Fatalf("NextDue %v before now %v", due, now)
			}
			now = due
		}
		before := st.Clone()
		next, acts := c.Step(st, now, ev)
		if !reflect.DeepEqual(before, st) {
			t.Fatal("Step modified its input")
		}
		again, acts2 := c.Step(st, now, ev)
		if !reflect.DeepEqual(next, again) || !reflect.DeepEqual(acts, acts2) {
			t.Fatal("Step is not deterministic")
		}
		if _, ok := acts[len(acts)-1].(Schedule); !ok {
			t.Fatalf("last action %T, want Schedule", acts[len(acts)-1])
		}
		st = next
		all = append(all, acts...)
		hm := now.Format("15:04")
		for _, a := range acts {
			switch a := a.(type) {
			case Notify:
				log = append(log, fmt.Sprintf("%s %s %s l%d r%d", hm, a.User, a.Method, a.Level, a.Repeat))
			case Forward:
				log = append(log, fmt.Sprintf("%s fwd %s %s", hm, a.Channel, a.Event))
			case WarRoomPost:
				log = append(log, fmt.Sprintf("%s war room %s %s", hm, a.Channel, a.BridgeURL))
			case Record:
				switch a.Entry.Kind {
				case EntryAck, EntryRetrigger, EntryExhausted, EntryResolved, EntrySuppressed, EntryUnsuppressed, EntrySnooze, EntryReassign, EntryNobodyOnCall, EntryMajor:
					log = append(log, fmt.Sprintf("%s %s", a.Entry.At.Format("15:04"), a.Entry.Kind))
				}
			}
		}
	}
	return st, log, all
}

func TestStep(t *testing.T) {
	c := loadConfig(t, "basic.good.yaml")
	fire := pageAlert("HighErrors", time.Time{}, "")
	fullLevel1 := []string{"10:00 fwd ops-webhook trigger", "10:00 alice push l0 r0", "10:02 alice sms l0 r0", "10:05 alice voice l0 r0"}
	tests := []struct {
		name   string
		events []timed
		until  string
		want   []string
		status Status
	}{
		{
			name: "push sms voice, next level, repeat once, exhausted", events: []timed{{"10:00", fire}}, until: "10:59",
			want: append(cloneStrings(fullLevel1),
				"10:15 carol email l1 r0",
				"10:25 alice push l0 r1", "10:27 alice sms l0 r1", "10:30 alice voice l0 r1",
				"10:40 carol email l1 r1",
				"10:50 exhausted"),
			status: StatusTriggered,
		},
		{
			name: "repeat_interval re-forwards while triggered", events: []timed{{"10:00", fire}}, until: "11:00",
			want: append(cloneStrings(fullLevel1), "10:15 carol email l1 r0", "10:25 alice push l0 r1", "10:27 alice sms l0 r1",
				"10:30 alice voice l0 r1", "10:40 carol email l1 r1", "10:50 exhausted", "11:00 fwd ops-webhook trigger"),
			status: StatusTriggered,
		},
		{
			name:   "ack stops escalation, ack_timeout restarts it",
			events: []timed{{"10:00", fire}, {"10:03", Ack{By: "alice"}}}, until: "10:36",
			want: []string{"10:00 fwd ops-webhook trigger", "10:00 alice push l0 r0", "10:02 alice sms l0 r0",
				"10:03 acknowledged", "10:03 fwd ops-webhook acknowledge",
				"10:33 retriggered", "10:33 alice push l0 r0", "10:35 alice sms l0 r0"},
			status: StatusTriggered,
		},
		{
			name:   "resolve stops everything",
			events: []timed{{"10:00", fire}, {"10:03", Resolve{By: "bob"}}}, until: "12:00",
			want: []string{"10:00 fwd ops-webhook trigger", "10:00 alice push l0 r0", "10:02 alice sms l0 r0",
				"10:03 resolved", "10:03 fwd ops-webhook resolve"},
			status: StatusResolved,
		},
		{
			name:   "alerts ending auto-resolve",
			events: []timed{{"10:00", fire}, {"10:01", pageAlert("HighErrors", at(t, "10:04"), "")}}, until: "12:00",
			want: []string{"10:00 fwd ops-webhook trigger", "10:00 alice push l0 r0", "10:02 alice sms l0 r0",
				"10:04 resolved", "10:04 fwd ops-webhook resolve"},
			status: StatusResolved,
		},
		{
			name:   "snooze",
			events: []timed{{"10:00", fire}, {"10:01", Snooze{By: "alice", Until: at(t, "10:20")}}}, until: "10:22",
			want: []string{"10:00 fwd ops-webhook trigger", "10:00 alice push l0 r0", "10:01 snoozed",
				"10:01 fwd ops-webhook acknowledge", "10:20 retriggered", "10:20 alice push l0 r0", "10:22 alice sms l0 r0"},
			status: StatusTriggered,
		},
		{
			name:   "escalate now",
			events: []timed{{"10:00", fire}, {"10:01", EscalateNow{By: "alice"}}}, until: "10:12",
			want: []string{"10:00 fwd ops-webhook trigger", "10:00 alice push l0 r0",
				"10:01 carol email l1 r0", "10:02 alice sms l0 r0", "10:05 alice voice l0 r0",
				"10:11 alice push l0 r1"},
			status: StatusTriggered,
		},
		{
			name:   "reassign",
			events: []timed{{"10:00", fire}, {"10:01", Reassign{By: "alice", To: "bob"}}}, until: "10:17",
			want: []string{"10:00 fwd ops-webhook trigger", "10:00 alice push l0 r0", "10:01 reassigned",
				"10:01 bob push l0 r0", "10:03 bob sms l0 r0", "10:16 carol email l1 r0"},
			status: StatusTriggered,
		},
		{
			name: "silenced from the start, then lifted",
			events: []timed{{"10:00", pageAlert("HighErrors", time.Time{}, "silence:sil-1")},
				{"10:10", pageAlert("HighErrors", time.Time{}, "")}}, until: "10:12",
			want: []string{"10:00 suppressed", "10:10 unsuppressed", "10:10 fwd ops-webhook trigger",
				"10:10 alice push l0 r0", "10:12 alice sms l0 r0"},
			status: StatusTriggered,
		},
		{
			name:   "inhibited mid-escalation",
			events: []timed{{"10:00", fire}, {"10:03", pageAlert("HighErrors", time.Time{}, "inhibit:0123")}},
			until:  "11:30",
			want: []string{"10:00 fwd ops-webhook trigger", "10:00 alice push l0 r0", "10:02 alice sms l0 r0",
				"10:03 suppressed"},
			status: StatusTriggered,
		},
		{
			name:   "schedule resolved when each level starts",
			events: []timed{{"d2 08:50", fire}}, until: "d2 09:17",
			want: []string{"08:50 fwd ops-webhook trigger", "08:50 alice push l0 r0", "08:52 alice sms l0 r0",
				"08:55 alice voice l0 r0", "09:05 carol email l1 r0", "09:15 bob push l0 r1", "09:17 bob sms l0 r1"},
			status: StatusTriggered,
		},
		{
			name: "group_wait delays paging; single level without escalation",
			events: []timed{{"10:00", AlertsChanged{Alerts: []IncidentAlert{{Fingerprint: "t1",
				Alert: Alert{Labels: map[string]string{"severity": "ticket", "alertname": "Disk"}}}}}}},
			until: "12:00",
			want:  []string{"10:01 carol email l0 r0"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st, log, _ := simulate(t, c, tt.events, at(t, tt.until))
			if !reflect.DeepEqual(log, tt.want) {
				t.Errorf("log:\n  %s\nwant:\n  %s", strings.Join(log, "\n  "), strings.Join(tt.want, "\n  "))
			}
			if tt.status != "" && st.Status != tt.status {
				t.Errorf("status %s, want %s", st.Status, tt.status)
			}
		})
	}
}

func cloneStrings(s []string) []string { return append([]string(nil), s...) }

// TestStepKeys checks idempotency keys: stable, and distinct per level,
// repeat, user, step and restart of escalation.
func TestStepKeys(t *testing.T) {
	c := loadConfig(t, "basic.good.yaml")
	_, _, acts := simulate(t, c, []timed{{"10:00", pageAlert("A", time.Time{}, "")}, {"10:03", Ack{By: "alice"}}}, at(t, "10:34"))
	var keys []string
	seen := map[string]bool{}
	for _, a := range acts {
		if n, ok := a.(Notify); ok {
			if seen[n.Key] {
				t.Errorf("duplicate key %s", n.Key)
			}
			seen[n.Key] = true
			keys = append(keys, n.Key)
		}
	}
	want := []string{"inc-1/e1/l0/r0/alice/s0", "inc-1/e1/l0/r0/alice/s1", "inc-1/e2/l0/r0/alice/s0"}
	if !reflect.DeepEqual(keys, want) {
		t.Errorf("keys %q, want %q", keys, want)
	}
}

// TestStepCatchUp: calling Step late (after downtime) produces the same
// notifications, in the same order, as calling it on time.
func TestStepCatchUp(t *testing.T) {
	c := loadConfig(t, "basic.good.yaml")
	now := at(t, "10:00")
	st := c.NewIncident("inc-1", c.Match(pageAlert("A", time.Time{}, "").Alerts[0].Labels)[0], now)
	st, _ = c.Step(st, now, pageAlert("A", time.Time{}, ""))
	_, acts := c.Step(st, at(t, "10:26"), Tick{})
	var got []string
	for _, a := range acts {
		if n, ok := a.(Notify); ok {
			got = append(got, fmt.Sprintf("%s %s l%d r%d", n.User, n.Method, n.Level, n.Repeat))
		}
	}
	want := []string{"alice sms l0 r0", "alice voice l0 r0", "carol email l1 r0", "alice push l0 r1"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}

// TestStepCopiesAlertsOnWrite: a step that changes no alert shares the
// alerts with the state it was given; one that changes them works on its
// own copy, so two steps from one state never see each other's alerts and
// the given state keeps its own.
func TestStepCopiesAlertsOnWrite(t *testing.T) {
	c := loadConfig(t, "basic.good.yaml")
	now := at(t, "10:00")
	st := c.NewIncident("inc-1", c.Match(pageAlert("A", time.Time{}, "").Alerts[0].Labels)[0], now)
	st, _ = c.Step(st, now, pageAlert("A", time.Time{}, ""))
	st, _ = c.Step(st, now, pageAlert("B", time.Time{}, ""))
	before := st.Clone()

	noted, _ := c.Step(st, now, Note{By: "alice", Text: "looking"})
	if &noted.Alerts[0] != &st.Alerts[0] {
		t.Error("a note copied the alerts")
	}
	withC, _ := c.Step(st, now, pageAlert("C", time.Time{}, ""))
	withD, _ := c.Step(st, now, pageAlert("D", time.Time{}, ""))
	ended, _ := c.Step(st, now.Add(time.Minute), pageAlert("A", now.Add(30*time.Second), ""))
	var batch AlertsChanged
	for _, n := range []string{"E", "0", "F", "Z", "C"} {
		batch.Alerts = append(batch.Alerts, pageAlert(n, time.Time{}, "").Alerts...)
	}
	withBatch, _ := c.Step(st, now, batch)
	if !reflect.DeepEqual(st, before) {
		t.Fatalf("Step changed the state it was given:\n%+v\nwant %+v", st, before)
	}
	names := func(s IncidentState) string {
		var out []string
		for _, a := range s.Alerts {
			out = append(out, fmt.Sprintf("%s ended=%v", a.Labels["alertname"], a.Ended))
		}
		sort.Strings(out)
		return strings.Join(out, ",")
	}
	for _, tc := range []struct {
		name string
		st   IncidentState
		want string
	}{
		{"given", st, "A ended=false,B ended=false"},
		{"plus C", withC, "A ended=false,B ended=false,C ended=false"},
		{"plus D", withD, "A ended=false,B ended=false,D ended=false"},
		{"A ended", ended, "A ended=true,B ended=false"},
		{"plus five in one step", withBatch, "0 ended=false,A ended=false,B ended=false,C ended=false,E ended=false,F ended=false,Z ended=false"},
	} {
		if got := names(tc.st); got != tc.want {
			t.Errorf("%s: alerts %s, want %s", tc.name, got, tc.want)
		}
		if !slices.IsSortedFunc(tc.st.Alerts, func(a, b IncidentAlert) int { return strings.Compare(a.Fingerprint, b.Fingerprint) }) {
			t.Errorf("%s: alerts not sorted by fingerprint", tc.name)
		}
	}
	if &withC.Alerts[0] == &withD.Alerts[0] || &withC.Alerts[0] == &st.Alerts[0] {
		t.Error("steps that add alerts share an array")
	}
}
