package scrape

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/cespare/xxhash/v2"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/relabel"

	"github.com/watchdog-sre/watchdog/config"
)

// target is one scrape target after relabeling. It is immutable.
type target struct {
	discovered labels.Labels // before relabel_configs
	labels     labels.Labels // after relabel_configs, with "__" labels but no "__meta_"
	public     labels.Labels // labels without "__" prefix: attached to every series
	url        string
	interval   time.Duration
	timeout    time.Duration
	// hash identifies the target within its job: its public labels and URL.
	// It also seeds the scrape offset.
	hash uint64
}

// equal reports whether t and o would scrape the same way.
func (t *target) equal(o *target) bool {
	return t.url == o.url && t.interval == o.interval && t.timeout == o.timeout &&
		labels.Equal(t.labels, o.labels) && labels.Equal(t.discovered, o.discovered)
}

// droppedTargets is what relabel_configs dropped of one job's targets.
type droppedTargets struct {
	// count is exact, however many discovered are kept.
	count int
	// discovered holds the discovered labels of the first keep_dropped_targets
	// dropped targets (all of them when it is 0), in discovery order.
	discovered []labels.Labels
}

// buildTargets turns groups into targets for jc, returning the targets
// relabeling dropped apart and one error per invalid target. Targets with the
// same hash are deduplicated, the first one wins; dropped targets are not
// deduplicated, as in Prometheus.
func buildTargets(jc *jobConfig, groups []config.StaticConfig) ([]*target, droppedTargets, []error) {
	out, _, dropped, errs := buildTargetsUpTo(jc, groups, -1)
	return out, dropped, errs
}

// buildTargetsUpTo is buildTargets keeping only the first keep targets
// (all if keep < 0); total counts them all. A file_sd file with a hundred
// thousand targets then costs a count, not a hundred thousand targets.
func buildTargetsUpTo(jc *jobConfig, groups []config.StaticConfig, keep int) (out []*target, total int, dropped droppedTargets, errs []error) {
	var (
		seen        = map[uint64]bool{}
		lb          = labels.NewBuilder(labels.EmptyLabels())
		keepDropped = jc.cfg.KeepDroppedTargets
	)
	for gi, g := range groups {
		for _, addr := range g.Targets {
			discoverLabels(lb, jc.cfg, addr, g.Labels)
			discovered := lb.Labels()
			t, err := relabelTarget(lb, jc.cfg, discovered)
			if err != nil {
				errs = append(errs, fmt.Errorf("group %d target %q: %w", gi, addr, err))
				continue
			}
			if t == nil {
				if keepDropped <= 0 || len(dropped.discovered) < keepDropped {
					dropped.discovered = append(dropped.discovered, discovered)
				}
				dropped.count++
				continue
			}
			if seen[t.hash] {
				continue
			}
			seen[t.hash] = true
			total++
			if keep < 0 || len(out) < keep {
				out = append(out, t)
			}
		}
	}
	return out, total, dropped, errs
}

// newTarget builds one target as Prometheus does: discoverLabels, then
// relabelTarget. It returns nil, nil for a target dropped by relabeling.
func newTarget(lb *labels.Builder, cfg *config.ScrapeConfig, addr string, groupLabels map[string]string) (*target, error) {
	discoverLabels(lb, cfg, addr, groupLabels)
	return relabelTarget(lb, cfg, lb.Labels())
}

// discoverLabels sets lb to the labels of a target before relabeling, as
// Prometheus builds them: the address, the group's labels, then job,
// __scrape_interval__, __scrape_timeout__, __metrics_path__, __scheme__ and
// __param_<name> where not already set.
func discoverLabels(lb *labels.Builder, cfg *config.ScrapeConfig, addr string, groupLabels map[string]string) {
	lb.Reset(labels.EmptyLabels())
	lb.Set(model.AddressLabel, addr)
	for n, v := range groupLabels {
		if n != model.AddressLabel && v != "" {
			lb.Set(n, v)
		}
	}
	for _, l := range [...]labels.Label{
		{Name: model.JobLabel, Value: cfg.JobName},
		{Name: model.ScrapeIntervalLabel, Value: cfg.ScrapeInterval.String()},
		{Name: model.ScrapeTimeoutLabel, Value: cfg.ScrapeTimeout.String()},
		{Name: model.MetricsPathLabel, Value: cfg.MetricsPath},
		{Name: model.SchemeLabel, Value: cfg.Scheme},
	} {
		if lb.Get(l.Name) == "" {
			lb.Set(l.Name, l.Value)
		}
	}
	for k, v := range cfg.Params {
		if name := model.ParamLabelPrefix + k; len(v) > 0 && lb.Get(name) == "" {
			lb.Set(name, v[0])
		}
	}
}

