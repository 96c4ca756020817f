package remote

import (
	"net/http"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/prometheus/model/labels"

	"github.com/watchdog-sre/watchdog/tsdb"
)

func TestDecodePositions(t *testing.T) {
	key := string(appendLabels(nil, labels.FromStrings("__name__", "up", "job", "a")))
	good := []byte{positionsVersion, 1}
	good = append(good, key...)
	good = append(good, 0x80, 0x01) // varint 64
	got, err := decodePositions(good)
	if err != nil || len(got) != 1 || got[key] != 64 {
		t.Fatalf("decodePositions(good) = %v, %v", got, err)
	}
	for name, b := range map[string][]byte{
		"empty":       nil,
		"version":     {2, 0},
		"truncated":   good[:len(good)-1],
		"trailing":    append(append([]byte{}, good...), 0),
		"huge count":  {positionsVersion, 0xff, 0xff, 0x03},
		"label bytes": {positionsVersion, 1, 1, 200, 'a'},
	} {
		if _, err := decodePositions(b); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func FuzzDecodePositions(f *testing.F) {
	f.Add(append(append([]byte{positionsVersion, 1}, appendLabels(nil, labels.FromStrings("a", "b"))...), 2))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := decodePositions(b)
		if err != nil {
			return
		}
		// Whatever decodes re-encodes to the same bytes (one entry) or
		// at least decodes again.
		s := &Sender{byRef: map[uint64]*series{}, restored: m}
		if _, err := decodePositions(s.AppendSnapshot(nil)); err != nil {
			t.Fatalf("re-encoded positions do not decode: %v", err)
		}
	})
}

// TestDamagedPositions: unreadable saved positions are logged and the
// store is sent again from its start, rather than the sender failing.
func TestDamagedPositions(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		db, _ := tsdb.Open(tsdb.Options{})
		rc := newReceiver()
		cfg := rwConfig(t, "url: http://recv.test/api/v1/write")
		appendAt(t, db, nodeSeries(3), now(), 1)
		start(t, Options{Config: cfg, Store: db, Client: rc.client(), Positions: []byte{9, 9, 9}})
		time.Sleep(10 * time.Second)
		synctest.Wait()
		checkExactlyOnce(t, rc.received(), stored(t, db, labels.EmptyLabels()))
	})
}

// TestReshard: a backlog with a healthy receiver grows the shard count up
// to max_shards, and delivery stays exactly once.
func TestReshard(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		db, _ := tsdb.Open(tsdb.Options{})
		rc := newReceiver()
		// The receiver takes a second a request: one shard sends 50
		// samples a second, four 200, what the store gets.
		rc.setFail(func(int, http.ResponseWriter, *http.Request) bool {
			time.Sleep(time.Second)
			return false
		})
		cfg := rwConfig(t, "url: http://recv.test/api/v1/write\nqueue_config: {max_samples_per_send: 50, capacity: 100, max_shards: 4}")
		// storeOnly hides the change feed: every scan visits every series.
		r := start(t, Options{Config: cfg, Store: storeOnly{db}, Client: rc.client()})
		scrapeEvery(t, db, nodeSeries(200), time.Second, 2*time.Minute)
		time.Sleep(10 * time.Minute)
		synctest.Wait()
		if got := r.gauge("shards"); got != 4 {
			t.Errorf("shards = %v, want 4 (max_shards)", got)
		}
		checkExactlyOnce(t, rc.received(), stored(t, db, labels.EmptyLabels()))
	})
}

// storeOnly is a Store without a change feed.
type storeOnly struct{ db *tsdb.DB }

func (s storeOnly) Postings(dst []uint64, ms ...*labels.Matcher) []uint64 {
	return s.db.Postings(dst, ms...)
}

func (s storeOnly) ReadRanges(ref uint64, rs []tsdb.Range, dst *tsdb.Samples) (labels.Labels, bool) {
	return s.db.ReadRanges(ref, rs, dst)
}
