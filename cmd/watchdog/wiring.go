package main

import (
	"errors"
	"runtime"

	"github.com/VictoriaMetrics/metrics"
	"github.com/prometheus/common/model"

	"github.com/watchdog-sre/watchdog/scrape"
	"github.com/watchdog-sre/watchdog/tsdb"
	"github.com/watchdog-sre/watchdog/web"
)

var (
	reloadSuccesses = metrics.NewCounter(`watchdog_config_reloads_total{result="success"}`)
	reloadFailures  = metrics.NewCounter(`watchdog_config_reloads_total{result="failure"}`)
)

// registerStoreMetrics exposes the store's statistics on /metrics.
func registerStoreMetrics(set *metrics.Set, db *tsdb.DB) {
	gauge := func(name string, f func(tsdb.Stats) float64) {
		set.NewGauge(name, func() float64 { return f(db.Stats()) })
	}
	gauge("watchdog_tsdb_active_series", func(s tsdb.Stats) float64 { return float64(s.Series) })
	gauge("watchdog_tsdb_samples", func(s tsdb.Stats) float64 { return float64(s.Samples) })
	gauge("watchdog_tsdb_chunks", func(s tsdb.Stats) float64 { return float64(s.Chunks) })
	gauge("watchdog_tsdb_chunk_bytes", func(s tsdb.Stats) float64 { return float64(s.ChunkBytes) })
	gauge("watchdog_tsdb_bytes_per_sample", func(s tsdb.Stats) float64 {
		if s.Samples == 0 {
			return 0
		}
		return float64(s.ChunkBytes) / float64(s.Samples)
	})
	gauge("watchdog_tsdb_samples_appended_total", func(s tsdb.Stats) float64 { return float64(s.AppendedSamples) })
	gauge("watchdog_tsdb_out_of_order_samples_total", func(s tsdb.Stats) float64 { return float64(s.OutOfOrder) })
	gauge("watchdog_tsdb_duplicate_samples_total", func(s tsdb.Stats) float64 { return float64(s.Duplicates) })
	gauge("watchdog_tsdb_gc_series_total", func(s tsdb.Stats) float64 { return float64(s.GCedSeries) })
	gauge("watchdog_tsdb_gc_runs_total", func(s tsdb.Stats) float64 { return float64(s.GCRuns) })
	gauge("watchdog_tsdb_max_series", func(s tsdb.Stats) float64 { return float64(s.MaxSeries) })
	gauge("watchdog_tsdb_snapshots_total", func(s tsdb.Stats) float64 { return float64(s.Snapshots) })
	gauge("watchdog_tsdb_snapshot_failures_total", func(s tsdb.Stats) float64 { return float64(s.SnapshotFailures) })
	gauge("watchdog_tsdb_last_snapshot_timestamp_seconds", func(s tsdb.Stats) float64 { return float64(s.LastSnapshot) })
	gauge(`watchdog_tsdb_refused_samples_total{reason="too_old"}`, func(s tsdb.Stats) float64 { return float64(s.TooOld) })
	gauge(`watchdog_tsdb_refused_samples_total{reason="too_far_in_future"}`, func(s tsdb.Stats) float64 { return float64(s.TooFarInFuture) })
	gauge(`watchdog_tsdb_refused_samples_total{reason="series_limit"}`, func(s tsdb.Stats) float64 { return float64(s.SeriesLimit) })
	gauge("watchdog_tsdb_chunk_file_bytes", func(s tsdb.Stats) float64 { return float64(s.ChunkFileBytes) })
	gauge("watchdog_tsdb_chunk_file_mapped_bytes", func(s tsdb.Stats) float64 { return float64(s.ChunkFileMapped) })
	gauge("watchdog_tsdb_chunk_file_fallbacks_total", func(s tsdb.Stats) float64 { return float64(s.ChunkFileFallbacks) })
}

// storeRejectReason names why the store refused a sample, for the reason
// label of watchdog_scrape_samples_rejected_total; "" for an error that is
// not a refusal of one sample (it fails the scrape).
func storeRejectReason(err error) string {
	switch {
	case errors.Is(err, tsdb.ErrOutOfOrder):
		return "out_of_order"
	case errors.Is(err, tsdb.ErrDuplicateSample):
		return "duplicate"
	case errors.Is(err, tsdb.ErrTooOld):
		return "too_old"
	case errors.Is(err, tsdb.ErrTooFarInFuture):
		return "too_far_in_future"
	case errors.Is(err, tsdb.ErrSeriesLimit):
		return "series_limit"
	case errors.Is(err, tsdb.ErrInvalidHistogram):
		return "invalid_histogram"
	}
	return ""
}

// storeIsSoft reports whether an Append error refused one sample only: the
// scrape counts it and goes on.
func storeIsSoft(err error) bool { return storeRejectReason(err) != "" }

// webTargets converts the scraper's view of its targets to the API's.
func webTargets(ts []scrape.TargetStatus) []web.Target {
	out := make([]web.Target, 0, len(ts))
	for _, t := range ts {
		out = append(out, web.Target{
			DiscoveredLabels:   t.DiscoveredLabels,
			Labels:             t.Labels,
			ScrapePool:         t.Job,
			ScrapeURL:          t.ScrapeURL,
			GlobalURL:          t.ScrapeURL,
			LastError:          t.LastError,
			LastScrape:         t.LastScrape,
			LastScrapeDuration: t.LastScrapeDuration.Seconds(),
			Health:             t.Health,
			ScrapeInterval:     model.Duration(t.ScrapeInterval).String(),
			ScrapeTimeout:      model.Duration(t.ScrapeTimeout).String(),
		})
	}
	return out
}

// buildInfo is /api/v1/status/buildinfo: the Prometheus version the API
// matches (web.PrometheusVersion, for Grafana's feature detection) and the
// watchdog's own version, revision and branch.
func buildInfo() web.BuildInfo {
	return web.BuildInfo{Version: web.PrometheusVersion, WatchdogVersion: version, Revision: revision, Branch: branch,
		BuildUser: "watchdog", GoVersion: runtime.Version()}
}
