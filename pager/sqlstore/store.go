// Package sqlstore implements pager.Store over SQLite (modernc.org/sqlite,
// pure Go), so that incidents, timelines, the delivery outbox and silences
// survive restarts and crashes; OpenPostgres runs the same Store over
// PostgreSQL (see postgres.go).
//
// # Durability and atomicity
//
// The database runs in WAL mode with synchronous=FULL: every committed
// transaction is fsynced to the WAL before Commit returns, so a state
// change the Pager has committed is on disk before it acts on it. One
// Update is one BEGIN IMMEDIATE transaction (the write lock is taken at
// BEGIN, so the transaction never fails half-way for lack of it); updates
// within a process are additionally serialised by a mutex. View is a
// deferred read transaction: in WAL mode it sees one consistent snapshot
// and never blocks or is blocked by the writer.
//
// # One process per file
//
// A Store holds an exclusive advisory lock (flock) on path+".lock" from
// Open to Close; a second Open of the file, in this process or another,
// fails with ErrLocked. Two processes on one file would both accept
// alerts and neither would escalate what the other opened once it died;
// replicas share a PostgreSQL database instead (OpenPostgres with
// Options.Replica: a lease with a fencing token, see cluster.go). The kernel releases the
// lock when the process dies, however it dies.
//
// # Schema
//
// Incidents, timeline entries, deliveries and silences are stored as JSON
// documents, plus the columns the queries filter and sort on (status,
// group key, route, creation time, next due time, delivery status). A
// partial unique index allows one open incident per group key. The schema
// is versioned by the schema_version table and upgraded by the migrations
// list at Open.
//
// An incident's alerts are rows of their own (incident_alerts), written as
// diffs: an incident gaining one alert in a storm costs one alert's
// encoding and one row (see alerts.go).
//
// Times round-trip through JSON: they come back equal (time.Time.Equal) to
// what was stored, without monotonic clock reading, and in UTC (or a fixed
// zone with the original offset) rather than the original *time.Location.
package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"modernc.org/sqlite"

	"github.com/watchdog-sre/watchdog/pager"
)

// Errors returned by Open.
var (
	// ErrNotDatabase: the file is not an SQLite database, or it is corrupt.
	ErrNotDatabase = errors.New("not an SQLite database or corrupt")
	// ErrForeign: the file is an SQLite database of another application.
	ErrForeign = errors.New("not a watchdog pager database")
	// ErrSchemaVersion: the database was written by a newer watchdog with
	// a schema this version does not know.
	ErrSchemaVersion = errors.New("unsupported schema version")
	// ErrClosed: the Store has been closed.
	ErrClosed = errors.New("store closed")
	// ErrEmptyFile: the file exists but holds 0 bytes (and no WAL). SQLite
	// would take it for a new, empty database; Open refuses, because an
	// emptied file is far more often a lost database (truncated, a failed
	// copy, a full disk) than a wish to start afresh. Delete the file to
	// start a new database.
	ErrEmptyFile = errors.New("file is empty (0 bytes)")
)

// Options configure a Store. The zero value is safe.
type Options struct {
	// BusyTimeout is how long a transaction waits for a lock held by
	// another connection or process (default 5s).
	BusyTimeout time.Duration
	// MaxConns bounds open connections; reads use all of them, writes one
	// at a time (default 8).
	MaxConns int
	// SkipQuickCheck skips PRAGMA quick_check at Open (a scan of the whole
	// file; fast for the size of a pager database).
	SkipQuickCheck bool
	// Replica (PostgreSQL) names this process among the replicas sharing
	// the database: the Store then implements pager.Cluster (a lease with
	// a fencing token; see cluster.go). Names must differ between
	// replicas.
	Replica string
	// TxTimeout (PostgreSQL) bounds every transaction (default 10s).
	TxTimeout time.Duration
	// IdleInTransaction (PostgreSQL) is how long the server keeps a
	// transaction whose client has gone silent in the middle of it
	// (idle_in_transaction_session_timeout) before ending the session
	// (default TxTimeout). A replica frozen mid-transaction (SIGSTOP, a VM
	// paused, a stalled host) holds the locks of its fenced write or lease
	// renewal, and the other replicas' takeover waits for those locks:
	// replicas set it to their lease, so that failover takes about two
	// leases at worst, however the old leader stopped.
	IdleInTransaction time.Duration
	// Logger receives an ERROR line for every corrupt row (default:
	// discard).
	Logger *slog.Logger
	// Metrics receives watchdog_pager_store_corrupt_rows_total{table};
	// nil disables it.
	Metrics *metrics.Set
}

