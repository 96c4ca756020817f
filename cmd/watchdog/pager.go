package main

import (
	"cmp"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/watchdog-sre/watchdog/config"
	"github.com/watchdog-sre/watchdog/internal/dburl"
	"github.com/watchdog-sre/watchdog/pager"
	"github.com/watchdog-sre/watchdog/pager/channel"
	"github.com/watchdog-sre/watchdog/pager/schedule"
	"github.com/watchdog-sre/watchdog/pager/sqlstore"
	"github.com/watchdog-sre/watchdog/rules/alertmanager"
)

// errPagerRestart refuses a reload that the running pager cannot apply.
var errPagerRestart = errors.New("needs a restart")

// Defaults of the --pager.max-silence-duration and --pager.max-snooze flags.
const (
	defaultMaxSilence = pager.DefaultMaxSilenceDuration
	defaultMaxSnooze  = pager.DefaultMaxSnooze
)

// parsePager decodes the pager section of cfg, read from file, keeping
// file:line in errors. It returns nil, nil when there is no section.
func parsePager(cfg *config.Config, file string) (*pager.Config, error) {
	if cfg.Pager.Node == nil {
		return nil, nil
	}
	pc, err := pager.ParseConfigNode(file, "pager", cfg.Pager.Node)
	if err != nil {
		return nil, err
	}
	return pc, nil
}

// secretSource reads pager secrets (*_file, *_env keys); relative file
// names are read against the configuration file's directory.
func secretSource(configFile string) pager.SecretSource {
	dir := "."
	if configFile != "" {
		dir = filepath.Dir(configFile)
	}
	return pager.SecretSource{ReadFile: func(name string) ([]byte, error) {
		if !filepath.IsAbs(name) {
			name = filepath.Join(dir, name)
		}
		return os.ReadFile(name)
	}}
}

// pagerRuntime is the running pager with the configuration it was last
// given, for the parts of the API the pager does not expose (schedules).
type pagerRuntime struct {
	p        *pager.Pager
	store    pager.Store
	cfg      atomic.Pointer[pager.Config]
	channels map[string]channel.Channel
	log      *slog.Logger
	// failed is set once Run has failed; from then on only a pager that
	// has rebuilt and runs (pager.Ready) counts as up (healthy).
	failed atomic.Bool
	// clustered: a replica on a PostgreSQL database, whose Run never
	// fails; it is up when pager.Ready, or for one lease after start.
	clustered bool
	started   time.Time
	grace     time.Duration
	// cluster is the pager's cluster status for /metrics and the console.
	cluster *clusterCache
	// lastErr is Run's last failure, for /-/ready.
	lastErr atomic.Pointer[string]
	// subscribers configures the status page subscribers' loop (the
	// console's component states), set by registerConsole.
	subscribers pager.SubscriberRunOptions
}

// pagerSetup is what newPagerRuntime needs besides the pager section.
type pagerSetup struct {
	configFile  string // for secrets relative to it
	storePath   string // "" keeps state in memory
	ackKey      []byte
	externalURL string
	stdout      io.Writer // console channels write here
	logger      *slog.Logger
	metrics     *metrics.Set
	maxSilence  time.Duration // 0: the pager's default
	maxSnooze   time.Duration // 0: the pager's default
	// replica names this process among the replicas of a PostgreSQL
	// pager database; lease is their lease (0: the pager's default).
	replica string
	lease   time.Duration
}

// replicaName is storage.pager_replica, or the host name and the port the
// web server listens on.
func replicaName(configured string, addr net.Addr) string {
	if configured != "" {
		return configured
	}
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "localhost"
	}
	if ta, ok := addr.(*net.TCPAddr); ok {
		return fmt.Sprintf("%s:%d", host, ta.Port)
	}
	return host
}

