// Package scrape turns scrape_configs into running scrape loops: it builds
// targets from static_configs and file_sd_configs, relabels them, runs one
// goroutine per target that fetches the target's exposition, parses it, and
// hands the samples to an Appender together with the synthetic series (up,
// scrape_duration_seconds, ...) and Prometheus-style staleness markers.
//
// The Manager owns the set of loops. ApplyConfig hands it a new configuration
// (before or while Run runs); Run applies it, polls file_sd files, and stops
// every loop when its context ends. Each loop owns its own state (series
// cache, staleness tracking, buffers); the Manager only sends it new settings
// through a one-slot channel and reads its status under a mutex.
//
// Every job has limits, defaulted when the configuration sets none (see
// config.DefaultScrapeLimits): sample_limit, body_size_limit, label_limit,
// label_name_length_limit and label_value_length_limit fail a scrape (up
// 0, the reason as the target's last error, counted in
// watchdog_scrape_limit_exceeded_total); target_limit fails every target
// of a job that has too many, without fetching them. scrape_timeout covers
// the fetch only: a fetched body waits for an ingest slot and is appended
// and committed whatever the time it takes, the target's ticks passing
// meanwhile being skipped (watchdog_scrape_missed_total). Samples the store
// refuses one by one (out of order, too old, too far in the future, over
// the series limit) do not fail the scrape: they are counted per reason,
// logged once per scrape and shown as the target's last error.
package scrape

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/relabel"
	"gopkg.in/yaml.v3"

	"github.com/watchdog-sre/watchdog/config"
)

// ErrInvalidConfig wraps every error ApplyConfig returns for a configuration
// it cannot run.
var ErrInvalidConfig = errors.New("invalid scrape config")

// ErrLabelLimit is reported when a scraped series has more labels than the
// job's label_limit.
var ErrLabelLimit = errors.New("label_limit exceeded")

// ErrLabelNameLengthLimit is reported when a scraped series has a label name
// longer than the job's label_name_length_limit.
var ErrLabelNameLengthLimit = errors.New("label_name_length_limit exceeded")

// ErrLabelValueLengthLimit is reported when a scraped series has a label
// value longer than the job's label_value_length_limit.
var ErrLabelValueLengthLimit = errors.New("label_value_length_limit exceeded")

// ErrTargetLimit is every target's failure while its job has more targets
// than its target_limit: none of them is scraped.
var ErrTargetLimit = errors.New("target_limit exceeded")

// ErrNameLabelMissing is reported when a series has no metric name after
// metric relabeling.
var ErrNameLabelMissing = errors.New("series has no __name__ label")

// filePollInterval is how often file_sd files are checked for changes (mtime
// and size). Files are re-read regardless of changes every refresh_interval.
const filePollInterval = 5 * time.Second

// defaultRefreshInterval is file_sd's refresh_interval when it is not set.
const defaultRefreshInterval = 5 * time.Minute

// defaultUserAgent is sent when Options.UserAgent is empty.
const defaultUserAgent = "Watchdog"

