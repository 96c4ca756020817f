package scrape

import (
	"bytes"
	"context"
	"fmt"
	"hash/maphash"
	"maps"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"unsafe"

	"github.com/VictoriaMetrics/metrics"
	"github.com/prometheus/prometheus/model/labels"

	"github.com/watchdog-sre/watchdog/internal/testcorpus"
	"github.com/watchdog-sre/watchdog/scrape/promtext"
)

// peek returns the entry of line without marking it seen, or nil.
func (c *seriesCache) peek(line string) *cacheEntry {
	if idx := c.find([]byte(line), c.hashOf([]byte(line))); idx >= 0 {
		return c.entry(idx)
	}
	return nil
}

// cacheHashes are the line hashes the cache tests run with: the real one
// (nil: seeded per cache), and ones that make most or all lines collide.
var cacheHashes = []struct {
	name string
	hash func([]byte) uint64
}{
	{"maphash", nil},
	{"three_values", func(b []byte) uint64 { return uint64(len(b) % 3) }},
	{"constant", func([]byte) uint64 { return 42 }},
}

// lookupAsParser looks line up as appendBody does with promtext: the parser
// asks for the expected length and matches the line first (sometimes the
// caller ignores the match, as other parsers do).
func lookupAsParser(c *seriesCache, line string, ignoreMatch bool) (*cacheEntry, bool) {
	matched := false
	if n := c.ExpectedLen(); n > 0 && n == len(line) {
		matched = c.MatchExpected([]byte(line))
	}
	return c.lookup([]byte(line), matched && !ignoreMatch)
}

// TestSeriesCacheSequence checks that lookups through the sequence of
// expected lines return what the map holds, while scrapes reorder, insert,
// remove and repeat lines. With a real hash every line finds its own entry;
// with one that makes lines collide, a line finds an entry of its hash and
// length or none (the contract: see seriesCache), and lines of different
// lengths are told apart.
func TestSeriesCacheSequence(t *testing.T) {
	for _, h := range cacheHashes {
		t.Run(h.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(3, 4))
			c := newSeriesCache()
			c.hash = h.hash
			lines := make([]string, 40)
			for i := range lines {
				lines[i] = fmt.Sprintf(`m{i="%d"}`, i*i*i) // lengths 8 to 13
			}
			order := append([]string(nil), lines[:30]...)
			for iter := 0; iter < 300; iter++ {
				switch rng.IntN(7) {
				case 0: // swap two lines
					i, j := rng.IntN(len(order)), rng.IntN(len(order))
					order[i], order[j] = order[j], order[i]
				case 1: // insert a line
					i := rng.IntN(len(order) + 1)
					order = append(order[:i], append([]string{lines[rng.IntN(len(lines))]}, order[i:]...)...)
				case 2: // remove a line
					if len(order) > 1 {
						i := rng.IntN(len(order))
						order = append(order[:i], order[i+1:]...)
					}
				case 3:
					if rng.IntN(10) == 0 {
						c.resetLabels()
					}
				}
				seen := map[string]bool{}
				for _, l := range order {
					want := c.peek(l)
					e, dup := lookupAsParser(c, l, rng.IntN(2) == 0)
					if h.hash == nil && e != want {
						t.Fatalf("iter %d line %s: lookup gave %p, map holds %p", iter, l, e, want)
					}
					if e != nil && (e.hash != c.hashOf([]byte(l)) || int(e.lineLen) != len(l) || !e.findable()) {
						t.Fatalf("iter %d line %s: entry of another hash or length (%d)", iter, l, e.lineLen)
					}
					if h.hash == nil && dup != seen[l] {
						t.Fatalf("iter %d line %s: seenThisScrape %v, want %v", iter, l, dup, seen[l])
					}
					seen[l] = true
					if e == nil {
						if rng.IntN(4) == 0 {
							c.addDropped([]byte(l))
						} else {
							c.add([]byte(l), uint64(iter+1), labels.FromStrings("l", l))
						}
					} else if h.hash == nil && !e.dropped() && e.lset.Get("l") != l {
						t.Fatalf("iter %d line %s: entry of %s", iter, l, e.lset)
					}
				}
				c.iterDone(rng.IntN(8) != 0)
				checkCacheIndex(t, c)
			}
		})
	}
}

