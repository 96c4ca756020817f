package config

import (
	"fmt"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/relabel"
)

// Defaults, as in Prometheus where Prometheus has the setting.
const (
	DefaultScrapeInterval     = model.Duration(time.Minute)
	DefaultScrapeTimeout      = model.Duration(10 * time.Second)
	DefaultEvaluationInterval = model.Duration(time.Minute)
	DefaultMetricsPath        = "/metrics"
	DefaultScheme             = "http"
	DefaultAuthorizationType  = "Bearer"
	DefaultRefreshInterval    = model.Duration(5 * time.Minute)
	DefaultRetention          = model.Duration(2 * time.Hour)
	DefaultSnapshotInterval   = model.Duration(5 * time.Minute)
)

// Default limits, where Prometheus has none: a hostile or broken target, or
// file_sd file, must not be able to exhaust the process. Each can be raised
// in the global section or per job.
const (
	// DefaultSampleLimit bounds one scrape: ten times a large node_exporter.
	DefaultSampleLimit = 200_000
	// DefaultBodySizeLimit is 64MiB, room for DefaultSampleLimit samples of
	// over 300 bytes each.
	DefaultBodySizeLimit = ByteSize(64 << 20)
	// DefaultLabelLimit is the most labels per series.
	DefaultLabelLimit = 64
	// DefaultLabelNameLengthLimit is the longest label name, in bytes.
	DefaultLabelNameLengthLimit = 256
	// DefaultLabelValueLengthLimit is the longest label value, in bytes.
	DefaultLabelValueLengthLimit = 4096
	// DefaultTargetLimit is the most targets per job.
	DefaultTargetLimit = 10_000
	// DefaultMaxSeries is the store's series limit (tsdb.DefaultMaxSeries).
	DefaultMaxSeries = 2_000_000
	// DefaultTooFarInFutureTimeWindow is how far ahead of the clock a sample
	// may be (tsdb.DefaultFutureWindow).
	DefaultTooFarInFutureTimeWindow = model.Duration(5 * time.Minute)
)

// DefaultScrapeLimits are the limits that apply where the configuration
// sets none.
var DefaultScrapeLimits = ScrapeLimits{
	SampleLimit:           DefaultSampleLimit,
	BodySizeLimit:         DefaultBodySizeLimit,
	LabelLimit:            DefaultLabelLimit,
	LabelNameLengthLimit:  DefaultLabelNameLengthLimit,
	LabelValueLengthLimit: DefaultLabelValueLengthLimit,
	TargetLimit:           DefaultTargetLimit,
}

// validate reports negative limits at path and sets each unset (0) limit
// to the one of inherit.
func (l *ScrapeLimits) validate(r *report, path string, inherit ScrapeLimits) {
	ints := []struct {
		key      string
		v        *int
		fallback int
	}{
		{"sample_limit", &l.SampleLimit, inherit.SampleLimit},
		{"label_limit", &l.LabelLimit, inherit.LabelLimit},
		{"label_name_length_limit", &l.LabelNameLengthLimit, inherit.LabelNameLengthLimit},
		{"label_value_length_limit", &l.LabelValueLengthLimit, inherit.LabelValueLengthLimit},
		{"target_limit", &l.TargetLimit, inherit.TargetLimit},
	}
	for _, f := range ints {
		switch {
		case *f.v < 0:
			r.errorf(joinPath(path, f.key), "%d is negative", *f.v)
		case *f.v == 0:
			*f.v = f.fallback
		}
	}
	switch {
	case l.BodySizeLimit < 0:
		r.errorf(joinPath(path, "body_size_limit"), "%d is negative", l.BodySizeLimit)
	case l.BodySizeLimit == 0:
		l.BodySizeLimit = inherit.BodySizeLimit
	}
}

// Every section has a validate method that fills in its defaults and reports
// its problems at path. A new section is a field in Config and a call in
// Config.validate.