// newPagerRuntime builds channels (secrets from files and environment),
// opens the store and constructs the pager. Console channels print to
// s.stdout.
func newPagerRuntime(pc *pager.Config, s pagerSetup) (*pagerRuntime, error) {
	chans, err := buildChannels(pc, s.configFile, s.stdout)
	if err != nil {
		return nil, fmt.Errorf("pager channels: %w", err)
	}
	store, err := openPagerStore(s.storePath, s.replica, s.lease, s.logger, s.metrics)
	if err != nil {
		return nil, err
	}
	var cluster pager.Cluster
	if c, ok := store.(*sqlstore.Store); ok && dburl.IsPostgres(s.storePath) {
		cluster = c
	}
	ext := strings.TrimSuffix(s.externalURL, "/")
	p, err := pager.New(pager.Options{
		Config:      pc,
		Store:       store,
		Channels:    chans,
		Workers:     pc.DeliveryWorkers,
		Logger:      s.logger,
		Metrics:     s.metrics,
		AckKey:      s.ackKey,
		AckURL:      func(token string) string { return ext + "/ack/" + token },
		ExternalURL: ext,

		MaxSilenceDuration: s.maxSilence,
		MaxSnooze:          s.maxSnooze,
		Cluster:            cluster,
		Lease:              s.lease,
	})
	if err != nil {
		closeStore(store)
		return nil, fmt.Errorf("pager: %w", err)
	}
	r := &pagerRuntime{p: p, store: store, channels: chans, log: s.logger, clustered: cluster != nil, started: time.Now(),
		grace: cmp.Or(s.lease, pager.DefaultLease), cluster: newClusterCache(p.Cluster)}
	r.cfg.Store(pc)
	if s.metrics != nil {
		s.metrics.NewGauge("watchdog_pager_up", func() float64 {
			if r.healthy() {
				return 1
			}
			return 0
		})
		registerClusterMetrics(s.metrics, r.cluster)
	}
	return r, nil
}

// run runs the pager until ctx ends. A failure of Run (its store failing
// when it rebuilds its timers) does not end the process: scraping and
// rules go on. It is logged as an ERROR, the pager is marked down
// (watchdog_pager_up 0, /-/ready 503) and Run is tried again after retry,
// doubling up to 5 minutes.
func (r *pagerRuntime) run(ctx context.Context, retry time.Duration) {
	first := retry
	for {
		started := time.Now()
		err := r.p.Run(ctx)
		if ctx.Err() != nil {
			return
		}
		r.failed.Store(true)
		msg := err.Error()
		r.lastErr.Store(&msg)
		if time.Since(started) > 5*time.Minute {
			retry = first // it ran a good while: not the same failure again
		}
		r.log.Error("pager stopped: pages are not being sent; scraping and rules go on; retrying", "err", err, "retry_in", retry)
		t := time.NewTimer(retry)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		retry = min(2*retry, 5*time.Minute)
	}
}

func buildChannels(pc *pager.Config, configFile string, stdout io.Writer) (map[string]channel.Channel, error) {
	chans, err := pc.BuildChannels(secretSource(configFile))
	if err != nil {
		return nil, err
	}
	for _, cc := range pc.Channels {
		if cc.Type == "console" {
			chans[cc.Name] = channel.NewConsole(channel.ConsoleOptions{Name: cc.Name, Writer: stdout})
		}
	}
	return chans, nil
}

// openPagerStore opens the PostgreSQL store for a postgres:// URL, the
// SQLite store at path otherwise, or a memory store for "". Both of the
// cases where incident numbers start again at inc-1 (no database, a new
// one) are logged: numbers are for display only, and acknowledge links of
// earlier incidents are refused (they name a UID). A URL is logged without
// its password.
func openPagerStore(path, replica string, lease time.Duration, log *slog.Logger, set *metrics.Set) (pager.Store, error) {
	if path == "" {
		log.Warn("pager: no pager_db: incidents are kept in memory and lost at restart; numbering starts at inc-1 on every start")
		return pager.NewMemStore(), nil
	}
	if dburl.IsPostgres(path) {
		if replica == "" {
			replica = "watchdog"
		}
		// A replica frozen mid-transaction loses its session after one
		// lease, so that the others can take over (sqlstore.Options).
		s, err := sqlstore.OpenPostgres(path, sqlstore.Options{Logger: log, Metrics: set, Replica: replica,
			IdleInTransaction: cmp.Or(lease, pager.DefaultLease)})
		if err != nil {
			return nil, fmt.Errorf("open pager database: %w", err)
		}
		log.Info("pager: PostgreSQL store; replicas share it, the lease holder escalates", "url", s.Path(),
			"schema_version", sqlstore.PostgresSchemaVersion(), "replica", replica)
		if s.Created() {
			log.Warn("pager: created the pager schema in an empty PostgreSQL database; incident numbering starts at inc-1", "url", s.Path())
		}
		return s, nil
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("pager database directory: %w", err)
	}
	s, err := sqlstore.Open(path, sqlstore.Options{Logger: log, Metrics: set})
	if err != nil {
		return nil, fmt.Errorf("open pager database: %w", err)
	}
	if s.Created() {
		log.Warn("pager: created a new, empty pager database; incident numbering starts at inc-1", "path", path)
	}
	return s, nil
}

