package pager

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"
)

// reloadBase is the config of the reload tests: alice (push, then sms
// after 2m) is on call in schedule primary on the test date; level 2
// pages bob and dave.
const reloadBase = `
pager:
  users:
    - name: alice
      contact: {push: alice-topic, sms: "+1555"}
      notification_rules: [{after: 0m, method: push}, {after: 2m, method: sms}]
    - {name: bob, contact: {email: bob@example.com}}
    - {name: dave, contact: {push: dave-topic}}
  schedules:
    - name: primary
      time_zone: UTC
      layers:
        - {name: daily, members: [alice, bob], rotation: daily, start: 2026-01-05T09:00}
  escalation_policies:
    - name: default
      levels:
        - {targets: [schedule:primary], escalate_after: 15m}
        - {targets: [user:bob, user:dave], escalate_after: 10m}
    - name: spare
      levels:
        - {targets: [user:dave]}
  channels:
    - {name: push, type: console}
    - {name: sms, type: console}
    - {name: email, type: console}
  routes:
    - {name: pages, matchers: ['severity="page"'], group_by: [alertname], group_wait: 0s, escalation_policy: default}
`

// reloadVariants are edits of reloadBase, each a list of old/new pairs.
var reloadVariants = map[string][]string{
	"same":            nil,
	"rename policy":   {"name: default", "name: renamed", "escalation_policy: default", "escalation_policy: renamed"},
	"rename schedule": {"name: primary", "name: oncall", "schedule:primary", "schedule:oncall"},
	"remove alice": {`    - name: alice
      contact: {push: alice-topic, sms: "+1555"}
      notification_rules: [{after: 0m, method: push}, {after: 2m, method: sms}]
`, "", "members: [alice, bob]", "members: [bob]"},
	"remove dave": {"    - {name: dave, contact: {push: dave-topic}}\n", "", "[user:bob, user:dave]", "[user:bob]",
		"targets: [user:dave]", "targets: [user:bob]"},
	"remove spare":       {"    - name: spare\n      levels:\n        - {targets: [user:dave]}\n", ""},
	"shorten escalation": {"escalate_after: 15m", "escalate_after: 5m"},
	"slower sms":         {"{after: 2m, method: sms}", "{after: 4m, method: sms}"},
	"remove alice, rename": {`    - name: alice
      contact: {push: alice-topic, sms: "+1555"}
      notification_rules: [{after: 0m, method: push}, {after: 2m, method: sms}]
`, "", "members: [alice, bob]", "members: [bob]",
		"name: default", "name: renamed", "escalation_policy: default", "escalation_policy: renamed"},
}

func reloadConfig(t testing.TB, variant string) *Config {
	t.Helper()
	edits, ok := reloadVariants[variant]
	if !ok {
		t.Fatalf("no variant %q", variant)
	}
	text := reloadBase
	for i := 0; i+1 < len(edits); i += 2 {
		if !strings.Contains(text, edits[i]) {
			t.Fatalf("variant %q: %q not in the config", variant, edits[i])
		}
		text = strings.ReplaceAll(text, edits[i], edits[i+1])
	}
	c, err := ParseConfig(variant+".yml", []byte(text))
	if err != nil {
		t.Fatalf("variant %q: %v", variant, err)
	}
	return c
}

// reloadIncidents returns open incidents using the base config: inc-1 is
// paging alice (policy default, schedule primary); inc-2 was reassigned
// to dave and acknowledged; inc-3 is resolved and used policy spare.
func reloadIncidents(t *testing.T, c *Config) []IncidentState {
	t.Helper()
	now := at(t, "10:00")
	fire := pageAlert("HighErrors", time.Time{}, "")
	m := c.Match(fire.Alerts[0].Labels)[0]
	inc1, _ := c.Step(c.NewIncident("inc-1", m, now), now, fire)
	inc2, _ := c.Step(c.NewIncident("inc-2", m, now), now, fire)
	inc2, _ = c.Step(inc2, now, Reassign{By: "x", To: "dave"})
	inc2, _ = c.Step(inc2, now, Ack{By: "dave"})
	inc3 := IncidentState{ID: "inc-3", Policy: "spare", Status: StatusResolved, Assignee: "dave"}
	if len(inc1.Planned) == 0 || inc1.Planned[0].User != "alice" || inc2.Assignee != "dave" || inc2.Status != StatusAcknowledged {
		t.Fatalf("fixtures: %+v / %+v", inc1, inc2)
	}
	return []IncidentState{inc1, inc2, inc3}
}

