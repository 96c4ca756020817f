package pager

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"testing/synctest"
)

func majorAlert(severity string) AlertsChanged {
	lset := map[string]string{"alertname": "DBDown", "severity": severity}
	return AlertsChanged{Alerts: []IncidentAlert{{Fingerprint: Fingerprint(lset), Alert: Alert{Labels: lset}}}}
}

// TestStepMajor: a major route pages its own policy and every major
// policy in parallel, each with its own levels and keys, and posts to the
// war room once; acknowledge and resolve stop them all.
func TestStepMajor(t *testing.T) {
	c := loadConfig(t, "major.good.yaml")
	const warRoom = "10:00 war room war-room https://meet.example/war-room"
	tests := []struct {
		name   string
		events []timed
		until  string
		want   []string
		status Status
	}{
		{
			name: "both policies page at 0 with their own sequences", events: []timed{{"10:00", majorAlert("critical")}}, until: "10:30",
			want: []string{warRoom,
				"10:00 alice push l0 r0", "10:00 bob push l0 r0",
				"10:02 alice sms l0 r0", "10:02 bob sms l0 r0",
				"10:05 carol email l1 r0", // db-oncall escalates after 5m
				"10:10 carol email l1 r0", // ops after 10m
			},
			status: StatusTriggered,
		},
		{
			name:   "ack stops both",
			events: []timed{{"10:00", majorAlert("critical")}, {"10:01", Ack{By: "alice"}}}, until: "11:00",
			want:   []string{warRoom, "10:00 alice push l0 r0", "10:00 bob push l0 r0", "10:01 acknowledged"},
			status: StatusAcknowledged,
		},
		{
			name:   "resolve stops both",
			events: []timed{{"10:00", majorAlert("critical")}, {"10:03", Resolve{By: "bob"}}}, until: "11:00",
			want: []string{warRoom, "10:00 alice push l0 r0", "10:00 bob push l0 r0",
				"10:02 alice sms l0 r0", "10:02 bob sms l0 r0", "10:03 resolved"},
			status: StatusResolved,
		},
		{
			name:   "declared by hand",
			events: []timed{{"10:00", majorAlert("page")}, {"10:03", DeclareMajor{By: "alice"}}, {"10:04", DeclareMajor{By: "bob"}}}, until: "10:06",
			want: []string{"10:00 alice push l0 r0", "10:02 alice sms l0 r0",
				"10:03 major", "10:03 war room war-room https://meet.example/war-room", "10:03 bob push l0 r0",
				"10:05 bob sms l0 r0"},
			status: StatusTriggered,
		},
		{
			name:   "retrigger restarts both",
			events: []timed{{"10:00", majorAlert("critical")}, {"10:01", Snooze{By: "alice", Until: at(t, "10:30")}}}, until: "10:31",
			want: []string{warRoom, "10:00 alice push l0 r0", "10:00 bob push l0 r0", "10:01 snoozed",
				"10:30 retriggered", "10:30 alice push l0 r0", "10:30 bob push l0 r0"},
			status: StatusTriggered,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st, log, acts := simulate(t, c, tt.events, at(t, tt.until))
			if !reflect.DeepEqual(log, tt.want) {
				t.Errorf("log:\n  %s\nwant:\n  %s", strings.Join(log, "\n  "), strings.Join(tt.want, "\n  "))
			}
			if st.Status != tt.status {
				t.Errorf("status %s, want %s", st.Status, tt.status)
			}
			if !st.Major {
				t.Error("incident is not major")
			}
			seen := map[string]bool{}
			for _, a := range acts {
				if n, ok := a.(Notify); ok {
					if seen[n.Key] {
						t.Errorf("duplicate key %s", n.Key)
					}
					seen[n.Key] = true
					if parallel := strings.Contains(n.Key, "/p:db-oncall/"); parallel != (n.User == "bob") && n.User != "carol" {
						t.Errorf("key %s for %s", n.Key, n.User)
					}
				}
			}
		})
	}
}

