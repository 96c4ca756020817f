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
		if err != nil {
			return apiResult{err: pagerError(err)}
		}
		out := []apiStatusUpdate{}
		for _, u := range list {
			out = append(out, statusUpdateView(u))
		}
		return apiResult{data: out}
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
