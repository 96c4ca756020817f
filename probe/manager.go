// Package probe runs the watchdog's probes: blackbox_exporter-style checks
// from outside (HTTP(S), TCP, DNS, gRPC health) and user journeys (HTTP
// steps sharing cookies and captured variables), on their own schedule,
// writing blackbox_exporter's series to the store.
//
// One scheduler goroutine owns every (probe, target) task in a timer heap,
// each at a hash-based offset within its interval; a due task starts in a
// goroutine of its own when one of MaxConcurrency slots is free, and waits
// for one otherwise. A task still running or waiting when it is due again
// misses that run (counted). The package sits beside scrape: it imports
// config, never rules, web, pager or cmd.
package probe

import (
	"container/heap"
	"context"
	"errors"
	"hash/fnv"
	"log/slog"
	"math"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/value"

	"github.com/watchdog-sre/watchdog/config"
)

// Defaults of Options.
const (
	DefaultMaxConcurrency = 256
	DefaultMaxAdHoc       = 16
)

// Job is the job label of every probe series.
const Job = "probe"

// ErrUnknownModule is returned by ProbeModule for a name not in probe_modules.
var ErrUnknownModule = errors.New("unknown probe module")

// Appender takes the samples of one probe run (tsdb.Appender is one).
type Appender interface {
	Append(ref uint64, lset labels.Labels, t int64, v float64) (uint64, error)
	Commit() error
	Rollback() error
}

// Options configure a Manager. The zero value is safe: results are kept
// for the API but not stored.
type Options struct {
	// Appender returns an Appender per run; nil discards the samples.
	Appender func() Appender
	// Now is the clock of sample timestamps and of the schedule (whose
	// timers come from package time, so testing/synctest fakes both); nil
	// means time.Now.
	Now func() time.Time
	// MaxConcurrency bounds the scheduled probes running at once
	// (DefaultMaxConcurrency when 0).
	MaxConcurrency int
	// MaxAdHoc bounds the /probe requests running at once (DefaultMaxAdHoc).
	MaxAdHoc int
	// Metrics receives watchdog_probe_* counters; nil uses a private set.
	Metrics *metrics.Set
	// Logger logs store errors; nil discards.
	Logger *slog.Logger
	// Prober runs the probes; nil uses NewProber().
	Prober *Prober
}

// Status is a task's state for the API and the console.
type Status struct {
	Probe    string
	Target   string
	Prober   string
	Module   string
	Labels   map[string]string
	Interval time.Duration
	Timeout  time.Duration
	// Health is "up", "down" or "unknown" (not run yet).
	Health       string
	LastRun      time.Time
	LastDuration time.Duration
	// Steps are the last run's journey steps.
	Steps []StepResult
	// LastFailure is the last failing run's reason (kept after a success),
	// at LastFailureAt.
	LastFailure   *Failure
	LastFailureAt time.Time
	Missed        int64
}

type taskKey struct{ probe, target string }

// task is one (probe, target). The scheduler owns next, index, running,
// waiting and removed; the run goroutine owns prev while running; mu
// guards status.
type task struct {
	key     taskKey
	cfg     *config.ProbeConfig
	next    time.Time
	index   int
	running bool
	waiting bool
	removed bool
	prev    map[uint64]labels.Labels
	last    int64 // timestamp (ms) of the samples in prev

	mu     sync.Mutex
	status Status
}

// Manager runs the configured probes. Apply changes the set; Run runs it.
type Manager struct {
	o       Options
	updates chan *config.Config
	done    chan *task
	adhoc   chan struct{}

	mu      sync.Mutex
	tasks   map[taskKey]*task
	modules map[string]*config.ProbeModule

	runs, failures, misses *metrics.Counter
	inFlight               int
	// runFn runs one probe: o.Prober.Run, replaced by scheduling tests.
	runFn func(ctx context.Context, m *config.ProbeModule, steps []config.JourneyStep, target string) *Result
}

