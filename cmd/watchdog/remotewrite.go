package main

import (
	"context"
	"log/slog"
	"reflect"
	"sync"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/prometheus/prometheus/model/labels"

	"github.com/watchdog-sre/watchdog/config"
	"github.com/watchdog-sre/watchdog/remote"
	"github.com/watchdog-sre/watchdog/tsdb"
)

// remoteWriters runs one remote.Sender per remote_write entry. A reload
// applies the new list: a sender whose entry (or the external labels) is
// unchanged keeps running; a changed one is stopped and started again from
// the positions it had reached; a removed one is stopped and its positions
// are dropped from later snapshots; a new one starts from the positions of
// the loaded snapshot, if any.
type remoteWriters struct {
	mu        sync.Mutex
	db        *tsdb.DB
	retention time.Duration
	set       *metrics.Set
	logger    *slog.Logger
	running   map[string]*runningSender
}

type runningSender struct {
	s      *remote.Sender
	cfg    *config.RemoteWriteConfig
	ext    labels.Labels
	cancel context.CancelFunc
	done   chan struct{}
}

func (r *runningSender) stop() {
	r.cancel()
	<-r.done
}

// apply makes the running senders those of cfgs, each sending with ext.
func (w *remoteWriters) apply(ctx context.Context, cfgs []*config.RemoteWriteConfig, ext labels.Labels) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.running == nil {
		w.running = map[string]*runningSender{}
	}
	next := map[string]*config.RemoteWriteConfig{}
	for _, c := range cfgs {
		if c != nil {
			next[c.Name] = c
		}
	}
	positions := map[string][]byte{}
	for name, r := range w.running {
		c, keep := next[name]
		if keep && reflect.DeepEqual(c, r.cfg) && labels.Equal(ext, r.ext) {
			continue
		}
		r.stop()
		delete(w.running, name)
		if keep {
			positions[name] = r.s.AppendSnapshot(nil)
			continue
		}
		w.db.SetSnapshotSection(remote.SectionName(name), nil)
		w.logger.Info("remote write: stopped", "remote_name", name, "url", r.cfg.URL)
	}
	for name, c := range next {
		if _, ok := w.running[name]; ok {
			continue
		}
		s, err := remote.New(remote.Options{
			Config: c, ExternalLabels: ext, Store: w.db, Snapshots: w.db, Positions: positions[name],
			Retention: w.retention, Metrics: w.set, Logger: w.logger,
		})
		if err != nil { // only for a missing config or store
			w.logger.Error("remote write: cannot start", "remote_name", name, "err", err)
			continue
		}
		rctx, cancel := context.WithCancel(ctx)
		r := &runningSender{s: s, cfg: c, ext: ext, cancel: cancel, done: make(chan struct{})}
		go func() {
			defer close(r.done)
			_ = s.Run(rctx)
		}()
		w.running[name] = r
		w.logger.Info("remote write: sending", "remote_name", name, "url", c.URL, "protobuf_message", c.ProtobufMessage)
	}
}

// stop stops every sender and waits for them, so that the final snapshot
// holds their last positions.
func (w *remoteWriters) stop() {
	w.mu.Lock()
	defer w.mu.Unlock()
	for name, r := range w.running {
		r.stop()
		delete(w.running, name)
	}
}
