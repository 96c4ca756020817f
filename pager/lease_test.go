package pager

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/watchdog-sre/watchdog/pager/channel"
)

// errPartitioned is what a partitioned fakeReplica answers.
var errPartitioned = errors.New("database unreachable")

// fakeDB is the shared database of fakeReplicas: a MemStore, a change
// number per incident, silence and delivery, a lease and claim marks, all
// under one lock, with the fake clock of the synctest bubble.
type fakeDB struct {
	mem *MemStore

	mu       sync.Mutex
	version  int64
	incVer   map[string]int64
	delVer   map[string]int64
	holder   string
	token    int64
	expires  time.Time
	claims   map[string]int64
	sentMark map[string]Claim
}

func newFakeDB() *fakeDB {
	return &fakeDB{mem: NewMemStore(), incVer: map[string]int64{}, delVer: map[string]int64{},
		claims: map[string]int64{}, sentMark: map[string]Claim{}}
}

// fakeReplica is one replica's connection to a fakeDB; partitioned makes
// every call fail, as a replica cut off from the database sees it.
type fakeReplica struct {
	db          *fakeDB
	name        string
	partitioned atomic.Bool
	// slow makes campaigns take this long (nanoseconds), or fail when
	// their context ends first.
	slow atomic.Int64
}

type fakeTx struct {
	Tx
	db      *fakeDB
	version int64
}

func (t *fakeTx) TxVersion() int64 { return t.version }
func (t *fakeTx) PutIncident(st IncidentState) error {
	t.db.incVer[st.ID] = t.version
	return t.Tx.PutIncident(st)
}
func (t *fakeTx) AddDelivery(d Delivery) (bool, error) {
	t.db.delVer[d.Key] = t.version
	return t.Tx.AddDelivery(d)
}
func (t *fakeTx) UpdateDelivery(d Delivery) error {
	t.db.delVer[d.Key] = t.version
	return t.Tx.UpdateDelivery(d)
}

func (r *fakeReplica) View(fn func(tx ReadTx) error) error {
	if r.partitioned.Load() {
		return errPartitioned
	}
	return r.db.mem.View(fn)
}

func (r *fakeReplica) Update(fn func(tx Tx) error) error { return r.update(0, fn) }

func (r *fakeReplica) update(token int64, fn func(tx Tx) error) error {
	if r.partitioned.Load() {
		return errPartitioned
	}
	db := r.db
	db.mu.Lock()
	defer db.mu.Unlock()
	if token != 0 && (db.holder != r.name || db.token != token || !time.Now().Before(db.expires)) {
		return fmt.Errorf("%w: term %d", ErrFenced, token)
	}
	return db.mem.Update(func(tx Tx) error {
		// The incident and delivery version marks are not rolled back on
		// failure; a mark too new only makes Changes return a row again.
		if err := fn(&fakeTx{Tx: tx, db: db, version: db.version + 1}); err != nil {
			return err
		}
		db.version++
		return nil
	})
}

func (r *fakeReplica) Campaign(ctx context.Context, ttl time.Duration, renew bool) (Lease, error) {
	if r.partitioned.Load() {
		return Lease{}, errPartitioned
	}
	if d := time.Duration(r.slow.Load()); d > 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-ctx.Done():
			return Lease{}, ctx.Err()
		case <-t.C:
		}
	}
	db := r.db
	db.mu.Lock()
	defer db.mu.Unlock()
	now := time.Now()
	switch ours := db.holder == r.name; {
	case ours && now.Before(db.expires) && renew:
	case ours || !now.Before(db.expires):
		db.holder, db.token = r.name, db.token+1
	default:
		return Lease{Holder: db.holder, Token: db.token, Expires: db.expires}, nil
	}
	db.expires = now.Add(ttl)
	return Lease{Leader: true, Holder: r.name, Token: db.token, Expires: db.expires}, nil
}

func (r *fakeReplica) Resign(_ context.Context, token int64) error {
	db := r.db
	db.mu.Lock()
	defer db.mu.Unlock()
	if db.holder == r.name && db.token == token {
		db.expires = time.Now()
	}
	return nil
}

func (r *fakeReplica) UpdateFenced(token int64, fn func(tx Tx) error) error {
	return r.update(token, fn)
}

