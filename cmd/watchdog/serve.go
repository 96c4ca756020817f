package main

import (
	"context"
	"crypto/rand"
	_ "embed"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/storage"

	"github.com/watchdog-sre/watchdog/checkin"
	"github.com/watchdog-sre/watchdog/config"
	"github.com/watchdog-sre/watchdog/demo"
	"github.com/watchdog-sre/watchdog/examples"
	"github.com/watchdog-sre/watchdog/rules"
	"github.com/watchdog-sre/watchdog/rules/alertmanager"
	"github.com/watchdog-sre/watchdog/scrape"
	"github.com/watchdog-sre/watchdog/tsdb"
	"github.com/watchdog-sre/watchdog/web"
	"github.com/watchdog-sre/watchdog/web/ui"
)

//go:embed demo.yml
var demoConfig string

// serveOptions are the flags of `watchdog run` and the demo.
type serveOptions struct {
	configFile    string
	listenAddress string
	tokenFile     string
	snapshotPath  string
	externalURL   string
	logLevel      string
	pagerDB       string
	ackKeyFile    string
	maxSilence    time.Duration // bounds of silences and snoozes (pager.Options)
	maxSnooze     time.Duration
	firstSpike    time.Duration // demo only
	firstOutage   time.Duration // demo only: --demo.first-cart-outage
	rwReceiver    bool          // --web.enable-remote-write-receiver
	probeOpen     bool          // --web.probe-open
	limits        *limitOptions
	featureNames  *featureFlag      // --enable-feature
	features      features          // what featureNames turned on
	flags         map[string]string // every flag's value, for /api/v1/status/flags
}

func serveFlags(demoMode bool) (*flag.FlagSet, *serveOptions) {
	o := &serveOptions{}
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	if !demoMode {
		fs.StringVar(&o.configFile, "config", "", "configuration file (required)")
	} else {
		// For tests (the browser tests in e2e/): not listed in `watchdog help`.
		fs.DurationVar(&o.firstSpike, "demo.first-spike", demo.DefaultFirstSpike,
			"delay from start to the demo shop's first login error spike; 0 starts it at once (for tests)")
		fs.DurationVar(&o.firstOutage, "demo.first-cart-outage", demo.DefaultFirstCartOutage,
			"delay from start to the demo shop's first cart outage; 0 starts it at once (for tests)")
	}
	fs.StringVar(&o.listenAddress, "web.listen-address", "127.0.0.1:9190", "address the HTTP API and UI listen on")
	fs.StringVar(&o.tokenFile, "web.token-file", "", "file holding the bearer token for state-changing HTTP calls (or set WATCHDOG_TOKEN)")
	fs.StringVar(&o.snapshotPath, "storage.snapshot-path", "", "override storage.snapshot_path of the configuration")
	fs.StringVar(&o.externalURL, "web.external-url", "", "URL the watchdog is reachable at, for links in alerts (default: http://<listen address>)")
	fs.StringVar(&o.logLevel, "log.level", "info", "log level: debug, info, warn, error")
	fs.StringVar(&o.pagerDB, "storage.pager-db", "", "override storage.pager_db of the configuration (the pager's SQLite file or postgres:// URL)")
	fs.StringVar(&o.ackKeyFile, "pager.ack-key-file", "", "file holding the key that signs acknowledge links (or set WATCHDOG_PAGER_ACK_KEY; default: derived from the API token)")
	fs.DurationVar(&o.maxSilence, "pager.max-silence-duration", defaultMaxSilence, "longest silence the pager accepts (endsAt - startsAt)")
	fs.DurationVar(&o.maxSnooze, "pager.max-snooze", defaultMaxSnooze, "longest snooze of an incident the pager accepts")
	fs.BoolVar(&o.rwReceiver, "web.enable-remote-write-receiver", false,
		"accept Prometheus remote write (1.0 and 2.0) on POST /api/v1/write; needs the API token")
	fs.BoolVar(&o.probeOpen, "web.probe-open", false,
		"serve the blackbox-compatible /probe without the API token (it makes the watchdog connect to any target it is given)")
	o.limits = limitFlags(fs)
	o.featureNames = enableFeatureFlag(fs)
	return fs, o
}

