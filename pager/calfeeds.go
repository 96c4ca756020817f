package pager

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/watchdog-sre/watchdog/pager/calendar"
)

// CalendarFeed is a secret iCalendar feed URL of one schedule or one user.
// Only the SHA-256 of its secret is stored; the secret is shown once, when
// the feed is created.
type CalendarFeed struct {
	ID        string    `json:"id"`
	Kind      string    `json:"kind"` // FeedSchedule or FeedUser
	Name      string    `json:"name"` // the schedule's or the user's
	TokenHash string    `json:"token_hash"`
	CreatedBy string    `json:"created_by"`
	CreatedAt time.Time `json:"created_at"`
	// RevokedAt is when the feed was revoked; zero while it works.
	RevokedAt time.Time `json:"revoked_at,omitzero"`
	RevokedBy string    `json:"revoked_by,omitempty"`
}

// Calendar feed kinds.
const (
	FeedSchedule = "schedule"
	FeedUser     = "user"
)

// MaxCalendarFeeds bounds the stored calendar feeds, revoked ones included.
const MaxCalendarFeeds = 1000

// maxFeedSecret bounds the secrets looked up (ours are 43 characters).
const maxFeedSecret = 128

// ErrBadFeed: a feed cannot be created for that kind or name.
var ErrBadFeed = errors.New("invalid calendar feed")

// CreateCalendarFeed creates a feed of schedule or user name and returns
// it with its secret (256 random bits), which is not stored. by is
// recorded as its creator.
func (p *Pager) CreateCalendarFeed(kind, name string, by Actor) (CalendarFeed, string, error) {
	cfg := p.config()
	switch {
	case kind == FeedSchedule && cfg.Schedule(name) != nil, kind == FeedUser && cfg.User(name) != nil:
	case kind != FeedSchedule && kind != FeedUser:
		return CalendarFeed{}, "", fmt.Errorf("%w: kind %q (schedule or user)", ErrBadFeed, kind)
	default:
		return CalendarFeed{}, "", fmt.Errorf("%w: unknown %s %q", ErrBadFeed, kind, name)
	}
	var raw [32]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return CalendarFeed{}, "", fmt.Errorf("create calendar feed: %w", err)
	}
	secret := base64.RawURLEncoding.EncodeToString(raw[:])
	f := CalendarFeed{Kind: kind, Name: name, TokenHash: hashSecret(secret), CreatedBy: by.String(), CreatedAt: p.now()}
	p.mu.Lock()
	defer p.mu.Unlock()
	err := p.update(func(tx Tx) error {
		list, err := tx.CalendarFeeds()
		if err != nil {
			return err
		}
		if len(list) >= MaxCalendarFeeds {
			return fmt.Errorf("%w: %d feeds stored already", ErrBadFeed, len(list))
		}
		n, err := tx.NextID("calendar")
		if err != nil {
			return err
		}
		f.ID = "cal-" + strconv.FormatInt(n, 10)
		return tx.PutCalendarFeed(f)
	})
	if err != nil {
		return CalendarFeed{}, "", fmt.Errorf("create calendar feed: %w", err)
	}
	p.log.Info("pager: calendar feed created", "id", f.ID, "kind", kind, "name", name, "by", f.CreatedBy)
	return f, secret, nil
}

// CalendarFeeds lists the feeds, revoked ones included, by ID.
func (p *Pager) CalendarFeeds() ([]CalendarFeed, error) {
	var list []CalendarFeed
	err := p.store.View(func(tx ReadTx) error {
		var err error
		list, err = tx.CalendarFeeds()
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("list calendar feeds: %w", err)
	}
	return list, nil
}

// RevokeCalendarFeed revokes feed id: its URL answers 404 from now on.
func (p *Pager) RevokeCalendarFeed(id string, by Actor) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	err := p.update(func(tx Tx) error {
		list, err := tx.CalendarFeeds()
		if err != nil {
			return err
		}
		i := slices.IndexFunc(list, func(f CalendarFeed) bool { return f.ID == id })
		if i < 0 {
			return ErrNotFound
		}
		f := list[i]
		if !f.RevokedAt.IsZero() {
			return nil
		}
		f.RevokedAt, f.RevokedBy = p.now(), by.String()
		return tx.PutCalendarFeed(f)
	})
	if err != nil {
		return fmt.Errorf("revoke calendar feed %s: %w", id, err)
	}
	p.log.Info("pager: calendar feed revoked", "id", id, "by", by.String())
	return nil
}

// CalendarFeed returns the calendar of the feed of kind with secret, over
// calendar.Window of now, with the stored overrides applied. An unknown or
// revoked secret, a secret of another kind, and a feed whose schedule or
// user is no longer configured are all ErrNotFound.
func (p *Pager) CalendarFeed(kind, secret string) (calendar.Feed, error) {
	if len(secret) > maxFeedSecret || secret == "" {
		return calendar.Feed{}, ErrNotFound
	}
	want := []byte(hashSecret(secret))
	var (
		feed CalendarFeed
		ok   bool
		ovs  []ScheduleOverride
	)
	err := p.store.View(func(tx ReadTx) error {
		list, err := tx.CalendarFeeds()
		if err != nil {
			return err
		}
		for _, f := range list {
			if subtle.ConstantTimeCompare([]byte(f.TokenHash), want) == 1 {
				feed, ok = f, true
			}
		}
		if ovs, err = tx.Overrides(); err != nil {
			return err
		}
		return nil
	})
	if err != nil {
		return calendar.Feed{}, fmt.Errorf("calendar feed: %w", err)
	}
	if !ok || feed.Kind != kind || !feed.RevokedAt.IsZero() {
		return calendar.Feed{}, ErrNotFound
	}
	cfg := p.ov.withOverrides(p.config(), ovs)
	resolveFrom, from, to := calendar.Window(p.now())
	switch kind {
	case FeedSchedule:
		s := cfg.Schedule(feed.Name)
		if s == nil {
			return calendar.Feed{}, ErrNotFound
		}
		shifts := calendar.Clip(s.Shifts(resolveFrom, to), from)
		return calendar.Feed{Name: "On call: " + s.Name, Events: calendar.ScheduleEvents(s.Name, shifts)}, nil
	default:
		if cfg.User(feed.Name) == nil || cfg.c == nil {
			return calendar.Feed{}, ErrNotFound
		}
		var evs []calendar.Event
		for _, s := range cfg.c.schedules.Schedules {
			if s == nil {
				continue
			}
			shifts := calendar.Clip(s.Shifts(resolveFrom, to), from)
			evs = append(evs, calendar.UserEvents(feed.Name, s.Name, shifts)...)
		}
		slices.SortStableFunc(evs, func(a, b calendar.Event) int { return a.Start.Compare(b.Start) })
		return calendar.Feed{Name: feed.Name + " on call", Events: evs}, nil
	}
}
