package config

import (
	"net/url"
	"strings"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/relabel"
)

// Config is a whole configuration file after defaults have been applied.
type Config struct {
	Global        GlobalConfig    `yaml:"global"`
	ScrapeConfigs []*ScrapeConfig `yaml:"scrape_configs,omitempty"`
	RuleFiles     []string        `yaml:"rule_files,omitempty"`
	Storage       StorageConfig   `yaml:"storage"`
	Alerting      AlertingConfig  `yaml:"alerting,omitempty"`
	// Pager is the paging section, decoded by package pager (see PagerSection).
	Pager PagerSection `yaml:"pager,omitempty"`
	// StatusPage lists the components of the public status page.
	StatusPage StatusPage `yaml:"status_page,omitempty"`
	// Heartbeat is the dead man's switch (nil: none).
	Heartbeat *HeartbeatConfig `yaml:"heartbeat,omitempty"`
	// Heartbeats are the check-ins jobs must make (see CheckinConfig):
	// the incoming direction, unlike Heartbeat.
	Heartbeats []*CheckinConfig `yaml:"heartbeats,omitempty"`
	// RemoteWrite lists where the stored samples are sent (Remote-Write).
	RemoteWrite []*RemoteWriteConfig `yaml:"remote_write,omitempty"`
	// Datasource, when set, makes rules evaluate against a remote
	// Prometheus query API (see DatasourceConfig).
	Datasource *DatasourceConfig `yaml:"datasource,omitempty"`
	// ProbeModules are named probe modules, in blackbox_exporter's schema.
	ProbeModules map[string]*ProbeModule `yaml:"probe_modules,omitempty"`
	// Probes are the probes the watchdog runs (see ProbeConfig).
	Probes []*ProbeConfig `yaml:"probes,omitempty"`

	// Path is the file the configuration was read from ("" for an embedded one).
	// Load makes the relative paths inside the file (rule_files, file_sd_configs,
	// *_file, storage.snapshot_path) absolute against its directory; Parse
	// leaves them as written.
	Path string `yaml:"-"`
}

// GlobalConfig holds the defaults every scrape config and rule group inherits.
type GlobalConfig struct {
	ScrapeInterval     model.Duration    `yaml:"scrape_interval"`
	ScrapeTimeout      model.Duration    `yaml:"scrape_timeout"`
	EvaluationInterval model.Duration    `yaml:"evaluation_interval"`
	ExternalLabels     map[string]string `yaml:"external_labels,omitempty"`
	// MetricNameValidationScheme is how label names in this file (external
	// labels, static config labels, relabel target labels) are checked:
	// model.UTF8Validation (default, as Prometheus 3) or model.LegacyValidation
	// ("legacy" in YAML: [a-zA-Z_][a-zA-Z0-9_]*). It is also set on every
	// relabel config.
	MetricNameValidationScheme model.ValidationScheme `yaml:"metric_name_validation_scheme,omitempty"`
	// ScrapeLimits are the limits every scrape config inherits where it sets
	// none; where this sets none either, the Default… limits apply.
	ScrapeLimits `yaml:",inline"`
	// HistogramSettings are the defaults of the jobs' scrape_protocols,
	// scrape_native_histograms, always_scrape_classic_histograms and
	// convert_classic_histograms_to_nhcb.
	HistogramSettings `yaml:",inline"`
}

// ScrapeLimits bound what one scrape, or one job, may bring in. 0 (or
// omitted) means the global value, then the Default… value: a limit can be
// raised but not removed. See the README, "Limits and safety".
type ScrapeLimits struct {
	// SampleLimit is the most samples a scrape may have after metric
	// relabeling; a scrape with more fails whole (up = 0).
	SampleLimit int `yaml:"sample_limit,omitempty"`
	// BodySizeLimit is the largest (uncompressed) body a scrape may return;
	// a larger one fails the scrape.
	BodySizeLimit ByteSize `yaml:"body_size_limit,omitempty"`
	// LabelLimit is the most labels a series may have, after the target's
	// labels are added and metric relabeling; more fails the scrape.
	LabelLimit int `yaml:"label_limit,omitempty"`
	// LabelNameLengthLimit is the longest label name, in bytes, a series may
	// have; a longer one fails the scrape.
	LabelNameLengthLimit int `yaml:"label_name_length_limit,omitempty"`
	// LabelValueLengthLimit is the longest label value, in bytes, a series
	// may have; a longer one fails the scrape.
	LabelValueLengthLimit int `yaml:"label_value_length_limit,omitempty"`
	// TargetLimit is the most targets a job may have after relabeling; with
	// more, every target of the job fails without being scraped.
	TargetLimit int `yaml:"target_limit,omitempty"`
}

