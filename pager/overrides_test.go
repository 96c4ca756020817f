package pager

import (
	"errors"
	"strings"
	"testing"
	"testing/synctest"
	"time"
)

// TestOverridePagesCover: a stored override ("bob covers for alice")
// changes who escalation pages, who WhoIsOnCall names, and is gone again
// once deleted.
func TestOverridePagesCover(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := NewMemStore()
		h := newHarness(t, store, "10:00")
		if u := onCall(t, h.p, at(t, "10:30")); u != "alice" {
			t.Fatalf("before the override %s is on call, want alice", u)
		}
		o, warns, err := h.p.AddOverride(ScheduleOverride{Schedule: "primary", User: "bob",
			Start: at(t, "10:00"), End: at(t, "12:00")}, Actor{User: "alice", Via: ViaCLI})
		if err != nil {
			t.Fatal(err)
		}
		if o.ID != "ovr-1" || !o.CreatedAt.Equal(h.now()) || len(warns) != 0 {
			t.Errorf("override %+v, warnings %q", o, warns)
		}
		if u := onCall(t, h.p, at(t, "10:30")); u != "bob" {
			t.Errorf("with the override %s is on call, want bob", u)
		}
		h.start()
		defer h.stop()
		if err := h.p.Receive(page("HighErrors", "c1")); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		h.expect("10:00 ops-webhook trigger inc-1", "10:00 push trigger inc-1 bob@bob-topic")

		// A second, overlapping one warns.
		_, warns, err = h.p.AddOverride(ScheduleOverride{Schedule: "primary", User: "alice",
			Start: at(t, "11:00"), End: at(t, "11:30")}, Actor{User: "bob", Via: ViaAPI})
		if err != nil {
			t.Fatal(err)
		}
		if len(warns) != 1 || !strings.Contains(warns[0], "overlaps ovr-1") {
			t.Errorf("warnings %q", warns)
		}
		list, err := h.p.Overrides("primary", h.now())
		if err != nil || len(list) != 2 || list[0].ID != "ovr-1" || list[1].CreatedBy != "bob" {
			t.Fatalf("Overrides = %+v, %v", list, err)
		}
		if err := h.p.DeleteOverride("primary", "ovr-1", false, Actor{User: "alice", Via: ViaCLI}); err != nil {
			t.Fatal(err)
		}
		if u := onCall(t, h.p, at(t, "10:30")); u != "alice" {
			t.Errorf("after the delete %s is on call, want alice", u)
		}
		_, warns, err = h.p.AddOverride(ScheduleOverride{Schedule: "primary", User: "alice",
			Start: at(t, "10:15"), End: at(t, "10:45")}, Actor{User: "bob", Via: ViaAPI})
		if err != nil || len(warns) != 1 || !strings.Contains(warns[0], "alice is on call for all of it already") {
			t.Errorf("redundant override: %q, %v", warns, err)
		}
		if err := h.p.DeleteOverride("primary", "ovr-1", false, Actor{User: "alice", Via: ViaCLI}); !errors.Is(err, ErrNotFound) {
			t.Errorf("second delete: %v, want ErrNotFound", err)
		}
		if err := h.p.DeleteOverride("other", "ovr-2", false, Actor{User: "alice", Via: ViaCLI}); !errors.Is(err, ErrNotFound) {
			t.Errorf("delete through another schedule: %v, want ErrNotFound", err)
		}
		logs := h.logs.String()
		for _, want := range []string{`msg="pager: schedule override added" id=ovr-1 schedule=primary user=bob`,
			`by="alice (cli)"`, `msg="pager: schedule override deleted" id=ovr-1 schedule=primary by="alice (cli)" force=false`} {
			if !strings.Contains(logs, want) {
				t.Errorf("log lacks %s:\n%s", want, logs)
			}
		}
	})
}

func onCall(t *testing.T, p *Pager, at time.Time) string {
	t.Helper()
	oc, err := p.WhoIsOnCall("schedule:primary", at)
	if err != nil || len(oc) != 1 {
		t.Fatalf("WhoIsOnCall = %v, %v", oc, err)
	}
	return oc[0].User
}

