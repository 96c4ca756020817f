package main

import (
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/watchdog-sre/watchdog/config"
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
}

// newPagerRuntime builds channels (secrets from files and environment),
// opens the store and constructs the pager. Console channels print to
// s.stdout.
func newPagerRuntime(pc *pager.Config, s pagerSetup) (*pagerRuntime, error) {
	chans, err := buildChannels(pc, s.configFile, s.stdout)
	if err != nil {
		return nil, fmt.Errorf("pager channels: %w", err)
	}
	store, err := openPagerStore(s.storePath)
	if err != nil {
		return nil, err
	}
	ext := strings.TrimSuffix(s.externalURL, "/")
	p, err := pager.New(pager.Options{
		Config:      pc,
		Store:       store,
		Channels:    chans,
		Logger:      s.logger,
		Metrics:     s.metrics,
		AckKey:      s.ackKey,
		AckURL:      func(token string) string { return ext + "/ack/" + token },
		ExternalURL: ext,

		MaxSilenceDuration: s.maxSilence,
		MaxSnooze:          s.maxSnooze,
	})
	if err != nil {
		closeStore(store)
		return nil, fmt.Errorf("pager: %w", err)
	}
	r := &pagerRuntime{p: p, store: store, channels: chans, log: s.logger}
	r.cfg.Store(pc)
	return r, nil
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

// openPagerStore opens the SQLite store at path, or a memory store for "".
func openPagerStore(path string) (pager.Store, error) {
	if path == "" {
		return pager.NewMemStore(), nil
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("pager database directory: %w", err)
	}
	s, err := sqlstore.Open(path, sqlstore.Options{})
	if err != nil {
		return nil, fmt.Errorf("open pager database: %w", err)
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
func (r *pagerRuntime) schedule(name string) *schedule.Schedule { return r.cfg.Load().Schedule(name) }

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

// sink hands the rule engine's alerts to the pager in-process.
func (r *pagerRuntime) sink(alerts ...alertmanager.Alert) {
	in := make([]pager.Alert, 0, len(alerts))
	for _, a := range alerts {
		in = append(in, pager.Alert{Labels: a.Labels, Annotations: a.Annotations, StartsAt: a.StartsAt,
			EndsAt: a.EndsAt, GeneratorURL: a.GeneratorURL})
	}
	if err := r.p.Receive(in...); err != nil {
		r.log.Error("pager: receive alerts", "err", err)
	}
}

// ackKey returns the key signing acknowledge links: the contents of file,
// else WATCHDOG_PAGER_ACK_KEY, else one derived from the API token (links
// then stay valid across restarts as long as the token does).
func ackKey(file, apiToken string) ([]byte, error) {
	if file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			return nil, fmt.Errorf("read ack key file: %w", err)
		}
		if k := strings.TrimSpace(string(b)); k != "" {
			return []byte(k), nil
		}
		return nil, fmt.Errorf("ack key file %s is empty", file)
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
