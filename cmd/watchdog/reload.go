package main

import (
	"context"
	"fmt"
	"log/slog"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/prometheus/model/labels"

	"github.com/watchdog-sre/watchdog/checkin"
	"github.com/watchdog-sre/watchdog/config"
	"github.com/watchdog-sre/watchdog/pager"
	"github.com/watchdog-sre/watchdog/probe"
	"github.com/watchdog-sre/watchdog/rules"
	"github.com/watchdog-sre/watchdog/scrape"
	"github.com/watchdog-sre/watchdog/web/ui"
)

// reloader applies a configuration in two phases. Prepare builds and checks
// every part — the file, the status page, the pager section, the rule files
// and the scrape jobs — and changes nothing; only when all of them succeed
// does commit switch the running parts over. The one part whose switch can
// still fail is the pager (it refuses a configuration that would strand an
// open incident, checked under its own lock), so it switches first: when it
// refuses, nothing else has changed either.
type reloader struct {
	mu         sync.Mutex
	state      *configState // nil in tests that do not look
	load       func() (*config.Config, error)
	configName string
	scraper    *scrape.Manager
	prober     *probe.Manager
	ruler      *rules.Manager
	ams        *amSenders
	remote     *remoteWriters
	pg         *pagerRuntime // nil without a pager section
	checkins   *checkin.Runner
	statusPage *atomic.Pointer[config.StatusPage]
	heartbeat  *config.HeartbeatConfig  // as started; restart-only
	datasource *config.DatasourceConfig // as started; restart-only
	storage    config.StorageConfig     // as started; restart-only (changes warned of)
	logger     *slog.Logger
}

// plan is a prepared configuration: every part built and checked.
type plan struct {
	cfg    *config.Config
	pager  *pager.Config
	rules  *rules.RuleSet
	scrape *scrape.Plan
	// checkins are the heartbeats, their tokens read.
	checkins []checkin.Spec
}

// prepare is the first phase: it reads and checks everything and changes
// nothing.
func (r *reloader) prepare() (*plan, error) {
	next, err := r.load()
	if err != nil {
		return nil, err
	}
	if err := ui.CheckStatusPage(next.StatusPage); err != nil {
		return nil, err
	}
	p := &plan{cfg: next}
	if p.pager, err = parsePager(next, r.configName); err != nil {
		return nil, err
	}
	switch {
	case r.pg == nil && p.pager != nil:
		return nil, fmt.Errorf("adding the pager section %w", errPagerRestart)
	case r.pg != nil && p.pager == nil:
		return nil, fmt.Errorf("removing the pager section %w", errPagerRestart)
	case r.pg != nil:
		if err := r.pg.check(p.pager); err != nil {
			return nil, err
		}
	}
	if !reflect.DeepEqual(r.heartbeat, next.Heartbeat) {
		return nil, errHeartbeatRestart
	}
	files, err := ruleFiles(next.RuleFiles)
	if err != nil {
		return nil, err
	}
	if !reflect.DeepEqual(r.datasource, next.Datasource) {
		return nil, errDatasourceRestart
	}
	if p.rules, err = rules.Prepare(time.Duration(next.Global.EvaluationInterval), files); err != nil {
		return nil, err
	}
	if err := checkDatasourceRules(next.Datasource, p.rules); err != nil {
		return nil, err
	}
	if p.scrape, err = r.scraper.Prepare(next); err != nil {
		return nil, fmt.Errorf("scrape: %w", err)
	}
	if p.checkins, err = checkinSpecs(next.Heartbeats, r.logger); err != nil {
		return nil, err
	}
	return p, nil
}

// commit is the second phase. Only the pager's switch can fail, and it goes
// first.
func (r *reloader) commit(ctx context.Context, p *plan) error {
	if r.pg != nil {
		if err := r.pg.reload(p.pager); err != nil {
			return err
		}
	}
	r.ruler.Apply(p.rules)
	r.scraper.Apply(p.scrape)
	if r.prober != nil {
		r.prober.Apply(p.cfg)
	}
	r.ams.apply(ctx, alertmanagerTargets(p.cfg))
	if r.remote != nil {
		r.remote.apply(ctx, p.cfg.RemoteWrite, labels.FromMap(p.cfg.Global.ExternalLabels))
	}
	r.statusPage.Store(&p.cfg.StatusPage)
	if r.checkins != nil {
		r.checkins.Apply(p.checkins)
	}
	return nil
}

// reload reads the configuration again and applies all of it or none of it;
// a refusal is logged and counted, and the running configuration stays.
func (r *reloader) reload(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	p, err := r.prepare()
	if err == nil {
		err = r.commit(ctx, p)
	}
	if err != nil {
		reloadFailures.Inc()
		if r.state != nil {
			r.state.failed()
		}
		r.logger.Error("reload refused, the running configuration stays", "err", err)
		return fmt.Errorf("reload: %w", err)
	}
	reloadSuccesses.Inc()
	if r.state != nil {
		r.state.loaded(p.cfg, time.Now())
	}
	r.logger.Info("configuration reloaded")
	if changed := storageChanges(r.storage, p.cfg.Storage); len(changed) > 0 {
		r.logger.Warn("configuration reloaded, but storage settings apply only at restart: the running values stay",
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
