package pager

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/watchdog-sre/watchdog/pager/channel"
)

// Webhook subscriber headers: the event type, a delivery ID (the same on
// every retry of one message), the Unix time of the attempt and
// "v1=" + hex(HMAC-SHA256(secret, timestamp + "." + body)).
const (
	HeaderSubEvent     = "X-Watchdog-Event"
	HeaderSubDelivery  = "X-Watchdog-Delivery"
	HeaderSubTimestamp = "X-Watchdog-Timestamp"
	HeaderSubSignature = "X-Watchdog-Signature"
)

// Subscriber loop bounds.
const (
	// subScanUpdates bounds the newest status updates read per round.
	subScanUpdates = 200
	// subSendBatch bounds the messages sent per round.
	subSendBatch = 100
	// subEventFloor: maintenance phases older than this are not told
	// (events are kept for subEventRetention, longer, for the dedupe;
	// finished messages as long).
	subEventFloor     = 7 * 24 * time.Hour
	subEventRetention = 14 * 24 * time.Hour
	subPruneEvery     = time.Hour
)

// SubscriberRunOptions configure RunSubscribers. The zero value is usable.
type SubscriberRunOptions struct {
	// HTTP sends webhooks (timeout and client; channel defaults).
	HTTP channel.HTTPOptions
	// Components returns the public state of each status page component
	// (e.g. "operational", "major_outage"); a change is an event. Nil:
	// no component events. Called without the pager's locks held.
	Components func() (map[string]string, error)
	// Interval is how often the loop looks for changes (default 10s);
	// status updates, maintenances and subscriptions wake it at once.
	Interval time.Duration
	// Metrics receives watchdog_status_subscriber_* counters.
	Metrics *metrics.Set
}

// RunSubscribers tells the status page's subscribers about its changes
// until ctx ends: status updates posted, component states changing,
// maintenance scheduled, starting and ending. Changes become events and
// one outbox message per confirmed subscriber in the store first, so
// nothing queued is lost by a restart; messages are then sent with
// retries (see StatusSubscribers). Only the pager that escalates (the
// leader of a cluster) sends. It returns ctx.Err().
func (p *Pager) RunSubscribers(ctx context.Context, o SubscriberRunOptions) error {
	if o.Interval <= 0 {
		o.Interval = 10 * time.Second
	}
	var lastPrune time.Time
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-timer.C:
		case <-p.subWake:
			timer.Stop()
		}
		wait := o.Interval
		if p.escalates() {
			prune := p.now().Sub(lastPrune) >= subPruneEvery
			next, err := p.stepSubscribers(ctx, o, prune)
			if err != nil && ctx.Err() == nil {
				p.log.Error("status subscribers: round failed", "err", err)
			}
			if prune && err == nil {
				lastPrune = p.now()
			}
			if !next.IsZero() {
				wait = min(wait, max(next.Sub(p.now()), 0))
			}
		}
		timer.Reset(wait)
	}
}

// stepSubscribers makes one round: it turns changes into events and
// outbox messages, sends the messages due and returns when the next one
// is due (zero: none pending).
func (p *Pager) stepSubscribers(ctx context.Context, o SubscriberRunOptions, prune bool) (time.Time, error) {
	var states map[string]string
	if o.Components != nil {
		var err error
		if states, err = o.Components(); err != nil {
			p.log.Warn("status subscribers: component states unavailable", "err", err)
			states = nil
		}
	}
	if err := p.collectSubEvents(states, p.now().UTC(), prune); err != nil {
		return time.Time{}, err
	}
	return p.sendSubNotes(ctx, o)
}

// readMark returns the mark key, or ok false.
func readMark(tx ReadTx, key string) (string, bool, error) {
	v, err := tx.SubscriberMark(key)
	if errors.Is(err, ErrNotFound) {
		return "", false, nil
	}
	return v, err == nil, err
}

