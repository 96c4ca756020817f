package sqlstore

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/watchdog-sre/watchdog/pager"
)

// readTx implements pager.ReadTx over a transaction. Every value returned
// is decoded afresh from JSON, so callers own it.
type readTx struct {
	tx  *sql.Tx
	s   *Store          // for reporting corrupt rows
	ctx context.Context // of every statement: bounded on PostgreSQL
	w   *writeTx        // the write transaction this is part of, or nil
}

// writeTx implements pager.Tx. It runs under s.wmu.
type writeTx struct {
	readTx
	s *Store
	// version is the change number of this transaction on PostgreSQL
	// (every row it writes carries it; see Changes and stamp), 0 on
	// SQLite and until stamp takes it.
	version int64
	// err is a failure of stamp where the method could not return it
	// (TxVersion): the transaction is rolled back.
	err error
	// pending are the alert sums of the incidents this transaction
	// wrote, nil for one it resolved; they replace Store.sums at commit.
	pending map[string]*alertSums
	// incs are the buffered incident rows (see queueIncident); incIndex
	// finds them by ID.
	incs     []incidentRow
	incIndex map[string]int
	// ops are the buffered alert rows (see queue); opIndex finds them by
	// incident and fingerprint.
	ops     []alertOp
	opIndex map[string]int
	// timeline are the buffered timeline rows (incident, seq, entry), in
	// append order.
	timeline []any
	// seqs are the sequences NextID counted in this transaction.
	seqs    map[string]*seqCount
	args    []any // reused by flush
	enc     bytes.Buffer
	encoder *json.Encoder
}

// bg is the context of statements outside transactions.
var bg = context.Background()

// timeParts splits t for the (seconds, nanoseconds) sort columns, which
// order exactly as time.Time.Compare for every time.
func timeParts(t time.Time) (int64, int64) { return t.Unix(), int64(t.Nanosecond()) }

// queryJSON runs q, whose rows are (name, match, document), and decodes
// each document into a new T. A row whose document does not decode, or
// fails check(match, &v) (a key that differs from the column, a status
// outside its enum), is skipped and reported once (see Store.corrupt):
// one bad row never makes the whole read fail. It returns nil when no
// row is left, as MemStore does.
func queryJSON[T any](t *readTx, table string, check func(match string, v *T) error, q string, args ...any) ([]T, error) {
	rows, err := t.tx.QueryContext(t.ctx, t.s.q(q), args...)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: %s: %w", table, err)
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		var name, match string
		var data []byte
		if err := rows.Scan(&name, &match, &data); err != nil {
			return nil, fmt.Errorf("sqlstore: %s: %w", table, err)
		}
		var v T
		if err := decodeRow(data, match, &v, check); err != nil {
			t.s.corrupt(table, name, err)
			continue
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlstore: %s: %w", table, err)
	}
	return out, nil
}

// one returns the single incident q selects, or pager.ErrNotFound.
func (t *readTx) one(what, q string, args ...any) (pager.IncidentState, error) {
	sts, err := t.incidents(q+" LIMIT 1", args...)
	if err != nil {
		return pager.IncidentState{}, err
	}
	if len(sts) == 0 {
		return pager.IncidentState{}, pager.ErrNotFound
	}
	return sts[0], nil
}

// Incident implements pager.ReadTx.
func (t *readTx) Incident(id string) (pager.IncidentState, error) {
	return t.one("incidents", "SELECT id, id, state FROM incidents WHERE id = ?", id)
}

// OpenIncident implements pager.ReadTx.
func (t *readTx) OpenIncident(groupKey string) (pager.IncidentState, error) {
	return t.one("incidents", "SELECT id, id, state FROM incidents WHERE group_key = ? AND status <> ?", groupKey, pager.StatusResolved)
}

