package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/prometheus/prometheus/model/labels"

	"github.com/watchdog-sre/watchdog/demo"
	"github.com/watchdog-sre/watchdog/internal/gctune"
	"github.com/watchdog-sre/watchdog/internal/querylimit"
	"github.com/watchdog-sre/watchdog/scrape"
	"github.com/watchdog-sre/watchdog/web"
)

// serveOptions are the flags of `watchdog run` and the demo.
type serveOptions struct {
	configFile    string
	listenAddress string
	tokenFile     string
	snapshotPath  string
	chunksDir     string // --storage.chunks-dir
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
	profile       *profileOptions   // --debug.cpu-profile, --debug.heap-profile
	featureNames  *featureFlag      // --enable-feature
	features      features          // what featureNames turned on
	flags         map[string]string // every flag's value, for /api/v1/status/flags
}

func serveFlags(demoMode bool) (*flag.FlagSet, *serveOptions) {
	o := &serveOptions{}
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(io.Discard) // help and errors: serveHelp, flagError
	fs.Usage = func() {}
	if !demoMode {
		fs.StringVar(&o.configFile, "config", "", "configuration file (required)")
	} else {
		// For tests (the browser tests in e2e/): hidden (hiddenFlags).
		fs.DurationVar(&o.firstSpike, "demo.first-spike", demo.DefaultFirstSpike,
			"delay from start to the demo shop's first login error spike; 0 starts it at once (for tests)")
		fs.DurationVar(&o.firstOutage, "demo.first-cart-outage", demo.DefaultFirstCartOutage,
			"delay from start to the demo shop's first cart outage; 0 starts it at once (for tests)")
	}
	fs.StringVar(&o.listenAddress, "web.listen-address", "127.0.0.1:9190", "address the HTTP API and UI listen on")
	fs.StringVar(&o.tokenFile, "web.token-file", "", "file holding the bearer token for state-changing HTTP calls (or set WATCHDOG_TOKEN)")
	fs.StringVar(&o.snapshotPath, "storage.snapshot-path", "", "override storage.snapshot_path of the configuration")
	fs.StringVar(&o.chunksDir, "storage.chunks-dir", "",
		"override storage.chunks_dir of the configuration: keep sealed chunks in memory-mapped scratch files there (Linux)")
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
	o.profile = profileFlags(fs)
	o.featureNames = enableFeatureFlag(fs)
	return fs, o
}

