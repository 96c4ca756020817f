package remote

import (
	"fmt"
	"strconv"

	"github.com/VictoriaMetrics/metrics"
)

// senderMetrics are a Sender's series, named after Prometheus's
// prometheus_remote_storage_* with the watchdog_ prefix, labelled with
// remote_name and url.
type senderMetrics struct {
	samples, histograms, failed, retried, dropped *metrics.Counter
	unconfirmed                                   *metrics.Counter
	bytes, requests                               *metrics.Counter
	pending, highestTS, highestSentTS, shards     *metrics.Gauge
}

func newSenderMetrics(set *metrics.Set, name, url string) *senderMetrics {
	lbl := fmt.Sprintf(`{remote_name=%s,url=%s}`, strconv.Quote(name), strconv.Quote(url))
	c := func(n string) *metrics.Counter { return set.GetOrCreateCounter("watchdog_remote_storage_" + n + lbl) }
	g := func(n string) *metrics.Gauge { return set.GetOrCreateGauge("watchdog_remote_storage_"+n+lbl, nil) }
	return &senderMetrics{
		samples:       c("samples_total"),
		histograms:    c("histograms_total"),
		failed:        c("samples_failed_total"),
		retried:       c("samples_retried_total"),
		dropped:       c("samples_dropped_total"),
		unconfirmed:   c("samples_unconfirmed_total"),
		bytes:         c("bytes_total"),
		requests:      c("requests_total"),
		pending:       g("samples_pending"),
		highestTS:     g("highest_timestamp_in_seconds"),
		highestSentTS: g("queue_highest_sent_timestamp_seconds"),
		shards:        g("shards"),
	}
}