func TestCheckReload(t *testing.T) {
	old := reloadConfig(t, "same")
	open := reloadIncidents(t, old)
	tests := []struct {
		variant string
		want    []string // the error's lines; none for accepted
	}{
		{"same", nil},
		{"rename policy", []string{`escalation policy "default" is used by open incidents inc-1, inc-2`}},
		{"rename schedule", []string{`schedule "primary" is used by open incidents inc-1, inc-2`}},
		{"remove alice", []string{`user "alice" is used by open incidents inc-1`}},
		{"remove dave", []string{`user "dave" is used by open incidents inc-2`}},
		{"remove alice, rename", []string{`escalation policy "default" is used by open incidents inc-1, inc-2`,
			`user "alice" is used by open incidents inc-1`}},
		// Only the resolved inc-3 used spare.
		{"remove spare", nil},
		{"shorten escalation", nil},
		{"slower sms", nil},
	}
	for _, tt := range tests {
		t.Run(tt.variant, func(t *testing.T) {
			err := CheckReload(open, old, reloadConfig(t, tt.variant))
			if tt.want == nil {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if !errors.Is(err, ErrInUse) {
				t.Fatalf("err %v, want ErrInUse", err)
			}
			if got := strings.Split(err.Error(), "\n"); !slices.Equal(got, tt.want) {
				t.Errorf("error:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(tt.want, "\n  "))
			}
		})
	}
	t.Run("no open incidents", func(t *testing.T) {
		for v := range reloadVariants {
			if err := CheckReload(open[2:], old, reloadConfig(t, v)); err != nil {
				t.Errorf("%s: %v", v, err)
			}
		}
	})
	t.Run("ids in numeric order", func(t *testing.T) {
		var many []IncidentState
		for _, id := range []string{"inc-10", "inc-9", "inc-100"} {
			many = append(many, IncidentState{ID: id, Policy: "default", Status: StatusTriggered})
		}
		err := CheckReload(many, old, reloadConfig(t, "rename policy"))
		if want := `escalation policy "default" is used by open incidents inc-9, inc-10, inc-100`; err == nil || err.Error() != want {
			t.Errorf("got %v, want %s", err, want)
		}
	})
}

// timelineHas reports whether incident id's timeline has an entry of kind
// whose text contains text.
func timelineHas(t *testing.T, p *Pager, id, kind, text string) bool {
	t.Helper()
	_, tl, err := p.Incident(id)
	if err != nil {
		t.Fatal(err)
	}
	return slices.ContainsFunc(tl, func(e TimelineEntry) bool { return e.Kind == kind && strings.Contains(e.Text, text) })
}

// TestPagerReload drives the reload rule through the runtime.
func TestPagerReload(t *testing.T) {
	const (
		alicePush = "10:00 push trigger inc-1 alice@alice-topic"
		aliceSMS  = "10:02 sms trigger inc-1 alice@+1555"
	)
	t.Run("refused while in use, escalation goes on", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			h := startPaged(t)
			defer h.stop()
			synctest.Wait()
			h.expect(alicePush)
			old := h.p.Config()
			for _, v := range []string{"rename policy", "rename schedule", "remove alice"} {
				err := h.p.Reload(reloadConfig(t, v))
				if !errors.Is(err, ErrInUse) || !strings.Contains(err.Error(), "inc-1") {
					t.Errorf("%s: Reload = %v, want ErrInUse naming inc-1", v, err)
				}
				if err := h.p.CheckReload(reloadConfig(t, v)); !errors.Is(err, ErrInUse) {
					t.Errorf("%s: CheckReload = %v", v, err)
				}
			}
			if h.p.Config() != old {
				t.Error("a refused reload changed the config")
			}
			h.advance("10:16")
			h.expect(aliceSMS, "10:15 email trigger inc-1 bob@bob@example.com", "10:15 push trigger inc-1 dave@dave-topic")
		})
	})
	t.Run("removed user never paged", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			h := startPaged(t)
			defer h.stop()
			h.advance("10:03")
			h.expect(alicePush, aliceSMS)
			if err := h.p.Reload(reloadConfig(t, "remove dave")); err != nil {
				t.Fatalf("dave is not in use yet: %v", err)
			}
			h.advance("10:16")
			h.expect("10:15 email trigger inc-1 bob@bob@example.com")
		})
	})
	t.Run("shorter escalate_after applies to the open incident", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			h := startPaged(t)
			defer h.stop()
			h.advance("10:03")
			h.expect(alicePush, aliceSMS)
			if err := h.p.Reload(reloadConfig(t, "shorten escalation")); err != nil {
				t.Fatal(err)
			}
			if !timelineHas(t, h.p, "inc-1", EntryReconfigured, "next level change 2026-01-05T10:05:00Z (was 2026-01-05T10:15:00Z)") {
				t.Error("no reconfigured entry on the timeline")
			}
			h.advance("10:06")
			h.expect("10:05 email trigger inc-1 bob@bob@example.com", "10:05 push trigger inc-1 dave@dave-topic")
		})
	})
	t.Run("passed due time fires at once", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			h := startPaged(t)
			defer h.stop()
			h.advance("10:07")
			h.expect(alicePush, aliceSMS)
			if err := h.p.Reload(reloadConfig(t, "shorten escalation")); err != nil {
				t.Fatal(err)
			}
			synctest.Wait()
			h.expect("10:07 email trigger inc-1 bob@bob@example.com", "10:07 push trigger inc-1 dave@dave-topic")
		})
	})
	t.Run("personal steps retimed", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			h := startPaged(t)
			defer h.stop()
			h.advance("10:01")
			h.expect(alicePush)
			if err := h.p.Reload(reloadConfig(t, "slower sms")); err != nil {
				t.Fatal(err)
			}
			h.advance("10:05")
			h.expect("10:04 sms trigger inc-1 alice@+1555")
		})
	})
}

