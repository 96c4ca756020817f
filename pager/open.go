package pager

import (
	"slices"
	"strings"
	"time"

	"github.com/prometheus/prometheus/model/labels"
)

// openCache holds what every Receive needs without a Store round trip: the
// open incidents, indexed by ID and group key, and the silences. It holds
// exactly what was last committed: applyAll updates it after each commit
// and the API updates the silences after theirs. The states in it are
// never modified; the label maps they share with Step's results are
// treated as immutable.
type openCache struct {
	byID  map[string]IncidentState
	keys  map[string]string // group key → ID
	muted int               // alerts not ended with a SuppressedBy
	sils  []cachedSilence   // every silence, by ID
}

type cachedSilence struct {
	Silence
	matchers []*labels.Matcher // nil when a matcher does not parse
}

// loadOpen fills the cache from the Store unless it is loaded. p.mu must
// be held.
func (p *Pager) loadOpen() error {
	if p.open != nil {
		return nil
	}
	c := &openCache{byID: map[string]IncidentState{}, keys: map[string]string{}}
	var version int64
	err := p.store.View(func(tx ReadTx) error {
		if vr, ok := tx.(versionReader); ok {
			// First, in the same snapshot: the cache reflects this number.
			v, _, err := vr.Version()
			if err != nil {
				return err
			}
			version = v
		}
		open, err := tx.Incidents(IncidentFilter{Statuses: []Status{StatusTriggered, StatusAcknowledged}})
		if err != nil {
			return err
		}
		for _, st := range open {
			c.put(st)
		}
		sils, err := tx.Silences()
		if err != nil {
			return err
		}
		now := p.now()
		for _, s := range sils {
			c.putSilence(s)
			if err := ValidateSilence(s, now, 0); err != nil && s.EndsAt.After(now) {
				p.log.Error("pager: ignoring an invalid stored silence", "silence", s.ID, "err", err)
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	p.open, p.seen = c, version
	return nil
}

func mutedAlerts(st *IncidentState) int {
	n := 0
	for i := range st.Alerts {
		if !st.Alerts[i].Ended && st.Alerts[i].SuppressedBy != "" {
			n++
		}
	}
	return n
}

// put records the committed state st. A nil cache ignores it (it loads
// the committed state later).
func (c *openCache) put(st IncidentState) {
	if c == nil {
		return
	}
	old, had := c.byID[st.ID]
	if had {
		c.muted -= mutedAlerts(&old)
		if c.keys[old.GroupKey] == st.ID && (!st.Open() || old.GroupKey != st.GroupKey) {
			delete(c.keys, old.GroupKey)
		}
	}
	if !st.Open() {
		if had {
			delete(c.byID, st.ID)
		}
		return
	}
	// Overwritten in place: an incident that stays open is not deleted
	// and inserted again (which leaves the map's tables to be rebuilt).
	c.byID[st.ID] = st
	c.keys[st.GroupKey] = st.ID
	c.muted += mutedAlerts(&st)
}

// byKey returns the open incident of a group key.
func (c *openCache) byKey(groupKey string) (IncidentState, bool) {
	id, ok := c.keys[groupKey]
	if !ok {
		return IncidentState{}, false
	}
	st, ok := c.byID[id]
	return st, ok
}

// sorted returns the open incidents newest first, as Store.Incidents does.
func (c *openCache) sorted() []IncidentState {
	out := make([]IncidentState, 0, len(c.byID))
	for _, st := range c.byID {
		out = append(out, st)
	}
	slices.SortFunc(out, func(a, b IncidentState) int {
		if x := b.CreatedAt.Compare(a.CreatedAt); x != 0 {
			return x
		}
		return strings.Compare(b.ID, a.ID)
	})
	return out
}

// putSilence inserts or replaces a silence, keeping them sorted by ID.
func (c *openCache) putSilence(s Silence) {
	if c == nil {
		return
	}
	cs := cachedSilence{Silence: s}
	cs.Matchers = slices.Clone(s.Matchers)
	for _, m := range s.Matchers {
		lm, err := ParseMatcher(m)
		if err != nil {
			cs.matchers = nil
			break
		}
		cs.matchers = append(cs.matchers, lm)
	}
	if matchesEverything(cs.matchers) {
		// Stored before silences were validated: it would mute every
		// alert, so it mutes none (loadOpen logs it).
		cs.matchers = nil
	}
	i, found := slices.BinarySearchFunc(c.sils, s.ID, func(x cachedSilence, id string) int { return strings.Compare(x.ID, id) })
	if found {
		c.sils[i] = cs
	} else {
		c.sils = slices.Insert(c.sils, i, cs)
	}
}

// muting reports whether anything can mute an alert at now: an active
// silence or an inhibit rule. p.open must be loaded.
func (p *Pager) muting(now time.Time, cfg *Config) bool {
	if cfg.c != nil && len(cfg.c.inhibits) > 0 {
		return true
	}
	for i := range p.open.sils {
		if p.open.sils[i].Active(now) && len(p.open.sils[i].matchers) > 0 {
			return true
		}
	}
	return false
}

// suppressor: the active silences and the inhibition sources (firing
// alerts). A nil *suppressor mutes nothing.
type suppressor struct {
	cfg      *Config
	silences []*cachedSilence
	sources  []inhibitSource
}

// by returns why lset, whose fingerprint is fp ("": not computed), is
// muted, or "".
func (s *suppressor) by(lset map[string]string, fp string) string {
	if s == nil {
		return ""
	}
	for _, sil := range s.silences {
		if matchAll(sil.matchers, lset) {
			return "silence:" + sil.ID
		}
	}
	if len(s.sources) == 0 {
		return ""
	}
	if src, ok := s.cfg.inhibitedBy(lset, fp, s.sources); ok {
		return "inhibit:" + src
	}
	return ""
}

// suppressor collects the active silences and, when cfg has inhibit rules,
// extra (a batch being received) and the firing alerts of open incidents,
// newest incident first. p.open must be loaded.
func (p *Pager) suppressor(now time.Time, cfg *Config, extra []map[string]string) *suppressor {
	s := &suppressor{cfg: cfg}
	for i := range p.open.sils {
		if sil := &p.open.sils[i]; sil.Active(now) && len(sil.matchers) > 0 {
			s.silences = append(s.silences, sil)
		}
	}
	if cfg.c == nil || len(cfg.c.inhibits) == 0 {
		return s
	}
	for _, lset := range extra {
		s.sources = append(s.sources, inhibitSource{labels: lset})
	}
	for _, st := range p.open.sorted() {
		for _, a := range st.Alerts {
			if !a.Ended && !a.Resolved(now) {
				s.sources = append(s.sources, inhibitSource{labels: a.Labels, fp: a.Fingerprint})
			}
		}
	}
	return s
}

// resuppress recomputes SuppressedBy for every alert of every open
// incident and feeds the changes to Step, in one transaction. With no
// active silence, no inhibit rule and no muted alert there is nothing to
// recompute. p.mu must be held.
func (p *Pager) resuppress(now time.Time) error {
	if err := p.loadOpen(); err != nil {
		return err
	}
	cfg := p.config()
	if p.open.muted == 0 && !p.muting(now, cfg) {
		return nil
	}
	sup := p.suppressor(now, cfg, nil)
	var cs []change
	for _, st := range p.open.sorted() {
		var changed []IncidentAlert
		for _, a := range st.Alerts {
			if a.Ended {
				continue
			}
			if by := sup.by(a.Labels, a.Fingerprint); by != a.SuppressedBy {
				a.SuppressedBy = by
				changed = append(changed, a)
			}
		}
		if len(changed) > 0 {
			cs = append(cs, change{st: st, ev: AlertsChanged{Alerts: changed}})
		}
	}
	return p.applyAll(cs, nil)
}
