package pager

import (
	"errors"
	"strings"
	"testing"

	"github.com/watchdog-sre/watchdog/pager/calendar"
)

// TestCalendarFeeds: a feed's secret gives the schedule's (or the user's)
// shifts with the stored overrides applied; unknown, revoked, wrong-kind
// and oversized secrets are all ErrNotFound.
func TestCalendarFeeds(t *testing.T) {
	h := newHarness(t, NewMemStore(), "10:00")
	if _, _, err := h.p.AddOverride(ScheduleOverride{Schedule: "primary", User: "carol", Start: at(t, "12:00"), End: at(t, "13:00")}, Actor{User: "alice", Via: ViaCLI}); err != nil {
		t.Fatal(err)
	}
	sf, ssecret, err := h.p.CreateCalendarFeed(FeedSchedule, "primary", Actor{User: "operator", Via: ViaCLI})
	if err != nil {
		t.Fatal(err)
	}
	uf, usecret, err := h.p.CreateCalendarFeed(FeedUser, "carol", Actor{User: "carol", Via: ViaAPI})
	if err != nil {
		t.Fatal(err)
	}
	if len(ssecret) != 43 || ssecret == usecret || strings.Contains(sf.TokenHash, ssecret) || sf.ID != "cal-1" || uf.ID != "cal-2" {
		t.Fatalf("feeds %+v %+v, secrets %q %q", sf, uf, ssecret, usecret)
	}
	feed, err := h.p.CalendarFeed(FeedSchedule, ssecret)
	if err != nil {
		t.Fatal(err)
	}
	_, from, to := calendar.Window(h.now())
	var carol int
	for i, e := range feed.Events {
		if i > 0 && e.Start.Before(feed.Events[i-1].End) {
			t.Errorf("events overlap: %v", e)
		}
		if e.Summary == "carol on call" {
			carol++
			if !e.Start.Equal(at(t, "12:00")) || !e.End.Equal(at(t, "13:00")) {
				t.Errorf("carol's override event %v", e)
			}
		}
	}
	if carol != 1 || len(feed.Events) < 90 || feed.Events[0].End.Before(from) || feed.Events[len(feed.Events)-1].End.After(to) {
		t.Errorf("schedule feed: %d events, carol %d, window %v to %v", len(feed.Events), carol, from, to)
	}
	ufeed, err := h.p.CalendarFeed(FeedUser, usecret)
	if err != nil || len(ufeed.Events) != 1 || ufeed.Events[0].Summary != "On call: primary" {
		t.Fatalf("user feed %+v, %v", ufeed, err)
	}
	if !hasUID(feed.Events, ufeed.Events[0].UID) {
		t.Errorf("the override has another UID in the user's feed than in the schedule's")
	}

	// A secret one character off the real one (never equal to it: a
	// secret starting with "x" made this test pass the real one).
	other := "x" + ssecret[1:]
	if ssecret[0] == 'x' {
		other = "y" + ssecret[1:]
	}
	for name, try := range map[string]func() error{
		"unknown":   func() error { _, err := h.p.CalendarFeed(FeedSchedule, other); return err },
		"wrongkind": func() error { _, err := h.p.CalendarFeed(FeedUser, ssecret); return err },
		"empty":     func() error { _, err := h.p.CalendarFeed(FeedUser, ""); return err },
		"huge":      func() error { _, err := h.p.CalendarFeed(FeedUser, strings.Repeat("a", 1<<20)); return err },
	} {
		if err := try(); !errors.Is(err, ErrNotFound) {
			t.Errorf("%s: %v, want ErrNotFound", name, err)
		}
	}
	if err := h.p.RevokeCalendarFeed("cal-1", Actor{User: "alice", Via: ViaCLI}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.p.CalendarFeed(FeedSchedule, ssecret); !errors.Is(err, ErrNotFound) {
		t.Errorf("revoked: %v, want ErrNotFound", err)
	}
	if err := h.p.RevokeCalendarFeed("cal-9", Actor{User: "alice"}); !errors.Is(err, ErrNotFound) {
		t.Errorf("revoke unknown: %v", err)
	}
	list, err := h.p.CalendarFeeds()
	if err != nil || len(list) != 2 || list[0].RevokedBy != "alice (cli)" || list[0].CreatedBy != "operator (cli)" || !list[1].RevokedAt.IsZero() {
		t.Errorf("CalendarFeeds = %+v, %v", list, err)
	}
	for _, bad := range [][2]string{{FeedSchedule, "nope"}, {FeedUser, "mallory"}, {"team", "x"}} {
		if _, _, err := h.p.CreateCalendarFeed(bad[0], bad[1], Actor{User: "x"}); !errors.Is(err, ErrBadFeed) {
			t.Errorf("CreateCalendarFeed(%q, %q) = %v, want ErrBadFeed", bad[0], bad[1], err)
		}
	}
}

func hasUID(evs []calendar.Event, uid string) bool {
	for _, e := range evs {
		if e.UID == uid {
			return true
		}
	}
	return false
}