// ScrapeConfig is one scrape job. After Parse or Load, ScrapeInterval and
// ScrapeTimeout are set (inherited from Global when omitted, the timeout
// capped at the interval), MetricsPath, Scheme and HonorTimestamps have their
// defaults, relabel configs are validated with NameValidationScheme set, and
// (by Load only) the *_file secrets have been checked to be readable.
type ScrapeConfig struct {
	JobName              string            `yaml:"job_name"`
	ScrapeInterval       model.Duration    `yaml:"scrape_interval"`
	ScrapeTimeout        model.Duration    `yaml:"scrape_timeout"`
	MetricsPath          string            `yaml:"metrics_path"`
	Scheme               string            `yaml:"scheme"`
	Params               url.Values        `yaml:"params,omitempty"`
	HonorLabels          bool              `yaml:"honor_labels,omitempty"`
	HonorTimestamps      *bool             `yaml:"honor_timestamps"` // omitted means true, as in Prometheus; never nil after loading
	StaticConfigs        []StaticConfig    `yaml:"static_configs,omitempty"`
	FileSDConfigs        []FileSDConfig    `yaml:"file_sd_configs,omitempty"`
	RelabelConfigs       []*relabel.Config `yaml:"relabel_configs,omitempty"`
	MetricRelabelConfigs []*relabel.Config `yaml:"metric_relabel_configs,omitempty"`
	ScrapeLimits         `yaml:",inline"`  // after loading, every limit is set (inherited or default)
	KeepDroppedTargets   int               `yaml:"keep_dropped_targets,omitempty"` // dropped targets listed per job (0: all); the count stays exact
	Authorization        *Authorization    `yaml:"authorization,omitempty"`
	BasicAuth            *BasicAuth        `yaml:"basic_auth,omitempty"`
	BearerTokenFile      string            `yaml:"bearer_token_file,omitempty"`
	// HistogramSettings are the exposition formats asked for and how
	// histograms are ingested (see HistogramSettings).
	HistogramSettings `yaml:",inline"`
}

// StaticConfig is a fixed list of targets sharing a label set. It is also the
// shape of one entry of a file_sd file.
type StaticConfig struct {
	Targets []string          `yaml:"targets,omitempty" json:"targets"`
	Labels  map[string]string `yaml:"labels,omitempty" json:"labels,omitempty"`
}

// FileSDConfig names JSON or YAML files of []StaticConfig, re-read when they
// change and at least every RefreshInterval (default 5m).
type FileSDConfig struct {
	Files           []string       `yaml:"files"`
	RefreshInterval model.Duration `yaml:"refresh_interval"`
}

// Authorization sends "Authorization: <Type> <contents of CredentialsFile>".
// Type defaults to Bearer. Inline credentials are refused: secrets come from files.
type Authorization struct {
	Type            string `yaml:"type"`
	CredentialsFile string `yaml:"credentials_file"`
}

// BasicAuth sends HTTP basic auth with the password read from PasswordFile.
type BasicAuth struct {
	Username     string `yaml:"username"`
	PasswordFile string `yaml:"password_file,omitempty"`
}

