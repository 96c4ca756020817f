package main

import (
	"log/slog"
	"sort"

	"github.com/VictoriaMetrics/metrics"

	"github.com/watchdog-sre/watchdog/pager/channel"
	"github.com/watchdog-sre/watchdog/pager/inbound"
)

// inboundWebhooks returns the SMS, voice and Slack reply webhooks of the
// pager's channels: every Twilio channel with replies on and every Slack
// channel with a signing secret verifies requests. Nil when there is none.
func inboundWebhooks(pg *pagerRuntime, externalURL string, log *slog.Logger, set *metrics.Set) *inbound.Handler {
	o := inbound.Options{Pager: pg.p, Act: inbound.ActWith(pg.p), ExternalURL: externalURL, Logger: log, Metrics: set}
	names := make([]string, 0, len(pg.channels))
	for name := range pg.channels {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		switch ch := pg.channels[name].(type) {
		case *channel.Twilio:
			if ch.Replies() {
				o.Twilio = append(o.Twilio, ch)
			}
		case *channel.Slack:
			if ch.Interactive() {
				o.Slack = append(o.Slack, ch)
			}
		}
	}
	if len(o.Twilio) == 0 && len(o.Slack) == 0 {
		return nil
	}
	return inbound.New(o)
}
