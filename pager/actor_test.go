package pager

import (
	"encoding/json"
	"testing"
	"time"
)

// TestActorVia checks that every human action records who acted and how
// in its timeline entries, and that system entries stay without Via.
func TestActorVia(t *testing.T) {
	c := loadConfig(t, "basic.good.yaml")
	now := day.Add(10 * time.Hour)
	p, _ := New(Options{Config: c, Now: func() time.Time { return now }})
	if err := p.Receive(page("A", "c1")); err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		kind string
		do   func() error
		by   Actor
	}{
		{EntryAck, func() error { return p.Ack("inc-1", Actor{"alice", ViaSMS}) }, Actor{"alice", ViaSMS}},
		{EntryNote, func() error { return p.Note("inc-1", Actor{"bob", ViaConsole}, "looking") }, Actor{"bob", ViaConsole}},
		// From acknowledged, the first escalation restarts the policy (by
		// the system); the second moves on, by carol.
		{EntryEscalated, func() error {
			if err := p.EscalateNow("inc-1", Actor{"carol", ViaSlack}); err != nil {
				return err
			}
			return p.EscalateNow("inc-1", Actor{"carol", ViaSlack})
		}, Actor{"carol", ViaSlack}},
		{EntryReassign, func() error { return p.Reassign("inc-1", Actor{"dave", ViaCLI}, "alice") }, Actor{"dave", ViaCLI}},
		{EntrySnooze, func() error { return p.Snooze("inc-1", Actor{"erin", ViaVoice}, now.Add(time.Hour)) }, Actor{"erin", ViaVoice}},
		{EntryResolved, func() error { return p.Resolve("inc-1", Actor{"frank", ViaLink}) }, Actor{"frank", ViaLink}},
	}
	for _, s := range steps {
		t.Run(s.kind, func(t *testing.T) {
			if err := s.do(); err != nil {
				t.Fatal(err)
			}
			_, tl, err := p.Incident("inc-1")
			if err != nil {
				t.Fatal(err)
			}
			found := false
			for _, e := range tl {
				if e.Kind == s.kind && e.By == s.by.User {
					found = true
					if e.Via != s.by.Via {
						t.Errorf("%s by %s: via %q, want %q", e.Kind, e.By, e.Via, s.by.Via)
					}
				}
				if e.By == BySystem && e.Via != "" {
					t.Errorf("system entry %s has via %q", e.Kind, e.Via)
				}
			}
			if !found {
				t.Errorf("no %s entry by %s in %+v", s.kind, s.by.User, tl)
			}
		})
	}
}

// TestTimelineEntryJSONCompat: entries stored before Via existed load
// with Via "", and Via survives a round trip.
func TestTimelineEntryJSONCompat(t *testing.T) {
	var old TimelineEntry
	if err := json.Unmarshal([]byte(`{"IncidentID":"inc-1","Seq":3,"Kind":"acknowledged","By":"alice"}`), &old); err != nil {
		t.Fatal(err)
	}
	if old.By != "alice" || old.Via != "" {
		t.Errorf("old entry: %+v", old)
	}
	b, err := json.Marshal(TimelineEntry{Kind: EntryAck, By: "alice", Via: ViaSMS})
	if err != nil {
		t.Fatal(err)
	}
	var back TimelineEntry
	if err := json.Unmarshal(b, &back); err != nil || back.Via != ViaSMS {
		t.Errorf("round trip: %s -> %+v %v", b, back, err)
	}
}

func TestActorString(t *testing.T) {
	for _, tc := range []struct {
		a    Actor
		want string
	}{{Actor{"alice", ViaSMS}, "alice (sms)"}, {Actor{"bob", ""}, "bob"}} {
		if got := tc.a.String(); got != tc.want {
			t.Errorf("%+v: %q, want %q", tc.a, got, tc.want)
		}
	}
}
