package pager

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// Credential kinds.
const (
	// CredToken is a personal API token.
	CredToken = "token"
	// CredSession is a console session, opened by signing in with a
	// personal token.
	CredSession = "session"
)

// Scopes of personal tokens.
const (
	// ScopeRespond acts on incidents: ack, resolve, snooze, escalate,
	// reassign, note, declare major.
	ScopeRespond = "respond"
	// ScopeAdmin is everything the shared API token can do.
	ScopeAdmin = "admin"
)

// Credential errors.
var (
	// ErrBadCredential: the secret is unknown, malformed, revoked or
	// expired, or its user left the config. One error for all, so that a
	// caller learns nothing about which.
	ErrBadCredential = errors.New("invalid, revoked or expired credential")
	// ErrBadScope: a scope other than respond and admin.
	ErrBadScope = errors.New("unknown scope")
	// ErrTooManyTokens: the user holds MaxTokensPerUser live tokens.
	ErrTooManyTokens = errors.New("too many tokens")
)

// Credential bounds.
const (
	// MaxTokensPerUser bounds a user's live (not revoked, not expired)
	// tokens.
	MaxTokensPerUser = 50
	// MaxSessionsPerUser bounds a user's live console sessions: signing
	// in beyond it ends the oldest.
	MaxSessionsPerUser = 20
	// MaxTokenNameBytes bounds a token's name.
	MaxTokenNameBytes = 64
	// MaxTokenLifetime bounds a token's expiry (ten years).
	MaxTokenLifetime = 3650 * 24 * time.Hour
	// maxSecretBytes bounds what Authenticate looks at.
	maxSecretBytes = 128
)

// Credential is a personal token or a console session. Only the
// SHA-256 of its secret is stored; the secret is "wdp_ID_RANDOM" (a
// token) or "wds_ID_RANDOM" (a session), RANDOM 256 random bits.
type Credential struct {
	ID     string
	Kind   string // CredToken or CredSession
	User   string
	Name   string // a token's label ("laptop")
	Scopes []string
	// Hash is the hex SHA-256 of the whole secret.
	Hash      string
	CreatedAt time.Time
	// ExpiresAt is zero for a token that does not expire.
	ExpiresAt time.Time
	RevokedAt time.Time `json:",omitempty"`
	// TokenID is the token a session was opened with: revoking the token
	// ends its sessions.
	TokenID string `json:",omitempty"`
}

// HasScope reports whether c grants scope (admin grants every scope).
func (c *Credential) HasScope(scope string) bool {
	return slices.Contains(c.Scopes, scope) || slices.Contains(c.Scopes, ScopeAdmin)
}

// live reports whether c is neither revoked nor expired at now.
func (c *Credential) live(now time.Time) bool {
	return c.RevokedAt.IsZero() && (c.ExpiresAt.IsZero() || now.Before(c.ExpiresAt))
}

func secretPrefix(kind string) string {
	if kind == CredSession {
		return "wds_"
	}
	return "wdp_"
}

// newSecret returns a fresh credential ID and secret of kind.
func newSecret(kind string) (id, secret string) {
	var idb [8]byte
	var rb [32]byte
	_, _ = rand.Read(idb[:])
	_, _ = rand.Read(rb[:])
	id = hex.EncodeToString(idb[:])
	return id, secretPrefix(kind) + id + "_" + base64.RawURLEncoding.EncodeToString(rb[:])
}

func hashSecret(secret string) string {
	h := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(h[:])
}

// IsPersonalSecret reports whether s has the shape of a personal token
// or session secret (it may still be invalid).
func IsPersonalSecret(s string) bool {
	return strings.HasPrefix(s, "wdp_") || strings.HasPrefix(s, "wds_")
}

// secretID returns the ID inside a secret of kind, or "".
func secretID(kind, secret string) string {
	if len(secret) > maxSecretBytes || !strings.HasPrefix(secret, secretPrefix(kind)) {
		return ""
	}
	id, _, ok := strings.Cut(secret[4:], "_")
	if !ok || len(id) != 16 || strings.Trim(id, "0123456789abcdef") != "" {
		return ""
	}
	return id
}

// normScopes checks and sorts scopes.
func normScopes(scopes []string) ([]string, error) {
	var out []string
	for _, s := range scopes {
		s = strings.TrimSpace(s)
		if s != ScopeRespond && s != ScopeAdmin {
			return nil, fmt.Errorf("%w %q (respond, admin)", ErrBadScope, s)
		}
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: at least one scope is required (respond, admin)", ErrBadScope)
	}
	slices.Sort(out)
	return out, nil
}

// CreateToken creates a personal token for user, a user of the config,
// with scopes (ScopeRespond, ScopeAdmin), a name and a lifetime (0: no
// expiry; at most MaxTokenLifetime). It returns the secret, which is
// shown once and never stored, and the token.
func (p *Pager) CreateToken(user, name string, scopes []string, ttl time.Duration) (string, Credential, error) {
	if p.config().User(user) == nil {
		return "", Credential{}, fmt.Errorf("create token: %w %q", ErrUnknownUser, user)
	}
	sc, err := normScopes(scopes)
	if err != nil {
		return "", Credential{}, fmt.Errorf("create token: %w", err)
	}
	if len(name) > MaxTokenNameBytes || !utf8.ValidString(name) || strings.ContainsFunc(name, isControl) {
		return "", Credential{}, fmt.Errorf("create token: name must be at most %d bytes of printable UTF-8", MaxTokenNameBytes)
	}
	if ttl < 0 || ttl > MaxTokenLifetime {
		return "", Credential{}, fmt.Errorf("create token: lifetime must be from 0 (never expires) to %s", MaxTokenLifetime)
	}
	now := p.now()
	id, secret := newSecret(CredToken)
	c := Credential{ID: id, Kind: CredToken, User: user, Name: name, Scopes: sc, Hash: hashSecret(secret), CreatedAt: now}
	if ttl > 0 {
		c.ExpiresAt = now.Add(ttl)
	}
	err = p.store.Update(func(tx Tx) error {
		all, err := tx.Credentials(CredToken, user)
		if err != nil {
			return err
		}
		n := 0
		for i := range all {
			if all[i].live(now) {
				n++
			}
		}
		if n >= MaxTokensPerUser {
			return fmt.Errorf("%w: %s holds %d live tokens; revoke some first", ErrTooManyTokens, user, n)
		}
		return tx.PutCredential(c)
	})
	if err != nil {
		return "", Credential{}, fmt.Errorf("create token: %w", err)
	}
	return secret, c, nil
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f }

