package web

import (
	"crypto/subtle"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/watchdog-sre/watchdog/pager"
)

// People verifies and manages personal tokens and console sessions.
// *pager.Pager implements it.
type People interface {
	Authenticate(secret string) (pager.Credential, error)
	CreateToken(user, name string, scopes []string, ttl time.Duration) (string, pager.Credential, error)
	Tokens(user string) ([]pager.Credential, error)
	RevokeToken(id string) (pager.Credential, error)
	StartSession(tokenSecret string, ttl time.Duration) (string, pager.Credential, error)
	Session(secret string) (pager.Credential, error)
	EndSession(secret string) error
}

// Limits of failed sign-ins and personal-token checks.
const (
	// maxAuthFailures failed attempts per client address per
	// authFailureWindow; more answer 429 without looking at the secret.
	maxAuthFailures   = 20
	authFailureWindow = time.Minute
	// maxAuthClients bounds the addresses tracked; beyond it every new
	// address shares one budget.
	maxAuthClients = 4096
)

// failures counts failed authentication attempts per client address in
// fixed windows.
type failures struct {
	mu     sync.Mutex
	window time.Time
	count  map[string]int
}

func clientKey(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// blocked reports whether r's client failed too often in this window.
func (f *failures) blocked(r *http.Request, now time.Time) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.roll(now)
	return f.count[f.key(r)] >= maxAuthFailures
}

// fail counts a failed attempt of r's client.
func (f *failures) fail(r *http.Request, now time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.roll(now)
	f.count[f.key(r)]++
}

func (f *failures) roll(now time.Time) {
	if f.count == nil || now.Sub(f.window) >= authFailureWindow || now.Before(f.window) {
		f.window, f.count = now, map[string]int{}
	}
}

func (f *failures) key(r *http.Request) string {
	k := clientKey(r)
	if _, ok := f.count[k]; !ok && len(f.count) >= maxAuthClients {
		return "*"
	}
	return k
}

// respondPaths are the endpoints the respond scope reaches: actions on
// incidents.
func respondPath(path string) bool {
	rest, ok := strings.CutPrefix(path, "/api/v1/pager/incidents/{id}/")
	return ok && !strings.Contains(rest, "/")
}

// tokenPaths are the endpoints where every method needs a credential, even
// GET: the personal tokens (the list names the users and their tokens) and
// the runtime profiles (see pprofPath).
func tokenPath(path string) bool {
	return strings.HasPrefix(path, "/api/v1/pager/tokens") || pprofPath(path)
}

// authorize checks the credential of a state-changing request and
// writes the refusal when it fails; it returns the request carrying the
// Identity it was authenticated as.
func (h *Handler) authorize(w http.ResponseWriter, r *http.Request, path string) (*http.Request, bool) {
	refuse := func(code int, msg string) (*http.Request, bool) {
		if code == http.StatusUnauthorized {
			w.Header().Set("WWW-Authenticate", `Bearer realm="watchdog"`)
		}
		if strings.HasPrefix(path, "/api/") {
			h.respondError(w, &apiError{typ: errorUnauthorized, code: code, msg: msg})
		} else {
			http.Error(w, msg, code)
		}
		return r, false
	}
	people := h.people
	if len(h.token) == 0 && people == nil {
		return refuse(http.StatusForbidden,
			"state-changing requests are disabled: no API token is configured")
	}
	got, ok := BearerToken(r.Header)
	if !ok {
		return refuse(http.StatusUnauthorized, "missing bearer token")
	}
	if len(h.token) > 0 && subtle.ConstantTimeCompare([]byte(got), h.token) == 1 {
		return r.WithContext(WithIdentity(r.Context(), Identity{Operator: true,
			Scopes: []string{pager.ScopeRespond, pager.ScopeAdmin}})), true
	}
	if people == nil || !pager.IsPersonalSecret(got) {
		return refuse(http.StatusUnauthorized, "invalid bearer token")
	}
	now := h.now()
	if h.failures.blocked(r, now) {
		w.Header().Set("Retry-After", fmt.Sprint(int(authFailureWindow/time.Second)))
		return refuse(http.StatusTooManyRequests, "too many failed authentication attempts; try again later")
	}
	c, err := people.Authenticate(got)
	switch {
	case errors.Is(err, pager.ErrBadCredential):
		h.failures.fail(r, now)
		return refuse(http.StatusUnauthorized, "invalid bearer token")
	case err != nil:
		return refuse(http.StatusServiceUnavailable, "checking the token failed: "+err.Error())
	}
	if !c.HasScope(pager.ScopeAdmin) && !(c.HasScope(pager.ScopeRespond) && respondPath(path)) {
		return refuse(http.StatusForbidden, "the token of "+c.User+" lacks the admin scope this request needs")
	}
	return r.WithContext(WithIdentity(r.Context(), Identity{User: c.User, Scopes: c.Scopes})), true
}
