package web

import (
	"errors"
	"html/template"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/watchdog-sre/watchdog/pager"
)

// handleOpen registers handler like Handle, with request counting and the
// body limit but without the token check: for endpoints whose request
// carries its own authorisation (a signed acknowledge link).
func (h *Handler) handleOpen(pattern string, handler http.Handler) {
	path := pattern
	if i := strings.IndexByte(path, ' '); i >= 0 {
		path = strings.TrimSpace(path[i+1:])
	}
	requests := func(code int) *metrics.Counter {
		return h.metrics.GetOrCreateCounter(`watchdog_http_requests_total{handler=` +
			strconv.Quote(path) + `,code="` + strconv.Itoa(code) + `"}`)
	}
	h.mux.Handle(pattern, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &statusRecorder{ResponseWriter: w, code: http.StatusOK}
		defer func() { requests(rec.code).Inc() }()
		if r.Body != nil {
			r.Body = http.MaxBytesReader(rec, r.Body, MaxRequestBodyBytes)
		}
		handler.ServeHTTP(rec, r)
	}))
}

var ackPage = template.Must(template.New("ack").Parse(`<!doctype html>
<html><head><meta charset="utf-8"><meta name="robots" content="noindex,nofollow">
<title>Watchdog: {{.Title}}</title>
<style>body{font-family:sans-serif;margin:3em auto;max-width:36em}button{font-size:1.2em;padding:.4em 1.2em}
dt{font-weight:bold}</style></head>
<body><h1>{{.Title}}</h1><p>{{.Text}}</p>
{{- with .Incident}}
<dl><dt>Incident</dt><dd>{{.ID}}: {{.Title}}</dd><dt>Status</dt><dd>{{.Status}}</dd>
<dt>Opened</dt><dd>{{.CreatedAt.UTC.Format "2006-01-02 15:04:05 MST"}}</dd></dl>
{{- end}}
{{- if .Action}}
<form method="post" action="{{.Action}}"><input type="hidden" name="confirm" value="ack">
<button type="submit">Acknowledge as {{.User}}</button></form>
{{- end}}
</body></html>
`))

// ackPageData fills ackPage. Action, when set, is the URL the
// Acknowledge button posts to.
type ackPageData struct {
	Title, Text, User, Action string
	Incident                  *pager.IncidentState
}

// ackCSRF refuses cross-origin browser POSTs to ack links (the link token
// is the credential, but a page elsewhere should not be able to make a
// browser that holds one use it).
var ackCSRF = http.NewCrossOriginProtection()

