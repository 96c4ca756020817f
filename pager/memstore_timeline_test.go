package pager

import (
	"testing"
	"time"
	"unsafe"
)

func TestMemEntryRoundTrip(t *testing.T) {
	at := time.Date(2026, 12, 6, 19, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name string
		e    TimelineEntry
		rest bool
	}{
		{"alert fired", TimelineEntry{IncidentID: "i1", Seq: 3, At: at, Kind: EntryAlertFired, By: ByAlerts, Text: "Down: x"}, false},
		{"every field", TimelineEntry{IncidentID: "i1", Seq: 9, At: at, Kind: EntryNotify, By: BySystem, Via: ViaConsole,
			User: "alice", Method: "push", Channel: "hook", Key: "i1/n1", Level: 2, Text: "t"}, true},
		{"key only", TimelineEntry{IncidentID: "i2", Seq: 1, At: at, Kind: EntryForward, Key: "k"}, true},
		{"zero", TimelineEntry{IncidentID: "i3"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := compactEntry(tc.e)
			if (m.rest != nil) != tc.rest {
				t.Errorf("rest allocated = %v, want %v", m.rest != nil, tc.rest)
			}
			if got := m.entry(tc.e.IncidentID); got != tc.e {
				t.Errorf("round trip = %+v, want %+v", got, tc.e)
			}
		})
	}
	if got := expandTimeline("x", nil); got != nil {
		t.Errorf("expandTimeline of nothing = %v, want nil", got)
	}
	if s := unsafe.Sizeof(memEntry{}); s > 96 {
		t.Errorf("memEntry is %d bytes, want at most 96", s)
	}
}
