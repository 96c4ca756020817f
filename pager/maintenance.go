package pager

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Maintenance is a scheduled maintenance window of status page
// components: announced on the public page ahead of StartsAt, shown
// during the window, and silencing the alerts that match Matchers
// during it through the pager silence SilenceID.
type Maintenance struct {
	ID         string    `json:"id"`
	Title      string    `json:"title"` // public
	Text       string    `json:"text"`  // public
	Components []string  `json:"components"`
	Matchers   []string  `json:"matchers"`
	StartsAt   time.Time `json:"starts_at"`
	EndsAt     time.Time `json:"ends_at"`
	SilenceID  string    `json:"silence_id"`
	By         Actor     `json:"by"`
	CreatedAt  time.Time `json:"created_at"`
	// EndedAt and EndedBy record an early end: a window cancelled before
	// it began, or ended while it ran (EndsAt is then moved to EndedAt).
	EndedAt time.Time `json:"ended_at,omitzero"`
	EndedBy Actor     `json:"ended_by,omitzero"`
}

// Cancelled reports whether the window was ended before it began: it
// never silenced anything and the status page no longer shows it.
func (m Maintenance) Cancelled() bool {
	return !m.EndedAt.IsZero() && m.EndedAt.Before(m.StartsAt)
}

// Phase of a maintenance window at a time.
const (
	MaintenanceUpcoming  = "upcoming"
	MaintenanceActive    = "active"
	MaintenanceCompleted = "completed"
	MaintenanceCancelled = "cancelled"
)

// Phase returns the window's phase at now.
func (m Maintenance) Phase(now time.Time) string {
	switch {
	case m.Cancelled():
		return MaintenanceCancelled
	case !m.EndsAt.After(now):
		return MaintenanceCompleted
	case now.Before(m.StartsAt):
		return MaintenanceUpcoming
	}
	return MaintenanceActive
}

// Maintenance limits.
const (
	// MaxMaintenances bounds the stored maintenance windows.
	MaxMaintenances = 1000
	// MaxMaintenanceText bounds a window's title and text in bytes.
	MaxMaintenanceText = 4096
	// MaxMaintenanceTitle bounds a window's title in bytes.
	MaxMaintenanceTitle = 200
	// MaxMaintenanceWindow bounds EndsAt - StartsAt.
	MaxMaintenanceWindow = 7 * 24 * time.Hour
	// MaxMaintenanceAhead bounds how far ahead a window may start.
	MaxMaintenanceAhead = 366 * 24 * time.Hour
	maxMaintenanceComps = 64
	maxMaintenanceComp  = 200 // bytes of one component name
)

// ErrBadMaintenance: the maintenance window is not acceptable, or it
// cannot be ended (it is over or cancelled already).
var ErrBadMaintenance = errors.New("invalid maintenance")

func checkMaintenance(m *Maintenance, now time.Time) error {
	switch {
	case strings.TrimSpace(m.Title) == "":
		return fmt.Errorf("%w: a title is required", ErrBadMaintenance)
	case len(m.Title) > MaxMaintenanceTitle || len(m.Text) > MaxMaintenanceText || !utf8.ValidString(m.Title+m.Text):
		return fmt.Errorf("%w: title (%d bytes) or text (%d bytes) too long, or not UTF-8", ErrBadMaintenance, MaxMaintenanceTitle, MaxMaintenanceText)
	case len(m.Components) == 0 || len(m.Components) > maxMaintenanceComps ||
		slices.ContainsFunc(m.Components, func(c string) bool { return c == "" || len(c) > maxMaintenanceComp || !utf8.ValidString(c) }):
		return fmt.Errorf("%w: name 1 to %d components (of at most %d bytes each)", ErrBadMaintenance, maxMaintenanceComps, maxMaintenanceComp)
	case m.StartsAt.IsZero() || !m.EndsAt.After(m.StartsAt):
		return fmt.Errorf("%w: starts_at is required and ends_at must follow it", ErrBadMaintenance)
	case m.EndsAt.Sub(m.StartsAt) > MaxMaintenanceWindow:
		return fmt.Errorf("%w: the window lasts %s, longer than %s", ErrBadMaintenance, m.EndsAt.Sub(m.StartsAt), MaxMaintenanceWindow)
	case !m.EndsAt.After(now):
		return fmt.Errorf("%w: the window ends in the past", ErrBadMaintenance)
	case m.StartsAt.Sub(now) > MaxMaintenanceAhead:
		return fmt.Errorf("%w: the window starts more than %d days ahead", ErrBadMaintenance, MaxMaintenanceAhead/(24*time.Hour))
	}
	return nil
}