// StorageConfig configures the in-memory TSDB.
type StorageConfig struct {
	// Retention is how much history each series keeps (default 2h).
	Retention model.Duration `yaml:"retention"`
	// SnapshotPath is the file the store is snapshotted to and loaded from
	// ("" disables snapshots).
	SnapshotPath string `yaml:"snapshot_path,omitempty"`
	// ChunksDir, if set, is a directory where the store keeps sealed
	// chunks' bytes in memory-mapped scratch files instead of memory, so
	// that the kernel may page them out ("" keeps them in memory). Linux
	// only; applies at start.
	ChunksDir string `yaml:"chunks_dir,omitempty"`
	// SnapshotInterval is how often a snapshot is written (default 5m).
	SnapshotInterval model.Duration `yaml:"snapshot_interval"`
	// MaxSeries is the most series the store holds (default 2,000,000); a
	// sample of a new series beyond it is refused and counted.
	MaxSeries int `yaml:"max_series"`
	// TooFarInFutureTimeWindow is how far ahead of the clock a sample's
	// timestamp may be (default 5m); later samples are refused and counted.
	TooFarInFutureTimeWindow model.Duration `yaml:"too_far_in_future_time_window"`
	// PagerDB is the file the pager keeps incidents, timelines and silences
	// in ("" keeps them in memory only), or the postgres:// (postgresql://)
	// URL of a PostgreSQL database. At most one of PagerDB, PagerDBFile and
	// PagerDBEnv is set; see StorageConfig.PagerDBTarget.
	PagerDB string `yaml:"pager_db,omitempty"`
	// PagerDBFile is a file holding the PostgreSQL URL, so that its
	// password need not be in the configuration.
	PagerDBFile string `yaml:"pager_db_file,omitempty"`
	// PagerDBEnv names an environment variable holding the PostgreSQL URL.
	PagerDBEnv string `yaml:"pager_db_env,omitempty"`
	// PagerReplica names this process among the replicas sharing a
	// PostgreSQL pager database (default: the host name and the web
	// listen port). Names must differ between replicas.
	PagerReplica string `yaml:"pager_replica,omitempty"`
	// PagerLease is how long the escalating replica's lease on a
	// PostgreSQL pager database lasts without renewal (default 6s): a
	// replica that dies is replaced within about PagerLease + PagerLease/3.
	PagerLease model.Duration `yaml:"pager_lease,omitempty"`
	// Exemplars configures the in-memory exemplar storage.
	Exemplars ExemplarsConfig `yaml:"exemplars"`
}

// ExemplarsConfig configures the exemplar storage, as Prometheus's
// storage.exemplars section.
type ExemplarsConfig struct {
	// MaxExemplars is how many exemplars are kept, all series together
	// (a circular buffer; default DefaultMaxExemplars, 0 disables, at most
	// MaxMaxExemplars). nil before loading means the default.
	MaxExemplars *int `yaml:"max_exemplars"`
}

// ByteSize is a size in bytes written as "512", "10KB", "64MiB", "1GB" in YAML
// (units are powers of 1024, as Prometheus's units.Base2Bytes). 0 means no limit.
type ByteSize int64

// AlertingConfig says where fired and resolved alerts are sent besides the
// console.
type AlertingConfig struct {
	Alertmanagers []*AlertmanagerConfig `yaml:"alertmanagers,omitempty"`
}

// AlertmanagerConfig is a set of Alertmanagers that receive every alert through
// the Alertmanager API v2 (POST <scheme>://<target><path_prefix>/api/v2/alerts).
type AlertmanagerConfig struct {
	StaticConfigs []StaticConfig `yaml:"static_configs"`
	Scheme        string         `yaml:"scheme,omitempty"`      // http (default) or https
	PathPrefix    string         `yaml:"path_prefix,omitempty"` // e.g. /alertmanager
	Timeout       model.Duration `yaml:"timeout,omitempty"`     // per request, default 10s
	APIVersion    string         `yaml:"api_version,omitempty"` // only v2
	// Authorization is sent with every request ("Authorization: <type>
	// <credentials>"), e.g. the API token of another watchdog whose pager
	// receives these alerts. The file is read at each send.
	Authorization *Authorization `yaml:"authorization,omitempty"`
}

// URLs returns the base URL of every Alertmanager of the set.
func (a *AlertmanagerConfig) URLs() []string {
	var out []string
	for _, sc := range a.StaticConfigs {
		for _, t := range sc.Targets {
			out = append(out, a.Scheme+"://"+t+strings.TrimSuffix(a.PathPrefix, "/"))
		}
	}
	return out
}