// TestPagerRestartWithOtherConfig: a restart is a reload nobody could
// refuse. A vanished policy makes the incident stuck, loudly; a vanished
// user's pending steps are skipped with a timeline entry.
func TestPagerRestartWithOtherConfig(t *testing.T) {
	first := func(t *testing.T, store *MemStore) {
		h := newHarnessWith(t, store, "10:00", reloadConfig(t, "same"))
		h.start()
		if err := h.p.Receive(page("HighErrors", "c1")); err != nil {
			t.Fatal(err)
		}
		h.advance("10:01")
		h.expect("10:00 push trigger inc-1 alice@alice-topic")
		h.stop()
	}
	t.Run("policy gone", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			store := NewMemStore()
			first(t, store)
			h := newHarnessWith(t, store, "10:01", reloadConfig(t, "remove alice, rename"))
			h.start()
			defer h.stop()
			h.advance("10:30")
			// alice's sms (her user is gone) and level 2 (the policy is gone)
			// never go out.
			h.expect()
			st, _, err := h.p.Incident("inc-1")
			if err != nil {
				t.Fatal(err)
			}
			if want := `escalation policy "default" not found`; st.Stuck != want {
				t.Errorf("Stuck = %q, want %q", st.Stuck, want)
			}
			if !timelineHas(t, h.p, "inc-1", EntryStuck, "broken invariant") {
				t.Error("no stuck entry on the timeline")
			}
			if !timelineHas(t, h.p, "inc-1", EntrySkipped, "not notifying alice via sms") {
				t.Error("no skipped entry on the timeline")
			}
			if g := h.metrics.GetOrCreateGauge("watchdog_pager_incidents_stuck", nil).Get(); g != 1 {
				t.Errorf("stuck gauge %v, want 1", g)
			}
			if logs := h.logs.String(); !strings.Contains(logs, "level=ERROR") || !strings.Contains(logs, "incident=inc-1") ||
				!strings.Contains(logs, "broken invariant") {
				t.Errorf("no error line naming inc-1:\n%s", logs)
			}
			if err := h.p.Ack("inc-1", Actor{User: "bob"}); err != nil {
				t.Fatal(err)
			}
			if g := h.metrics.GetOrCreateGauge("watchdog_pager_incidents_stuck", nil).Get(); g != 0 {
				t.Errorf("stuck gauge after ack %v, want 0", g)
			}
		})
	})
	t.Run("user gone", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			store := NewMemStore()
			first(t, store)
			h := newHarnessWith(t, store, "10:01", reloadConfig(t, "remove alice"))
			h.start()
			defer h.stop()
			h.advance("10:16")
			h.expect("10:15 email trigger inc-1 bob@bob@example.com", "10:15 push trigger inc-1 dave@dave-topic")
			if !timelineHas(t, h.p, "inc-1", EntrySkipped, "not notifying alice via sms: no longer in the configuration") {
				t.Error("no skipped entry on the timeline")
			}
			st, _, _ := h.p.Incident("inc-1")
			if st.Stuck != "" {
				t.Errorf("Stuck = %q", st.Stuck)
			}
		})
	})
}