// ackLink serves /ack/{token}, the acknowledge link put in pages.
//
// GET and HEAD change nothing: they show a confirmation page naming the
// incident and the user the link is for, with an Acknowledge button that
// POSTs to the same URL. Link unfurlers (Slack, Teams) and mail scanners
// fetch links with GET, so acknowledging on GET would stop escalation
// with no human involved. Only POST acknowledges, and only a same-origin
// or non-browser one. The token's signature and expiry are its
// authorisation; a forged or expired token gets 403, a link whose
// incident is gone (a lost database, a number now used by another
// incident) 410, and neither changes anything. Every answer is no-store,
// noindex and sends no referrer (the URL is a credential).
func (a *pagerAPI) ackLink(w http.ResponseWriter, r *http.Request) {
	page := func(code int, d ackPageData) {
		h := w.Header()
		h.Set("Content-Type", "text/html; charset=utf-8")
		h.Set("Cache-Control", "no-store")
		h.Set("X-Robots-Tag", "noindex, nofollow")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'")
		w.WriteHeader(code)
		_ = ackPage.Execute(w, d)
	}
	post := r.Method == http.MethodPost
	if post {
		if err := ackCSRF.Check(r); err != nil {
			page(http.StatusForbidden, ackPageData{Title: "Cross-site request refused",
				Text: "Acknowledge from the link itself. Nothing was changed."})
			return
		}
	}
	token := r.PathValue("token")
	var (
		claim pager.AckClaim
		st    pager.IncidentState
		err   error
	)
	if post {
		claim, err = a.o.Pager.AckToken(token)
	} else {
		claim, st, err = a.o.Pager.AckLink(token)
	}
	id := claim.IncidentID
	switch {
	case errors.Is(err, pager.ErrAckExpired):
		page(http.StatusForbidden, ackPageData{Title: "Link expired",
			Text: "This acknowledge link has expired. Nothing was changed; acknowledge the incident in the console, API or CLI."})
		return
	case errors.Is(err, pager.ErrNoAckKey):
		page(http.StatusNotFound, ackPageData{Title: "Acknowledge links are disabled", Text: "Nothing was changed."})
		return
	case errors.Is(err, pager.ErrAckForged):
		page(http.StatusForbidden, ackPageData{Title: "Invalid link",
			Text: "This acknowledge link is not valid (it was altered or signed with another key). Nothing was changed."})
		return
	case errors.Is(err, pager.ErrAckGone):
		page(http.StatusGone, ackPageData{Title: "This incident no longer exists",
			Text: "The incident this link was sent for (" + id + ") is not in the pager's database any more (the database " +
				"was replaced or lost); an incident now numbered " + id + " is a different one. Nothing was changed."})
		return
	case post && err == nil && answeredRequest(a.o.Pager, id, claim.User):
		// The link was a request to help: its user acknowledged their part.
		page(http.StatusOK, ackPageData{Title: "Acknowledged", Text: claim.User + " acknowledged the request to help with incident " + id +
			" at " + a.now().UTC().Format(time.RFC3339) + ". Your pages for it have stopped; the incident is not acknowledged by this."})
		return
	case post && err == nil:
		page(http.StatusOK, ackPageData{Title: "Acknowledged", Text: "Incident " + id + " is acknowledged by " + claim.User +
			" at " + a.now().UTC().Format(time.RFC3339) + ". Escalation has stopped."})
		return
	case post && (errors.Is(err, pager.ErrNotTriggered) || errors.Is(err, pager.ErrResolved)):
		if st, _, err = a.o.Pager.Incident(id); err != nil {
			page(http.StatusInternalServerError, ackPageData{Title: "Error", Text: "Reading incident " + id + " failed: " + err.Error()})
			return
		}
	case err != nil:
		page(http.StatusInternalServerError, ackPageData{Title: "Error", Text: "Incident " + id + ": " + err.Error()})
		return
	}
	// A confirmation (GET), or a POST that found nothing to do.
	d := ackPageData{User: claim.User, Incident: &st}
	switch {
	case st.Status == pager.StatusResolved:
		d.Title, d.Text = "Already resolved", "Incident "+id+" is resolved. Nothing was changed."
	case st.Requested(claim.User):
		d.Title = "Acknowledge your request to help with incident " + id + "?"
		d.Text = claim.User + " was asked to help with this incident. The button acknowledges that request: your pages " +
			"for it stop; the incident itself is not acknowledged. Opening the link changed nothing."
		d.Action = r.URL.EscapedPath()
	case st.Status == pager.StatusAcknowledged:
		by := ""
		if st.AckedBy != "" {
			by = " by " + st.AckedBy
		}
		d.Title, d.Text = "Already acknowledged", "Incident "+id+" was already acknowledged"+by+". Nothing was changed."
	default:
		d.Title = "Acknowledge incident " + id + "?"
		d.Text = "This link acknowledges the incident for " + claim.User + ": escalation stops. Opening the link " +
			"changed nothing; press the button to acknowledge."
		d.Action = r.URL.EscapedPath()
	}
	page(http.StatusOK, d)
}

// answeredRequest reports whether user's ack of incident id answered a
// request to help (the incident is not acknowledged by user, their
// request is).
func answeredRequest(p Pager, id, user string) bool {
	st, _, err := p.Incident(id)
	if err != nil || st.AckedBy == user {
		return false
	}
	for _, r := range st.Responders {
		if r.User == user {
			return r.Status == pager.ResponderAcknowledged
		}
	}
	return false
}

// HandleOpen registers a public route that needs no credential even for
// POST (e.g. the status page's subscription forms, which act on
// unguessable link tokens of their own); requests are counted and bodies
// bounded like the API's.
func (h *Handler) HandleOpen(pattern string, handler http.Handler) { h.handleOpen(pattern, handler) }
