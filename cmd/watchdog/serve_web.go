package main

import (
	"fmt"
	"strings"

	"github.com/watchdog-sre/watchdog/checkin"
	"github.com/watchdog-sre/watchdog/internal/querylimit"
	"github.com/watchdog-sre/watchdog/pager"
	"github.com/watchdog-sre/watchdog/web"
	"github.com/watchdog-sre/watchdog/web/ui"
)

// newWeb is the last step at start: the HTTP API and the console over the
// running parts. Ready answers once isReady is closed (and the pager, if
// any, is up); reload is POST /-/reload.
func (r *root) newWeb(token string, queryLimits querylimit.Limits, state *configState, reload func() error,
	isReady chan struct{}) (*web.Handler, error) {
	pg := r.pg
	pagerURL := ""
	if pg != nil {
		pagerURL = r.externalURL
	}
	api := web.New(web.Options{
		Queryable: r.db,
		Engine:    r.engine,
		Rules:     web.RulesFrom(r.ruler),
		Targets:   func() []web.Target { return webTargets(r.scraper.Targets()) },
		DroppedTargets: func() ([]web.DroppedTarget, map[string]int) {
			return webDroppedTargets(r.scraper.DroppedTargets())
		},
		Metadata:  r.scraper.Metadata,
		Exemplars: r.exemplars,
		Reload:    reload,
		Ready: func() bool {
			select {
			case <-isReady:
				return pg == nil || pg.healthy()
			default:
				return false
			}
		},
		NotReady: func() string {
			select {
			case <-isReady:
				if pg == nil {
					return ""
				}
				return pg.down()
			default:
				return "starting"
			}
		},
		Token:         token,
		Limits:        queryLimits,
		BuildInfo:     buildInfo(),
		Flags:         r.o.flags,
		Config:        state.yaml,
		Runtime:       state.runtime,
		TSDBStatus:    tsdbStatus(r.db),
		Alertmanagers: alertmanagerURLs(r.ams, pagerURL),
		Admin:         storeAdmin{db: r.db, snapshotPath: r.started.Storage.SnapshotPath},
		Metrics:       r.set,
		Logger:        r.logger.With("component", "web"),
	})
	checkin.Register(api.HandleOwnAuth, r.checkins)
	if r.o.rwReceiver {
		api.EnableRemoteWrite(web.RemoteWriteOptions{
			Appender:     func() web.WriteAppender { return r.db.Appender() },
			RejectReason: storeRejectReason,
		})
	}
	if pg != nil {
		api.EnablePager(web.PagerOptions{Pager: pg.p, Schedules: pg.schedule, Calendars: pg.p, Postmortems: pg.p, Buffer: apiBuffer{r.apiQ},
			People: pg.p, SecureCookies: strings.HasPrefix(r.externalURL, "https://")})
		if in := inboundWebhooks(pg, r.externalURL, r.logger.With("component", "inbound"), r.set); in != nil {
			in.Register(api.HandleOwnAuth)
		}
	}
	if err := r.registerConsole(api); err != nil {
		return nil, err
	}
	return api, nil
}

// registerConsole adds the probes' API and the web console to api.
func (r *root) registerConsole(api *web.Handler) error {
	probes := func() []web.Probe { return webProbes(r.prober.Statuses()) }
	api.EnableProbes(web.ProbeOptions{Probes: probes, Run: probeRun(r.prober), Open: r.o.probeOpen})
	uiOpts := ui.Options{Rules: web.RulesFrom(r.ruler), Probes: probes,
		Targets: func() []web.Target { return webTargets(r.scraper.Targets()) }, RangeQuery: api.RangeQuery, CheckQuery: api.CheckQueryText,
		StatusPage: r.statusPage.Load, Heartbeats: uiHeartbeats(r.checkins), Logger: r.logger.With("component", "ui")}
	if pg := r.pg; pg != nil {
		uiOpts.Pager, uiOpts.PagerConfig, uiOpts.Cluster = pg.p, pg.cfg.Load, pg.cluster.status
		uiOpts.Schedule = pg.schedule
		uiOpts.Session = api.ConsoleSession
		uiOpts.Postmortems = pg.p
	}
	if err := ui.Register(api, uiOpts); err != nil {
		return fmt.Errorf("web console: %w", err)
	}
	if pg := r.pg; pg != nil {
		comps, err := ui.StatusComponents(uiOpts)
		if err != nil {
			return fmt.Errorf("web console: %w", err)
		}
		pg.subscribers = pager.SubscriberRunOptions{Components: comps, Metrics: r.set}
	}
	return nil
}
