package web

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/watchdog-sre/watchdog/pager"
)

// Console sessions.
//
// Signing in exchanges a personal token for a server-side session kept
// in the pager's database (pager.CredSession: it survives a restart,
// every replica sees it, and revoking the token or signing out ends it at
// once). The browser holds only the session secret, in an HttpOnly,
// SameSite=Strict cookie (Secure over TLS or when the external URL is
// https). Every state-changing console form carries a CSRF token derived
// from the session secret (so a page that cannot read the cookie cannot
// know it) and must pass the cross-origin check (Sec-Fetch-Site, else
// Origin against Host).

// errBadForm: a console form with a missing or invalid field.
var errBadForm = errors.New("invalid form")

// SessionCookie is the name of the console's session cookie.
const SessionCookie = "watchdog_session"

// defaultSessionTTL is how long a console session lasts.
const defaultSessionTTL = 12 * time.Hour

// consoleCSRF refuses cross-origin browser POSTs to the console's forms.
var consoleCSRF = http.NewCrossOriginProtection()

// CSRFToken returns the CSRF token of the session with secret.
func CSRFToken(sessionSecret string) string {
	h := sha256.Sum256([]byte("watchdog-csrf\x00" + sessionSecret))
	return hex.EncodeToString(h[:])
}

// ConsoleSession returns the signed-in person of r and the CSRF token
// the console's forms must carry, if r has a live session.
func (h *Handler) ConsoleSession(r *http.Request) (user, csrf string, ok bool) {
	c, secret, ok := h.session(r)
	if !ok {
		return "", "", false
	}
	return c.User, CSRFToken(secret), true
}

func (h *Handler) session(r *http.Request) (pager.Credential, string, bool) {
	if h.people == nil {
		return pager.Credential{}, "", false
	}
	ck, err := r.Cookie(SessionCookie)
	if err != nil || !pager.IsPersonalSecret(ck.Value) {
		return pager.Credential{}, "", false
	}
	c, err := h.people.Session(ck.Value)
	if err != nil {
		return pager.Credential{}, "", false
	}
	return c, ck.Value, true
}

var signinPage = template.Must(template.New("signin").Parse(`<!doctype html>
<html><head><meta charset="utf-8"><meta name="robots" content="noindex,nofollow">
<title>Watchdog: sign in</title>
<style>body{font-family:sans-serif;margin:3em auto;max-width:36em}input,button{font-size:1.1em;padding:.3em}
.error{color:#b00}</style></head>
<body><h1>{{.Title}}</h1>
{{- with .Error}}<p class="error" id="signin-error">{{.}}</p>{{end}}
{{- with .Text}}<p>{{.}}</p>{{end}}
{{- if .Form}}
<form method="post" action="/signin" id="signin-form">
<input type="hidden" name="next" value="{{.Next}}">
<p><label for="token">Personal token</label><br>
<input id="token" name="token" type="password" autocomplete="current-password" size="50" required></p>
<p><button id="signin" type="submit">Sign in</button></p>
</form>
<p>Create a token with <code>watchdog pager user token create --user NAME --scope respond</code>.</p>
{{- end}}
<p><a href="/">Back to the console</a></p>
</body></html>
`))

type signinData struct {
	Title, Error, Text, Next string
	Form                     bool
}

func (h *Handler) plainPage(w http.ResponseWriter, code int, d signinData) {
	hd := w.Header()
	hd.Set("Content-Type", "text/html; charset=utf-8")
	hd.Set("Cache-Control", "no-store")
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("X-Frame-Options", "DENY")
	hd.Set("Referrer-Policy", "same-origin")
	hd.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'")
	w.WriteHeader(code)
	_ = signinPage.Execute(w, d)
}

// localNext returns next if it is a path on this server, else "/".
func localNext(next string) string {
	u, err := url.Parse(next)
	if err != nil || next == "" || !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") ||
		strings.Contains(next, "\\") || u.Host != "" || u.Scheme != "" || len(next) > 2048 {
		return "/"
	}
	return next
}

// sessionRoutes registers the console's sign-in, sign-out and incident
// forms.
func (h *Handler) sessionRoutes(a *pagerAPI) {
	h.handleOpen("GET /signin", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.plainPage(w, http.StatusOK, signinData{Title: "Sign in", Form: true, Next: localNext(r.FormValue("next"))})
	}))
	h.handleOpen("POST /signin", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { h.signin(a, w, r) }))
	h.handleOpen("POST /signout", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { h.signout(a, w, r) }))
	h.handleOpen("POST /incidents/{id}/act", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { h.consoleAct(a, w, r) }))
}

func (h *Handler) secureCookie(a *pagerAPI, r *http.Request) bool {
	return r.TLS != nil || a.o.SecureCookies
}

