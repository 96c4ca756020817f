package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"hash/maphash"
	"log/slog"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/watchdog-sre/watchdog/internal/dburl"
)

// PostgreSQL
//
// OpenPostgres runs the same Store over PostgreSQL (github.com/jackc/pgx/v5
// through database/sql): the tables, queries, JSON rows and quarantine are
// SQLite's (see dialect); the schema is PostgreSQL's own migration list.
//
// Writers: every Update, in every process on the database, first takes one
// transaction-level advisory lock (pg_advisory_xact_lock), held until
// commit or rollback, and then runs at READ COMMITTED. Writers are thus
// serialised exactly as SQLite's BEGIN IMMEDIATE serialises them, and each
// statement after the lock sees every earlier commit: a read-modify-write
// of an incident cannot lose another writer's update, NextID's upsert of
// the sequences row hands out each number once (the row is only written
// under the lock, and a rolled-back number was never visible), and no
// Update ever fails with a serialization error. SERIALIZABLE with retries
// was not chosen because Update's fn may not be run twice (callers build
// results and side effects in it), and row locks would need the rows known
// before fn reads them. The pager's write rate (one transaction per alert
// batch or escalation step) is well within one writer at a time.
//
// Readers: View is a READ ONLY, REPEATABLE READ transaction: one snapshot
// for the whole of fn, never blocked by writers.
//
// Replicas (Options.Replica): each write transaction also takes a change
// number (writeTx.stamp), stamped by triggers on the rows it writes, so that
// replicas read each other's commits incrementally (Changes); the lease
// with its fencing token and the delivery claims are in cluster.go.

// Advisory lock keys, per database: "WDpg" and a number.
const (
	pgLockMigrate = applicationID<<32 | 1
	pgLockWrite   = applicationID<<32 | 2
)

var postgresDialect = &dialect{
	numbered:  true,
	concat:    "string_agg",
	read:      &sql.TxOptions{ReadOnly: true, Isolation: sql.LevelRepeatableRead},
	lockWrite: "SELECT pg_advisory_xact_lock(" + strconv.FormatInt(pgLockWrite, 10) + ")",
	// Migration 11 dropped the incidents' stamping trigger.
	stampIncidents: true,
	// The notification reaches listening replicas at commit (Listen).
	nextVersion: `WITH v AS (UPDATE pager_changes SET version = version + 1 WHERE id = 1 RETURNING version)
		SELECT v.version FROM v, LATERAL set_config('watchdog.tx_version', v.version::text, true) AS c,
			LATERAL pg_notify('` + pgChannel + `', v.version::text) AS n`,
	unique: func(err error) bool {
		var pe *pgconn.PgError
		return errors.As(err, &pe) && pe.Code == "23505" // unique_violation
	},
}

