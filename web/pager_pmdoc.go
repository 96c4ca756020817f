package web

import (
	"bytes"
	"errors"
	"fmt"
	"html"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/microcosm-cc/bluemonday"
	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/extension"

	"github.com/watchdog-sre/watchdog/pager"
)

// Postmortems is what the postmortem API needs of the pager; *pager.Pager
// implements it.
type Postmortems interface {
	Incident(id string) (pager.IncidentState, []pager.TimelineEntry, error)
	Postmortem(id string) (pager.Postmortem, error)
	CreatePostmortem(id string, draft pager.PostmortemSections, by pager.Actor) (pager.Postmortem, error)
	EditPostmortem(id string, version int, s pager.PostmortemSections, by pager.Actor) (pager.Postmortem, error)
	SetPostmortemState(id string, version int, state pager.PostmortemState, by pager.Actor) (pager.Postmortem, error)
	AddActionItem(id string, it pager.ActionItem, by pager.Actor) (pager.ActionItem, error)
	SetActionItemStatus(id, itemID, status string, by pager.Actor) (pager.ActionItem, error)
	ActionItems(f pager.ActionItemFilter) ([]pager.ActionItemRef, error)
}

// markdown renders CommonMark with GitHub's tables, strikethrough,
// autolinks and task lists. Raw HTML is not passed through (goldmark's
// unsafe option stays off) and dangerous link schemes are dropped; the
// output is sanitised again by htmlPolicy.
var markdown = goldmark.New(goldmark.WithExtensions(extension.GFM))

// htmlPolicy is bluemonday's policy for user-generated content: no
// scripts, styles, event handlers or javascript:/data: URLs.
var htmlPolicy = bluemonday.UGCPolicy()

// RenderMarkdown renders Markdown src to sanitised HTML, safe to embed in
// a page.
func RenderMarkdown(src string) string {
	var buf bytes.Buffer
	if err := markdown.Convert([]byte(src), &buf); err != nil {
		return "<pre>" + html.EscapeString(src) + "</pre>"
	}
	return htmlPolicy.Sanitize(buf.String())
}

// DraftSections splits the generated draft (Postmortem) of an incident
// into the sections of a postmortem document: the facts table and impact
// into Impact, alerts and timeline into Timeline.
func DraftSections(st pager.IncidentState, tl []pager.TimelineEntry) pager.PostmortemSections {
	draft := Postmortem(st, tl)
	parts := strings.Split(draft, "\n## ")
	var s pager.PostmortemSections
	facts := parts[0]
	if i := strings.Index(facts, "\n| |"); i >= 0 {
		facts = facts[i+1:]
	}
	add := func(dst *string, text string) {
		text = strings.TrimSpace(text)
		if *dst != "" {
			*dst += "\n\n"
		}
		*dst += text
	}
	add(&s.Impact, facts)
	for _, p := range parts[1:] {
		head, body, _ := strings.Cut(p, "\n")
		switch head {
		case "Summary":
			add(&s.Summary, body)
		case "Impact":
			add(&s.Impact, body)
		case "Alerts":
			add(&s.Timeline, "**Alerts**\n\n"+strings.TrimSpace(body))
		case "Timeline":
			add(&s.Timeline, "**Events**\n\n"+strings.TrimSpace(body))
		case "Root cause":
			add(&s.RootCause, body)
		case "What went well / what went badly":
			add(&s.WentWell, body)
		}
	}
	s.ContributingFactors = "_What made it worse or slower to fix._"
	s.Lessons = "_What we learned; the follow-ups are the action items._"
	return s
}

