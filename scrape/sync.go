package scrape

import (
	"context"
	"fmt"
	"time"

	"github.com/watchdog-sre/watchdog/config"
)

// job is the running state of one scrape config. It is owned by the
// goroutine running Manager.Run.
type job struct {
	cfg     *jobConfig
	files   *fileSD
	loops   map[uint64]*loop
	dropped droppedTargets // of the last sync
}

// reload switches to jobs: jobs that are gone stop all their loops (with
// stale markers), the others re-read their file_sd files and resync.
func (m *Manager) reload(ctx context.Context, jobs []*jobConfig) {
	want := map[string]*jobConfig{}
	for _, jc := range jobs {
		want[jc.cfg.JobName] = jc
	}
	var stopping []*loop
	for name, j := range m.jobs {
		if _, ok := want[name]; !ok {
			for _, l := range j.loops {
				stopping = append(stopping, l)
				l.stop(errTargetRemoved)
			}
			delete(m.jobs, name)
		}
	}
	waitLoops(stopping)

	now := time.Now()
	for _, jc := range jobs {
		j, ok := m.jobs[jc.cfg.JobName]
		if !ok {
			j = &job{loops: map[uint64]*loop{}}
			m.jobs[jc.cfg.JobName] = j
		}
		j.cfg = jc
		j.files = newFileSD(jc.cfg.FileSDConfigs)
		_, errs := j.files.poll(now, true)
		for _, err := range errs {
			m.log.Error("file_sd", "job", jc.cfg.JobName, "err", err)
		}
		m.syncJob(ctx, j)
	}
	m.publishView()
}

// pollFiles checks every job's file_sd files and resyncs the jobs whose
// targets may have changed.
func (m *Manager) pollFiles(ctx context.Context) {
	now := time.Now()
	changed := false
	for name, j := range m.jobs {
		c, errs := j.files.poll(now, false)
		for _, err := range errs {
			m.log.Error("file_sd", "job", name, "err", err)
		}
		if c {
			m.syncJob(ctx, j)
			changed = true
		}
	}
	if changed {
		m.publishView()
	}
}

// syncJob makes j's loops match its static and file_sd targets: new targets
// get a loop, targets that are gone have their loop stopped (it writes stale
// markers), and loops of remaining targets get the new settings if they
// changed. It also records the targets relabeling dropped, for
// DroppedTargets once publishView has run.
//
// A job with more targets than its target_limit keeps loops for the first
// target_limit targets only, and those fail every scrape with
// ErrTargetLimit without fetching (up 0), as in Prometheus where every
// target of the job fails; the others get no loop at all.
func (m *Manager) syncJob(ctx context.Context, j *job) {
	groups := append(append([]config.StaticConfig(nil), j.cfg.cfg.StaticConfigs...), j.files.groups()...)
	limit := j.cfg.cfg.TargetLimit
	targets, total, dropped, errs := buildTargetsUpTo(j.cfg, groups, limit)
	for _, err := range errs {
		m.log.Warn("invalid target", "job", j.cfg.cfg.JobName, "err", err)
	}
	j.dropped = dropped
	var forced error
	if limit > 0 && total > limit {
		forced = fmt.Errorf("%w: the job has %d targets, its limit is %d; none is scraped", ErrTargetLimit, total, limit)
		m.log.Error("too many targets, none is scraped", "job", j.cfg.cfg.JobName, "targets", total, "target_limit", limit)
	}
	want := make(map[uint64]*target, len(targets))
	for _, t := range targets {
		want[t.hash] = t
	}
	var stopping []*loop
	for h, l := range j.loops {
		if _, ok := want[h]; !ok {
			l.stop(errTargetRemoved)
			stopping = append(stopping, l)
			delete(j.loops, h)
		}
	}
	waitLoops(stopping)
	for h, t := range want {
		s := &loopSettings{target: t, job: j.cfg, forcedErr: forced}
		if l, ok := j.loops[h]; ok {
			l.update(s)
			continue
		}
		l, lctx := newLoop(ctx, s)
		j.loops[h] = l
		go l.run(lctx, m.loopDeps(j.cfg.cfg.JobName), s)
	}
}

// stopAll stops every loop without stale markers and waits for them.
func (m *Manager) stopAll() {
	var all []*loop
	for _, j := range m.jobs {
		for _, l := range j.loops {
			l.stop(errShutdown)
			all = append(all, l)
		}
	}
	waitLoops(all)
	m.jobs = map[string]*job{}
	m.publishView()
}

func waitLoops(ls []*loop) {
	for _, l := range ls {
		<-l.done
	}
}
