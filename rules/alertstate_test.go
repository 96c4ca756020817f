package rules

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func at(d time.Duration) time.Time { return t0.Add(d) }

func found(names ...string) []*Alert {
	var out []*Alert
	for _, n := range names {
		out = append(out, &Alert{Labels: labels.FromStrings("alertname", "A", "instance", n), Value: 1})
	}
	return out
}

// describe renders alerts as "instance:state[@activeAt-offset]" sorted by labels.
func describe(as Alerts) string {
	var parts []string
	for _, a := range as.Sorted() {
		s := a.Labels.Get("instance") + ":" + a.State.String()
		if !a.KeepFiringSince.IsZero() {
			s += "(kf)"
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, " ")
}

func TestStep(t *testing.T) {
	type step struct {
		at      time.Duration
		found   []string
		want    string // describe() of the result
		wantErr error
	}
	tests := []struct {
		name   string
		params StepParams
		steps  []step
	}{
		{
			name:   "pending then firing then resolved then dropped",
			params: StepParams{For: 2 * time.Minute},
			steps: []step{
				{at: 0, found: []string{"a"}, want: "a:pending"},
				{at: time.Minute, found: []string{"a"}, want: "a:pending"},
				{at: 2 * time.Minute, found: []string{"a"}, want: "a:firing"},
				{at: 3 * time.Minute, found: nil, want: "a:inactive"},
				{at: 18 * time.Minute, found: nil, want: "a:inactive"}, // exactly 15m: kept
				{at: 18*time.Minute + time.Second, found: nil, want: ""},
			},
		},
		{
			name:   "for 0 fires at once",
			params: StepParams{},
			steps: []step{
				{at: 0, found: []string{"a", "b"}, want: "a:firing b:firing"},
				{at: time.Minute, found: []string{"b"}, want: "a:inactive b:firing"},
			},
		},
		{
			name:   "pending alert that goes away is dropped",
			params: StepParams{For: 5 * time.Minute},
			steps: []step{
				{at: 0, found: []string{"a"}, want: "a:pending"},
				{at: time.Minute, found: nil, want: ""},
			},
		},
		{
			name:   "flapping restarts the for clock",
			params: StepParams{For: 2 * time.Minute},
			steps: []step{
				{at: 0, found: []string{"a"}, want: "a:pending"},
				{at: time.Minute, found: nil, want: ""},
				{at: 2 * time.Minute, found: []string{"a"}, want: "a:pending"},
				{at: 3 * time.Minute, found: []string{"a"}, want: "a:pending"},
				{at: 4 * time.Minute, found: []string{"a"}, want: "a:firing"},
			},
		},
		{
			name:   "resolved alert that comes back is pending again",
			params: StepParams{For: time.Minute},
			steps: []step{
				{at: 0, found: []string{"a"}, want: "a:pending"},
				{at: time.Minute, found: []string{"a"}, want: "a:firing"},
				{at: 2 * time.Minute, found: nil, want: "a:inactive"},
				{at: 3 * time.Minute, found: []string{"a"}, want: "a:pending"},
			},
		},
		{
			name:   "keep_firing_for holds a firing alert",
			params: StepParams{KeepFiringFor: 3 * time.Minute},
			steps: []step{
				{at: 0, found: []string{"a"}, want: "a:firing"},
				{at: time.Minute, found: nil, want: "a:firing(kf)"},
				{at: 3 * time.Minute, found: nil, want: "a:firing(kf)"},
				{at: 4 * time.Minute, found: nil, want: "a:inactive(kf)"},
			},
		},
		{
			name:   "keep_firing_for resets when the condition holds again",
			params: StepParams{KeepFiringFor: 2 * time.Minute},
			steps: []step{
				{at: 0, found: []string{"a"}, want: "a:firing"},
				{at: time.Minute, found: nil, want: "a:firing(kf)"},
				{at: 2 * time.Minute, found: []string{"a"}, want: "a:firing"},
				{at: 3 * time.Minute, found: nil, want: "a:firing(kf)"},
				{at: 4 * time.Minute, found: nil, want: "a:firing(kf)"},
				{at: 5 * time.Minute, found: nil, want: "a:inactive(kf)"},
			},
		},
		{
			name:   "keep_firing_for does not hold pending alerts",
			params: StepParams{For: 5 * time.Minute, KeepFiringFor: 10 * time.Minute},
			steps: []step{
				{at: 0, found: []string{"a"}, want: "a:pending"},
				{at: time.Minute, found: nil, want: ""},
			},
		},
		{
			name:   "limit exceeded drops all alerts",
			params: StepParams{Limit: 1},
			steps: []step{
				{at: 0, found: []string{"a"}, want: "a:firing"},
				{at: time.Minute, found: []string{"a", "b"}, want: "", wantErr: ErrLimitExceeded},
				{at: 2 * time.Minute, found: []string{"a"}, want: "a:firing"},
			},
		},
		{
			name:   "limit counts kept-firing alerts but not resolved ones",
			params: StepParams{Limit: 1, KeepFiringFor: time.Hour},
			steps: []step{
				{at: 0, found: []string{"a"}, want: "a:firing"},
				{at: time.Minute, found: []string{"b"}, want: "", wantErr: ErrLimitExceeded},
			},
		},
		{
			name:   "duplicate labels keep the previous state",
			params: StepParams{},
			steps: []step{
				{at: 0, found: []string{"a"}, want: "a:firing"},
				{at: time.Minute, found: []string{"b", "b"}, want: "a:firing", wantErr: ErrDuplicateAlertLabelSet},
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var as Alerts
			for i, s := range tc.steps {
				prevDesc := describe(as)
				next, err := Step(as, found(s.found...), at(s.at), tc.params)
				if !errors.Is(err, s.wantErr) {
					t.Fatalf("step %d: err = %v, want %v", i, err, s.wantErr)
				}
				if got := describe(next); got != s.want {
					t.Fatalf("step %d at %v: got %q, want %q", i, s.at, got, s.want)
				}
				if describe(as) != prevDesc {
					t.Fatalf("step %d modified its input", i)
				}
				as = next
			}
		})
	}
}

func TestStepTimes(t *testing.T) {
	p := StepParams{For: time.Minute, KeepFiringFor: time.Minute}
	as, _ := Step(nil, found("a"), at(0), p)
	as, _ = Step(as, found("a"), at(time.Minute), p)
	as, _ = Step(as, nil, at(2*time.Minute), p)
	a := as.Sorted()[0]
	if !a.ActiveAt.Equal(at(0)) || !a.FiredAt.Equal(at(time.Minute)) || !a.KeepFiringSince.Equal(at(2*time.Minute)) {
		t.Fatalf("times: active %v fired %v kf %v", a.ActiveAt, a.FiredAt, a.KeepFiringSince)
	}
	as, _ = Step(as, nil, at(3*time.Minute), p)
	a = as.Sorted()[0]
	if a.State != StateInactive || !a.ResolvedAt.Equal(at(3*time.Minute)) {
		t.Fatalf("want resolved at 3m, got %v %v", a.State, a.ResolvedAt)
	}
	// Value and annotations follow the latest evaluation.
	f := found("b")
	f[0].Value, f[0].Annotations = 42, labels.FromStrings("summary", "x")
	as, _ = Step(as, f, at(4*time.Minute), p)
	f = found("b")
	f[0].Value, f[0].Annotations = 43, labels.FromStrings("summary", "y")
	as, _ = Step(as, f, at(5*time.Minute), p)
	b := as[f[0].Labels.Hash()]
	if b.Value != 43 || b.Annotations.Get("summary") != "y" || !b.ActiveAt.Equal(at(4*time.Minute)) {
		t.Fatalf("got value %v annotations %v active %v", b.Value, b.Annotations, b.ActiveAt)
	}
}

// A restored alert whose ActiveAt lies less than For in the past goes back to
// pending even if it was firing.
func TestStepFiringBackToPending(t *testing.T) {
	lset := labels.FromStrings("alertname", "A", "instance", "a")
	prev := Alerts{lset.Hash(): {State: StateFiring, Labels: lset, ActiveAt: at(0), FiredAt: at(0), LastSentAt: at(0)}}
	next, err := Step(prev, found("a"), at(time.Minute), StepParams{For: 5 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	a := next[lset.Hash()]
	if a.State != StatePending || !a.FiredAt.IsZero() || !a.LastSentAt.IsZero() {
		t.Fatalf("got %+v", a)
	}
}

func TestMarkSent(t *testing.T) {
	const resend, interval = time.Minute, 15 * time.Second
	p := StepParams{For: 30 * time.Second}
	var as Alerts
	var sent []string
	for i := range 15 {
		now := at(time.Duration(i) * interval)
		var f []*Alert
		if i < 8 {
			f = found("a")
		}
		as, _ = Step(as, f, now, p)
		for _, a := range markSent(as, now, resend, interval) {
			sent = append(sent, fmt.Sprintf("%v:%s", now.Sub(t0), a.State))
			if a.State == StateFiring && !a.ValidUntil.Equal(now.Add(4*resend)) {
				t.Errorf("ValidUntil = %v", a.ValidUntil)
			}
		}
	}
	// Fires at 30s; re-sent once more than a minute after (at 1m45s); resolved
	// at 2m and sent at once; then re-sent after the resend delay.
	want := "30s:firing 1m45s:firing 2m0s:inactive 3m15s:inactive"
	if got := strings.Join(sent, " "); got != want {
		t.Fatalf("sent %q, want %q", got, want)
	}
}