// Store is a pager.Store backed by an SQLite database file. It is safe for
// concurrent use by multiple goroutines. One Store at a time may have a
// file open: Open takes an exclusive lock on path+".lock" (see ErrLocked)
// that Close, or the end of the process, releases.
type Store struct {
	path string // for PostgreSQL, the URL without its password
	db   *sql.DB
	lock *fileLock
	d    *dialect // nil: SQLite
	// txTimeout bounds transactions (PostgreSQL only, see txContext).
	txTimeout time.Duration
	// replica and instance name this process in the lease (Options.Replica);
	// instance is random per Store, so a restarted replica is a new holder.
	replica, instance string
	ttl               atomic.Int64 // the last Campaign's lease, for Status
	log               *slog.Logger
	metrics           *metrics.Set
	created           bool     // Open created the file
	reported          sync.Map // table + "\x00" + row name of corrupt rows already reported

	wmu    sync.Mutex  // serialises Update within the process
	closed atomic.Bool // set by Close under wmu

	// Guarded by wmu:
	prepared map[string]*sql.Stmt // write statements, see writeTx.stmt
	// sums are the alerts last written of the open incidents this Store
	// wrote (see alerts.go), hashed with seed.
	sums map[string]*alertSums
	seed maphash.Seed
	// seqs are the sequences' values as this Store last committed them
	// (NextID reads a sequence not here); forgotten, like sums, when
	// another Store may have written since.
	seqs map[string]int64
	// lastVersion is the change number of this Store's last committed
	// write (PostgreSQL; see forgetOthersWrites).
	lastVersion int64
	// alertRows counts the alert rows written and deleted (for tests).
	alertRows int
}

var _ pager.Store = (*Store)(nil)

// sqliteMagic starts every SQLite database file.
const sqliteMagic = "SQLite format 3\x00"

// Open opens (creating if needed) the database at path and brings its
// schema up to date. A file that is not an SQLite database, or a corrupt
// one, yields an error wrapping ErrNotDatabase; a database of another
// application ErrForeign; a newer schema ErrSchemaVersion; an empty file
// ErrEmptyFile.
//
// Rows the pager loads at start (open incidents, pending deliveries,
// silences) that do not decode are moved to the quarantine table with an
// ERROR log line each; other corrupt rows are skipped when read, also
// with an ERROR line. Neither fails the Store.
//
// A database another Store holds (another process, or this one) yields
// an error wrapping ErrLocked that names the file and the holder's PID.
func Open(path string, opts Options) (*Store, error) {
	if path == "" {
		return nil, errors.New("sqlstore: open: empty path")
	}
	if opts.BusyTimeout <= 0 {
		opts.BusyTimeout = 5 * time.Second
	}
	if opts.MaxConns <= 0 {
		opts.MaxConns = 8
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: open %s: %w", path, err)
	}
	lock, err := acquireLock(abs)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: open %s: %w", path, err)
	}
	s, err := open(path, abs, lock, opts)
	if err != nil {
		_ = lock.release()
		return nil, fmt.Errorf("sqlstore: open %s: %w", path, err)
	}
	return s, nil
}

