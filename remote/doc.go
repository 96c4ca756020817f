// Package remote sends the samples of the in-memory store to Remote-Write
// receivers (VictoriaMetrics, Mimir, Thanos, Prometheus), one [Sender] per
// `remote_write:` entry, and runs rule queries on a remote Prometheus query
// API ([Datasource], datasource.go).
//
// # The store is the buffer
//
// Prometheus's queue manager tails a write-ahead log; the watchdog has none,
// but its store already keeps every sample for the retention. So a Sender
// keeps no queue of its own beyond what is in flight: it keeps, per series,
// a send watermark (the newest timestamp handed to a shard, and the newest
// one the receiver acknowledged) and reads the samples after the watermark
// straight from the store with its low-level read API ([tsdb.DB.Postings],
// [tsdb.DB.ReadRanges], which skips a series with nothing new after one
// comparison under its lock). An outage of the receiver therefore costs no
// memory beyond Capacity samples per shard: the reader blocks on full shard
// queues and the samples wait in the store, where they were anyway. What
// falls out of the retention before it is sent is lost, and counted in
// watchdog_remote_storage_samples_dropped_total (an estimate from the
// series' sample spacing, since the store keeps no count of what it cut).
//
// The acknowledged watermarks are saved in the store's snapshot, in a
// section of their own ([tsdb.DB.SetSnapshotSection]) keyed by the series'
// labels (refs change across restarts). The store writes the section after
// it has copied the series, so the saved positions are never older than the
// saved data: a restart resends nothing the receiver acknowledged before the
// snapshot and loses nothing the snapshot holds. Samples in flight when the
// process stops are not acknowledged and are sent again after the restart
// (at-least-once delivery, as the Remote-Write protocol expects; the
// graceful shutdown in cmd/watchdog stops the senders before the final
// snapshot, so that only requests cut off mid-flight are sent twice).
//
// Which series to read comes from the store's change feed
// ([tsdb.DB.NewChangeFeed]): every commit lists the series it appended to,
// and a scan (every ScanInterval, 1s) visits those alone. When the feed
// overflows (the reader was blocked through a long outage), after a start,
// and every 300 scans, a scan visits every series instead: the store scan
// is the fallback that always works, the feed only spares the idle series
// (a full scan of 150 k series costs 40-55 ms; bench/REMOTE.md compares
// the whole path with Prometheus's queue manager).
//
// A series that holds native histograms (tsdb.DB.HasHistograms) is read
// through the store's Querier instead, selected by its labels: ReadRanges
// gives float samples only. Its floats and histograms go out in time order
// under the same watermark, as prompb.Histogram (1.0) or
// io.prometheus.write.v2.Histogram (2.0).
//
// # Goroutines
//
// One reader goroutine per Sender scans the store and fills one batch per
// shard; a series always goes to the same shard (by its ref, in runs of 64
// consecutive series, which compress well together), so its samples arrive
// in order. Each shard goroutine encodes a batch, sends it, retries it and
// then advances the watermarks of its series. There are min_shards of them
// at first; the count doubles, up to max_shards, when a scan waited on full
// queues for half a scan interval or more while the receiver answered, and
// does not shrink until the sender restarts.
//
// # Protocol
//
// Remote-Write 1.0 (prompb.WriteRequest) by default, 2.0
// (io.prometheus.write.v2.Request, with a symbols table) when
// protobuf_message asks for it: snappy block compression, the spec's
// Content-Type, Content-Encoding and X-Prometheus-Remote-Write-Version
// headers, labels sorted, stale markers (StaleNaN) forwarded as they are
// stored, external labels added where the series has no label of that name
// (as Prometheus), then write_relabel_configs applied. Network errors, 5xx
// and (with retry_on_http_429, off by default as in Prometheus) 429 are
// retried with a backoff doubling from min_backoff to max_backoff, or after
// the Retry-After the receiver asks for; other 4xx are dropped and counted
// as failed. Each attempt has its own remote_timeout. The 2.0 spec requires receivers to answer with
// X-Prometheus-Remote-Write-Samples-Written (and its -Histograms- and
// -Exemplars- siblings); a 2xx without any of them cannot be trusted (the
// usual cause is a 1.0-only receiver that ignored the Content-Type and
// decoded nothing). As Prometheus does, such a request is logged as an
// error and its samples counted as failed (and in
// watchdog_remote_storage_samples_unconfirmed_total); it is not retried, as
// the same bytes would get the same answer.
//
// The HTTP part is written here rather than taken from client_golang's
// exp/api/remote API: that client sleeps on the wall clock, gives up after
// a fixed number of retries (then the samples would be lost while the store
// still has them), and cannot add authorization read from files per request
// or report the bytes sent; its write handler is the receiver of this
// package's tests.
package remote
