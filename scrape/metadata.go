package scrape

import (
	"bytes"
	"hash/maphash"
	"maps"
	"runtime"
	"sync"
	"weak"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/textparse"
)

// Metadata is what a target says about one metric family: its TYPE, HELP
// and UNIT.
type Metadata struct {
	Type model.MetricType
	Help string
	Unit string
}

// TargetMetadata is the metadata of one active target, as
// /api/v1/targets/metadata lists it.
type TargetMetadata struct {
	// Job is the target's job_name.
	Job string
	// Labels are the target's labels after relabeling.
	Labels labels.Labels
	// Families maps a metric family name to its metadata, as exposed in the
	// target's last successful scrape. It is shared: do not modify it.
	Families map[string]Metadata
}

// Bounds of the metadata kept per target: a hostile target exposing
// millions of HELP lines must not be able to fill the memory. Families
// beyond maxMetadataFamilies, and the part of a HELP text beyond
// maxHelpLength, are dropped.
const (
	maxMetadataFamilies = 20_000
	maxHelpLength       = 4096
)

// metaSet is a published metadata map, never modified; targets whose
// metadata is the same share one (sharedMeta).
type metaSet struct{ families map[string]Metadata }

// get returns the map; nil for a nil set.
func (s *metaSet) get() map[string]Metadata {
	if s == nil {
		return nil
	}
	return s.families
}

// sharedMeta hands out one metaSet per distinct metadata map, so that a
// fleet of exporters of one version holds its HELP texts once, not once per
// target. It holds the sets weakly: a set no target publishes any longer is
// collected and its entry pruned.
type sharedMeta struct {
	seed maphash.Seed
	mu   sync.Mutex
	sets map[uint64][]weak.Pointer[metaSet] // by hashMeta
}

func newSharedMeta() *sharedMeta {
	return &sharedMeta{seed: maphash.MakeSeed(), sets: map[uint64][]weak.Pointer[metaSet]{}}
}

// share returns the set equal to m, making m one if there is none. A nil
// sharedMeta shares nothing.
func (t *sharedMeta) share(m map[string]Metadata) *metaSet {
	if t == nil {
		return &metaSet{m}
	}
	h := t.hash(m)
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, w := range t.sets[h] {
		if s := w.Value(); s != nil && maps.Equal(s.families, m) {
			return s
		}
	}
	s := &metaSet{m}
	t.sets[h] = append(t.sets[h], weak.Make(s))
	runtime.AddCleanup(s, t.prune, h)
	return s
}

// prune drops the collected sets under hash h.
func (t *sharedMeta) prune(h uint64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	live := t.sets[h][:0]
	for _, w := range t.sets[h] {
		if w.Value() != nil {
			live = append(live, w)
		}
	}
	if len(live) == 0 {
		delete(t.sets, h)
	} else {
		t.sets[h] = live
	}
}

// hash hashes m independently of its iteration order.
func (t *sharedMeta) hash(m map[string]Metadata) uint64 {
	var sum uint64
	var h maphash.Hash
	h.SetSeed(t.seed)
	for name, md := range m {
		h.Reset()
		for _, s := range []string{name, string(md.Type), md.Help, md.Unit} {
			h.WriteString(s)
			h.WriteByte(0xff) // no valid UTF-8 holds it: fields stay apart
		}
		sum += h.Sum64()
	}
	return sum
}

// metaCollector builds the metadata of one target from its scrapes. It is
// owned by the target's goroutine; published is the set of the last
// successful scrape whose metadata was collected, never modified once
// published. A scrape that does not call begin (the text fast path when
// the metadata lines repeat the last body's) keeps it.
type metaCollector struct {
	cur       map[string]Metadata // being built; nil when this scrape's metadata is not collected
	published *metaSet
	shared    *sharedMeta // nil: published sets are not shared
	// text is set while a scrape is parsed by promtext; repeatable when
	// the last scrape was, and succeeded: only then does "the metadata
	// lines repeat the last body's" mean "published is current".
	text, repeatable bool
}

// begin starts a scrape's metadata.
func (m *metaCollector) begin() {
	m.cur = make(map[string]Metadata, len(m.published.get()))
}

