package main

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/prometheus/model/labels"

	"github.com/watchdog-sre/watchdog/checkin"
	"github.com/watchdog-sre/watchdog/config"
	"github.com/watchdog-sre/watchdog/pager"
	"github.com/watchdog-sre/watchdog/rules"
	"github.com/watchdog-sre/watchdog/scrape"
	"github.com/watchdog-sre/watchdog/web/ui"
)

// A configuration reaches the running parts in three named steps, the same
// at start (serve) and on every reload:
//
//   - build reads every reloadable part of it — the pager section, the rule
//     files, the scrape jobs, the heartbeats' tokens — into a plan, and
//     changes nothing;
//   - validate checks the plan as a whole (the status page's matchers, rules
//     a datasource cannot evaluate) and, on a reload, against what is
//     running (restart-only sections, the pager refusing a configuration
//     that would strand an open incident);
//   - commit switches every part over to the plan.
//
// The one part whose switch can still fail is the pager (it checks again
// under its own lock), so it switches first: when it refuses, nothing else
// has changed either.

// plan is a built configuration: every part ready to switch to.
type plan struct {
	cfg    *config.Config
	pager  *pager.Config // nil without a pager section
	rules  *rules.RuleSet
	scrape *scrape.Plan
	// checkins are the heartbeats, their tokens read.
	checkins []checkin.Spec
}

// build is the first step: it reads every part of cfg and changes nothing.
// configName names the file in the pager section's errors.
func (r *root) build(cfg *config.Config, configName string) (*plan, error) {
	p := &plan{cfg: cfg}
	var err error
	if p.pager, err = parsePager(cfg, configName); err != nil {
		return nil, err
	}
	files, err := ruleFiles(cfg.RuleFiles)
	if err != nil {
		return nil, err
	}
	if p.rules, err = rules.Prepare(time.Duration(cfg.Global.EvaluationInterval), files); err != nil {
		return nil, err
	}
	if p.scrape, err = r.scraper.Prepare(cfg); err != nil {
		return nil, fmt.Errorf("scrape: %w", err)
	}
	if p.checkins, err = checkinSpecs(cfg.Heartbeats, r.logger); err != nil {
		return nil, err
	}
	return p, nil
}

// validate is the second step: it checks the plan's parts together.
func (p *plan) validate() error {
	if err := ui.CheckStatusPage(p.cfg.StatusPage); err != nil {
		return err
	}
	return checkDatasourceRules(p.cfg.Datasource, p.rules)
}

// validateChange checks a reload's plan against what runs: the sections
// that apply only at start are unchanged, and the pager accepts the new
// pager section.
func (r *root) validateChange(p *plan) error {
	switch {
	case r.pg == nil && p.pager != nil:
		return fmt.Errorf("adding the pager section %w", errPagerRestart)
	case r.pg != nil && p.pager == nil:
		return fmt.Errorf("removing the pager section %w", errPagerRestart)
	case r.pg != nil:
		if err := r.pg.check(p.pager); err != nil {
			return err
		}
	}
	if !reflect.DeepEqual(r.started.Heartbeat, p.cfg.Heartbeat) {
		return errHeartbeatRestart
	}
	if !reflect.DeepEqual(r.started.Datasource, p.cfg.Datasource) {
		return errDatasourceRestart
	}
	return nil
}

// commit is the last step. Only the pager's switch can fail, and it goes
// first (at start the pager already runs the plan's section).
func (r *root) commit(ctx context.Context, p *plan) error {
	if r.pg != nil && r.pg.cfg.Load() != p.pager {
		if err := r.pg.reload(p.pager); err != nil {
			return err
		}
	}
	r.ruler.Apply(p.rules)
	r.scraper.Apply(p.scrape)
	r.prober.Apply(p.cfg)
	r.ams.apply(ctx, alertmanagerTargets(p.cfg))
	r.remote.apply(ctx, p.cfg.RemoteWrite, labels.FromMap(p.cfg.Global.ExternalLabels))
	r.statusPage.Store(&p.cfg.StatusPage)
	r.checkins.Apply(p.checkins)
	return nil
}

// reloader reloads the configuration: load, build, validate, commit — all
// of it or none of it.
type reloader struct {
	mu         sync.Mutex
	root       *root
	state      *configState
	load       func() (*config.Config, error)
	configName string
}

// prepare loads the configuration and builds and validates its plan,
// changing nothing.
func (r *reloader) prepare() (*plan, error) {
	next, err := r.load()
	if err != nil {
		return nil, err
	}
	p, err := r.root.build(next, r.configName)
	if err != nil {
		return nil, err
	}
	if err := p.validate(); err != nil {
		return nil, err
	}
	if err := r.root.validateChange(p); err != nil {
		return nil, err
	}
	return p, nil
}

// reload reads the configuration again and applies all of it or none of it;
// a refusal is logged and counted, and the running configuration stays.
func (r *reloader) reload(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	logger := r.root.logger
	p, err := r.prepare()
	if err == nil {
		err = r.root.commit(ctx, p)
	}
	if err != nil {
		reloadFailures.Inc()
		r.state.failed()
		logger.Error("reload refused, the running configuration stays", "err", err)
		return fmt.Errorf("reload: %w", err)
	}
	reloadSuccesses.Inc()
	r.state.loaded(p.cfg, time.Now())
	logger.Info("configuration reloaded")
	if changed := storageChanges(r.root.started.Storage, p.cfg.Storage); len(changed) > 0 {
		logger.Warn("configuration reloaded, but storage settings apply only at restart: the running values stay",
			"changed", strings.Join(changed, ","))
	}
	return nil
}

// storageChanges names the storage: keys whose values differ.
func storageChanges(old, next config.StorageConfig) []string {
	var out []string
	ov, nv := reflect.ValueOf(old), reflect.ValueOf(next)
	for i := range ov.NumField() {
		if !reflect.DeepEqual(ov.Field(i).Interface(), nv.Field(i).Interface()) {
			name, _, _ := strings.Cut(ov.Type().Field(i).Tag.Get("yaml"), ",")
			out = append(out, "storage."+name)
		}
	}
	return out
}