// Incidents implements pager.ReadTx.
func (t *readTx) Incidents(f pager.IncidentFilter) ([]pager.IncidentState, error) {
	var b strings.Builder
	s, ns := timeParts(f.Since)
	// Like IncidentFilter.Match, the Since bound applies even when zero.
	b.WriteString("SELECT id, id, state FROM incidents WHERE (created_s, created_ns) >= (?, ?)")
	args := []any{s, ns}
	if len(f.Statuses) > 0 {
		b.WriteString(" AND status IN (?" + strings.Repeat(", ?", len(f.Statuses)-1) + ")")
		for _, st := range f.Statuses {
			args = append(args, string(st))
		}
	}
	if f.Route != "" {
		b.WriteString(" AND route = ?")
		args = append(args, f.Route)
	}
	b.WriteString(" ORDER BY created_s DESC, created_ns DESC, id DESC")
	if f.Limit > 0 {
		b.WriteString(" LIMIT ?")
		args = append(args, f.Limit)
	}
	if f.OutlineAlerts {
		return t.outlinedIncidents(f.OutlineLabels, b.String(), args...)
	}
	return t.incidents(b.String(), args...)
}

// outlinedIncidents returns the incidents q selects with their alerts in
// outline (pager.IncidentFilter.OutlineAlerts): without names it reads no
// alert row at all.
func (t *readTx) outlinedIncidents(names []string, q string, args ...any) ([]pager.IncidentState, error) {
	if len(names) > 0 {
		sts, err := t.incidents(q, args...)
		for i := range sts {
			sts[i].Alerts = pager.OutlineAlertLabels(sts[i].Alerts, names)
		}
		return sts, err
	}
	if t.w != nil {
		if err := t.w.flush(); err != nil {
			return nil, fmt.Errorf("sqlstore: %w", err)
		}
	}
	sts, err := queryJSON(t, "incidents", checkIncident, q, args...)
	for i := range sts {
		// A version-9 incident keeps its alerts in its document.
		sts[i].Alerts = nil
	}
	return sts, err
}

// incidents returns the incidents q selects (rows of id, id, state) with
// their alerts.
func (t *readTx) incidents(q string, args ...any) ([]pager.IncidentState, error) {
	if t.w != nil {
		if err := t.w.flush(); err != nil {
			return nil, fmt.Errorf("sqlstore: %w", err)
		}
	}
	sts, err := queryJSON(t, "incidents", checkIncident, q, args...)
	if err != nil {
		return nil, err
	}
	if err := t.attachAlerts(sts); err != nil {
		return nil, err
	}
	return sts, nil
}

// Timeline implements pager.ReadTx.
func (t *readTx) Timeline(incidentID string) ([]pager.TimelineEntry, error) {
	if t.w != nil {
		if err := t.w.flush(); err != nil {
			return nil, fmt.Errorf("sqlstore: %w", err)
		}
	}
	return queryJSON(t, "timeline", checkTimeline,
		"SELECT incident_id || ' pos ' || pos, incident_id, entry FROM timeline WHERE incident_id = ? ORDER BY pos", incidentID)
}

// Deliveries implements pager.ReadTx.
func (t *readTx) Deliveries(f pager.DeliveryFilter) ([]pager.Delivery, error) {
	q := "SELECT key, key, delivery FROM deliveries WHERE TRUE"
	var args []any
	if f.IncidentID != "" {
		q += " AND incident_id = ?"
		args = append(args, f.IncidentID)
	}
	if f.Status != "" {
		q += " AND status = ?"
		args = append(args, string(f.Status))
	}
	q += " ORDER BY created_s, created_ns, key"
	return queryJSON(t, "deliveries", checkDelivery, q, args...)
}

// Silences implements pager.ReadTx.
func (t *readTx) Silences() ([]pager.Silence, error) {
	return queryJSON(t, "silences", checkSilence, "SELECT id, id, silence FROM silences ORDER BY id")
}