func closeStore(s pager.Store) {
	if c, ok := s.(io.Closer); ok {
		_ = c.Close()
	}
}

// close releases the store; call after Run has returned.
func (r *pagerRuntime) close() { closeStore(r.store) }

// schedule returns the schedule called name of the current configuration.
// schedule returns schedule name with the stored overrides applied, as
// escalation sees it (the configured one if the store cannot be read).
func (r *pagerRuntime) schedule(name string) *schedule.Schedule {
	s, err := r.p.EffectiveSchedule(name)
	if err != nil {
		return r.cfg.Load().Schedule(name)
	}
	return s
}

// check reports whether next can replace the running configuration: the
// pager's channels are built once, so a reload may not add channels or
// change a channel's type; and it may not remove what open incidents use
// (pager.CheckReload, checked again by reload under the pager's lock).
func (r *pagerRuntime) check(next *pager.Config) error {
	old := map[string]string{}
	for _, cc := range r.cfg.Load().Channels {
		old[cc.Name] = cc.Type
	}
	for _, cc := range next.Channels {
		if t, ok := old[cc.Name]; !ok || t != cc.Type {
			return fmt.Errorf("pager: channel %q added or changed type: %w", cc.Name, errPagerRestart)
		}
	}
	if err := r.p.CheckReload(next); err != nil {
		return fmt.Errorf("pager: %w", err)
	}
	return nil
}

// reload switches the pager to next (already checked).
func (r *pagerRuntime) reload(next *pager.Config) error {
	if err := r.p.Reload(next); err != nil {
		return fmt.Errorf("pager: %w", err)
	}
	r.cfg.Store(next)
	return nil
}

// sink hands the rule engine's alerts to the pager in-process, as they
// are (one alert type from the rules to every sink). An error (the pager's
// database is down) makes its queue hold the alerts and retry.
func (r *pagerRuntime) sink(alerts ...alertmanager.Alert) error {
	if err := r.p.Receive(alerts...); err != nil {
		return fmt.Errorf("pager: receive alerts: %w", err)
	}
	return nil
}

// ackKey returns the key signing acknowledge links: the contents of file
// (refused when other users can read it, see readSecretFile), else
// WATCHDOG_PAGER_ACK_KEY, else one derived from the API token (links then
// stay valid across restarts as long as the token does).
func ackKey(file, apiToken string, log *slog.Logger) ([]byte, error) {
	if file != "" {
		k, err := readSecretFile("ack key file", file, log)
		if err != nil {
			return nil, err
		}
		return []byte(k), nil
	}
	if k := strings.TrimSpace(os.Getenv("WATCHDOG_PAGER_ACK_KEY")); k != "" {
		return []byte(k), nil
	}
	m := hmac.New(sha256.New, []byte(apiToken))
	m.Write([]byte("watchdog pager ack links v1"))
	return m.Sum(nil), nil
}

// channelNames lists built channel names, for a log line.
func channelNames(ch map[string]channel.Channel) string {
	return strings.Join(slices.Sorted(maps.Keys(ch)), ",")
}

// healthy reports whether pages are being sent (watchdog_pager_up,
// /-/ready, the dead man's switch): the pager has rebuilt and runs; until
// its first failure, also while it is starting (so that the first beat at
// start is not withheld), but not between the retries of a pager that has
// failed.
func (r *pagerRuntime) healthy() bool {
	if r.clustered {
		return r.p.Ready() || time.Since(r.started) < r.grace
	}
	return r.p.Ready() || !r.failed.Load()
}

// down says why the pager is not healthy, for /-/ready's 503.
func (r *pagerRuntime) down() string {
	const held = "; alerts it cannot store are held in memory until it is back"
	if r.clustered {
		return "the pager is down: this replica cannot reach the pager database, or no replica holds the lease" + held
	}
	why := "the pager is down: pages are not being sent" + held
	if e := r.lastErr.Load(); e != nil {
		why += " (" + *e + ")"
	}
	return why
}