// checkCacheIndex checks that every findable entry is in the index under
// its hash or in collided under a text of its length and hash, that an entry
// of the tests (label l=line) has its line's hash and length, and that the
// counts agree.
func checkCacheIndex(t *testing.T, c *seriesCache) {
	t.Helper()
	if n := c.index.n + len(c.collided); n != c.live {
		t.Fatalf("live %d, maps hold %d", c.live, n)
	}
	check := func(idx int32) {
		e := c.entry(idx)
		if !e.findable() {
			t.Fatalf("slot %d in the maps has state %d", idx, e.state)
		}
		if l := e.lset.Get("l"); e.state == slotLive && l != "" && (e.hash != c.hashOf([]byte(l)) || int(e.lineLen) != len(l)) {
			t.Fatalf("entry %s has hash %x and length %d", e.lset, e.hash, e.lineLen)
		}
	}
	n := 0
	for _, v := range c.index.slots {
		if v <= 0 {
			continue
		}
		n++
		idx := v - 1
		if got := c.tableGet(c.entry(idx).hash); got != idx {
			t.Fatalf("slot %d: its hash %x finds %d", idx, c.entry(idx).hash, got)
		}
		check(idx)
	}
	if n != c.index.n {
		t.Fatalf("index: %d entries counted, %d held", c.index.n, n)
	}
	for k, idx := range c.collided {
		if e := c.entry(idx); e.hash != c.hashOf([]byte(k)) || int(e.lineLen) != len(k) {
			t.Fatalf("collided key %q holds an entry of hash %x and length %d", k, e.hash, e.lineLen)
		}
		if c.peek(k) != c.entry(idx) {
			t.Fatalf("collided key %q does not find its entry", k)
		}
		check(idx)
	}
}

// sequenceBodies returns 12 bodies of a changing exposition: the corpus
// with lines reordered, removed, added, duplicated, and in body 7 an invalid
// line (the scrape fails).
func sequenceBodies(t *testing.T) [][]byte {
	base := testcorpus.Read(t, "node_exporter.prom")
	lines := bytes.SplitAfter(base, []byte("\n"))
	rng := rand.New(rand.NewPCG(5, 6))
	bodies := make([][]byte, 12)
	for k := range bodies {
		var b []byte
		for i, l := range lines {
			switch {
			case k > 0 && rng.IntN(50) == 0:
				continue // removed
			case k > 0 && rng.IntN(200) == 0:
				b = append(b, `injected{x="`+fmt.Sprint(k)+`"} 1`+"\n"...)
			case k > 0 && rng.IntN(300) == 0 && len(l) > 2:
				b = append(b, l...) // duplicated
			case k > 0 && i+1 < len(lines) && rng.IntN(100) == 0:
				b = append(b, lines[i+1]...) // swapped with the next
			}
			b = append(b, l...)
		}
		if k == 7 {
			b = append(b, "bad{a=\"\xff\"} 1\n"...) // invalid UTF-8: the scrape fails
		}
		bodies[k] = b
	}
	return bodies
}

// scrapeBodies appends bodies as successive scrapes of the loop's target,
// with the series cache's hash replaced by hash unless it is nil, and
// returns each scrape's error.
func scrapeBodies(sl *scrapeLoop, rec *recorder, bodies [][]byte, hash func([]byte) uint64) []error {
	if hash != nil {
		sl.cache.hash = hash
	}
	var errs []error
	for i, body := range bodies {
		app := rec.appender()
		_, err := sl.appendBody(context.Background(), app, body, "text/plain; version=0.0.4", int64(15000*(i+1)))
		if err != nil {
			_ = app.Rollback()
			sl.cache.forgetCurrent()
			app = rec.appender()
			sl.writeStale(app, int64(15000*(i+1)))
		}
		sl.cache.iterDone(err == nil)
		_ = app.Commit()
		errs = append(errs, err)
	}
	return errs
}