// Credential implements pager.ReadTx.
func (t *readTx) Credential(id string) (pager.Credential, error) {
	cs, err := queryJSON(t, "credentials", checkCredential, "SELECT id, id, cred FROM credentials WHERE id = ?", id)
	if err != nil {
		return pager.Credential{}, err
	}
	if len(cs) == 0 {
		return pager.Credential{}, pager.ErrNotFound
	}
	return cs[0], nil
}

// Credentials implements pager.ReadTx.
func (t *readTx) Credentials(kind, user string) ([]pager.Credential, error) {
	q, args := "SELECT id, id, cred FROM credentials WHERE kind = ?", []any{kind}
	if user != "" {
		q += " AND user_name = ?"
		args = append(args, user)
	}
	cs, err := queryJSON(t, "credentials", checkCredential, q, args...)
	slices.SortFunc(cs, func(a, b pager.Credential) int {
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return cs, err
}

// NextID implements pager.Tx. The numbers are counted in the transaction
// and the sequence's row written once, by flush: a storm that opens 500
// incidents in one transaction reads the row at most once (never, when
// this Store committed the last write of it, see Store.seqs) and writes it
// once.
func (t *writeTx) NextID(seq string) (int64, error) {
	if err := t.stamp(); err != nil {
		return 0, err
	}
	c, ok := t.seqs[seq]
	if !ok {
		v, known := t.s.seqs[seq]
		if !known {
			err := t.tx.QueryRowContext(t.ctx, t.s.q("SELECT value FROM sequences WHERE name = ?"), seq).Scan(&v)
			if err != nil && !errors.Is(err, sql.ErrNoRows) {
				return 0, fmt.Errorf("sqlstore: next id %s: %w", seq, err)
			}
		}
		c = &seqCount{value: v, written: v}
		if t.seqs == nil {
			t.seqs = map[string]*seqCount{}
		}
		t.seqs[seq] = c
	}
	c.value++
	return c.value, nil
}

// seqCount is a sequence's last number handed out in a transaction and
// the value its row holds in the transaction.
type seqCount struct{ value, written int64 }

// flushSeqs writes the sequences whose numbers were handed out since
// their row was last written.
func (t *writeTx) flushSeqs() error {
	for name, c := range t.seqs {
		if c.value == c.written {
			continue
		}
		q, err := t.stmt(qPutSequence)
		if err != nil {
			return err
		}
		if _, err := q.ExecContext(t.ctx, name, c.value); err != nil {
			return fmt.Errorf("next id %s: %w", name, err)
		}
		c.written = c.value
	}
	return nil
}

// PutIncident implements pager.Tx: it buffers the incident's row and the
// alerts that changed since the incident was last written (see alerts.go)
// for flush. A second open incident for the group key is caught by the
// partial unique index incidents_open_group when the rows are written
// (an ErrConflict from Update).
func (t *writeTx) PutIncident(st pager.IncidentState) error { return t.putIncident(st, false) }

// PutIncidentOwned implements pager.OwnedPutter: PutIncident of a state
// whose alerts' maps are never modified, so that an alert's maps already
// written are recognised by identity rather than hashed again.
func (t *writeTx) PutIncidentOwned(st pager.IncidentState) error { return t.putIncident(st, true) }

func (t *writeTx) putIncident(st pager.IncidentState, owned bool) error {
	if err := t.stamp(); err != nil {
		return err
	}
	if st.ID == "" {
		return errors.New("put incident: empty id")
	}
	doc := st
	if doc.Alerts != nil {
		doc.Alerts = []pager.IncidentAlert{} // [] or null, as given
	}
	data, err := json.Marshal(&doc)
	if err != nil {
		return fmt.Errorf("sqlstore: put incident: encode: %w", err)
	}
	var due any // NULL
	if d := st.NextDue(); !d.IsZero() {
		due = d.UnixNano()
	}
	s, ns := timeParts(st.CreatedAt)
	var uid any // NULL
	if st.UID != "" {
		uid = st.UID
	}
	t.queueIncident(incidentRow{st.ID, st.GroupKey, string(st.Status), st.Route, s, ns, due, string(data), uid})
	base, ok := t.pending[st.ID]
	if !ok {
		base = t.s.sums[st.ID]
	}
	next, err := t.putAlerts(&st, base, owned)
	if err != nil {
		return fmt.Errorf("sqlstore: put incident: %w", err)
	}
	if !st.Open() {
		next = nil
	}
	if t.pending == nil {
		t.pending = map[string]*alertSums{}
	}
	t.pending[st.ID] = next
	return nil
}

// AppendTimeline implements pager.Tx.
func (t *writeTx) AppendTimeline(entries ...pager.TimelineEntry) error {
	if err := t.stamp(); err != nil {
		return err
	}
	for _, e := range entries {
		data, err := json.Marshal(e)
		if err != nil {
			return fmt.Errorf("sqlstore: append timeline: encode: %w", err)
		}
		t.timeline = append(t.timeline, e.IncidentID, e.Seq, string(data)) // written by flush
	}
	return nil
}

// AddDelivery implements pager.Tx.
func (t *writeTx) AddDelivery(d pager.Delivery) (bool, error) {
	if err := t.stamp(); err != nil {
		return false, err
	}
	data, err := json.Marshal(d)
	if err != nil {
		return false, fmt.Errorf("sqlstore: add delivery: encode: %w", err)
	}
	q, err := t.stmt(qAddDelivery)
	if err != nil {
		return false, fmt.Errorf("sqlstore: add delivery: %w", err)
	}
	s, ns := timeParts(d.CreatedAt)
	res, err := q.ExecContext(t.ctx, d.Key, d.IncidentID, string(d.Status), s, ns, string(data))
	if err != nil {
		return false, fmt.Errorf("sqlstore: add delivery: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("sqlstore: add delivery: %w", err)
	}
	return n == 1, nil
}

// AddDeliveries implements pager.DeliveryAdder: multi-row INSERTs that
// skip the keys that exist and return those inserted.
func (t *writeTx) AddDeliveries(ds []pager.Delivery) ([]bool, error) {
	if err := t.stamp(); err != nil {
		return nil, err
	}
	args := make([]any, 0, 6*len(ds))
	for _, d := range ds {
		data, err := json.Marshal(d)
		if err != nil {
			return nil, fmt.Errorf("sqlstore: add delivery: encode: %w", err)
		}
		s, ns := timeParts(d.CreatedAt)
		args = append(args, d.Key, d.IncidentID, string(d.Status), s, ns, string(data))
	}
	inserted := make(map[string]bool, len(ds))
	if err := t.queryRows(addDeliveries, args, func(key string) { inserted[key] = true }); err != nil {
		return nil, fmt.Errorf("sqlstore: add delivery: %w", err)
	}
	added := make([]bool, len(ds))
	for i, d := range ds {
		// A key given twice was inserted once, by its first row.
		added[i] = inserted[d.Key]
		delete(inserted, d.Key)
	}
	return added, nil
}

// UpdateDelivery implements pager.Tx.
func (t *writeTx) UpdateDelivery(d pager.Delivery) error {
	if err := t.stamp(); err != nil {
		return err
	}
	data, err := json.Marshal(d)
	if err != nil {
		return fmt.Errorf("sqlstore: update delivery: encode: %w", err)
	}
	s, ns := timeParts(d.CreatedAt)
	res, err := t.tx.ExecContext(t.ctx, t.s.q(`UPDATE deliveries SET incident_id = ?, status = ?, created_s = ?, created_ns = ?, delivery = ?
		WHERE key = ?`), d.IncidentID, string(d.Status), s, ns, string(data), d.Key)
	if err != nil {
		return fmt.Errorf("sqlstore: update delivery: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("sqlstore: update delivery: %w", err)
	}
	if n == 0 {
		return pager.ErrNotFound
	}
	return nil
}

// UpdateDeliveries implements pager.DeliveryUpdater: multi-row UPDATEs
// that return the keys they found. A key given twice is replaced by its
// last delivery, as by one UpdateDelivery each.
func (t *writeTx) UpdateDeliveries(ds []pager.Delivery) error {
	if err := t.stamp(); err != nil {
		return err
	}
	last := make(map[string]int, len(ds))
	for i, d := range ds {
		last[d.Key] = i
	}
	args := make([]any, 0, 6*len(last))
	for i, d := range ds {
		if last[d.Key] != i {
			continue
		}
		data, err := json.Marshal(d)
		if err != nil {
			return fmt.Errorf("sqlstore: update delivery: encode: %w", err)
		}
		s, ns := timeParts(d.CreatedAt)
		args = append(args, d.Key, d.IncidentID, string(d.Status), s, ns, string(data))
	}
	if err := t.queryRows(updateDeliveries, args, func(key string) { delete(last, key) }); err != nil {
		return fmt.Errorf("sqlstore: update delivery: %w", err)
	}
	for _, d := range ds {
		if _, missing := last[d.Key]; missing {
			return fmt.Errorf("sqlstore: update delivery %s: %w", d.Key, pager.ErrNotFound)
		}
	}
	return nil
}

// PutSilence implements pager.Tx.
func (t *writeTx) PutSilence(sil pager.Silence) error {
	if err := t.stamp(); err != nil {
		return err
	}
	data, err := json.Marshal(sil)
	if err != nil {
		return fmt.Errorf("sqlstore: put silence: encode: %w", err)
	}
	if _, err := t.tx.ExecContext(t.ctx, t.s.q(`INSERT INTO silences (id, silence) VALUES (?, ?)
		ON CONFLICT (id) DO UPDATE SET silence = excluded.silence`), sil.ID, string(data)); err != nil {
		return fmt.Errorf("sqlstore: put silence: %w", err)
	}
	return nil
}

// PutCredential implements pager.Tx.
func (t *writeTx) PutCredential(c pager.Credential) error {
	if err := t.stamp(); err != nil {
		return err
	}
	data, err := json.Marshal(c)
	if err != nil {
		return fmt.Errorf("sqlstore: put credential: encode: %w", err)
	}
	if _, err := t.tx.ExecContext(t.ctx, t.s.q(`INSERT INTO credentials (id, kind, user_name, cred) VALUES (?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET kind = excluded.kind, user_name = excluded.user_name, cred = excluded.cred`),
		c.ID, c.Kind, c.User, string(data)); err != nil {
		return fmt.Errorf("sqlstore: put credential: %w", err)
	}
	return nil
}

// DeleteCredential implements pager.Tx.
func (t *writeTx) DeleteCredential(id string) error {
	if err := t.stamp(); err != nil {
		return err
	}
	res, err := t.tx.ExecContext(t.ctx, t.s.q(`DELETE FROM credentials WHERE id = ?`), id)
	if err != nil {
		return fmt.Errorf("sqlstore: delete credential: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("sqlstore: delete credential: %w", err)
	} else if n == 0 {
		return pager.ErrNotFound
	}
	return nil
}

// Overrides implements pager.ReadTx.
func (t *readTx) Overrides() ([]pager.ScheduleOverride, error) {
	return queryJSON(t, "schedule_overrides", func(id string, o *pager.ScheduleOverride) error {
		if o.ID != id {
			return fmt.Errorf("document id %q, row id %q", o.ID, id)
		}
		return nil
	}, "SELECT id, id, override FROM schedule_overrides ORDER BY id")
}

// CalendarFeeds implements pager.ReadTx.
func (t *readTx) CalendarFeeds() ([]pager.CalendarFeed, error) {
	return queryJSON(t, "calendar_feeds", func(id string, f *pager.CalendarFeed) error {
		if f.ID != id {
			return fmt.Errorf("document id %q, row id %q", f.ID, id)
		}
		return nil
	}, "SELECT id, id, feed FROM calendar_feeds ORDER BY id")
}

// PutOverride implements pager.Tx.
func (t *writeTx) PutOverride(o pager.ScheduleOverride) error {
	if err := t.stamp(); err != nil {
		return err
	}
	data, err := json.Marshal(o)
	if err != nil {
		return fmt.Errorf("sqlstore: put override: encode: %w", err)
	}
	if _, err := t.tx.ExecContext(t.ctx, t.s.q(`INSERT INTO schedule_overrides (id, override) VALUES (?, ?)
		ON CONFLICT (id) DO UPDATE SET override = excluded.override`), o.ID, string(data)); err != nil {
		return fmt.Errorf("sqlstore: put override: %w", err)
	}
	return nil
}

// DeleteOverride implements pager.Tx.
func (t *writeTx) DeleteOverride(id string) error {
	if err := t.stamp(); err != nil {
		return err
	}
	res, err := t.tx.ExecContext(t.ctx, t.s.q(`DELETE FROM schedule_overrides WHERE id = ?`), id)
	if err != nil {
		return fmt.Errorf("sqlstore: delete override: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("sqlstore: delete override: %w", err)
	}
	if n == 0 {
		return pager.ErrNotFound
	}
	return nil
}

// PutCalendarFeed implements pager.Tx.
func (t *writeTx) PutCalendarFeed(f pager.CalendarFeed) error {
	if err := t.stamp(); err != nil {
		return err
	}
	data, err := json.Marshal(f)
	if err != nil {
		return fmt.Errorf("sqlstore: put calendar feed: encode: %w", err)
	}
	if _, err := t.tx.ExecContext(t.ctx, t.s.q(`INSERT INTO calendar_feeds (id, feed) VALUES (?, ?)
		ON CONFLICT (id) DO UPDATE SET feed = excluded.feed`), f.ID, string(data)); err != nil {
		return fmt.Errorf("sqlstore: put calendar feed: %w", err)
	}
	return nil
}

// Postmortem implements pager.ReadTx.
func (t *readTx) Postmortem(id string) (pager.Postmortem, error) {
	out, err := queryJSON(t, "postmortems", checkPostmortem,
		"SELECT incident_id, incident_id, doc FROM postmortems WHERE incident_id = ?", id)
	if err != nil {
		return pager.Postmortem{}, err
	}
	if len(out) == 0 {
		return pager.Postmortem{}, pager.ErrNotFound
	}
	return out[0], nil
}

// Postmortems implements pager.ReadTx.
func (t *readTx) Postmortems() ([]pager.Postmortem, error) {
	return queryJSON(t, "postmortems", checkPostmortem, "SELECT incident_id, incident_id, doc FROM postmortems ORDER BY incident_id")
}

func checkPostmortem(id string, pm *pager.Postmortem) error {
	if pm.IncidentID != id {
		return fmt.Errorf("document incident %q, row incident %q", pm.IncidentID, id)
	}
	return nil
}

func checkStatusUpdate(id string, u *pager.StatusUpdate) error {
	if u.ID != id {
		return fmt.Errorf("document id %q, row id %q", u.ID, id)
	}
	return nil
}

// PutPostmortem implements pager.Tx.
func (t *writeTx) PutPostmortem(pm pager.Postmortem) error {
	if err := t.stamp(); err != nil {
		return err
	}
	data, err := json.Marshal(pm)
	if err != nil {
		return fmt.Errorf("sqlstore: put postmortem: encode: %w", err)
	}
	if _, err := t.tx.ExecContext(t.ctx, t.s.q(`INSERT INTO postmortems (incident_id, doc) VALUES (?, ?)
		ON CONFLICT (incident_id) DO UPDATE SET doc = excluded.doc`), pm.IncidentID, string(data)); err != nil {
		return fmt.Errorf("sqlstore: put postmortem: %w", err)
	}
	return nil
}

// StatusUpdates implements pager.ReadTx.
func (t *readTx) StatusUpdates(incidentID string, limit int) ([]pager.StatusUpdate, error) {
	q, args := "SELECT id, id, upd FROM status_updates", []any{}
	if incidentID != "" {
		q += " WHERE incident_id = ?"
		args = append(args, incidentID)
	}
	q += " ORDER BY seq DESC"
	if limit > 0 {
		q += " LIMIT " + strconv.Itoa(limit)
	}
	return queryJSON(t, "status_updates", checkStatusUpdate, q, args...)
}

// PutStatusUpdate implements pager.Tx.
func (t *writeTx) PutStatusUpdate(u pager.StatusUpdate) error {
	if err := t.stamp(); err != nil {
		return err
	}
	data, err := json.Marshal(u)
	if err != nil {
		return fmt.Errorf("sqlstore: put status update: encode: %w", err)
	}
	if _, err := t.tx.ExecContext(t.ctx, t.s.q(`INSERT INTO status_updates (id, incident_id, seq, upd) VALUES (?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET incident_id = excluded.incident_id, seq = excluded.seq, upd = excluded.upd`),
		u.ID, u.IncidentID, u.Seq, string(data)); err != nil {
		return fmt.Errorf("sqlstore: put status update: %w", err)
	}
	return nil
}

// Maintenances implements pager.ReadTx.
func (t *readTx) Maintenances() ([]pager.Maintenance, error) {
	list, err := queryJSON(t, "maintenances", func(id string, m *pager.Maintenance) error {
		if m.ID != id {
			return fmt.Errorf("document id %q, row id %q", m.ID, id)
		}
		return nil
	}, "SELECT id, id, maint FROM maintenances")
	slices.SortFunc(list, func(a, b pager.Maintenance) int {
		if c := a.StartsAt.Compare(b.StartsAt); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return list, err
}

// PutMaintenance implements pager.Tx.
func (t *writeTx) PutMaintenance(m pager.Maintenance) error {
	if err := t.stamp(); err != nil {
		return err
	}
	data, err := json.Marshal(m)
	if err != nil {
		return fmt.Errorf("sqlstore: put maintenance: encode: %w", err)
	}
	if _, err := t.tx.ExecContext(t.ctx, t.s.q(`INSERT INTO maintenances (id, maint) VALUES (?, ?)
		ON CONFLICT (id) DO UPDATE SET maint = excluded.maint`), m.ID, string(data)); err != nil {
		return fmt.Errorf("sqlstore: put maintenance: %w", err)
	}
	return nil
}

// ActionItemReminders implements pager.ReadTx.
func (t *readTx) ActionItemReminders() ([]pager.ActionItemReminder, error) {
	return queryJSON(t, "action_item_reminders", func(id string, r *pager.ActionItemReminder) error {
		if r.Key() != id {
			return fmt.Errorf("document key %q, row id %q", r.Key(), id)
		}
		return nil
	}, "SELECT id, id, reminder FROM action_item_reminders")
}

// PutActionItemReminder implements pager.Tx.
func (t *writeTx) PutActionItemReminder(r pager.ActionItemReminder) error {
	if err := t.stamp(); err != nil {
		return err
	}
	data, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("sqlstore: put action item reminder: encode: %w", err)
	}
	if _, err := t.tx.ExecContext(t.ctx, t.s.q(`INSERT INTO action_item_reminders (id, reminder) VALUES (?, ?)
		ON CONFLICT (id) DO UPDATE SET reminder = excluded.reminder`), r.Key(), string(data)); err != nil {
		return fmt.Errorf("sqlstore: put action item reminder: %w", err)
	}
	return nil
}