// New returns a Manager with no probes.
func New(o Options) *Manager {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.MaxConcurrency <= 0 {
		o.MaxConcurrency = DefaultMaxConcurrency
	}
	if o.MaxAdHoc <= 0 {
		o.MaxAdHoc = DefaultMaxAdHoc
	}
	if o.Metrics == nil {
		o.Metrics = metrics.NewSet()
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Prober == nil {
		o.Prober = NewProber()
	}
	m := &Manager{o: o, updates: make(chan *config.Config, 1), done: make(chan *task, o.MaxConcurrency),
		adhoc: make(chan struct{}, o.MaxAdHoc), tasks: map[taskKey]*task{}}
	m.runFn = o.Prober.Run
	m.runs = o.Metrics.GetOrCreateCounter("watchdog_probe_runs_total")
	m.failures = o.Metrics.GetOrCreateCounter("watchdog_probe_failures_total")
	m.misses = o.Metrics.GetOrCreateCounter("watchdog_probe_schedule_misses_total")
	o.Metrics.GetOrCreateGauge("watchdog_probe_tasks", func() float64 {
		m.mu.Lock()
		defer m.mu.Unlock()
		return float64(len(m.tasks))
	})
	return m
}

// Apply hands the probes and probe_modules of a validated configuration to
// the scheduler; a later Apply before the scheduler took it replaces it.
func (m *Manager) Apply(c *config.Config) {
	m.mu.Lock()
	m.modules = c.ProbeModules
	m.mu.Unlock()
	for {
		select {
		case m.updates <- c:
			return
		default:
		}
		select {
		case <-m.updates:
		default:
		}
	}
}

// Statuses returns every task's state, sorted by probe then target.
func (m *Manager) Statuses() []Status {
	m.mu.Lock()
	out := make([]Status, 0, len(m.tasks))
	for _, t := range m.tasks {
		t.mu.Lock()
		s := t.status
		s.Steps = slices.Clone(s.Steps)
		t.mu.Unlock()
		out = append(out, s)
	}
	m.mu.Unlock()
	slices.SortFunc(out, func(a, b Status) int {
		if c := strings.Compare(a.Probe, b.Probe); c != 0 {
			return c
		}
		return strings.Compare(a.Target, b.Target)
	})
	return out
}

// ProbeModule runs the named module of probe_modules against target once,
// for /probe, within the module's timeout (or timeout when shorter and
// positive), at most MaxAdHoc at a time (waiting for a slot while ctx
// lasts).
func (m *Manager) ProbeModule(ctx context.Context, module, target string, timeout time.Duration) (*Result, error) {
	m.mu.Lock()
	mod, ok := m.modules[module]
	m.mu.Unlock()
	if !ok || mod == nil {
		return nil, ErrUnknownModule
	}
	t := time.Duration(mod.Timeout)
	if t <= 0 {
		t = time.Duration(config.DefaultProbeTimeout)
	}
	if timeout > 0 && timeout < t {
		t = timeout
	}
	select {
	case m.adhoc <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	defer func() { <-m.adhoc }()
	ctx, cancel := context.WithTimeout(ctx, t)
	defer cancel()
	res := m.o.Prober.Run(ctx, mod, nil, target)
	res.Samples = append(res.Samples, Sample{Name: "probe_timeout_seconds", Labels: labels.EmptyLabels(), Value: t.Seconds()})
	sortSamples(res.Samples)
	return res, nil
}

// Run schedules the probes until ctx ends, then waits for the running ones.
func (m *Manager) Run(ctx context.Context) error {
	s := &scheduler{m: m, tasks: map[taskKey]*task{}}
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		if len(s.heap) > 0 {
			timer.Reset(max(s.heap[0].next.Sub(m.o.Now()), 0))
		} else {
			timer.Reset(time.Hour)
		}
		select {
		case <-ctx.Done():
			for m.inFlight > 0 {
				m.finish(<-m.done)
			}
			return nil
		case c := <-m.updates:
			s.apply(c)
		case t := <-m.done:
			m.finish(t)
			s.startWaiting(ctx)
		case <-timer.C:
			s.due(ctx)
		}
	}
}

// scheduler is the state of Run's goroutine.
type scheduler struct {
	m       *Manager
	heap    taskHeap
	tasks   map[taskKey]*task
	waiting []*task
}

// offset is a task's stable start offset within its interval.
func offset(k taskKey, interval time.Duration) time.Duration {
	h := fnv.New64a()
	h.Write([]byte(k.probe))
	h.Write([]byte{0})
	h.Write([]byte(k.target))
	return time.Duration(h.Sum64() % uint64(interval))
}

func (s *scheduler) apply(c *config.Config) {
	now := s.m.o.Now()
	next := map[taskKey]*task{}
	for _, pc := range c.Probes {
		if pc == nil {
			continue
		}
		for _, target := range pc.AllTargets() {
			k := taskKey{pc.Name, target}
			t, ok := s.tasks[k]
			if !ok {
				t = &task{key: k, index: -1}
				interval := time.Duration(pc.Interval)
				t.next = now.Add(offset(k, interval))
			} else if t.cfg.Interval != pc.Interval {
				t.next = now.Add(offset(k, time.Duration(pc.Interval)))
			}
			t.cfg = pc
			t.mu.Lock()
			t.status.Probe, t.status.Target, t.status.Prober, t.status.Module = pc.Name, target, pc.Effective.Prober, pc.Module
			t.status.Labels = pc.Labels
			t.status.Interval, t.status.Timeout = time.Duration(pc.Interval), time.Duration(pc.Effective.Timeout)
			if t.status.Health == "" {
				t.status.Health = "unknown"
			}
			t.mu.Unlock()
			next[k] = t
			if t.index < 0 {
				heap.Push(&s.heap, t)
			} else {
				heap.Fix(&s.heap, t.index)
			}
		}
	}
	for k, t := range s.tasks {
		if _, ok := next[k]; ok {
			continue
		}
		t.removed = true
		if t.index >= 0 {
			heap.Remove(&s.heap, t.index)
		}
		if !t.running {
			s.m.writeStale(t, now)
		}
	}
	s.waiting = slices.DeleteFunc(s.waiting, func(t *task) bool { return t.removed })
	s.tasks = next
	s.m.mu.Lock()
	s.m.tasks = next
	s.m.mu.Unlock()
}

// due starts (or queues) every task whose time has come and moves it to its
// next run.
func (s *scheduler) due(ctx context.Context) {
	now := s.m.o.Now()
	for len(s.heap) > 0 && !s.heap[0].next.After(now) {
		t := s.heap[0]
		switch {
		case t.running || t.waiting:
			s.miss(t)
		case s.m.inFlight < s.m.o.MaxConcurrency:
			s.start(ctx, t)
		default:
			t.waiting = true
			s.waiting = append(s.waiting, t)
		}
		interval := time.Duration(t.cfg.Interval)
		t.next = t.next.Add(interval)
		if !t.next.After(now) { // the process stalled: skip the runs in between
			for !t.next.After(now) {
				t.next = t.next.Add(interval)
				s.miss(t)
			}
		}
		heap.Fix(&s.heap, 0)
	}
}

func (s *scheduler) miss(t *task) {
	s.m.misses.Inc()
	t.mu.Lock()
	t.status.Missed++
	t.mu.Unlock()
}

func (s *scheduler) startWaiting(ctx context.Context) {
	for len(s.waiting) > 0 && s.m.inFlight < s.m.o.MaxConcurrency {
		t := s.waiting[0]
		s.waiting = s.waiting[1:]
		t.waiting = false
		s.start(ctx, t)
	}
}

func (s *scheduler) start(ctx context.Context, t *task) {
	t.running = true
	s.m.inFlight++
	cfg := t.cfg
	go func() {
		s.m.run(ctx, t, cfg)
		s.m.done <- t
	}()
}

// finish records the end of a run (on the scheduler's goroutine).
func (m *Manager) finish(t *task) {
	m.inFlight--
	t.running = false
	if t.removed {
		m.writeStale(t, m.o.Now())
	}
}

// run probes once and stores the result.
func (m *Manager) run(ctx context.Context, t *task, cfg *config.ProbeConfig) {
	start := m.o.Now()
	rctx, cancel := context.WithTimeout(ctx, time.Duration(cfg.Effective.Timeout))
	res := m.runFn(rctx, &cfg.Effective, cfg.Steps, t.key.target)
	cancel()
	if ctx.Err() != nil {
		return // shutting down: a cut-short run is no result
	}
	m.runs.Inc()
	if !res.Success {
		m.failures.Inc()
	}
	t.mu.Lock()
	t.status.LastRun, t.status.LastDuration, t.status.Steps = start, res.Duration, res.Steps
	if res.Success {
		t.status.Health = "up"
	} else {
		t.status.Health = "down"
		t.status.LastFailure, t.status.LastFailureAt = res.Failure, start
	}
	t.mu.Unlock()
	m.store(t, cfg, res.Samples, start)
}

// store appends the samples, with stale markers for series of the last run
// that this run did not write (a journey's steps after the failing one).
func (m *Manager) store(t *task, cfg *config.ProbeConfig, samples []Sample, ts time.Time) {
	if m.o.Appender == nil {
		return
	}
	app := m.o.Appender()
	ms := ts.UnixMilli()
	cur := make(map[uint64]labels.Labels, len(samples))
	b := labels.NewBuilder(labels.EmptyLabels())
	for _, s := range samples {
		b.Reset(s.Labels)
		for k, v := range cfg.Labels {
			b.Set(k, v)
		}
		b.Set(labels.MetricName, s.Name)
		b.Set("job", Job)
		b.Set("probe", t.key.probe)
		b.Set("instance", t.key.target)
		ls := b.Labels()
		cur[ls.Hash()] = ls
		if _, err := app.Append(0, ls, ms, s.Value); err != nil {
			m.o.Logger.Debug("store probe sample", "probe", t.key.probe, "err", err)
		}
	}
	stale := math.Float64frombits(value.StaleNaN)
	for h, ls := range t.prev {
		if _, ok := cur[h]; !ok {
			_, _ = app.Append(0, ls, ms, stale)
		}
	}
	if err := app.Commit(); err != nil {
		m.o.Logger.Warn("store probe results", "probe", t.key.probe, "err", err)
	}
	t.prev, t.last = cur, ms
}

// writeStale ends the series of a removed task.
func (m *Manager) writeStale(t *task, now time.Time) {
	if m.o.Appender == nil || len(t.prev) == 0 {
		return
	}
	app := m.o.Appender()
	stale := math.Float64frombits(value.StaleNaN)
	ts := max(now.UnixMilli(), t.last+1) // after the last samples, even within their millisecond
	for _, ls := range t.prev {
		_, _ = app.Append(0, ls, ts, stale)
	}
	_ = app.Commit()
	t.prev = nil
}

// taskHeap orders tasks by next run.
type taskHeap []*task

func (h taskHeap) Len() int           { return len(h) }
func (h taskHeap) Less(i, j int) bool { return h[i].next.Before(h[j].next) }
func (h taskHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index, h[j].index = i, j
}
func (h *taskHeap) Push(x any) {
	t := x.(*task)
	t.index = len(*h)
	*h = append(*h, t)
}
func (h *taskHeap) Pop() any {
	old := *h
	t := old[len(old)-1]
	old[len(old)-1] = nil
	t.index = -1
	*h = old[:len(old)-1]
	return t
}
