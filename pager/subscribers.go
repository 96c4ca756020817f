package pager

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"net/mail"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// Status page subscriber kinds.
const (
	SubscriberWebhook = "webhook"
	SubscriberEmail   = "email"
)

// Subscriber is someone told about the public status page's changes: a
// webhook (added by an admin) or an e-mail address (subscribed on the
// public page, confirmed by a link mailed to it).
type Subscriber struct {
	ID     string `json:"id"`     // random, unguessable
	Kind   string `json:"kind"`   // SubscriberWebhook or SubscriberEmail
	Target string `json:"target"` // the URL or the (lower-case) address
	// Secret is a webhook's HMAC-SHA256 key, or an address's unsubscribe
	// token. Never shown after creation.
	Secret string `json:"secret"`
	// ConfirmToken is the token of a pending address's confirmation link
	// (cleared once confirmed).
	ConfirmToken string    `json:"confirm_token,omitempty"`
	Confirmed    bool      `json:"confirmed"`
	CreatedAt    time.Time `json:"created_at"`
	ConfirmedAt  time.Time `json:"confirmed_at,omitzero"`
	// MailedAt is when the last confirmation mail was queued.
	MailedAt time.Time `json:"mailed_at,omitzero"`
	By       Actor     `json:"by,omitzero"` // the admin who added a webhook
}

// Subscriber event types.
const (
	SubEventStatusUpdate = "status_update"
	SubEventComponent    = "component"
	SubEventMaintenance  = "maintenance"
)

// Maintenance phases of SubEventMaintenance events, with
// MaintenanceCompleted and MaintenanceCancelled.
const (
	MaintenanceScheduled  = "scheduled"
	MaintenanceInProgress = "in_progress"
)

// SubscriberEvent is a change of the public status page that subscribers
// are told about. It holds public texts only (the status update's text,
// a component's name and state, a maintenance's title and text), never an
// alert, an incident ID or a person.
type SubscriberEvent struct {
	Key        string    `json:"key"` // dedupe key, e.g. "update:su-4"
	Type       string    `json:"type"`
	At         time.Time `json:"at"`
	Status     string    `json:"status"` // update status, component state or maintenance phase
	Title      string    `json:"title,omitempty"`
	Text       string    `json:"text,omitempty"`
	Components []string  `json:"components,omitempty"`
	StartsAt   time.Time `json:"starts_at,omitzero"`
	EndsAt     time.Time `json:"ends_at,omitzero"`
}

// SubscriberNote is one message of the subscriber outbox: an event for a
// subscriber, or (EventKey "") an address's confirmation mail. It stays
// pending until sent, refused for good or out of attempts.
type SubscriberNote struct {
	ID           string         `json:"id"`
	SubscriberID string         `json:"subscriber_id"`
	EventKey     string         `json:"event_key,omitempty"`
	Status       DeliveryStatus `json:"status"`
	Attempts     int            `json:"attempts"`
	NextAt       time.Time      `json:"next_at"`
	CreatedAt    time.Time      `json:"created_at"`
	DoneAt       time.Time      `json:"done_at,omitzero"`
	Error        string         `json:"error,omitempty"`
}

// SubscriberNoteFilter selects outbox entries; zero fields select all.
type SubscriberNoteFilter struct {
	SubscriberID string
	Status       DeliveryStatus
	// DueBy keeps the notes with NextAt at or before it.
	DueBy time.Time
	Limit int
}

// Match reports whether n passes the filter (Limit aside).
func (f SubscriberNoteFilter) Match(n *SubscriberNote) bool {
	return (f.SubscriberID == "" || f.SubscriberID == n.SubscriberID) && (f.Status == "" || f.Status == n.Status) &&
		(f.DueBy.IsZero() || !n.NextAt.After(f.DueBy))
}