// PostmortemMarkdown renders a stored postmortem document as one Markdown
// file: title, state, sections and action items.
func PostmortemMarkdown(pm *pager.Postmortem) string {
	var b strings.Builder
	title := pm.Title
	if title == "" {
		title = "incident " + pm.IncidentID
	}
	fmt.Fprintf(&b, "# Postmortem: %s (%s)\n\n", mdText(title), mdText(pm.IncidentID))
	fmt.Fprintf(&b, "_State: %s · version %d · last edited by %s at %s UTC_\n\n",
		strings.ReplaceAll(string(pm.State), "_", " "), pm.Version, mdCell(orDash(pm.UpdatedBy)), stamp(pm.UpdatedAt))
	for _, sec := range pager.PostmortemSectionList {
		fmt.Fprintf(&b, "## %s\n\n%s\n\n", sec.Heading, strings.TrimSpace(*sec.Field(&pm.Sections)))
	}
	b.WriteString("## Action items\n\n")
	if len(pm.ActionItems) == 0 {
		b.WriteString("None.\n")
		return b.String()
	}
	b.WriteString("| Action | Owner | Due | Status | Link |\n| --- | --- | --- | --- | --- |\n")
	for _, a := range pm.ActionItems {
		link := "-"
		if a.Link != "" {
			link = "<" + strings.NewReplacer("<", "%3C", ">", "%3E", "|", "%7C").Replace(a.Link) + ">"
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s |\n", mdCell(a.Title), mdCell(a.Owner), dueDate(a.Due), a.Status, link)
	}
	return b.String()
}

func dueDate(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.DateOnly)
}

// PostmortemHTML renders a stored postmortem document as a standalone,
// sanitised HTML page.
func PostmortemHTML(pm *pager.Postmortem) string {
	return "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Postmortem " +
		html.EscapeString(pm.IncidentID) + "</title></head><body>\n" + RenderMarkdown(PostmortemMarkdown(pm)) + "</body></html>\n"
}

// ---- API ----

func (a *pagerAPI) enablePostmortems(h *Handler, pms Postmortems) {
	api := func(pattern string, f apiFunc) { h.Handle(pattern, h.wrap(f)) }
	base := "/api/v1/pager/incidents/{id}/postmortem"
	api("POST "+base, func(r *http.Request) apiResult { return a.createPostmortem(pms, r) })
	api("PUT "+base, func(r *http.Request) apiResult { return a.editPostmortem(pms, r) })
	api("POST "+base+"/state", func(r *http.Request) apiResult { return a.postmortemState(pms, r) })
	api("POST "+base+"/action-items", func(r *http.Request) apiResult { return a.addActionItem(pms, r) })
	api("POST "+base+"/action-items/{item}", func(r *http.Request) apiResult { return a.setActionItem(pms, r) })
	api("POST /api/v1/pager/postmortem/preview", a.previewMarkdown)
	api("GET /api/v1/pager/action-items", func(r *http.Request) apiResult { return a.actionItems(pms, r) })
	for _, ext := range []string{".md", ".html"} {
		h.Handle("GET "+base+ext, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			a.exportPostmortem(h, pms, ext, w, r)
		}))
	}
}

func postmortemError(err error) *apiError {
	switch {
	case errors.Is(err, pager.ErrBadPostmortem):
		return badData(err)
	case errors.Is(err, pager.ErrStalePostmortem), errors.Is(err, pager.ErrPostmortemExists):
		return &apiError{typ: errorConflict, code: http.StatusConflict, msg: err.Error()}
	}
	return pagerError(err)
}

// exportPostmortem serves the stored document (or, before there is one,
// the generated draft) as Markdown or sanitised HTML.
func (a *pagerAPI) exportPostmortem(h *Handler, pms Postmortems, ext string, w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	pm, err := pms.Postmortem(id)
	if errors.Is(err, pager.ErrNotFound) {
		st, tl, ierr := pms.Incident(id)
		if ierr != nil {
			h.respondError(w, pagerError(fmt.Errorf("incident %s: %w", id, ierr)))
			return
		}
		pm, err = pager.Postmortem{IncidentID: id, Title: st.Title, State: pager.PostmortemDraft, Sections: DraftSections(st, tl)}, nil
	}
	if err != nil {
		h.respondError(w, pagerError(err))
		return
	}
	body := PostmortemMarkdown(&pm)
	w.Header().Set("Content-Type", "text/markdown; charset=utf-8")
	if ext == ".html" {
		body = PostmortemHTML(&pm)
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Content-Security-Policy", "default-src 'none'; img-src https: http:; style-src 'unsafe-inline'")
	}
	w.Header().Set("X-Content-Type-Options", "nosniff")
	if _, err := io.WriteString(w, body); err != nil {
		h.logger.Debug("write response", "err", err)
	}
}