func (r *fakeReplica) Claim(token int64, key string) (Claim, error) {
	if r.partitioned.Load() {
		return Claim{}, errPartitioned
	}
	db := r.db
	db.mu.Lock()
	defer db.mu.Unlock()
	if db.holder != r.name || db.token != token || !time.Now().Before(db.expires) {
		return Claim{}, fmt.Errorf("%w: term %d", ErrFenced, token)
	}
	if db.claims[key] == token {
		return Claim{}, nil
	}
	if c, ok := db.sentMark[key]; ok {
		return c, nil
	}
	db.claims[key] = token
	return Claim{OK: true}, nil
}

func (r *fakeReplica) Sent(token int64, key string, attempts int, errText string) error {
	db := r.db
	db.mu.Lock()
	defer db.mu.Unlock()
	if db.claims[key] == token {
		db.sentMark[key] = Claim{Sent: true, Attempts: attempts, Err: errText}
	}
	return nil
}

func (r *fakeReplica) Changes(since int64) (Changes, error) {
	if r.partitioned.Load() {
		return Changes{}, errPartitioned
	}
	db := r.db
	db.mu.Lock()
	defer db.mu.Unlock()
	c := Changes{Version: db.version}
	err := db.mem.View(func(tx ReadTx) error {
		for id, v := range db.incVer {
			if v > since {
				st, err := tx.Incident(id)
				if err != nil {
					return err
				}
				c.Incidents = append(c.Incidents, st)
			}
		}
		ds, err := tx.Deliveries(DeliveryFilter{Status: DeliveryPending})
		for _, d := range ds {
			if db.delVer[d.Key] > since {
				c.Deliveries = append(c.Deliveries, d)
			}
		}
		return err
	})
	return c, err
}

func (r *fakeReplica) Status() (ClusterStatus, error) {
	db := r.db
	db.mu.Lock()
	defer db.mu.Unlock()
	return ClusterStatus{Replica: r.name, Leader: db.holder, Token: db.token, LeaseExpires: db.expires}, nil
}

// replicaHarness is one pager of several sharing a fakeDB.
type replicaHarness struct {
	name string
	r    *fakeReplica
	p    *Pager
	rec  *recorder
	logs *lockedBuffer
}

func newReplicas(t *testing.T, h *harness, db *fakeDB, names ...string) []*replicaHarness {
	var out []*replicaHarness
	for _, n := range names {
		rh := &replicaHarness{name: n, r: &fakeReplica{db: db, name: n}, logs: &lockedBuffer{}}
		rh.rec = &recorder{now: h.now, fail: map[string]bool{}, tz: map[string]string{}}
		chans := map[string]channel.Channel{}
		for _, c := range []string{"push", "sms", "voice", "email"} {
			chans[c] = recChannel{r: rh.rec, name: c}
		}
		p, err := New(Options{Config: h.c, Store: rh.r, Cluster: rh.r, Channels: chans, Now: h.now,
			Logger: slog.New(slog.NewTextHandler(rh.logs, nil)), Retry: channel.RetryPolicy{MaxAttempts: 2}, Workers: 2,
			AckKey: []byte("secret"), ExternalURL: "https://wd.example"})
		if err != nil {
			t.Fatal(err)
		}
		rh.p = p
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- p.Run(ctx) }()
		t.Cleanup(func() {
			cancel()
			if err := <-done; !errors.Is(err, context.Canceled) {
				t.Errorf("Run of %s: %v", n, err)
			}
		})
		out = append(out, rh)
	}
	synctest.Wait()
	return out
}

// leader returns the replica that leads; exactly one must.
func leader(t *testing.T, rs []*replicaHarness) (lead *replicaHarness, others []*replicaHarness) {
	t.Helper()
	for _, r := range rs {
		if st, _ := r.p.Cluster(); st.Leading {
			if lead != nil {
				t.Fatalf("%s and %s both lead", lead.name, r.name)
			}
			lead = r
		} else {
			others = append(others, r)
		}
	}
	if lead == nil {
		t.Fatal("no replica leads")
	}
	return lead, others
}

func (r *replicaHarness) sent() []string {
	r.rec.mu.Lock()
	defer r.rec.mu.Unlock()
	return slices.Clone(r.rec.log)
}

