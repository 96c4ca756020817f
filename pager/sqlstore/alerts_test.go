package sqlstore

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/watchdog-sre/watchdog/pager"
)

// TestIncidentEncodingMemo: an incident put again and again (alerts added,
// changed in place, ended) reads back exactly as json.Marshal would have
// stored it, whatever the memo reused.
func TestIncidentEncodingMemo(t *testing.T) {
	s := openTemp(t)
	st := incident("inc-1", "g", pager.StatusTriggered, t0)
	alert := func(fp, v string) pager.IncidentAlert {
		return pager.IncidentAlert{Fingerprint: fp, Alert: pager.Alert{Labels: map[string]string{"a": v, "x": "<&>"},
			Annotations: map[string]string{"summary": v}, StartsAt: t0}}
	}
	steps := []func(){
		func() { st.Alerts = []pager.IncidentAlert{alert("fp2", "2")} },
		func() { st.Alerts = []pager.IncidentAlert{alert("fp1", "1"), st.Alerts[0], alert("fp3", "3")} },
		func() { st.Alerts[1].Labels["a"] = "changed in place" }, // same map, new content
		func() { st.Alerts[2].Ended, st.Alerts[2].EndsAt = true, t0.Add(time.Minute) },
		func() { st.Alerts[0].SuppressedBy = "silence:1"; st.Alerts[0].Annotations = nil },
		func() { st.Alerts = st.Alerts[1:] },
		func() { st.Alerts = []pager.IncidentAlert{} },
		func() { st.Alerts = nil },
		func() { st.Alerts = []pager.IncidentAlert{alert("fp1", "1")}; st.Status = pager.StatusResolved },
	}
	for i, step := range steps {
		step()
		update(t, s, func(tx pager.Tx) error { return tx.PutIncident(st) })
		var want pager.IncidentState
		data, err := json.Marshal(st)
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(data, &want); err != nil {
			t.Fatal(err)
		}
		view(t, s, func(tx pager.ReadTx) error {
			got, err := tx.Incident("inc-1")
			if !reflect.DeepEqual(got, want) {
				t.Errorf("step %d: got\n%+v\nwant\n%+v", i, got, want)
			}
			return err
		})
	}
}
