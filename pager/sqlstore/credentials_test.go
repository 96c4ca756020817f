package sqlstore

import (
	"errors"
	"testing"
	"time"

	"github.com/watchdog-sre/watchdog/internal/pgtest"
	"github.com/watchdog-sre/watchdog/pager"
)

// TestCredentialsConformance: personal tokens and sessions behave alike
// in every store: put, get, list by kind and user in creation order,
// replace, delete, and rollback.
func TestCredentialsConformance(t *testing.T) {
	t0 := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	tok := func(id, user string, at time.Duration) pager.Credential {
		return pager.Credential{ID: id, Kind: pager.CredToken, User: user, Name: "laptop", Scopes: []string{"respond"},
			Hash: "ab", CreatedAt: t0.Add(at), ExpiresAt: t0.Add(time.Hour)}
	}
	for _, st := range stores {
		t.Run(st.name, func(t *testing.T) {
			s := st.open(t)
			a2, a1, b1 := tok("00000000000000a2", "alice", 2*time.Second), tok("00000000000000a1", "alice", time.Second), tok("00000000000000b1", "bob", 0)
			sess := pager.Credential{ID: "00000000000000s1", Kind: pager.CredSession, User: "alice", Scopes: []string{"respond"},
				Hash: "cd", CreatedAt: t0, ExpiresAt: t0.Add(time.Hour), TokenID: a1.ID}
			update(t, s, func(tx pager.Tx) error {
				for _, c := range []pager.Credential{a2, a1, b1, sess} {
					if err := tx.PutCredential(c); err != nil {
						return err
					}
				}
				return nil
			})
			view(t, s, func(tx pager.ReadTx) error {
				got, err := tx.Credential(a1.ID)
				mustEqual(t, "get", got, a1)
				if _, err := tx.Credential("0000000000000000"); !errors.Is(err, pager.ErrNotFound) {
					t.Errorf("missing: %v", err)
				}
				all, err2 := tx.Credentials(pager.CredToken, "")
				mustEqual(t, "all tokens", all, []pager.Credential{b1, a1, a2})
				alice, err3 := tx.Credentials(pager.CredToken, "alice")
				mustEqual(t, "alice's tokens", alice, []pager.Credential{a1, a2})
				ss, err4 := tx.Credentials(pager.CredSession, "alice")
				mustEqual(t, "sessions", ss, []pager.Credential{sess})
				return errors.Join(err, err2, err3, err4)
			})
			revoked := a1
			revoked.RevokedAt = t0.Add(time.Minute)
			update(t, s, func(tx pager.Tx) error {
				if err := tx.PutCredential(revoked); err != nil {
					return err
				}
				return tx.DeleteCredential(sess.ID)
			})
			err := s.Update(func(tx pager.Tx) error {
				if err := tx.DeleteCredential(b1.ID); err != nil {
					return err
				}
				return errors.New("roll back")
			})
			if err == nil {
				t.Fatal("update did not fail")
			}
			view(t, s, func(tx pager.ReadTx) error {
				got, err := tx.Credential(a1.ID)
				mustEqual(t, "revoked", got, revoked)
				if _, err := tx.Credential(sess.ID); !errors.Is(err, pager.ErrNotFound) {
					t.Errorf("deleted session: %v", err)
				}
				if _, err := tx.Credential(b1.ID); err != nil {
					t.Errorf("rolled back delete: %v", err)
				}
				return err
			})
			update(t, s, func(tx pager.Tx) error {
				if err := tx.DeleteCredential("0000000000000000"); !errors.Is(err, pager.ErrNotFound) {
					t.Errorf("delete missing: %v", err)
				}
				return nil
			})
		})
	}
}

// TestRevocationSeenByReplicas: two pagers on one PostgreSQL database (an
// HA pair): a token created on one works on the other, and revoking it
// on one refuses it on the other at the next check.
func TestRevocationSeenByReplicas(t *testing.T) {
	dsn := pgtest.DB(t)
	cfg, err := pager.ParseConfig("pager.yml", []byte(`pager:
  users: [{name: alice, contact: {push: a}}]
  escalation_policies: [{name: p, levels: [{targets: [user:alice]}]}]
  channels: [{name: push, type: console}]
  routes: [{name: all, escalation_policy: p}]
`))
	if err != nil {
		t.Fatal(err)
	}
	a, err := pager.New(pager.Options{Config: cfg, Store: openReplica(t, dsn, "a")})
	if err != nil {
		t.Fatal(err)
	}
	b, err := pager.New(pager.Options{Config: cfg, Store: openReplica(t, dsn, "b")})
	if err != nil {
		t.Fatal(err)
	}
	secret, tok, err := a.CreateToken("alice", "", []string{pager.ScopeRespond}, 0)
	if err != nil {
		t.Fatal(err)
	}
	sess, _, err := b.StartSession(secret, time.Hour)
	if err != nil {
		t.Fatalf("sign in on the other replica: %v", err)
	}
	if _, err := a.Session(sess); err != nil {
		t.Errorf("session made on b, checked on a: %v", err)
	}
	if _, err := b.RevokeToken(tok.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Authenticate(secret); !errors.Is(err, pager.ErrBadCredential) {
		t.Errorf("revoked on b, still good on a: %v", err)
	}
	if _, err := a.Session(sess); !errors.Is(err, pager.ErrBadCredential) {
		t.Errorf("session of the revoked token still good on a: %v", err)
	}
}