// TestStepMajorKeys: the parallel policy's keys name it and its own epoch.
func TestStepMajorKeys(t *testing.T) {
	c := loadConfig(t, "major.good.yaml")
	_, _, acts := simulate(t, c, []timed{{"10:00", majorAlert("critical")}, {"10:01", Snooze{By: "alice", Until: at(t, "10:30")}}}, at(t, "10:31"))
	var keys []string
	for _, a := range acts {
		switch a := a.(type) {
		case Notify:
			keys = append(keys, a.Key)
		case WarRoomPost:
			keys = append(keys, a.Key)
		}
	}
	want := []string{"inc-1/war-room/war-room", "inc-1/e1/l0/r0/alice/s0", "inc-1/p:db-oncall/e1/l0/r0/bob/s0",
		"inc-1/e2/l0/r0/alice/s0", "inc-1/p:db-oncall/e2/l0/r0/bob/s0"}
	if !reflect.DeepEqual(keys, want) {
		t.Errorf("keys:\n  %s\nwant:\n  %s", strings.Join(keys, "\n  "), strings.Join(want, "\n  "))
	}
}

// TestPagerDeclareMajor: declaring an incident major through the Pager
// pages the route's major policies and posts to the war room once.
func TestPagerDeclareMajor(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarnessConfig(t, NewMemStore(), "10:00", "major.good.yaml")
		h.start()
		defer h.stop()
		a := Alert{Labels: map[string]string{"alertname": "DBDown", "severity": "page"}, Annotations: map[string]string{"summary": "db down"}}
		if err := h.p.Receive(a); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		h.expect("10:00 push trigger inc-1 alice@alice-topic")
		h.advance("10:01")
		if err := h.p.DeclareMajor("inc-1", Actor{User: "alice"}); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		h.expect("10:01 war-room trigger inc-1", "10:01 push trigger inc-1 bob@bob-topic")
		if err := h.p.DeclareMajor("inc-1", Actor{User: "alice"}); !errors.Is(err, ErrAlreadyMajor) {
			t.Errorf("second declaration: %v, want ErrAlreadyMajor", err)
		}
		if err := h.p.DeclareMajor("inc-9", Actor{User: "alice"}); !errors.Is(err, ErrNotFound) {
			t.Errorf("unknown incident: %v, want ErrNotFound", err)
		}
		st, tl, err := h.p.Incident("inc-1")
		if err != nil {
			t.Fatal(err)
		}
		if !st.Major || !st.WarRoomPosted || len(st.Parallel) != 1 || st.Parallel[0].Policy != "db-oncall" {
			t.Errorf("state: major %v posted %v parallel %+v", st.Major, st.WarRoomPosted, st.Parallel)
		}
		var kinds []string
		for _, e := range tl {
			if e.Kind == EntryMajor || e.Kind == EntryWarRoom {
				kinds = append(kinds, e.Kind+" "+e.By+" "+e.Text)
			}
		}
		want := []string{"major alice declared major; paging db-oncall", "war_room system war room opened in war-room: https://meet.example/war-room"}
		if !reflect.DeepEqual(kinds, want) {
			t.Errorf("timeline %q, want %q", kinds, want)
		}
		ds, err := h.p.Deliveries("inc-1")
		if err != nil {
			t.Fatal(err)
		}
		var msg string
		for _, d := range ds {
			if d.Kind == KindWarRoom {
				m := h.p.message(&st, d)
				msg = m.Title + " — " + m.Summary
			}
		}
		if want := "Major incident: DBDown: db down — War room: https://meet.example/war-room"; msg != want {
			t.Errorf("war room message %q, want %q", msg, want)
		}
		// Acknowledging stops both policies.
		if err := h.p.Ack("inc-1", Actor{User: "bob"}); err != nil {
			t.Fatal(err)
		}
		h.advance("10:30")
		h.expect()
		// Resolving a major incident does not post to the war room again.
		if err := h.p.Resolve("inc-1", Actor{User: "bob"}); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		h.expect()
	})
}