// OpenPostgres connects to the PostgreSQL database dsn (a postgres:// URL)
// and brings its schema up to date, under an advisory lock so that several
// replicas starting at once migrate once. It fails with ErrSchemaVersion
// when the database was migrated by a newer watchdog, and with ErrForeign
// when it holds pager tables without the watchdog's version table. Corrupt
// rows are quarantined as by Open. Options.BusyTimeout bounds the wait for
// a lock held by another writer (PostgreSQL's lock_timeout); MaxConns the
// pool. Errors never show the password.
func OpenPostgres(dsn string, opts Options) (*Store, error) {
	red := dburl.Redact(dsn)
	if opts.BusyTimeout <= 0 {
		opts.BusyTimeout = 5 * time.Second
	}
	if opts.MaxConns <= 0 {
		opts.MaxConns = 8
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		// pgx's parse errors may quote the URL: say what, not where.
		return nil, fmt.Errorf("sqlstore: open %s: cannot parse the PostgreSQL URL", red)
	}
	if cfg.RuntimeParams == nil {
		cfg.RuntimeParams = map[string]string{}
	}
	if _, ok := cfg.RuntimeParams["application_name"]; !ok {
		cfg.RuntimeParams["application_name"] = "watchdog"
	}
	cfg.RuntimeParams["lock_timeout"] = strconv.FormatInt(opts.BusyTimeout.Milliseconds(), 10)
	if opts.TxTimeout <= 0 {
		opts.TxTimeout = 10 * time.Second
	}
	idle := opts.IdleInTransaction
	if idle <= 0 {
		idle = opts.TxTimeout
	}
	cfg.RuntimeParams["idle_in_transaction_session_timeout"] = strconv.FormatInt(max(idle.Milliseconds(), 1), 10)
	if cfg.ConnectTimeout == 0 {
		cfg.ConnectTimeout = 10 * time.Second
	}
	db := stdlib.OpenDB(*cfg)
	conns := opts.MaxConns
	if opts.Replica != "" {
		conns++ // the connection listening for the others' writes (Listen)
	}
	db.SetMaxOpenConns(conns)
	db.SetMaxIdleConns(conns)
	s := &Store{path: red, db: db, d: postgresDialect, log: opts.Logger, metrics: opts.Metrics,
		txTimeout: opts.TxTimeout, replica: opts.Replica, instance: newInstance(), seed: maphash.MakeSeed()}
	if s.created, err = migratePostgres(context.Background(), db); err != nil {
		db.Close()
		return nil, fmt.Errorf("sqlstore: open %s: %w", red, err)
	}
	if _, err := s.quarantine(); err != nil {
		db.Close()
		return nil, fmt.Errorf("sqlstore: open %s: %w", red, err)
	}
	return s, nil
}

