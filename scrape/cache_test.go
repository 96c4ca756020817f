package scrape

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/cespare/xxhash/v2"
	"github.com/prometheus/prometheus/model/labels"

	"github.com/watchdog-sre/watchdog/internal/testcorpus"
)

// peek returns the entry of line without marking it seen, or nil.
func (c *seriesCache) peek(line string) *cacheEntry {
	if idx := c.find([]byte(line)); idx >= 0 {
		return c.entry(idx)
	}
	return nil
}

// cacheHashes are the line hashes the cache tests run with: the real one,
// and ones that make most or all lines collide.
var cacheHashes = []struct {
	name string
	hash func([]byte) uint64
}{
	{"xxhash", xxhash.Sum64},
	{"three_values", func(b []byte) uint64 { return uint64(len(b) % 3) }},
	{"constant", func([]byte) uint64 { return 42 }},
}

// TestSeriesCacheSequence checks that lookups through the sequence always
// return what the map holds, while scrapes reorder, insert, remove and repeat
// lines, and that a hash collision never returns another line's entry.
func TestSeriesCacheSequence(t *testing.T) {
	for _, h := range cacheHashes {
		t.Run(h.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(3, 4))
			c := newSeriesCache()
			c.hash = h.hash
			lines := make([]string, 40)
			for i := range lines {
				lines[i] = fmt.Sprintf(`m{i="%d"}`, i)
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
					e, dup := c.lookup([]byte(l), c.expectedLine() == l && rng.IntN(2) == 0)
					if e != want {
						t.Fatalf("iter %d line %s: lookup gave %p, map holds %p", iter, l, e, want)
					}
					if dup != seen[l] {
						t.Fatalf("iter %d line %s: seenThisScrape %v, want %v", iter, l, dup, seen[l])
					}
					seen[l] = true
					if e == nil {
						if rng.IntN(4) == 0 {
							c.addDropped([]byte(l))
						} else {
							c.add([]byte(l), uint64(iter+1), labels.FromStrings("l", l))
						}
					} else if !e.dropped() && e.lset.Get("l") != l {
						t.Fatalf("iter %d line %s: entry of %s", iter, l, e.lset)
					}
				}
				c.iterDone(rng.IntN(8) != 0)
				checkCacheTexts(t, c)
			}
		})
	}
}

// checkCacheTexts checks that every findable entry's text is its line (the
// tests give kept lines the label l=line) and that the counts agree.
func checkCacheTexts(t *testing.T, c *seriesCache) {
	t.Helper()
	if n := len(c.index) + len(c.collided); n != c.live {
		t.Fatalf("live %d, maps hold %d", c.live, n)
	}
	check := func(idx int32) {
		e := c.entry(idx)
		text := string(c.textOf(idx))
		if e.state == slotLive && e.lset.Has("l") && e.lset.Get("l") != text {
			t.Fatalf("entry %s has text %q", e.lset, text)
		}
		if got := c.peek(text); got != e {
			t.Fatalf("text %q finds %p, not its entry %p", text, got, e)
		}
	}
	for _, idx := range c.index {
		check(idx)
	}
	for k, idx := range c.collided {
		if string(c.textOf(idx)) != k {
			t.Fatalf("collided key %q has text %q", k, c.textOf(idx))
		}
		check(idx)
	}
}