func (c *Config) validate(r *report) {
	c.Global.validate(r, "global")
	jobs := map[string]string{}
	for i, sc := range c.ScrapeConfigs {
		path := fmt.Sprintf("scrape_configs[%d]", i)
		if sc == nil {
			continue // reported by the decoder as an empty entry
		}
		sc.validate(r, path, &c.Global)
		if sc.JobName == "" {
			continue
		}
		if first, dup := jobs[sc.JobName]; dup {
			r.errorf(path+".job_name", "duplicate job_name %q (first in %s, line %d)", sc.JobName, first, r.lineOf(first))
			continue
		}
		jobs[sc.JobName] = path
	}
	for i, f := range c.RuleFiles {
		validateGlob(r, fmt.Sprintf("rule_files[%d]", i), f)
	}
	c.Storage.validate(r, "storage")
	c.Alerting.validate(r, "alerting")
	c.StatusPage.validate(r, "status_page")
	c.Heartbeat.validate(r, "heartbeat")
	validateCheckins(r, "heartbeats", c.Heartbeats, c.Global.MetricNameValidationScheme)
	validateRemoteWrite(r, "remote_write", c.RemoteWrite, c.Global.MetricNameValidationScheme)
	c.Datasource.validate(r, "datasource")
	c.validateProbes(r)
}

// DefaultAlertmanagerTimeout is the per-request timeout of an Alertmanager set.
const DefaultAlertmanagerTimeout = model.Duration(10 * time.Second)

func (a *AlertingConfig) validate(r *report, path string) {
	for i, am := range a.Alertmanagers {
		p := fmt.Sprintf("%s.alertmanagers[%d]", path, i)
		if am == nil {
			continue
		}
		switch am.Scheme {
		case "":
			am.Scheme = DefaultScheme
		case "http", "https":
		default:
			r.errorf(p+".scheme", "%q is not http or https", am.Scheme)
		}
		switch am.APIVersion {
		case "":
			am.APIVersion = "v2"
		case "v2":
		default:
			r.errorf(p+".api_version", "only api_version v2 is supported, not %q", am.APIVersion)
		}
		if am.PathPrefix != "" && !strings.HasPrefix(am.PathPrefix, "/") {
			r.errorf(p+".path_prefix", "path_prefix must start with /, got %q", am.PathPrefix)
		}
		if am.Timeout == 0 {
			am.Timeout = DefaultAlertmanagerTimeout
		} else if am.Timeout < 0 {
			r.errorf(p+".timeout", "timeout must be positive")
		}
		if len(am.StaticConfigs) == 0 {
			r.errorf(p, "an alertmanager set needs static_configs with at least one target")
		}
		if a := am.Authorization; a != nil {
			a.validate(r, p+".authorization")
		}
		for j, sc := range am.StaticConfigs {
			for k, t := range sc.Targets {
				tp := fmt.Sprintf("%s.static_configs[%d].targets[%d]", p, j, k)
				if _, _, err := net.SplitHostPort(t); err != nil || strings.Contains(t, "/") {
					r.errorf(tp, "%q must be host:port, without a scheme or path (use scheme and path_prefix)", t)
				}
			}
		}
	}
}

func (g *GlobalConfig) validate(r *report, path string) {
	if g.MetricNameValidationScheme == model.UnsetValidation {
		g.MetricNameValidationScheme = model.UTF8Validation
	}
	if g.ScrapeInterval == 0 {
		g.ScrapeInterval = DefaultScrapeInterval
	}
	if g.ScrapeTimeout > g.ScrapeInterval {
		r.errorf(path+".scrape_timeout", "%q is greater than scrape_interval %q", g.ScrapeTimeout, g.ScrapeInterval)
	}
	if g.ScrapeTimeout == 0 {
		g.ScrapeTimeout = min(DefaultScrapeTimeout, g.ScrapeInterval)
	}
	if g.EvaluationInterval == 0 {
		g.EvaluationInterval = DefaultEvaluationInterval
	}
	g.ScrapeLimits.validate(r, path, DefaultScrapeLimits)
	g.HistogramSettings.validateGlobal(r, path)
	validateLabels(r, path+".external_labels", g.ExternalLabels, g.MetricNameValidationScheme)
}

