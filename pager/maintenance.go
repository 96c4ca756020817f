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
}

// Maintenance limits.
const (
	// MaxMaintenances bounds the stored maintenance windows.
	MaxMaintenances = 1000
	// MaxMaintenanceText bounds a window's title and text in bytes.
	MaxMaintenanceText  = 4096
	maxMaintenanceComps = 64
)

// ErrBadMaintenance: the maintenance window is not acceptable.
var ErrBadMaintenance = errors.New("invalid maintenance")

func checkMaintenance(m *Maintenance) error {
	switch {
	case strings.TrimSpace(m.Title) == "":
		return fmt.Errorf("%w: a title is required", ErrBadMaintenance)
	case len(m.Title) > 200 || len(m.Text) > MaxMaintenanceText || !utf8.ValidString(m.Title+m.Text):
		return fmt.Errorf("%w: title (200 bytes) or text (%d bytes) too long, or not UTF-8", ErrBadMaintenance, MaxMaintenanceText)
	case len(m.Components) == 0 || len(m.Components) > maxMaintenanceComps || slices.Contains(m.Components, ""):
		return fmt.Errorf("%w: name 1 to %d components", ErrBadMaintenance, maxMaintenanceComps)
	case m.StartsAt.IsZero() || !m.EndsAt.After(m.StartsAt):
		return fmt.Errorf("%w: starts_at is required and ends_at must follow it", ErrBadMaintenance)
	}
	return nil
}

// ScheduleMaintenance stores a maintenance window and creates the silence
// of its matchers for the window (validated like any silence, so it needs
// matchers that do not match every alert). It returns the stored window.
func (p *Pager) ScheduleMaintenance(m Maintenance, by Actor) (Maintenance, error) {
	m.Title, m.Text = strings.TrimSpace(m.Title), strings.TrimSpace(m.Text)
	if err := checkMaintenance(&m); err != nil {
		return Maintenance{}, err
	}
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
