package sqlstore

import (
	"database/sql"
	"fmt"
)

// Statements of the write path, prepared once per Store (and per
// connection by database/sql).
const (
	qOpenOther   = "SELECT id FROM incidents WHERE group_key = ? AND status <> ? AND id <> ? LIMIT 1"
	qPutIncident = `INSERT INTO incidents (id, group_key, status, route, created_s, created_ns, next_due, state, uid)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET group_key = excluded.group_key, status = excluded.status, route = excluded.route,
			created_s = excluded.created_s, created_ns = excluded.created_ns, next_due = excluded.next_due, state = excluded.state,
			uid = excluded.uid`
	// qPutIncidentVersion is qPutIncident on PostgreSQL: it returns the
	// change number the row carried before (NULL for a new row).
	qPutIncidentVersion = `WITH old AS (SELECT version FROM incidents WHERE id = ?) ` + qPutIncident + ` RETURNING (SELECT version FROM old)`
	qAppendTimeline     = "INSERT INTO timeline (incident_id, seq, entry) VALUES (?, ?, ?)"
	qAddDelivery        = `INSERT INTO deliveries (key, incident_id, status, created_s, created_ns, delivery)
		VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (key) DO NOTHING`
)

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
