package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/watchdog-sre/watchdog/pager"
)

// AckLinkIdentity: an acknowledge link names its incident's UID, which
// the store keeps. The link still works over the reopened store; over a
// lost one (a new, empty store whose first incident is inc-1 again) it is
// refused with ErrAckGone and the new incident stays triggered.
func AckLinkIdentity(t *testing.T, open Open, reopen Reopen) {
	now := func() time.Time { return at(t, "10:00") }
	cfg, err := pager.ParseConfig("storetest.yaml", []byte(config))
	if err != nil {
		t.Fatal(err)
	}
	newPager := func(s pager.Store) *pager.Pager {
		p, err := pager.New(pager.Options{Config: cfg, Store: s, Now: now, AckKey: []byte("ack key")})
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	incident := func(p *pager.Pager) pager.IncidentState {
		t.Helper()
		st, _, err := p.Incident("inc-1")
		if err != nil {
			t.Fatal(err)
		}
		return st
	}

	store := open(t)
	p1 := newPager(store)
	if err := p1.Receive(page("HighErrors", "c1")); err != nil {
		t.Fatal(err)
	}
	first := incident(p1)
	if first.UID == "" {
		t.Fatal("incident has no UID")
	}
	link, err := p1.SignAck(first.ID, first.UID, "alice", now().Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}

	p2 := newPager(reopen(t, store))
	if _, st, err := p2.AckLink(link); err != nil || st.UID != first.UID {
		t.Fatalf("link after reopen: UID %q, %v", st.UID, err)
	}

	lost := newPager(open(t)) // the database is gone: a new one
	if err := lost.Receive(page("OtherAlert", "c9")); err != nil {
		t.Fatal(err)
	}
	other := incident(lost)
	if other.UID == first.UID {
		t.Fatalf("two incidents share UID %s", other.UID)
	}
	if _, _, err := lost.AckLink(link); !errors.Is(err, pager.ErrAckGone) {
		t.Errorf("old link, confirmation: %v, want ErrAckGone", err)
	}
	if _, err := lost.AckToken(link); !errors.Is(err, pager.ErrAckGone) {
		t.Errorf("old link, acknowledge: %v, want ErrAckGone", err)
	}
	if st := incident(lost); st.Status != pager.StatusTriggered {
		t.Errorf("the new inc-1 is %s after the old link", st.Status)
	}

	if _, err := p2.AckToken(link); err != nil {
		t.Fatalf("link over the reopened store: %v", err)
	}
	if st := incident(p2); st.Status != pager.StatusAcknowledged || st.AckedBy != "alice" {
		t.Errorf("after the link: %s by %q", st.Status, st.AckedBy)
	}
}