// TestAppendBodySequenceMatchesTextparse scrapes a changing exposition (lines
// reordered, removed, added, dropped by relabeling, duplicated, changed to
// invalid) with promtext, whose known lines skip validation through the
// series cache's sequence, and with textparse, which validates every line,
// and checks that both commit the same samples and fail the same scrapes,
// also when the series cache's line hash makes most or all lines collide.
func TestAppendBodySequenceMatchesTextparse(t *testing.T) {
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
	run := func(prometheus bool, hash func([]byte) uint64) (*recorder, []error) {
		rec := newRecorder()
		sl := newTestScrapeLoop(rec, func(c *jobConfig) {
			c.cfg.MetricRelabelConfigs = mustRelabelF(`- source_labels: [__name__]
  regex: node_netstat.*
  action: drop
`)
		})
		sl.parsers.prometheus = prometheus
		sl.cache.hash = hash
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
		return rec, errs
	}
	want, wantErrs := run(true, xxhash.Sum64)
	if wantErrs[7] == nil {
		t.Fatal("scrape 7 should fail")
	}
	for _, h := range cacheHashes {
		t.Run(h.name, func(t *testing.T) {
			got, gotErrs := run(false, h.hash)
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
		})
	}
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
// entry stays findable under its own text, and that slots and the line
// stream stay bounded.
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
					e, _ := c.lookup([]byte(l), false)
					if e == nil {
						e = c.add([]byte(l), uint64(id+1), labels.FromStrings("l", l))
						added++
					}
					if e.lset.Get("l") != l || e.ref != uint64(id+1) {
						t.Fatalf("iter %d: line %s gave entry %s ref %d", iter, l, e.lset, e.ref)
					}
				}
				if want := min(200, 50+200*(1-min(iter, 1))); added != want {
					t.Fatalf("iter %d: %d lines added, want %d", iter, added, want)
				}
				c.iterDone(true)
				checkCacheTexts(t, c)
				if h.name == "constant" && (len(c.index) > 1 || len(c.collided) < c.live-1) {
					t.Fatalf("iter %d: one hash for all lines, yet %d in the index and %d collided", iter, len(c.index), len(c.collided))
				}
				// Lines of this and the previous scrape: 250 entries.
				if c.live > 250 || int(c.used) > 250+pageSize {
					t.Fatalf("iter %d: %d live entries in %d slots", iter, c.live, c.used)
				}
				if c.prev.n != c.live || len(c.prev.buf) > 60*c.live {
					t.Fatalf("iter %d: %d records of %d bytes for %d entries", iter, c.prev.n, len(c.prev.buf), c.live)
				}
			}
		})
	}
}

// TestCacheReserve: an empty cache is sized for the first body (bounded by
// maxReserve); a cache in use is left alone.
func TestCacheReserve(t *testing.T) {
	for _, tt := range []struct {
		name    string
		used    bool
		n, want int
	}{
		{"first body", false, 3027, 3027},
		{"bounded", false, maxReserve + 1, maxReserve},
		{"nothing to reserve", false, 0, 0},
		{"in use", true, 3027, 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := newSeriesCache()
			if tt.used {
				c.add([]byte(`m{a="1"}`), 1, labels.FromStrings("__name__", "m", "a", "1"))
				c.iterDone(true)
			}
			before := cap(c.curTracked)
			c.reserve(tt.n)
			got := cap(c.curTracked)
			if tt.used {
				got -= before
			}
			if got != tt.want || cap(c.prevTracked) < tt.want {
				t.Errorf("reserve(%d): tracked lists %d and %d, want %d", tt.n, cap(c.curTracked), cap(c.prevTracked), tt.want)
			}
		})
	}
}

// TestRepeatedScrapeKeepsLines: a scrape that repeats the previous one's
// lines writes no line stream (the previous one is kept) and allocates
// nothing in the cache; one that changes writes a new one.
func TestRepeatedScrapeKeepsLines(t *testing.T) {
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
	stream := &sl.cache.prev.buf[0]
	ts := int64(3)
	allocs := testing.AllocsPerRun(5, func() {
		scrape(body, ts)
		ts++
	})
	if &sl.cache.prev.buf[0] != stream {
		t.Fatal("a repeated scrape rewrote the line stream")
	}
	if allocs != 0 {
		t.Fatalf("a repeated scrape allocates %v times", allocs)
	}
	// One line less: the stream is rewritten without it.
	i := bytes.Index(body, []byte("\nnode_load1 "))
	j := i + 1 + bytes.IndexByte(body[i+1:], '\n')
	changed := append(bytes.Clone(body[:i]), body[j:]...)
	scrape(changed, ts)
	if &sl.cache.prev.buf[0] == stream || sl.cache.prevLen != sl.cache.prev.n-1 {
		t.Fatalf("after a line went away: %d lines, %d records", sl.cache.prevLen, sl.cache.prev.n)
	}
	checkCacheTexts(t, sl.cache)
}
