package scrape

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/watchdog-sre/watchdog/config"
)

// ErrTargetDropped is returned by NewIngester when relabel_configs drop the
// target.
var ErrTargetDropped = errors.New("target dropped by relabeling")

// Ingester runs the part of a target's scrape loop that follows the HTTP
// fetch on bodies handed to it: parsing, the series cache, metric
// relabeling and limits, staleness, the synthetic series (up,
// scrape_duration_seconds, ...) and the commit, with the same code as the
// loop. Benchmarks and tests use it to measure and check ingestion without
// a server. An Ingester is used by one goroutine at a time.
type Ingester struct {
	sl *scrapeLoop
}

// NewIngester returns an Ingester for the target at addr of job cfg
// (relabel_configs applied as for a discovered target), writing through
// opts.Appender and counting in opts.Metrics as a Manager's loop would.
func NewIngester(cfg *config.ScrapeConfig, addr string, opts Options) (*Ingester, error) {
	m := NewManager(opts)
	jc, err := m.prepareJob(cfg, nil)
	if err != nil {
		return nil, fmt.Errorf("new ingester: %w", err)
	}
	tg, err := newTarget(labels.NewBuilder(labels.EmptyLabels()), jc.cfg, addr, nil)
	if err != nil {
		return nil, fmt.Errorf("new ingester: %w", err)
	}
	if tg == nil {
		return nil, fmt.Errorf("new ingester: %s: %w", addr, ErrTargetDropped)
	}
	return &Ingester{sl: newScrapeLoop(m.loopDeps(cfg.JobName), &loopSettings{target: tg, job: jc})}, nil
}

// Ingest handles body, served with the Content-Type contentType, as a
// successful scrape at ts and returns the number of samples in it. An error
// is the scrape's failure (a parse error, sample_limit, ...): as in the
// loop, the series of the last successful scrape then go stale and up is 0.
func (in *Ingester) Ingest(body []byte, contentType string, ts time.Time) (int, error) {
	return in.sl.ingest(context.Background(), body, contentType, nil, ts, time.Now(), 0)
}

// Metadata returns the metadata of the last successful Ingest.
func (in *Ingester) Metadata() map[string]Metadata {
	return in.sl.meta.published.get()
}
