package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"

	"modernc.org/sqlite"
)

// dialect is what differs between the databases a Store runs on. The
// queries, the row encoding, the corrupt-row handling and the quarantine
// are shared: statements are written once with ? placeholders and
// rewritten to $1, $2, … for PostgreSQL (Store.q).
type dialect struct {
	// numbered: the database wants $n placeholders.
	numbered bool
	// read are the options of View's transactions.
	read *sql.TxOptions
	// lockWrite, when not empty, is the first statement of every write
	// transaction (Update, the quarantine at Open).
	lockWrite string
	// nextVersion, when not empty, is run after lockWrite and returns
	// the write transaction's change number.
	nextVersion string
	// stampIncidents: incident rows are written with the transaction's
	// change number (putIncidentsStamped).
	stampIncidents bool
	// unique reports a unique-constraint violation.
	unique func(error) bool
	// onClose, when not empty, is run by Close before closing.
	onClose string
	// concat is the aggregate function that concatenates strings with a
	// separator.
	concat string
}

// sqliteDialect: BEGIN IMMEDIATE (see dsn) takes SQLite's single write
// lock at BEGIN; a read transaction in WAL mode sees one snapshot.
var sqliteDialect = &dialect{
	read: &sql.TxOptions{ReadOnly: true},
	unique: func(err error) bool {
		var se *sqlite.Error
		return errors.As(err, &se) && se.Code() == codeConstraintUnique
	},
	onClose: "PRAGMA wal_checkpoint(TRUNCATE)",
	concat:  "group_concat",
}

// dialect returns the Store's dialect: SQLite unless OpenPostgres set one.
func (s *Store) dialect() *dialect {
	if s.d == nil {
		return sqliteDialect
	}
	return s.d
}

// rebound caches the $n form of every statement (there are few).
var rebound sync.Map // string -> string

// q returns query in the Store's placeholder style.
func (s *Store) q(query string) string {
	if !s.dialect().numbered {
		return query
	}
	if r, ok := rebound.Load(query); ok {
		return r.(string)
	}
	var b strings.Builder
	n := 0
	for _, c := range []byte(query) {
		if c == '?' {
			n++
			b.WriteString("$" + strconv.Itoa(n))
			continue
		}
		b.WriteByte(c)
	}
	rebound.Store(query, b.String())
	return b.String()
}

// beginWrite starts a write transaction and runs the dialect's lockWrite,
// which serialises writers. The change number is taken later, by the
// transaction's first write of a stamped row (writeTx.stamp).
func (s *Store) beginWrite(ctx context.Context) (*sql.Tx, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	if d := s.dialect(); d.lockWrite != "" {
		if _, err := tx.ExecContext(ctx, d.lockWrite); err != nil {
			tx.Rollback()
			return nil, fmt.Errorf("lock: %w", err)
		}
	}
	return tx, nil
}

// stamp takes the transaction's change number on PostgreSQL (see
// Changes), once, before its first write of anything but the status
// subscriber tables (which replicas read from the database, not from
// Changes): the row of pager_changes is bumped and the number set for the
// version triggers of the rows written next; replicas are told at commit.
// A transaction that writes only subscriber rows takes no number, so that
// the subscriber loop's writes do not make the pager's next write read
// back every incident it touches as possibly another replica's. Numbers
// are taken under the write lock, so they follow commit order.
func (t *writeTx) stamp() error {
	q := t.s.dialect().nextVersion
	if t.version != 0 || q == "" {
		return nil
	}
	var version int64
	if err := t.tx.QueryRowContext(t.ctx, q).Scan(&version); err != nil {
		return fmt.Errorf("sqlstore: change number: %w", err)
	}
	t.version = version
	return t.s.forgetOthersWrites(t.ctx, t.tx, version)
}