// set applies f to the family's entry being built; a new family beyond
// the bound is dropped.
func (m *metaCollector) set(name []byte, f func(*Metadata)) {
	if m.cur == nil {
		return
	}
	md, ok := m.cur[string(name)]
	if !ok && len(m.cur) >= maxMetadataFamilies {
		return
	}
	f(&md)
	m.cur[string(name)] = md
}

// entry records the TYPE, HELP or UNIT entry et of p; comments are
// ignored.
func (m *metaCollector) entry(p textparse.Parser, et textparse.Entry) {
	switch et {
	case textparse.EntryType:
		m.setType(p.Type())
	case textparse.EntryHelp:
		m.setHelp(p.Help())
	case textparse.EntryUnit:
		m.setUnit(p.Unit())
	}
}

func (m *metaCollector) setType(name []byte, t model.MetricType) {
	m.set(name, func(md *Metadata) { md.Type = t })
}

func (m *metaCollector) setHelp(name, help []byte) {
	if len(help) > maxHelpLength {
		help = help[:maxHelpLength]
	}
	m.set(name, func(md *Metadata) {
		if md.Help != string(help) {
			md.Help = string(help)
		}
	})
}

func (m *metaCollector) setUnit(name, unit []byte) {
	m.set(name, func(md *Metadata) {
		if md.Unit != string(unit) {
			md.Unit = string(unit)
		}
	})
}

// end publishes the scrape's metadata if the scrape succeeded and it was
// collected.
func (m *metaCollector) end(ok bool) {
	if ok && m.cur != nil {
		m.published = m.shared.share(m.cur)
	}
	m.repeatable = ok && m.text
	m.cur, m.text = nil, false
}

// scanText collects the HELP and TYPE lines of a text-format body, whose
// sample lines the fast path parsed without them: this runs only when the
// body's metadata lines differ from the previous body's. A malformed line
// is skipped (the parse reports it).
func (m *metaCollector) scanText(b []byte) {
	for len(b) > 0 {
		line := b
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			line, b = b[:i], b[i+1:]
		} else {
			b = nil
		}
		if len(line) == 0 || line[0] != '#' {
			continue
		}
		rest := bytes.TrimLeft(line[1:], " \t")
		var help bool
		switch {
		case bytes.HasPrefix(rest, []byte("HELP")):
			help = true
		case bytes.HasPrefix(rest, []byte("TYPE")):
		default:
			continue
		}
		after := rest[4:]
		rest = bytes.TrimLeft(after, " \t")
		if len(rest) == len(after) {
			continue // "# HELPX": a comment
		}
		name, text, ok := metaName(rest)
		if !ok {
			continue
		}
		if help {
			m.setHelp(name, unescapeHelp(text))
		} else {
			m.setType(name, model.MetricType(bytes.TrimSpace(text)))
		}
	}
}

// metaName splits a HELP or TYPE line's rest into the metric name (bare or
// quoted) and the text after the one byte that follows it.
func metaName(b []byte) (name, text []byte, ok bool) {
	if len(b) > 0 && b[0] == '"' {
		i := 1
		for ; i < len(b) && b[i] != '"'; i++ {
			if b[i] == '\\' {
				i++
			}
		}
		if i >= len(b) {
			return nil, nil, false
		}
		name, b = unescapeHelp(b[1:i]), b[i+1:]
	} else {
		i := bytes.IndexAny(b, " \t")
		if i < 0 {
			return b, nil, len(b) > 0
		}
		name, b = b[:i], b[i:]
	}
	if len(b) > 0 {
		b = b[1:]
	}
	return name, b, len(name) > 0
}

// unescapeHelp undoes the text format's escapes (\\ and \n) in a HELP text
// or quoted name; b is returned as is when it has none.
func unescapeHelp(b []byte) []byte {
	if bytes.IndexByte(b, '\\') < 0 {
		return b
	}
	out := make([]byte, 0, len(b))
	for i := 0; i < len(b); i++ {
		if b[i] == '\\' && i+1 < len(b) {
			i++
			switch b[i] {
			case 'n':
				out = append(out, '\n')
			default:
				out = append(out, b[i])
			}
			continue
		}
		out = append(out, b[i])
	}
	return out
}
