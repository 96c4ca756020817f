package scrape

import (
	"reflect"
	"runtime"
	"testing"
)

// TestSharedMetadata: targets publishing equal metadata get one set;
// different metadata gets its own; sets no target holds are pruned.
func TestSharedMetadata(t *testing.T) {
	node := func() map[string]Metadata {
		return map[string]Metadata{
			"node_cpu_seconds_total": {Type: "counter", Help: "Seconds the CPUs spent in each mode."},
			"node_load1":             {Type: "gauge", Help: "1m load average."},
		}
	}
	other := node()
	other["node_load1"] = Metadata{Type: "gauge", Help: "1m load average (v2)."}
	tab := newSharedMeta()
	var a, b, c metaCollector
	for _, mc := range []*metaCollector{&a, &b, &c} {
		mc.shared = tab
	}
	for mc, m := range map[*metaCollector]map[string]Metadata{&a: node(), &b: node(), &c: other} {
		mc.begin()
		mc.cur = m
		mc.end(true)
	}
	if a.published != b.published {
		t.Error("equal metadata of two targets not shared")
	}
	if a.published == c.published || !reflect.DeepEqual(c.published.get(), other) {
		t.Errorf("different metadata shared or changed: %v", c.published.get())
	}
	if !reflect.DeepEqual(a.published.get(), node()) {
		t.Errorf("shared metadata %v, want %v", a.published.get(), node())
	}
	// A failed scrape keeps the published set.
	before := a.published
	a.begin()
	a.end(false)
	if a.published != before {
		t.Error("failed scrape replaced the metadata")
	}
	// Once no target holds them, the sets are collected and pruned.
	a, b, c = metaCollector{}, metaCollector{}, metaCollector{}
	// Cleanups run on their own goroutine after a collection: yield to it.
	n := -1
	for range 1000 {
		runtime.GC()
		runtime.Gosched()
		tab.mu.Lock()
		n = len(tab.sets)
		tab.mu.Unlock()
		if n == 0 {
			break
		}
	}
	if n != 0 {
		t.Fatalf("%d metadata sets still held with no target publishing them", n)
	}
	var none *sharedMeta
	if s := none.share(node()); !reflect.DeepEqual(s.get(), node()) {
		t.Error("nil sharedMeta must publish the map as is")
	}
}
