package pager

import "time"

// memEntry is how the MemStore keeps a TimelineEntry: without its
// IncidentID (the timeline's key) and with the fields that only some kinds
// of entry use behind one pointer, nil when they are all empty. An alert
// storm records one "alert fired" entry per alert, so an incident of
// 10,000 alerts holds 10,000 entries: this form takes 96 bytes of the
// timeline's array per entry where a TimelineEntry takes 184.
type memEntry struct {
	at         time.Time
	seq, level int
	kind, by   string
	text       string
	rest       *memEntryRest
}

// memEntryRest holds a memEntry's seldom-set fields.
type memEntryRest struct {
	via, user, method, channel, key string
}

// compactEntry converts e to its MemStore form.
func compactEntry(e TimelineEntry) memEntry {
	m := memEntry{at: e.At, seq: e.Seq, level: e.Level, kind: e.Kind, by: e.By, text: e.Text}
	if e.Via != "" || e.User != "" || e.Method != "" || e.Channel != "" || e.Key != "" {
		m.rest = &memEntryRest{via: e.Via, user: e.User, method: e.Method, channel: e.Channel, key: e.Key}
	}
	return m
}

// entry converts m back, in the timeline of incident id.
func (m *memEntry) entry(id string) TimelineEntry {
	e := TimelineEntry{IncidentID: id, Seq: m.seq, At: m.at, Kind: m.kind, By: m.by, Level: m.level, Text: m.text}
	if r := m.rest; r != nil {
		e.Via, e.User, e.Method, e.Channel, e.Key = r.via, r.user, r.method, r.channel, r.key
	}
	return e
}

// expandTimeline returns the entries of incident id's timeline ms.
func expandTimeline(id string, ms []memEntry) []TimelineEntry {
	if len(ms) == 0 {
		return nil
	}
	out := make([]TimelineEntry, len(ms))
	for i := range ms {
		out[i] = ms[i].entry(id)
	}
	return out
}
