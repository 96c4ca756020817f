package sqlstore

import (
	"bytes"
	"database/sql"
	"encoding/json"
	"fmt"
	"maps"
	"slices"

	"github.com/watchdog-sre/watchdog/pager"
)

// incidentDoc is the JSON document of an incident: the state with its
// alerts spliced in already encoded. The outer Alerts field shadows the
// embedded one, so the document decodes straight into pager.IncidentState
// (the field order differs, which JSON does not mind).
type incidentDoc struct {
	pager.IncidentState
	Alerts json.RawMessage
}

// alertMemo remembers the JSON of the alerts of open incidents, so that an
// incident that gains one alert costs one alert's encoding, not all of
// them. It is keyed by content: an entry is used only when the alert
// equals the one it was encoded from, so a rolled-back transaction or
// another process writing the same file cannot make it wrong. It is
// guarded by Store.wmu (only Update writes incidents).
type alertMemo struct {
	byIncident map[string]*memoIncident
}

// memoIncident holds the alerts of an incident in the order last put, and
// a spare slice that the next put fills (the two swap).
type memoIncident struct {
	cur, spare []memoAlert
}

// memoAlert is an alert (its maps copied as sorted pairs owned by the
// memo) and its JSON.
type memoAlert struct {
	a           pager.IncidentAlert // Labels and Annotations nil
	labels      pairs
	annotations pairs
	json        []byte
}

// pairs is a map copied as keys and values; nil keys for a nil map.
type pairs struct{ keys, vals []string }

func toPairs(m map[string]string) pairs {
	if m == nil {
		return pairs{}
	}
	p := pairs{keys: slices.Sorted(maps.Keys(m))}
	if p.keys == nil {
		p.keys = []string{}
	}
	p.vals = make([]string, len(p.keys))
	for i, k := range p.keys {
		p.vals[i] = m[k]
	}
	return p
}

// equal reports whether m holds exactly the pairs p.
func (p pairs) equal(m map[string]string) bool {
	if (p.keys == nil) != (m == nil) || len(p.keys) != len(m) {
		return false
	}
	// Same size and every pair of p in m: equal. Lookups in a small map
	// are much cheaper than iterating it.
	for i, k := range p.keys {
		if v, ok := m[k]; !ok || v != p.vals[i] {
			return false
		}
	}
	return true
}

func (e *memoAlert) same(a *pager.IncidentAlert) bool {
	return e.a.Fingerprint == a.Fingerprint && e.a.SuppressedBy == a.SuppressedBy && e.a.Ended == a.Ended &&
		e.a.StartsAt == a.StartsAt && e.a.EndsAt == a.EndsAt && e.a.GeneratorURL == a.GeneratorURL && e.a.Timeout == a.Timeout &&
		e.labels.equal(a.Labels) && e.annotations.equal(a.Annotations)
}

// alertsSuffix ends the JSON of an incidentDoc whose Alerts is alertsMark.
const alertsSuffix = `,"Alerts":0}`

var alertsMark = json.RawMessage("0")

// encodeIncident appends st as JSON to buf, encoding only the alerts the
// memo does not know. The result equals json.Marshal(st) but for the
// position of the Alerts field.
func (m *alertMemo) encodeIncident(st *pager.IncidentState, buf []byte) ([]byte, error) {
	if !st.Open() {
		delete(m.byIncident, st.ID)
	}
	if st.Alerts == nil {
		data, err := json.Marshal(st)
		return append(buf[:0], data...), err
	}
	doc := incidentDoc{IncidentState: *st, Alerts: alertsMark}
	doc.IncidentState.Alerts = nil
	head, err := json.Marshal(&doc)
	if err != nil {
		return buf, err
	}
	if !bytes.HasSuffix(head, []byte(alertsSuffix)) {
		return buf, fmt.Errorf("BUG: sqlstore: incident JSON does not end in %s", alertsSuffix)
	}
	buf = append(buf[:0], head[:len(head)-len(alertsSuffix)+len(`,"Alerts":`)]...)
	buf = append(buf, '[')
	mi := m.byIncident[st.ID]
	if mi == nil {
		mi = &memoIncident{}
	}
	old, cur := mi.cur, mi.spare[:0]
	j := 0
	for i := range st.Alerts {
		a := &st.Alerts[i]
		// Alerts are sorted by fingerprint: walk the old ones alongside.
		for j < len(old) && old[j].a.Fingerprint < a.Fingerprint {
			j++
		}
		if j < len(old) && old[j].same(a) {
			cur = append(cur, old[j])
		} else {
			data, err := json.Marshal(a)
			if err != nil {
				return buf, err
			}
			e := memoAlert{a: *a, labels: toPairs(a.Labels), annotations: toPairs(a.Annotations), json: data}
			e.a.Labels, e.a.Annotations = nil, nil
			cur = append(cur, e)
		}
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = append(buf, cur[i].json...)
	}
	buf = append(buf, ']', '}')
	if st.Open() {
		if m.byIncident == nil {
			m.byIncident = map[string]*memoIncident{}
		}
		clear(old) // drop references held by the spare
		mi.cur, mi.spare = cur, old
		m.byIncident[st.ID] = mi
	}
	return buf, nil
}

// Statements of the write path, prepared once per Store (and per
// connection by database/sql).
const (
	qOpenOther   = "SELECT id FROM incidents WHERE group_key = ? AND status <> ? AND id <> ? LIMIT 1"
	qPutIncident = `INSERT INTO incidents (id, group_key, status, route, created_s, created_ns, next_due, state, uid)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET group_key = excluded.group_key, status = excluded.status, route = excluded.route,
			created_s = excluded.created_s, created_ns = excluded.created_ns, next_due = excluded.next_due, state = excluded.state,
			uid = excluded.uid`
	qAppendTimeline = "INSERT INTO timeline (incident_id, seq, entry) VALUES (?, ?, ?)"
	qAddDelivery    = `INSERT INTO deliveries (key, incident_id, status, created_s, created_ns, delivery)
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
