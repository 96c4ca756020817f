package sqlstore

import (
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/watchdog-sre/watchdog/pager"
)

func checkSubscriber(id string, s *pager.Subscriber) error {
	if s.ID != id {
		return fmt.Errorf("document id %q, row id %q", s.ID, id)
	}
	return nil
}

// Subscribers implements pager.ReadTx.
func (t *readTx) Subscribers() ([]pager.Subscriber, error) {
	return queryJSON(t, "status_subscribers", checkSubscriber, "SELECT id, id, sub FROM status_subscribers ORDER BY id")
}

// Subscriber implements pager.ReadTx.
func (t *readTx) Subscriber(id string) (pager.Subscriber, error) {
	list, err := queryJSON(t, "status_subscribers", checkSubscriber, "SELECT id, id, sub FROM status_subscribers WHERE id = ?", id)
	if err != nil {
		return pager.Subscriber{}, err
	}
	if len(list) == 0 {
		return pager.Subscriber{}, pager.ErrNotFound
	}
	return list[0], nil
}

// SubscriberEvent implements pager.ReadTx.
func (t *readTx) SubscriberEvent(key string) (pager.SubscriberEvent, error) {
	list, err := queryJSON(t, "status_sub_events", func(key string, ev *pager.SubscriberEvent) error {
		if ev.Key != key {
			return fmt.Errorf("document key %q, row key %q", ev.Key, key)
		}
		return nil
	}, "SELECT key, key, ev FROM status_sub_events WHERE key = ?", key)
	if err != nil {
		return pager.SubscriberEvent{}, err
	}
	if len(list) == 0 {
		return pager.SubscriberEvent{}, pager.ErrNotFound
	}
	return list[0], nil
}

// SubscriberNotes implements pager.ReadTx.
func (t *readTx) SubscriberNotes(f pager.SubscriberNoteFilter) ([]pager.SubscriberNote, error) {
	q := "SELECT id, id, note FROM status_sub_notes WHERE 1 = 1"
	var args []any
	if f.SubscriberID != "" {
		q += " AND subscriber_id = ?"
		args = append(args, f.SubscriberID)
	}
	if f.Status != "" {
		q += " AND status = ?"
		args = append(args, string(f.Status))
	}
	if !f.DueBy.IsZero() {
		q += " AND next_at <= ?"
		args = append(args, f.DueBy.UnixNano())
	}
	q += " ORDER BY next_at, id"
	if f.Limit > 0 {
		q += " LIMIT " + strconv.Itoa(f.Limit)
	}
	return queryJSON(t, "status_sub_notes", func(id string, n *pager.SubscriberNote) error {
		if n.ID != id {
			return fmt.Errorf("document id %q, row id %q", n.ID, id)
		}
		return nil
	}, q, args...)
}

// SubscriberMark implements pager.ReadTx.
func (t *readTx) SubscriberMark(key string) (string, error) {
	var v string
	err := t.tx.QueryRowContext(t.ctx, t.s.q("SELECT value FROM status_sub_marks WHERE key = ?"), key).Scan(&v)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return "", pager.ErrNotFound
	case err != nil:
		return "", fmt.Errorf("sqlstore: subscriber mark: %w", err)
	}
	return v, nil
}

// PutSubscriber implements pager.Tx.
func (t *writeTx) PutSubscriber(s pager.Subscriber) error {
	data, err := json.Marshal(s)
	if err != nil {
		return fmt.Errorf("sqlstore: put subscriber: encode: %w", err)
	}
	if _, err := t.tx.ExecContext(t.ctx, t.s.q(`INSERT INTO status_subscribers (id, sub) VALUES (?, ?)
		ON CONFLICT (id) DO UPDATE SET sub = excluded.sub`), s.ID, string(data)); err != nil {
		return fmt.Errorf("sqlstore: put subscriber: %w", err)
	}
	return nil
}

// DeleteSubscriber implements pager.Tx.
func (t *writeTx) DeleteSubscriber(id string) error {
	res, err := t.tx.ExecContext(t.ctx, t.s.q(`DELETE FROM status_subscribers WHERE id = ?`), id)
	if err != nil {
		return fmt.Errorf("sqlstore: delete subscriber: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("sqlstore: delete subscriber: %w", err)
	} else if n == 0 {
		return pager.ErrNotFound
	}
	if _, err := t.tx.ExecContext(t.ctx, t.s.q(`DELETE FROM status_sub_notes WHERE subscriber_id = ?`), id); err != nil {
		return fmt.Errorf("sqlstore: delete subscriber messages: %w", err)
	}
	return nil
}

// AddSubscriberEvent implements pager.Tx.
func (t *writeTx) AddSubscriberEvent(ev pager.SubscriberEvent) (bool, error) {
	data, err := json.Marshal(ev)
	if err != nil {
		return false, fmt.Errorf("sqlstore: add subscriber event: encode: %w", err)
	}
	res, err := t.tx.ExecContext(t.ctx, t.s.q(`INSERT INTO status_sub_events (key, at_ns, ev) VALUES (?, ?, ?)
		ON CONFLICT (key) DO NOTHING`), ev.Key, ev.At.UnixNano(), string(data))
	if err != nil {
		return false, fmt.Errorf("sqlstore: add subscriber event: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("sqlstore: add subscriber event: %w", err)
	}
	return n == 1, nil
}

// PutSubscriberNote implements pager.Tx.
func (t *writeTx) PutSubscriberNote(n pager.SubscriberNote) error {
	data, err := json.Marshal(n)
	if err != nil {
		return fmt.Errorf("sqlstore: put subscriber message: encode: %w", err)
	}
	if _, err := t.tx.ExecContext(t.ctx, t.s.q(`INSERT INTO status_sub_notes (id, subscriber_id, status, next_at, created_ns, note)
		VALUES (?, ?, ?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET subscriber_id = excluded.subscriber_id, status = excluded.status,
			next_at = excluded.next_at, created_ns = excluded.created_ns, note = excluded.note`),
		n.ID, n.SubscriberID, string(n.Status), n.NextAt.UnixNano(), n.CreatedAt.UnixNano(), string(data)); err != nil {
		return fmt.Errorf("sqlstore: put subscriber message: %w", err)
	}
	return nil
}

// PutSubscriberMark implements pager.Tx.
func (t *writeTx) PutSubscriberMark(key, value string) error {
	if _, err := t.tx.ExecContext(t.ctx, t.s.q(`INSERT INTO status_sub_marks (key, value) VALUES (?, ?)
		ON CONFLICT (key) DO UPDATE SET value = excluded.value`), key, value); err != nil {
		return fmt.Errorf("sqlstore: put subscriber mark: %w", err)
	}
	return nil
}

// PruneSubscriberEvents implements pager.Tx.
func (t *writeTx) PruneSubscriberEvents(before time.Time) error {
	if _, err := t.tx.ExecContext(t.ctx, t.s.q(`DELETE FROM status_sub_events WHERE at_ns < ?`), before.UnixNano()); err != nil {
		return fmt.Errorf("sqlstore: prune subscriber events: %w", err)
	}
	if _, err := t.tx.ExecContext(t.ctx, t.s.q(`DELETE FROM status_sub_notes WHERE status <> ? AND created_ns < ?`),
		string(pager.DeliveryPending), before.UnixNano()); err != nil {
		return fmt.Errorf("sqlstore: prune subscriber messages: %w", err)
	}
	return nil
}