// TestReplicasOneEscalator: of three replicas exactly one escalates; an
// alert received by a follower is paged by the leader; when the leader is
// cut off from the database it stops before its lease ends and sends
// nothing more, another replica takes over and sends the next level; after
// the partition heals the old leader stays a follower.
func TestReplicasOneEscalator(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarnessWith(t, NewMemStore(), "10:00", reloadConfig(t, "same"))
		db := newFakeDB()
		rs := newReplicas(t, h, db, "a", "b", "c")
		lead, others := leader(t, rs)
		for _, r := range rs {
			if !r.p.Ready() {
				t.Errorf("%s not ready", r.name)
			}
		}
		if err := others[0].p.Receive(page("HighErrors", "c1")); err != nil {
			t.Fatal(err)
		}
		time.Sleep(2 * time.Second) // a poll of the leader
		synctest.Wait()
		if got, want := lead.sent(), []string{"10:00 push trigger inc-1 alice@alice-topic"}; !slices.Equal(got, want) {
			t.Fatalf("leader %s sent %q, want %q", lead.name, got, want)
		}

		lead.r.partitioned.Store(true)
		time.Sleep(DefaultLease) // past the lease: the leader stepped down, another took over
		synctest.Wait()
		if st, _ := lead.p.Cluster(); st.Leading {
			t.Fatalf("%s still leads after losing the database for a lease", lead.name)
		}
		if lead.p.Ready() {
			t.Errorf("%s ready while cut off", lead.name)
		}
		next, _ := leader(t, others)
		h.advance("10:03") // level 1's sms at 10:02
		synctest.Wait()
		if got, want := next.sent(), []string{"10:02 sms trigger inc-1 alice@+1555"}; !slices.Equal(got, want) {
			t.Errorf("new leader %s sent %q, want %q", next.name, got, want)
		}
		if got := lead.sent(); len(got) != 1 {
			t.Errorf("the partitioned leader sent after the partition: %q", got)
		}

		lead.r.partitioned.Store(false)
		time.Sleep(DefaultLease)
		synctest.Wait()
		if again, _ := leader(t, rs); again != next {
			t.Errorf("leadership moved to %s after the partition healed", again.name)
		}
		if !lead.p.Ready() {
			t.Errorf("%s not ready after the partition healed:\n%s", lead.name, lead.logs)
		}
		var all []string
		for _, r := range rs {
			all = append(all, r.sent()...)
		}
		if len(all) != 2 {
			t.Errorf("pages sent: %q, want each once", all)
		}
	})
}

// blockingChannel blocks the first send after it is armed until that
// send's context ends.
type blockingChannel struct {
	recChannel
	armed *atomic.Bool
}

func (c blockingChannel) Send(ctx context.Context, m channel.Message) (bool, error) {
	if c.armed.CompareAndSwap(true, false) {
		<-ctx.Done()
		return true, ctx.Err()
	}
	return c.recChannel.Send(ctx, m)
}

// TestReplicaNewTermResends: a leader whose renewals come late (each
// campaign takes almost the renewal interval) stops its escalator
// mid-send at the lease's end by its own clock; its late renewal still
// finds the lease live in the database, and it escalates again — under a
// new token, so the delivery the stopped escalator had claimed is claimed
// again and sent, once.
func TestReplicaNewTermResends(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarnessWith(t, NewMemStore(), "10:00", reloadConfig(t, "same"))
		db := newFakeDB()
		rs := newReplicas(t, h, db, "a")
		a := rs[0]
		var armed atomic.Bool
		a.p.o.Channels["sms"] = blockingChannel{recChannel: recChannel{r: a.rec, name: "sms"}, armed: &armed}
		if err := a.p.Receive(page("HighErrors", "c1")); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		first := db.token
		armed.Store(true)
		h.advance("10:02") // the sms is claimed and its send hangs
		synctest.Wait()
		a.r.slow.Store(int64(DefaultLease/3 - 100*time.Millisecond))
		time.Sleep(2 * DefaultLease) // a renewal comes after the lease's end by this clock
		synctest.Wait()
		if !strings.Contains(a.logs.String(), "stepped down") {
			t.Fatalf("the escalator did not stop at the lease's end:\n%s", a.logs)
		}
		a.r.slow.Store(0)
		time.Sleep(DefaultLease)
		synctest.Wait()
		if !a.p.leading.Load() || db.token == first {
			t.Fatalf("leading %v, token %d (was %d): want a new term", a.p.leading.Load(), db.token, first)
		}
		want := []string{"10:00 push trigger inc-1 alice@alice-topic", "10:02 sms trigger inc-1 alice@+1555"}
		got := a.sent()
		if len(got) != 2 || got[0] != want[0] || !strings.HasSuffix(got[1], "sms trigger inc-1 alice@+1555") {
			t.Errorf("sent %q, want %q (the sms after the new term began)\n%s", got, want, a.logs)
		}
	})
}