// ScheduleMaintenance stores a maintenance window and creates the silence
// of its matchers for the window (validated like any silence, so it needs
// matchers that do not match every alert). It returns the stored window.
func (p *Pager) ScheduleMaintenance(m Maintenance, by Actor) (Maintenance, error) {
	m.Title, m.Text = strings.TrimSpace(m.Title), strings.TrimSpace(m.Text)
	if err := checkMaintenance(&m, p.now()); err != nil {
		return Maintenance{}, err
	}
	m.EndedAt, m.EndedBy = time.Time{}, Actor{}
	m.By, m.CreatedAt = by, p.now().UTC()
	m.StartsAt, m.EndsAt = m.StartsAt.UTC(), m.EndsAt.UTC()
	if list, err := p.Maintenances(); err != nil {
		return Maintenance{}, err
	} else if len(list) >= MaxMaintenances {
		return Maintenance{}, fmt.Errorf("%w: %d windows stored already", ErrBadMaintenance, len(list))
	}
	sid, err := p.CreateSilence(Silence{Matchers: m.Matchers, StartsAt: m.StartsAt, EndsAt: m.EndsAt, CreatedBy: by.User,
		Comment: "maintenance: " + m.Title})
	if err != nil {
		return Maintenance{}, fmt.Errorf("schedule maintenance: %w", err)
	}
	m.SilenceID = sid
	p.mu.Lock()
	err = p.update(func(tx Tx) error {
		n, err := tx.NextID("maintenance")
		if err != nil {
			return err
		}
		m.ID = "mw-" + strconv.FormatInt(n, 10)
		return tx.PutMaintenance(m)
	})
	p.mu.Unlock()
	if err != nil {
		_ = p.ExpireSilence(sid)
		return Maintenance{}, fmt.Errorf("schedule maintenance: %w", err)
	}
	p.log.Info("pager: maintenance scheduled", "id", m.ID, "silence", sid, "by", by.String())
	p.subSignal()
	return m, nil
}

// EndMaintenance ends window id early: an upcoming one is cancelled, a
// running one ends now. Either way its silence is expired, so matching
// alerts page again at once. A window that is over or cancelled already
// is refused with ErrBadMaintenance; an unknown id is ErrNotFound.
func (p *Pager) EndMaintenance(id string, by Actor) (Maintenance, error) {
	now := p.now().UTC()
	var m Maintenance
	p.mu.Lock()
	err := p.update(func(tx Tx) error {
		list, err := tx.Maintenances()
		if err != nil {
			return err
		}
		i := slices.IndexFunc(list, func(m Maintenance) bool { return m.ID == id })
		if i < 0 {
			return ErrNotFound
		}
		m = list[i]
		switch m.Phase(now) {
		case MaintenanceCancelled, MaintenanceCompleted:
			return fmt.Errorf("%w: %s is %s already", ErrBadMaintenance, id, m.Phase(now))
		case MaintenanceActive:
			m.EndsAt = now
		}
		m.EndedAt, m.EndedBy = now, by
		return tx.PutMaintenance(m)
	})
	p.mu.Unlock()
	if err != nil {
		return Maintenance{}, fmt.Errorf("end maintenance: %w", err)
	}
	// Stored first: a failure here leaves the silence to end on its
	// own, and the error says so.
	if err := p.ExpireSilence(m.SilenceID); err != nil && !errors.Is(err, ErrNotFound) {
		return m, fmt.Errorf("end maintenance: expire its silence: %w", err)
	}
	p.log.Info("pager: maintenance ended early", "id", m.ID, "silence", m.SilenceID, "by", by.String())
	p.subSignal()
	return m, nil
}

// Maintenances returns the stored maintenance windows by StartsAt.
func (p *Pager) Maintenances() ([]Maintenance, error) {
	var out []Maintenance
	err := p.store.View(func(tx ReadTx) error {
		var err error
		out, err = tx.Maintenances()
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("list maintenances: %w", err)
	}
	return out, nil
}

func sortMaintenances(list []Maintenance) []Maintenance {
	slices.SortFunc(list, func(a, b Maintenance) int {
		if c := a.StartsAt.Compare(b.StartsAt); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return list
}
