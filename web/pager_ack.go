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
<html><head><meta charset="utf-8"><title>Watchdog: {{.Title}}</title>
<style>body{font-family:sans-serif;margin:3em auto;max-width:36em}</style></head>
<body><h1>{{.Title}}</h1><p>{{.Text}}</p></body></html>
`))

// ackLink serves GET and POST /ack/{token}: the one-click acknowledge of a
// page. The token's signature and expiry are its authorisation; a forged
// or expired token is refused with 403 and changes nothing.
func (a *pagerAPI) ackLink(w http.ResponseWriter, r *http.Request) {
	page := func(code int, title, text string) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(code)
		_ = ackPage.Execute(w, struct{ Title, Text string }{title, text})
	}
	id, user, err := a.o.Pager.VerifyAck(r.PathValue("token"))
	switch {
	case errors.Is(err, pager.ErrAckExpired):
		page(http.StatusForbidden, "Link expired",
			"This acknowledge link has expired. Nothing was changed; acknowledge the incident in the API or CLI.")
		return
	case errors.Is(err, pager.ErrNoAckKey):
		page(http.StatusNotFound, "Acknowledge links are disabled", "Nothing was changed.")
		return
	case err != nil:
		page(http.StatusForbidden, "Invalid link",
			"This acknowledge link is not valid (it was altered or signed with another key). Nothing was changed.")
		return
	}
	err = a.o.Pager.Ack(id, user)
	switch {
	case err == nil:
		page(http.StatusOK, "Acknowledged", "Incident "+id+" is acknowledged by "+user+" at "+
			a.now().UTC().Format(time.RFC3339)+". Escalation has stopped.")
	case errors.Is(err, pager.ErrNotTriggered), errors.Is(err, pager.ErrResolved):
		st, _, _ := a.o.Pager.Incident(id)
		if st.Status == pager.StatusResolved {
			page(http.StatusOK, "Already resolved", "Incident "+id+" is resolved. Nothing was changed.")
			return
		}
		by := ""
		if st.AckedBy != "" {
			by = " by " + st.AckedBy
		}
		page(http.StatusOK, "Already acknowledged", "Incident "+id+" was already acknowledged"+by+". Nothing was changed.")
	case errors.Is(err, pager.ErrNotFound):
		page(http.StatusNotFound, "Unknown incident", "Incident "+id+" does not exist. Nothing was changed.")
	default:
		page(http.StatusInternalServerError, "Error", "Acknowledging incident "+id+" failed: "+err.Error())
	}
}