// Options configures a Manager. The zero value is usable: samples are
// discarded, nothing is logged, and the default HTTP transport is used.
type Options struct {
	// Appender returns the Appender one scrape writes to. nil discards samples.
	Appender AppenderFunc
	// Logger receives scrape failures and configuration problems. nil discards.
	Logger *slog.Logger
	// HTTPClient returns the client used for a job's targets. It is called once
	// per job on every ApplyConfig that changes the job. nil uses a shared
	// client over a clone of http.DefaultTransport.
	HTTPClient func(cfg *config.ScrapeConfig) (*http.Client, error)
	// Metrics receives the per-job counters watchdog_scrapes_total,
	// watchdog_scrape_failures_total, watchdog_scrape_samples_total,
	// watchdog_scrape_samples_rejected_total{reason} (samples the store
	// refused, see RejectReason, and series exposed twice in one body:
	// "duplicate"), watchdog_scrape_limit_exceeded_total{limit} (scrapes
	// failed by sample_limit, body_size_limit, label_limit,
	// label_name_length_limit, label_value_length_limit, target_limit or
	// scrape_timeout), watchdog_scrape_missed_total (ticks skipped because
	// the previous scrape of the target was still running) and the
	// histogram watchdog_scrape_ingest_wait_seconds (the scrapes' waits for
	// an ingest slot). nil registers them in a private set.
	Metrics *metrics.Set
	// IsSoftError reports whether an Append error means "this sample was
	// rejected (out of order, duplicate timestamp), go on with the rest". Such
	// samples are counted and skipped. Any other error fails the scrape, after
	// one retry by labels when the append used a cached ref (the series may
	// have been garbage-collected: ErrUnknownRef). nil treats every Append
	// error as soft, still retrying once by labels first.
	IsSoftError func(error) bool
	// RejectReason names the reason label of
	// watchdog_scrape_samples_rejected_total for a soft Append error, such
	// as "out_of_order" or "too_far_in_future". nil, or "", means
	// "rejected".
	RejectReason func(error) string
	// IngestConcurrency is how many scrapes may parse and append at once;
	// the others wait their turn, one job at a time (the fetches are not
	// limited). 0 means DefaultIngestConcurrency(), four per CPU.
	IngestConcurrency int
	// UserAgent is the User-Agent header of scrape requests ("" = "Watchdog").
	UserAgent string
	// Exemplars takes the exemplars of OpenMetrics and protobuf scrapes
	// once their scrape is committed (at most maxExemplarsPerScrape per
	// scrape). nil drops them without reading them.
	Exemplars ExemplarAppender
	// StoreStartTimestamps (Prometheus's st-storage feature) reads the
	// start (created) timestamps of protobuf and OpenMetrics scrapes and
	// appends each sample with its own through Appender.AppendSample. The
	// text format has none. With this or STZeroIngestion, OpenMetrics
	// <name>_created lines give start timestamps and are no longer series
	// of their own, as in Prometheus.
	StoreStartTimestamps bool
	// STZeroIngestion (Prometheus's created-timestamp-zero-ingestion
	// feature) reads the start timestamps too and appends before a sample
	// a zero sample at its start timestamp (Appender.AppendSTZeroSample),
	// so that a counter's first increase after a (re)start is seen by
	// rate() and increase().
	STZeroIngestion bool
}

// TargetStatus is the state of one active target, as /api/v1/targets shows it.
type TargetStatus struct {
	// Job is the job_name of the scrape config the target belongs to.
	Job string
	// DiscoveredLabels are the labels before relabel_configs ran.
	DiscoveredLabels labels.Labels
	// Labels are the target's labels after relabeling, without "__" labels.
	Labels labels.Labels
	// ScrapeURL is the URL the target is scraped from.
	ScrapeURL string
	// Health is "up", "down" or "unknown" (not scraped yet).
	Health string
	// LastError is the reason of the last failed scrape ("" when healthy).
	LastError string
	// LastScrape is the timestamp of the last scrape.
	LastScrape time.Time
	// LastScrapeDuration is how long the last scrape took.
	LastScrapeDuration time.Duration
	// ScrapeInterval and ScrapeTimeout are the target's effective settings.
	ScrapeInterval, ScrapeTimeout time.Duration
}

// DroppedTargets are the targets of one job that relabel_configs dropped, as
// /api/v1/targets shows them.
type DroppedTargets struct {
	// Job is the job_name of the scrape config.
	Job string
	// Count is how many targets were dropped, exact even when Discovered is
	// capped.
	Count int
	// Discovered holds the labels before relabeling (__address__, the group's
	// labels, job, __scheme__, __metrics_path__, __scrape_interval__,
	// __scrape_timeout__, __param_<name>) of the first keep_dropped_targets
	// dropped targets, or of all when it is 0, in discovery order: static
	// configs first, then file_sd groups.
	Discovered []labels.Labels
}

// Manager runs the scrape loops of a configuration. Create it with NewManager.
type Manager struct {
	opts     Options
	log      *slog.Logger
	client   *http.Client // default client when opts.HTTPClient is nil
	limiter  *limiter     // ingest slots, shared by all loops
	meta     *sharedMeta  // metadata maps shared by the loops
	reloadCh chan struct{}

	mu      sync.Mutex
	pending []*jobConfig // set by ApplyConfig, taken by Run
	applied []*jobConfig // last configuration handed to Run (for reuse)
	view    []*loop      // active loops, for Targets
	dropped []DroppedTargets

	// Owned by the goroutine running Run.
	jobs map[string]*job
}

