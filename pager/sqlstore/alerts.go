package sqlstore

import (
	"bytes"
	"encoding/json"
	"fmt"
	"hash/maphash"
	"reflect"
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
// the same rows, each write transaction first forgets the sums of the
// incidents other Stores wrote since this one last committed
// (forgetOthersWrites). An incident without sums (new, written by
// another replica, or not written since the Store opened) has all its
// alert rows deleted and written again.
//
// The rows are buffered in the transaction and written, incidents first,
// in multi-row INSERTs (flush) when fn returns or before a read in the
// transaction that could see them.
//
// Incidents written before schema version 10 keep their alerts in the
// document until they are next written: a read takes the alerts from
// incident_alerts when the incident has rows there, from the document
// otherwise (the document of a written incident holds [] or null, as the
// caller's Alerts was empty or nil).

// alertSum is the fingerprint and content hash of a written alert, with
// the hash of its label and annotation maps. When the alert came through
// PutIncidentOwned (refs), its maps' identities are kept too: the next
// owned put of the alert with the same maps (Step never writes into them)
// reuses mapsH instead of hashing them again.
type alertSum struct {
	fp           string
	h, mapsH     uint64
	labels, anns map[string]string // compared by identity (sameMap), when refs
	refs         bool
}

// alertSums are an incident's written alerts, sorted by fingerprint.
type alertSums struct {
	sums []alertSum
}

// alertOp is a buffered write of one alert row: an upsert of data, or a
// delete when data is nil.
type alertOp struct {
	incident, fp string
	data         []byte
}

const (
	qDeleteAlerts = "DELETE FROM incident_alerts WHERE incident_id = ?"
	qDeleteAlert  = "DELETE FROM incident_alerts WHERE incident_id = ? AND fingerprint = ?"
	qSelectAlerts = "SELECT incident_id, fingerprint, alert FROM incident_alerts WHERE incident_id IN "
)

// maxIDsPerSelect bounds the incident IDs of one alert SELECT.
const maxIDsPerSelect = 256

// incidentRow are the columns of an incident row, in putIncidents' order.
type incidentRow [9]any

// queueIncident buffers the write of an incident row; a later write of
// the same incident in the transaction replaces it (in place: rows are
// written in the order incidents were first put, so that an incident
// resolved before another opens for its group key is written first).
func (t *writeTx) queueIncident(r incidentRow) {
	id := r[0].(string)
	if i, ok := t.incIndex[id]; ok {
		t.incs[i] = r
		return
	}
	if t.incIndex == nil {
		t.incIndex = map[string]int{}
	}
	t.incIndex[id] = len(t.incs)
	t.incs = append(t.incs, r)
}

// hashAlert hashes everything of a that its JSON encodes.
func hashAlert(seed maphash.Seed, a *pager.IncidentAlert) uint64 {
	return mix(hashScalars(seed, a) ^ hashMaps(seed, a))
}

// hashMaps hashes a's label and annotation maps.
func hashMaps(seed maphash.Seed, a *pager.IncidentAlert) uint64 {
	return mix(hashMap(seed, a.Labels)) ^ hashMap(seed, a.Annotations)
}

// sameMap reports whether a and b are the same map (not merely equal).
func sameMap(a, b map[string]string) bool {
	return reflect.ValueOf(a).UnsafePointer() == reflect.ValueOf(b).UnsafePointer()
}

// hashScalars hashes what a's JSON encodes but its maps. It runs for every
// alert of every incident written, so it hashes strings with
// maphash.String and combines the parts with mix rather than streaming
// them through a maphash.Hash.
func hashScalars(seed maphash.Seed, a *pager.IncidentAlert) uint64 {
	h := mix(maphash.String(seed, a.Fingerprint))
	h = mix(h ^ maphash.String(seed, a.SuppressedBy))
	h = mix(h ^ maphash.String(seed, a.GeneratorURL))
	flags := uint64(0)
	if a.Ended {
		flags |= 1
	}
	if a.Timeout {
		flags |= 2
	}
	h = mix(h ^ flags)
	h = hashTime(h, a.StartsAt)
	return hashTime(h, a.EndsAt)
}

// mix is splitmix64's finaliser: every bit of x affects every bit of the
// result.
func mix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ x>>30) * 0xbf58476d1ce4e5b9
	x = (x ^ x>>27) * 0x94d049bb133111eb
	return x ^ x>>31
}

// hashTime adds what t's JSON encodes to h: the instant and the offset.
func hashTime(h uint64, t time.Time) uint64 {
	_, off := t.Zone()
	h = mix(h ^ uint64(t.Unix()))
	return mix(h ^ uint64(t.Nanosecond())<<32 ^ uint64(uint32(off)))
}

// hashMap hashes m independently of iteration order: the sum of the
// mixed hashes of its pairs, with its size and nil-ness (JSON encodes
// null and {} differently).
func hashMap(seed maphash.Seed, m map[string]string) uint64 {
	if m == nil {
		return 1
	}
	sum := uint64(len(m)) << 1
	for k, v := range m {
		sum += mix(maphash.String(seed, k)*0x9e3779b97f4a7c15 ^ maphash.String(seed, v))
	}
	return sum
}

