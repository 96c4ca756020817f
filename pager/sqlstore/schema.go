package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// applicationID marks watchdog pager databases (PRAGMA application_id,
// "WDpg"), so that Open refuses another application's SQLite file.
const applicationID = 0x57447067

// migrations[i] brings the schema from version i to i+1. Append only:
// never edit a migration that has shipped.
var migrations = []string{
	// 1: initial schema. Times used for sorting are split into Unix
	// seconds and nanoseconds so that every time.Time orders correctly;
	// next_due is Unix nanoseconds (NULL: nothing pending).
	`
CREATE TABLE incidents (
	id         TEXT PRIMARY KEY,
	group_key  TEXT NOT NULL,
	status     TEXT NOT NULL,
	route      TEXT NOT NULL,
	created_s  INTEGER NOT NULL,
	created_ns INTEGER NOT NULL,
	next_due   INTEGER,
	state      TEXT NOT NULL -- pager.IncidentState as JSON
) STRICT;
CREATE UNIQUE INDEX incidents_open_group ON incidents (group_key) WHERE status <> 'resolved';
CREATE INDEX incidents_status ON incidents (status, created_s, created_ns);
CREATE INDEX incidents_created ON incidents (created_s, created_ns);
CREATE INDEX incidents_next_due ON incidents (next_due) WHERE next_due IS NOT NULL;

CREATE TABLE timeline (
	pos         INTEGER PRIMARY KEY, -- append order
	incident_id TEXT NOT NULL,
	seq         INTEGER NOT NULL,
	entry       TEXT NOT NULL -- pager.TimelineEntry as JSON
) STRICT;
CREATE INDEX timeline_incident ON timeline (incident_id, pos);

CREATE TABLE deliveries (
	key         TEXT PRIMARY KEY, -- idempotency key
	incident_id TEXT NOT NULL,
	status      TEXT NOT NULL,
	created_s   INTEGER NOT NULL,
	created_ns  INTEGER NOT NULL,
	delivery    TEXT NOT NULL -- pager.Delivery as JSON
) STRICT;
CREATE INDEX deliveries_status ON deliveries (status, created_s, created_ns, key);
CREATE INDEX deliveries_incident ON deliveries (incident_id, created_s, created_ns, key);

CREATE TABLE silences (
	id      TEXT PRIMARY KEY,
	silence TEXT NOT NULL -- pager.Silence as JSON
) STRICT;

CREATE TABLE sequences (
	name  TEXT PRIMARY KEY,
	value INTEGER NOT NULL
) STRICT;
`,
	// 2: the incident's unique identity (pager.IncidentState.UID, NULL for
	// incidents opened before it existed), and the quarantine: rows Open
	// found undecodable, moved aside with the reason instead of failing
	// the whole pager.
	`
ALTER TABLE incidents ADD COLUMN uid TEXT;
CREATE UNIQUE INDEX incidents_uid ON incidents (uid) WHERE uid IS NOT NULL;

CREATE TABLE quarantine (
	pos    INTEGER PRIMARY KEY,
	tbl    TEXT NOT NULL, -- the table the row was in
	key    TEXT NOT NULL, -- its primary key there
	data   TEXT NOT NULL, -- its JSON document as found
	reason TEXT NOT NULL,
	at_s   INTEGER NOT NULL -- Unix seconds when it was moved
) STRICT;
`,
	// 3: personal tokens and console sessions (pager.Credential), only
	// the SHA-256 of their secrets.
	`
CREATE TABLE credentials (
	id        TEXT PRIMARY KEY,
	kind      TEXT NOT NULL,
	user_name TEXT NOT NULL,
	cred      TEXT NOT NULL -- pager.Credential as JSON
) STRICT;
CREATE INDEX credentials_user ON credentials (kind, user_name);
`,
	// 4: schedule overrides added from the console, CLI and API, and the
	// secret calendar feeds (their SHA-256 only).
	`
CREATE TABLE schedule_overrides (
	id       TEXT PRIMARY KEY,
	override TEXT NOT NULL -- pager.ScheduleOverride as JSON
) STRICT;
CREATE TABLE calendar_feeds (
	id   TEXT PRIMARY KEY,
	feed TEXT NOT NULL -- pager.CalendarFeed as JSON
) STRICT;
`,
	// 5: postmortem documents (pager.Postmortem: sections, state,
	// edit history and action items), one per incident.
	`
CREATE TABLE postmortems (
	incident_id TEXT PRIMARY KEY,
	doc         TEXT NOT NULL -- pager.Postmortem as JSON
) STRICT;
`,
	// 6: the public status updates responders post on incidents
	// (pager.StatusUpdate); seq is their posting order.
	`
CREATE TABLE status_updates (
	id          TEXT PRIMARY KEY,
	incident_id TEXT NOT NULL,
	seq         INTEGER NOT NULL,
	upd         TEXT NOT NULL -- pager.StatusUpdate as JSON
) STRICT;
CREATE INDEX status_updates_incident ON status_updates (incident_id, seq);
CREATE INDEX status_updates_seq ON status_updates (seq);
`,
	// 7: scheduled maintenance windows of status page components
	// (pager.Maintenance; their silences are ordinary silences).
	`
CREATE TABLE maintenances (
	id    TEXT PRIMARY KEY,
	maint TEXT NOT NULL -- pager.Maintenance as JSON
) STRICT;
`,
	// 8: when the owner of an overdue action item was last reminded of
	// it (pager.ActionItemReminder), so that a restart neither sends a
	// reminder again nor forgets one.
	`
CREATE TABLE action_item_reminders (
	id       TEXT PRIMARY KEY, -- incident ID "/" item ID
	reminder TEXT NOT NULL     -- pager.ActionItemReminder as JSON
) STRICT;
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
) STRICT;
CREATE TABLE status_sub_events (
	key   TEXT PRIMARY KEY,
	at_ns INTEGER NOT NULL,
	ev    TEXT NOT NULL -- pager.SubscriberEvent as JSON
) STRICT;
CREATE INDEX status_sub_events_at ON status_sub_events (at_ns);
CREATE TABLE status_sub_notes (
	id            TEXT PRIMARY KEY,
	subscriber_id TEXT NOT NULL,
	status        TEXT NOT NULL,
	next_at       INTEGER NOT NULL,
	created_ns    INTEGER NOT NULL,
	note          TEXT NOT NULL -- pager.SubscriberNote as JSON
) STRICT;
CREATE INDEX status_sub_notes_due ON status_sub_notes (status, next_at, id);
CREATE INDEX status_sub_notes_subscriber ON status_sub_notes (subscriber_id);
CREATE TABLE status_sub_marks (
	key   TEXT PRIMARY KEY,
	value TEXT NOT NULL
) STRICT;
`,
	// 10: the alerts of incidents, one row each, written as diffs (only
	// the alerts a transaction added, changed or removed; see alerts.go)
	// instead of inside the incident's document. Incidents written
	// before keep their alerts in the document until they are next
	// written (reads take the document's alerts while an incident has no
	// rows here), so the migration moves nothing and cannot fail on a
	// corrupt document.
	`
CREATE TABLE incident_alerts (
	incident_id TEXT NOT NULL,
	fingerprint TEXT NOT NULL,
	alert       TEXT NOT NULL, -- pager.IncidentAlert as JSON
	PRIMARY KEY (incident_id, fingerprint)
) STRICT, WITHOUT ROWID;
`,
}

