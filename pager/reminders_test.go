package pager

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"
)

// reminderConfig is testdata/basic.good.yaml with action_item_reminders
// set to cadence (none when "").
func reminderConfig(t *testing.T, cadence string) (*Config, error) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "basic.good.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	s := string(data)
	if cadence != "" {
		s = strings.Replace(s, "pager:\n", "pager:\n  action_item_reminders:\n    cadence: "+cadence+"\n", 1)
	}
	return ParseConfig("x.yaml", []byte(s))
}

// TestReminderCadenceConfig: the cadence defaults to a day, 0 turns
// reminders off, and values outside its bounds are refused at their line.
func TestReminderCadenceConfig(t *testing.T) {
	for _, tt := range []struct {
		cadence string
		want    time.Duration
	}{{"", DefaultReminderCadence}, {"0s", 0}, {"12h", 12 * time.Hour}, {"168h", 7 * 24 * time.Hour}} {
		c, err := reminderConfig(t, tt.cadence)
		if err != nil || c.ReminderCadence() != tt.want {
			t.Errorf("cadence %q: %v, %v; want %s", tt.cadence, c.ReminderCadence(), err, tt.want)
		}
	}
	for _, bad := range []string{"30m", "-1h", "9000h", "soon"} {
		if _, err := reminderConfig(t, bad); err == nil || !strings.Contains(err.Error(), "x.yaml:") {
			t.Errorf("cadence %s: %v, want an error at its line", bad, err)
		}
	}
}

// TestActionItemReminderCadence: with a 12h cadence alice (Europe/Berlin,
// waking 08:00-22:00 local) is reminded at once, then 12h later unless
// that falls in her night, when the reminder waits for her morning; by
// push only (never her sms or voice steps), without an ack link. With
// cadence 0 nobody is reminded.
func TestActionItemReminderCadence(t *testing.T) {
	for _, tt := range []struct {
		cadence string
		want    []string
	}{
		{"12h", []string{"10:00 push trigger inc-1 alice@alice-topic (no ack link)", // 11:00 in Berlin
			"07:00 push trigger inc-1 alice@alice-topic (no ack link)", // not 22:00 UTC (23:00 local): her 08:00
			"19:00 push trigger inc-1 alice@alice-topic (no ack link)"}},
		{"0s", nil},
	} {
		t.Run(tt.cadence, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				cfg, err := reminderConfig(t, tt.cadence)
				if err != nil {
					t.Fatal(err)
				}
				h := newHarnessWith(t, NewMemStore(), "10:00", cfg)
				if err := h.p.Receive(Alert{Labels: map[string]string{"alertname": "HighErrors", "severity": "page", "cluster": "c1"}}); err != nil {
					t.Fatal(err)
				}
				by := Actor{User: "bob", Via: ViaCLI}
				if err := h.p.Resolve("inc-1", by); err != nil {
					t.Fatal(err)
				}
				if _, err := h.p.CreatePostmortem("inc-1", PostmortemSections{Summary: "s"}, by); err != nil {
					t.Fatal(err)
				}
				if _, err := h.p.AddActionItem("inc-1", ActionItem{Title: "Alert on latency", Owner: "alice", Due: at(t, "00:00").AddDate(0, 0, -2)}, by); err != nil {
					t.Fatal(err)
				}
				h.start()
				synctest.Wait()
				var first []string // the reminder among the page and the resolve
				for _, l := range h.rec.take() {
					if strings.HasSuffix(l, "(no ack link)") {
						first = append(first, l)
					}
				}
				time.Sleep(at(t, "19:30").AddDate(0, 0, 1).Sub(h.now()))
				synctest.Wait()
				h.expect(tt.want[min(1, len(tt.want)):]...)
				if want := tt.want[:min(1, len(tt.want))]; !slices.Equal(first, want) {
					t.Errorf("reminders at start: %q, want %q", first, want)
				}
				h.stop()
			})
		})
	}
}

// TestReplicasOneReminder: of three replicas over one database only the
// leader reminds, and the overdue item's owner is reminded once.
func TestReplicasOneReminder(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarnessWith(t, NewMemStore(), "10:00", reloadConfig(t, "same"))
		rs := newReplicas(t, h, newFakeDB(), "a", "b", "c")
		lead, others := leader(t, rs)
		p := others[0].p
		if err := p.Receive(page("HighErrors", "c1")); err != nil {
			t.Fatal(err)
		}
		by := Actor{User: "bob", Via: ViaCLI}
		if err := p.Resolve("inc-1", by); err != nil {
			t.Fatal(err)
		}
		if _, err := p.CreatePostmortem("inc-1", PostmortemSections{Summary: "s"}, by); err != nil {
			t.Fatal(err)
		}
		if _, err := p.AddActionItem("inc-1", ActionItem{Title: "Alert on latency", Owner: "alice", Due: at(t, "00:00").AddDate(0, 0, -2)}, by); err != nil {
			t.Fatal(err)
		}
		h.advance("11:01") // the leader's loop looks again within the hour
		reminders := func(r *replicaHarness) (out []string) {
			for _, l := range r.sent() {
				if strings.HasSuffix(l, "(no ack link)") {
					out = append(out, l)
				}
			}
			return out
		}
		if got := reminders(lead); len(got) != 1 || !strings.HasPrefix(got[0], "11:00 push trigger inc-1 alice@") {
			t.Errorf("leader %s reminded %q, want alice once by push at 11:00", lead.name, got)
		}
		for _, r := range others {
			if got := reminders(r); len(got) != 0 {
				t.Errorf("follower %s reminded %q", r.name, got)
			}
		}
	})
}
