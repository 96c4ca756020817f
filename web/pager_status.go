package web

import (
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/watchdog-sre/watchdog/pager"
)

// StatusUpdater posts and lists the public status updates of incidents
// (*pager.Pager implements it). The paging API serves them when its Pager
// does.
type StatusUpdater interface {
	PostStatusUpdate(id string, by pager.Actor, status, text string) (pager.StatusUpdate, error)
	StatusUpdates(id string, limit int) ([]pager.StatusUpdate, error)
}

// apiStatusUpdate is one public status update in the API.
type apiStatusUpdate struct {
	ID         string    `json:"id"`
	IncidentID string    `json:"incidentId"`
	Status     string    `json:"status"`
	Text       string    `json:"text"`
	At         time.Time `json:"at"`
	By         string    `json:"by"`
	Via        string    `json:"via,omitempty"`
}

func statusUpdateView(u pager.StatusUpdate) apiStatusUpdate {
	return apiStatusUpdate{ID: u.ID, IncidentID: u.IncidentID, Status: u.Status, Text: u.Text, At: u.At, By: u.By.User, Via: u.By.Via}
}

// enableStatusUpdates registers GET and POST
// /api/v1/pager/incidents/{id}/status-updates.
func (h *Handler) enableStatusUpdates(su StatusUpdater) {
	h.Handle("GET /api/v1/pager/incidents/{id}/status-updates", h.wrap(func(r *http.Request) apiResult {
		list, err := su.StatusUpdates(r.PathValue("id"), 0)
		return listResult(list, err, statusUpdateView)
	}))
	h.Handle("POST /api/v1/pager/incidents/{id}/status-updates", h.wrap(func(r *http.Request) apiResult {
		var b struct {
			actorBody
			Status string `json:"status"`
			Text   string `json:"text"`
		}
		if e := decodeBody(r, &b); e != nil {
			return apiResult{err: e}
		}
		u, err := su.PostStatusUpdate(r.PathValue("id"), b.actor(r), b.Status, b.Text)
		if err != nil {
			return apiResult{err: statusUpdateError(err)}
		}
		return apiResult{data: statusUpdateView(u)}
	}))
}

func statusUpdateError(err error) *apiError {
	if errors.Is(err, pager.ErrBadStatusUpdate) {
		return badData(err)
	}
	return pagerError(err)
}

// consoleStatusUpdate posts the incident page's status update form.
func consoleStatusUpdate(p Pager, id string, by pager.Actor, r *http.Request) error {
	su, ok := p.(StatusUpdater)
	if !ok {
		return fmt.Errorf("%w: status updates are not available", errBadForm)
	}
	_, err := su.PostStatusUpdate(id, by, r.PostFormValue("status"), r.PostFormValue("update_text"))
	if errors.Is(err, pager.ErrBadStatusUpdate) {
		return fmt.Errorf("%w: %w", errBadForm, err)
	}
	return err
}

// MaintenanceScheduler schedules the status page's maintenance windows
// (*pager.Pager implements it).
type MaintenanceScheduler interface {
	ScheduleMaintenance(m pager.Maintenance, by pager.Actor) (pager.Maintenance, error)
	Maintenances() ([]pager.Maintenance, error)
}

// apiMaintenance is a maintenance window in the API.
type apiMaintenance struct {
	ID         string    `json:"id"`
	Title      string    `json:"title"`
	Text       string    `json:"text,omitempty"`
	Components []string  `json:"components"`
	Matchers   []string  `json:"matchers"`
	StartsAt   time.Time `json:"startsAt"`
	EndsAt     time.Time `json:"endsAt"`
	SilenceID  string    `json:"silenceId"`
	By         string    `json:"by"`
	EndedAt    time.Time `json:"endedAt,omitzero"`
	EndedBy    string    `json:"endedBy,omitempty"`
	Cancelled  bool      `json:"cancelled,omitempty"`
}

func maintenanceView(m pager.Maintenance) apiMaintenance {
	return apiMaintenance{ID: m.ID, Title: m.Title, Text: m.Text, Components: m.Components, Matchers: m.Matchers,
		StartsAt: m.StartsAt, EndsAt: m.EndsAt, SilenceID: m.SilenceID, By: m.By.User,
		EndedAt: m.EndedAt, EndedBy: m.EndedBy.User, Cancelled: m.Cancelled()}
}

// enableMaintenances registers GET and POST /api/v1/pager/maintenances
// (POST needs an admin credential: it silences alerts).
func (h *Handler) enableMaintenances(ms MaintenanceScheduler) {
	h.Handle("GET /api/v1/pager/maintenances", h.wrap(func(r *http.Request) apiResult {
		list, err := ms.Maintenances()
		return listResult(list, err, maintenanceView)
	}))
	h.Handle("POST /api/v1/pager/maintenances", h.wrap(func(r *http.Request) apiResult {
		var b struct {
			actorBody
			Title      string    `json:"title"`
			Text       string    `json:"text"`
			Components []string  `json:"components"`
			Matchers   []string  `json:"matchers"`
			StartsAt   time.Time `json:"startsAt"`
			EndsAt     time.Time `json:"endsAt"`
		}
		if e := decodeBody(r, &b); e != nil {
			return apiResult{err: e}
		}
		m, err := ms.ScheduleMaintenance(pager.Maintenance{Title: b.Title, Text: b.Text, Components: b.Components,
			Matchers: b.Matchers, StartsAt: b.StartsAt, EndsAt: b.EndsAt}, b.actor(r))
		if err != nil {
			if errors.Is(err, pager.ErrBadMaintenance) {
				return apiResult{err: badData(err)}
			}
			return apiResult{err: maintenanceError(err)}
		}
		return apiResult{data: maintenanceView(m)}
	}))
}

// listResult answers a pager list through view (an empty JSON list, never
// null), or the pager's error.
func listResult[T, V any](list []T, err error, view func(T) V) apiResult {
	if err != nil {
		return apiResult{err: pagerError(err)}
	}
	out := make([]V, 0, len(list))
	for _, x := range list {
		out = append(out, view(x))
	}
	return apiResult{data: out}
}
