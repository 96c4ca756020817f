package sqlstore

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/watchdog-sre/watchdog/internal/pgtest"
	"github.com/watchdog-sre/watchdog/pager"
)

// openReplica opens the PostgreSQL store at dsn as replica name.
func openReplica(t *testing.T, dsn, name string) *Store {
	t.Helper()
	s, err := OpenPostgres(dsn, Options{Replica: name})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func campaign(t *testing.T, s *Store) pager.Lease {
	t.Helper()
	l, err := s.Campaign(context.Background(), time.Hour, true)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// TestClusterLease walks the lease through its terms: taken, renewed with
// the same token, refused to another replica while live, given up, taken
// by the other with a new token; and the deposed holder's fenced writes
// and claims are refused from then on.
func TestClusterLease(t *testing.T) {
	dsn := pgtest.DB(t)
	a, b := openReplica(t, dsn, "a"), openReplica(t, dsn, "b")
	now := time.Date(2026, 12, 6, 3, 0, 0, 0, time.UTC)

	la := campaign(t, a)
	if !la.Leader || la.Holder != "a" || la.Token != 1 {
		t.Fatalf("first campaign: %+v", la)
	}
	if l := campaign(t, a); !l.Leader || l.Token != 1 {
		t.Fatalf("renewal: %+v, want the same token", l)
	}
	if l, err := a.Campaign(context.Background(), time.Hour, false); err != nil || !l.Leader || l.Token != 2 {
		t.Fatalf("a new term while holding the lease: %+v %v, want token 2", l, err)
	}
	if err := a.UpdateFenced(1, func(pager.Tx) error { return nil }); !errors.Is(err, pager.ErrFenced) {
		t.Fatalf("a write under the previous term: %v, want ErrFenced", err)
	}
	if l, err := a.Campaign(context.Background(), time.Hour, false); err != nil || !l.Leader || l.Token != 3 {
		t.Fatalf("another new term: %+v %v", l, err)
	}
	// From here on, a's term is 3.
	if l := campaign(t, b); l.Leader || l.Holder != "a" || l.Token != 3 {
		t.Fatalf("b while a leads: %+v", l)
	}
	put := func(st pager.IncidentState, d pager.Delivery) func(tx pager.Tx) error {
		return func(tx pager.Tx) error {
			if err := tx.PutIncident(st); err != nil {
				return err
			}
			_, err := tx.AddDelivery(d)
			return err
		}
	}
	if err := a.UpdateFenced(3, put(incident("inc-1", "g1", pager.StatusTriggered, now),
		delivery("k1", "inc-1", pager.DeliveryPending, now))); err != nil {
		t.Fatalf("the leader's fenced write: %v", err)
	}
	if err := b.UpdateFenced(3, put(incident("inc-2", "g2", pager.StatusTriggered, now),
		delivery("k2", "inc-2", pager.DeliveryPending, now))); !errors.Is(err, pager.ErrFenced) {
		t.Fatalf("a fenced write with another replica's token: %v, want ErrFenced", err)
	}
	if c, err := a.Claim(3, "k1"); err != nil || !c.OK {
		t.Fatalf("claim: %+v %v", c, err)
	}
	if c, err := a.Claim(3, "k1"); err != nil || c.OK || c.Sent {
		t.Fatalf("second claim in the same term: %+v %v, want refused", c, err)
	}

	st, err := b.Status()
	if err != nil {
		t.Fatal(err)
	}
	if st.Replica != "b" || st.Leader != "a" || st.Token != 3 || len(st.Replicas) != 2 || !st.Replicas[0].Leader || st.Replicas[1].Leader ||
		!st.Replicas[0].Alive || !st.Replicas[1].Alive {
		t.Fatalf("status: %+v", st)
	}

	// a sends k1 and records it, then dies before recording the result.
	if err := a.Sent(3, "k1", 2, ""); err != nil {
		t.Fatal(err)
	}
	if err := a.Resign(context.Background(), 3); err != nil {
		t.Fatal(err)
	}
	lb := campaign(t, b)
	if !lb.Leader || lb.Holder != "b" || lb.Token != 4 {
		t.Fatalf("b after a resigned: %+v", lb)
	}
	if err := a.UpdateFenced(3, put(incident("inc-3", "g3", pager.StatusTriggered, now),
		delivery("k3", "inc-3", pager.DeliveryPending, now))); !errors.Is(err, pager.ErrFenced) {
		t.Fatalf("the deposed leader's fenced write: %v, want ErrFenced", err)
	}
	if _, err := a.Claim(3, "k1"); !errors.Is(err, pager.ErrFenced) {
		t.Fatalf("the deposed leader's claim: %v, want ErrFenced", err)
	}
	if c, err := b.Claim(4, "k1"); err != nil || c.OK || !c.Sent || c.Attempts != 2 || c.Err != "" {
		t.Fatalf("the new leader's claim of a sent delivery: %+v %v, want its result", c, err)
	}
	if l := campaign(t, a); l.Leader || l.Holder != "b" {
		t.Fatalf("a after b took over: %+v", l)
	}
	// A restarted a is a new process: it does not inherit a's old term.
	a2 := openReplica(t, dsn, "a")
	if err := b.Resign(context.Background(), 4); err != nil {
		t.Fatal(err)
	}
	if l := campaign(t, a2); !l.Leader || l.Token != 5 {
		t.Fatalf("restarted a: %+v, want a new term", l)
	}
}

// TestClusterChanges: a replica reads what the others committed after a
// change number: incidents of any status, silences, pending deliveries.
func TestClusterChanges(t *testing.T) {
	dsn := pgtest.DB(t)
	a, b := openReplica(t, dsn, "a"), openReplica(t, dsn, "b")
	now := time.Date(2026, 12, 6, 3, 0, 0, 0, time.UTC)
	c0, err := b.Changes(0)
	if err != nil {
		t.Fatal(err)
	}
	update(t, a, func(tx pager.Tx) error {
		if err := tx.PutIncident(incident("inc-1", "g1", pager.StatusTriggered, now)); err != nil {
			return err
		}
		if _, err := tx.AddDelivery(delivery("k1", "inc-1", pager.DeliveryPending, now)); err != nil {
			return err
		}
		return tx.PutSilence(pager.Silence{ID: "s1", Matchers: []string{`a="b"`}, StartsAt: now, EndsAt: now.Add(time.Hour)})
	})
	c1, err := b.Changes(c0.Version)
	if err != nil {
		t.Fatal(err)
	}
	if c1.Version != c0.Version+1 || len(c1.Incidents) != 1 || len(c1.Deliveries) != 1 || len(c1.Silences) != 1 {
		t.Fatalf("changes after one write: %+v", c1)
	}
	update(t, a, func(tx pager.Tx) error {
		if err := tx.PutIncident(incident("inc-1", "g1", pager.StatusResolved, now)); err != nil {
			return err
		}
		d := delivery("k1", "inc-1", pager.DeliverySent, now)
		return tx.UpdateDelivery(d)
	})
	c2, err := b.Changes(c1.Version)
	if err != nil {
		t.Fatal(err)
	}
	if len(c2.Incidents) != 1 || c2.Incidents[0].Status != pager.StatusResolved || len(c2.Deliveries) != 0 || len(c2.Silences) != 0 {
		t.Fatalf("changes after the resolve: %+v", c2)
	}
	if c3, err := b.Changes(c2.Version); err != nil || c3.Version != c2.Version || len(c3.Incidents) != 0 {
		t.Fatalf("no changes: %+v %v", c3, err)
	}
	// A claim is not a change (no write transaction): it keeps the row's number.
	update(t, a, func(tx pager.Tx) error {
		_, err := tx.AddDelivery(delivery("k2", "inc-1", pager.DeliveryPending, now))
		return err
	})
	if l := campaign(t, a); !l.Leader {
		t.Fatal("a does not lead")
	}
	if c, err := a.Claim(1, "k2"); err != nil || !c.OK {
		t.Fatalf("claim: %+v %v", c, err)
	}
	c4, err := b.Changes(c2.Version)
	if err != nil || len(c4.Deliveries) != 1 || c4.Version != c2.Version+1 {
		t.Fatalf("changes after a claim: %+v %v", c4, err)
	}
}

// TestClusterChangeNumbers: a write transaction takes a change number only
// when it writes something Changes reports or numbers depend on; one that
// writes status subscriber rows only, or nothing, takes none, so that the
// pager's next write still follows its last one directly. Numbers taken
// and NextID stay right across Stores.
func TestClusterChangeNumbers(t *testing.T) {
	dsn := pgtest.DB(t)
	a, b := openReplica(t, dsn, "a"), openReplica(t, dsn, "b")
	now := time.Date(2026, 12, 6, 3, 0, 0, 0, time.UTC)
	version := func() int64 {
		t.Helper()
		c, err := b.Changes(1 << 62)
		if err != nil {
			t.Fatal(err)
		}
		return c.Version
	}
	tests := []struct {
		name string
		fn   func(tx pager.Tx) error
		bump bool
	}{
		{"nothing", func(tx pager.Tx) error { return nil }, false},
		{"reads only", func(tx pager.Tx) error { _, err := tx.Incidents(pager.IncidentFilter{}); return err }, false},
		{"subscriber mark", func(tx pager.Tx) error { return tx.PutSubscriberMark("since", "1") }, false},
		{"change number asked", func(tx pager.Tx) error {
			if tx.(*writeTx).TxVersion() == 0 {
				return errors.New("no change number")
			}
			return nil
		}, true},
		{"incident", func(tx pager.Tx) error { return tx.PutIncident(incident("inc-1", "g1", pager.StatusTriggered, now)) }, true},
		{"next id", func(tx pager.Tx) error { _, err := tx.NextID("incident"); return err }, true},
		{"silence", func(tx pager.Tx) error {
			return tx.PutSilence(pager.Silence{ID: "s1", Matchers: []string{`a="b"`}, StartsAt: now, EndsAt: now})
		}, true},
		{"mark, then delivery", func(tx pager.Tx) error {
			if err := tx.PutSubscriberMark("since", "2"); err != nil {
				return err
			}
			_, err := tx.AddDelivery(delivery("k1", "inc-1", pager.DeliveryPending, now))
			return err
		}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v0 := version()
			update(t, a, tt.fn)
			if got, want := version(), v0+map[bool]int64{true: 1}[tt.bump]; got != want {
				t.Errorf("change number %d after, %d before: want %d", got, v0, want)
			}
		})
	}
	// b writes a subscriber row in between: a's sequence cache stays
	// right; b's NextID after a's continues a's numbers.
	var got []int64
	for _, s := range []*Store{a, b, a, b} {
		update(t, b, func(tx pager.Tx) error { return tx.PutSubscriberMark("since", "3") })
		update(t, s, func(tx pager.Tx) error {
			n, err := tx.NextID("seq")
			got = append(got, n)
			return err
		})
	}
	mustEqual(t, "numbers", got, []int64{1, 2, 3, 4})
}

// TestClusterNotReplica: the cluster methods of a store opened without a
// replica name refuse.
func TestClusterNotReplica(t *testing.T) {
	s := openPG(t, pgtest.DB(t))
	if _, err := s.Campaign(context.Background(), time.Second, true); !errors.Is(err, errNotReplica) {
		t.Fatalf("campaign: %v", err)
	}
	if err := s.UpdateFenced(1, func(pager.Tx) error { return nil }); !errors.Is(err, errNotReplica) {
		t.Fatalf("fenced update: %v", err)
	}
}

// TestClusterRenewDuringFencedWrite: while one of the holder's fenced
// transactions is open (a long rebuild), a follower's campaign does not
// wait for it and the holder renews its lease, but a takeover still waits
// for that transaction to end.
func TestClusterRenewDuringFencedWrite(t *testing.T) {
	dsn := pgtest.DB(t)
	a, b := openReplica(t, dsn, "a"), openReplica(t, dsn, "b")
	if l := campaign(t, a); !l.Leader || l.Token != 1 {
		t.Fatalf("first campaign: %+v", l)
	}
	inTx, release, done := make(chan struct{}), make(chan struct{}), make(chan error, 1)
	go func() {
		done <- a.UpdateFenced(1, func(pager.Tx) error { close(inTx); <-release; return nil })
	}()
	<-inTx
	defer func() {
		select {
		case <-release:
		default:
			close(release)
		}
	}()

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	l, err := b.Campaign(ctx, time.Hour, false)
	cancel()
	if err != nil || l.Leader || l.Holder != "a" || l.Token != 1 {
		t.Fatalf("a follower's campaign while the holder's fenced write is open: %+v %v, want a's term at once", l, err)
	}
	ctx, cancel = context.WithTimeout(context.Background(), 5*time.Second)
	l, err = a.Campaign(ctx, time.Hour, true)
	cancel()
	if err != nil || !l.Leader || l.Token != 1 {
		t.Fatalf("renewal while the holder's fenced write is open: %+v %v, want the same term at once", l, err)
	}

	if err := a.Resign(context.Background(), 1); err != nil {
		t.Fatal(err)
	}
	// The lease is free, but a's fenced transaction still holds the row:
	// b's takeover must wait for it (bounded here by the context).
	ctx, cancel = context.WithTimeout(context.Background(), 500*time.Millisecond)
	l, err = b.Campaign(ctx, time.Hour, false)
	cancel()
	if err == nil {
		t.Fatalf("takeover while the old holder's fenced write is open: %+v, want it to wait", l)
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatalf("the fenced write begun before the takeover: %v", err)
	}
	if l := campaign(t, b); !l.Leader || l.Token != 2 {
		t.Fatalf("takeover after the fenced write ended: %+v, want a new term", l)
	}
}

// TestClusterListen: a replica listening is woken by another's commit.
func TestClusterListen(t *testing.T) {
	dsn := pgtest.DB(t)
	a, b := openReplica(t, dsn, "a"), openReplica(t, dsn, "b")
	ctx, cancel := context.WithCancel(context.Background())
	woken := make(chan struct{}, 16)
	done := make(chan struct{})
	go func() {
		defer close(done)
		a.Listen(ctx, func() { woken <- struct{}{} })
	}()
	defer func() {
		cancel()
		<-done
	}()
	now := time.Date(2026, 12, 6, 3, 0, 0, 0, time.UTC)
	// The listener may not be listening yet: write until it is woken.
	deadline := time.After(10 * time.Second)
	for i := 0; ; i++ {
		update(t, b, func(tx pager.Tx) error {
			return tx.PutIncident(incident("inc-1", "g1", pager.StatusTriggered, now.Add(time.Duration(i))))
		})
		select {
		case <-woken:
			return
		case <-time.After(100 * time.Millisecond):
		case <-deadline:
			t.Fatal("a was not woken by b's commits")
		}
	}
}

// TestClusterFrozenHolderLosesItsSession: a holder frozen in the middle of
// a fenced transaction (SIGSTOP, a paused VM) holds the lease row, so a
// takeover would wait for it for as long as it stays frozen; PostgreSQL
// ends its session after Options.IdleInTransaction, the other replica
// takes over, and the frozen transaction commits nothing when it wakes.
func TestClusterFrozenHolderLosesItsSession(t *testing.T) {
	dsn := pgtest.DB(t)
	// TxTimeout a minute: in this process the transaction's own deadline
	// would end it; a frozen process runs no deadline.
	a, err := OpenPostgres(dsn, Options{Replica: "a", TxTimeout: time.Minute, IdleInTransaction: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = a.Close() })
	b := openReplica(t, dsn, "b")
	if l, err := a.Campaign(context.Background(), time.Second, true); err != nil || !l.Leader || l.Token != 1 {
		t.Fatalf("first campaign: %+v %v", l, err)
	}
	now := time.Now()
	inTx, wake, done := make(chan struct{}), make(chan struct{}), make(chan error, 1)
	go func() {
		done <- a.UpdateFenced(1, func(tx pager.Tx) error {
			if err := tx.PutIncident(incident("inc-frozen", "g", pager.StatusTriggered, now)); err != nil {
				return err
			}
			close(inTx)
			<-wake // frozen
			return nil
		})
	}()
	<-inTx
	// The lease (1s) runs out; b's takeover must not wait for a.
	deadline := time.Now().Add(10 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		l, err := b.Campaign(ctx, time.Hour, false)
		cancel()
		if err == nil && l.Leader {
			if l.Token != 2 {
				t.Fatalf("takeover: %+v, want token 2", l)
			}
			break
		}
		if time.Now().After(deadline) {
			close(wake)
			t.Fatalf("b has not taken over from a frozen holder within 10s: %+v %v", l, err)
		}
	}
	close(wake)
	if err := <-done; err == nil {
		t.Fatal("the frozen holder's fenced write committed after its session was ended")
	}
	err = b.View(func(tx pager.ReadTx) error {
		_, err := tx.Incident("inc-frozen")
		return err
	})
	if !errors.Is(err, pager.ErrNotFound) {
		t.Fatalf("the frozen holder's incident: %v, want ErrNotFound (nothing committed)", err)
	}
}
