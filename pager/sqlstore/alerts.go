package sqlstore

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"hash/maphash"
	"math/bits"
	"slices"
	"strings"
	"time"

	"github.com/watchdog-sre/watchdog/pager"
)

// Alerts of incidents
//
// An incident's alerts live in incident_alerts, one row per (incident,
// fingerprint), not in the incident's JSON document, and PutIncident
// writes only the alerts that changed since the incident was last
// written: a storm that adds one alert to an incident of a hundred
// writes one row, not a hundred alerts' JSON.
//
// What was last written is known by a 64-bit hash per alert (alertSum),
// kept per open incident in Store.sums and updated only when the
// transaction that wrote it commits. On PostgreSQL, where replicas write
// the same rows, an incident's sums are trusted only while the incident
// row still carries the change number of the transaction that recorded
// them; otherwise (and for an incident the Store has not written since it
// opened) PutIncident rewrites all of the incident's alerts.
//
// Incidents written before schema version 10 keep their alerts in the
// document until they are next written: a read takes the alerts from
// incident_alerts when the incident has rows there, from the document
// otherwise (the document of a written incident holds [] or null, as the
// caller's Alerts was empty or nil).

// alertSum is the fingerprint and content hash of a written alert.
type alertSum struct {
	fp string
	h  uint64
}

// alertSums are an incident's written alerts, sorted by fingerprint, and
// the change number of the transaction that wrote them (0 on SQLite).
type alertSums struct {
	version int64
	sums    []alertSum
}

// alertOp is a buffered write of one alert row: an upsert of data, or a
// delete when data is nil.
type alertOp struct {
	incident, fp string
	data         []byte
}

// maxRowsPerInsert bounds the rows of one multi-row INSERT (3 parameters
// each: far below SQLite's and PostgreSQL's limits), a power of two.
const (
	maxRowsLog2      = 8
	maxRowsPerInsert = 1 << maxRowsLog2
)

const (
	qDeleteAlerts = "DELETE FROM incident_alerts WHERE incident_id = ?"
	qDeleteAlert  = "DELETE FROM incident_alerts WHERE incident_id = ? AND fingerprint = ?"
	qUpsertAlerts = "INSERT INTO incident_alerts (incident_id, fingerprint, alert) VALUES "
	qUpsertTail   = " ON CONFLICT (incident_id, fingerprint) DO UPDATE SET alert = excluded.alert"
	qSelectAlerts = "SELECT incident_id, fingerprint, alert FROM incident_alerts WHERE incident_id IN "
)

// upsertQueries[k] is the INSERT of 1<<k alert rows.
var upsertQueries = func() (qs [maxRowsLog2 + 1]string) {
	for k := range qs {
		qs[k] = upsertQuery(1 << k)
	}
	return qs
}()

// upsertQuery returns the INSERT of n alert rows.
func upsertQuery(n int) string {
	var b strings.Builder
	b.WriteString(qUpsertAlerts)
	for i := range n {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("(?, ?, ?)")
	}
	b.WriteString(qUpsertTail)
	return b.String()
}

// hashAlert hashes everything of a that its JSON encodes.
func hashAlert(seed maphash.Seed, a *pager.IncidentAlert) uint64 {
	var h maphash.Hash
	h.SetSeed(seed)
	for _, s := range []string{a.Fingerprint, a.SuppressedBy, a.GeneratorURL} {
		h.WriteString(s)
		h.WriteByte(0)
	}
	var b [8 * 7]byte
	buf := b[:0]
	flags := uint64(0)
	if a.Ended {
		flags |= 1
	}
	if a.Timeout {
		flags |= 2
	}
	buf = binary.LittleEndian.AppendUint64(buf, flags)
	buf = appendTime(buf, a.StartsAt)
	buf = appendTime(buf, a.EndsAt)
	h.Write(buf)
	hashMap(&h, seed, a.Labels)
	hashMap(&h, seed, a.Annotations)
	return h.Sum64()
}

