package sqlstore

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/stdlib"

	"github.com/watchdog-sre/watchdog/pager"
)

// Replicas (PostgreSQL, Options.Replica)
//
// The lease is one row (pager_lease): the holder's name and process
// instance, a fencing token and an expiry in the database's clock
// (clock_timestamp(), never a replica's). Campaign takes the row FOR
// UPDATE; a lease taken anew — free, expired, or last held by another
// process — gets token+1. Every fenced write (UpdateFenced) and every
// delivery claim reads the row FOR KEY SHARE in its own transaction and
// refuses to go on unless it names this process, its token, and a future
// expiry. A takeover (FOR UPDATE) therefore waits for the fenced
// transactions in flight, and every one after it sees the new holder: the
// old leader commits nothing more. The holder renews its live lease with
// a plain UPDATE first (FOR NO KEY UPDATE, which KEY SHARE does not
// block): a renewal does not wait for the leader's own fenced
// transactions, so a long one (a rebuild) does not cost it the lease;
// and a follower reads a live lease without locking it, so its campaign
// neither waits for those transactions nor makes the renewal wait.

// errNotReplica is returned by the cluster methods of a Store opened
// without Options.Replica.
var errNotReplica = errors.New("sqlstore: not opened as a replica (Options.Replica)")

// newInstance returns a random name for this Store's process.
func newInstance() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Campaign implements pager.Cluster.
func (s *Store) Campaign(ctx context.Context, ttl time.Duration, renew bool) (pager.Lease, error) {
	if s.replica == "" {
		return pager.Lease{}, errNotReplica
	}
	if s.closed.Load() {
		return pager.Lease{}, ErrClosed
	}
	s.ttl.Store(int64(ttl))
	ctx, cancel := context.WithTimeout(ctx, s.txTimeout)
	defer cancel()
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return pager.Lease{}, fmt.Errorf("sqlstore: campaign: %w", err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `INSERT INTO pager_replicas (name, instance, started_at, last_seen)
		VALUES ($1, $2, clock_timestamp(), clock_timestamp())
		ON CONFLICT (name) DO UPDATE SET last_seen = excluded.last_seen, instance = excluded.instance,
			started_at = CASE WHEN pager_replicas.instance = excluded.instance THEN pager_replicas.started_at ELSE excluded.started_at END`,
		s.replica, s.instance); err != nil {
		return pager.Lease{}, fmt.Errorf("sqlstore: campaign: %w", err)
	}
	var l pager.Lease
	interval := fmt.Sprintf("%d microseconds", ttl.Microseconds())
	if renew {
		err = tx.QueryRowContext(ctx, `UPDATE pager_lease SET expires_at = clock_timestamp() + $3::interval
			WHERE id = 1 AND holder = $1 AND instance = $2 AND expires_at > clock_timestamp()
			RETURNING token, expires_at`, s.replica, s.instance, interval).Scan(&l.Token, &l.Expires)
		switch {
		case err == nil:
			if err := tx.Commit(); err != nil {
				return pager.Lease{}, fmt.Errorf("sqlstore: campaign: commit: %w", err)
			}
			return pager.Lease{Leader: true, Holder: s.replica, Token: l.Token, Expires: l.Expires}, nil
		case !errors.Is(err, sql.ErrNoRows):
			return pager.Lease{}, fmt.Errorf("sqlstore: campaign: renew: %w", err)
		}
	}
	var instance string
	var live bool
	// A live lease held by another process is read without a lock: a FOR
	// UPDATE would wait for the holder's fenced transactions, and queue
	// the holder's own renewal behind it.
	if err := tx.QueryRowContext(ctx, `SELECT holder, instance, token, expires_at, expires_at > clock_timestamp()
		FROM pager_lease WHERE id = 1`).Scan(&l.Holder, &instance, &l.Token, &l.Expires, &live); err != nil {
		return pager.Lease{}, fmt.Errorf("sqlstore: campaign: %w", err)
	}
	if live && (l.Holder != s.replica || instance != s.instance) {
		if err := tx.Commit(); err != nil {
			return pager.Lease{}, fmt.Errorf("sqlstore: campaign: commit: %w", err)
		}
		return l, nil
	}
	if err := tx.QueryRowContext(ctx, `SELECT holder, instance, token, expires_at, expires_at > clock_timestamp()
		FROM pager_lease WHERE id = 1 FOR UPDATE`).Scan(&l.Holder, &instance, &l.Token, &l.Expires, &live); err != nil {
		return pager.Lease{}, fmt.Errorf("sqlstore: campaign: %w", err)
	}
	ours := l.Holder == s.replica && instance == s.instance
	switch {
	case live && ours && renew:
		if err := tx.QueryRowContext(ctx, `UPDATE pager_lease SET expires_at = clock_timestamp() + $1::interval
			WHERE id = 1 RETURNING expires_at`, interval).Scan(&l.Expires); err != nil {
			return pager.Lease{}, fmt.Errorf("sqlstore: campaign: renew: %w", err)
		}
		l.Leader = true
	case !live || ours: // take, or start a new term
		if err := tx.QueryRowContext(ctx, `UPDATE pager_lease SET holder = $1, instance = $2, token = token + 1,
			expires_at = clock_timestamp() + $3::interval, acquired_at = clock_timestamp()
			WHERE id = 1 RETURNING token, expires_at`, s.replica, s.instance, interval).Scan(&l.Token, &l.Expires); err != nil {
			return pager.Lease{}, fmt.Errorf("sqlstore: campaign: take: %w", err)
		}
		l.Holder, l.Leader = s.replica, true
	}
	if err := tx.Commit(); err != nil {
		return pager.Lease{}, fmt.Errorf("sqlstore: campaign: commit: %w", err)
	}
	return l, nil
}

