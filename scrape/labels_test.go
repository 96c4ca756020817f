package scrape

import (
	"context"
	"testing"

	"github.com/prometheus/prometheus/model/labels"
)

// TestCacheKeepsNoLabelsWithRef: once the store gave a series a ref, its
// cache entry keeps no labels; when the ref fails (the store removed the
// series), the line's labels are parsed again and the sample goes to a
// series with the same labels as before.
func TestCacheKeepsNoLabelsWithRef(t *testing.T) {
	rec := newRecorder()
	sl := newTestScrapeLoop(rec, nil)
	body := []byte("a{x=\"1\"} 1\nb 2\n")
	scrape := func(ts int64) {
		t.Helper()
		app := rec.appender()
		if _, err := sl.appendBody(context.Background(), app, body, "text/plain", ts); err != nil {
			t.Fatal(err)
		}
		sl.cache.iterDone(true)
		if err := app.Commit(); err != nil {
			t.Fatal(err)
		}
		if sl.cur != nil {
			t.Fatal("appendBody left its parser in sl.cur")
		}
	}
	scrape(1000)
	live := 0
	for idx := range sl.cache.used {
		if e := sl.cache.entry(idx); e.state == slotLive {
			live++
			if e.ref == 0 || !e.lset.IsEmpty() {
				t.Fatalf("entry with ref %d keeps labels %s", e.ref, e.lset)
			}
		}
	}
	if live != 2 {
		t.Fatalf("%d live entries, want 2", live)
	}
	scrape(2000)
	rec.gc() // the store forgets every ref
	scrape(3000)
	want := labels.FromStrings("__name__", "a", "instance", "h:1", "job", "j", "x", "1")
	var ts []int64
	for _, s := range rec.committed {
		if labels.Equal(s.lset, want) {
			ts = append(ts, s.t)
		}
	}
	if len(ts) != 3 || ts[2] != 3000 {
		t.Fatalf("samples of %s at %v, want 1000, 2000, 3000", want, ts)
	}
	if len(rec.refMisuses) > 0 {
		t.Fatalf("ref misuse: %v", rec.refMisuses)
	}
}