// dropNetstat is the metric relabeling of the sequence tests.
func dropNetstat(c *jobConfig) {
	c.cfg.MetricRelabelConfigs = mustRelabelF(`- source_labels: [__name__]
  regex: node_netstat.*
  action: drop
`)
}

// TestAppendBodySequenceMatchesTextparse scrapes a changing exposition (lines
// reordered, removed, added, dropped by relabeling, duplicated, changed to
// invalid) with promtext, whose expected lines skip validation through the
// series cache's sequence, and with textparse, which validates every line,
// and checks that both commit the same samples and fail the same scrapes.
func TestAppendBodySequenceMatchesTextparse(t *testing.T) {
	bodies := sequenceBodies(t)
	run := func(prometheus bool) (*recorder, []error) {
		rec := newRecorder()
		sl := newTestScrapeLoop(rec, dropNetstat)
		sl.parsers.prometheus = prometheus
		return rec, scrapeBodies(sl, rec, bodies, nil)
	}
	want, wantErrs := run(true)
	if wantErrs[7] == nil {
		t.Fatal("scrape 7 should fail")
	}
	got, gotErrs := run(false)
	for i := range wantErrs {
		if (wantErrs[i] == nil) != (gotErrs[i] == nil) {
			t.Fatalf("scrape %d: error %v, textparse %v", i, gotErrs[i], wantErrs[i])
		}
	}
	if len(got.committed) != len(want.committed) {
		t.Fatalf("%d samples committed, textparse %d", len(got.committed), len(want.committed))
	}
	sortSamples(got.committed)
	sortSamples(want.committed)
	for i := range got.committed {
		g, w := got.committed[i], want.committed[i]
		if !labels.Equal(g.lset, w.lset) || g.t != w.t || math.Float64bits(g.v) != math.Float64bits(w.v) {
			t.Fatalf("sample %d: %v, textparse %v", i, g, w)
		}
	}
}

// TestAppendBodyForcedCollisions: with a series cache hash that makes most
// or all lines collide, two targets scraping the same changing exposition
// into one store never panic, never write a sample into a series of the
// other target, count the collisions they detect (lines of different lengths
// with one hash) in watchdog_scrape_cache_collisions_total, and keep the
// lines apart whose length no other line of the run has.
func TestAppendBodyForcedCollisions(t *testing.T) {
	bodies := sequenceBodies(t)
	for _, h := range cacheHashes[1:] {
		t.Run(h.name, func(t *testing.T) {
			rec := newRecorder()
			set := metrics.NewSet()
			for _, target := range []string{"h:1", "h:2"} {
				sl := newTestScrapeLoop(rec, dropNetstat)
				tg, err := newTarget(labelsBuilder(), sl.s.job.cfg, target, nil)
				if err != nil {
					t.Fatal(err)
				}
				sl.s.target = tg
				sl.deps.set, sl.deps.jobLabel = set, `job="`+target+`"`
				before := len(rec.committed)
				scrapeBodies(sl, rec, bodies, h.hash)
				for _, smp := range rec.committed[before:] {
					if got := smp.lset.Get("instance"); got != target {
						t.Fatalf("target %s wrote a sample of %s", target, smp.lset)
					}
				}
				n := set.GetOrCreateCounter(`watchdog_scrape_cache_collisions_total{job="` + target + `"}`).Get()
				if n == 0 {
					t.Fatalf("target %s: no collision counted", target)
				}
			}
			// A line of a length no other line has is found by its length.
			byLen := map[int][]string{}
			for _, b := range bodies {
				for l := range bytes.Lines(b) {
					if len(l) > 0 && l[0] != '#' {
						series := string(l[:bytes.LastIndexByte(bytes.TrimSuffix(l, []byte("\n")), ' ')])
						if !slices.Contains(byLen[len(series)], series) {
							byLen[len(series)] = append(byLen[len(series)], series)
						}
					}
				}
			}
			unique := 0
			for _, ss := range byLen {
				if len(ss) == 1 && !strings.HasPrefix(ss[0], "node_netstat") && !strings.HasPrefix(ss[0], "bad") {
					want := scrapedLabels(seriesLabels(t, ss[0]))
					found := false
					for _, smp := range rec.committed {
						if scrapedLabels(smp.lset) == want {
							found = true
							break
						}
					}
					if !found {
						t.Errorf("line %s of a unique length: no sample in its series", want)
					}
					unique++
				}
			}
			if unique == 0 {
				t.Fatal("no line of a unique length")
			}
		})
	}
}

