package remote

import (
	"context"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"

	"github.com/watchdog-sre/watchdog/tsdb"
)

// BenchmarkIdleScan is the sender's cost when nothing is new, once every
// ScanInterval (1 s): "full" visits 150 k series that were all sent (a
// map lookup, a series lock and a comparison each), as every scan does
// without a change feed and one in fullScanEvery does with it; "feed"
// drains an empty change feed, as the other scans do.
func BenchmarkIdleScan(b *testing.B) {
	for _, feed := range []bool{false, true} {
		name := "full"
		if feed {
			name = "feed"
		}
		b.Run(name, func(b *testing.B) { benchIdleScan(b, feed) })
	}
}

func benchIdleScan(b *testing.B, feed bool) {
	const n = 150_000
	t0 := time.Now().UnixMilli()
	db, err := tsdb.Open(tsdb.Options{Now: func() time.Time { return time.UnixMilli(t0) }})
	if err != nil {
		b.Fatal(err)
	}
	app := db.Appender()
	for i := range n {
		ls := labels.FromStrings("__name__", "node_metric_"+strconv.Itoa(i%3000), "instance", "node-"+strconv.Itoa(i/3000))
		if _, err := app.Append(0, ls, t0, float64(i)); err != nil {
			b.Fatal(err)
		}
	}
	if err := app.Commit(); err != nil {
		b.Fatal(err)
	}
	rc := newReceiver()
	s, err := New(Options{Config: rwConfig(b, "url: http://recv.test/api/v1/write"), Store: db, Client: rc.client()})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	s.startShards(ctx, &wg, 1)
	if feed {
		s.feed = db.NewChangeFeed(feedLimit)
		defer s.feed.Close()
	}
	if err := s.scan(ctx, false); err != nil { // reads everything once
		b.Fatal(err)
	}
	b.ResetTimer()
	for range b.N {
		s.scans = 1 // never the periodic full scan
		if err := s.scan(ctx, false); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/n, "ns/series")
}
