package pager

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/watchdog-sre/watchdog/pager/schedule"
)

// ScheduleOverride puts User on call in Schedule from Start to End, over
// every layer and over the overrides of the configuration ("cover for bob
// from X to Y"). Overrides are stored (Store.PutOverride), so they survive
// restarts, reach every replica sharing the database, and apply to
// escalation, on-call look-ups, previews and calendar feeds alike.
type ScheduleOverride struct {
	ID       string    `json:"id"`
	Schedule string    `json:"schedule"`
	User     string    `json:"user"`
	Start    time.Time `json:"start"`
	End      time.Time `json:"end"`
	// CreatedBy and Via say who added it and how (console, cli, api).
	CreatedBy string    `json:"created_by"`
	Via       string    `json:"via,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	Comment   string    `json:"comment,omitempty"`
}

// Override errors.
var (
	// ErrBadOverride: the override is malformed (end before start, an
	// absurd range, an unknown user or schedule).
	ErrBadOverride = errors.New("invalid override")
	// ErrOverrideGap: deleting the override would leave its schedule
	// with nobody on call.
	ErrOverrideGap = errors.New("schedule would have nobody on call")
)

// Override limits.
const (
	// MaxOverrideDuration is the longest override.
	MaxOverrideDuration = 92 * 24 * time.Hour
	// MaxOverrideLead is how far ahead an override may start.
	MaxOverrideLead = 2 * 366 * 24 * time.Hour
	// MaxOverrides bounds the stored overrides of all schedules.
	MaxOverrides  = 1000
	maxCommentLen = 1024
	// overrideRetention is how long an ended override is kept.
	overrideRetention = 30 * 24 * time.Hour
)

// AddOverride checks o and stores it, returning it with its ID and
// warnings (overlaps with other stored overrides, a user who is already
// on call). by is recorded in o.CreatedBy and o.Via; CreatedAt is set.
// Refused (ErrBadOverride): an unknown schedule or user, an end at or
// before the start or in the past, a range longer than MaxOverrideDuration
// or starting more than MaxOverrideLead ahead.
func (p *Pager) AddOverride(o ScheduleOverride, by Actor) (ScheduleOverride, []string, error) {
	now := p.now()
	o.CreatedBy, o.Via = by.User, by.Via
	cfg := p.config()
	if err := checkOverride(cfg, &o, now); err != nil {
		return o, nil, err
	}
	o.CreatedAt = now
	var warnings []string
	if s, err := p.EffectiveSchedule(o.Schedule); err == nil {
		if sh := s.Shifts(o.Start, o.End); len(sh) > 0 && !slices.ContainsFunc(sh, func(x schedule.Shift) bool { return x.User != o.User }) &&
			sh[0].Start.Equal(o.Start) && sh[len(sh)-1].End.Equal(o.End) {
			warnings = append(warnings, fmt.Sprintf("%s is on call for all of it already", o.User))
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	err := p.update(func(tx Tx) error {
		list, err := tx.Overrides()
		if err != nil {
			return err
		}
		// Overrides long over are history: drop them as new ones come.
		kept := list[:0]
		for _, x := range list {
			if x.End.Before(now.Add(-overrideRetention)) {
				if err := tx.DeleteOverride(x.ID); err != nil {
					return err
				}
				continue
			}
			kept = append(kept, x)
		}
		list = kept
		if len(list) >= MaxOverrides {
			return fmt.Errorf("%w: %d overrides stored already (delete old ones)", ErrBadOverride, len(list))
		}
		warnings = append(overlaps(list, &o), warnings...)
		n, err := tx.NextID("override")
		if err != nil {
			return fmt.Errorf("next override id: %w", err)
		}
		o.ID = "ovr-" + strconv.FormatInt(n, 10)
		return tx.PutOverride(o)
	})
	if err != nil {
		return o, nil, fmt.Errorf("add override: %w", err)
	}
	p.log.Info("pager: schedule override added", "id", o.ID, "schedule", o.Schedule, "user", o.User,
		"start", o.Start.UTC(), "end", o.End.UTC(), "by", by.String())
	return o, warnings, nil
}

func checkOverride(cfg *Config, o *ScheduleOverride, now time.Time) error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrBadOverride, fmt.Sprintf(format, args...))
	}
	o.Start, o.End = o.Start.Truncate(time.Second), o.End.Truncate(time.Second)
	switch {
	case cfg.Schedule(o.Schedule) == nil:
		return bad("unknown schedule %q", o.Schedule)
	case cfg.User(o.User) == nil:
		return bad("unknown user %q", o.User)
	case o.Start.IsZero() || o.End.IsZero():
		return bad("start and end are required")
	case !o.End.After(o.Start):
		return bad("end %s is not after start %s", o.End.Format(time.RFC3339), o.Start.Format(time.RFC3339))
	case !o.End.After(now):
		return bad("end %s is in the past", o.End.Format(time.RFC3339))
	case o.End.Sub(o.Start) > MaxOverrideDuration:
		return bad("longer than %d days", int(MaxOverrideDuration/(24*time.Hour)))
	case o.Start.After(now.Add(MaxOverrideLead)):
		return bad("starts more than %d days ahead", int(MaxOverrideLead/(24*time.Hour)))
	case len(o.Comment) > maxCommentLen:
		return bad("comment longer than %d bytes", maxCommentLen)
	}
	return nil
}

// overlaps describes the stored overrides of o's schedule that overlap o.
func overlaps(list []ScheduleOverride, o *ScheduleOverride) []string {
	var out []string
	for _, x := range list {
		if x.Schedule == o.Schedule && x.Start.Before(o.End) && o.Start.Before(x.End) {
			out = append(out, fmt.Sprintf("overlaps %s (%s from %s to %s); the newer override wins",
				x.ID, x.User, x.Start.UTC().Format(time.RFC3339), x.End.UTC().Format(time.RFC3339)))
		}
	}
	return out
}

// Overrides returns the stored overrides of schedule (all when empty) that
// end after since, by start.
func (p *Pager) Overrides(schedule string, since time.Time) ([]ScheduleOverride, error) {
	var list []ScheduleOverride
	err := p.store.View(func(tx ReadTx) error {
		var err error
		list, err = tx.Overrides()
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("list overrides: %w", err)
	}
	list = slices.DeleteFunc(list, func(o ScheduleOverride) bool {
		return (schedule != "" && o.Schedule != schedule) || !o.End.After(since)
	})
	slices.SortStableFunc(list, func(a, b ScheduleOverride) int { return a.Start.Compare(b.Start) })
	return list, nil
}

// DeleteOverride removes override id of schedule for by (logged). Unless
// force is set it refuses (ErrOverrideGap) when the schedule would then
// have nobody on call at some time between now and the override's end.
func (p *Pager) DeleteOverride(schedule, id string, force bool, by Actor) error {
	now := p.now()
	p.mu.Lock()
	defer p.mu.Unlock()
	err := p.update(func(tx Tx) error {
		list, err := tx.Overrides()
		if err != nil {
			return err
		}
		i := slices.IndexFunc(list, func(o ScheduleOverride) bool { return o.ID == id && o.Schedule == schedule })
		if i < 0 {
			return ErrNotFound
		}
		o := list[i]
		if !force && o.End.After(now) {
			rest := slices.Delete(slices.Clone(list), i, i+1)
			s, err := effective(p.config(), rest, schedule)
			if err != nil {
				return err
			}
			from := o.Start
			if from.Before(now) {
				from = now
			}
			if gap := firstGap(s, from, o.End); !gap.IsZero() {
				return fmt.Errorf("%w at %s (use force to delete anyway)", ErrOverrideGap, gap.UTC().Format(time.RFC3339))
			}
		}
		return tx.DeleteOverride(id)
	})
	if err != nil {
		return fmt.Errorf("delete override %s: %w", id, err)
	}
	p.log.Info("pager: schedule override deleted", "id", id, "schedule", schedule, "by", by.String(), "force", force)
	return nil
}

// firstGap returns the first instant in [from, to) with nobody on call in
// s, or the zero time.
func firstGap(s *schedule.Schedule, from, to time.Time) time.Time {
	at := from
	for _, sh := range s.Shifts(from, to) {
		if sh.Start.After(at) {
			return at
		}
		at = sh.End
	}
	if at.Before(to) {
		return at
	}
	return time.Time{}
}

// EffectiveSchedule returns schedule name of the active configuration with
// the stored overrides applied, as escalation sees it now.
func (p *Pager) EffectiveSchedule(name string) (*schedule.Schedule, error) {
	var list []ScheduleOverride
	if err := p.store.View(func(tx ReadTx) error {
		var err error
		list, err = tx.Overrides()
		return err
	}); err != nil {
		return nil, fmt.Errorf("schedule %s: %w", name, err)
	}
	return effective(p.config(), list, name)
}

// effective returns schedule name of cfg with the overrides of list for it
// appended; ErrNotFound when cfg has no such schedule.
func effective(cfg *Config, list []ScheduleOverride, name string) (*schedule.Schedule, error) {
	s := cfg.Schedule(name)
	if s == nil {
		return nil, fmt.Errorf("schedule %q: %w", name, ErrNotFound)
	}
	extra := toOverrides(cfg, list, name)
	if len(extra) == 0 {
		return s, nil
	}
	return s.WithOverrides(extra)
}

// toOverrides returns the overrides of list for schedule name, leaving
// out those whose user cfg no longer has (removed by a reload).
func toOverrides(cfg *Config, list []ScheduleOverride, name string) []schedule.Override {
	var extra []schedule.Override
	for _, o := range list {
		if o.Schedule == name && cfg.User(o.User) != nil {
			extra = append(extra, schedule.Override{User: o.User,
				Start: o.Start.Format(time.RFC3339), End: o.End.Format(time.RFC3339)})
		}
	}
	return extra
}

// overlay caches the configuration with the stored overrides applied,
// rebuilt when the configuration or the overrides change.
type overlay struct {
	mu  sync.Mutex
	cfg *Config
	key string
	out *Config
}

// withOverrides returns cfg with the overrides of list applied to its
// schedules (cfg itself when list is empty). Overrides that no longer fit
// the configuration (their schedule or user was removed) are ignored.
func (ov *overlay) withOverrides(cfg *Config, list []ScheduleOverride) *Config {
	if len(list) == 0 || cfg.c == nil {
		return cfg
	}
	var kb strings.Builder
	for _, o := range list {
		fmt.Fprintf(&kb, "%s|%s|%s|%d|%d;", o.ID, o.Schedule, o.User, o.Start.UnixNano(), o.End.UnixNano())
	}
	key := kb.String()
	ov.mu.Lock()
	defer ov.mu.Unlock()
	if ov.cfg == cfg && ov.key == key {
		return ov.out
	}
	scheds := slices.Clone(cfg.c.schedules.Schedules)
	for i, s := range scheds {
		if s == nil {
			continue
		}
		if extra := toOverrides(cfg, list, s.Name); len(extra) > 0 {
			if n, err := s.WithOverrides(extra); err == nil {
				scheds[i] = n
			}
		}
	}
	n := *cfg
	cc := *cfg.c
	cc.schedules = schedule.Config{Schedules: scheds}
	n.c = &cc
	ov.cfg, ov.key, ov.out = cfg, key, &n
	return &n
}
