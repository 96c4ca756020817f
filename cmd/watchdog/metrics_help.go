package main

import "github.com/watchdog-sre/watchdog/internal/selfmetrics"

// The families cmd/watchdog registers itself, for /metrics (package
// selfmetrics). The store's counters are read from tsdb.Stats through
// gauge functions; they only grow, so they are exposed as counters.
var _ = selfmetrics.Describe(
	selfmetrics.Family{Name: "watchdog_config_reloads_total", Type: selfmetrics.Counter, Help: "Configuration reloads, by result (success or failure)."},
	selfmetrics.Family{Name: "watchdog_pager_up", Type: selfmetrics.Gauge, Help: "1 when the pager runs and pages are being sent, else 0."},
	selfmetrics.Family{Name: "watchdog_pager_replicas", Type: selfmetrics.Gauge, Help: "Pager replicas seen alive on the shared database (1 when not clustered)."},
	selfmetrics.Family{Name: "watchdog_pager_lease_expiry_timestamp_seconds", Type: selfmetrics.Gauge, Help: "When the leader's lease ends unless renewed, as a Unix time (0 when not clustered)."},
	selfmetrics.Family{Name: "watchdog_tsdb_active_series", Type: selfmetrics.Gauge, Help: "Series in the store."},
	selfmetrics.Family{Name: "watchdog_tsdb_samples", Type: selfmetrics.Gauge, Help: "Samples held in the store's chunks."},
	selfmetrics.Family{Name: "watchdog_tsdb_chunks", Type: selfmetrics.Gauge, Help: "Chunks in the store, open ones included."},
	selfmetrics.Family{Name: "watchdog_tsdb_chunk_bytes", Type: selfmetrics.Gauge, Help: "Encoded bytes in the store's chunks."},
	selfmetrics.Family{Name: "watchdog_tsdb_chunk_file_bytes", Type: selfmetrics.Gauge,
		Help: "Encoded bytes of sealed chunks kept in memory-mapped chunk files (storage.chunks_dir), part of watchdog_tsdb_chunk_bytes."},
	selfmetrics.Family{Name: "watchdog_tsdb_chunk_file_mapped_bytes", Type: selfmetrics.Gauge,
		Help: "Bytes of chunk file segments mapped (storage.chunks_dir); resident only as far as reads touch them."},
	selfmetrics.Family{Name: "watchdog_tsdb_chunk_file_fallbacks_total", Type: selfmetrics.Counter,
		Help: "Sealed chunks kept in memory because writing them to a chunk file failed (disk full, I/O error)."},
	selfmetrics.Family{Name: "watchdog_tsdb_bytes_per_sample", Type: selfmetrics.Gauge, Help: "Encoded chunk bytes per sample held."},
	selfmetrics.Family{Name: "watchdog_tsdb_max_series", Type: selfmetrics.Gauge, Help: "Most series the store holds (0: no limit)."},
	selfmetrics.Family{Name: "watchdog_tsdb_samples_appended_total", Type: selfmetrics.Counter, Help: "Samples committed to the store."},
	selfmetrics.Family{Name: "watchdog_tsdb_out_of_order_samples_total", Type: selfmetrics.Counter, Help: "Samples refused as older than their series' newest."},
	selfmetrics.Family{Name: "watchdog_tsdb_duplicate_samples_total", Type: selfmetrics.Counter, Help: "Samples refused as a different value for a timestamp already held."},
	selfmetrics.Family{Name: "watchdog_tsdb_refused_samples_total", Type: selfmetrics.Counter, Help: "Samples refused by the store's time window or series limit, by reason."},
	selfmetrics.Family{Name: "watchdog_tsdb_gc_series_total", Type: selfmetrics.Counter, Help: "Series removed by garbage collection."},
	selfmetrics.Family{Name: "watchdog_tsdb_gc_runs_total", Type: selfmetrics.Counter, Help: "Garbage collections of the store run."},
	selfmetrics.Family{Name: "watchdog_tsdb_snapshots_total", Type: selfmetrics.Counter, Help: "Snapshots of the store written."},
	selfmetrics.Family{Name: "watchdog_tsdb_snapshot_failures_total", Type: selfmetrics.Counter, Help: "Snapshots of the store that could not be written."},
	selfmetrics.Family{Name: "watchdog_tsdb_last_snapshot_timestamp_seconds", Type: selfmetrics.Gauge, Help: "When the last snapshot was written, as a Unix time (0: never)."},
)
