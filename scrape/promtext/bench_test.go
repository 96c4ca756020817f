package promtext

import (
	"bytes"
	"errors"
	"io"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/textparse"
)

// drain reads every entry of p; with withLabels it calls Labels on every
// series, as a scrape without a series cache does. It returns the number of
// series.
func drain(tb testing.TB, p textparse.Parser, withLabels bool) int {
	return drainInto(tb, p, withLabels, new(labels.Labels))
}

// drainInto is drain with the Labels destination passed in, so that callers
// counting allocations can keep it out of the count.
func drainInto(tb testing.TB, p textparse.Parser, withLabels bool, l *labels.Labels) int {
	n := 0
	for {
		e, err := p.Next()
		if errors.Is(err, io.EOF) {
			return n
		}
		if err != nil {
			tb.Fatal(err)
		}
		if e == textparse.EntrySeries {
			n++
			p.Series()
			if withLabels {
				p.Labels(l)
			}
		}
	}
}

func TestNextAndSeriesDoNotAllocate(t *testing.T) {
	in := readCorpus(t, "node_exporter.prom")
	p := New(in)
	var l labels.Labels
	// The second body is recorded in the metadata memo and the third
	// interns it (once per change of the metadata lines): from then on a
	// repeated body allocates nothing.
	for range 2 {
		p.Reset(in)
		drainInto(t, p, false, &l)
	}
	allocs := testing.AllocsPerRun(5, func() {
		p.Reset(in)
		drainInto(t, p, false, &l)
	})
	if allocs != 0 {
		t.Fatalf("Next+Series allocate %v times per body, want 0", allocs)
	}
}

func TestLabelsAllocatesOnlyResult(t *testing.T) {
	for _, name := range []string{"node_exporter.prom", "alltypes.prom"} {
		t.Run(name, func(t *testing.T) {
			in := readCorpus(t, name)
			p := New(in)
			series := drain(t, p, true)
			var l labels.Labels
			allocs := testing.AllocsPerRun(20, func() {
				p.Reset(in)
				drainInto(t, p, true, &l)
			})
			if allocs > float64(series) {
				t.Fatalf("%v allocations for %d series, want at most one per series", allocs, series)
			}
		})
	}
}

// BenchmarkParse parses node_exporter.prom with Parser and with textparse's
// PromParser. "promtext" reuses one Parser, which remembers the previous
// body's comment, HELP and TYPE lines; "promtext_cold" does not. "labels"
// calls Labels on every series (a scrape without a
// series cache); "series" calls only Series (a cached scrape). The "ratio"
// runs alternate the two parsers on every iteration, so both see the same
// machine load, and report textparse_ns, promtext_ns and x_faster (textparse
// time divided by ours).
func BenchmarkParse(b *testing.B) {
	in := readCorpus(b, "node_exporter.prom")
	st := labels.NewSymbolTable()
	for _, mode := range []struct {
		name   string
		labels bool
	}{{"labels", true}, {"series", false}} {
		b.Run(mode.name, func(b *testing.B) {
			b.Run("textparse", func(b *testing.B) {
				b.SetBytes(int64(len(in)))
				b.ReportAllocs()
				var l labels.Labels
				for b.Loop() {
					drainInto(b, textparse.NewPromParser(in, st, false), mode.labels, &l)
				}
			})
			b.Run("promtext", func(b *testing.B) {
				b.SetBytes(int64(len(in)))
				b.ReportAllocs()
				var l labels.Labels
				p := New(nil)
				for b.Loop() {
					p.Reset(in)
					drainInto(b, p, mode.labels, &l)
				}
			})
			// A new Parser per body: nothing remembered from the previous
			// body (see metaMemo), as on a target's first scrape.
			b.Run("promtext_cold", func(b *testing.B) {
				b.SetBytes(int64(len(in)))
				var l labels.Labels
				for b.Loop() {
					drainInto(b, New(in), mode.labels, &l)
				}
			})
			b.Run("ratio", func(b *testing.B) {
				var l labels.Labels
				var ref, ours time.Duration
				p := New(nil)
				for b.Loop() {
					t0 := time.Now()
					drainInto(b, textparse.NewPromParser(in, st, false), mode.labels, &l)
					t1 := time.Now()
					p.Reset(in)
					drainInto(b, p, mode.labels, &l)
					ref += t1.Sub(t0)
					ours += time.Since(t1)
				}
				b.ReportMetric(float64(ref.Nanoseconds())/float64(b.N), "textparse_ns")
				b.ReportMetric(float64(ours.Nanoseconds())/float64(b.N), "promtext_ns")
				b.ReportMetric(float64(ref)/float64(ours), "x_faster")
			})
		})
	}
}