// sortNotes orders notes by NextAt then ID and keeps limit.
func sortNotes(list []SubscriberNote, limit int) []SubscriberNote {
	slices.SortFunc(list, func(a, b SubscriberNote) int {
		if c := a.NextAt.Compare(b.NextAt); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	if limit > 0 && len(list) > limit {
		list = list[:limit]
	}
	return list
}

// Subscriber errors.
var (
	// ErrBadSubscriber: the subscriber (URL, address, secret) is not
	// acceptable.
	ErrBadSubscriber = errors.New("invalid subscriber")
	// ErrSubscriberLimit: too many subscribers, or too many subscriptions
	// asked for lately (from one client or from everyone).
	ErrSubscriberLimit = errors.New("subscriber limit reached")
	// ErrBadToken: a confirmation or unsubscribe token matches nothing.
	ErrBadToken = errors.New("invalid or expired link")
	// ErrNoSubscriptions: subscriptions of this kind are not configured.
	ErrNoSubscriptions = errors.New("subscriptions are not configured")
)

// Input bounds of subscribers.
const (
	maxWebhookURL = 2048
	maxAddress    = 254
	minSecret     = 16
	maxSecret     = 256
)

// subscribeLimiter bounds subscription requests per client and overall in
// fixed windows of an hour, with a bounded number of clients tracked.
type subscribeLimiter struct {
	mu      sync.Mutex
	window  time.Time
	total   int
	clients map[string]int
}

const maxTrackedClients = 10000

// allow counts one request of client at now against perClient and global
// (per hour).
func (l *subscribeLimiter) allow(client string, now time.Time, perClient, global int) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if w := now.Truncate(time.Hour); !w.Equal(l.window) {
		l.window, l.total, l.clients = w, 0, map[string]int{}
	}
	if l.total >= global {
		return false
	}
	n, known := l.clients[client]
	if n >= perClient || !known && len(l.clients) >= maxTrackedClients {
		return false
	}
	l.clients[client] = n + 1
	l.total++
	return true
}

// randomToken returns n random bytes in hex.
func randomToken(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// CheckWebhookURL reports whether raw is an absolute http(s) URL fit for a
// webhook subscriber.
func CheckWebhookURL(raw string) error {
	u, err := url.Parse(raw)
	switch {
	case len(raw) > maxWebhookURL:
		return fmt.Errorf("%w: url longer than %d bytes", ErrBadSubscriber, maxWebhookURL)
	case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
		return fmt.Errorf("%w: url %q is not an absolute http(s) URL", ErrBadSubscriber, raw)
	}
	return nil
}

// normalAddress returns the bare, lower-case address of raw, or an error.
func normalAddress(raw string) (string, error) {
	raw = strings.TrimSpace(raw)
	if raw == "" || len(raw) > maxAddress || !utf8.ValidString(raw) {
		return "", fmt.Errorf("%w: an e-mail address of at most %d bytes is required", ErrBadSubscriber, maxAddress)
	}
	a, err := mail.ParseAddress(raw)
	if err != nil || a.Name != "" || a.Address != raw {
		return "", fmt.Errorf("%w: %q is not a bare e-mail address", ErrBadSubscriber, raw)
	}
	local, domain, _ := strings.Cut(a.Address, "@")
	if local == "" || !strings.Contains(strings.Trim(domain, "."), ".") || strings.ContainsAny(domain, "[]") {
		return "", fmt.Errorf("%w: %q has no domain name", ErrBadSubscriber, raw)
	}
	return strings.ToLower(a.Address), nil
}

// AddWebhookSubscriber stores a webhook subscriber posting to rawURL,
// signed with secret (a random one when ""). It returns the subscriber and
// the secret, which is never shown again.
func (p *Pager) AddWebhookSubscriber(rawURL, secret string, by Actor) (Subscriber, string, error) {
	if err := CheckWebhookURL(rawURL); err != nil {
		return Subscriber{}, "", err
	}
	switch {
	case secret == "":
		secret = "whsec_" + randomToken(32)
	case len(secret) < minSecret || len(secret) > maxSecret || strings.TrimSpace(secret) != secret:
		return Subscriber{}, "", fmt.Errorf("%w: a secret has %d to %d bytes and no surrounding space", ErrBadSubscriber, minSecret, maxSecret)
	}
	lim := p.subLimits()
	s := Subscriber{ID: "sub_" + randomToken(12), Kind: SubscriberWebhook, Target: rawURL, Secret: secret, Confirmed: true,
		CreatedAt: p.now().UTC(), By: by}
	p.mu.Lock()
	defer p.mu.Unlock()
	err := p.store.Update(func(tx Tx) error {
		list, err := tx.Subscribers()
		if err != nil {
			return err
		}
		if n := countSubs(list, SubscriberWebhook, true); n >= lim.MaxWebhooks {
			return fmt.Errorf("%w: %d webhooks", ErrSubscriberLimit, n)
		}
		return tx.PutSubscriber(s)
	})
	if err != nil {
		return Subscriber{}, "", fmt.Errorf("add webhook subscriber: %w", err)
	}
	p.log.Info("pager: webhook subscriber added", "id", s.ID, "by", by.String())
	return s, secret, nil
}

func countSubs(list []Subscriber, kind string, confirmed bool) int {
	n := 0
	for _, s := range list {
		if s.Kind == kind && s.Confirmed == confirmed {
			n++
		}
	}
	return n
}

// Subscribers returns the stored subscribers (secrets and tokens blanked).
func (p *Pager) Subscribers() ([]Subscriber, error) {
	var out []Subscriber
	err := p.store.View(func(tx ReadTx) error {
		var err error
		out, err = tx.Subscribers()
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("list subscribers: %w", err)
	}
	for i := range out {
		out[i].Secret, out[i].ConfirmToken = "", ""
	}
	return out, nil
}

// DeleteSubscriber removes the subscriber with id and its outbox
// (ErrNotFound if there is none).
func (p *Pager) DeleteSubscriber(id string, by Actor) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := p.store.Update(func(tx Tx) error { return tx.DeleteSubscriber(id) }); err != nil {
		return fmt.Errorf("delete subscriber %s: %w", id, err)
	}
	p.log.Info("pager: subscriber deleted", "id", id, "by", by.String())
	return nil
}

// SubscribeEmail asks for status mail to addr on behalf of client (the
// requester's IP address, for the rate limit). A new address gets a
// confirmation mail; so does a pending one whose last mail is older than
// the resend interval. A confirmed address gets nothing. The result is
// the same in every case, so that it tells nobody who is subscribed.
func (p *Pager) SubscribeEmail(addr, client string) error {
	lim := p.subLimits()
	if !lim.Email() {
		return ErrNoSubscriptions
	}
	addr, err := normalAddress(addr)
	if err != nil {
		return err
	}
	now := p.now().UTC()
	if !p.subLimiter.allow(client, now, lim.SubscribeRatePerClient, lim.SubscribeRate) {
		return fmt.Errorf("%w: too many subscriptions lately, try again later", ErrSubscriberLimit)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	queued := false
	err = p.store.Update(func(tx Tx) error {
		list, err := tx.Subscribers()
		if err != nil {
			return err
		}
		i := slices.IndexFunc(list, func(s Subscriber) bool { return s.Kind == SubscriberEmail && s.Target == addr })
		var s Subscriber
		switch {
		case i >= 0 && list[i].Confirmed:
			return nil
		case i >= 0:
			if now.Sub(list[i].MailedAt) < lim.ResendAfter {
				return nil
			}
			s = list[i]
		case countSubs(list, SubscriberEmail, false) >= lim.MaxPending:
			return fmt.Errorf("%w: too many unconfirmed subscriptions, try again later", ErrSubscriberLimit)
		case countSubs(list, SubscriberEmail, true) >= lim.MaxEmails:
			return fmt.Errorf("%w: the subscriber list is full", ErrSubscriberLimit)
		default:
			s = Subscriber{ID: "sub_" + randomToken(12), Kind: SubscriberEmail, Target: addr, Secret: randomToken(32),
				ConfirmToken: randomToken(32), CreatedAt: now}
		}
		s.MailedAt = now
		if err := tx.PutSubscriber(s); err != nil {
			return err
		}
		queued = true
		return tx.PutSubscriberNote(SubscriberNote{ID: fmt.Sprintf("confirm|%s|%d", s.ID, now.UnixNano()), SubscriberID: s.ID,
			Status: DeliveryPending, NextAt: now, CreatedAt: now})
	})
	if err != nil {
		return fmt.Errorf("subscribe: %w", err)
	}
	if queued {
		p.subSignal()
	}
	return nil
}

// subscriberByToken finds the e-mail subscriber of token ("ID.secret")
// whose field (the confirm or unsubscribe token) matches it, compared in
// constant time.
func subscriberByToken(tx ReadTx, token string, field func(*Subscriber) string) (Subscriber, error) {
	id, secret, ok := strings.Cut(token, ".")
	if !ok || len(token) > 200 || !strings.HasPrefix(id, "sub_") {
		return Subscriber{}, ErrBadToken
	}
	s, err := tx.Subscriber(id)
	if errors.Is(err, ErrNotFound) {
		return Subscriber{}, ErrBadToken
	} else if err != nil {
		return Subscriber{}, err
	}
	want := field(&s)
	if s.Kind != SubscriberEmail || want == "" || subtle.ConstantTimeCompare([]byte(want), []byte(secret)) != 1 {
		return Subscriber{}, ErrBadToken
	}
	return s, nil
}

// ConfirmSubscription confirms the address of a confirmation link's token.
// A pending subscription past its time to live is gone (ErrBadToken).
func (p *Pager) ConfirmSubscription(token string) error {
	now := p.now().UTC()
	lim := p.subLimits()
	ttl := lim.PendingTTL
	p.mu.Lock()
	defer p.mu.Unlock()
	err := p.store.Update(func(tx Tx) error {
		s, err := subscriberByToken(tx, token, func(s *Subscriber) string { return s.ConfirmToken })
		if err != nil {
			return err
		}
		if now.Sub(s.CreatedAt) > ttl {
			return ErrBadToken
		}
		list, err := tx.Subscribers()
		if err != nil {
			return err
		}
		if n := countSubs(list, SubscriberEmail, true); n >= lim.MaxEmails {
			return fmt.Errorf("%w: the subscriber list is full", ErrSubscriberLimit)
		}
		s.Confirmed, s.ConfirmToken, s.ConfirmedAt = true, "", now
		return tx.PutSubscriber(s)
	})
	if err != nil {
		return fmt.Errorf("confirm subscription: %w", err)
	}
	return nil
}

// Unsubscribe removes the address of an unsubscribe link's token (and
// what is still queued for it).
func (p *Pager) Unsubscribe(token string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	err := p.store.Update(func(tx Tx) error {
		s, err := subscriberByToken(tx, token, func(s *Subscriber) string { return s.Secret })
		if err != nil {
			return err
		}
		return tx.DeleteSubscriber(s.ID)
	})
	if err != nil {
		return fmt.Errorf("unsubscribe: %w", err)
	}
	return nil
}

// subSignal wakes the subscriber loop.
func (p *Pager) subSignal() {
	select {
	case p.subWake <- struct{}{}:
	default:
	}
}

// SubscriberMessages returns the outbox messages of subscriber id, by
// NextAt (sent and failed ones until they are pruned).
func (p *Pager) SubscriberMessages(id string) ([]SubscriberNote, error) {
	var out []SubscriberNote
	err := p.store.View(func(tx ReadTx) error {
		var err error
		out, err = tx.SubscriberNotes(SubscriberNoteFilter{SubscriberID: id})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("list subscriber messages: %w", err)
	}
	return out, nil
}

// EmailSubscriptions reports whether the public can subscribe e-mail
// addresses (status_subscribers.email_channel names an email channel and
// the pager has an external URL for the links).
func (p *Pager) EmailSubscriptions() bool { return p.subLimits().Email() }
