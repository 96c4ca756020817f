package pager

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestAckLinks(t *testing.T) {
	now := time.Date(2026, 1, 5, 10, 0, 0, 0, time.UTC)
	c := loadConfig(t, "minimal.good.yaml")
	p, err := New(Options{Config: c, AckKey: []byte("k1"), Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	other, _ := New(Options{Config: c, AckKey: []byte("k2"), Now: func() time.Time { return now }})
	nokey, _ := New(Options{Config: c})
	tok, err := p.SignAck("inc-7", "alice.smith", now.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	expired, _ := p.SignAck("inc-7", "alice", now)
	flip := func(s string, i int) string {
		b := []byte(s)
		b[i] ^= 1
		return string(b)
	}
	tests := []struct {
		name, token string
		p           *Pager
		want        error
	}{
		{"valid", tok, p, nil},
		{"other key", tok, other, ErrAckForged},
		{"tampered id", flip(tok, 4), p, ErrAckForged},
		{"tampered mac", flip(tok, len(tok)-2), p, ErrAckForged},
		{"truncated", tok[:len(tok)-5], p, ErrAckForged},
		{"garbage", "a.b.c", p, ErrAckForged},
		{"empty", "", p, ErrAckForged},
		{"expired", expired, p, ErrAckExpired},
		{"no key", tok, nokey, ErrNoAckKey},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id, user, err := tt.p.VerifyAck(tt.token)
			if !errors.Is(err, tt.want) {
				t.Fatalf("err %v, want %v", err, tt.want)
			}
			if tt.want == nil && (id != "inc-7" || user != "alice.smith") {
				t.Fatalf("got %q %q", id, user)
			}
		})
	}
	if strings.ContainsAny(tok, "/+=?&# ") {
		t.Errorf("token not URL-safe: %s", tok)
	}
	if err := p.AckToken(tok); !errors.Is(err, ErrNotFound) {
		t.Errorf("AckToken for a missing incident: %v", err)
	}
}

func TestAPIErrors(t *testing.T) {
	c := loadConfig(t, "basic.good.yaml")
	p, _ := New(Options{Config: c, Now: func() time.Time { return day.Add(10 * time.Hour) }})
	if err := p.Receive(page("A", "c1")); err != nil {
		t.Fatal(err)
	}
	if err := p.Reassign("inc-1", "alice", "mallory"); !errors.Is(err, ErrUnknownUser) {
		t.Errorf("reassign: %v", err)
	}
	if err := p.Resolve("inc-1", "alice"); err != nil {
		t.Fatal(err)
	}
	for name, err := range map[string]error{
		"ack":      p.Ack("inc-1", "alice"),
		"resolve":  p.Resolve("inc-1", "alice"),
		"escalate": p.EscalateNow("inc-1", "alice"),
		"missing":  p.Ack("inc-9", "alice"),
	} {
		if err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	who, err := p.WhoIsOnCall("route:pages", day.Add(10*time.Hour))
	if err != nil || len(who) != 2 || who[0].User != "alice" || who[1].User != "carol" {
		t.Errorf("WhoIsOnCall: %+v %v", who, err)
	}
	if who, _ := p.WhoIsOnCall("schedule:primary", day.Add(33*time.Hour)); who[0].User != "bob" {
		t.Errorf("WhoIsOnCall next day: %+v", who)
	}
	if _, err := p.WhoIsOnCall("team:x", day); !errors.Is(err, ErrUnknownTarget) {
		t.Errorf("unknown target: %v", err)
	}
}