// open opens the database at abs once its lock is held.
func open(path, abs string, lock *fileLock, opts Options) (*Store, error) {
	_, statErr := os.Stat(abs)
	if err := checkHeader(abs); err != nil {
		return nil, err
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	db, err := sql.Open("sqlite", dsn(abs, opts))
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(opts.MaxConns)
	db.SetMaxIdleConns(opts.MaxConns)
	s := &Store{path: path, db: db, lock: lock, log: opts.Logger, metrics: opts.Metrics,
		created: errors.Is(statErr, os.ErrNotExist), seed: maphash.MakeSeed()}
	if err := s.init(opts); err != nil {
		db.Close()
		return nil, classify(err)
	}
	if _, err := s.quarantine(); err != nil {
		db.Close()
		return nil, classify(err)
	}
	return s, nil
}

// dsn returns the data source name: a file: URI whose _pragma parameters
// the driver runs on every new connection, and _txlock=immediate, which
// makes every read-write BEGIN a BEGIN IMMEDIATE (read-only transactions,
// used by View, stay deferred).
func dsn(abs string, opts Options) string {
	q := url.Values{}
	q.Add("_pragma", "busy_timeout("+strconv.FormatInt(opts.BusyTimeout.Milliseconds(), 10)+")")
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous(FULL)")
	// Checkpoint every ~40 MB of WAL rather than 4 MB: an incident row
	// rewritten many times between checkpoints reaches the database file
	// once. Durability does not change (every commit is fsynced to the
	// WAL); recovery after a crash replays at most that much.
	q.Add("_pragma", "wal_autocheckpoint(10000)")
	// A 32 MiB page cache per connection (default 2 MiB) keeps the rows of
	// an alert storm's open incidents in memory.
	q.Add("_pragma", "cache_size(-32768)")
	// Statement journals (a multi-row INSERT's undo log, should one row
	// fail) in memory: in a temporary file past 64 KiB, they cost a
	// write system call per page, a sixth of a storm's CPU.
	q.Add("_pragma", "temp_store(MEMORY)")
	q.Add("_pragma", "foreign_keys(1)")
	q.Set("_txlock", "immediate")
	u := url.URL{Scheme: "file", Path: filepath.ToSlash(abs), RawQuery: q.Encode()}
	return u.String()
}

// checkHeader rejects an existing, non-empty file that does not start like
// an SQLite database, before SQLite gets to it.
func checkHeader(abs string) error {
	f, err := os.Open(abs)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("%w: not a regular file", ErrNotDatabase)
	}
	if fi.Size() == 0 {
		// SQLite would treat it as a new, empty database. A WAL beside
		// it holds the data of a database that was never checkpointed
		// (a crash right after creation): SQLite recovers that.
		if wal, err := os.Stat(abs + "-wal"); err == nil && wal.Size() > 0 {
			return nil
		}
		return fmt.Errorf("%w: refusing to start with an empty database in place of one that may have been lost; "+
			"delete the file to start a new database", ErrEmptyFile)
	}
	buf := make([]byte, len(sqliteMagic))
	if _, err := io.ReadFull(f, buf); err != nil || string(buf) != sqliteMagic {
		return fmt.Errorf("%w: bad file header", ErrNotDatabase)
	}
	return nil
}

// SQLite primary result codes classify reports as ErrNotDatabase.
const (
	codeCorrupt = 11 // SQLITE_CORRUPT
	codeNotADB  = 26 // SQLITE_NOTADB

	codeConstraintUnique = 2067 // SQLITE_CONSTRAINT_UNIQUE
)

// classify wraps SQLite's corruption errors in ErrNotDatabase.
func classify(err error) error {
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() & 0xff {
		case codeCorrupt, codeNotADB:
			return fmt.Errorf("%w: %w", ErrNotDatabase, err)
		}
	}
	return err
}

// init checks the connection settings and the file, and migrates.
func (s *Store) init(opts Options) error {
	ctx := context.Background()
	var mode string
	if err := s.db.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
		return fmt.Errorf("journal mode: %w", err)
	}
	if mode != "wal" {
		return fmt.Errorf("journal mode is %q, want wal", mode)
	}
	if !opts.SkipQuickCheck {
		if err := quickCheck(ctx, s.db); err != nil {
			return err
		}
	}
	return migrate(ctx, s.db)
}

// quickCheck runs PRAGMA quick_check, which answers one row "ok" or rows
// describing problems.
func quickCheck(ctx context.Context, db *sql.DB) error {
	rows, err := db.QueryContext(ctx, "PRAGMA quick_check")
	if err != nil {
		return fmt.Errorf("quick check: %w", err)
	}
	defer rows.Close()
	var problems []string
	for rows.Next() {
		var msg string
		if err := rows.Scan(&msg); err != nil {
			return fmt.Errorf("quick check: %w", err)
		}
		if msg != "ok" && len(problems) < 3 {
			problems = append(problems, msg)
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("quick check: %w", err)
	}
	if len(problems) > 0 {
		return fmt.Errorf("%w: quick check: %q", ErrNotDatabase, problems)
	}
	return nil
}

// Created reports whether Open created the database file: incident
// numbering then starts at inc-1.
func (s *Store) Created() bool { return s.created }

// Path returns the path the Store was opened with; for PostgreSQL, the
// URL with its password redacted.
func (s *Store) Path() string { return s.path }

// Close checkpoints the WAL into the database file, closes it and releases
// the lock. It waits for a running Update; later calls return ErrClosed.
func (s *Store) Close() error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if s.closed.Load() {
		return ErrClosed
	}
	s.closed.Store(true)
	for _, ps := range s.prepared {
		ps.Close()
	}
	var cerr error
	if q := s.dialect().onClose; q != "" {
		if _, cerr = s.db.ExecContext(context.Background(), q); cerr != nil {
			cerr = fmt.Errorf("sqlstore: checkpoint: %w", cerr)
		}
	}
	dberr := s.db.Close()
	return errors.Join(cerr, dberr, s.lock.release())
}

