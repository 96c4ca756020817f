package main

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/storage"

	"github.com/watchdog-sre/watchdog/checkin"
	"github.com/watchdog-sre/watchdog/config"
	"github.com/watchdog-sre/watchdog/heartbeat"
	"github.com/watchdog-sre/watchdog/internal/querylimit"
	"github.com/watchdog-sre/watchdog/probe"
	"github.com/watchdog-sre/watchdog/rules"
	"github.com/watchdog-sre/watchdog/rules/alertmanager"
	"github.com/watchdog-sre/watchdog/scrape"
	"github.com/watchdog-sre/watchdog/tsdb"
	"github.com/watchdog-sre/watchdog/web"
)

// root is the composition root: every running part of the watchdog, built
// once at start in the order of the data path (store, scrape and probes,
// alert sinks and pager, rules, heartbeats). What a configuration changes
// in them goes through a plan (reload.go): build, validate, commit — at
// start and on every reload alike.
type root struct {
	o           *serveOptions
	stdout      io.Writer
	logger      *slog.Logger
	set         *metrics.Set
	listenAddr  net.Addr
	externalURL string
	// started is the configuration the process started with: its
	// restart-only sections (storage, datasource, heartbeat, the presence
	// of a pager section) stay as they were.
	started   *config.Config
	extLabels labels.Labels

	db        *tsdb.DB
	exemplars *tsdb.Exemplars
	scraper   *scrape.Manager
	prober    *probe.Manager
	engine    *promql.Engine

	ams    *amSenders
	remote *remoteWriters
	pg     *pagerRuntime       // nil without a pager section
	apiQ   *alertmanager.Local // alerts POST /api/v2/alerts could not hand to the pager; nil without one
	queues []*alertmanager.Local
	sinks  []alertSink

	ruler      *rules.Manager
	checkins   *checkin.Runner
	heartbeat  *heartbeat.Sender // nil without a heartbeat section
	statusPage atomic.Pointer[config.StatusPage]
	// gcPercent is the collector's target set at start (0 when GOGC's is
	// left): package gctune keeps it relative to the heap the collector
	// scans, leaving the store's chunk bytes out.
	gcPercent int
}

// openStore is the first step at start: the store, sized by the
// storage section, which applies only at start.
func (r *root) openStore(cfg *config.Config) error {
	if p := cfg.Storage.SnapshotPath; p != "" {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return fmt.Errorf("snapshot directory: %w", err)
		}
	}
	db, err := tsdb.Open(tsdb.Options{
		Retention:        time.Duration(cfg.Storage.Retention),
		SnapshotPath:     cfg.Storage.SnapshotPath,
		SnapshotInterval: time.Duration(cfg.Storage.SnapshotInterval),
		MaxSeries:        cfg.Storage.MaxSeries,
		FutureWindow:     time.Duration(cfg.Storage.TooFarInFutureTimeWindow),
		Logger:           r.logger.With("component", "tsdb"),
		ChunksDir:        cfg.Storage.ChunksDir,
	})
	if errors.Is(err, tsdb.ErrChunksDir) {
		return fmt.Errorf("open storage: storage.chunks_dir (or --storage.chunks-dir) %s: %w", cfg.Storage.ChunksDir, err)
	}
	if err != nil {
		return fmt.Errorf("open storage: %w", err)
	}
	r.db = db
	registerStoreMetrics(r.set, db)
	// The exemplar storage's size is read at start: a reload does not
	// resize it.
	maxExemplars := config.DefaultMaxExemplars
	if n := cfg.Storage.Exemplars.MaxExemplars; n != nil {
		maxExemplars = *n
	}
	r.exemplars = tsdb.NewExemplars(maxExemplars)
	return nil
}

// newIngest builds the parts that write to the store (scrape, probes,
// remote write) and the query engine, with no configuration applied yet.
func (r *root) newIngest(queryLimits querylimit.Limits) {
	var exemplarSink scrape.ExemplarAppender
	if r.exemplars.Capacity() > 0 {
		exemplarSink = r.exemplars
	}
	db := r.db
	r.scraper = scrape.NewManager(scrape.Options{
		Appender:     func() scrape.Appender { return db.Appender() },
		Logger:       r.logger.With("component", "scrape"),
		Metrics:      r.set,
		IsSoftError:  storeIsSoft,
		RejectReason: storeRejectReason,
		Exemplars:    exemplarSink,

		StoreStartTimestamps: r.o.features.stStorage,
		STZeroIngestion:      r.o.features.stZero,
	})
	r.prober = newProbes(db, r.set, r.logger.With("component", "probe"))
	r.remote = &remoteWriters{db: db, retention: time.Duration(r.started.Storage.Retention), set: r.set,
		logger: r.logger.With("component", "remote_write")}
	engineOpts := web.EngineOpts(queryLimits)
	engineOpts.UseStartTimestamps = r.o.features.useST // for the API and the rules
	r.engine = promql.NewEngine(engineOpts)
}