// relabelTarget runs relabel_configs on lb, which holds discovered, then
// checks the result and completes it (instance defaults to __address__). It
// returns nil, nil for a target dropped by relabeling.
func relabelTarget(lb *labels.Builder, cfg *config.ScrapeConfig, discovered labels.Labels) (*target, error) {
	if !relabel.ProcessBuilder(lb, cfg.RelabelConfigs...) {
		return nil, nil
	}
	addr := lb.Get(model.AddressLabel)
	if addr == "" {
		return nil, errors.New("no address")
	}
	if strings.Contains(addr, "/") {
		return nil, fmt.Errorf("%q is not a valid hostname", addr)
	}
	interval, err := durationLabel(lb, model.ScrapeIntervalLabel)
	if err != nil {
		return nil, fmt.Errorf("scrape interval: %w", err)
	}
	timeout, err := durationLabel(lb, model.ScrapeTimeoutLabel)
	if err != nil {
		return nil, fmt.Errorf("scrape timeout: %w", err)
	}
	if timeout > interval {
		return nil, fmt.Errorf("scrape timeout cannot be greater than scrape interval (%s > %s)", timeout, interval)
	}
	lb.Range(func(l labels.Label) {
		if strings.HasPrefix(l.Name, model.MetaLabelPrefix) {
			lb.Del(l.Name)
		}
	})
	if lb.Get(model.InstanceLabel) == "" {
		lb.Set(model.InstanceLabel, addr)
	}
	lset := lb.Labels()
	if err := lset.Validate(func(l labels.Label) error {
		if !utf8.ValidString(l.Value) {
			return fmt.Errorf("invalid label value for %q: %q", l.Name, l.Value)
		}
		return nil
	}); err != nil {
		return nil, err
	}

	lb.Range(func(l labels.Label) {
		if strings.HasPrefix(l.Name, model.ReservedLabelPrefix) {
			lb.Del(l.Name)
		}
	})
	t := &target{
		discovered: discovered,
		labels:     lset,
		public:     lb.Labels(),
		url:        targetURL(cfg, lset),
		interval:   interval,
		timeout:    timeout,
	}
	h := xxhash.New()
	_, _ = h.WriteString(t.public.String())
	_, _ = h.WriteString("\xff")
	_, _ = h.WriteString(t.url)
	t.hash = h.Sum64()
	return t, nil
}

func durationLabel(lb *labels.Builder, name string) (time.Duration, error) {
	d, err := model.ParseDuration(lb.Get(name))
	if err != nil {
		return 0, err
	}
	if d <= 0 {
		return 0, errors.New("must be positive")
	}
	return time.Duration(d), nil
}

// targetURL is scheme://address/metrics_path?params, where __param_<name>
// labels override the first value of the job's params.
func targetURL(cfg *config.ScrapeConfig, lset labels.Labels) string {
	params := url.Values{}
	for k, v := range cfg.Params {
		params[k] = append([]string(nil), v...)
	}
	lset.Range(func(l labels.Label) {
		k, ok := strings.CutPrefix(l.Name, model.ParamLabelPrefix)
		if !ok {
			return
		}
		if len(params[k]) > 0 {
			params[k][0] = l.Value
		} else {
			params[k] = []string{l.Value}
		}
	})
	u := url.URL{
		Scheme:   lset.Get(model.SchemeLabel),
		Host:     lset.Get(model.AddressLabel),
		Path:     lset.Get(model.MetricsPathLabel),
		RawQuery: params.Encode(),
	}
	return u.String()
}

// scrapeOffset is how long to wait from now before the first scrape, as
// Prometheus's Target.offset: scrapes of a target happen at a fixed phase
// within the interval, pinned to absolute time and derived from its hash, so
// targets spread over the interval and keep their phase across restarts.
func scrapeOffset(hash uint64, interval time.Duration, now time.Time) time.Duration {
	if interval <= 0 {
		return 0
	}
	iv := int64(interval)
	base := iv - now.UnixNano()%iv
	next := base + int64(hash%uint64(iv))
	if next > iv {
		next -= iv
	}
	return time.Duration(next)
}