// cmdServe runs the watchdog until SIGINT or SIGTERM.
func cmdServe(args []string, demoMode bool, stdout, stderr io.Writer) error {
	fs, o := serveFlags(demoMode)
	fs.SetOutput(stderr)
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected argument %q", errUsage, fs.Arg(0))
	}
	o.flags = flagValues(fs)
	if !demoMode && o.configFile == "" {
		return fmt.Errorf("%w: run needs --config FILE (or run `watchdog` alone for the demo)", errUsage)
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(o.logLevel)); err != nil {
		return fmt.Errorf("%w: --log.level: %v", errUsage, err)
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	feats, err := parseFeatures(*o.featureNames, logger)
	if err != nil {
		return err
	}
	o.features = feats

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return serve(ctx, o, demoMode, stdout, logger)
}

// serve wires store, scraper and HTTP API together and blocks until ctx is done.
func serve(ctx context.Context, o *serveOptions, demoMode bool, stdout io.Writer, logger *slog.Logger) error {
	queryLimits, err := o.limits.queryLimits()
	if err != nil {
		return err
	}
	if err := applyMemoryLimit(o.limits.memoryLimit, logger); err != nil {
		return err
	}
	if err := applyGCPercent(o.limits.gcPercent, logger); err != nil {
		return err
	}
	token, generated, err := loadToken(o.tokenFile, logger)
	if err != nil {
		return err
	}

	ln, err := net.Listen("tcp", o.listenAddress)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	defer ln.Close()

	var loadConfig func() (*config.Config, error)
	var shopSrv *http.Server
	if demoMode {
		shopLn, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return fmt.Errorf("listen for demo shop: %w", err)
		}
		firstSpike := o.firstSpike
		if firstSpike <= 0 {
			firstSpike = -1 // ShopOptions: negative starts the first spike at once
		}
		firstOutage := o.firstOutage
		if firstOutage <= 0 {
			firstOutage = -1
		}
		shopSrv = &http.Server{Handler: demo.NewShop(demo.ShopOptions{FirstSpike: firstSpike, FirstCartOutage: firstOutage}),
			ReadHeaderTimeout: 10 * time.Second}
		go shopSrv.Serve(shopLn)
		defer shopSrv.Close()
		snap := o.snapshotPath
		if snap == "" {
			snap = filepath.Join(os.TempDir(), "watchdog-demo", "snapshot.wds")
		}
		rulesDir, err := extractDemoRules()
		if err != nil {
			return err
		}
		defer os.RemoveAll(rulesDir)
		text := strings.NewReplacer("{{WEB}}", ln.Addr().String(), "{{SHOP}}", shopLn.Addr().String(),
			"{{SNAPSHOT}}", snap, "{{PAGERDB}}", filepath.Join(filepath.Dir(snap), "pager.db"),
			"{{RULES}}", rulesDir).Replace(demoConfig)
		loadConfig = func() (*config.Config, error) { return config.Parse([]byte(text), "demo.yml") }
	} else {
		loadConfig = func() (*config.Config, error) {
			cfg, err := config.Load(o.configFile)
			if err == nil && o.snapshotPath != "" {
				cfg.Storage.SnapshotPath = o.snapshotPath
			}
			return cfg, err
		}
	}
	configName := o.configFile
	if demoMode {
		configName = "demo.yml"
	}
	cfg, err := loadConfig()
	if err != nil {
		return fmt.Errorf("load config: %w", err)
	}
	pagerCfg, err := parsePager(cfg, configName)
	if err != nil {
		return fmt.Errorf("load config: %w", err)
	}
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
		Logger:           logger.With("component", "tsdb"),
	})
	if err != nil {
		return fmt.Errorf("open storage: %w", err)
	}
	set := metrics.NewSet()
	registerStoreMetrics(set, db)

	// The exemplar storage's size is read at start: a reload does not
	// resize it.
	maxExemplars := config.DefaultMaxExemplars
	if n := cfg.Storage.Exemplars.MaxExemplars; n != nil {
		maxExemplars = *n
	}
	exemplars := tsdb.NewExemplars(maxExemplars)
	var exemplarSink scrape.ExemplarAppender
	if exemplars.Capacity() > 0 {
		exemplarSink = exemplars
	}
	scraper := scrape.NewManager(scrape.Options{
		Appender:     func() scrape.Appender { return db.Appender() },
		Logger:       logger.With("component", "scrape"),
		Metrics:      set,
		IsSoftError:  storeIsSoft,
		RejectReason: storeRejectReason,
		Exemplars:    exemplarSink,

		StoreStartTimestamps: o.features.stStorage,
		STZeroIngestion:      o.features.stZero,
	})
	if err := scraper.ApplyConfig(cfg); err != nil {
		return fmt.Errorf("apply config: %w", err)
	}
	prober := newProbes(db, set, logger.With("component", "probe"))
	prober.Apply(cfg)

	externalURL := strings.TrimSuffix(o.externalURL, "/")
	if externalURL == "" {
		externalURL = "http://" + ln.Addr().String()
	}
	engineOpts := web.EngineOpts(queryLimits)
	engineOpts.UseStartTimestamps = o.features.useST // for the API and the rules
	engine := promql.NewEngine(engineOpts)
	extLabels := labels.FromMap(cfg.Global.ExternalLabels)
	ams := &amSenders{opts: alertmanager.Options{Metrics: set, Logger: logger.With("component", "alertmanager")}}
	// In-process receivers get the alerts through bounded queues with one
	// goroutine each, so a slow pager store or console never delays rule
	// evaluation (the Alertmanager sender queues on its own).
	local := func(name string, deliver alertmanager.DeliverFunc) *alertmanager.Local {
		return alertmanager.NewLocal(alertmanager.LocalOptions{Name: name, Metrics: set,
			Logger: logger.With("component", "alerts")}, deliver)
	}
	console := alertmanager.NewConsole(stdout, time.Now)
	consoleQ := local("console", func(alerts ...alertmanager.Alert) error { console.Send(alerts...); return nil })
	queues := []*alertmanager.Local{consoleQ}
	sinks := []alertSink{consoleQ.Send, ams.send}
	var pg *pagerRuntime
	var apiQ *alertmanager.Local
	if pagerCfg != nil {
		key, err := ackKey(o.ackKeyFile, token, logger)
		if err != nil {
			return err
		}
		dbPath := o.pagerDB
		if dbPath == "" {
			if dbPath, err = cfg.Storage.PagerDBTarget(nil); err != nil {
				return err
			}
		}
		pg, err = newPagerRuntime(pagerCfg, pagerSetup{
			configFile: cfg.Path, storePath: dbPath, ackKey: key, externalURL: externalURL,
			stdout: stdout, logger: logger.With("component", "pager"), metrics: set, maxSilence: o.maxSilence, maxSnooze: o.maxSnooze,
			replica: replicaName(cfg.Storage.PagerReplica, ln.Addr()), lease: time.Duration(cfg.Storage.PagerLease),
		})
		if err != nil {
			return err
		}
		defer pg.close()
		pagerQ := local("pager", pg.sink)
		// POST /api/v2/alerts hands alerts to the pager itself and queues
		// here only those it refuses (its database is down), and any that
		// arrive while earlier ones wait.
		apiQ = local("pager_api", pg.sink)
		queues = append(queues, pagerQ, apiQ)
		sinks = append(sinks, pagerQ.Send)
	}
	// With a datasource, rules query it and restore alert state from it;
	// their results still go to the local store (remote_write ships them).
	query, restoreFrom := rules.EngineQueryFunc(engine, db), storage.Queryable(db)
	ds, err := newDatasource(cfg.Datasource, extLabels, set, logger.With("component", "datasource"))
	if err != nil {
		return err
	}
	if ds != nil {
		query = ds.Query
		restoreFrom = restoreQueryable{remote: ds, local: db, log: logger.With("component", "rules")}
		logger.Info("rules evaluate on the datasource", "url", cfg.Datasource.URL)
	}
	ruler := rules.NewManager(rules.Options{
		Query:          query,
		Native:         db,
		Queryable:      restoreFrom,
		Appender:       func() rules.Appender { return db.Appender() },
		Notify:         notifyFunc(externalURL, extLabels, sinks...),
		ExternalLabels: extLabels,
		ExternalURL:    externalURL,
		Logger:         logger.With("component", "rules"),
		Metrics:        set,
	})
	files, err := ruleFiles(cfg.RuleFiles)
	if err != nil {
		return err
	}
	ruleSet, err := rules.Prepare(time.Duration(cfg.Global.EvaluationInterval), files)
	if err != nil {
		return err
	}
	if err := checkDatasourceRules(cfg.Datasource, ruleSet); err != nil {
		return err
	}
	ruler.Apply(ruleSet)

	specs, err := checkinSpecs(cfg.Heartbeats, logger)
	if err != nil {
		return fmt.Errorf("load config: %w", err)
	}
	checkinState := checkinStatePath(cfg.Storage.SnapshotPath)
	if len(specs) > 0 && checkinState == "" {
		logger.Warn("heartbeats are kept in memory only (no storage.snapshot_path): a restart forgets their last check-ins")
	}
	checkins := checkin.New(checkin.Options{
		Notify:       checkinNotify(extLabels, sinks...),
		Appender:     func() checkin.Appender { return db.Appender() },
		StatePath:    checkinState,
		GeneratorURL: externalURL + "/heartbeats",
		Metrics:      set,
		Logger:       logger.With("component", "checkin"),
	})
	checkins.Apply(specs)

	hb, err := startHeartbeat(cfg.Heartbeat, ruler, pg, logger, set)
	if err != nil {
		return err
	}

	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	ams.apply(runCtx, alertmanagerTargets(cfg))
	// The senders stop before the store's final snapshot (storeCtx), so
	// that it saves their last send positions.
	storeCtx, stopStore := context.WithCancel(context.Background())
	defer stopStore()
	rw := &remoteWriters{db: db, retention: time.Duration(cfg.Storage.Retention), set: set,
		logger: logger.With("component", "remote_write")}
	rw.apply(runCtx, cfg.RemoteWrite, extLabels)
	defer rw.stop()

	// The console reads the running status_page section through this.
	var statusPage atomic.Pointer[config.StatusPage]
	statusPage.Store(&cfg.StatusPage)

	cfgState := newConfigState(cfg, time.Now())
	reloader := &reloader{state: cfgState, load: loadConfig, configName: configName, scraper: scraper, prober: prober, ruler: ruler,
		ams: ams, remote: rw, pg: pg, checkins: checkins, statusPage: &statusPage, heartbeat: cfg.Heartbeat, datasource: cfg.Datasource, storage: cfg.Storage, logger: logger}
	reload := func() error { return reloader.reload(runCtx) }

	pagerURL := ""
	if pg != nil {
		pagerURL = externalURL
	}
	isReady := make(chan struct{})
	api := web.New(web.Options{
		Queryable: db,
		Engine:    engine,
		Rules:     func() []web.RuleGroup { return webRules(ruler.Groups()) },
		Targets:   func() []web.Target { return webTargets(scraper.Targets()) },
		DroppedTargets: func() ([]web.DroppedTarget, map[string]int) {
			return webDroppedTargets(scraper.DroppedTargets())
		},
		Metadata:  scraper.Metadata,
		Exemplars: exemplars,
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
		Flags:         o.flags,
		Config:        cfgState.yaml,
		Runtime:       cfgState.runtime,
		TSDBStatus:    tsdbStatus(db),
		Alertmanagers: alertmanagerURLs(ams, pagerURL),
		Admin:         storeAdmin{db: db, snapshotPath: cfg.Storage.SnapshotPath},
		Metrics:       set,
		Logger:        logger.With("component", "web"),
	})
	checkin.Register(api.HandleOwnAuth, checkins)
	if o.rwReceiver {
		api.EnableRemoteWrite(web.RemoteWriteOptions{
			Appender:     func() web.WriteAppender { return db.Appender() },
			RejectReason: storeRejectReason,
		})
	}
	if pg != nil {
		api.EnablePager(web.PagerOptions{Pager: pg.p, Schedules: pg.schedule, Calendars: pg.p, Postmortems: pg.p, Buffer: apiBuffer{apiQ},
			People: pg.p, SecureCookies: strings.HasPrefix(externalURL, "https://")})
		if in := inboundWebhooks(pg, externalURL, logger.With("component", "inbound"), set); in != nil {
			in.Register(api.HandleOwnAuth)
		}
	}
	probes := func() []web.Probe { return webProbes(prober.Statuses()) }
	api.EnableProbes(web.ProbeOptions{Probes: probes, Run: probeRun(prober), Open: o.probeOpen})
	uiOpts := ui.Options{Rules: func() []web.RuleGroup { return webRules(ruler.Groups()) }, Probes: probes,
		Targets: func() []web.Target { return webTargets(scraper.Targets()) }, RangeQuery: api.RangeQuery, CheckQuery: api.CheckQueryText,
		StatusPage: statusPage.Load, Heartbeats: uiHeartbeats(checkins), Logger: logger.With("component", "ui")}
	if pg != nil {
		uiOpts.Pager, uiOpts.PagerConfig, uiOpts.Cluster = pg.p, pg.cfg.Load, pg.cluster.status
		uiOpts.Schedule = pg.schedule
		uiOpts.Session = api.ConsoleSession
		uiOpts.Postmortems = pg.p
	}
	if err := ui.Register(api, uiOpts); err != nil {
		return fmt.Errorf("web console: %w", err)
	}

	// A client may take a minute to send its request, body included (a
	// slow remote-write body would otherwise hold a receiver slot for as
	// long as it likes); the answer may take as long as the query limits
	// allow.
	srv := &http.Server{Handler: api, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: time.Minute, IdleTimeout: 2 * time.Minute}
	var wg sync.WaitGroup
	errc := make(chan error, 8)
	wg.Go(func() {
		if err := db.Run(storeCtx); err != nil {
			errc <- fmt.Errorf("storage: %w", err)
		}
	})
	wg.Go(func() {
		if err := scraper.Run(runCtx); err != nil && !errors.Is(err, context.Canceled) {
			errc <- fmt.Errorf("scrape: %w", err)
		}
	})
	wg.Go(func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			errc <- fmt.Errorf("http: %w", err)
		}
	})
	for _, q := range queues {
		wg.Go(func() { q.Run(runCtx) })
	}
	wg.Go(func() { _ = prober.Run(runCtx) })
	wg.Go(func() {
		if err := ruler.Run(runCtx); err != nil {
			errc <- fmt.Errorf("rules: %w", err)
		}
	})
	if pg != nil {
		wg.Go(func() { pg.run(runCtx, 10*time.Second) }) // never ends the process
	}
	wg.Go(func() { checkins.Run(runCtx) })
	if hb != nil {
		wg.Go(func() { hb.Run(runCtx) })
	}
	wg.Go(func() { watchSIGHUP(runCtx, reload) })
	close(isReady)

	url := "http://" + ln.Addr().String()
	fmt.Fprintf(stdout, "Watchdog %s serving on %s\n", version, url)
	if demoMode {
		fmt.Fprintf(stdout, "Demo: scraping the built-in shop and the watchdog itself. Try %s/api/v1/query?query=up\n", url)
	}
	if pg != nil {
		fmt.Fprintf(stdout, "Pager: %d users, %d escalation policies, channels %s; Alertmanager receiver at %s/api/v2/alerts (bearer token required)\n",
			len(pagerCfg.Users), len(pagerCfg.EscalationPolicies), channelNames(pg.channels), url)
	}
	if generated {
		fmt.Fprintf(stdout, "API token for state-changing calls (generated; set WATCHDOG_TOKEN or --web.token-file to choose one): %s\n", token)
	}

	var runErr error
	select {
	case <-ctx.Done():
	case runErr = <-errc:
	}
	logger.Info("shutting down")
	shutdownCtx, done := context.WithTimeout(context.Background(), 10*time.Second)
	defer done()
	_ = srv.Shutdown(shutdownCtx)
	cancel()
	rw.stop()
	stopStore()
	wg.Wait()
	ams.wait()
	return runErr
}