// scrapedLabels renders lset without the target's labels and the empty
// ones (which a stored series does not have).
func scrapedLabels(lset labels.Labels) string {
	b := labels.NewScratchBuilder(lset.Len())
	lset.Range(func(l labels.Label) {
		if l.Value != "" && l.Name != "instance" && l.Name != "job" {
			b.Add(l.Name, l.Value)
		}
	})
	return b.Labels().String()
}

// seriesLabels returns the labels of an exposition's series text.
func seriesLabels(t *testing.T, series string) labels.Labels {
	p := promtext.New([]byte(series + " 1\n"))
	if _, err := p.Next(); err != nil {
		t.Fatalf("%s: %v", series, err)
	}
	var l labels.Labels
	p.Labels(&l)
	return l
}

// sortSamples sorts samples by time, labels and value bits (stale markers
// come in map order).
func sortSamples(ss []sample) {
	key := func(s sample) string { return fmt.Sprintf("%d %s %x", s.t, s.lset, math.Float64bits(s.v)) }
	slices.SortFunc(ss, func(a, b sample) int { return strings.Compare(key(a), key(b)) })
}

// refModel is the staleness tracking as maps keyed by ref (how the cache kept
// it before the stamped lists), the reference for TestSeriesCacheStaleness.
type refModel struct{ cur, prev map[uint64]bool }

func (m *refModel) stale() []uint64 {
	var out []uint64
	for ref := range m.prev {
		if !m.cur[ref] {
			out = append(out, ref)
		}
	}
	slices.Sort(out)
	return out
}

