package pager

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestPersonalTokens(t *testing.T) {
	c := loadConfig(t, "basic.good.yaml")
	now := day.Add(10 * time.Hour)
	p, _ := New(Options{Config: c, Now: func() time.Time { return now }})

	secret, tok, err := p.CreateToken("alice", "laptop", []string{"respond"}, 90*24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(secret, "wdp_"+tok.ID+"_") || len(secret) < 40 || strings.Contains(tok.Hash, secret) {
		t.Errorf("secret %q, token %+v", secret, tok)
	}
	got, err := p.Authenticate(secret)
	if err != nil || got.User != "alice" || !got.HasScope(ScopeRespond) || got.HasScope(ScopeAdmin) {
		t.Fatalf("authenticate: %+v %v", got, err)
	}
	list, err := p.Tokens("alice")
	if err != nil || len(list) != 1 || list[0].ID != tok.ID || list[0].Hash == secret {
		t.Errorf("tokens: %+v %v", list, err)
	}

	bad := []struct{ name, secret string }{
		{"empty", ""},
		{"other prefix", "wds_" + secret[4:]},
		{"wrong random", secret[:len(secret)-2] + "xx"},
		{"unknown id", "wdp_0123456789abcdef_" + secret[len("wdp_")+17:]},
		{"long", secret + strings.Repeat("a", 200)},
		{"shared-token shaped", "s3cret"},
	}
	for _, b := range bad {
		t.Run(b.name, func(t *testing.T) {
			if _, err := p.Authenticate(b.secret); !errors.Is(err, ErrBadCredential) {
				t.Errorf("authenticate: %v, want ErrBadCredential", err)
			}
		})
	}

	for name, f := range map[string]func() error{
		"unknown user": func() error { _, _, err := p.CreateToken("mallory", "", []string{"respond"}, 0); return err },
		"bad scope":    func() error { _, _, err := p.CreateToken("alice", "", []string{"root"}, 0); return err },
		"no scope":     func() error { _, _, err := p.CreateToken("alice", "", nil, 0); return err },
		"long name": func() error {
			_, _, err := p.CreateToken("alice", strings.Repeat("n", MaxTokenNameBytes+1), []string{"respond"}, 0)
			return err
		},
		"control in name": func() error { _, _, err := p.CreateToken("alice", "a\x1b[2J", []string{"respond"}, 0); return err },
		"too long-lived": func() error {
			_, _, err := p.CreateToken("alice", "", []string{"respond"}, MaxTokenLifetime+time.Hour)
			return err
		},
	} {
		if err := f(); err == nil {
			t.Errorf("%s: no error", name)
		}
	}

	// A session lives while its token does.
	sess, sc, err := p.StartSession(secret, 12*time.Hour)
	if err != nil || sc.User != "alice" || sc.TokenID != tok.ID {
		t.Fatalf("start session: %+v %v", sc, err)
	}
	if _, err := p.Session(sess); err != nil {
		t.Errorf("session: %v", err)
	}
	if _, err := p.Authenticate(sess); !errors.Is(err, ErrBadCredential) {
		t.Errorf("a session secret as a token: %v", err)
	}
	if _, err := p.RevokeToken(tok.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Authenticate(secret); !errors.Is(err, ErrBadCredential) {
		t.Errorf("revoked token: %v", err)
	}
	if _, err := p.Session(sess); !errors.Is(err, ErrBadCredential) {
		t.Errorf("session of a revoked token: %v", err)
	}
	if _, _, err := p.StartSession(secret, time.Hour); !errors.Is(err, ErrBadCredential) {
		t.Errorf("sign in with a revoked token: %v", err)
	}
	if _, err := p.RevokeToken("0000000000000000"); !errors.Is(err, ErrNotFound) {
		t.Errorf("revoke unknown: %v", err)
	}

	// Expiry: of the token, and of the session.
	s2, _, err := p.CreateToken("bob", "", []string{"admin"}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	sess2, _, err := p.StartSession(s2, 10*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	now = now.Add(10 * time.Minute)
	if _, err := p.Session(sess2); !errors.Is(err, ErrBadCredential) {
		t.Errorf("expired session: %v", err)
	}
	if c, err := p.Authenticate(s2); err != nil || !c.HasScope(ScopeRespond) {
		t.Errorf("admin token: %+v %v", c, err)
	}
	now = now.Add(time.Hour)
	if _, err := p.Authenticate(s2); !errors.Is(err, ErrBadCredential) {
		t.Errorf("expired token: %v", err)
	}
	if err := p.EndSession(sess2); err != nil {
		t.Errorf("end expired session: %v", err)
	}
}

func TestTokenLimitPerUser(t *testing.T) {
	c := loadConfig(t, "basic.good.yaml")
	p, _ := New(Options{Config: c, Now: func() time.Time { return day }})
	for i := range MaxTokensPerUser {
		if _, _, err := p.CreateToken("alice", "", []string{"respond"}, 0); err != nil {
			t.Fatalf("token %d: %v", i, err)
		}
	}
	if _, _, err := p.CreateToken("alice", "", []string{"respond"}, 0); !errors.Is(err, ErrTooManyTokens) {
		t.Errorf("one too many: %v", err)
	}
	list, _ := p.Tokens("alice")
	if _, err := p.RevokeToken(list[0].ID); err != nil {
		t.Fatal(err)
	}
	if _, _, err := p.CreateToken("alice", "", []string{"respond"}, 0); err != nil {
		t.Errorf("after a revocation: %v", err)
	}
}

func TestSignOut(t *testing.T) {
	c := loadConfig(t, "basic.good.yaml")
	p, _ := New(Options{Config: c, Now: func() time.Time { return day }})
	secret, _, err := p.CreateToken("alice", "", []string{"respond"}, 0)
	if err != nil {
		t.Fatal(err)
	}
	sess, _, err := p.StartSession(secret, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.EndSession(sess); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Session(sess); !errors.Is(err, ErrBadCredential) {
		t.Errorf("after sign-out: %v", err)
	}
	if _, err := p.Authenticate(secret); err != nil {
		t.Errorf("the token outlives the session: %v", err)
	}
}

func TestSessionLimitPerUser(t *testing.T) {
	c := loadConfig(t, "basic.good.yaml")
	now := day
	p, _ := New(Options{Config: c, Now: func() time.Time { return now }})
	secret, _, err := p.CreateToken("alice", "", []string{"respond"}, 0)
	if err != nil {
		t.Fatal(err)
	}
	var first string
	for i := range MaxSessionsPerUser + 5 {
		now = now.Add(time.Second) // creation order
		s, _, err := p.StartSession(secret, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			first = s
		}
	}
	var n int
	if err := p.store.View(func(tx ReadTx) error {
		ss, err := tx.Credentials(CredSession, "alice")
		n = len(ss)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if n != MaxSessionsPerUser {
		t.Errorf("%d sessions stored, want %d", n, MaxSessionsPerUser)
	}
	if _, err := p.Session(first); !errors.Is(err, ErrBadCredential) {
		t.Errorf("the oldest session survived: %v", err)
	}
}