// putAlerts writes the alerts of st that differ from base (nil: unknown,
// so all of them, after deleting the incident's rows) and returns the
// sums of what the incident now holds.
func (t *writeTx) putAlerts(st *pager.IncidentState, base *alertSums, owned bool) (*alertSums, error) {
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
	next := &alertSums{sums: make([]alertSum, 0, len(alerts))}
	j := 0
	for i := range alerts {
		a := &alerts[i]
		for j < len(old) && old[j].fp < a.Fingerprint {
			t.queue(st.ID, old[j].fp, nil)
			j++
		}
		var prev *alertSum
		if j < len(old) && old[j].fp == a.Fingerprint {
			prev = &old[j]
			j++
		}
		sum := alertSum{fp: a.Fingerprint, refs: owned}
		if owned {
			sum.labels, sum.anns = a.Labels, a.Annotations
		}
		if owned && prev != nil && prev.refs && sameMap(prev.labels, a.Labels) && sameMap(prev.anns, a.Annotations) {
			sum.mapsH = prev.mapsH
		} else {
			sum.mapsH = hashMaps(t.s.seed, a)
		}
		sum.h = mix(hashScalars(t.s.seed, a) ^ sum.mapsH)
		same := prev != nil && prev.h == sum.h
		next.sums = append(next.sums, sum)
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

// flush writes the buffered rows: sequences, incidents, timeline entries, then
// alerts (deletes one by one, as they are rare), each in multi-row
// statements (execRows).
func (t *writeTx) flush() error {
	if err := t.flushSeqs(); err != nil {
		return err
	}
	if len(t.incs) == 0 && len(t.ops) == 0 && len(t.timeline) == 0 {
		return nil
	}
	args := t.args[:0]
	m := putIncidents
	if t.s.dialect().stampIncidents && len(t.incs) > 0 {
		if err := t.stamp(); err != nil {
			return err
		}
		m = putIncidentsStamped
	}
	for i := range t.incs {
		args = append(args, t.incs[i][:]...)
		if m == putIncidentsStamped {
			args = append(args, t.version)
		}
	}
	if err := t.execRows(m, args); err != nil {
		if t.s.dialect().unique(err) {
			return fmt.Errorf("%w: put incident: %v", pager.ErrConflict, err)
		}
		return fmt.Errorf("put incident: %w", err)
	}
	if err := t.execRows(appendTimeline, t.timeline); err != nil {
		return fmt.Errorf("append timeline: %w", err)
	}
	clear(t.timeline)
	t.timeline = t.timeline[:0]
	t.s.alertRows += len(t.ops)
	args = args[:0]
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
		args = append(args, op.incident, op.fp, string(op.data))
	}
	if err := t.execRows(putAlerts, args); err != nil {
		return fmt.Errorf("write alerts: %w", err)
	}
	clear(args[:cap(args)])
	t.args = args[:0]
	clear(t.incs)
	t.incs = t.incs[:0]
	clear(t.incIndex)
	t.ops = t.ops[:0]
	clear(t.opIndex)
	return nil
}

// attachAlerts sets the alerts of every incident of sts that has rows in
// incident_alerts (the others keep their document's, see above). In a
// write transaction, the caller has flushed.
//
// The database concatenates each incident's rows into one JSON array, so
// that a read of many incidents costs a row and a decode per incident; an
// incident whose array does not decode whole, or holds a fingerprint
// twice, is read again row by row, skipping (and reporting) the corrupt
// rows.
func (t *readTx) attachAlerts(sts []pager.IncidentState) error {
	if len(sts) == 0 {
		return nil
	}
	pos := make(map[string]int, len(sts))
	for i := range sts {
		pos[sts[i].ID] = i
	}
	var again []string
	for chunk := range slices.Chunk(sts, maxIDsPerSelect) {
		args := make([]any, len(chunk))
		for i := range chunk {
			args[i] = chunk[i].ID
		}
		q := "SELECT incident_id, count(*), '[' || " + t.s.dialect().concat + "(alert, ',') || ']' FROM incident_alerts " +
			"WHERE incident_id IN (?" + strings.Repeat(", ?", len(chunk)-1) + ") GROUP BY incident_id"
		bad, err := t.scanAlertArrays(q, args, pos, sts)
		if err != nil {
			return err
		}
		again = append(again, bad...)
	}
	for _, id := range again {
		found := map[int][]pager.IncidentAlert{}
		if err := t.scanAlerts(qSelectAlerts+"(?)", []any{id}, pos, found); err != nil {
			return err
		}
		for i, as := range found {
			sts[i].Alerts = as
		}
	}
	for i := range sts {
		slices.SortFunc(sts[i].Alerts, func(a, b pager.IncidentAlert) int { return strings.Compare(a.Fingerprint, b.Fingerprint) })
	}
	return nil
}

// scanAlertArrays sets the alerts of the incidents q returns (id, count,
// JSON array) and returns those whose array must be read row by row.
func (t *readTx) scanAlertArrays(q string, args []any, pos map[string]int, sts []pager.IncidentState) (again []string, err error) {
	rows, err := t.tx.QueryContext(t.ctx, t.s.q(q), args...)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: incident_alerts: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		var n int
		var data []byte
		if err := rows.Scan(&id, &n, &data); err != nil {
			return nil, fmt.Errorf("sqlstore: incident_alerts: %w", err)
		}
		i, ok := pos[id]
		if !ok {
			continue
		}
		var as []pager.IncidentAlert
		if err := json.Unmarshal(data, &as); err != nil || len(as) != n || !uniqueFingerprints(as) {
			again = append(again, id)
			continue
		}
		sts[i].Alerts = as
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlstore: incident_alerts: %w", err)
	}
	return again, nil
}

func uniqueFingerprints(as []pager.IncidentAlert) bool {
	slices.SortFunc(as, func(a, b pager.IncidentAlert) int { return strings.Compare(a.Fingerprint, b.Fingerprint) })
	for i := 1; i < len(as); i++ {
		if as[i].Fingerprint == as[i-1].Fingerprint {
			return false
		}
	}
	return true
}

// scanAlerts reads the alert rows q returns (incident, fingerprint,
// alert) into found, by the incident's position in pos.
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