// Resign implements pager.Cluster.
func (s *Store) Resign(ctx context.Context, token int64) error {
	if s.replica == "" {
		return errNotReplica
	}
	ctx, cancel := context.WithTimeout(ctx, s.txTimeout)
	defer cancel()
	_, err := s.db.ExecContext(ctx, `UPDATE pager_lease SET expires_at = clock_timestamp()
		WHERE id = 1 AND holder = $1 AND instance = $2 AND token = $3`, s.replica, s.instance, token)
	if err != nil {
		return fmt.Errorf("sqlstore: resign: %w", err)
	}
	return nil
}

// UpdateFenced implements pager.Cluster.
func (s *Store) UpdateFenced(token int64, fn func(tx pager.Tx) error) error {
	if s.replica == "" {
		return errNotReplica
	}
	if token == 0 {
		return fmt.Errorf("%w: no lease", pager.ErrFenced)
	}
	return s.update(token, fn)
}

// checkLease fails with pager.ErrFenced unless token is this process's
// unexpired lease. The lease row stays key-share-locked until tx ends, so
// no takeover (FOR UPDATE) commits in between; the holder's own renewal
// (a plain UPDATE) does not wait for it.
func (s *Store) checkLease(ctx context.Context, tx *sql.Tx, token int64) error {
	var ok bool
	err := tx.QueryRowContext(ctx, `SELECT holder = $1 AND instance = $2 AND token = $3 AND expires_at > clock_timestamp()
		FROM pager_lease WHERE id = 1 FOR KEY SHARE`, s.replica, s.instance, token).Scan(&ok)
	if err != nil {
		return fmt.Errorf("sqlstore: check lease: %w", err)
	}
	if !ok {
		return fmt.Errorf("%w: the lease of term %d is lost", pager.ErrFenced, token)
	}
	return nil
}

// Claim implements pager.Cluster.
func (s *Store) Claim(token int64, key string) (pager.Claim, error) {
	if s.replica == "" {
		return pager.Claim{}, errNotReplica
	}
	ctx, cancel := s.txContext()
	defer cancel()
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return pager.Claim{}, fmt.Errorf("sqlstore: claim: %w", err)
	}
	defer tx.Rollback()
	if err := s.checkLease(ctx, tx, token); err != nil {
		return pager.Claim{}, err
	}
	var status string
	var claimed, attempts sql.NullInt64
	var errText sql.NullString
	err = tx.QueryRowContext(ctx, `SELECT status, claim_token, sent_attempts, sent_error FROM deliveries WHERE key = $1 FOR UPDATE`,
		key).Scan(&status, &claimed, &attempts, &errText)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return pager.Claim{}, nil
	case err != nil:
		return pager.Claim{}, fmt.Errorf("sqlstore: claim: %w", err)
	case status != string(pager.DeliveryPending) || (claimed.Valid && claimed.Int64 == token):
		return pager.Claim{}, nil
	case attempts.Valid:
		return pager.Claim{Sent: true, Attempts: int(attempts.Int64), Err: errText.String}, nil
	}
	if _, err := tx.ExecContext(ctx, `UPDATE deliveries SET claim_token = $1 WHERE key = $2`, token, key); err != nil {
		return pager.Claim{}, fmt.Errorf("sqlstore: claim: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return pager.Claim{}, fmt.Errorf("sqlstore: claim: commit: %w", err)
	}
	return pager.Claim{OK: true}, nil
}

// Sent implements pager.Cluster. It does not check the lease: it records
// what happened, and a deposed leader's send happened all the same.
func (s *Store) Sent(token int64, key string, attempts int, errText string) error {
	if s.replica == "" {
		return errNotReplica
	}
	ctx, cancel := s.txContext()
	defer cancel()
	_, err := s.db.ExecContext(ctx, `UPDATE deliveries SET sent_attempts = $1, sent_error = $2
		WHERE key = $3 AND claim_token = $4 AND status = $5`, attempts, errText, key, token, string(pager.DeliveryPending))
	if err != nil {
		return fmt.Errorf("sqlstore: sent: %w", err)
	}
	return nil
}

