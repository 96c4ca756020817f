package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"time"

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

	mu    sync.Mutex
	conn  *sql.Conn
	pid   int32     // the holding session's server process
	start time.Time // and its backend_start: pid and start name the session
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
		if err := conn.QueryRowContext(ctx, `SELECT pid, backend_start FROM pg_stat_activity WHERE pid = pg_backend_pid()`).
			Scan(&l.pid, &l.start); err != nil {
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

// holdsQuery is true when the session named by ($2, $3) holds the lock.
const holdsQuery = `SELECT EXISTS (SELECT 1 FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
	WHERE l.locktype = 'advisory' AND l.granted AND (l.classid::bigint << 32 | l.objid::bigint) = $1
	AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
	AND l.pid = $2 AND a.backend_start = $3)`

// check is the fence of a write transaction: it runs inside tx, after the
// write lock, and returns an error wrapping pager.ErrFenced unless this
// Store's session still holds the lock. When the session is gone it tries
// to take the lock again on a new session, for the writes after this one:
// this one is refused all the same, since another process may have
// written meanwhile and the pager must rebuild from the store first.
func (l *pgSessionLock) check(ctx context.Context, tx *sql.Tx) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	var held bool
	if err := tx.QueryRowContext(ctx, holdsQuery, int64(pgEscalatorLock), l.pid, l.start).Scan(&held); err != nil {
		return fmt.Errorf("check the escalator lock: %w", err)
	}
	if held {
		return nil
	}
	if l.conn != nil {
		l.conn.Close()
		l.conn = nil
	}
	next, err := acquirePGLock(ctx, l.db, l.red)
	if err == nil {
		l.conn, l.pid, l.start = next.conn, next.pid, next.start
		return fmt.Errorf("%w: the session holding the lock of %s was lost; it is taken again", pager.ErrFenced, l.red)
	}
	return fmt.Errorf("%w: %w", pager.ErrFenced, err)
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
