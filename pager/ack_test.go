package pager

import (
	"errors"
	"strconv"
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
	const uid = "00112233445566778899aabbccddeeff"
	tok, err := p.SignAck("inc-7", uid, "alice.smith", now.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	expired, _ := p.SignAck("inc-7", uid, "alice", now)
	// An a1 token, as signed before incidents had a UID.
	body := "a1." + b64.EncodeToString([]byte("inc-7")) + "." + b64.EncodeToString([]byte("alice.smith")) + "." +
		strconv.FormatInt(now.Add(time.Hour).Unix(), 10)
	v1 := body + "." + b64.EncodeToString(p.ackMAC(body))
	flip := func(s string, i int) string {
		b := []byte(s)
		b[i] ^= 1
		return string(b)
	}
	uidAt := strings.Index(tok, uid)
	tests := []struct {
		name, token string
		p           *Pager
		want        error
		wantUID     string
	}{
		{"valid", tok, p, nil, uid},
		{"version 1", v1, p, nil, ""},
		{"other key", tok, other, ErrAckForged, ""},
		{"tampered id", flip(tok, 4), p, ErrAckForged, ""},
		{"tampered uid", flip(tok, uidAt+3), p, ErrAckForged, ""},
		{"tampered mac", flip(tok, len(tok)-2), p, ErrAckForged, ""},
		{"truncated", tok[:len(tok)-5], p, ErrAckForged, ""},
		{"garbage", "a.b.c", p, ErrAckForged, ""},
		{"empty", "", p, ErrAckForged, ""},
		{"expired", expired, p, ErrAckExpired, ""},
		{"no key", tok, nokey, ErrNoAckKey, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := tt.p.VerifyAck(tt.token)
			if !errors.Is(err, tt.want) {
				t.Fatalf("err %v, want %v", err, tt.want)
			}
			if tt.want == nil && (c.IncidentID != "inc-7" || c.User != "alice.smith" || c.UID != tt.wantUID) {
				t.Fatalf("got %+v", c)
			}
		})
	}
	if strings.ContainsAny(tok, "/+=?&# ") {
		t.Errorf("token not URL-safe: %s", tok)
	}
	if _, err := p.SignAck("inc-7", "not/hex", "alice", now.Add(time.Hour)); err == nil {
		t.Error("SignAck accepted a UID that is not hex")
	}
	if _, err := p.AckToken(tok); !errors.Is(err, ErrAckGone) {
		t.Errorf("AckToken for a missing incident: %v", err)
	}
}

// TestAckLinkIdentity: a link acts only on the incident it was signed
// for. After the store is lost, a new incident with the same number is
// untouched by the old link (GET and POST alike); an a1 link acts only on
// an incident without a UID; AckLink never changes anything.
func TestAckLinkIdentity(t *testing.T) {
	now := day.Add(10 * time.Hour)
	c := loadConfig(t, "basic.good.yaml")
	newPager := func() *Pager {
		p, err := New(Options{Config: c, AckKey: []byte("k"), Now: func() time.Time { return now }})
		if err != nil {
			t.Fatal(err)
		}
		if err := p.Receive(page("A", "c1")); err != nil {
			t.Fatal(err)
		}
		return p
	}
	p1 := newPager()
	st1, _, err := p1.Incident("inc-1")
	if err != nil {
		t.Fatal(err)
	}
	if len(st1.UID) != 32 || strings.Trim(st1.UID, "0123456789abcdef") != "" {
		t.Fatalf("UID %q, want 128-bit hex", st1.UID)
	}
	old, err := p1.SignAck(st1.ID, st1.UID, "alice", now.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}

	p2 := newPager() // the database was lost: numbering starts again
	st2, _, _ := p2.Incident("inc-1")
	if st2.UID == st1.UID || st2.UID == "" {
		t.Fatalf("second incident UID %q, first %q", st2.UID, st1.UID)
	}
	if _, _, err := p2.AckLink(old); !errors.Is(err, ErrAckGone) {
		t.Errorf("AckLink of the old link: %v, want ErrAckGone", err)
	}
	if _, err := p2.AckToken(old); !errors.Is(err, ErrAckGone) {
		t.Errorf("AckToken of the old link: %v, want ErrAckGone", err)
	}
	if st, _, _ := p2.Incident("inc-1"); st.Status != StatusTriggered {
		t.Fatalf("the new inc-1 is %s after the old link", st.Status)
	}

	fresh, _ := p2.SignAck(st2.ID, st2.UID, "alice", now.Add(time.Hour))
	claim, st, err := p2.AckLink(fresh)
	if err != nil || claim.User != "alice" || st.UID != st2.UID || st.Status != StatusTriggered {
		t.Fatalf("AckLink: %+v %s %v", claim, st.Status, err)
	}
	if _, err := p2.AckToken(fresh); err != nil {
		t.Fatalf("AckToken: %v", err)
	}
	if st, _, _ := p2.Incident("inc-1"); st.Status != StatusAcknowledged || st.AckedBy != "alice" {
		t.Fatalf("after the link: %s by %q", st.Status, st.AckedBy)
	}
	if _, err := p2.AckToken(fresh); !errors.Is(err, ErrNotTriggered) {
		t.Errorf("second AckToken: %v, want ErrNotTriggered", err)
	}

	// An a1 link (no UID) matches only an incident without one.
	body := "a1." + b64.EncodeToString([]byte("inc-1")) + "." + b64.EncodeToString([]byte("bob")) + "." +
		strconv.FormatInt(now.Add(time.Hour).Unix(), 10)
	v1 := body + "." + b64.EncodeToString(p1.ackMAC(body))
	if _, err := p1.AckToken(v1); !errors.Is(err, ErrAckGone) {
		t.Errorf("a1 link on an incident with a UID: %v", err)
	}
	legacy := st1
	legacy.UID = ""
	if err := p1.store.Update(func(tx Tx) error { return tx.PutIncident(legacy) }); err != nil {
		t.Fatal(err)
	}
	p1.mu.Lock()
	p1.open = nil
	p1.mu.Unlock()
	if _, err := p1.AckToken(v1); err != nil {
		t.Errorf("a1 link on an incident without a UID: %v", err)
	}
}

func TestAPIErrors(t *testing.T) {
	c := loadConfig(t, "basic.good.yaml")
	p, _ := New(Options{Config: c, Now: func() time.Time { return day.Add(10 * time.Hour) }})
	if err := p.Receive(page("A", "c1")); err != nil {
		t.Fatal(err)
	}
	if err := p.Reassign("inc-1", Actor{User: "alice"}, "mallory"); !errors.Is(err, ErrUnknownUser) {
		t.Errorf("reassign: %v", err)
	}
	if err := p.Resolve("inc-1", Actor{User: "alice"}); err != nil {
		t.Fatal(err)
	}
	for name, err := range map[string]error{
		"ack":      p.Ack("inc-1", Actor{User: "alice"}),
		"resolve":  p.Resolve("inc-1", Actor{User: "alice"}),
		"escalate": p.EscalateNow("inc-1", Actor{User: "alice"}),
		"missing":  p.Ack("inc-9", Actor{User: "alice"}),
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