// cmdServe runs the watchdog until SIGINT or SIGTERM.
func cmdServe(args []string, demoMode bool, stdout, stderr io.Writer) error {
	fs, o := serveFlags(demoMode)
	name := map[bool]string{true: "demo", false: "run"}[demoMode]
	if err := fs.Parse(args); errors.Is(err, flag.ErrHelp) {
		serveHelp(stdout, demoMode)
		return nil
	} else if err != nil {
		return flagError(name, err)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: %s: unexpected argument %q (see `watchdog help %s`)", errUsage, name, fs.Arg(0), name)
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
	stopProfile, err := o.profile.start(ctx)
	if err != nil {
		return err
	}
	err = serve(ctx, o, demoMode, stdout, logger)
	return errors.Join(err, stopProfile())
}

// serve runs the watchdog until ctx is done: it builds the composition root
// (root.go) from the first configuration, wires the HTTP API and console to
// it, and runs every part.
func serve(ctx context.Context, o *serveOptions, demoMode bool, stdout io.Writer, logger *slog.Logger) error {
	queryLimits, err := o.limits.queryLimits()
	if err != nil {
		return err
	}
	if err := applyMemoryLimit(o.limits.memoryLimit, logger); err != nil {
		return err
	}
	gcPct, err := applyGCPercent(o.limits.gcPercent, logger)
	if err != nil {
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
	src, err := openConfigSource(o, demoMode, ln.Addr().String())
	if err != nil {
		return err
	}
	defer src.close()

	r, first, err := newRoot(o, stdout, logger, ln.Addr(), src, token, queryLimits)
	if err != nil {
		return err
	}
	defer r.close()
	r.gcPercent = gcPct
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	if err := r.commit(runCtx, first); err != nil {
		return fmt.Errorf("apply config: %w", err)
	}
	defer r.remote.stop()
	rl := &reloader{root: r, state: newConfigState(first.cfg, time.Now()), load: src.load, configName: src.name}
	reload := func() error { return rl.reload(runCtx) }
	isReady := make(chan struct{})
	api, err := r.newWeb(token, queryLimits, rl.state, reload, isReady)
	if err != nil {
		return err
	}

	banner := func() {
		url := "http://" + ln.Addr().String()
		fmt.Fprintf(stdout, "Watchdog %s serving on %s\n", version, url)
		if demoMode {
			fmt.Fprintf(stdout, "Demo: scraping the built-in shop and the watchdog itself. Try %s/api/v1/query?query=up\n", url)
		}
		if r.pg != nil {
			fmt.Fprintf(stdout, "Pager: %d users, %d escalation policies, channels %s; Alertmanager receiver at %s/api/v2/alerts (bearer token required)\n",
				len(first.pager.Users), len(first.pager.EscalationPolicies), channelNames(r.pg.channels), url)
		}
		if generated {
			fmt.Fprintf(stdout, "API token for state-changing calls (generated; set WATCHDOG_TOKEN or --web.token-file to choose one): %s\n", token)
		}
	}
	return r.run(ctx, runCtx, cancel, api, ln, reload, isReady, banner)
}

// newRoot loads the first configuration and builds every part from it:
// the store, the ingest parts, the plan (built and validated before the
// pager's database opens), the alert sinks and the rule evaluation. The
// plan is returned for commit.
func newRoot(o *serveOptions, stdout io.Writer, logger *slog.Logger, addr net.Addr, src *configSource,
	token string, queryLimits querylimit.Limits) (_ *root, _ *plan, err error) {
	cfg, err := src.load()
	if err != nil {
		return nil, nil, fmt.Errorf("load config: %w", err)
	}
	r := &root{o: o, stdout: stdout, logger: logger, set: metrics.NewSet(), listenAddr: addr, started: cfg,
		extLabels: labels.FromMap(cfg.Global.ExternalLabels), externalURL: strings.TrimSuffix(o.externalURL, "/")}
	if r.externalURL == "" {
		r.externalURL = "http://" + addr.String()
	}
	defer func() {
		if err != nil {
			r.close()
		}
	}()
	if err := r.openStore(cfg); err != nil {
		return nil, nil, err
	}
	r.newIngest(queryLimits)
	p, err := r.build(cfg, src.name)
	if err == nil {
		err = p.validate()
	}
	if err != nil {
		return nil, nil, fmt.Errorf("load config: %w", err)
	}
	if err := r.newSinks(p, token); err != nil {
		return nil, nil, err
	}
	if err := r.newEvaluation(); err != nil {
		return nil, nil, err
	}
	return r, p, nil
}

// run runs every part, marks the watchdog ready and prints the banner;
// when ctx is done or one of the parts fails, it shuts
// them down in order: the HTTP server, everything on runCtx, the remote
// write senders, and last the store (its final snapshot saves their send
// positions).
func (r *root) run(ctx, runCtx context.Context, cancel context.CancelFunc, api http.Handler, ln net.Listener,
	reload func() error, isReady chan struct{}, banner func()) error {
	storeCtx, stopStore := context.WithCancel(context.Background())
	defer stopStore()
	// A client may take a minute to send its request, body included (a
	// slow remote-write body would otherwise hold a receiver slot for as
	// long as it likes); the answer may take as long as the query limits
	// allow.
	srv := &http.Server{Handler: api, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: time.Minute, IdleTimeout: 2 * time.Minute}
	var wg sync.WaitGroup
	errc := make(chan error, 8)
	wg.Go(func() {
		if err := r.db.Run(storeCtx); err != nil {
			errc <- fmt.Errorf("storage: %w", err)
		}
	})
	wg.Go(func() {
		if err := r.scraper.Run(runCtx); err != nil && !errors.Is(err, context.Canceled) {
			errc <- fmt.Errorf("scrape: %w", err)
		}
	})
	wg.Go(func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			errc <- fmt.Errorf("http: %w", err)
		}
	})
	for _, q := range r.queues {
		wg.Go(func() { q.Run(runCtx) })
	}
	wg.Go(func() { _ = r.prober.Run(runCtx) })
	wg.Go(func() {
		if err := r.ruler.Run(runCtx); err != nil {
			errc <- fmt.Errorf("rules: %w", err)
		}
	})
	if r.pg != nil {
		wg.Go(func() { r.pg.run(runCtx, 10*time.Second) }) // never ends the process
		// Status page subscribers: only the escalating pager (the
		// leader of a cluster) sends.
		wg.Go(func() { _ = r.pg.p.RunSubscribers(runCtx, r.pg.subscribers) })
	}
	wg.Go(func() { r.checkins.Run(runCtx) })
	if r.heartbeat != nil {
		wg.Go(func() { r.heartbeat.Run(runCtx) })
	}
	wg.Go(func() { watchSIGHUP(runCtx, reload) })
	wg.Go(func() {
		gctune.Run(runCtx, gctune.Options{Percent: r.gcPercent, Metrics: r.set,
			PointerFree: func() int64 { st := r.db.Stats(); return int64(st.ChunkBytes) - st.ChunkFileBytes }})
	})
	close(isReady)
	banner()

	var runErr error
	select {
	case <-ctx.Done():
	case runErr = <-errc:
	}
	r.logger.Info("shutting down")
	shutdownCtx, done := context.WithTimeout(context.Background(), 10*time.Second)
	defer done()
	_ = srv.Shutdown(shutdownCtx)
	cancel()
	r.remote.stop()
	stopStore()
	wg.Wait()
	r.ams.wait()
	if err := r.db.Close(); err != nil {
		r.logger.Warn("storage: cannot remove chunk files", "err", err)
	}
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
