package alertmanager

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/VictoriaMetrics/metrics"
)

// queue is a bounded FIFO of alerts shared by one producer side (any
// goroutine) and one consumer goroutine. push never blocks: when the queue
// is full its oldest alerts are dropped and counted, as Prometheus's
// notifier does — firing alerts are re-sent every resend interval, so the
// newest state wins.
type queue struct {
	capacity int
	dropped  *metrics.Counter

	mu    sync.Mutex
	items []Alert       // oldest first
	wake  chan struct{} // buffer of one: the queue has alerts
}

func newQueue(capacity int, dropped *metrics.Counter) queue {
	return queue{capacity: capacity, dropped: dropped, wake: make(chan struct{}, 1)}
}

// push appends alerts, dropping the oldest beyond capacity, and returns
// how many it dropped.
func (q *queue) push(alerts []Alert) (dropped int) {
	q.mu.Lock()
	if len(alerts) > q.capacity {
		dropped = len(alerts) - q.capacity
		alerts = alerts[dropped:]
	}
	if over := len(q.items) + len(alerts) - q.capacity; over > 0 {
		dropped += over
		// Shift rather than reslice, so the backing array does not grow
		// without bound under constant overflow.
		n := copy(q.items, q.items[over:])
		clear(q.items[n:])
		q.items = q.items[:n]
	}
	q.items = append(q.items, alerts...)
	q.mu.Unlock()
	q.dropped.Add(dropped)
	select {
	case q.wake <- struct{}{}:
	default:
	}
	return dropped
}

// pop takes up to n alerts off the front of the queue.
func (q *queue) pop(n int) []Alert {
	q.mu.Lock()
	defer q.mu.Unlock()
	n = min(n, len(q.items))
	if n == 0 {
		return nil
	}
	batch := make([]Alert, n)
	copy(batch, q.items)
	m := copy(q.items, q.items[n:])
	clear(q.items[m:])
	q.items = q.items[:m]
	return batch
}

// length is the number of queued alerts, for a gauge.
func (q *queue) length() float64 {
	q.mu.Lock()
	defer q.mu.Unlock()
	return float64(len(q.items))
}

// DeliverFunc hands a batch of alerts to an in-process receiver (the
// console, the pager). It may be slow; it runs on the Local's own goroutine.
// An error (the pager's database is down) keeps the batch: it is offered
// again after a backoff, while newer alerts wait in the bounded queue.
type DeliverFunc func(alerts ...Alert) error

// Retry waits of a Local whose receiver fails: doubling from the first to
// the last.
const (
	localRetryFirst = time.Second
	localRetryMax   = 30 * time.Second
)

// LocalOptions configures a Local. The zero value is usable: the default
// capacity and batch size, a private metrics set, no logs.
type LocalOptions struct {
	// Name labels the metrics (sink="<name>").
	Name string
	// Capacity bounds the queue (DefaultQueueCapacity when 0); when full the
	// oldest alerts are dropped and counted.
	Capacity int
	// BatchSize is the most alerts handed to the receiver at once
	// (DefaultBatchSize when 0).
	BatchSize int
	// Metrics receives watchdog_alert_queue_length{sink},
	// watchdog_alert_queue_dropped_total{sink},
	// watchdog_alert_queue_delivered_total{sink} and
	// watchdog_alert_queue_delivery_failures_total{sink}. nil uses a
	// private set.
	Metrics *metrics.Set
	// Logger receives a line when alerts are dropped; nil discards.
	Logger *slog.Logger
}

// Local decouples the rule engine from an in-process receiver: Send queues
// and returns at once, and one goroutine (Run) delivers in order. A slow
// receiver — a pager whose store is slow — therefore never delays rule
// evaluation; at worst its queue fills and the oldest alerts are dropped,
// counted and logged.
type Local struct {
	opts      LocalOptions
	deliver   DeliverFunc
	q         queue
	delivered *metrics.Counter
	failures  *metrics.Counter
	log       *slog.Logger
	// busy is set from before Run pops a batch until it is delivered, so
	// that Holding never misses alerts taken off the queue but not yet
	// delivered.
	busy atomic.Bool
}

// NewLocal returns a Local that delivers to deliver once Run is called.
func NewLocal(opts LocalOptions, deliver DeliverFunc) *Local {
	if opts.Capacity <= 0 {
		opts.Capacity = DefaultQueueCapacity
	}
	if opts.BatchSize <= 0 {
		opts.BatchSize = DefaultBatchSize
	}
	if opts.Metrics == nil {
		opts.Metrics = metrics.NewSet()
	}
	l := &Local{opts: opts, deliver: deliver, log: opts.Logger}
	if l.log == nil {
		l.log = slog.New(slog.DiscardHandler)
	}
	lbl := `{sink="` + escapeLabelValue(opts.Name) + `"}`
	l.delivered = opts.Metrics.GetOrCreateCounter("watchdog_alert_queue_delivered_total" + lbl)
	l.failures = opts.Metrics.GetOrCreateCounter("watchdog_alert_queue_delivery_failures_total" + lbl)
	l.q = newQueue(opts.Capacity, opts.Metrics.GetOrCreateCounter("watchdog_alert_queue_dropped_total"+lbl))
	opts.Metrics.GetOrCreateGauge("watchdog_alert_queue_length"+lbl, l.q.length)
	return l
}

// Send queues alerts and returns at once; it never blocks on delivery.
func (l *Local) Send(alerts ...Alert) {
	if len(alerts) == 0 {
		return
	}
	if n := l.q.push(alerts); n > 0 {
		l.log.Error("alert queue full: oldest alerts dropped (the receiver is slower than the rules)",
			"sink", l.opts.Name, "dropped", n, "capacity", l.opts.Capacity)
	}
}

// Holding reports whether alerts are queued or being delivered (a
// receiver that is down keeps them). A caller that delivers some alerts
// itself sends them through the Local instead while it holds any, so that
// they are not delivered ahead of earlier ones.
func (l *Local) Holding() bool {
	return l.busy.Load() || l.q.length() > 0
}

// Run delivers queued alerts in order, a batch at a time, until ctx is done;
// alerts still queued then are dropped. A batch the receiver refuses is
// offered again, after a backoff, until it is taken: nothing is lost while
// the receiver is down but what the bounded queue drops. It returns nil.
// Call it once.
func (l *Local) Run(ctx context.Context) error {
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-l.q.wake:
		}
		for ctx.Err() == nil {
			l.busy.Store(true)
			batch := l.q.pop(l.opts.BatchSize)
			if len(batch) == 0 {
				l.busy.Store(false)
				break
			}
			if !l.deliverRetrying(ctx, batch) {
				return nil
			}
			l.busy.Store(false)
		}
	}
}

// deliverRetrying hands batch to the receiver until it is taken; false
// when ctx ended first.
func (l *Local) deliverRetrying(ctx context.Context, batch []Alert) bool {
	wait := localRetryFirst
	for failed := false; ; failed = true {
		err := l.deliver(batch...)
		if err == nil {
			if failed {
				l.log.Info("alert receiver is back: delivering again", "sink", l.opts.Name)
			}
			l.delivered.Add(len(batch))
			return true
		}
		l.failures.Inc()
		if !failed {
			l.log.Error("alert receiver failed: holding its alerts and retrying", "sink", l.opts.Name,
				"alerts", len(batch), "err", err)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return false
		case <-t.C:
		}
		wait = min(2*wait, localRetryMax)
	}
}
