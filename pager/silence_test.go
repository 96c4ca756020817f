package pager

import (
	"errors"
	"strings"
	"testing"
	"testing/synctest"
	"time"
)

func TestValidateSilence(t *testing.T) {
	now := at(t, "10:00")
	hour := now.Add(time.Hour)
	many := make([]string, maxSilenceMatchers+1)
	for i := range many {
		many[i] = `a="b"`
	}
	tests := []struct {
		name string
		s    Silence
		want string // "" for valid; else a part of the error
	}{
		{"plain", Silence{Matchers: []string{`cluster="c1"`}, EndsAt: hour}, ""},
		{"one selective among catch-alls", Silence{Matchers: []string{`x=~".*"`, `cluster="c1"`}, EndsAt: hour}, ""},
		{"negative but selective", Silence{Matchers: []string{`team!=""`}, EndsAt: hour}, ""},
		{"starts later", Silence{Matchers: []string{`a="b"`}, StartsAt: hour, EndsAt: hour.Add(time.Hour)}, ""},
		{"no matchers", Silence{EndsAt: hour}, "no matchers"},
		{"regexp matching all", Silence{Matchers: []string{`x=~".*"`}, EndsAt: hour}, "must not match the empty string"},
		{"equal empty", Silence{Matchers: []string{`foo=""`}, EndsAt: hour}, "must not match the empty string"},
		{"not regexp non-empty", Silence{Matchers: []string{`foo!~".+"`}, EndsAt: hour}, "must not match the empty string"},
		{"all catch-alls", Silence{Matchers: []string{`foo!~".+"`, `x=~".*"`, `y!="z"`}, EndsAt: hour}, "must not match the empty string"},
		{"bad matcher", Silence{Matchers: []string{`a=~"("`}, EndsAt: hour}, "invalid silence"},
		{"too many matchers", Silence{Matchers: many}, "at most"},
		{"ends before start", Silence{Matchers: []string{`a="b"`}, StartsAt: hour, EndsAt: now.Add(time.Minute)}, "is not after startsAt"},
		{"ends in the past", Silence{Matchers: []string{`a="b"`}, StartsAt: now.Add(-2 * time.Hour), EndsAt: now.Add(-time.Hour)}, "in the past"},
		{"too long", Silence{Matchers: []string{`a="b"`}, EndsAt: now.Add(31 * 24 * time.Hour)}, "longer than the maximum 720h0m0s"},
		{"year 9999", Silence{Matchers: []string{`a="b"`}, EndsAt: time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)}, "longer than the maximum"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := ValidateSilence(tt.s, now, DefaultMaxSilenceDuration)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if !errors.Is(err, ErrInvalidSilence) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err %v, want ErrInvalidSilence with %q", err, tt.want)
			}
		})
	}
}

// TestPagerSilenceBounds: the pager refuses what ValidateSilence refuses,
// bounds snoozes, and a match-all silence already in the store mutes
// nothing.
func TestPagerSilenceBounds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := NewMemStore()
		// Stored before validation existed.
		if err := store.Update(func(tx Tx) error {
			return tx.PutSilence(Silence{ID: "old", Matchers: []string{`x=~".*"`}, StartsAt: at(t, "09:00"), EndsAt: at(t, "d2 09:00")})
		}); err != nil {
			t.Fatal(err)
		}
		h := newHarness(t, store, "10:00")
		h.start()
		defer h.stop()
		if _, err := h.p.CreateSilence(Silence{Matchers: []string{`foo=""`}, EndsAt: at(t, "11:00")}); !errors.Is(err, ErrInvalidSilence) {
			t.Errorf("match-all silence: %v", err)
		}
		if err := h.p.Receive(page("HighErrors", "c1")); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		h.expect("10:00 ops-webhook trigger inc-1", "10:00 push trigger inc-1 alice@alice-topic")
		if !strings.Contains(h.logs.String(), "silence=old") {
			t.Errorf("the invalid stored silence was not logged:\n%s", h.logs.String())
		}
		for _, until := range []time.Time{time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC), at(t, "10:00").Add(DefaultMaxSnooze + time.Minute), at(t, "09:00")} {
			if err := h.p.Snooze("inc-1", Actor{User: "alice"}, until); !errors.Is(err, ErrBadSnooze) {
				t.Errorf("snooze until %v: %v, want ErrBadSnooze", until, err)
			}
		}
		if err := h.p.Snooze("inc-1", Actor{User: "alice"}, at(t, "10:00").Add(DefaultMaxSnooze)); err != nil {
			t.Errorf("snooze of the maximum: %v", err)
		}
	})
}