// NewManager returns a Manager. It does nothing until Run is called.
func NewManager(opts Options) *Manager {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Metrics == nil {
		opts.Metrics = metrics.NewSet()
	}
	if opts.UserAgent == "" {
		opts.UserAgent = defaultUserAgent
	}
	if opts.IngestConcurrency <= 0 {
		opts.IngestConcurrency = DefaultIngestConcurrency()
	}
	var client *http.Client
	if opts.HTTPClient == nil {
		tr, ok := http.DefaultTransport.(*http.Transport)
		if ok {
			tr = tr.Clone()
			// Keep every target's connection between scrapes: the
			// default cap of 100 idle connections would make a larger
			// fleet reconnect (a TCP, perhaps TLS, handshake) on most
			// scrapes. Each host still keeps at most MaxIdleConnsPerHost.
			tr.MaxIdleConns = 0
			client = &http.Client{Transport: tr}
		} else {
			client = &http.Client{}
		}
	}
	return &Manager{
		opts:     opts,
		log:      opts.Logger,
		client:   client,
		limiter:  newLimiter(opts.IngestConcurrency),
		meta:     newSharedMeta(),
		reloadCh: make(chan struct{}, 1),
		jobs:     map[string]*job{},
	}
}

// ApplyConfig checks cfg and hands it to Run, which starts loops for new
// targets, stops (with stale markers) loops of targets that are gone, and
// sends changed settings to the loops of targets that stay; those keep their
// series cache and staleness state. It may be called before Run. Several calls
// before Run gets to them merge: only the last configuration is applied. On
// error nothing changes. It is Prepare followed by Apply.
func (m *Manager) ApplyConfig(cfg *config.Config) error {
	plan, err := m.Prepare(cfg)
	if err != nil {
		return err
	}
	m.Apply(plan)
	return nil
}

// Plan is a checked scrape configuration, ready for Apply: the first phase
// of a reload that must either apply everywhere or nowhere.
type Plan struct {
	jobs []*jobConfig
}

// Prepare checks cfg and builds its jobs without changing anything, so that
// a reload can check every part of a configuration before applying any.
// Apply the plan before preparing another one.
func (m *Manager) Prepare(cfg *config.Config) (*Plan, error) {
	if cfg == nil {
		return nil, fmt.Errorf("%w: nil config", ErrInvalidConfig)
	}
	m.mu.Lock()
	prev := m.applied
	m.mu.Unlock()
	byName := map[string]*jobConfig{}
	for _, j := range prev {
		byName[j.cfg.JobName] = j
	}

	jobs := make([]*jobConfig, 0, len(cfg.ScrapeConfigs))
	seen := map[string]bool{}
	for i, sc := range cfg.ScrapeConfigs {
		if sc == nil {
			return nil, fmt.Errorf("%w: scrape_configs[%d] is empty", ErrInvalidConfig, i)
		}
		if seen[sc.JobName] {
			return nil, fmt.Errorf("%w: duplicate job_name %q", ErrInvalidConfig, sc.JobName)
		}
		seen[sc.JobName] = true
		jc, err := m.prepareJob(sc, byName[sc.JobName])
		if err != nil {
			return nil, fmt.Errorf("job %q: %w", sc.JobName, err)
		}
		jobs = append(jobs, jc)
	}
	return &Plan{jobs: jobs}, nil
}

// Apply hands a prepared configuration to Run; it cannot fail.
func (m *Manager) Apply(plan *Plan) {
	m.mu.Lock()
	m.pending = plan.jobs
	m.applied = plan.jobs
	m.mu.Unlock()
	select {
	case m.reloadCh <- struct{}{}:
	default: // A reload is already pending; it will pick up this config.
	}
}