func (h *Handler) signin(a *pagerAPI, w http.ResponseWriter, r *http.Request) {
	if err := consoleCSRF.Check(r); err != nil {
		h.plainPage(w, http.StatusForbidden, signinData{Title: "Cross-site request refused", Text: "Sign in from the console itself."})
		return
	}
	next := localNext(r.PostFormValue("next"))
	now := h.now()
	if h.failures.blocked(r, now) {
		w.Header().Set("Retry-After", "60")
		h.plainPage(w, http.StatusTooManyRequests, signinData{Title: "Sign in", Error: "Too many failed attempts; try again in a minute.", Form: true, Next: next})
		return
	}
	secret, _, err := h.people.StartSession(strings.TrimSpace(r.PostFormValue("token")), a.o.SessionTTL)
	switch {
	case errors.Is(err, pager.ErrBadCredential):
		h.failures.fail(r, now)
		h.plainPage(w, http.StatusUnauthorized, signinData{Title: "Sign in", Error: "That token is invalid, revoked or expired.", Form: true, Next: next})
		return
	case err != nil:
		h.plainPage(w, http.StatusServiceUnavailable, signinData{Title: "Sign in", Error: "Signing in failed: " + err.Error(), Form: true, Next: next})
		return
	}
	http.SetCookie(w, &http.Cookie{Name: SessionCookie, Value: secret, Path: "/", MaxAge: int(a.o.SessionTTL / time.Second),
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: h.secureCookie(a, r)})
	http.Redirect(w, r, next, http.StatusSeeOther)
}

// checkForm authenticates a console form: a live session, the
// cross-origin check and the session's CSRF token. It writes the refusal
// when one fails.
func (h *Handler) checkForm(w http.ResponseWriter, r *http.Request) (pager.Credential, string, bool) {
	if err := consoleCSRF.Check(r); err != nil {
		h.plainPage(w, http.StatusForbidden, signinData{Title: "Cross-site request refused", Text: "Nothing was changed."})
		return pager.Credential{}, "", false
	}
	c, secret, ok := h.session(r)
	if !ok {
		h.plainPage(w, http.StatusUnauthorized, signinData{Title: "Not signed in",
			Text: "Sign in to act from the console. Nothing was changed.", Form: true, Next: localNext(r.Referer())})
		return c, "", false
	}
	want := CSRFToken(secret)
	if subtle.ConstantTimeCompare([]byte(r.PostFormValue("csrf")), []byte(want)) != 1 {
		h.plainPage(w, http.StatusForbidden, signinData{Title: "Form expired", Text: "Reload the page and try again. Nothing was changed."})
		return c, "", false
	}
	return c, secret, true
}

func (h *Handler) signout(a *pagerAPI, w http.ResponseWriter, r *http.Request) {
	_, secret, ok := h.checkForm(w, r)
	if !ok {
		return
	}
	if err := h.people.EndSession(secret); err != nil {
		h.plainPage(w, http.StatusServiceUnavailable, signinData{Title: "Sign out failed", Error: err.Error()})
		return
	}
	http.SetCookie(w, &http.Cookie{Name: SessionCookie, Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: h.secureCookie(a, r)})
	http.Redirect(w, r, "/signin", http.StatusSeeOther)
}

// checkResponderForm checks a console form (cross-origin check, session,
// CSRF token) of a person with the respond scope and returns them as the
// actor, Via "console"; otherwise it has answered and ok is false.
func (h *Handler) checkResponderForm(w http.ResponseWriter, r *http.Request) (by pager.Actor, ok bool) {
	c, _, ok := h.checkForm(w, r)
	if !ok {
		return pager.Actor{}, false
	}
	if !c.HasScope(pager.ScopeRespond) {
		h.plainPage(w, http.StatusForbidden, signinData{Title: "Not allowed", Text: "Your token lacks the respond scope."})
		return pager.Actor{}, false
	}
	return pager.Actor{User: c.User, Via: pager.ViaConsole}, true
}

// consoleAct serves the incident page's form: action (ack, resolve,
// escalate, snooze with duration, note with text, responders with targets
// and message, respond, decline, status_update with status and update_text) as
// the signed-in person, Via "console".
func (h *Handler) consoleAct(a *pagerAPI, w http.ResponseWriter, r *http.Request) {
	by, ok := h.checkResponderForm(w, r)
	if !ok {
		return
	}
	id := r.PathValue("id")
	var err error
	switch action := r.PostFormValue("action"); action {
	case "ack":
		err = a.o.Pager.Ack(id, by)
	case "resolve":
		err = a.o.Pager.Resolve(id, by)
	case "escalate":
		err = a.o.Pager.EscalateNow(id, by)
	case "snooze":
		var d time.Duration
		if d, err = ParseDuration(r.PostFormValue("duration")); err != nil {
			err = fmt.Errorf("%w: %w", errBadForm, err)
		} else {
			err = a.o.Pager.Snooze(id, by, h.now().Add(d))
		}
	case "note":
		text := r.PostFormValue("text")
		switch {
		case strings.TrimSpace(text) == "":
			err = fmt.Errorf("%w: write a note first", errBadForm)
		case len(text) > maxNoteBytes:
			err = fmt.Errorf("%w: the note is longer than %d bytes", errBadForm, maxNoteBytes)
		default:
			err = a.o.Pager.Note(id, by, text)
		}
	case "responders":
		var req pager.ResponderRequest
		if req, err = parseResponderTargets(r.PostFormValue("targets")); err == nil {
			req.Message = r.PostFormValue("message")
			err = a.o.Pager.AddResponders(id, by, req)
		}
	case "respond", "decline":
		err = a.o.Pager.RespondToRequest(id, by, action == "decline")
	case "status_update":
		err = consoleStatusUpdate(a.o.Pager, id, by, r)
	default:
		err = fmt.Errorf("%w: unknown action", errBadForm)
	}
	if err != nil {
		code := pagerError(err).status()
		if errors.Is(err, errBadForm) {
			code = http.StatusBadRequest
		}
		h.plainPage(w, code, signinData{Title: "Not done", Error: err.Error()})
		return
	}
	http.Redirect(w, r, "/incidents/"+url.PathEscape(id), http.StatusSeeOther)
}