// View implements pager.Store: fn reads one consistent snapshot.
func (s *Store) View(fn func(tx pager.ReadTx) error) error {
	if s.closed.Load() {
		return ErrClosed
	}
	ctx, cancel := s.txContext()
	defer cancel()
	tx, err := s.db.BeginTx(ctx, s.dialect().read)
	if err != nil {
		return fmt.Errorf("sqlstore: begin read: %w", err)
	}
	defer tx.Rollback()
	return fn(&readTx{tx: tx, s: s, ctx: ctx})
}

// txContext bounds a transaction on PostgreSQL by Options.TxTimeout, so
// that a database that stops answering (a partition, a dead server behind
// a live connection) fails the write instead of holding it, and the
// pager's lock, for the kernel's TCP timeout. SQLite's are not bounded.
func (s *Store) txContext() (context.Context, context.CancelFunc) {
	if s.txTimeout <= 0 {
		return bg, func() {}
	}
	return context.WithTimeout(bg, s.txTimeout)
}

// Update implements pager.Store: fn runs in one BEGIN IMMEDIATE
// transaction, committed (and fsynced) if fn returns nil, rolled back
// otherwise; fn's error is returned as is. A panic in fn rolls back too.
func (s *Store) Update(fn func(tx pager.Tx) error) error {
	return s.update(0, fn)
}

// update is Update; a token other than 0 is checked against the lease in
// the transaction first (UpdateFenced).
func (s *Store) update(token int64, fn func(tx pager.Tx) error) error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if s.closed.Load() {
		return ErrClosed
	}
	ctx, cancel := s.txContext()
	defer cancel()
	tx, err := s.beginWrite(ctx)
	if err != nil {
		return fmt.Errorf("sqlstore: begin: %w", err)
	}
	committed := false
	defer func() {
		if !committed {
			tx.Rollback()
		}
	}()
	if token != 0 {
		if err := s.checkLease(ctx, tx, token); err != nil {
			return err
		}
	}
	w := &writeTx{readTx: readTx{tx: tx, s: s, ctx: ctx}, s: s}
	w.w = w
	if err := fn(w); err != nil {
		return err
	}
	if w.err != nil {
		return w.err
	}
	if err := w.flush(); err != nil {
		return fmt.Errorf("sqlstore: %w", err)
	}
	if err := tx.Commit(); err != nil {
		// Perhaps committed after all (a connection lost on PostgreSQL),
		// and then perhaps followed by another replica's writes that
		// forgetOthersWrites could not tell from this one: every
		// incident's next write rewrites all its alerts.
		s.sums, s.seqs, s.lastVersion = nil, nil, 0
		return fmt.Errorf("sqlstore: commit: %w", err)
	}
	committed = true
	if w.version != 0 {
		s.lastVersion = w.version
	}
	for name, c := range w.seqs {
		if s.seqs == nil {
			s.seqs = map[string]int64{}
		}
		s.seqs[name] = c.value
	}
	for id, sums := range w.pending {
		if sums == nil {
			delete(s.sums, id)
			continue
		}
		if s.sums == nil {
			s.sums = map[string]*alertSums{}
		}
		s.sums[id] = sums
	}
	return nil
}

// forgetOthersWrites drops the alert sums of the incidents that another
// Store (another replica) wrote since this one last committed, so that
// PutIncident rewrites their alerts rather than trusting what this one
// wrote before. Change numbers follow commit order and a rolled-back
// transaction's number is taken again, so version is lastVersion+1
// exactly when nobody else has committed since (and then nothing is
// read), and the sequences NextID counted (Store.seqs). SQLite files have
// one Store (the lock): nothing to do.
func (s *Store) forgetOthersWrites(ctx context.Context, tx *sql.Tx, version int64) error {
	if version == 0 || version == s.lastVersion+1 {
		return nil
	}
	s.seqs = nil
	if len(s.sums) == 0 || s.lastVersion == 0 {
		return nil
	}
	rows, err := tx.QueryContext(ctx, s.q("SELECT id FROM incidents WHERE version > ? AND version < ?"), s.lastVersion, version)
	if err != nil {
		return fmt.Errorf("sqlstore: others' writes: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return fmt.Errorf("sqlstore: others' writes: %w", err)
		}
		delete(s.sums, id)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("sqlstore: others' writes: %w", err)
	}
	return nil
}