// Changes implements pager.Cluster: one REPEATABLE READ snapshot, in
// which every row stamped up to the version read is committed (numbers
// are taken under the write lock, so they follow commit order).
func (s *Store) Changes(since int64) (pager.Changes, error) {
	if s.replica == "" {
		return pager.Changes{}, errNotReplica
	}
	var c pager.Changes
	err := s.View(func(rtx pager.ReadTx) error {
		t := rtx.(*readTx)
		if err := t.tx.QueryRowContext(t.ctx, "SELECT version FROM pager_changes WHERE id = 1").Scan(&c.Version); err != nil {
			return fmt.Errorf("sqlstore: changes: %w", err)
		}
		if c.Version == since {
			return nil
		}
		var err error
		if c.Incidents, err = t.incidents("SELECT id, id, state FROM incidents WHERE version > ? ORDER BY id", since); err != nil {
			return err
		}
		if c.Silences, err = queryJSON(t, "silences", checkSilence,
			"SELECT id, id, silence FROM silences WHERE version > ? ORDER BY id", since); err != nil {
			return err
		}
		c.Deliveries, err = queryJSON(t, "deliveries", checkDelivery,
			"SELECT key, key, delivery FROM deliveries WHERE version > ? AND status = ? ORDER BY created_s, created_ns, key",
			since, string(pager.DeliveryPending))
		return err
	})
	return c, err
}

// Version implements the pager's versionReader: the change number a read
// transaction sees (PostgreSQL replicas only).
func (t *readTx) Version() (int64, bool, error) {
	if t.s.replica == "" {
		return 0, false, nil
	}
	var v int64
	if err := t.tx.QueryRowContext(t.ctx, "SELECT version FROM pager_changes WHERE id = 1").Scan(&v); err != nil {
		return 0, false, fmt.Errorf("sqlstore: version: %w", err)
	}
	return v, true, nil
}

// TxVersion implements the pager's versionedTx: the change number of this
// write transaction, 0 when the Store is not a replica.
func (t *writeTx) TxVersion() int64 {
	if t.s.replica == "" {
		return 0
	}
	if err := t.stamp(); err != nil {
		t.err = err
		return 0
	}
	return t.version
}

// Status implements pager.Cluster.
func (s *Store) Status() (pager.ClusterStatus, error) {
	if s.replica == "" {
		return pager.ClusterStatus{}, errNotReplica
	}
	ctx, cancel := s.txContext()
	defer cancel()
	st := pager.ClusterStatus{Replica: s.replica}
	var instance string
	var live bool
	var now time.Time
	if err := s.db.QueryRowContext(ctx, `SELECT holder, instance, token, expires_at, expires_at > clock_timestamp(), clock_timestamp()
		FROM pager_lease WHERE id = 1`).Scan(&st.Leader, &instance, &st.Token, &st.LeaseExpires, &live, &now); err != nil {
		return st, fmt.Errorf("sqlstore: cluster status: %w", err)
	}
	if !live {
		st.Leader = ""
	}
	rows, err := s.db.QueryContext(ctx, `SELECT name, instance, started_at, last_seen FROM pager_replicas ORDER BY name`)
	if err != nil {
		return st, fmt.Errorf("sqlstore: cluster status: %w", err)
	}
	defer rows.Close()
	ttl := time.Duration(s.ttl.Load())
	if ttl <= 0 {
		ttl = pager.DefaultLease
	}
	for rows.Next() {
		var r pager.ReplicaStatus
		var inst string
		if err := rows.Scan(&r.Name, &inst, &r.StartedAt, &r.LastSeen); err != nil {
			return st, fmt.Errorf("sqlstore: cluster status: %w", err)
		}
		r.Leader = live && r.Name == st.Leader && inst == instance
		r.Alive = now.Sub(r.LastSeen) < 2*ttl
		st.Replicas = append(st.Replicas, r)
	}
	return st, rows.Err()
}

var _ pager.Cluster = (*Store)(nil)

// pgChannel is the PostgreSQL notification channel of committed writes.
const pgChannel = "watchdog_pager"

// Listen implements the pager's listener: it calls wake after every write
// any replica commits (PostgreSQL LISTEN/NOTIFY on a connection of its
// own), until ctx ends. A lost connection is opened again after a second;
// the pager's polling covers the gap.
func (s *Store) Listen(ctx context.Context, wake func()) {
	for ctx.Err() == nil {
		err := s.listen(ctx, wake)
		if ctx.Err() != nil {
			return
		}
		s.log.Warn("pager database: listening for other replicas' writes failed; polling meanwhile", "err", err)
		t := time.NewTimer(time.Second)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// listen listens until ctx ends or the connection fails.
func (s *Store) listen(ctx context.Context, wake func()) error {
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	return conn.Raw(func(dc any) error {
		sc, ok := dc.(*stdlib.Conn)
		if !ok {
			return fmt.Errorf("listen: unexpected driver connection %T", dc)
		}
		pc := sc.Conn()
		if _, err := pc.Exec(ctx, "LISTEN "+pgChannel); err != nil {
			return err
		}
		// Back in the pool, the connection must not keep listening.
		defer func() {
			uctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			if !pc.IsClosed() {
				_, _ = pc.Exec(uctx, "UNLISTEN *")
			}
		}()
		for {
			if _, err := pc.WaitForNotification(ctx); err != nil {
				return err
			}
			wake()
		}
	})
}