// jobConfig is the checked, immutable form of one scrape config.
type jobConfig struct {
	cfg             *config.ScrapeConfig // relabel configs validated copies
	client          *http.Client
	honorTimestamps bool
	accept          string // the Accept header of its scrapes
	// fingerprint identifies the whole scrape config; an unchanged job keeps
	// its jobConfig (and HTTP client) across reloads.
	fingerprint string
	// seriesFingerprint covers only what shapes a series' labels (honor_labels,
	// label_limit, metric_relabel_configs): when it changes, loops drop their
	// cached label sets.
	seriesFingerprint string
}

func (m *Manager) prepareJob(sc *config.ScrapeConfig, prev *jobConfig) (*jobConfig, error) {
	if sc.JobName == "" {
		return nil, fmt.Errorf("%w: empty job_name", ErrInvalidConfig)
	}
	if sc.ScrapeInterval <= 0 || sc.ScrapeTimeout <= 0 {
		return nil, fmt.Errorf("%w: scrape_interval and scrape_timeout must be positive", ErrInvalidConfig)
	}
	fp, err := yaml.Marshal(sc)
	if err != nil {
		return nil, fmt.Errorf("%w: fingerprint: %w", ErrInvalidConfig, err)
	}
	if prev != nil && prev.fingerprint == string(fp) {
		return prev, nil
	}
	c := *sc
	c.ScrapeLimits = withDefaultLimits(c.ScrapeLimits)
	if c.NativeHistogramBucketLimit <= 0 {
		c.NativeHistogramBucketLimit = config.DefaultNativeHistogramBucketLimit
	}
	if c.RelabelConfigs, err = checkRelabel(sc.RelabelConfigs); err != nil {
		return nil, fmt.Errorf("relabel_configs: %w", err)
	}
	if c.MetricRelabelConfigs, err = checkRelabel(sc.MetricRelabelConfigs); err != nil {
		return nil, fmt.Errorf("metric_relabel_configs: %w", err)
	}
	seriesFP, err := yaml.Marshal(struct {
		H         bool
		L, LN, LV int
		R         []*relabel.Config
		HS        config.HistogramSettings
	}{c.HonorLabels, c.LabelLimit, c.LabelNameLengthLimit, c.LabelValueLengthLimit, c.MetricRelabelConfigs, c.HistogramSettings})
	if err != nil {
		return nil, fmt.Errorf("%w: fingerprint: %w", ErrInvalidConfig, err)
	}
	client := m.client
	if m.opts.HTTPClient != nil {
		if client, err = m.opts.HTTPClient(&c); err != nil {
			return nil, fmt.Errorf("http client: %w", err)
		}
		if client == nil {
			return nil, fmt.Errorf("%w: HTTPClient returned nil", ErrInvalidConfig)
		}
	}
	return &jobConfig{
		cfg:               &c,
		client:            client,
		honorTimestamps:   sc.HonorTimestamps == nil || *sc.HonorTimestamps,
		accept:            m.acceptHeader(&c.HistogramSettings),
		fingerprint:       string(fp),
		seriesFingerprint: string(seriesFP),
	}, nil
}

// withDefaultLimits returns l with every unset (0) limit set to the
// default, as config does for a loaded file: a configuration built in code
// gets the same protection.
func withDefaultLimits(l config.ScrapeLimits) config.ScrapeLimits {
	d := config.DefaultScrapeLimits
	for _, f := range []struct{ v, d *int }{
		{&l.SampleLimit, &d.SampleLimit}, {&l.LabelLimit, &d.LabelLimit},
		{&l.LabelNameLengthLimit, &d.LabelNameLengthLimit}, {&l.LabelValueLengthLimit, &d.LabelValueLengthLimit},
		{&l.TargetLimit, &d.TargetLimit},
	} {
		if *f.v <= 0 {
			*f.v = *f.d
		}
	}
	if l.BodySizeLimit <= 0 {
		l.BodySizeLimit = d.BodySizeLimit
	}
	return l
}