// TestPagerFailover: when every method of the only user of a level fails,
// the next level is paged at once, on the timeline.
func TestPagerFailover(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarnessWith(t, NewMemStore(), "10:00", reloadConfig(t, "same"))
		h.rec.fail["push"], h.rec.fail["sms"] = true, true
		h.start()
		defer h.stop()
		if err := h.p.Receive(page("HighErrors", "c1")); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		h.expect("10:00 email trigger inc-1 bob@bob@example.com")
		for _, text := range []string{"push to alice failed: trying sms now",
			"nobody reached at level 1 (sms to alice failed last): escalating now"} {
			if !timelineHas(t, h.p, "inc-1", EntryFailover, text) {
				t.Errorf("no failover entry %q", text)
			}
		}
		// bob was reached at level 2: dave's failure does not move on.
		st, _, _ := h.p.Incident("inc-1")
		if st.Level != 1 || st.Notified != 2 || st.Failed != 1 || st.EscalateAt.IsZero() {
			t.Errorf("level %d notified %d failed %d escalate at %v", st.Level, st.Notified, st.Failed, st.EscalateAt)
		}
		logs := h.logs.String()
		for _, want := range []string{"channel=push incident=inc-1 user=alice", "channel=sms incident=inc-1 user=alice"} {
			if !strings.Contains(logs, want) {
				t.Errorf("no log line with %q:\n%s", want, logs)
			}
		}
		if v := h.metrics.GetOrCreateCounter(`watchdog_pager_channel_failures_total{channel="push"}`).Get(); v != 2 {
			t.Errorf("push failures %d, want 2 (alice, dave)", v)
		}
	})
}

func TestStuckReason(t *testing.T) {
	c := reloadConfig(t, "same")
	now := at(t, "10:00")
	base := IncidentState{ID: "inc-1", Policy: "default", Status: StatusTriggered, Started: true, Escalating: true,
		Level: 0, LevelAt: now, EscalateAt: now.Add(15 * time.Minute)}
	tests := []struct {
		name string
		edit func(st *IncidentState)
		want string
	}{
		{"escalating", func(*IncidentState) {}, ""},
		{"policy gone", func(st *IncidentState) { st.Policy = "gone" }, `escalation policy "gone" not found`},
		{"nothing scheduled", func(st *IncidentState) { st.EscalateAt = time.Time{} },
			`nothing scheduled at level 1 of escalation policy "default"`},
		{"only a personal step", func(st *IncidentState) {
			st.EscalateAt = time.Time{}
			st.Planned = []PlannedNotify{{At: now, User: "alice", Method: "sms"}}
		}, ""},
		{"exhausted", func(st *IncidentState) { st.EscalateAt, st.Exhausted = time.Time{}, true }, ""},
		{"final level waits", func(st *IncidentState) { st.Policy, st.EscalateAt = "spare", time.Time{} }, ""},
		{"not escalating", func(st *IncidentState) { st.Escalating = false }, `escalation policy "default" is not escalating`},
		{"acknowledged", func(st *IncidentState) { st.Status, st.EscalateAt = StatusAcknowledged, time.Time{} }, ""},
		{"suppressed", func(st *IncidentState) { st.Suppressed, st.Escalating = true, false }, ""},
		{"not started", func(st *IncidentState) { st.Started, st.Escalating = false, false }, ""},
		{"no policy", func(st *IncidentState) { st.Policy, st.EscalateAt = "", time.Time{} }, ""},
		{"parallel policy gone", func(st *IncidentState) {
			st.Parallel = []PolicyEscalation{{Policy: "gone", Escalating: true}}
		}, `escalation policy "gone" not found`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := base.Clone()
			tt.edit(&st)
			if got := c.stuckReason(&st); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

// startPaged starts a harness at 10:00 on the "same" reload config with one
// page received: inc-1 for alice.
func startPaged(t *testing.T) *harness {
	t.Helper()
	h := newHarnessWith(t, NewMemStore(), "10:00", reloadConfig(t, "same"))
	h.start()
	if err := h.p.Receive(page("HighErrors", "c1")); err != nil {
		t.Fatal(err)
	}
	return h
}
