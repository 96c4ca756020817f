package pager

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"
)

// respRun drives one incident through Step: events at their times, Ticks
// in between, and logs every Notify as "15:04 user method key".
type respRun struct {
	t   *testing.T
	c   *Config
	st  IncidentState
	now time.Time
	log []string
	tl  []TimelineEntry
}

func newRespRun(t *testing.T, lset map[string]string, start time.Time) *respRun {
	c := loadConfig(t, "urgency.good.yaml")
	r := &respRun{t: t, c: c, st: c.NewIncident("inc-1", c.Match(lset)[0], start), now: start}
	r.step(AlertsChanged{Alerts: []IncidentAlert{{Fingerprint: Fingerprint(lset), Alert: Alert{Labels: lset}}}})
	return r
}

func (r *respRun) step(ev Event) {
	var acts []Action
	r.st, acts = r.c.Step(r.st, r.now, ev)
	for _, a := range acts {
		switch a := a.(type) {
		case Notify:
			r.log = append(r.log, fmt.Sprintf("%s %s %s %s", r.now.UTC().Format("15:04"), a.User, a.Method, a.Key))
		case Record:
			r.tl = append(r.tl, a.Entry)
		}
	}
}

// until ticks up to t, then applies ev at t (nil: only ticks).
func (r *respRun) until(t time.Time, ev Event) {
	for due := r.st.NextDue(); !due.IsZero() && !due.After(t); due = r.st.NextDue() {
		r.now = due
		r.step(Tick{})
	}
	r.now = t
	if ev != nil {
		r.step(ev)
	}
}

func (r *respRun) responder(user string) Responder {
	i := r.st.responder(user)
	if i < 0 {
		r.t.Fatalf("no responder %s in %+v", user, r.st.Responders)
	}
	return r.st.Responders[i]
}

func (r *respRun) texts(kind string) []string {
	var out []string
	for _, e := range r.tl {
		if e.Kind == kind {
			out = append(out, e.By+"/"+e.Via+": "+e.Text)
		}
	}
	return out
}

func TestRespondersAckTheirPart(t *testing.T) {
	start := utc("2026-01-05 10:00")
	r := newRespRun(t, map[string]string{"alertname": "Down", "severity": "page"}, start)
	r.until(start.Add(30*time.Second), Ack{By: "alice", Via: ViaConsole})
	r.log = nil
	// alice asks bob (a user) and carol (through the phone-only policy's
	// first level, which also names alice: she is not asked again).
	r.until(start.Add(time.Minute), AddResponders{By: "alice", Via: ViaConsole, Users: []string{"bob"}, Policies: []string{"phone-only"}, Message: "need the DB expert"})
	if got := r.texts(EntryResponderAdded); !slices.Equal(got, []string{
		"alice/console: asked bob to help: need the DB expert",
		"alice/console: asked carol to help (policy phone-only): need the DB expert",
		"alice/console: asked alice to help (policy phone-only): need the DB expert",
	}) {
		t.Errorf("added: %q", got)
	}
	// bob answers by acknowledging: his part only.
	r.until(start.Add(2*time.Minute), Ack{By: "bob", Via: ViaSMS})
	if r.st.Status != StatusAcknowledged || r.st.AckedBy != "alice" {
		t.Errorf("incident %s by %s, want acknowledged by alice", r.st.Status, r.st.AckedBy)
	}
	if b := r.responder("bob"); b.Status != ResponderAcknowledged || len(b.Planned) != 0 {
		t.Errorf("bob: %+v", b)
	}
	r.until(start.Add(3*time.Minute), RespondToRequest{By: "carol", Via: ViaSMS, Decline: true})
	r.until(start.Add(4*time.Minute), AddResponders{By: "alice", Via: ViaConsole, Users: []string{"bob", "carol"}})
	r.until(start.Add(time.Hour), nil)
	want := []string{
		"10:01 bob sms inc-1/resp1/bob/s0",
		"10:01 carol sms inc-1/resp2/carol/s0",
		"10:01 alice push inc-1/resp3/alice/s0",
		"10:02 alice sms inc-1/resp3/alice/s1",
		"10:03 alice voice inc-1/resp3/alice/s2",
		// carol declined, then was asked again: a new request, new keys.
		"10:04 carol sms inc-1/resp4/carol/s0",
	}
	if !slices.Equal(r.log, want) {
		t.Errorf("notifications:\n got %q\nwant %q", r.log, want)
	}
	if got := r.texts(EntryResponderAnswer); !slices.Equal(got, []string{
		"bob/sms: bob acknowledged the request to help", "carol/sms: carol declined the request to help",
	}) {
		t.Errorf("answers: %q", got)
	}
	if got := r.texts(EntryResponderSkipped); !slices.Equal(got, []string{"alice/console: bob is already a responder (acknowledged)"}) {
		t.Errorf("skipped: %q", got)
	}
	r.until(start.Add(61*time.Minute), Resolve{By: "alice", Via: ViaConsole})
	for _, x := range r.st.Responders {
		if len(x.Planned) != 0 {
			t.Errorf("%s still has notifications after resolve", x.User)
		}
	}
}