func (sc *ScrapeConfig) validate(r *report, path string, g *GlobalConfig) {
	scheme := g.MetricNameValidationScheme
	if sc.JobName == "" {
		r.errorf(path, "job_name is required")
	}
	if sc.ScrapeInterval == 0 {
		sc.ScrapeInterval = g.ScrapeInterval
	}
	if sc.ScrapeTimeout > sc.ScrapeInterval {
		r.errorf(path+".scrape_timeout", "%q is greater than scrape_interval %q", sc.ScrapeTimeout, sc.ScrapeInterval)
	}
	if sc.ScrapeTimeout == 0 {
		sc.ScrapeTimeout = min(g.ScrapeTimeout, sc.ScrapeInterval)
	}
	if sc.MetricsPath == "" {
		sc.MetricsPath = DefaultMetricsPath
	} else if !strings.HasPrefix(sc.MetricsPath, "/") {
		r.errorf(path+".metrics_path", "%q must start with /", sc.MetricsPath)
	}
	switch sc.Scheme {
	case "":
		sc.Scheme = DefaultScheme
	case "http", "https":
	default:
		r.errorf(path+".scheme", "%q is not http or https", sc.Scheme)
	}
	if sc.HonorTimestamps == nil {
		t := true
		sc.HonorTimestamps = &t
	}
	sc.ScrapeLimits.validate(r, path, g.ScrapeLimits)
	sc.HistogramSettings.validateJob(r, path, &g.HistogramSettings)
	if sc.KeepDroppedTargets < 0 {
		r.errorf(path+".keep_dropped_targets", "%d is negative", sc.KeepDroppedTargets)
	}
	sc.validateAuth(r, path)
	// As Prometheus, check the form of targets only when no relabeling
	// could rewrite __address__ (e.g. blackbox probes list URLs).
	strict := len(sc.RelabelConfigs) == 0
	for i := range sc.StaticConfigs {
		sc.StaticConfigs[i].validate(r, fmt.Sprintf("%s.static_configs[%d]", path, i), scheme, strict)
	}
	for i := range sc.FileSDConfigs {
		sc.FileSDConfigs[i].validate(r, fmt.Sprintf("%s.file_sd_configs[%d]", path, i))
	}
	validateRelabel(r, path+".relabel_configs", sc.RelabelConfigs, scheme)
	validateRelabel(r, path+".metric_relabel_configs", sc.MetricRelabelConfigs, scheme)
}

// validate defaults the type to Bearer and checks the section at path.
func (a *Authorization) validate(r *report, path string) {
	if a.Type == "" {
		a.Type = DefaultAuthorizationType
	}
	if strings.EqualFold(a.Type, "basic") {
		r.errorf(path+".type", "use basic_auth for basic authentication")
	} else if strings.ContainsAny(a.Type, " \t\r\n") {
		r.errorf(path+".type", "%q must be a single word", a.Type)
	}
	if a.CredentialsFile == "" {
		r.errorf(path, "credentials_file is required")
	}
}

func (sc *ScrapeConfig) validateAuth(r *report, path string) {
	var set []string
	if sc.Authorization != nil {
		set = append(set, "authorization")
		sc.Authorization.validate(r, path+".authorization")
	}
	if sc.BasicAuth != nil {
		set = append(set, "basic_auth")
		if sc.BasicAuth.Username == "" {
			r.errorf(path+".basic_auth", "username is required")
		}
	}
	if sc.BearerTokenFile != "" {
		set = append(set, "bearer_token_file")
	}
	if len(set) > 1 {
		r.errorf(path, "only one of authorization, basic_auth and bearer_token_file may be set, got %s", strings.Join(set, " and "))
	}
}

