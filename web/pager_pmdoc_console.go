package web

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/watchdog-sre/watchdog/pager"
)

// consolePostmortem handles the postmortem page's forms for the signed-in
// person (session, cross-origin check and CSRF token as for incident
// actions): create from the draft, save a section, change the state, add
// and close action items, and preview (answered as JSON {"html": …}).
func (h *Handler) consolePostmortem(pms Postmortems, w http.ResponseWriter, r *http.Request) {
	by, ok := h.checkResponderForm(w, r)
	if !ok {
		return
	}
	id := r.PathValue("id")
	version, _ := strconv.Atoi(r.PostFormValue("version"))
	text := r.PostFormValue("text")
	var err error
	switch action := r.PostFormValue("action"); {
	case action == "preview":
		if len(text) > pager.MaxPostmortemBytes {
			text = text[:pager.MaxPostmortemBytes]
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		_ = json.NewEncoder(w).Encode(map[string]string{"html": RenderMarkdown(text)})
		return
	case action == "create":
		var st pager.IncidentState
		var tl []pager.TimelineEntry
		if st, tl, err = pms.Incident(id); err == nil {
			_, err = pms.CreatePostmortem(id, DraftSections(st, tl), by)
		}
	case action == "save":
		err = h.saveSection(pms, id, version, r.PostFormValue("section"), text, by)
	case r.PostFormValue("state") != "":
		_, err = pms.SetPostmortemState(id, version, pager.PostmortemState(r.PostFormValue("state")), by)
	case action == "add-item":
		it := pager.ActionItem{Title: r.PostFormValue("title"), Owner: r.PostFormValue("owner"), Link: strings.TrimSpace(r.PostFormValue("link"))}
		if due := r.PostFormValue("due"); due != "" {
			if it.Due, err = time.Parse(time.DateOnly, due); err != nil {
				err = fmt.Errorf("%w: the due date must be YYYY-MM-DD", pager.ErrBadPostmortem)
				break
			}
		}
		_, err = pms.AddActionItem(id, it, by)
	case action == "item-done", action == "item-open":
		_, err = pms.SetActionItemStatus(id, r.PostFormValue("item"), strings.TrimPrefix(action, "item-"), by)
	default:
		err = fmt.Errorf("%w: unknown action", errBadForm)
	}
	if err != nil {
		code := postmortemError(err).status()
		if errors.Is(err, errBadForm) {
			code = http.StatusBadRequest
		}
		d := signinData{Title: "Not done", Error: err.Error()}
		if errors.Is(err, pager.ErrStalePostmortem) {
			d.Text = "Someone changed the postmortem since you loaded it. Nothing was saved; your text is kept here to copy: " + text
		}
		h.plainPage(w, code, d)
		return
	}
	http.Redirect(w, r, "/incidents/"+url.PathEscape(id)+"/postmortem", http.StatusSeeOther)
}

// saveSection replaces one section of the stored document at version.
func (h *Handler) saveSection(pms Postmortems, id string, version int, key, text string, by pager.Actor) error {
	pm, err := pms.Postmortem(id)
	if err != nil {
		return err
	}
	for _, sec := range pager.PostmortemSectionList {
		if sec.Key == key {
			*sec.Field(&pm.Sections) = text
			_, err := pms.EditPostmortem(id, version, pm.Sections, by)
			return err
		}
	}
	return fmt.Errorf("%w: unknown section %q", errBadForm, key)
}
