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

// memChunk is the capacity of a memTimeline's chunks.
const memChunk = 64

// memTimeline is one incident's timeline in the MemStore: entries in
// chunks of memChunk (the first grows to that size by doubling), so that a
// long timeline is never copied to grow and wastes less than a chunk of
// capacity, where one slice grown by append wastes up to half of it.
type memTimeline struct {
	chunks [][]memEntry
	n      int
}

// add appends es.
func (t *memTimeline) add(es ...memEntry) {
	for len(es) > 0 {
		last := len(t.chunks) - 1
		if last < 0 || len(t.chunks[last]) == cap(t.chunks[last]) {
			if last >= 0 && cap(t.chunks[last]) < memChunk {
				// The first chunk doubles up to memChunk.
				c := make([]memEntry, len(t.chunks[last]), min(memChunk, max(2*cap(t.chunks[last]), len(t.chunks[last])+len(es))))
				copy(c, t.chunks[last])
				t.chunks[last] = c
			} else {
				size := memChunk
				if last < 0 {
					size = min(memChunk, max(4, len(es)))
				}
				t.chunks = append(t.chunks, make([]memEntry, 0, size))
				last++
			}
		}
		c := t.chunks[last]
		k := min(len(es), cap(c)-len(c))
		t.chunks[last] = append(c, es[:k]...)
		t.n += k
		es = es[k:]
	}
}

// truncate drops the entries after the first n.
func (t *memTimeline) truncate(n int) {
	for t.n > n {
		last := len(t.chunks) - 1
		c := t.chunks[last]
		if drop := t.n - n; drop < len(c) {
			clear(c[len(c)-drop:])
			t.chunks[last] = c[:len(c)-drop]
			t.n = n
			return
		}
		t.n -= len(c)
		t.chunks[last] = nil
		t.chunks = t.chunks[:last]
	}
}

// entries returns the timeline's entries, in the timeline of incident id.
func (t *memTimeline) entries(id string) []TimelineEntry {
	if t == nil || t.n == 0 {
		return nil
	}
	out := make([]TimelineEntry, 0, t.n)
	for _, c := range t.chunks {
		for i := range c {
			out = append(out, c[i].entry(id))
		}
	}
	return out
}
