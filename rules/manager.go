package rules

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"
)

// ErrRunning is returned by Run when the Manager is already running.
var ErrRunning = errors.New("rule manager already running")

// Manager loads rule files into groups and runs one goroutine per group.
type Manager struct {
	opts Options

	mu      sync.Mutex
	groups  map[string]*Group // the applied set
	loaded  bool              // an Update succeeded: later new groups do not restore
	running bool
	stopped chan struct{} // closed when the current Run returns

	// A reload for the running Manager: the newest set wins, and every
	// waiter is released when it is applied.
	pending     map[string]*Group
	pendingDone chan struct{}
	reload      chan struct{} // buffer of one
}

// NewManager returns a Manager with no groups.
func NewManager(opts Options) *Manager {
	return &Manager{
		opts:   opts.withDefaults(),
		groups: map[string]*Group{},
		reload: make(chan struct{}, 1),
	}
}

// Update loads the rule files and replaces the groups with theirs; interval
// is the evaluation interval of groups that set none. On any error nothing
// changes. A group whose definition is unchanged keeps running untouched; a
// changed group is stopped and its replacement takes over the alerts and
// written series of the rules it still has (matched by name and labels).
// Series of removed rules and groups are marked stale. Groups of the first
// Update restore their alert state from the store on their first
// evaluation. While Run is running, Update returns once the new groups are
// in place. It is Prepare followed by Apply.
func (m *Manager) Update(interval time.Duration, files []string) error {
	rs, err := Prepare(interval, files)
	if err != nil {
		return err
	}
	m.Apply(rs)
	return nil
}

// RuleSet is a checked set of rule files, ready for Manager.Apply: the first
// phase of a reload that must either apply everywhere or nowhere.
type RuleSet struct {
	interval time.Duration
	files    []*File
}

// Prepare loads and checks the rule files without changing any manager;
// interval is the evaluation interval of groups that set none.
func Prepare(interval time.Duration, files []string) (*RuleSet, error) {
	parsed, err := LoadFiles(files...)
	if err != nil {
		return nil, fmt.Errorf("load rules: %w", err)
	}
	return &RuleSet{interval: interval, files: parsed}, nil
}

// NativeRules lists the set's native (series + when) rules, one
// "file:line: group <group>: rule <name>" each, in file order: what a
// caller that cannot run them (rules on a remote datasource) refuses.
func (rs *RuleSet) NativeRules() []string {
	var out []string
	for _, f := range rs.files {
		for _, g := range f.Groups {
			for _, r := range g.Rules {
				if !r.IsNative() {
					continue
				}
				name := r.Alert
				if name == "" {
					name = r.Record
				}
				out = append(out, fmt.Sprintf("%s:%d: group %q: rule %q", f.Path, r.Line, g.Name, name))
			}
		}
	}
	return out
}

// Apply replaces the groups with those of rs, as Update describes; it
// cannot fail.
func (m *Manager) Apply(rs *RuleSet) {
	m.mu.Lock()
	shouldRestore := !m.loaded
	m.loaded = true
	groups := map[string]*Group{}
	for _, f := range rs.files {
		for _, spec := range f.Groups {
			g := newGroup(spec, f.Path, rs.interval, &m.opts, shouldRestore)
			groups[g.Key()] = g
		}
	}
	if !m.running {
		m.apply(context.Background(), groups, false)
		m.mu.Unlock()
		return
	}
	m.pending = groups
	if m.pendingDone == nil {
		m.pendingDone = make(chan struct{})
	}
	done, stopped := m.pendingDone, m.stopped
	m.mu.Unlock()
	select {
	case m.reload <- struct{}{}:
	default:
	}
	select {
	case <-done:
	case <-stopped:
	}
}

// Run starts the groups and applies updates until ctx is done, then stops
// them and returns nil. Only one Run may be active at a time.
func (m *Manager) Run(ctx context.Context) error {
	m.mu.Lock()
	if m.running {
		m.mu.Unlock()
		return ErrRunning
	}
	m.running = true
	m.stopped = make(chan struct{})
	for _, g := range m.groups {
		m.start(ctx, g)
	}
	m.mu.Unlock()
	defer func() {
		m.mu.Lock()
		defer m.mu.Unlock()
		for _, g := range m.groups {
			stop(g)
		}
		m.running = false
		if m.pending != nil {
			m.apply(ctx, m.pending, false)
			m.pending = nil
		}
		if m.pendingDone != nil {
			close(m.pendingDone)
			m.pendingDone = nil
		}
		close(m.stopped)
	}()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-m.reload:
			m.mu.Lock()
			if m.pending != nil {
				m.apply(ctx, m.pending, true)
				m.pending = nil
			}
			if m.pendingDone != nil {
				close(m.pendingDone)
				m.pendingDone = nil
			}
			m.mu.Unlock()
		}
	}
}

// apply replaces the groups with next; with running, it stops and starts
// goroutines. m.mu is held.
func (m *Manager) apply(ctx context.Context, next map[string]*Group, running bool) {
	for key, ng := range next {
		old, ok := m.groups[key]
		if ok && old.equal(ng) {
			next[key] = old
			continue
		}
		if ok {
			stop(old)
			ng.copyState(old)
		}
		if running {
			m.start(ctx, ng)
		}
	}
	for key, old := range m.groups {
		if _, ok := next[key]; ok {
			continue
		}
		stop(old)
		if series := old.allSeries(); len(series) > 0 {
			if err := writeStale(m.opts.Appender(), series, m.opts.Now().Add(-old.queryOffset)); err != nil {
				old.logger.Warn("writing stale markers for removed group failed", "err", err)
			}
		}
		old.metrics.unregister(m.opts.Metrics)
	}
	m.groups = next
}

func (m *Manager) start(ctx context.Context, g *Group) {
	gctx, cancel := context.WithCancel(ctx)
	g.cancel, g.done = cancel, make(chan struct{})
	go func() {
		defer close(g.done)
		g.run(gctx)
	}()
}

// stop stops a group's goroutine, if any, and waits for it.
func stop(g *Group) {
	if g.cancel == nil {
		return
	}
	g.cancel()
	<-g.done
	g.cancel, g.done = nil, nil
}

// Groups returns the groups ordered by file and name. They are live views:
// their getters report the latest evaluation.
func (m *Manager) Groups() []*Group {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]*Group, 0, len(m.groups))
	for _, g := range m.groups {
		out = append(out, g)
	}
	slices.SortFunc(out, func(a, b *Group) int {
		if c := strings.Compare(a.file, b.file); c != 0 {
			return c
		}
		return strings.Compare(a.name, b.name)
	})
	return out
}