// appendTime appends what t's JSON encodes: the instant and the offset.
func appendTime(buf []byte, t time.Time) []byte {
	_, off := t.Zone()
	buf = binary.LittleEndian.AppendUint64(buf, uint64(t.Unix()))
	buf = binary.LittleEndian.AppendUint64(buf, uint64(t.Nanosecond())<<32|uint64(uint32(off)))
	return buf
}

// hashMap adds m to h independently of iteration order: the sum of the
// hashes of its pairs, with its size (and nil-ness, which JSON encodes).
func hashMap(h *maphash.Hash, seed maphash.Seed, m map[string]string) {
	var ph maphash.Hash
	ph.SetSeed(seed)
	var sum uint64
	for k, v := range m {
		ph.Reset()
		ph.WriteString(k)
		ph.WriteByte(0)
		ph.WriteString(v)
		sum += ph.Sum64()
	}
	var b [17]byte
	buf := binary.LittleEndian.AppendUint64(b[:0], uint64(len(m)))
	buf = binary.LittleEndian.AppendUint64(buf, sum)
	if m == nil {
		buf = append(buf, 1)
	} else {
		buf = append(buf, 0)
	}
	h.Write(buf)
}

// putAlerts writes the alerts of st that differ from base (nil: unknown,
// so all of them, after deleting the incident's rows) and returns the
// sums of what the incident now holds.
func (t *writeTx) putAlerts(st *pager.IncidentState, base *alertSums) (*alertSums, error) {
	alerts := st.Alerts
	if !slices.IsSortedFunc(alerts, func(a, b pager.IncidentAlert) int { return strings.Compare(a.Fingerprint, b.Fingerprint) }) {
		alerts = slices.Clone(alerts)
		slices.SortStableFunc(alerts, func(a, b pager.IncidentAlert) int { return strings.Compare(a.Fingerprint, b.Fingerprint) })
	}
	var old []alertSum
	if base == nil {
		q, err := t.stmt(qDeleteAlerts)
		if err != nil {
			return nil, err
		}
		if _, err := q.ExecContext(t.ctx, st.ID); err != nil {
			return nil, fmt.Errorf("delete alerts: %w", err)
		}
	} else {
		old = base.sums
	}
	next := &alertSums{version: t.version, sums: make([]alertSum, 0, len(alerts))}
	j := 0
	for i := range alerts {
		a := &alerts[i]
		h := hashAlert(t.s.seed, a)
		for j < len(old) && old[j].fp < a.Fingerprint {
			t.queue(st.ID, old[j].fp, nil)
			j++
		}
		same := j < len(old) && old[j].fp == a.Fingerprint && old[j].h == h
		if j < len(old) && old[j].fp == a.Fingerprint {
			j++
		}
		next.sums = append(next.sums, alertSum{fp: a.Fingerprint, h: h})
		if same {
			continue
		}
		data, err := t.encode(a)
		if err != nil {
			return nil, err
		}
		t.queue(st.ID, a.Fingerprint, data)
	}
	for ; j < len(old); j++ {
		t.queue(st.ID, old[j].fp, nil)
	}
	return next, nil
}

// encode returns a's JSON.
func (t *writeTx) encode(a *pager.IncidentAlert) ([]byte, error) {
	t.enc.Reset()
	if t.encoder == nil {
		t.encoder = json.NewEncoder(&t.enc)
	}
	if err := t.encoder.Encode(a); err != nil {
		return nil, fmt.Errorf("encode alert: %w", err)
	}
	return bytes.Clone(bytes.TrimSuffix(t.enc.Bytes(), []byte("\n"))), nil
}

// queue buffers the write of one alert row; a later write of the same
// row in the transaction replaces it.
func (t *writeTx) queue(incident, fp string, data []byte) {
	key := incident + "\x00" + fp
	if i, ok := t.opIndex[key]; ok {
		t.ops[i].data = data
		return
	}
	if t.opIndex == nil {
		t.opIndex = map[string]int{}
	}
	t.opIndex[key] = len(t.ops)
	t.ops = append(t.ops, alertOp{incident: incident, fp: fp, data: data})
}