// collectSubEvents records the changes since the last round as events and
// queues them for the confirmed subscribers, in one transaction. The first
// round only notes where things stand.
func (p *Pager) collectSubEvents(states map[string]string, now time.Time, prune bool) error {
	lim := p.subLimits()
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.store.Update(func(tx Tx) error {
		sinceText, started, err := readMark(tx, "since")
		if err != nil {
			return err
		}
		since, _ := time.Parse(time.RFC3339Nano, sinceText)
		ups, err := tx.StatusUpdates("", subScanUpdates)
		if err != nil {
			return err
		}
		if !started {
			var seq int64
			if len(ups) > 0 {
				seq = ups[0].Seq
			}
			since = now
			if err := tx.PutSubscriberMark("since", now.Format(time.RFC3339Nano)); err != nil {
				return err
			}
			if err := tx.PutSubscriberMark("update_seq", strconv.FormatInt(seq, 10)); err != nil {
				return err
			}
		}
		evs, err := updateEvents(tx, ups)
		if err != nil {
			return err
		}
		floor := now.Add(-subEventFloor)
		if since.After(floor) {
			floor = since
		}
		mevs, err := maintenanceEvents(tx, floor, now)
		if err != nil {
			return err
		}
		evs = append(evs, mevs...)
		cevs, err := componentEvents(tx, states, now)
		if err != nil {
			return err
		}
		evs = append(evs, cevs...)
		if prune {
			if err := pruneSubscribers(tx, now, lim); err != nil {
				return err
			}
		}
		if len(evs) == 0 || !started {
			return nil
		}
		return fanOut(tx, evs, now)
	})
}

// updateEvents turns the status updates newer than the cursor into events
// and moves the cursor.
func updateEvents(tx Tx, ups []StatusUpdate) ([]SubscriberEvent, error) {
	v, _, err := readMark(tx, "update_seq")
	if err != nil {
		return nil, err
	}
	cur, _ := strconv.ParseInt(v, 10, 64)
	var evs []SubscriberEvent
	last := cur
	for i := len(ups) - 1; i >= 0; i-- {
		u := ups[i]
		if u.Seq <= cur {
			continue
		}
		evs = append(evs, SubscriberEvent{Key: "update:" + u.ID, Type: SubEventStatusUpdate, At: u.At.UTC(), Status: u.Status,
			Title: updateTitle(u.Status), Text: u.Text})
		last = max(last, u.Seq)
	}
	if last != cur {
		return evs, tx.PutSubscriberMark("update_seq", strconv.FormatInt(last, 10))
	}
	return evs, nil
}

func updateTitle(status string) string {
	if status == "" {
		return ""
	}
	return "Incident update: " + strings.ToUpper(status[:1]) + status[1:]
}

// maintenanceEvents returns the maintenance phases reached between floor
// and now that were not told yet: scheduled, in progress and completed
// (at EndsAt, which an early end moves), or scheduled and cancelled.
func maintenanceEvents(tx Tx, floor, now time.Time) ([]SubscriberEvent, error) {
	ms, err := tx.Maintenances()
	if err != nil {
		return nil, err
	}
	var evs []SubscriberEvent
	type phase struct {
		name string
		at   time.Time
	}
	for _, m := range ms {
		phases := []phase{{MaintenanceScheduled, m.CreatedAt}, {MaintenanceInProgress, m.StartsAt}, {MaintenanceCompleted, m.EndsAt}}
		if m.Cancelled() {
			phases = []phase{{MaintenanceScheduled, m.CreatedAt}, {MaintenanceCancelled, m.EndedAt}}
		}
		for _, ph := range phases {
			if ph.at.Before(floor) || ph.at.After(now) {
				continue
			}
			key := "maintenance:" + m.ID + ":" + ph.name
			if _, err := tx.SubscriberEvent(key); err == nil {
				continue
			} else if !errors.Is(err, ErrNotFound) {
				return nil, err
			}
			evs = append(evs, SubscriberEvent{Key: key, Type: SubEventMaintenance, At: ph.at.UTC(), Status: ph.name, Title: m.Title,
				Text: m.Text, Components: m.Components, StartsAt: m.StartsAt.UTC(), EndsAt: m.EndsAt.UTC()})
		}
	}
	return evs, nil
}

// componentEvents compares the components' states with the last ones
// told; a component seen for the first time is only noted.
func componentEvents(tx Tx, states map[string]string, now time.Time) ([]SubscriberEvent, error) {
	var evs []SubscriberEvent
	for _, name := range slices.Sorted(maps.Keys(states)) {
		st := states[name]
		if len(name) > 200 || len(st) > 64 {
			continue
		}
		old, ok, err := readMark(tx, "component:"+name)
		if err != nil {
			return nil, err
		}
		if ok && old == st {
			continue
		}
		if ok {
			evs = append(evs, SubscriberEvent{Key: fmt.Sprintf("component:%s:%d", name, now.UnixNano()), Type: SubEventComponent, At: now,
				Status: st, Title: name, Components: []string{name}})
		}
		if err := tx.PutSubscriberMark("component:"+name, st); err != nil {
			return nil, err
		}
	}
	return evs, nil
}