// pgMigrations[i] brings the PostgreSQL schema from version i to i+1.
// Append only. The tables and columns are SQLite's (schema.go), so that
// the queries are shared; version 1 is SQLite's versions 1 and 2.
var pgMigrations = []string{
	`
CREATE TABLE incidents (
	id         TEXT PRIMARY KEY,
	group_key  TEXT NOT NULL,
	status     TEXT NOT NULL,
	route      TEXT NOT NULL,
	created_s  BIGINT NOT NULL,
	created_ns BIGINT NOT NULL,
	next_due   BIGINT,
	state      TEXT NOT NULL, -- pager.IncidentState as JSON
	uid        TEXT
);
CREATE UNIQUE INDEX incidents_open_group ON incidents (group_key) WHERE status <> 'resolved';
CREATE UNIQUE INDEX incidents_uid ON incidents (uid) WHERE uid IS NOT NULL;
CREATE INDEX incidents_status ON incidents (status, created_s, created_ns);
CREATE INDEX incidents_created ON incidents (created_s, created_ns);
CREATE INDEX incidents_next_due ON incidents (next_due) WHERE next_due IS NOT NULL;

CREATE TABLE timeline (
	pos         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, -- append order (writers are serialised)
	incident_id TEXT NOT NULL,
	seq         BIGINT NOT NULL,
	entry       TEXT NOT NULL -- pager.TimelineEntry as JSON
);
CREATE INDEX timeline_incident ON timeline (incident_id, pos);

CREATE TABLE deliveries (
	key         TEXT PRIMARY KEY, -- idempotency key
	incident_id TEXT NOT NULL,
	status      TEXT NOT NULL,
	created_s   BIGINT NOT NULL,
	created_ns  BIGINT NOT NULL,
	delivery    TEXT NOT NULL -- pager.Delivery as JSON
);
CREATE INDEX deliveries_status ON deliveries (status, created_s, created_ns, key);
CREATE INDEX deliveries_incident ON deliveries (incident_id, created_s, created_ns, key);

CREATE TABLE silences (
	id      TEXT PRIMARY KEY,
	silence TEXT NOT NULL -- pager.Silence as JSON
);

CREATE TABLE sequences (
	name  TEXT PRIMARY KEY,
	value BIGINT NOT NULL
);

CREATE TABLE quarantine (
	pos    BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	tbl    TEXT NOT NULL,
	key    TEXT NOT NULL,
	data   TEXT NOT NULL,
	reason TEXT NOT NULL,
	at_s   BIGINT NOT NULL
);
`,
	// 2: replicas. Every write transaction takes a change number (the
	// pager_changes row, bumped under the write lock, so numbers follow
	// commit order) that triggers stamp on the rows it writes: a replica
	// reads what others committed since the number it last saw (Changes).
	// The lease row holds the escalating replica and its fencing token;
	// deliveries record the token under which they were claimed for
	// sending.
	`
CREATE TABLE pager_changes (
	id      INTEGER PRIMARY KEY CHECK (id = 1),
	version BIGINT NOT NULL
);
INSERT INTO pager_changes VALUES (1, 0);

ALTER TABLE incidents ADD COLUMN version BIGINT NOT NULL DEFAULT 0;
ALTER TABLE silences ADD COLUMN version BIGINT NOT NULL DEFAULT 0;
ALTER TABLE deliveries ADD COLUMN version BIGINT NOT NULL DEFAULT 0;
ALTER TABLE deliveries ADD COLUMN claim_token BIGINT;   -- the term that claimed it for sending
ALTER TABLE deliveries ADD COLUMN sent_attempts INTEGER; -- set once sent, until the result is recorded
ALTER TABLE deliveries ADD COLUMN sent_error TEXT;
CREATE INDEX incidents_version ON incidents (version);
CREATE INDEX silences_version ON silences (version);
CREATE INDEX deliveries_version ON deliveries (version);

-- A write transaction sets watchdog.tx_version (beginWrite); a statement
-- outside one (a delivery claim) keeps the row's number.
CREATE FUNCTION watchdog_pager_stamp() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
	v TEXT := nullif(current_setting('watchdog.tx_version', true), '');
BEGIN
	IF v IS NOT NULL THEN
		NEW.version := v::BIGINT;
	END IF;
	RETURN NEW;
END
$$;
CREATE TRIGGER incidents_stamp BEFORE INSERT OR UPDATE ON incidents FOR EACH ROW EXECUTE FUNCTION watchdog_pager_stamp();
CREATE TRIGGER silences_stamp BEFORE INSERT OR UPDATE ON silences FOR EACH ROW EXECUTE FUNCTION watchdog_pager_stamp();
CREATE TRIGGER deliveries_stamp BEFORE INSERT OR UPDATE ON deliveries FOR EACH ROW EXECUTE FUNCTION watchdog_pager_stamp();

CREATE TABLE pager_lease (
	id          INTEGER PRIMARY KEY CHECK (id = 1),
	holder      TEXT NOT NULL,   -- replica name
	instance    TEXT NOT NULL,   -- the holder's process (random per start)
	token       BIGINT NOT NULL, -- fencing token: grows with every new term
	expires_at  TIMESTAMPTZ NOT NULL,
	acquired_at TIMESTAMPTZ NOT NULL
);
INSERT INTO pager_lease VALUES (1, '', '', 0, 'epoch', 'epoch');

CREATE TABLE pager_replicas (
	name       TEXT PRIMARY KEY,
	instance   TEXT NOT NULL,
	started_at TIMESTAMPTZ NOT NULL,
	last_seen  TIMESTAMPTZ NOT NULL
);
`,
	// 3: personal tokens and console sessions (pager.Credential), only
	// the SHA-256 of their secrets. Not stamped: replicas read them from
	// the database on every request, so a revocation counts at once.
	`
CREATE TABLE credentials (
	id        TEXT PRIMARY KEY,
	kind      TEXT NOT NULL,
	user_name TEXT NOT NULL,
	cred      TEXT NOT NULL -- pager.Credential as JSON
);
CREATE INDEX credentials_user ON credentials (kind, user_name);
`,
	// 4: schedule overrides added from the console, CLI and API, and the
	// secret calendar feeds (their SHA-256 only), stamped like silences.
	`
CREATE TABLE schedule_overrides (
	id       TEXT PRIMARY KEY,
	override TEXT NOT NULL, -- pager.ScheduleOverride as JSON
	version  BIGINT NOT NULL DEFAULT 0
);
CREATE TABLE calendar_feeds (
	id      TEXT PRIMARY KEY,
	feed    TEXT NOT NULL, -- pager.CalendarFeed as JSON
	version BIGINT NOT NULL DEFAULT 0
);
CREATE TRIGGER schedule_overrides_stamp BEFORE INSERT OR UPDATE ON schedule_overrides FOR EACH ROW EXECUTE FUNCTION watchdog_pager_stamp();
CREATE TRIGGER calendar_feeds_stamp BEFORE INSERT OR UPDATE ON calendar_feeds FOR EACH ROW EXECUTE FUNCTION watchdog_pager_stamp();
`,
	// 5: postmortem documents (pager.Postmortem: sections, state,
	// edit history and action items), one per incident. Not stamped:
	// read from the database on every request, like credentials.
	`
CREATE TABLE postmortems (
	incident_id TEXT PRIMARY KEY,
	doc         TEXT NOT NULL -- pager.Postmortem as JSON
);
`,
	// 6: the public status updates responders post on incidents
	// (pager.StatusUpdate); seq is their posting order. Not stamped:
	// the status page reads them from the database.
	`
CREATE TABLE status_updates (
	id          TEXT PRIMARY KEY,
	incident_id TEXT NOT NULL,
	seq         BIGINT NOT NULL,
	upd         TEXT NOT NULL -- pager.StatusUpdate as JSON
);
CREATE INDEX status_updates_incident ON status_updates (incident_id, seq);
CREATE INDEX status_updates_seq ON status_updates (seq);
`,
	// 7: scheduled maintenance windows of status page components
	// (pager.Maintenance; their silences are ordinary silences).
	`
CREATE TABLE maintenances (
	id    TEXT PRIMARY KEY,
	maint TEXT NOT NULL -- pager.Maintenance as JSON
);
`,
	// 8: when the owner of an overdue action item was last reminded of
	// it (pager.ActionItemReminder), so that a restart neither sends a
	// reminder again nor forgets one.
	`
CREATE TABLE action_item_reminders (
	id       TEXT PRIMARY KEY, -- incident ID "/" item ID
	reminder TEXT NOT NULL     -- pager.ActionItemReminder as JSON
);
`,
	// 9: status page subscribers (pager.Subscriber), the events they are
	// told about (deduplicated by key), the outbox of messages to them
	// (pending ones by next_at, Unix nanoseconds) and the subscriber
	// loop's marks (cursors, last component states). Not stamped: read
	// from the database by the leader's subscriber loop and the API.
	`
CREATE TABLE status_subscribers (
	id  TEXT PRIMARY KEY,
	sub TEXT NOT NULL -- pager.Subscriber as JSON
);
CREATE TABLE status_sub_events (
	key   TEXT PRIMARY KEY,
	at_ns BIGINT NOT NULL,
	ev    TEXT NOT NULL -- pager.SubscriberEvent as JSON
);
CREATE INDEX status_sub_events_at ON status_sub_events (at_ns);
CREATE TABLE status_sub_notes (
	id            TEXT PRIMARY KEY,
	subscriber_id TEXT NOT NULL,
	status        TEXT NOT NULL,
	next_at       BIGINT NOT NULL,
	created_ns    BIGINT NOT NULL,
	note          TEXT NOT NULL -- pager.SubscriberNote as JSON
);
CREATE INDEX status_sub_notes_due ON status_sub_notes (status, next_at, id);
CREATE INDEX status_sub_notes_subscriber ON status_sub_notes (subscriber_id);
CREATE TABLE status_sub_marks (
	key   TEXT PRIMARY KEY,
	value TEXT NOT NULL
);
`,
	// 10: the alerts of incidents, one row each, written as diffs (see
	// SQLite's migration 10 and alerts.go). Not stamped: an incident's
	// alerts change only with its row, which is.
	`
CREATE TABLE incident_alerts (
	incident_id TEXT COLLATE "C" NOT NULL,
	fingerprint TEXT COLLATE "C" NOT NULL,
	alert       TEXT NOT NULL, -- pager.IncidentAlert as JSON
	PRIMARY KEY (incident_id, fingerprint)
);
`,
	// 11: incident rows carry the change number the statement writing
	// them gives (the store's multi-row upsert), not a trigger's: a
	// plpgsql call per row was a third of the time of writing a storm's
	// incidents. The other stamped tables keep their triggers.
	`
DROP TRIGGER IF EXISTS incidents_stamp ON incidents;
`,
}