// TestSeriesCacheStaleness checks that the stamped tracking lists report the
// same stale refs as maps keyed by ref, while lines come and go, share refs,
// carry timestamps (not tracked), change refs, and scrapes fail.
func TestSeriesCacheStaleness(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	c := newSeriesCache()
	m := &refModel{cur: map[uint64]bool{}, prev: map[uint64]bool{}}
	lines := make([]string, 30)
	for i := range lines {
		lines[i] = fmt.Sprintf(`m{i="%d"}`, i)
	}
	nextRef := uint64(100)
	for iter := 0; iter < 500; iter++ {
		if rng.IntN(20) == 0 {
			c.resetLabels()
		}
		for _, l := range lines {
			if rng.IntN(4) == 0 {
				continue // not exposed in this scrape
			}
			e, seen := c.lookup([]byte(l), false)
			if e == nil {
				// Lines 0-5 share three refs, as lines relabeled to one
				// series would.
				ref := nextRef
				if i := strings.Index(l, `"`); l[i+1] <= '5' && len(l) == len(`m{i="0"}`) {
					ref = uint64(l[i+1]-'0') / 2
				} else {
					nextRef++
				}
				e = c.add([]byte(l), ref+1, labels.FromStrings("l", l))
			} else if e.ref > 10 && rng.IntN(30) == 0 {
				// The store recreated the series under a new ref.
				nextRef++
				if m.prev[e.ref] {
					delete(m.prev, e.ref)
					m.prev[nextRef] = true
				}
				if m.cur[e.ref] {
					delete(m.cur, e.ref)
					m.cur[nextRef] = true
				}
				c.setRef(e, nextRef)
			}
			if seen || rng.IntN(10) == 0 {
				continue // a duplicate, or a sample with its own timestamp
			}
			c.track(e)
			m.cur[e.ref] = true
		}
		ok := rng.IntN(6) != 0
		if !ok {
			c.forgetCurrent()
			clear(m.cur)
		}
		var got []uint64
		c.forEachStale(func(e *cacheEntry) { got = append(got, e.ref) })
		slices.Sort(got)
		if want := m.stale(); !slices.Equal(got, want) {
			t.Fatalf("iter %d: stale refs %v, want %v", iter, got, want)
		}
		c.iterDone(ok)
		m.prev, m.cur = m.cur, m.prev
		clear(m.cur)
		var tracked []uint64
		c.forEachTracked(func(e *cacheEntry) { tracked = append(tracked, e.ref) })
		slices.Sort(tracked)
		want := slices.Sorted(maps.Keys(m.prev))
		if !slices.Equal(tracked, want) {
			t.Fatalf("iter %d: tracked refs %v, want %v", iter, tracked, want)
		}
	}
}

// TestSeriesCacheChurn churns series through the cache and checks that every
// line finds its own entry (with the real hash), and that entries and slots
// stay bounded (with any hash).
func TestSeriesCacheChurn(t *testing.T) {
	for _, h := range cacheHashes {
		t.Run(h.name, func(t *testing.T) {
			c := newSeriesCache()
			c.hash = h.hash
			for iter := 0; iter < 100; iter++ {
				// 200 lines, a quarter of them new in every scrape.
				added := 0
				for id := iter * 50; id < iter*50+200; id++ {
					l := fmt.Sprintf(`churn_metric_with_a_long_name{instance="host-%d"}`, id)
					e, _ := lookupAsParser(c, l, false)
					if e == nil {
						e = c.add([]byte(l), uint64(id+1), labels.FromStrings("l", l))
						added++
					}
					if h.hash == nil && (e.lset.Get("l") != l || e.ref != uint64(id+1)) {
						t.Fatalf("iter %d: line %s gave entry %s ref %d", iter, l, e.lset, e.ref)
					}
				}
				if want := min(200, 50+200*(1-min(iter, 1))); h.hash == nil && added != want {
					t.Fatalf("iter %d: %d lines added, want %d", iter, added, want)
				}
				c.iterDone(true)
				checkCacheIndex(t, c)
				if h.name == "constant" && c.index.n > 1 {
					t.Fatalf("iter %d: one hash for all lines, yet %d in the index", iter, c.index.n)
				}
				if len(c.index.slots) > 4*tableSize(250) {
					t.Fatalf("iter %d: index of %d elements for %d entries", iter, len(c.index.slots), c.index.n)
				}
				// Lines of this and the previous scrape: 250 entries.
				if c.live > 250 || int(c.used) > 250+pageSize {
					t.Fatalf("iter %d: %d live entries in %d slots", iter, c.live, c.used)
				}
			}
		})
	}
}

// TestCacheReserve: an empty cache is sized for the first body (bounded by
// maxReserve): its index at most three quarters full, its entry pages; a
// cache in use is left alone.
func TestCacheReserve(t *testing.T) {
	for _, tt := range []struct {
		name           string
		used           bool
		n, size, pages int
	}{
		{"first body", false, 3027, 4096, 6},
		{"bounded", false, maxReserve + 1, 2 * maxReserve, maxReserve / pageSize},
		{"nothing to reserve", false, 0, 0, 0},
		{"in use", true, 3027, minTable, 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := newSeriesCache()
			if tt.used {
				c.add([]byte(`m{a="1"}`), 1, labels.FromStrings("__name__", "m", "a", "1"))
				c.iterDone(true)
			}
			c.reserve(tt.n)
			if len(c.index.slots) != tt.size || cap(c.pages) != tt.pages {
				t.Errorf("reserve(%d): index of %d elements, room for %d pages; want %d and %d",
					tt.n, len(c.index.slots), cap(c.pages), tt.size, tt.pages)
			}
		})
	}
}