// TestOverrideRefused: malformed overrides are refused with a clear
// ErrBadOverride and nothing is stored.
func TestOverrideRefused(t *testing.T) {
	h := newHarness(t, NewMemStore(), "10:00")
	now := h.now()
	tests := []struct {
		name string
		o    ScheduleOverride
		want string
	}{
		{"unknown schedule", ScheduleOverride{Schedule: "nope", User: "bob", Start: now, End: now.Add(time.Hour)}, `unknown schedule "nope"`},
		{"unknown user", ScheduleOverride{Schedule: "primary", User: "mallory", Start: now, End: now.Add(time.Hour)}, `unknown user "mallory"`},
		{"end before start", ScheduleOverride{Schedule: "primary", User: "bob", Start: now, End: now.Add(-time.Hour)}, "is not after start"},
		{"empty", ScheduleOverride{Schedule: "primary", User: "bob", Start: now, End: now}, "is not after start"},
		{"missing", ScheduleOverride{Schedule: "primary", User: "bob"}, "start and end are required"},
		{"past", ScheduleOverride{Schedule: "primary", User: "bob", Start: now.Add(-2 * time.Hour), End: now.Add(-time.Hour)}, "in the past"},
		{"too long", ScheduleOverride{Schedule: "primary", User: "bob", Start: now, End: now.Add(MaxOverrideDuration + time.Hour)}, "longer than 92 days"},
		{"too far", ScheduleOverride{Schedule: "primary", User: "bob", Start: now.AddDate(3, 0, 0), End: now.AddDate(3, 0, 1)}, "days ahead"},
		{"year 9999", ScheduleOverride{Schedule: "primary", User: "bob", Start: now, End: time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)}, "longer than"},
		{"comment", ScheduleOverride{Schedule: "primary", User: "bob", Start: now, End: now.Add(time.Hour), Comment: strings.Repeat("x", 2000)}, "comment longer"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := h.p.AddOverride(tt.o, Actor{User: "alice", Via: ViaAPI})
			if !errors.Is(err, ErrBadOverride) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("AddOverride = %v, want ErrBadOverride with %q", err, tt.want)
			}
		})
	}
	if list, err := h.p.Overrides("", time.Time{}); err != nil || len(list) != 0 {
		t.Errorf("stored %v, %v", list, err)
	}
}

// TestOverrideDeleteGap: deleting an override that fills a hole in the
// schedule is refused unless forced.
func TestOverrideDeleteGap(t *testing.T) {
	c := loadConfig(t, "basic.good.yaml")
	s := c.Schedules[0]
	// A layer that starts tomorrow: nobody is on call before.
	s.Layers[0].Start = at(t, "d2 09:00").Format("2006-01-02T15:04")
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	h := newHarnessWith(t, NewMemStore(), "10:00", c)
	if _, _, err := h.p.AddOverride(ScheduleOverride{Schedule: "primary", User: "carol", Start: at(t, "10:00"), End: at(t, "12:00")}, Actor{User: "alice", Via: ViaConsole}); err != nil {
		t.Fatal(err)
	}
	err := h.p.DeleteOverride("primary", "ovr-1", false, Actor{User: "alice", Via: ViaCLI})
	if !errors.Is(err, ErrOverrideGap) || !strings.Contains(err.Error(), "T10:00:00Z") {
		t.Fatalf("DeleteOverride = %v, want ErrOverrideGap at 10:00", err)
	}
	if err := h.p.DeleteOverride("primary", "ovr-1", true, Actor{User: "alice", Via: ViaCLI}); err != nil {
		t.Fatalf("forced: %v", err)
	}
}

// TestOverridePrune: overrides that ended more than overrideRetention ago
// are dropped when a new one is added; recent history stays.
func TestOverridePrune(t *testing.T) {
	store := NewMemStore()
	h := newHarness(t, store, "10:00")
	now := h.now()
	old := ScheduleOverride{ID: "ovr-old", Schedule: "primary", User: "bob", Start: now.Add(-overrideRetention - 2*time.Hour), End: now.Add(-overrideRetention - time.Hour)}
	recent := ScheduleOverride{ID: "ovr-recent", Schedule: "primary", User: "bob", Start: now.Add(-2 * time.Hour), End: now.Add(-time.Hour)}
	if err := store.Update(func(tx Tx) error {
		if err := tx.PutOverride(old); err != nil {
			return err
		}
		return tx.PutOverride(recent)
	}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := h.p.AddOverride(ScheduleOverride{Schedule: "primary", User: "bob", Start: now, End: now.Add(time.Hour)}, Actor{User: "bob"}); err != nil {
		t.Fatal(err)
	}
	list, err := h.p.Overrides("", time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, o := range list {
		ids = append(ids, o.ID)
	}
	if strings.Join(ids, ",") != "ovr-recent,ovr-1" {
		t.Errorf("stored %v, want ovr-recent and ovr-1", ids)
	}
}
