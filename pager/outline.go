package pager

import "encoding/binary"

// OutlineAlertLabels returns one IncidentAlert per distinct combination of
// the values of the labels names among alerts, in the order they first
// appear, each with only those of the labels its alerts carry (a label an
// alert lacks stays absent) and nothing else: no fingerprint, annotations
// or times. It returns nil without names or alerts. A matcher on those
// labels matches one of the outline's alerts exactly when it matches one
// of the alerts (IncidentFilter.OutlineAlerts).
func OutlineAlertLabels(alerts []IncidentAlert, names []string) []IncidentAlert {
	if len(names) == 0 || len(alerts) == 0 {
		return nil
	}
	var out []IncidentAlert
	seen := map[string]struct{}{}
	var key []byte
	for i := range alerts {
		key = key[:0]
		for _, n := range names {
			v, ok := alerts[i].Labels[n]
			if !ok {
				key = append(key, 0)
				continue
			}
			// Length-prefixed: no value can pass for another's end.
			key = append(key, 1)
			key = binary.AppendUvarint(key, uint64(len(v)))
			key = append(key, v...)
		}
		if _, dup := seen[string(key)]; dup {
			continue
		}
		seen[string(key)] = struct{}{}
		ls := make(map[string]string, len(names))
		for _, n := range names {
			if v, ok := alerts[i].Labels[n]; ok {
				ls[n] = v
			}
		}
		out = append(out, IncidentAlert{Alert: Alert{Labels: ls}})
	}
	return out
}