// sequence returns the lines of the last scrape as the cache will expect
// them, following the links from head.
func (c *seriesCache) sequence() []int32 {
	var out []int32
	for idx := c.head; idx >= 0 && len(out) <= int(c.used); idx = c.entry(idx).next {
		out = append(out, idx)
	}
	return out
}

// TestRepeatedScrapeAllocatesNothing: a scrape that repeats the previous
// one's lines allocates nothing in the cache and finds every line as the
// expected one (no map lookup); after a line went away, the expected
// sequence skips it, and a line that comes back is linked in again.
func TestRepeatedScrapeAllocatesNothing(t *testing.T) {
	body := testcorpus.Read(t, "node_exporter.prom")
	rec := newRecorder()
	sl := newTestScrapeLoop(rec, nil)
	var refs uint64
	scrape := func(b []byte, ts int64) {
		t.Helper()
		if _, err := sl.appendBody(context.Background(), countingAppender{&refs}, b, "text/plain", ts); err != nil {
			t.Fatal(err)
		}
		sl.cache.iterDone(true)
		sl.meta.end(true)
	}
	if _, err := sl.appendBody(context.Background(), rec.appender(), body, "text/plain", 1); err != nil {
		t.Fatal(err)
	}
	sl.cache.iterDone(true)
	sl.meta.end(true)
	scrape(body, 2)
	c := sl.cache
	seq := c.sequence()
	if len(seq) != c.live {
		t.Fatalf("sequence of %d lines, %d live", len(seq), c.live)
	}
	ts := int64(3)
	allocs := testing.AllocsPerRun(5, func() {
		scrape(body, ts)
		ts++
	})
	if allocs != 0 {
		t.Fatalf("a repeated scrape allocates %v times", allocs)
	}
	if !slices.Equal(c.sequence(), seq) {
		t.Fatal("a repeated scrape changed the sequence")
	}
	// Every line is the expected one: hashed once, by MatchExpected.
	hashed := 0
	c.hash = func(b []byte) uint64 { hashed++; return maphash.Bytes(c.seed, b) }
	scrape(body, ts)
	ts++
	if hashed != len(seq) {
		t.Fatalf("%d lines hashed, want %d (once each, by the parser's match)", hashed, len(seq))
	}
	// One line less: the sequence skips it.
	i := bytes.Index(body, []byte("\nnode_load1 "))
	j := i + 1 + bytes.IndexByte(body[i+1:], '\n')
	changed := append(bytes.Clone(body[:i]), body[j:]...)
	scrape(changed, ts)
	ts++
	if got := c.sequence(); len(got) != len(seq)-1 {
		t.Fatalf("after a line went away: sequence of %d lines, want %d", len(got), len(seq)-1)
	}
	scrape(body, ts)
	if got := c.sequence(); !slices.Equal(got, seq) {
		t.Fatalf("after the line came back: sequence of %d lines differs", len(got))
	}
	checkCacheIndex(t, c)
}

// TestCacheEntrySize: an entry is 48 bytes (with stringlabels), the figure
// the memory notes in bench/FLEET.md rely on.
func TestCacheEntrySize(t *testing.T) {
	if n := unsafe.Sizeof(cacheEntry{}); n > 48 && unsafe.Sizeof(labels.Labels{}) == 16 {
		t.Fatalf("cacheEntry is %d bytes", n)
	}
}