// TestRepeatedMetadataHeldOnce: once a body repeats the previous one's
// comment, HELP and TYPE lines, the parser keeps one copy of them, not
// two; a change records the new lines again.
func TestRepeatedMetadataHeldOnce(t *testing.T) {
	in := readCorpus(t, "node_exporter.prom")
	p := New(in)
	for range 3 {
		p.Reset(in)
		drain(t, p, false)
	}
	if len(p.memo.prevBuf) == 0 {
		t.Fatal("the memo recorded nothing")
	}
	p.Reset(in)
	if p.memo.cur != nil || p.memo.curBuf != nil {
		t.Fatalf("memo holds a second copy after a repeated body: %d entries, %d bytes", cap(p.memo.cur), cap(p.memo.curBuf))
	}
	drain(t, p, false)
	if !p.MetadataRepeated() {
		t.Fatal("MetadataRepeated false for a repeated body")
	}
	changed := append([]byte("# HELP extra one more family\n# TYPE extra gauge\nextra 1\n"), in...)
	for _, body := range [][]byte{changed, changed} {
		p.Reset(body)
		drain(t, p, false)
	}
	if !p.MetadataRepeated() {
		t.Fatal("MetadataRepeated false for the changed body repeated")
	}
}

// TestMetadataLinesShared: parsers of bodies with the same metadata lines
// (targets of one exporter version) hold one copy of them and of their
// memos; different lines get their own, and the shared copy is never
// written.
func TestMetadataLinesShared(t *testing.T) {
	in := readCorpus(t, "node_exporter.prom")
	other := append([]byte("# HELP extra one more family\n# TYPE extra gauge\nextra 1\n"), in...)
	parse := func(body []byte) *Parser {
		p := New(body)
		for range 3 {
			p.Reset(body)
			drain(t, p, false)
		}
		return p
	}
	a, b, c := parse(in), parse(in), parse(other)
	if len(a.memo.prevBuf) == 0 || &a.memo.prevBuf[0] != &b.memo.prevBuf[0] || &a.memo.prev[0] != &b.memo.prev[0] {
		t.Fatal("two parsers of the same metadata lines hold two copies")
	}
	if &a.memo.prevBuf[0] == &c.memo.prevBuf[0] || &a.memo.prev[0] == &c.memo.prev[0] {
		t.Fatal("different metadata lines share a copy")
	}
	want, wantMemos := bytes.Clone(a.memo.prevBuf), slices.Clone(a.memo.prev)
	// b's metadata changes: b records and interns the new lines; a's stay.
	for range 2 {
		b.Reset(other)
		drain(t, b, false)
	}
	b.Reset(other)
	if !bytes.Equal(a.memo.prevBuf, want) || !slices.Equal(a.memo.prev, wantMemos) {
		t.Fatal("the shared lines were modified")
	}
	if &b.memo.prevBuf[0] != &c.memo.prevBuf[0] {
		t.Fatal("b's new lines are not shared with c's equal ones")
	}
	a.Reset(in)
	drain(t, a, false)
	if !a.MetadataRepeated() {
		t.Fatal("a's repeated body not recognized after b changed")
	}
}

// TestReleaseKeepsMemo: Release drops every view into the body (the label
// builder's included: the body can be collected while the parser lives) but
// keeps the metadata memo, so the next body still skips the repeated lines.
func TestReleaseKeepsMemo(t *testing.T) {
	in := readCorpus(t, "node_exporter.prom")
	p := New(in)
	for range 3 {
		p.Reset(bytes.Clone(in))
		drain(t, p, false)
		p.Release()
	}
	collected := make(chan struct{}, 1)
	func() {
		body := bytes.Clone(in)
		runtime.AddCleanup(&body[0], func(struct{}) { collected <- struct{}{} }, struct{}{})
		p.Reset(body)
		drain(t, p, true) // Labels too: the builder holds strings into the body
		p.Release()
	}()
	if p.b != nil || p.series != nil || p.metaName != nil || p.text != nil {
		t.Fatal("Release kept a view into the body")
	}
	// Cleanups run on their own goroutine after a collection: yield to it.
	gone := false
	for range 1000 {
		runtime.GC()
		runtime.Gosched()
		select {
		case <-collected:
			gone = true
		default:
		}
		if gone {
			break
		}
	}
	if !gone {
		t.Fatal("the released body is still reachable from the parser")
	}
	p.Reset(bytes.Clone(in))
	drain(t, p, false)
	if !p.MetadataRepeated() {
		t.Fatal("the memo was lost across Release")
	}
	runtime.KeepAlive(p)
}

// TestMemoSizedFromFirstBody: the first recording of the metadata lines
// (the second body) is sized from the first body's, so it is not regrown.
func TestMemoSizedFromFirstBody(t *testing.T) {
	in := readCorpus(t, "node_exporter.prom")
	p := New(in)
	drain(t, p, false)
	p.Reset(in)
	drain(t, p, false)
	m := &p.memo
	if !m.dirty || len(m.cur) == 0 {
		t.Fatal("the second body was not recorded")
	}
	if cap(m.cur) != len(m.cur) || cap(m.curBuf) != len(m.curBuf) {
		t.Fatalf("recorded %d lines of %d bytes into room for %d and %d", len(m.cur), len(m.curBuf), cap(m.cur), cap(m.curBuf))
	}
}
