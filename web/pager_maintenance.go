package web

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/watchdog-sre/watchdog/pager"
)

// MaintenanceEnder ends maintenance windows early (*pager.Pager
// implements it): an upcoming window is cancelled, a running one ends
// now, and its silence is expired either way.
type MaintenanceEnder interface {
	EndMaintenance(id string, by pager.Actor) (pager.Maintenance, error)
}

// maintenanceFormLayout is the console form's date-time (an
// <input type="datetime-local">), read in UTC.
const maintenanceFormLayout = "2006-01-02T15:04"

// maxMaintenanceFormLines bounds the components and matchers a console
// form may name before the pager's own checks see them.
const maxMaintenanceFormLines = 100

// enableMaintenanceEnd registers POST /api/v1/pager/maintenances/{id}/end
// (admin, as scheduling is).
func (h *Handler) enableMaintenanceEnd(me MaintenanceEnder) {
	h.Handle("POST /api/v1/pager/maintenances/{id}/end", h.wrap(func(r *http.Request) apiResult {
		var b actorBody
		if e := decodeBody(r, &b); e != nil {
			return apiResult{err: e}
		}
		m, err := me.EndMaintenance(r.PathValue("id"), b.actor(r))
		if err != nil {
			return apiResult{err: maintenanceError(err)}
		}
		return apiResult{data: maintenanceView(m)}
	}))
}

func maintenanceError(err error) *apiError {
	if errors.Is(err, pager.ErrBadMaintenance) || errors.Is(err, pager.ErrInvalidSilence) {
		return badData(err)
	}
	return pagerError(err)
}

// consoleMaintenance serves the /maintenance page's forms for a signed-in
// person with the admin scope (a maintenance window silences alerts):
// action "schedule" (title, text, component checkboxes, matchers one a
// line, start and end as datetime-local in UTC) and action "end" (id).
func (h *Handler) consoleMaintenance(ms MaintenanceScheduler, w http.ResponseWriter, r *http.Request) {
	c, _, ok := h.checkForm(w, r)
	if !ok {
		return
	}
	if !c.HasScope(pager.ScopeAdmin) {
		h.plainPage(w, http.StatusForbidden, signinData{Title: "Not allowed",
			Text: "Scheduling maintenance silences alerts: it needs a token with the admin scope. Nothing was changed."})
		return
	}
	by := pager.Actor{User: c.User, Via: pager.ViaConsole}
	var err error
	switch r.PostFormValue("action") {
	case "schedule":
		var m pager.Maintenance
		if m, err = maintenanceForm(r); err == nil {
			_, err = ms.ScheduleMaintenance(m, by)
		}
	case "end":
		me, ok := ms.(MaintenanceEnder)
		if !ok {
			err = fmt.Errorf("%w: maintenance windows cannot be ended here", errBadForm)
			break
		}
		_, err = me.EndMaintenance(r.PostFormValue("id"), by)
	default:
		err = fmt.Errorf("%w: unknown action", errBadForm)
	}
	if err != nil {
		code := maintenanceError(err).status()
		if errors.Is(err, errBadForm) {
			code = http.StatusBadRequest
		}
		h.plainPage(w, code, signinData{Title: "Not done", Error: err.Error()})
		return
	}
	http.Redirect(w, r, "/maintenance", http.StatusSeeOther)
}

// maintenanceForm reads the schedule form into a window; the pager
// checks the rest (lengths, bounds, matchers).
func maintenanceForm(r *http.Request) (pager.Maintenance, error) {
	start, err1 := time.ParseInLocation(maintenanceFormLayout, r.PostFormValue("start"), time.UTC)
	end, err2 := time.ParseInLocation(maintenanceFormLayout, r.PostFormValue("end"), time.UTC)
	if err1 != nil || err2 != nil {
		return pager.Maintenance{}, fmt.Errorf("%w: start and end must be date-times such as 2026-03-02T14:00 (UTC)", errBadForm)
	}
	comps := r.PostForm["component"]
	matchers := nonEmptyLines(r.PostFormValue("matchers"))
	if len(comps) > maxMaintenanceFormLines || len(matchers) > maxMaintenanceFormLines {
		return pager.Maintenance{}, fmt.Errorf("%w: at most %d components and %d matchers", errBadForm, maxMaintenanceFormLines, maxMaintenanceFormLines)
	}
	if len(matchers) == 0 {
		return pager.Maintenance{}, fmt.Errorf("%w: name the alerts to silence, one matcher a line (e.g. service=\"checkout\")", errBadForm)
	}
	return pager.Maintenance{Title: r.PostFormValue("title"), Text: r.PostFormValue("text"), Components: comps,
		Matchers: matchers, StartsAt: start, EndsAt: end}, nil
}

// nonEmptyLines splits s into trimmed lines, dropping blank ones; it
// stops after one line more than maxMaintenanceFormLines.
func nonEmptyLines(s string) []string {
	var out []string
	for line := range strings.Lines(s) {
		if line = strings.TrimSpace(line); line != "" {
			out = append(out, line)
			if len(out) > maxMaintenanceFormLines {
				break
			}
		}
	}
	return out
}