// SchemaVersion is the schema version this package writes.
func SchemaVersion() int { return len(migrations) }

// migrate brings the schema up to date in one immediate transaction, so
// that concurrent openers (processes) do not migrate twice.
func migrate(ctx context.Context, db *sql.DB) (err error) {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	defer func() {
		if err != nil {
			tx.Rollback()
		}
	}()
	var appID, objects int
	if err := tx.QueryRowContext(ctx, "PRAGMA application_id").Scan(&appID); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	if err := tx.QueryRowContext(ctx, "SELECT count(*) FROM sqlite_schema").Scan(&objects); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	switch {
	case appID == 0 && objects == 0: // new database
		if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA application_id = %d", applicationID)); err != nil {
			return fmt.Errorf("migrate: %w", err)
		}
		if _, err := tx.ExecContext(ctx, "CREATE TABLE schema_version (version INTEGER NOT NULL) STRICT; INSERT INTO schema_version VALUES (0)"); err != nil {
			return fmt.Errorf("migrate: %w", err)
		}
	case appID != applicationID:
		return fmt.Errorf("%w (application_id %#x)", ErrForeign, appID)
	}
	var version int
	switch err := tx.QueryRowContext(ctx, "SELECT version FROM schema_version").Scan(&version); {
	case errors.Is(err, sql.ErrNoRows):
		return fmt.Errorf("%w: no schema_version row", ErrForeign)
	case err != nil:
		return fmt.Errorf("migrate: read version: %w", err)
	}
	if version > len(migrations) || version < 0 {
		return fmt.Errorf("%w: database has version %d, this watchdog knows up to %d", ErrSchemaVersion, version, len(migrations))
	}
	for v := version; v < len(migrations); v++ {
		if _, err := tx.ExecContext(ctx, migrations[v]); err != nil {
			return fmt.Errorf("migrate to version %d: %w", v+1, err)
		}
	}
	if version < len(migrations) {
		if _, err := tx.ExecContext(ctx, "UPDATE schema_version SET version = ?", len(migrations)); err != nil {
			return fmt.Errorf("migrate: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("migrate: commit: %w", err)
	}
	return nil
}