// webDroppedTargets converts the scraper's dropped targets to the API's.
func webDroppedTargets(jobs []scrape.DroppedTargets) ([]web.DroppedTarget, map[string]int) {
	var out []web.DroppedTarget
	counts := make(map[string]int, len(jobs))
	for _, j := range jobs {
		counts[j.Job] = j.Count
		for _, l := range j.Discovered {
			out = append(out, web.DroppedTarget{DiscoveredLabels: l, ScrapePool: j.Job})
		}
	}
	return out, counts
}

// loadToken reads the API token from a file (see readSecretFile: one other
// users can read is refused) or WATCHDOG_TOKEN; without either it generates
// a random one for this run.
func loadToken(file string, log *slog.Logger) (token string, generated bool, err error) {
	if file != "" {
		token, err := readSecretFile("token file", file, log)
		if err != nil {
			return "", false, err
		}
		return token, false, nil
	}
	if t := strings.TrimSpace(os.Getenv("WATCHDOG_TOKEN")); t != "" {
		return t, false, nil
	}
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", false, fmt.Errorf("generate token: %w", err)
	}
	return hex.EncodeToString(b[:]), true, nil
}

// watchSIGHUP reloads the configuration on every SIGHUP until ctx is done.
func watchSIGHUP(ctx context.Context, reload func() error) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
			_ = reload() // logged by reload
		}
	}
}

// extractDemoRules writes the embedded example rule files (not their tests)
// to a new temporary directory and returns it.
func extractDemoRules() (string, error) {
	dir, err := os.MkdirTemp("", "watchdog-demo-rules")
	if err != nil {
		return "", fmt.Errorf("demo rules: %w", err)
	}
	entries, err := fs.ReadDir(examples.Rules, "rules")
	if err != nil {
		return "", fmt.Errorf("demo rules: %w", err)
	}
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), "_test.yml") {
			continue
		}
		b, err := fs.ReadFile(examples.Rules, "rules/"+e.Name())
		if err != nil {
			return "", fmt.Errorf("demo rules: %w", err)
		}
		if err := os.WriteFile(filepath.Join(dir, e.Name()), b, 0o644); err != nil {
			return "", fmt.Errorf("demo rules: %w", err)
		}
	}
	return dir, nil
}
