package pager

import (
	"fmt"
	"slices"
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
	var none *memTimeline
	if got := none.entries("x"); got != nil {
		t.Errorf("entries of no timeline = %v, want nil", got)
	}
	if s := unsafe.Sizeof(memEntry{}); s > 96 {
		t.Errorf("memEntry is %d bytes, want at most 96", s)
	}
}

// TestMemTimeline: appends in runs of various lengths and truncations (a
// rollback) give the entries a plain slice would, and the capacity held
// stays within one chunk of the length.
func TestMemTimeline(t *testing.T) {
	for _, tc := range []struct {
		name string
		ops  []int // > 0: append that many entries; <= 0: truncate to -op
	}{
		{"one", []int{1}},
		{"one at a time past two chunks", slices.Repeat([]int{1}, 2*memChunk+3)},
		{"runs", []int{3, 5, 7, memChunk, 2*memChunk + 1, 2}},
		{"truncate inside the last chunk", []int{memChunk + 10, -(memChunk + 4), 3}},
		{"truncate to a chunk boundary", []int{2*memChunk + 5, -memChunk, 1}},
		{"truncate into the first chunk", []int{3 * memChunk, -5, memChunk}},
		{"truncate to nothing", []int{10, -0, 4}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var tl memTimeline
			var want []TimelineEntry
			seq := 0
			for _, op := range tc.ops {
				if op <= 0 {
					tl.truncate(-op)
					want = want[:-op]
					continue
				}
				var es []memEntry
				for range op {
					seq++
					e := TimelineEntry{IncidentID: "i", Seq: seq, Kind: EntryAlertFired, Text: fmt.Sprint(seq)}
					want = append(want, e)
					es = append(es, compactEntry(e))
				}
				tl.add(es...)
			}
			got := tl.entries("i")
			if len(want) == 0 {
				want = nil
			}
			if !slices.Equal(got, want) || tl.n != len(want) {
				t.Fatalf("entries (n=%d) = %v\nwant %v", tl.n, got, want)
			}
			capacity := 0
			for _, c := range tl.chunks {
				capacity += cap(c)
			}
			if capacity > len(want)+memChunk {
				t.Errorf("capacity %d for %d entries", capacity, len(want))
			}
		})
	}
}
