package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"

	"github.com/watchdog-sre/watchdog/pager"
)

// pgEscalatorLock is the key of the session advisory lock that makes one
// process the only user of a PostgreSQL pager database (Options.Exclusive):
// "wdpager" in ASCII.
const pgEscalatorLock = 0x7764706167657200

// pgSessionLock holds a PostgreSQL session advisory lock on a connection
// of its own for the life of the Store. Until replicas share the work under
// a lease with a fencing token, two processes on one database would both
// run escalation timers and both page; the lock refuses the second at
// start, as the SQLite file lock does. PostgreSQL drops it when the holder's
// session ends (a crash, a SIGKILL, a lost connection).
type pgSessionLock struct {
	db  *sql.DB
	red string

	mu   sync.Mutex
	conn *sql.Conn // the session holding the lock; writes run on it
	pid  int32     // its server process, for tests and messages
}

// acquirePGLock takes the lock, or returns an error wrapping ErrLocked
// that names the database (redacted) and the holder's PID and host when
// PostgreSQL tells them.
func acquirePGLock(ctx context.Context, db *sql.DB, red string) (*pgSessionLock, error) {
	conn, err := db.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("lock: %w", err)
	}
	var ok bool
	if err := conn.QueryRowContext(ctx, `SELECT pg_try_advisory_lock($1)`, int64(pgEscalatorLock)).Scan(&ok); err != nil {
		conn.Close()
		return nil, fmt.Errorf("lock: %w", err)
	}
	if ok {
		l := &pgSessionLock{db: db, red: red, conn: conn}
		if err := conn.QueryRowContext(ctx, `SELECT pg_backend_pid()`).Scan(&l.pid); err != nil {
			conn.Close()
			return nil, fmt.Errorf("lock: %w", err)
		}
		return l, nil
	}
	holder := "another process"
	var pid int
	var addr sql.NullString
	err = conn.QueryRowContext(ctx, `SELECT a.pid, host(a.client_addr) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
		WHERE l.locktype = 'advisory' AND l.granted AND (l.classid::bigint << 32 | l.objid::bigint) = $1
		AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database()) LIMIT 1`,
		int64(pgEscalatorLock)).Scan(&pid, &addr)
	if err == nil {
		holder = fmt.Sprintf("the session of server process %d", pid)
		if addr.Valid {
			holder += " from " + addr.String
		}
	}
	conn.Close()
	return nil, fmt.Errorf("pager database %s is %w (%s): until replicas share escalation under a lease, one process at a time runs the pager on a database",
		red, ErrLocked, holder)
}

// begin starts a write transaction on the session that holds the lock.
// When that session is gone, it tries to take the lock again on a new
// session, for the writes after this one, and refuses this one all the
// same with an error wrapping pager.ErrFenced: another process may have
// written meanwhile, and the pager must rebuild from the store first.
func (l *pgSessionLock) begin(ctx context.Context) (*sql.Tx, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.conn != nil {
		tx, err := l.conn.BeginTx(ctx, nil)
		if err == nil {
			return tx, nil
		}
		l.conn.Close()
		l.conn = nil
	}
	next, err := acquirePGLock(ctx, l.db, l.red)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", pager.ErrFenced, err)
	}
	l.conn, l.pid = next.conn, next.pid
	return nil, fmt.Errorf("%w: the session holding the lock of %s was lost; it is taken again", pager.ErrFenced, l.red)
}

// release unlocks and returns the connection; nil is a no-op.
func (l *pgSessionLock) release() error {
	if l == nil {
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.conn == nil {
		return nil
	}
	_, err := l.conn.ExecContext(context.Background(), `SELECT pg_advisory_unlock($1)`, int64(pgEscalatorLock))
	err = errors.Join(err, l.conn.Close())
	l.conn = nil
	return err
}