// newSinks builds where alerts go: the console, the Alertmanagers and,
// with a pager section (first the plan's), the pager. In-process receivers
// get the alerts through bounded queues with one goroutine each, so a slow
// pager store or console never delays rule evaluation (the Alertmanager
// sender queues on its own).
func (r *root) newSinks(p *plan, token string) error {
	r.ams = &amSenders{opts: alertmanager.Options{Metrics: r.set, Logger: r.logger.With("component", "alertmanager")}}
	local := func(name string, deliver alertmanager.DeliverFunc) *alertmanager.Local {
		return alertmanager.NewLocal(alertmanager.LocalOptions{Name: name, Metrics: r.set,
			Logger: r.logger.With("component", "alerts")}, deliver)
	}
	console := alertmanager.NewConsole(r.stdout, time.Now)
	consoleQ := local("console", func(alerts ...alertmanager.Alert) error { console.Send(alerts...); return nil })
	r.queues = []*alertmanager.Local{consoleQ}
	r.sinks = []alertSink{consoleQ.Send, r.ams.send}
	if p.pager == nil {
		return nil
	}
	key, err := ackKey(r.o.ackKeyFile, token, r.logger)
	if err != nil {
		return err
	}
	dbPath := r.o.pagerDB
	if dbPath == "" {
		if dbPath, err = p.cfg.Storage.PagerDBTarget(nil); err != nil {
			return err
		}
	}
	r.pg, err = newPagerRuntime(p.pager, pagerSetup{
		configFile: p.cfg.Path, storePath: dbPath, ackKey: key, externalURL: r.externalURL,
		stdout: r.stdout, logger: r.logger.With("component", "pager"), metrics: r.set,
		maxSilence: r.o.maxSilence, maxSnooze: r.o.maxSnooze,
		replica: replicaName(p.cfg.Storage.PagerReplica, r.listenAddr), lease: time.Duration(p.cfg.Storage.PagerLease),
	})
	if err != nil {
		return err
	}
	pagerQ := local("pager", r.pg.sink)
	// POST /api/v2/alerts hands alerts to the pager itself and queues
	// here only those it refuses (its database is down), and any that
	// arrive while earlier ones wait.
	r.apiQ = local("pager_api", r.pg.sink)
	r.queues = append(r.queues, pagerQ, r.apiQ)
	r.sinks = append(r.sinks, pagerQ.Send)
	return nil
}

// newEvaluation builds the rule manager (querying the datasource when one
// is configured, the local store otherwise), the heartbeats' check-in
// runner and the watchdog's own heartbeat sender.
func (r *root) newEvaluation() error {
	cfg := r.started
	// With a datasource, rules query it and restore alert state from it;
	// their results still go to the local store (remote_write ships them).
	query, restoreFrom := rules.EngineQueryFunc(r.engine, r.db), storage.Queryable(r.db)
	ds, err := newDatasource(cfg.Datasource, r.extLabels, r.set, r.logger.With("component", "datasource"))
	if err != nil {
		return err
	}
	if ds != nil {
		query = ds.Query
		restoreFrom = restoreQueryable{remote: ds, local: r.db, log: r.logger.With("component", "rules")}
		r.logger.Info("rules evaluate on the datasource", "url", cfg.Datasource.URL)
	}
	db := r.db
	r.ruler = rules.NewManager(rules.Options{
		Query:          query,
		Native:         db,
		Queryable:      restoreFrom,
		Appender:       func() rules.Appender { return db.Appender() },
		Notify:         notifyFunc(r.externalURL, r.extLabels, r.sinks...),
		ExternalLabels: r.extLabels,
		ExternalURL:    r.externalURL,
		Logger:         r.logger.With("component", "rules"),
		Metrics:        r.set,
	})
	checkinState := checkinStatePath(cfg.Storage.SnapshotPath)
	if len(cfg.Heartbeats) > 0 && checkinState == "" {
		r.logger.Warn("heartbeats are kept in memory only (no storage.snapshot_path): a restart forgets their last check-ins")
	}
	r.checkins = checkin.New(checkin.Options{
		Notify:       checkinNotify(r.extLabels, r.sinks...),
		Appender:     func() checkin.Appender { return db.Appender() },
		StatePath:    checkinState,
		GeneratorURL: r.externalURL + "/heartbeats",
		Metrics:      r.set,
		Logger:       r.logger.With("component", "checkin"),
	})
	r.heartbeat, err = startHeartbeat(cfg.Heartbeat, r.ruler, r.pg, r.logger, r.set)
	return err
}

// close releases what the steps opened (the pager's database).
func (r *root) close() {
	if r.pg != nil {
		r.pg.close()
	}
}