// Tokens lists the personal tokens of user ("" for everyone), revoked
// and expired ones included, without their secrets (which are not
// stored).
func (p *Pager) Tokens(user string) ([]Credential, error) {
	var out []Credential
	err := p.store.View(func(tx ReadTx) error {
		var err error
		out, err = tx.Credentials(CredToken, user)
		return err
	})
	return out, err
}

// RevokeToken revokes the token with id and ends the console sessions
// opened with it; ErrNotFound if there is no such token. Every replica
// sharing the database refuses it from the next request.
func (p *Pager) RevokeToken(id string) (Credential, error) {
	var c Credential
	err := p.store.Update(func(tx Tx) error {
		var err error
		if c, err = tx.Credential(id); err != nil {
			return err
		}
		if c.Kind != CredToken {
			return ErrNotFound
		}
		if c.RevokedAt.IsZero() {
			c.RevokedAt = p.now()
			if err := tx.PutCredential(c); err != nil {
				return err
			}
		}
		sessions, err := tx.Credentials(CredSession, c.User)
		if err != nil {
			return err
		}
		for _, s := range sessions {
			if s.TokenID == id {
				if err := tx.DeleteCredential(s.ID); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return c, fmt.Errorf("revoke token %s: %w", id, err)
	}
	return c, nil
}

// Authenticate returns the live personal token whose secret this is,
// or ErrBadCredential. The secret's hash is compared in constant time.
func (p *Pager) Authenticate(secret string) (Credential, error) {
	return p.check(CredToken, secret)
}

// check finds the live credential of kind with secret.
func (p *Pager) check(kind, secret string) (Credential, error) {
	id := secretID(kind, secret)
	if id == "" {
		return Credential{}, ErrBadCredential
	}
	now := p.now()
	var c Credential
	err := p.store.View(func(tx ReadTx) error {
		var err error
		if c, err = tx.Credential(id); err != nil {
			return err
		}
		if kind == CredSession && c.TokenID != "" {
			t, err := tx.Credential(c.TokenID)
			if err != nil {
				return err
			}
			if !t.live(now) {
				return ErrBadCredential
			}
		}
		return nil
	})
	switch {
	case errors.Is(err, ErrNotFound), errors.Is(err, ErrBadCredential):
		return Credential{}, ErrBadCredential
	case err != nil:
		return Credential{}, fmt.Errorf("authenticate: %w", err)
	}
	want := hashSecret(secret)
	if c.Kind != kind || subtle.ConstantTimeCompare([]byte(want), []byte(c.Hash)) != 1 ||
		!c.live(now) || p.config().User(c.User) == nil {
		return Credential{}, ErrBadCredential
	}
	return c, nil
}

// StartSession signs in with a personal token: it returns the secret of
// a new console session of the token's user and scopes, which ends after
// ttl, when the token expires or is revoked, or at EndSession. Expired
// sessions of the user are deleted on the way, and the oldest live ones
// beyond MaxSessionsPerUser.
func (p *Pager) StartSession(tokenSecret string, ttl time.Duration) (string, Credential, error) {
	t, err := p.Authenticate(tokenSecret)
	if err != nil {
		return "", Credential{}, err
	}
	now := p.now()
	id, secret := newSecret(CredSession)
	s := Credential{ID: id, Kind: CredSession, User: t.User, Scopes: t.Scopes, Hash: hashSecret(secret),
		CreatedAt: now, ExpiresAt: now.Add(ttl), TokenID: t.ID}
	if !t.ExpiresAt.IsZero() && t.ExpiresAt.Before(s.ExpiresAt) {
		s.ExpiresAt = t.ExpiresAt
	}
	err = p.store.Update(func(tx Tx) error {
		old, err := tx.Credentials(CredSession, t.User)
		if err != nil {
			return err
		}
		live := 0
		for i := range old {
			if old[i].live(now) {
				live++
			}
		}
		for i := range old { // oldest first
			if !old[i].live(now) || live >= MaxSessionsPerUser {
				if old[i].live(now) {
					live--
				}
				if err := tx.DeleteCredential(old[i].ID); err != nil {
					return err
				}
			}
		}
		return tx.PutCredential(s)
	})
	if err != nil {
		return "", Credential{}, fmt.Errorf("start session: %w", err)
	}
	return secret, s, nil
}

// Session returns the live console session with secret, or
// ErrBadCredential.
func (p *Pager) Session(secret string) (Credential, error) { return p.check(CredSession, secret) }

// EndSession deletes the session with secret (signing out); an unknown
// one is no error.
func (p *Pager) EndSession(secret string) error {
	c, err := p.Session(secret)
	if err != nil {
		return nil
	}
	err = p.store.Update(func(tx Tx) error { return tx.DeleteCredential(c.ID) })
	if err != nil && !errors.Is(err, ErrNotFound) {
		return fmt.Errorf("end session: %w", err)
	}
	return nil
}
