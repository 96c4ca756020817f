package web

import (
	"context"
	"net/http"
	"strings"

	"github.com/watchdog-sre/watchdog/pager"
)

// operatorActor is the user of requests made with the shared API token
// that name nobody: the operator's key.
const operatorActor = "operator"

// Identity is who a request was authenticated as: a person (a personal
// token or a console session) or, with Operator set, the shared API
// token.
type Identity struct {
	// User is the person; "" for the shared API token.
	User string
	// Scopes the person's credential grants (pager.ScopeRespond,
	// pager.ScopeAdmin); the shared API token has every scope.
	Scopes []string
	// Operator is set for the shared API token.
	Operator bool
	// Via is how the person reached the watchdog when the credential
	// says so (pager.ViaConsole for a console session), else "".
	Via string
}

type identityKey struct{}

// WithIdentity returns ctx carrying id.
func WithIdentity(ctx context.Context, id Identity) context.Context {
	return context.WithValue(ctx, identityKey{}, id)
}

// IdentityFrom returns the identity the request was authenticated as, if
// any.
func IdentityFrom(ctx context.Context) (Identity, bool) {
	id, ok := ctx.Value(identityKey{}).(Identity)
	return id, ok
}

// clientVias are the values a request body's "via" may claim: the
// clients of the JSON API. The way a verified channel (SMS, a link) acts
// is set by its own handler, never by a request body.
var clientVias = map[string]bool{pager.ViaAPI: true, pager.ViaCLI: true, pager.ViaConsole: true}

// actorBody is the part every action body shares.
type actorBody struct {
	// By names who acts. It counts only for the shared API token (the
	// operator's key, whose holder may act for anyone); a personal token
	// acts as its user, whatever By says.
	By string `json:"by"`
	// Via is the client: "api" (default), "cli" or "console".
	Via string `json:"via"`
}

// actor returns who acts for request r with body b.
func (b actorBody) actor(r *http.Request) pager.Actor {
	via := pager.ViaAPI
	if clientVias[b.Via] {
		via = b.Via
	}
	id, _ := IdentityFrom(r.Context())
	if id.Via != "" {
		via = id.Via
	}
	if id.User != "" {
		return pager.Actor{User: id.User, Via: via}
	}
	if s := strings.TrimSpace(b.By); s != "" {
		return pager.Actor{User: s, Via: via}
	}
	return pager.Actor{User: operatorActor, Via: via}
}
