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

// StatusUpdate is a public update a responder posts on an incident for
// the status page: only its Status and Text are ever shown publicly.
type StatusUpdate struct {
	ID         string    `json:"id"`
	IncidentID string    `json:"incident_id"`
	Seq        int64     `json:"seq"` // posting order across all incidents
	Status     string    `json:"status"`
	Text       string    `json:"text"`
	At         time.Time `json:"at"`
	By         Actor     `json:"by"`
}

// Status update states, as on Statuspage.
const (
	UpdateInvestigating = "investigating"
	UpdateIdentified    = "identified"
	UpdateMonitoring    = "monitoring"
	UpdateResolved      = "resolved"
)

// UpdateStatuses lists the status update states in their usual order.
var UpdateStatuses = []string{UpdateInvestigating, UpdateIdentified, UpdateMonitoring, UpdateResolved}

// Status update limits.
const (
	// MaxStatusUpdateText bounds an update's text in bytes.
	MaxStatusUpdateText = 4096
	// MaxStatusUpdates bounds the updates of one incident.
	MaxStatusUpdates = 100
)

// ErrBadStatusUpdate: the update's status or text is not acceptable.
var ErrBadStatusUpdate = errors.New("invalid status update")

// CheckStatusUpdate reports whether status and text make an update.
func CheckStatusUpdate(status, text string) error {
	switch {
	case !slices.Contains(UpdateStatuses, status):
		return fmt.Errorf("%w: status %q (one of %s)", ErrBadStatusUpdate, status, strings.Join(UpdateStatuses, ", "))
	case strings.TrimSpace(text) == "":
		return fmt.Errorf("%w: text is required", ErrBadStatusUpdate)
	case len(text) > MaxStatusUpdateText:
		return fmt.Errorf("%w: text longer than %d bytes", ErrBadStatusUpdate, MaxStatusUpdateText)
	case !utf8.ValidString(text):
		return fmt.Errorf("%w: text is not UTF-8", ErrBadStatusUpdate)
	}
	return nil
}

// PostStatusUpdate adds a public update to incident id (ErrNotFound if
// there is none), recording by as its author.
func (p *Pager) PostStatusUpdate(id string, by Actor, status, text string) (StatusUpdate, error) {
	if err := CheckStatusUpdate(status, text); err != nil {
		return StatusUpdate{}, err
	}
	u := StatusUpdate{IncidentID: id, Status: status, Text: strings.TrimSpace(text), At: p.now().UTC(), By: by}
	p.mu.Lock()
	defer p.mu.Unlock()
	err := p.update(func(tx Tx) error {
		if _, err := tx.Incident(id); err != nil {
			return err
		}
		old, err := tx.StatusUpdates(id, 0)
		if err != nil {
			return err
		}
		if len(old) >= MaxStatusUpdates {
			return fmt.Errorf("%w: incident has %d updates already", ErrBadStatusUpdate, len(old))
		}
		if u.Seq, err = tx.NextID("status_update"); err != nil {
			return err
		}
		u.ID = "su-" + strconv.FormatInt(u.Seq, 10)
		return tx.PutStatusUpdate(u)
	})
	if err != nil {
		return StatusUpdate{}, fmt.Errorf("post status update on %s: %w", id, err)
	}
	p.log.Info("pager: status update posted", "incident", id, "id", u.ID, "status", status, "by", by.String())
	p.subSignal()
	return u, nil
}

// StatusUpdates returns the public updates of incident id ("" for every
// incident), newest first, at most limit of them (0: all).
func (p *Pager) StatusUpdates(id string, limit int) ([]StatusUpdate, error) {
	var out []StatusUpdate
	err := p.store.View(func(tx ReadTx) error {
		var err error
		out, err = tx.StatusUpdates(id, limit)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("list status updates: %w", err)
	}
	return out, nil
}

// sortUpdates orders updates newest first (by Seq) and keeps limit.
func sortUpdates(list []StatusUpdate, limit int) []StatusUpdate {
	slices.SortFunc(list, func(a, b StatusUpdate) int { return int(b.Seq - a.Seq) })
	if limit > 0 && len(list) > limit {
		list = list[:limit]
	}
	return list
}
