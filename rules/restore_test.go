package rules

import (
	"context"
	"testing"
	"time"
)

// runTimeline evaluates g every minute in [from, to], with up{instance="a"}
// set by down(minute), and returns the state of the alert after each step.
func runTimeline(h *harness, g *Group, from, to int, down func(int) bool) map[int]*Alert {
	out := map[int]*Alert{}
	for m := from; m <= to; m++ {
		ts := at(time.Duration(m) * time.Minute)
		v := 1.0
		if down(m) {
			v = 0
		}
		h.up(ts, map[string]float64{"a": v})
		g.Eval(context.Background(), ts)
		if as := g.Rules()[0].Alerts(); len(as) > 0 {
			out[m] = as[0]
		}
	}
	return out
}

func TestRestoreForState(t *testing.T) {
	const rule = `
groups:
  - name: g
    rules:
      - alert: Down
        expr: up == 0
        for: 20m
        annotations: {summary: 'down'}
`
	always := func(int) bool { return true }
	tests := []struct {
		name              string
		before, downUntil int // last evaluation before the restart, first after (minutes)
		wantActive        int // restored ActiveAt (minutes)
		wantFiring        int // first firing evaluation (minutes)
	}{
		// 5m pending, 15m left >= grace: downtime does not count.
		{name: "downtime shifts ActiveAt", before: 5, downUntil: 15, wantActive: 10, wantFiring: 30},
		// 15m pending, 5m left < grace 10m: fires grace after restart.
		{name: "grace period", before: 15, downUntil: 20, wantActive: 10, wantFiring: 30},
		// Already firing: fires again at once.
		{name: "was firing", before: 25, downUntil: 30, wantActive: 0, wantFiring: 30},
		// Beyond outage tolerance (1h): starts afresh.
		{name: "outage too long", before: 5, downUntil: 70, wantActive: 70, wantFiring: 90},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, rule)
			runTimeline(h, h.loadGroup(), 0, tc.before, always)
			h.takeSent()
			// Restart: a new manager over the same store.
			got := runTimeline(h, h.loadGroup(), tc.downUntil, tc.wantFiring, always)
			a := got[tc.downUntil]
			if a == nil || !a.ActiveAt.Equal(at(time.Duration(tc.wantActive)*time.Minute)) {
				t.Fatalf("after restart: %+v, want ActiveAt %dm", a, tc.wantActive)
			}
			for m := tc.downUntil; m <= tc.wantFiring; m++ {
				want := StatePending
				if m == tc.wantFiring {
					want = StateFiring
				}
				if got[m] == nil || got[m].State != want {
					t.Fatalf("at %dm: %+v, want %v", m, got[m], want)
				}
			}
			if s := h.takeSent(); s != "a:firing[down]" {
				t.Fatalf("sent %q", s)
			}
		})
	}
}

func TestRestoreShortForIsNotRestored(t *testing.T) {
	h := newHarness(t, `
groups:
  - name: g
    rules:
      - alert: Down
        expr: up == 0
        for: 5m
`)
	always := func(int) bool { return true }
	runTimeline(h, h.loadGroup(), 0, 3, always)
	got := runTimeline(h, h.loadGroup(), 4, 4, always)
	// for (5m) < ForGracePeriod (10m): pending afresh from the restart.
	if a := got[4]; a == nil || a.State != StatePending || !a.ActiveAt.Equal(at(4*time.Minute)) {
		t.Fatalf("got %+v", a)
	}
}

func TestRestoreKeepFiringFor(t *testing.T) {
	h := newHarness(t, `
groups:
  - name: g
    rules:
      - alert: Down
        expr: up == 0
        keep_firing_for: 10m
        annotations: {summary: '{{ $labels.instance }} down'}
`)
	// Down until 2m; from 3m kept firing by keep_firing_for (until 13m).
	downUntil2 := func(m int) bool { return m <= 2 }
	before := runTimeline(h, h.loadGroup(), 0, 4, downUntil2)
	if a := before[4]; a == nil || a.State != StateFiring || !a.KeepFiringSince.Equal(at(3*time.Minute)) {
		t.Fatalf("before restart: %+v", a)
	}
	if s := h.takeSent(); s != "a:firing[a down] a:firing[a down] a:firing[a down]" {
		t.Fatalf("sent before restart %q", s)
	}
	// Restart after 2m of downtime: the window resumes, shifted by 2m.
	after := runTimeline(h, h.loadGroup(), 6, 16, downUntil2)
	for m := 6; m <= 16; m++ {
		a := after[m]
		switch {
		case m < 15 && (a == nil || a.State != StateFiring):
			t.Fatalf("at %dm: %+v, want firing", m, a)
		case m >= 15 && a != nil:
			t.Fatalf("at %dm: %+v, want resolved", m, a)
		}
	}
	if a := after[6]; !a.KeepFiringSince.Equal(at(5 * time.Minute)) {
		t.Fatalf("KeepFiringSince %v, want 5m", a.KeepFiringSince)
	}
	// Sent at once after the restart (with annotations), re-sent when more
	// than the resend delay (1m) passed: at 6, 8, 10, 12 and 14m; resolved at 15m.
	if s := h.takeSent(); s != "a:firing[a down] a:firing[a down] a:firing[a down] a:firing[a down] a:firing[a down] a:inactive[a down]" {
		t.Fatalf("sent after restart %q", s)
	}
	if got := h.vector(`ALERTS_KEEP_FIRING_SINCE`, at(14*time.Minute)); got == "" {
		t.Fatal("no ALERTS_KEEP_FIRING_SINCE while kept firing")
	}
	if got := h.vector(`ALERTS_KEEP_FIRING_SINCE`, at(15*time.Minute)); got != "" {
		t.Fatalf("ALERTS_KEEP_FIRING_SINCE after resolution: %s", got)
	}
}

// Without the extra series the alert would be lost: a restart with the
// condition gone and no keep_firing_for state yields no alert.
func TestRestoreNoKeepFiringWithoutSeries(t *testing.T) {
	h := newHarness(t, `
groups:
  - name: g
    rules:
      - alert: Down
        expr: up == 0
`)
	downUntil2 := func(m int) bool { return m <= 2 }
	runTimeline(h, h.loadGroup(), 0, 2, downUntil2)
	after := runTimeline(h, h.loadGroup(), 3, 3, downUntil2)
	if a := after[3]; a != nil {
		t.Fatalf("got %+v", a)
	}
}