// TestRespondersLowUrgencyAtNight: a responder added to a low urgency
// incident at night is notified quietly, in their morning.
func TestRespondersLowUrgencyAtNight(t *testing.T) {
	start := utc("2026-03-28 22:30") // 23:30 CET, before the spring DST change
	r := newRespRun(t, map[string]string{"alertname": "Slow", "severity": "ticket"}, start)
	r.until(start.Add(time.Minute), AddResponders{By: "operator", Via: ViaAPI, Users: []string{"bob", "carol"}})
	r.until(start.Add(12*time.Hour), nil)
	want := []string{
		"22:31 bob push inc-1/resp1/bob/s0",        // bob: UTC, awake until 23:00
		"06:00 alice push inc-1/e1/l0/r0/alice/s0", // 08:00 CEST
		"07:00 bob email inc-1/resp1/bob/s1",       // 23:01 was too late: his morning
	}
	if !slices.Equal(r.log, want) {
		t.Errorf("notifications:\n got %q\nwant %q", r.log, want)
	}
	if got := r.texts(EntryNobodyOnCall); !slices.Equal(got, []string{"system/: not notifying carol: no push, email or slack contact for low urgency"}) {
		t.Errorf("carol: %q", got)
	}
}

func TestRespondersSchedule(t *testing.T) {
	c, err := ParseConfig("x.yaml", []byte(`pager:
  users:
    - {name: alice, contact: {push: a}}
    - {name: bob, contact: {push: b}}
  schedules:
    - {name: db, time_zone: UTC, layers: [{name: l, members: [bob], rotation: daily, start: 2026-01-01T00:00}]}
  escalation_policies: [{name: ops, levels: [{targets: [user:alice]}]}]
  routes: [{escalation_policy: ops, group_wait: 0s}]
`))
	if err != nil {
		t.Fatal(err)
	}
	start := utc("2026-01-05 10:00")
	lset := map[string]string{"alertname": "X"}
	r := &respRun{t: t, c: c, st: c.NewIncident("inc-1", c.Match(lset)[0], start), now: start}
	r.step(AlertsChanged{Alerts: []IncidentAlert{{Fingerprint: "f", Alert: Alert{Labels: lset}}}})
	r.step(AddResponders{By: "alice", Via: ViaCLI, Schedules: []string{"db", "nope"}})
	if !slices.Equal(r.log, []string{"10:00 alice push inc-1/e1/l0/r0/alice/s0", "10:00 bob push inc-1/resp1/bob/s0"}) {
		t.Errorf("notifications: %q", r.log)
	}
	if got := r.texts(EntryResponderSkipped); !slices.Equal(got, []string{"alice/cli: nobody on call in schedule nope"}) {
		t.Errorf("skipped: %q", got)
	}
	if b := r.responder("bob"); b.From != "schedule:db" || b.RequestedBy != "alice" || b.Via != ViaCLI || b.Status != ResponderRequested {
		t.Errorf("bob: %+v", b)
	}
}

func TestResponderRequestCheck(t *testing.T) {
	c := loadConfig(t, "urgency.good.yaml")
	many := make([]string, MaxResponders+1)
	for i := range many {
		many[i] = "alice"
	}
	tests := []struct {
		name string
		req  ResponderRequest
		want error
	}{
		{"ok", ResponderRequest{Users: []string{"bob"}, Policies: []string{"ops"}}, nil},
		{"empty", ResponderRequest{}, ErrBadResponders},
		{"too many", ResponderRequest{Users: many}, ErrBadResponders},
		{"long message", ResponderRequest{Users: []string{"bob"}, Message: string(make([]byte, MaxResponderMessage+1))}, ErrBadResponders},
		{"unknown user", ResponderRequest{Users: []string{"mallory"}}, ErrUnknownUser},
		{"unknown schedule", ResponderRequest{Schedules: []string{"x"}}, ErrUnknownTarget},
		{"unknown policy", ResponderRequest{Policies: []string{"x"}}, ErrUnknownTarget},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.req.check(c)
			if tt.want == nil && err != nil || tt.want != nil && !errors.Is(err, tt.want) {
				t.Errorf("check = %v, want %v", err, tt.want)
			}
		})
	}
}
