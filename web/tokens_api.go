package web

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/watchdog-sre/watchdog/pager"
)

// apiToken is the JSON shape of a personal token; Secret only in the
// answer that creates it.
type apiToken struct {
	ID        string     `json:"id"`
	User      string     `json:"user"`
	Name      string     `json:"name,omitempty"`
	Scopes    []string   `json:"scopes"`
	CreatedAt time.Time  `json:"createdAt"`
	ExpiresAt *time.Time `json:"expiresAt,omitempty"`
	RevokedAt *time.Time `json:"revokedAt,omitempty"`
	Status    string     `json:"status"` // active, expired, revoked
	Secret    string     `json:"token,omitempty"`
}

func tokenView(c pager.Credential, now time.Time) apiToken {
	v := apiToken{ID: c.ID, User: c.User, Name: c.Name, Scopes: c.Scopes, CreatedAt: c.CreatedAt,
		ExpiresAt: optTime(c.ExpiresAt), RevokedAt: optTime(c.RevokedAt), Status: "active"}
	switch {
	case !c.RevokedAt.IsZero():
		v.Status = "revoked"
	case !c.ExpiresAt.IsZero() && !now.Before(c.ExpiresAt):
		v.Status = "expired"
	}
	return v
}

// peopleError maps credential errors onto the envelope.
func peopleError(err error) *apiError {
	switch {
	case errors.Is(err, pager.ErrBadScope), errors.Is(err, pager.ErrTooManyTokens):
		return &apiError{typ: errorBadData, msg: err.Error()}
	}
	return pagerError(err)
}

// createToken serves POST /api/v1/pager/tokens with {"user", "scopes":
// ["respond"], "name"?, "expires"?: "90d"}: the answer holds the secret,
// the only time it is shown.
func (a *pagerAPI) createToken(r *http.Request) apiResult {
	var b struct {
		User    string   `json:"user"`
		Name    string   `json:"name"`
		Scopes  []string `json:"scopes"`
		Expires string   `json:"expires"`
	}
	if e := decodeBody(r, &b); e != nil {
		return apiResult{err: e}
	}
	if strings.TrimSpace(b.User) == "" {
		return apiResult{err: badData(errors.New("user is required"))}
	}
	var ttl time.Duration
	if b.Expires != "" {
		d, err := ParseDuration(b.Expires)
		if err != nil || d <= 0 {
			return apiResult{err: invalidParam("expires", fmt.Errorf("a positive duration such as 90d"))}
		}
		ttl = d
	}
	secret, c, err := a.o.People.CreateToken(b.User, b.Name, b.Scopes, ttl)
	if err != nil {
		return apiResult{err: peopleError(err)}
	}
	v := tokenView(c, a.now())
	v.Secret = secret
	return apiResult{data: v}
}

// tokens serves GET /api/v1/pager/tokens?user=NAME: never the secrets
// (only their hashes are stored, and those are not shown either).
func (a *pagerAPI) tokens(r *http.Request) apiResult {
	list, err := a.o.People.Tokens(r.FormValue("user"))
	if err != nil {
		return apiResult{err: peopleError(err)}
	}
	now := a.now()
	out := make([]apiToken, 0, len(list))
	for _, c := range list {
		out = append(out, tokenView(c, now))
	}
	return apiResult{data: out}
}

// revokeToken serves DELETE /api/v1/pager/tokens/{id}.
func (a *pagerAPI) revokeToken(r *http.Request) apiResult {
	c, err := a.o.People.RevokeToken(r.PathValue("id"))
	if err != nil {
		return apiResult{err: peopleError(err)}
	}
	return apiResult{data: tokenView(c, a.now())}
}