func (s *StaticConfig) validate(r *report, path string, scheme model.ValidationScheme, strict bool) {
	for i, t := range s.Targets {
		tp := fmt.Sprintf("%s.targets[%d]", path, i)
		if strict {
			if err := checkTarget(t); err != nil {
				r.errorf(tp, "%s", err)
			}
		} else if t == "" {
			r.errorf(tp, "empty target")
		}
	}
	validateLabels(r, path+".labels", s.Labels, scheme)
}

// checkTarget accepts host:port, refusing schemes, paths and missing ports.
func checkTarget(t string) error {
	if strings.Contains(t, "://") {
		return fmt.Errorf("%q must be host:port, without a scheme (set scheme on the job)", t)
	}
	if strings.ContainsAny(t, "/?#") {
		return fmt.Errorf("%q must be host:port, without a path (set metrics_path on the job)", t)
	}
	host, port, err := net.SplitHostPort(t)
	if err != nil {
		return fmt.Errorf("%q must be host:port", t)
	}
	if host == "" || strings.ContainsAny(host, " \t\r\n@") || !utf8.ValidString(host) {
		return fmt.Errorf("%q has an invalid host", t)
	}
	if p, err := strconv.ParseUint(port, 10, 16); err != nil || p == 0 {
		return fmt.Errorf("%q has an invalid port", t)
	}
	return nil
}

func validateLabels(r *report, path string, ls map[string]string, scheme model.ValidationScheme) {
	for name, value := range ls {
		lp := joinPath(path, name)
		if !scheme.IsValidLabelName(name) {
			r.errorf(lp, "%q is not a valid label name", name)
		}
		if !utf8.ValidString(value) {
			r.errorf(lp, "%q is not a valid label value (not UTF-8)", value)
		}
	}
}

func validateRelabel(r *report, path string, cfgs []*relabel.Config, scheme model.ValidationScheme) {
	for i, rc := range cfgs {
		if rc == nil {
			continue // reported by the decoder as an empty entry
		}
		if err := rc.Validate(scheme); err != nil {
			r.errorf(fmt.Sprintf("%s[%d]", path, i), "%s", err)
		}
	}
}

func (f *FileSDConfig) validate(r *report, path string) {
	if f.RefreshInterval == 0 {
		f.RefreshInterval = DefaultRefreshInterval
	}
	if len(f.Files) == 0 {
		r.errorf(path, "files is required")
	}
	for i, name := range f.Files {
		fp := fmt.Sprintf("%s.files[%d]", path, i)
		switch filepath.Ext(name) {
		case ".json", ".yml", ".yaml":
		default:
			r.errorf(fp, "%q must end in .json, .yml or .yaml", name)
			continue
		}
		validateGlob(r, fp, name)
	}
}

func (s *StorageConfig) validate(r *report, path string) {
	if s.Retention == 0 {
		s.Retention = DefaultRetention
	}
	if s.SnapshotInterval == 0 {
		s.SnapshotInterval = DefaultSnapshotInterval
	}
	s.Exemplars.validate(r, path+".exemplars")
	switch {
	case s.MaxSeries < 0:
		r.errorf(path+".max_series", "%d is negative", s.MaxSeries)
	case s.MaxSeries == 0:
		s.MaxSeries = DefaultMaxSeries
	}
	switch {
	case s.TooFarInFutureTimeWindow < 0:
		r.errorf(path+".too_far_in_future_time_window", "%q is negative", s.TooFarInFutureTimeWindow)
	case s.TooFarInFutureTimeWindow == 0:
		s.TooFarInFutureTimeWindow = DefaultTooFarInFutureTimeWindow
	}
	s.validatePagerDB(r, path)
}

func validateGlob(r *report, path, pattern string) {
	if pattern == "" {
		r.errorf(path, "empty file name")
		return
	}
	if _, err := filepath.Match(pattern, ""); err != nil {
		r.errorf(path, "%q is not a valid file pattern: %s", pattern, err)
	}
}
