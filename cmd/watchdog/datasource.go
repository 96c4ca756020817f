package main

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/storage"

	"github.com/watchdog-sre/watchdog/config"
	"github.com/watchdog-sre/watchdog/internal/secret"
	"github.com/watchdog-sre/watchdog/remote"
	"github.com/watchdog-sre/watchdog/rules"
)

var (
	// errDatasourceRestart refuses a reload that changes the datasource
	// section (it is read at start).
	errDatasourceRestart = errors.New("changing the datasource section needs a restart")
	// errNativeOnDatasource refuses native rules while rules evaluate on a
	// datasource, which answers PromQL only.
	errNativeOnDatasource = errors.New("native (series + when) rules cannot be evaluated on the datasource, " +
		"which answers PromQL only: write them as expr rules, or remove the datasource section")
)

// newDatasource returns the datasource of the section, nil when there is
// none. Secrets are read from their files at every query, so a rotated
// credential is picked up; the external labels are dropped from the
// ALERTS_FOR_STATE series alert state is restored from (the remote_write
// sender added them).
func newDatasource(cfg *config.DatasourceConfig, ext labels.Labels, set *metrics.Set, log *slog.Logger) (*remote.Datasource, error) {
	if cfg == nil {
		return nil, nil
	}
	opts := remote.DatasourceOptions{
		URL:     cfg.URL,
		Timeout: time.Duration(cfg.Timeout),
		Headers: cfg.Headers,
		Metrics: set,
		Logger:  log,
	}
	ext.Range(func(l labels.Label) { opts.DropLabels = append(opts.DropLabels, l.Name) })
	switch a, b := cfg.Authorization, cfg.BasicAuth; {
	case a != nil:
		opts.Authorization = func() (string, error) { return secret.Header(a.Type, a.CredentialsFile, log) }
	case b != nil:
		opts.Authorization = func() (string, error) {
			pw := ""
			if b.PasswordFile != "" {
				var err error
				if pw, err = secret.ReadFile("datasource password file", b.PasswordFile, log); err != nil {
					return "", err
				}
			}
			return "Basic " + base64.StdEncoding.EncodeToString([]byte(b.Username+":"+pw)), nil
		}
	}
	ds, err := remote.NewDatasource(opts)
	if err != nil {
		return nil, fmt.Errorf("datasource: %w", err)
	}
	return ds, nil
}

// checkDatasourceRules refuses a rule set with native rules when rules
// evaluate on a datasource, naming each one.
func checkDatasourceRules(ds *config.DatasourceConfig, rs *rules.RuleSet) error {
	if ds == nil {
		return nil
	}
	if native := rs.NativeRules(); len(native) > 0 {
		return fmt.Errorf("load rules: %w (datasource %s):\n  %s", errNativeOnDatasource, ds.URL, strings.Join(native, "\n  "))
	}
	return nil
}

// restoreQueryable reads alert state from the datasource and, for a
// selection it answers with nothing or fails on (no remote_write ships
// ALERTS_FOR_STATE there, or it is down at start), from the local store,
// which holds them too when a snapshot survived the restart.
type restoreQueryable struct {
	remote, local storage.Queryable
	log           *slog.Logger
}

func (r restoreQueryable) Querier(mint, maxt int64) (storage.Querier, error) {
	rq, err := r.remote.Querier(mint, maxt)
	if err != nil {
		return nil, err
	}
	lq, err := r.local.Querier(mint, maxt)
	if err != nil {
		return nil, err
	}
	return &restoreQuerier{Querier: lq, remote: rq, log: r.log}, nil
}

// restoreQuerier is the local querier whose Select asks the datasource
// first.
type restoreQuerier struct {
	storage.Querier // local
	remote          storage.Querier
	log             *slog.Logger
}

func (q *restoreQuerier) Select(ctx context.Context, sorted bool, hints *storage.SelectHints, ms ...*labels.Matcher) storage.SeriesSet {
	set := q.remote.Select(ctx, sorted, hints, ms...)
	if set.Next() {
		return &peekedSet{SeriesSet: set, first: true}
	}
	if err := set.Err(); err != nil && q.log != nil {
		q.log.Warn("restoring alert state from the datasource failed; reading the local store", "err", err)
	}
	return q.Querier.Select(ctx, sorted, hints, ms...)
}

func (q *restoreQuerier) Close() error {
	return errors.Join(q.remote.Close(), q.Querier.Close())
}

// peekedSet is a SeriesSet whose first Next was already called (and
// returned true).
type peekedSet struct {
	storage.SeriesSet
	first bool
}

func (p *peekedSet) Next() bool {
	if p.first {
		p.first = false
		return true
	}
	return p.SeriesSet.Next()
}
