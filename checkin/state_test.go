package checkin

import (
	"testing"
	"time"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// TestStep runs the pure state machine through scenarios: each step is an
// event at an offset from t0, with the status and alert change expected.
func TestStep(t *testing.T) {
	spec := Spec{Name: "backup", Period: time.Hour, Grace: 10 * time.Minute}
	type step struct {
		at       time.Duration
		kind     Kind
		status   Status
		resolved Alert
		fired    Alert
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{"on time", []step{
			{0, Tick, StatusNew, "", ""},
			{50 * time.Minute, Success, StatusUp, "", ""},
			{110 * time.Minute, Tick, StatusUp, "", ""},
			{110 * time.Minute, Success, StatusUp, "", ""},
		}},
		{"late within grace", []step{
			{30 * time.Minute, Success, StatusUp, "", ""},
			{95 * time.Minute, Tick, StatusLate, "", ""},
			{100 * time.Minute, Tick, StatusLate, "", ""}, // exactly period + grace: still late
			{100 * time.Minute, Success, StatusUp, "", ""},
		}},
		{"missed", []step{
			{30 * time.Minute, Success, StatusUp, "", ""},
			{101 * time.Minute, Tick, StatusDown, "", AlertMissed},
			{150 * time.Minute, Tick, StatusDown, "", ""},
			{151 * time.Minute, Success, StatusUp, AlertMissed, ""},
		}},
		{"never ran: missed a period and grace after it was configured", []step{
			{69 * time.Minute, Tick, StatusLate, "", ""},
			{71 * time.Minute, Tick, StatusDown, "", AlertMissed},
		}},
		{"explicit failure", []step{
			{10 * time.Minute, Start, StatusNew, "", ""},
			{20 * time.Minute, Fail, StatusFailed, "", AlertFailed},
			{200 * time.Minute, Tick, StatusFailed, "", ""},
			{210 * time.Minute, Success, StatusUp, AlertFailed, ""},
		}},
		{"failure while missed switches the alert", []step{
			{80 * time.Minute, Tick, StatusDown, "", AlertMissed},
			{81 * time.Minute, Fail, StatusFailed, AlertMissed, AlertFailed},
			{82 * time.Minute, Start, StatusFailed, "", ""},
			{83 * time.Minute, Success, StatusUp, AlertFailed, ""},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := State{Created: t0}
			for i, st := range tt.steps {
				now := t0.Add(st.at)
				var c Change
				s, c = Step(s, spec, Event{Kind: st.kind}, now)
				if got := s.Status(spec, now); got != st.status {
					t.Fatalf("step %d (%s at %s): status %s, want %s", i, st.kind, st.at, got, st.status)
				}
				if c.Resolved != st.resolved || c.Fired != st.fired {
					t.Fatalf("step %d (%s at %s): change %+v, want resolved %q fired %q", i, st.kind, st.at, c, st.resolved, st.fired)
				}
			}
		})
	}
}

// TestStepDuration: a start then a success or failure measures the run;
// a success without a start keeps the last duration; the message is kept.
func TestStepDuration(t *testing.T) {
	spec := Spec{Period: time.Hour, Grace: time.Minute}
	s := State{Created: t0}
	s, _ = Step(s, spec, Event{Kind: Start}, t0.Add(time.Minute))
	if s.Started != t0.Add(time.Minute) {
		t.Fatalf("started = %v", s.Started)
	}
	s, _ = Step(s, spec, Event{Kind: Success, Message: "copied 3 GB"}, t0.Add(4*time.Minute))
	if s.LastDuration != 3*time.Minute || !s.Started.IsZero() || s.Message != "copied 3 GB" || s.Pings != 2 {
		t.Fatalf("after success: %+v", s)
	}
	s, _ = Step(s, spec, Event{Kind: Success}, t0.Add(5*time.Minute))
	if s.LastDuration != 3*time.Minute || s.Message != "" {
		t.Fatalf("success without start: %+v", s)
	}
	s, _ = Step(s, spec, Event{Kind: Start}, t0.Add(6*time.Minute))
	s, _ = Step(s, spec, Event{Kind: Fail, Message: "disk full"}, t0.Add(6*time.Minute+30*time.Second))
	if s.LastDuration != 30*time.Second || !s.Failed || s.LastFailure != t0.Add(6*time.Minute+30*time.Second) {
		t.Fatalf("after failure: %+v", s)
	}
	if s.Alert != AlertFailed || s.AlertSince != s.LastFailure {
		t.Fatalf("alert %q since %v", s.Alert, s.AlertSince)
	}
}

// TestNext: the next status change without a check-in.
func TestNext(t *testing.T) {
	spec := Spec{Period: time.Hour, Grace: time.Minute}
	s := State{Created: t0, LastSuccess: t0}
	if got, want := s.Next(spec, t0), t0.Add(time.Hour+1); !got.Equal(want) {
		t.Errorf("up: next %v, want %v", got, want)
	}
	if got, want := s.Next(spec, t0.Add(time.Hour+time.Second)), t0.Add(time.Hour+time.Minute+1); !got.Equal(want) {
		t.Errorf("late: next %v, want %v", got, want)
	}
	if got := s.Next(spec, t0.Add(2*time.Hour)); !got.IsZero() {
		t.Errorf("down: next %v, want none", got)
	}
}