// PostgresSchemaVersion is the PostgreSQL schema version this package
// writes.
func PostgresSchemaVersion() int { return len(pgMigrations) }

// pgVersionTable holds the schema version; its name marks the database
// (or schema, by search_path) as the watchdog pager's.
const pgVersionTable = "watchdog_pager_schema"

// migratePostgres brings the schema up to date in one transaction under
// an advisory lock (several replicas starting at once migrate once; the
// others wait, then find nothing to do). It reports whether it created
// the schema.
func migratePostgres(ctx context.Context, db *sql.DB) (created bool, err error) {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return false, fmt.Errorf("connect: %w", err)
	}
	defer func() {
		if err != nil {
			tx.Rollback()
		}
	}()
	if _, err := tx.ExecContext(ctx, "SELECT pg_advisory_xact_lock($1)", pgLockMigrate); err != nil {
		return false, fmt.Errorf("migrate: lock: %w", err)
	}
	var hasVersion, hasIncidents bool
	if err := tx.QueryRowContext(ctx, "SELECT to_regclass($1) IS NOT NULL, to_regclass('incidents') IS NOT NULL",
		pgVersionTable).Scan(&hasVersion, &hasIncidents); err != nil {
		return false, fmt.Errorf("migrate: %w", err)
	}
	version := 0
	switch {
	case !hasVersion && hasIncidents:
		return false, fmt.Errorf("%w: an incidents table but no %s table", ErrForeign, pgVersionTable)
	case !hasVersion:
		if _, err := tx.ExecContext(ctx, "CREATE TABLE "+pgVersionTable+" (version INTEGER NOT NULL); INSERT INTO "+
			pgVersionTable+" VALUES (0)"); err != nil {
			return false, fmt.Errorf("migrate: %w", err)
		}
		created = true
	default:
		switch err := tx.QueryRowContext(ctx, "SELECT version FROM "+pgVersionTable).Scan(&version); {
		case errors.Is(err, sql.ErrNoRows):
			return false, fmt.Errorf("%w: no %s row", ErrForeign, pgVersionTable)
		case err != nil:
			return false, fmt.Errorf("migrate: read version: %w", err)
		}
	}
	if version > len(pgMigrations) || version < 0 {
		return false, fmt.Errorf("%w: database has version %d, this watchdog knows up to %d; run the newer watchdog",
			ErrSchemaVersion, version, len(pgMigrations))
	}
	for v := version; v < len(pgMigrations); v++ {
		if _, err := tx.ExecContext(ctx, pgMigrations[v]); err != nil {
			return false, fmt.Errorf("migrate to version %d: %w", v+1, err)
		}
	}
	if version < len(pgMigrations) {
		if _, err := tx.ExecContext(ctx, "UPDATE "+pgVersionTable+" SET version = $1", len(pgMigrations)); err != nil {
			return false, fmt.Errorf("migrate: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return false, fmt.Errorf("migrate: commit: %w", err)
	}
	return created, nil
}
