package sqlstore

import (
	"database/sql"
	"fmt"
	"math/bits"
	"strings"
)

// Statements of the write path, prepared once per Store (and per
// connection by database/sql).
const (
	qOpenOther      = "SELECT id FROM incidents WHERE group_key = ? AND status <> ? AND id <> ? LIMIT 1"
	qAppendTimeline = "INSERT INTO timeline (incident_id, seq, entry) VALUES (?, ?, ?)"
	qPutSequence    = `INSERT INTO sequences (name, value) VALUES (?, ?)
		ON CONFLICT (name) DO UPDATE SET value = excluded.value`
	qAddDelivery = `INSERT INTO deliveries (key, incident_id, status, created_s, created_ns, delivery)
		VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (key) DO NOTHING`
)

// Multi-row statements of flush (see writeTx.execRows).
var (
	putIncidents = newMultiRow(`INSERT INTO incidents (id, group_key, status, route, created_s, created_ns, next_due, state, uid) VALUES `,
		9, ` ON CONFLICT (id) DO UPDATE SET group_key = excluded.group_key, status = excluded.status, route = excluded.route,
			created_s = excluded.created_s, created_ns = excluded.created_ns, next_due = excluded.next_due, state = excluded.state,
			uid = excluded.uid`)
	// putIncidentsStamped is putIncidents with the change number
	// (PostgreSQL, whose incidents have no stamping trigger from schema
	// version 11: one plpgsql call per row was a third of the upsert).
	putIncidentsStamped = newMultiRow(`INSERT INTO incidents (id, group_key, status, route, created_s, created_ns, next_due, state, uid, version) VALUES `,
		10, ` ON CONFLICT (id) DO UPDATE SET group_key = excluded.group_key, status = excluded.status, route = excluded.route,
			created_s = excluded.created_s, created_ns = excluded.created_ns, next_due = excluded.next_due, state = excluded.state,
			uid = excluded.uid, version = excluded.version`)
	// Rows are numbered (pos) in the order of VALUES.
	appendTimeline = newMultiRow("INSERT INTO timeline (incident_id, seq, entry) VALUES ", 3, "")
	// RETURNING names the rows inserted (not those whose key existed).
	addDeliveries = newMultiRow("INSERT INTO deliveries (key, incident_id, status, created_s, created_ns, delivery) VALUES ", 6,
		" ON CONFLICT (key) DO NOTHING RETURNING key")
	// updateDeliveries replaces deliveries by key; RETURNING names the
	// keys found. VALUES' columns are column1… in both databases.
	updateDeliveries = newMultiRowOf(`UPDATE deliveries SET incident_id = v.column2, status = v.column3, created_s = v.column4,
		created_ns = v.column5, delivery = v.column6 FROM (VALUES `, "(?, ?, ?, CAST(? AS BIGINT), CAST(? AS BIGINT), ?)", 6,
		") AS v WHERE deliveries.key = v.column1 RETURNING deliveries.key")
	putAlerts = newMultiRow("INSERT INTO incident_alerts (incident_id, fingerprint, alert) VALUES ", 3,
		" ON CONFLICT (incident_id, fingerprint) DO UPDATE SET alert = excluded.alert")
)

// maxRowsLog2: a multi-row statement writes at most 1<<maxRowsLog2 rows
// (9 parameters each at most: far below SQLite's and PostgreSQL's limits).
const maxRowsLog2 = 7

// multiRow is an INSERT of n rows for every power of two n up to
// 1<<maxRowsLog2, so that a handful of prepared statements write any
// number of rows.
type multiRow struct {
	cols    int
	queries [maxRowsLog2 + 1]string // [k]: 1<<k rows
}

func newMultiRow(head string, cols int, tail string) *multiRow {
	return newMultiRowOf(head, "(?"+strings.Repeat(", ?", cols-1)+")", cols, tail)
}

// newMultiRowOf is newMultiRow with row as the template of one row (cols
// placeholders).
func newMultiRowOf(head, row string, cols int, tail string) *multiRow {
	m := &multiRow{cols: cols}
	for k := range m.queries {
		m.queries[k] = head + row + strings.Repeat(", "+row, 1<<k-1) + tail
	}
	return m
}

// execRows writes the rows of args (m.cols values each) in statements of
// m: as many of the largest as fit, then of the powers of two that make
// up the rest.
func (t *writeTx) execRows(m *multiRow, args []any) error {
	return t.eachStatement(m, args, func(q *sql.Stmt, a []any) error {
		_, err := q.ExecContext(t.ctx, a...)
		return err
	})
}

// queryRows is execRows of a statement that returns rows: each row's
// first column is passed to fn.
func (t *writeTx) queryRows(m *multiRow, args []any, fn func(string)) error {
	return t.eachStatement(m, args, func(q *sql.Stmt, a []any) error {
		rows, err := q.QueryContext(t.ctx, a...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var v string
			if err := rows.Scan(&v); err != nil {
				return err
			}
			fn(v)
		}
		if err := rows.Close(); err != nil {
			return err
		}
		return rows.Err()
	})
}

// eachStatement splits args into the row counts of m's statements (the
// largest that fit first, then the powers of two of the rest) and calls
// run with each statement and its share of args.
func (t *writeTx) eachStatement(m *multiRow, args []any, run func(*sql.Stmt, []any) error) error {
	for len(args) > 0 {
		k := min(bits.Len(uint(len(args)/m.cols))-1, maxRowsLog2)
		n := (1 << k) * m.cols
		q, err := t.stmt(m.queries[k])
		if err != nil {
			return err
		}
		if err := run(q, args[:n]); err != nil {
			return err
		}
		args = args[n:]
	}
	return nil
}

// stmt returns q prepared for this transaction. The Store prepares q once
// (under wmu) and keeps it until Close.
func (t *writeTx) stmt(q string) (*sql.Stmt, error) {
	s := t.s
	ps, ok := s.prepared[q]
	if !ok {
		var err error
		if ps, err = s.db.PrepareContext(bg, s.q(q)); err != nil {
			return nil, fmt.Errorf("prepare: %w", err)
		}
		if s.prepared == nil {
			s.prepared = map[string]*sql.Stmt{}
		}
		s.prepared[q] = ps
	}
	return t.tx.StmtContext(t.ctx, ps), nil
}