// fanOut stores the events and queues each new one for every confirmed
// subscriber, due in event order (a nanosecond apart).
func fanOut(tx Tx, evs []SubscriberEvent, now time.Time) error {
	subs, err := tx.Subscribers()
	if err != nil {
		return err
	}
	for i, ev := range evs {
		added, err := tx.AddSubscriberEvent(ev)
		if err != nil {
			return err
		}
		if !added {
			continue
		}
		for _, s := range subs {
			if !s.Confirmed {
				continue
			}
			n := SubscriberNote{ID: ev.Key + "|" + s.ID, SubscriberID: s.ID, EventKey: ev.Key, Status: DeliveryPending,
				NextAt: now.Add(time.Duration(i)), CreatedAt: now}
			if err := tx.PutSubscriberNote(n); err != nil {
				return err
			}
		}
	}
	return nil
}

// pruneSubscribers forgets unconfirmed addresses past their time to live
// and events (with finished messages) past the retention.
func pruneSubscribers(tx Tx, now time.Time, lim subSettings) error {
	subs, err := tx.Subscribers()
	if err != nil {
		return err
	}
	for _, s := range subs {
		if s.Kind == SubscriberEmail && !s.Confirmed && now.Sub(s.CreatedAt) > lim.PendingTTL {
			if err := tx.DeleteSubscriber(s.ID); err != nil {
				return err
			}
		}
	}
	return tx.PruneSubscriberEvents(now.Add(-subEventRetention))
}

// sendSubNotes sends the messages due and returns when the next pending
// one is due.
func (p *Pager) sendSubNotes(ctx context.Context, o SubscriberRunOptions) (time.Time, error) {
	var due []SubscriberNote
	err := p.store.View(func(tx ReadTx) error {
		var err error
		due, err = tx.SubscriberNotes(SubscriberNoteFilter{Status: DeliveryPending, DueBy: p.now(), Limit: subSendBatch})
		return err
	})
	if err != nil {
		return time.Time{}, fmt.Errorf("read subscriber outbox: %w", err)
	}
	lim := p.subLimits()
	for _, n := range due {
		if ctx.Err() != nil || !p.escalates() {
			return time.Time{}, ctx.Err()
		}
		if err := p.sendSubNote(ctx, o, lim, n); err != nil {
			return time.Time{}, err
		}
	}
	var next []SubscriberNote
	err = p.store.View(func(tx ReadTx) error {
		var err error
		next, err = tx.SubscriberNotes(SubscriberNoteFilter{Status: DeliveryPending, Limit: 1})
		return err
	})
	if err != nil || len(next) == 0 {
		return time.Time{}, err
	}
	return next[0].NextAt, nil
}

