package remote

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// shard sends the batches of the series that map to it (shardOf), one request at a
// time, in order.
type shard struct {
	ch       chan *batch // from the reader; closed to drain and stop
	free     chan *batch // batches to reuse
	pending  *batch      // being filled by the reader
	closed   bool        // ch is closed (reader only)
	enc      *encoder
	retrying atomic.Bool // the current request failed and waits to be retried
}

func (s *Sender) newShard() *shard {
	return &shard{
		ch:   make(chan *batch, s.queueLen),
		free: make(chan *batch, s.queueLen+2),
		enc:  newEncoder(s.client.v2),
	}
}

// newBatch returns an empty batch, reused if one is free.
func (sh *shard) newBatch() *batch {
	select {
	case b := <-sh.free:
		sh.pending = b
	default:
		sh.pending = &batch{}
	}
	return sh.pending
}

func (s *Sender) startShards(ctx context.Context, wg *sync.WaitGroup, n int) {
	s.shards = make([]*shard, n)
	for i := range s.shards {
		sh := s.newShard()
		s.shards[i] = sh
		wg.Go(func() { s.runShard(ctx, sh) })
	}
	s.m.shards.Set(float64(n))
}

// reshard sends what is pending, waits for every shard to finish its
// queue (a series changes shard, and its samples must stay in order), and
// starts n shards on sctx.
func (s *Sender) reshard(ctx, sctx context.Context, wg *sync.WaitGroup, n int) error {
	for _, sh := range s.shards {
		if sh.pending != nil && sh.pending.len() > 0 {
			if err := s.dispatch(ctx, sh); err != nil {
				return err
			}
		}
		sh.close()
	}
	done := make(chan struct{})
	go func() {
		wg.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-ctx.Done(): // Run stops: its flush finds the shards closed
		return ctx.Err()
	}
	s.log.Info("remote write: resharding", "from", len(s.shards), "to", n)
	s.startShards(sctx, wg, n)
	return nil
}

// close closes sh's queue once: its shard sends what is queued and ends.
func (sh *shard) close() {
	if !sh.closed {
		sh.closed = true
		close(sh.ch)
	}
}

// healthy reports whether no shard is waiting to retry a request.
func (s *Sender) healthy() bool {
	for _, sh := range s.shards {
		if sh.retrying.Load() {
			return false
		}
	}
	return true
}

// dispatch queues sh's pending batch, waiting while the queue is full.
func (s *Sender) dispatch(ctx context.Context, sh *shard) error {
	b := sh.pending
	sh.pending = nil
	select {
	case sh.ch <- b:
		return nil
	default:
	}
	start := s.now()
	defer func() { s.blocked += s.now().Sub(start) }()
	select {
	case sh.ch <- b:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// runShard sends the batches of sh until its queue is closed or ctx is
// done.
func (s *Sender) runShard(ctx context.Context, sh *shard) {
	for {
		select {
		case <-ctx.Done():
			return
		case b, ok := <-sh.ch:
			if !ok {
				return
			}
			if !s.send(ctx, sh, b) {
				return // ctx done: b stays unacknowledged
			}
			b.reset()
			select {
			case sh.free <- b:
			default:
			}
		}
	}
}

// send delivers b, retrying as the spec says, and acknowledges it. It
// returns false if ctx was done first.
func (s *Sender) send(ctx context.Context, sh *shard, b *batch) bool {
	body, err := sh.enc.encode(b)
	if err != nil {
		s.log.Error("remote write: cannot encode a request; dropping it", "samples", b.len(), "err", err)
		s.m.failed.Add(b.len())
		s.acked(b, false)
		return true
	}
	backoff := time.Duration(s.cfg.QueueConfig.MinBackoff)
	for attempt := 0; ; attempt++ {
		o := s.client.post(ctx, body)
		s.m.requests.Inc()
		if o.status != 0 {
			s.m.bytes.Add(len(body))
		}
		switch o.verdict {
		case sent:
			sh.retrying.Store(false)
			s.acked(b, true)
			return true
		case unconfirmed:
			sh.retrying.Store(false)
			s.log.Error("remote write: request not confirmed; counting its samples as failed", "samples", b.len(), "err", o.err)
			s.m.unconfirmed.Add(b.len())
			s.m.failed.Add(b.len())
			s.acked(b, false)
			return true
		case drop:
			sh.retrying.Store(false)
			s.log.Error("remote write: receiver refused a request; dropping it", "status", o.status, "samples", b.len(), "err", o.err)
			s.m.failed.Add(b.len())
			s.acked(b, false)
			return true
		}
		if ctx.Err() != nil {
			return false
		}
		sh.retrying.Store(true)
		s.m.retried.Add(b.len())
		wait := backoff
		if o.retryAfter > 0 {
			wait = o.retryAfter
		}
		s.log.Warn("remote write: request failed; retrying", "status", o.status, "samples", b.len(),
			"attempt", attempt+1, "wait", wait, "err", o.err)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return false
		case <-t.C:
		}
		backoff = min(2*backoff, time.Duration(s.cfg.QueueConfig.MaxBackoff))
	}
}