func (a *pagerAPI) createPostmortem(pms Postmortems, r *http.Request) apiResult {
	var b actorBody
	if e := decodeBody(r, &b); e != nil {
		return apiResult{err: e}
	}
	id := r.PathValue("id")
	st, tl, err := pms.Incident(id)
	if err != nil {
		return apiResult{err: pagerError(err)}
	}
	pm, err := pms.CreatePostmortem(id, DraftSections(st, tl), b.actor(r))
	if err != nil {
		return apiResult{err: postmortemError(err)}
	}
	return apiResult{data: pm}
}

type editBody struct {
	actorBody
	Version  int                      `json:"version"`
	Sections pager.PostmortemSections `json:"sections"`
	State    pager.PostmortemState    `json:"state"`
}

func (a *pagerAPI) editPostmortem(pms Postmortems, r *http.Request) apiResult {
	var b editBody
	if e := decodeBody(r, &b); e != nil {
		return apiResult{err: e}
	}
	pm, err := pms.EditPostmortem(r.PathValue("id"), b.Version, b.Sections, b.actor(r))
	if err != nil {
		return apiResult{err: postmortemError(err)}
	}
	return apiResult{data: pm}
}

func (a *pagerAPI) postmortemState(pms Postmortems, r *http.Request) apiResult {
	var b editBody
	if e := decodeBody(r, &b); e != nil {
		return apiResult{err: e}
	}
	pm, err := pms.SetPostmortemState(r.PathValue("id"), b.Version, b.State, b.actor(r))
	if err != nil {
		return apiResult{err: postmortemError(err)}
	}
	return apiResult{data: pm}
}

func (a *pagerAPI) previewMarkdown(r *http.Request) apiResult {
	var b struct {
		Markdown string `json:"markdown"`
	}
	if e := decodeBody(r, &b); e != nil {
		return apiResult{err: e}
	}
	if len(b.Markdown) > pager.MaxPostmortemBytes {
		return apiResult{err: badData(fmt.Errorf("markdown longer than %d bytes", pager.MaxPostmortemBytes))}
	}
	return apiResult{data: map[string]string{"html": RenderMarkdown(b.Markdown)}}
}

type actionItemBody struct {
	actorBody
	Title  string `json:"title"`
	Owner  string `json:"owner"`
	Due    string `json:"due"` // YYYY-MM-DD
	Link   string `json:"link"`
	Status string `json:"status"`
}

func (a *pagerAPI) addActionItem(pms Postmortems, r *http.Request) apiResult {
	var b actionItemBody
	if e := decodeBody(r, &b); e != nil {
		return apiResult{err: e}
	}
	it := pager.ActionItem{Title: b.Title, Owner: b.Owner, Link: b.Link}
	if b.Due != "" {
		d, err := time.Parse(time.DateOnly, b.Due)
		if err != nil {
			return apiResult{err: invalidParam("due", errors.New("want YYYY-MM-DD"))}
		}
		it.Due = d
	}
	it, err := pms.AddActionItem(r.PathValue("id"), it, b.actor(r))
	if err != nil {
		return apiResult{err: postmortemError(err)}
	}
	return apiResult{data: it}
}

func (a *pagerAPI) setActionItem(pms Postmortems, r *http.Request) apiResult {
	var b actionItemBody
	if e := decodeBody(r, &b); e != nil {
		return apiResult{err: e}
	}
	it, err := pms.SetActionItemStatus(r.PathValue("id"), r.PathValue("item"), b.Status, b.actor(r))
	if err != nil {
		return apiResult{err: postmortemError(err)}
	}
	return apiResult{data: it}
}

func (a *pagerAPI) actionItems(pms Postmortems, r *http.Request) apiResult {
	q := r.URL.Query()
	f := pager.ActionItemFilter{Status: q.Get("status"), Owner: q.Get("owner")}
	if f.Status != "" && f.Status != pager.ActionOpen && f.Status != pager.ActionDone {
		return apiResult{err: invalidParam("status", errors.New("want open or done"))}
	}
	if s := q.Get("overdue"); s != "" {
		v, err := strconv.ParseBool(s)
		if err != nil {
			return apiResult{err: invalidParam("overdue", err)}
		}
		f.Overdue = v
	}
	l, err := pms.ActionItems(f)
	if err != nil {
		return apiResult{err: pagerError(err)}
	}
	if l == nil {
		l = []pager.ActionItemRef{}
	}
	return apiResult{data: l}
}