// sendSubNote sends one message and records the outcome.
func (p *Pager) sendSubNote(ctx context.Context, o SubscriberRunOptions, lim subSettings, n SubscriberNote) error {
	var s Subscriber
	var ev SubscriberEvent
	err := p.store.View(func(tx ReadTx) error {
		var err error
		if s, err = tx.Subscriber(n.SubscriberID); err != nil {
			return err
		}
		if n.EventKey != "" {
			ev, err = tx.SubscriberEvent(n.EventKey)
		}
		return err
	})
	var retry bool
	var after time.Duration
	switch {
	case errors.Is(err, ErrNotFound):
		err = errors.New("subscriber or event removed")
	case err != nil:
		return fmt.Errorf("read subscriber message %s: %w", n.ID, err)
	case n.EventKey == "" && s.Confirmed:
		err = nil // confirmed meanwhile: the link is not needed
	case s.Kind == SubscriberWebhook:
		retry, err = p.postWebhook(ctx, o, s, ev, n)
		after, _ = channel.RetryAfter(err)
	case s.Kind == SubscriberEmail && lim.mail == nil:
		retry, err = true, ErrNoSubscriptions
	case s.Kind == SubscriberEmail && (s.Confirmed || n.EventKey == ""):
		retry, err = lim.mail.SendMail(ctx, p.subscriberMail(lim, s, ev, n.EventKey == ""))
	default:
		err = errors.New("address not confirmed")
	}
	if ctx.Err() != nil {
		return ctx.Err() // stays pending; sent again by the next run
	}
	now := p.now().UTC()
	n.Attempts++
	result := "sent"
	switch {
	case err == nil:
		n.Status, n.DoneAt, n.Error = DeliverySent, now, ""
	case !retry || n.Attempts >= lim.MaxAttempts || now.Sub(n.CreatedAt) >= lim.MaxRetryAge:
		n.Status, n.DoneAt, n.Error, result = DeliveryFailed, now, truncateText(err.Error(), 500), "failed"
	default:
		backoff := lim.InitialBackoff << min(n.Attempts-1, 20)
		if backoff <= 0 || backoff > lim.MaxBackoff {
			backoff = lim.MaxBackoff
		}
		if after > 0 {
			backoff = min(after, lim.MaxBackoff)
		}
		n.NextAt, n.Error, result = now.Add(backoff), truncateText(err.Error(), 500), "retry"
	}
	if o.Metrics != nil {
		o.Metrics.GetOrCreateCounter(fmt.Sprintf(`watchdog_status_subscriber_deliveries_total{kind=%q,result=%q}`, s.Kind, result)).Inc()
	}
	if err != nil {
		p.log.Warn("status subscribers: delivery failed", "message", n.ID, "subscriber", n.SubscriberID, "kind", s.Kind,
			"attempt", n.Attempts, "result", result, "next", n.NextAt, "err", err)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	err = p.store.Update(func(tx Tx) error {
		if _, err := tx.Subscriber(n.SubscriberID); errors.Is(err, ErrNotFound) {
			return nil // unsubscribed meanwhile: its messages went with it
		} else if err != nil {
			return err
		}
		return tx.PutSubscriberNote(n)
	})
	if err != nil {
		return fmt.Errorf("record subscriber message %s: %w", n.ID, err)
	}
	return nil
}

func truncateText(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// SubscriberPayload is the JSON body of a webhook subscriber's POST:
// public texts only.
type SubscriberPayload struct {
	ID         string    `json:"id"` // the event's, opaque
	Type       string    `json:"type"`
	CreatedAt  time.Time `json:"created_at"`
	Status     string    `json:"status"`
	Title      string    `json:"title,omitempty"`
	Text       string    `json:"text,omitempty"`
	Components []string  `json:"components,omitempty"`
	StartsAt   time.Time `json:"starts_at,omitzero"`
	EndsAt     time.Time `json:"ends_at,omitzero"`
	PageURL    string    `json:"page_url,omitempty"`
}

func opaque(s string) string {
	sum := sha256.Sum256([]byte("watchdog-subscriber\x00" + s))
	return hex.EncodeToString(sum[:12])
}

func (p *Pager) statusPageURL() string {
	if p.o.ExternalURL == "" {
		return ""
	}
	return strings.TrimSuffix(p.o.ExternalURL, "/") + "/status"
}

// SignWebhook returns the X-Watchdog-Signature value of body sent at
// Unix time ts with secret.
func SignWebhook(secret string, ts int64, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(strconv.FormatInt(ts, 10) + "."))
	mac.Write(body)
	return "v1=" + hex.EncodeToString(mac.Sum(nil))
}

// ErrBadSignature: a webhook's signature or timestamp does not check.
var ErrBadSignature = errors.New("bad webhook signature")

// VerifyWebhook checks a webhook subscriber's request as a receiver
// should: the signature over timestamp and body, compared in constant
// time, and a timestamp within tolerance of now (against replays).
func VerifyWebhook(secret, timestamp, signature string, body []byte, now time.Time, tolerance time.Duration) error {
	ts, err := strconv.ParseInt(timestamp, 10, 64)
	if err != nil {
		return fmt.Errorf("%w: timestamp %q", ErrBadSignature, timestamp)
	}
	if d := now.Sub(time.Unix(ts, 0)); d > tolerance || d < -tolerance {
		return fmt.Errorf("%w: timestamp %s off by %s", ErrBadSignature, timestamp, d)
	}
	if !hmac.Equal([]byte(SignWebhook(secret, ts, body)), []byte(signature)) {
		return ErrBadSignature
	}
	return nil
}

// postWebhook sends one event to a webhook subscriber.
func (p *Pager) postWebhook(ctx context.Context, o SubscriberRunOptions, s Subscriber, ev SubscriberEvent, n SubscriberNote) (bool, error) {
	body, err := json.Marshal(SubscriberPayload{ID: opaque(ev.Key), Type: ev.Type, CreatedAt: ev.At, Status: ev.Status, Title: ev.Title,
		Text: ev.Text, Components: ev.Components, StartsAt: ev.StartsAt, EndsAt: ev.EndsAt, PageURL: p.statusPageURL()})
	if err != nil {
		return false, fmt.Errorf("encode payload: %w", err)
	}
	ts := p.now().Unix()
	h := http.Header{}
	h.Set(HeaderSubEvent, ev.Type)
	h.Set(HeaderSubDelivery, opaque(n.ID))
	h.Set(HeaderSubTimestamp, strconv.FormatInt(ts, 10))
	h.Set(HeaderSubSignature, SignWebhook(s.Secret, ts, body))
	return o.HTTP.PostJSON(ctx, s.Target, h, body)
}
