package main

import (
	"bytes"
	"context"
	"errors"
	"reflect"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/watchdog-sre/watchdog/pager"
	"github.com/watchdog-sre/watchdog/rules/alertmanager"
)

// fakeCluster is a cluster status read that counts its calls and blocks
// while hang is set.
type fakeCluster struct {
	mu    sync.Mutex
	st    pager.ClusterStatus
	err   error
	reads int
	hang  chan struct{} // reads wait for it to close; nil answers at once
}

func (f *fakeCluster) read() (pager.ClusterStatus, error) {
	f.mu.Lock()
	f.reads++
	hang := f.hang
	f.mu.Unlock()
	if hang != nil {
		<-hang
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.st, f.err
}

func (f *fakeCluster) set(fn func(f *fakeCluster)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn(f)
}

// TestClusterCache: the status is read at most once a second; a read that
// hangs (a database that does not answer) keeps callers waiting no longer
// than a second, with the last good status and errNoAnswer, and no second
// read starts beside it; an error keeps the last good status.
func TestClusterCache(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a := pager.ClusterStatus{Replica: "a", Leader: "a", Token: 1}
		b := pager.ClusterStatus{Replica: "a", Leader: "b", Token: 2}
		f := &fakeCluster{st: a}
		c := newClusterCache(f.read)
		steps := []struct {
			name    string
			act     func()
			token   int64
			errWant error // nil, errNoAnswer or errDown
			reads   int
			took    time.Duration // how long status() may take at most
		}{
			{"first read", func() {}, 1, nil, 1, 0},
			{"cached", func() { f.set(func(f *fakeCluster) { f.st = b }); time.Sleep(500 * time.Millisecond) }, 1, nil, 1, 0},
			{"read again after a second", func() { time.Sleep(600 * time.Millisecond) }, 2, nil, 2, 0},
			{"database hangs", func() {
				f.set(func(f *fakeCluster) { f.hang = make(chan struct{}) })
				time.Sleep(2 * time.Second)
			}, 2, errNoAnswer, 3, time.Second},
			{"still hanging: no second read", func() {}, 2, errNoAnswer, 3, time.Second},
			{"database answers an error", func() {
				f.set(func(f *fakeCluster) { close(f.hang); f.hang = nil; f.err = errDown; f.st = pager.ClusterStatus{} })
				time.Sleep(2 * time.Second)
			}, 2, errDown, 4, 0},
			{"database back", func() {
				f.set(func(f *fakeCluster) { f.err = nil; f.st = a })
				time.Sleep(2 * time.Second)
			}, 1, nil, 5, 0},
		}
		for _, s := range steps {
			s.act()
			synctest.Wait()
			start := time.Now()
			st, err := c.status()
			if took := time.Since(start); took > s.took {
				t.Fatalf("%s: status() took %s, want at most %s", s.name, took, s.took)
			}
			if st.Token != s.token || !errors.Is(err, s.errWant) || (s.errWant == nil) != (err == nil) {
				t.Fatalf("%s: token %d err %v, want token %d err %v", s.name, st.Token, err, s.token, s.errWant)
			}
			synctest.Wait()
			f.mu.Lock()
			reads := f.reads
			f.mu.Unlock()
			if reads != s.reads {
				t.Fatalf("%s: %d reads, want %d", s.name, reads, s.reads)
			}
		}
	})
}

var errDown = errors.New("connection refused")

// TestClusterMetrics: watchdog_pager_replicas counts the replicas seen
// alive and watchdog_pager_lease_expiry_timestamp_seconds is the lease's
// end, for a clustered pager, a single process and a database that was
// never read.
func TestClusterMetrics(t *testing.T) {
	exp := time.Date(2026, 3, 2, 10, 0, 4, 500e6, time.UTC)
	three := pager.ClusterStatus{Replica: "b", Leader: "a", Token: 3, LeaseExpires: exp, Replicas: []pager.ReplicaStatus{
		{Name: "a", Alive: true, Leader: true}, {Name: "b", Alive: true}, {Name: "c"},
	}}
	for _, tc := range []struct {
		name     string
		st       pager.ClusterStatus
		err      error
		replicas string
		expiry   string
	}{
		{"three replicas, one down", three, nil, "2", "1.7724456045e+09"},
		{"single process", pager.ClusterStatus{Leading: true}, nil, "1", "0"},
		{"database never read", pager.ClusterStatus{}, errDown, "0", "0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakeCluster{st: tc.st, err: tc.err}
			set := metrics.NewSet()
			registerClusterMetrics(set, newClusterCache(f.read))
			var buf bytes.Buffer
			set.WritePrometheus(&buf)
			for _, want := range []string{"watchdog_pager_replicas " + tc.replicas + "\n",
				"watchdog_pager_lease_expiry_timestamp_seconds " + tc.expiry + "\n"} {
				if !strings.Contains(buf.String(), want) {
					t.Errorf("metrics lack %q:\n%s", want, buf.String())
				}
			}
			if f.reads != 1 {
				t.Errorf("one scrape read the status %d times, want 1", f.reads)
			}
		})
	}
}

// The API's buffer holds the received alerts themselves (one alert type
// from source to sink): an alert received without an end keeps Timeout, so
// it still resolves after resolve_timeout once the pager takes it.
func TestAPIBufferKeepsAlerts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		got := make(chan []pager.Alert, 1)
		q := alertmanager.NewLocal(alertmanager.LocalOptions{Name: "api"}, func(alerts ...alertmanager.Alert) error {
			got <- alerts
			return nil
		})
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		go func() { _ = q.Run(ctx) }()
		in := pager.Alert{Labels: map[string]string{"alertname": "A"}, Annotations: map[string]string{"summary": "s"},
			StartsAt: time.Unix(1_700_000_000, 0), GeneratorURL: "http://x", Timeout: true}
		apiBuffer{q}.Hold(in)
		out := <-got
		if len(out) != 1 || !reflect.DeepEqual(out[0], in) {
			t.Fatalf("delivered %+v, want %+v", out, in)
		}
	})
}
