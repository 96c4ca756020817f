package sqlstore

import (
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/watchdog-sre/watchdog/pager"
)

// errBadRow is the cause of every corrupt-row report.
var errBadRow = errors.New("corrupt row")

// decodeRow decodes data into v and runs check on it.
func decodeRow[T any](data []byte, match string, v *T, check func(string, *T) error) error {
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("%w: decode: %w", errBadRow, err)
	}
	if check != nil {
		if err := check(match, v); err != nil {
			return fmt.Errorf("%w: %w", errBadRow, err)
		}
	}
	return nil
}

func checkIncident(id string, st *pager.IncidentState) error {
	switch {
	case st.ID != id:
		return fmt.Errorf("document id %q, row id %q", st.ID, id)
	case st.Status != pager.StatusTriggered && st.Status != pager.StatusAcknowledged && st.Status != pager.StatusResolved:
		return fmt.Errorf("unknown status %q", st.Status)
	}
	return nil
}

func checkTimeline(incidentID string, e *pager.TimelineEntry) error {
	if e.IncidentID != incidentID {
		return fmt.Errorf("document incident %q, row incident %q", e.IncidentID, incidentID)
	}
	return nil
}

func checkDelivery(key string, d *pager.Delivery) error {
	switch {
	case d.Key != key:
		return fmt.Errorf("document key %q, row key %q", d.Key, key)
	case d.Status != pager.DeliveryPending && d.Status != pager.DeliverySent && d.Status != pager.DeliveryFailed:
		return fmt.Errorf("unknown status %q", d.Status)
	case d.Kind != pager.KindNotify && d.Kind != pager.KindForward && d.Kind != pager.KindWarRoom:
		return fmt.Errorf("unknown kind %q", d.Kind)
	}
	return nil
}

func checkSilence(id string, s *pager.Silence) error {
	if s.ID != id {
		return fmt.Errorf("document id %q, row id %q", s.ID, id)
	}
	return nil
}

func checkCredential(id string, c *pager.Credential) error {
	switch {
	case c.ID != id:
		return fmt.Errorf("document id %q, row id %q", c.ID, id)
	case c.Kind != pager.CredToken && c.Kind != pager.CredSession:
		return fmt.Errorf("unknown kind %q", c.Kind)
	}
	return nil
}

// corrupt reports a row that cannot be used, once per row and Store: an
// ERROR line naming the table and the row, and
// watchdog_pager_store_corrupt_rows_total{table}. Reads skip the row.
func (s *Store) corrupt(table, name string, err error) {
	if _, seen := s.reported.LoadOrStore(table+"\x00"+name, true); seen {
		return
	}
	s.log.Error("pager database: corrupt row skipped", "path", s.path, "table", table, "key", name, "err", err)
	s.countCorrupt(table)
}

func (s *Store) countCorrupt(table string) {
	if s.metrics != nil {
		s.metrics.GetOrCreateCounter(`watchdog_pager_store_corrupt_rows_total{table="` + table + `"}`).Inc()
	}
}

// quarantineScans select the rows the pager loads at start: open
// incidents (a corrupt one would also block its group key through the
// incidents_open_group index), pending deliveries and silences. Each
// query returns (key, status column, document).
var quarantineScans = []struct {
	table, keyCol, query string
	check                func(key, status string, data []byte) error
}{
	{"incidents", "id", "SELECT id, status, state FROM incidents WHERE status <> 'resolved'",
		func(key, status string, data []byte) error {
			var st pager.IncidentState
			if err := decodeRow(data, key, &st, checkIncident); err != nil {
				return err
			}
			if string(st.Status) != status {
				return fmt.Errorf("%w: document status %q, row status %q", errBadRow, st.Status, status)
			}
			return nil
		}},
	{"deliveries", "key", "SELECT key, status, delivery FROM deliveries WHERE status = 'pending'",
		func(key, status string, data []byte) error {
			var d pager.Delivery
			if err := decodeRow(data, key, &d, checkDelivery); err != nil {
				return err
			}
			if string(d.Status) != status {
				return fmt.Errorf("%w: document status %q, row status %q", errBadRow, d.Status, status)
			}
			return nil
		}},
	{"silences", "id", "SELECT id, '', silence FROM silences",
		func(key, _ string, data []byte) error {
			var s pager.Silence
			return decodeRow(data, key, &s, checkSilence)
		}},
}

// quarantine moves the corrupt rows of what the pager loads at start
// into the quarantine table, each with an ERROR line naming it, so that
// the pager starts with everything else. The rows are kept there for
// inspection; nothing reads them.
func (s *Store) quarantine() (moved int, err error) {
	tx, err := s.beginWrite(bg)
	if err != nil {
		return 0, fmt.Errorf("quarantine: %w", err)
	}
	defer func() {
		if err != nil {
			tx.Rollback()
		}
	}()
	now := time.Now().Unix()
	for _, q := range quarantineScans {
		bad, err := scanBad(tx, q.query, q.check)
		if err != nil {
			return 0, fmt.Errorf("quarantine %s: %w", q.table, err)
		}
		for _, b := range bad {
			if _, err := tx.ExecContext(bg, s.q(`INSERT INTO quarantine (tbl, key, data, reason, at_s) VALUES (?, ?, ?, ?, ?)`),
				q.table, b.key, string(b.data), b.err.Error(), now); err != nil {
				return 0, fmt.Errorf("quarantine %s %s: %w", q.table, b.key, err)
			}
			if _, err := tx.ExecContext(bg, s.q("DELETE FROM "+q.table+" WHERE "+q.keyCol+" = ?"), b.key); err != nil {
				return 0, fmt.Errorf("quarantine %s %s: %w", q.table, b.key, err)
			}
			s.log.Error("pager database: corrupt row moved to the quarantine table", "path", s.path,
				"table", q.table, "key", b.key, "err", b.err)
			s.countCorrupt(q.table)
			moved++
		}
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("quarantine: commit: %w", err)
	}
	return moved, nil
}

type badRow struct {
	key  string
	data []byte
	err  error
}

func scanBad(tx *sql.Tx, query string, check func(key, status string, data []byte) error) ([]badRow, error) {
	rows, err := tx.QueryContext(bg, query)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var bad []badRow
	for rows.Next() {
		var key, status string
		var data []byte
		if err := rows.Scan(&key, &status, &data); err != nil {
			return nil, err
		}
		if err := check(key, status, data); err != nil {
			bad = append(bad, badRow{key: key, data: data, err: err})
		}
	}
	return bad, rows.Err()
}

// Quarantined returns how many rows the quarantine table holds.
func (s *Store) Quarantined() (int, error) {
	var n int
	if err := s.db.QueryRowContext(bg, "SELECT count(*) FROM quarantine").Scan(&n); err != nil {
		return 0, fmt.Errorf("sqlstore: quarantined: %w", err)
	}
	return n, nil
}