// flush writes the buffered alert rows: deletes one by one (rare),
// upserts in multi-row INSERTs of maxRowsPerInsert, then of the powers of
// two that make up the rest, so that a handful of prepared statements
// serve every count.
func (t *writeTx) flush() error {
	if len(t.ops) == 0 {
		return nil
	}
	t.s.alertRows += len(t.ops)
	ups := t.args[:0]
	for _, op := range t.ops {
		if op.data == nil {
			q, err := t.stmt(qDeleteAlert)
			if err != nil {
				return err
			}
			if _, err := q.ExecContext(t.ctx, op.incident, op.fp); err != nil {
				return fmt.Errorf("delete alert: %w", err)
			}
			continue
		}
		ups = append(ups, op.incident, op.fp, string(op.data))
	}
	for len(ups) > 0 {
		k := bits.Len(uint(min(len(ups)/3, maxRowsPerInsert))) - 1
		n := 1 << k // the largest power of two not above the rows left
		q, err := t.stmt(upsertQueries[k])
		if err != nil {
			return err
		}
		if _, err := q.ExecContext(t.ctx, ups[:3*n]...); err != nil {
			return fmt.Errorf("write alerts: %w", err)
		}
		ups = ups[3*n:]
	}
	clear(t.args[:cap(t.args)])
	t.args = t.args[:0]
	t.ops = t.ops[:0]
	clear(t.opIndex)
	return nil
}

// attachAlerts sets the alerts of every incident of sts that has rows in
// incident_alerts (the others keep their document's, see above), first
// writing what this transaction buffered.
func (t *readTx) attachAlerts(sts []pager.IncidentState) error {
	if len(sts) == 0 {
		return nil
	}
	if t.w != nil {
		if err := t.w.flush(); err != nil {
			return fmt.Errorf("sqlstore: %w", err)
		}
	}
	pos := make(map[string]int, len(sts))
	for i := range sts {
		pos[sts[i].ID] = i
	}
	found := map[int][]pager.IncidentAlert{}
	for chunk := range slices.Chunk(sts, maxRowsPerInsert) {
		args := make([]any, len(chunk))
		for i := range chunk {
			args[i] = chunk[i].ID
		}
		q := qSelectAlerts + "(?" + strings.Repeat(", ?", len(chunk)-1) + ")"
		if err := t.scanAlerts(q, args, pos, found); err != nil {
			return err
		}
	}
	for i, as := range found {
		slices.SortFunc(as, func(a, b pager.IncidentAlert) int { return strings.Compare(a.Fingerprint, b.Fingerprint) })
		sts[i].Alerts = as
	}
	return nil
}

func (t *readTx) scanAlerts(q string, args []any, pos map[string]int, found map[int][]pager.IncidentAlert) error {
	rows, err := t.tx.QueryContext(t.ctx, t.s.q(q), args...)
	if err != nil {
		return fmt.Errorf("sqlstore: incident_alerts: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id, fp string
		var data []byte
		if err := rows.Scan(&id, &fp, &data); err != nil {
			return fmt.Errorf("sqlstore: incident_alerts: %w", err)
		}
		var a pager.IncidentAlert
		if err := decodeRow(data, fp, &a, checkAlert); err != nil {
			t.s.corrupt("incident_alerts", id+" "+fp, err)
			continue
		}
		if i, ok := pos[id]; ok {
			found[i] = append(found[i], a)
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("sqlstore: incident_alerts: %w", err)
	}
	return nil
}

func checkAlert(fp string, a *pager.IncidentAlert) error {
	if a.Fingerprint != fp {
		return fmt.Errorf("document fingerprint %q, row fingerprint %q", a.Fingerprint, fp)
	}
	return nil
}