// checkRelabel returns validated copies of rcs, so that relabel.Process can
// never panic on them (unknown action, unset name validation scheme).
func checkRelabel(rcs []*relabel.Config) ([]*relabel.Config, error) {
	if len(rcs) == 0 {
		return nil, nil
	}
	out := make([]*relabel.Config, len(rcs))
	for i, rc := range rcs {
		if rc == nil {
			return nil, fmt.Errorf("%w: rule %d is empty", ErrInvalidConfig, i)
		}
		c := *rc
		if c.Regex.Regexp == nil {
			c.Regex = relabel.DefaultRelabelConfig.Regex
		}
		switch c.Action {
		case relabel.Replace, relabel.Keep, relabel.Drop, relabel.KeepEqual, relabel.DropEqual,
			relabel.HashMod, relabel.LabelMap, relabel.LabelDrop, relabel.LabelKeep,
			relabel.Lowercase, relabel.Uppercase:
		default:
			return nil, fmt.Errorf("%w: rule %d: unknown action %q", ErrInvalidConfig, i, c.Action)
		}
		if err := c.Validate(model.UTF8Validation); err != nil {
			return nil, fmt.Errorf("%w: rule %d: %w", ErrInvalidConfig, i, err)
		}
		out[i] = &c
	}
	return out, nil
}

// Run applies configurations passed to ApplyConfig and polls file_sd files
// until ctx ends. Then it stops every loop, without writing stale markers (as
// Prometheus does on shutdown), waits for them and returns nil. Call it once.
func (m *Manager) Run(ctx context.Context) error {
	poll := time.NewTicker(filePollInterval)
	defer poll.Stop()
	for {
		select {
		case <-ctx.Done():
			m.stopAll()
			return nil
		case <-m.reloadCh:
			m.mu.Lock()
			jobs := m.pending
			m.pending = nil
			m.mu.Unlock()
			m.reload(ctx, jobs)
		case <-poll.C:
			m.pollFiles(ctx)
		}
	}
}

// Targets returns the status of every active target, sorted by job and URL.
// It is safe to call from any goroutine.
func (m *Manager) Targets() []TargetStatus {
	m.mu.Lock()
	loops := m.view
	m.mu.Unlock()
	out := make([]TargetStatus, 0, len(loops))
	for _, l := range loops {
		out = append(out, l.status())
	}
	slices.SortFunc(out, func(a, b TargetStatus) int {
		if c := strings.Compare(a.Job, b.Job); c != 0 {
			return c
		}
		return strings.Compare(a.ScrapeURL, b.ScrapeURL)
	})
	return out
}

// Metadata returns the metadata (TYPE, HELP, UNIT per metric family) of
// every active target's last successful scrape, sorted by job and URL. It
// is safe to call from any goroutine; the maps are shared and read-only.
func (m *Manager) Metadata() []TargetMetadata {
	m.mu.Lock()
	loops := m.view
	m.mu.Unlock()
	type item struct {
		url string
		md  TargetMetadata
	}
	items := make([]item, 0, len(loops))
	for _, l := range loops {
		items = append(items, item{l.status().ScrapeURL, l.metadata()})
	}
	slices.SortFunc(items, func(a, b item) int {
		if c := strings.Compare(a.md.Job, b.md.Job); c != 0 {
			return c
		}
		return strings.Compare(a.url, b.url)
	})
	out := make([]TargetMetadata, len(items))
	for i, it := range items {
		out[i] = it.md
	}
	return out
}

// DroppedTargets returns the targets relabel_configs dropped, one entry per
// running job (Count 0 when none), sorted by job. The Discovered slices are
// shared: do not modify them. It is safe to call from any goroutine.
func (m *Manager) DroppedTargets() []DroppedTargets {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.dropped)
}

// publishView refreshes the loop list Targets reads and the dropped targets
// DroppedTargets reads.
func (m *Manager) publishView() {
	var view []*loop
	dropped := make([]DroppedTargets, 0, len(m.jobs))
	for name, j := range m.jobs {
		for _, l := range j.loops {
			view = append(view, l)
		}
		dropped = append(dropped, DroppedTargets{Job: name, Count: j.dropped.count, Discovered: j.dropped.discovered})
	}
	slices.SortFunc(dropped, func(a, b DroppedTargets) int { return strings.Compare(a.Job, b.Job) })
	m.mu.Lock()
	m.view = view
	m.dropped = dropped
	m.mu.Unlock()
}
